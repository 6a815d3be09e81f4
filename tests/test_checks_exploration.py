"""The ε-schedule, ε-greedy and global-clock checks pass right answers and name typical mistakes."""
import itertools
import math
import random
import re

import numpy as np
import pytest
import torch

from utils import policies
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.exploration import check_epsilon_greedy, check_epsilon_schedule, check_run_episodes
from utils.dqn import DQNConfig
from test_checks_core import (Anything, RegisteredIntegral, RegisteredReal, SneakyFloat, SneakyInt, assert_named_both_ways,
                              graded, own_copy)

COURSE = DQNConfig()

EPS_START, EPS_END, EPS_DECAY = 1.0, 0.05, 1000  # what a notebook might define as globals


def not_done(*args):
    raise NotImplementedError("Exercise 4.x: not written")


def linear(step, start, end, decay_steps):
    return start + min(step / decay_steps, 1.0) * (end - start)


def test_the_reference_and_an_independent_schedule_pass(capsys):
    check_epsilon_schedule(own_copy(policies.epsilon_schedule))
    check_epsilon_schedule(linear)
    assert capsys.readouterr().out.count("passed") == 2


def test_the_course_functions_themselves_are_refused():
    with pytest.raises(CheckFailed, match="^Exercise 4.1 \\(epsilon_schedule\\): you passed the course's own "
                                          "`utils.policies.epsilon_schedule`"):
        check_epsilon_schedule(policies.epsilon_schedule)
    with pytest.raises(CheckFailed, match="course's own `utils.policies.epsilon_greedy_action`"):
        check_epsilon_greedy(policies.epsilon_greedy_action)


GEOMETRIC = r"returned \[1.0, .*\]: this decays geometrically \(multiplies by a constant each step\), not linearly\. " \
            r"Hint: ε\(step\) = start \+ min\(step / decay_steps, 1\) \* \(end - start\)\.$"


@pytest.mark.parametrize("schedule, named", [
    (lambda step, start, end, decay: start, "never decays"),
    (lambda step, start, end, decay: start + step / decay * (end - start), "not clamped"),
    (lambda step, start, end, decay: min(end, start + step / decay * (end - start)), "ε\\(0\\) must be start.*min"),
    (lambda step, start, end, decay: end + min(step / decay, 1) * (start - end), "ε\\(0\\) must be start.*swapped"),
    (lambda step, start, end, decay: start * (1 - min(step / decay, 1)), "towards 0 instead of end"),
    (lambda step, start, end, decay: end + (start - end) * math.exp(-step / decay),
     "seed's exponential schedule: it decays geometrically"),
    (lambda step, start, end, decay: max(end, start * 0.995 ** step), GEOMETRIC),
    (lambda step, start, end, decay: start * (end / start) ** min(step / decay, 1), GEOMETRIC),
    (lambda step, start, end, decay: end + (start - end) * 0.99 ** step, GEOMETRIC),
    (lambda step, start, end, decay: start + min(step // decay, 1) * (end - start), "integer division"),
    (lambda step, start, end, decay: linear(step, EPS_START, EPS_END, EPS_DECAY), "ignores the arguments"),
    (lambda step, start, end, decay: linear(step, COURSE.eps_start, COURSE.eps_end, COURSE.eps_decay_steps),
     "course's settings"),
    (lambda step, start, end, decay: torch.tensor(linear(step, start, end, decay)), "returned a tensor.*float"),
    (lambda step, start, end, decay: linear(step, start, end, decay - 1), r"returned .*, expected .*: it reaches "
                                                                          "end one step early"),
])
def test_a_typical_schedule_mistake_is_named(schedule, named):
    with pytest.raises(CheckFailed, match=named):
        check_epsilon_schedule(schedule)


def test_unfinished_exercises_are_not_done():
    for check in (check_epsilon_schedule, check_epsilon_greedy, check_run_episodes):
        with pytest.raises(ExerciseNotDone, match="not done yet"):
            check(not_done)


def greedy(q_net, state):
    with torch.no_grad():
        return int(q_net(torch.as_tensor(state, dtype=torch.float32)).argmax())


def eps_greedy(q_net, state, epsilon, rng):
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(state, dtype=torch.float32))
    return int(rng.integers(len(q_values))) if rng.random() < epsilon else int(q_values.argmax())


def test_the_reference_and_an_independent_epsilon_greedy_pass(capsys):
    check_epsilon_greedy(own_copy(policies.epsilon_greedy_action))
    check_epsilon_greedy(eps_greedy)
    assert capsys.readouterr().out.count("passed") == 2


def excluding_greedy(q_net, state, epsilon, rng):
    best = greedy(q_net, state)
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(q_net.n_actions) if a != best]))
    return best


GLOBAL_NET = torch.nn.Linear(4, 3)


@pytest.mark.parametrize("policy, named", [
    (lambda q, s, e, rng: greedy(q, s) if rng.random() < e else int(rng.integers(3)), "with ε=0 .*comparison reversed"),
    (lambda q, s, e, rng: greedy(q, s), "never used the rng"),
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() <= e else int(q(torch.as_tensor(s)).argmax()),
     "gradient tracking on"),
    (lambda q, s, e, rng: random.randrange(3) if random.random() < e else greedy(q, s), "global `random` generator"),
    (lambda q, s, e, rng: int(np.random.randint(3)) if rng.random() < e else greedy(q, s), "global `np.random`"),
    (lambda q, s, e, rng: int(torch.randint(3, ())) if rng.random() < e else greedy(q, s), "global `torch`"),
    (lambda q, s, e, rng: int(rng.integers(2)) if rng.random() < e else greedy(q, s), "action 2 of 3 never came"),
    (lambda q, s, e, rng: int(rng.integers(1, 3)) if rng.random() < e else greedy(q, s), "action 0 never came"),
    (lambda q, s, e, rng: torch.tensor(eps_greedy(q, s, e, rng)), "returned a tensor.*Python int"),
    (lambda q, s, e, rng: rng.integers(3) if rng.random() < e else greedy(q, s), "ε=1.0 .*numpy.int64.*Python int"),
    (lambda q, s, e, rng: eps_greedy(q, s, e, rng) if e < 1 else eps_greedy(q, s, 0.5, rng), "expected each about 1/3"),
    (lambda q, s, e, rng: eps_greedy(q, s, e if e in (0, 1) else e / 2, rng), r"greedy action came .*; expected 86\.7%"),
    (excluding_greedy, "never picks the greedy one"),
    (lambda q, s, e, rng: eps_greedy(q, s, 1 - e, rng) if 0 < e < 1 else eps_greedy(q, s, e, rng),
     "probability 1 - ε instead of ε"),
    (lambda q, s, e, rng: eps_greedy(GLOBAL_NET, s, e, rng), "never called the q_net"),
])
def test_a_typical_epsilon_greedy_mistake_is_named(policy, named):
    with pytest.raises(CheckFailed, match=named):
        check_epsilon_greedy(policy)


def run_episodes(env, q_net, n_episodes, schedule, rng, clock=lambda episode, t, step: step, until_truncated=True,
                 policy=eps_greedy, new_state=True, reset=lambda env: env.reset()):
    """A correct loop, or with `clock`, `until_truncated`, `policy`, `new_state` or `reset` a typical wrong one."""
    lengths, step = [], 0
    for episode in range(n_episodes):
        state, _ = reset(env)
        for t in range(10_000):
            action = policy(q_net, state, schedule(clock(episode, t, step)), rng)
            next_state, _, terminated, truncated, _ = env.step(action)
            state = next_state if new_state else state
            step += 1
            if terminated or (truncated and until_truncated):
                break
        lengths.append(t + 1)
    return lengths


def test_a_global_step_counter_passes(capsys):
    check_run_episodes(run_episodes)
    assert "passed" in capsys.readouterr().out


def once_per_episode(env, q_net, n_episodes, schedule, rng):
    lengths, step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        epsilon, done, length = schedule(step), False, 0
        while not done:
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, epsilon, rng))
            done, length, step = terminated or truncated, length + 1, step + 1
        lengths.append(length)
    return lengths


@pytest.mark.parametrize("loop, named", [
    (lambda *a: run_episodes(*a, clock=lambda episode, t, step: t), "restarts with every episode"),
    (lambda *a: run_episodes(*a, clock=lambda episode, t, step: episode * 500 + t), "seed's fake clock"),
    (lambda *a: run_episodes(*a, clock=lambda episode, t, step: step + 1), "first step is 1"),
    (lambda *a: run_episodes(*a, until_truncated=False), "kept stepping an episode that had already ended"),
    (once_per_episode, "once per episode"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, lambda step: 0.5, rng), "never called"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, lambda step: schedule(step) + 1, rng), "actions were"),
    (lambda *a: run_episodes(*a)[:-1], "returned \\[4, 2\\]"),
])
def test_a_typical_clock_mistake_is_named(loop, named):
    with pytest.raises(CheckFailed, match=named):
        check_run_episodes(loop)


@pytest.mark.parametrize("rigged", [Anything, RegisteredIntegral])
def test_run_episodes_refuses_lengths_posing_as_numbers(rigged):
    with pytest.raises(CheckFailed, match=f"run_episodes returned a Python list holding a Python {rigged.__name__}; "
                                          r"expected the list of episode lengths \[4, 2, 5\]"):
        check_run_episodes(lambda *a: [rigged() for _ in run_episodes(*a)])


def test_run_episodes_refuses_a_step_posing_as_a_number():
    with pytest.raises(CheckFailed, match="called schedule with a Python Anything; expected a step count, an int"):
        check_run_episodes(lambda *a: run_episodes(*a, clock=lambda episode, t, step: Anything()))


def test_run_episodes_accepts_a_numpy_array_of_lengths(capsys):
    check_run_episodes(lambda *a: np.array(run_episodes(*a)))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("rigged", [SneakyFloat, RegisteredReal, Anything])
def test_epsilon_schedule_refuses_objects_posing_as_floats(rigged):
    with pytest.raises(CheckFailed, match=f"returned a Python {rigged.__name__}; expected a Python float"):
        check_epsilon_schedule(lambda step, start, end, decay: rigged(0.5) if rigged is SneakyFloat else rigged())


@pytest.mark.parametrize("rigged", [SneakyInt, RegisteredIntegral, Anything])
def test_epsilon_greedy_refuses_objects_posing_as_ints(rigged):
    with pytest.raises(CheckFailed, match=f"returned a Python {rigged.__name__}; expected a Python int"):
        check_epsilon_greedy(lambda q, s, e, rng: rigged(1) if rigged is SneakyInt else rigged())


# --- issue 18: more realistic slips, correct variants, and grading on fresh inputs ----------------

SEEDS = (1, 2, 3)
CORRECT_SCHEDULES = [
    linear,
    lambda step, start, end, decay: float(np.interp(step, [0, decay], [start, end])),
    lambda step, start, end, decay: max(end, start - step * (start - end) / decay),
    lambda step, start, end, decay: end + (start - end) * max(0.0, 1 - step / decay),
]
NEW_SCHEDULE_MISTAKES = [
    (lambda step, start, end, decay: 1 - linear(step, start, end, decay), "returns 1 - ε"),
    (lambda step, start, end, decay: linear(step + 1, start, end, decay), "one step ahead"),
    (lambda step, start, end, decay: linear(step - 1, start, end, decay), "one step behind"),  # red team c
    (lambda step, start, end, decay: linear(step, start, end, decay + 1), "one step late"),
    (lambda step, start, end, decay: max(end, start * (1 - min(step / decay, 1))), "towards 0 instead of end, then "
                                                                                   "stops at end"),
    (lambda step, start, end, decay: start - (start - end) * min(step, decay) // decay,
     "never decays.*an integer division"),
]


def test_correct_schedules_pass(capsys):
    for schedule in CORRECT_SCHEDULES:
        check_epsilon_schedule(schedule)
    assert capsys.readouterr().out.count("passed") == len(CORRECT_SCHEDULES)


@pytest.mark.parametrize("schedule", [
    lambda step, start, end, decay: round(linear(step, start, end, decay), 6),
    lambda step, start, end, decay: float(np.float32(start) + np.float32(min(step / decay, 1)) * np.float32(end - start)),
    lambda step, start, end, decay: torch.tensor(linear(step, start, end, decay), dtype=torch.float32).item(),
])
def test_a_schedule_off_by_float32_rounding_passes_in_the_notebook_and_when_graded(schedule, capsys):
    check_epsilon_schedule(schedule)  # red team c: these failed when graded ("returned 0.7061; expected 0.7061")
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        assert graded(check_epsilon_schedule, seed, schedule)["status"] == "passed"


@pytest.mark.parametrize("schedule, named", NEW_SCHEDULE_MISTAKES)
def test_a_realistic_schedule_mistake_is_named(schedule, named):
    with pytest.raises(CheckFailed, match=named):
        check_epsilon_schedule(schedule)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_schedules(seed):
    for schedule in CORRECT_SCHEDULES + [own_copy(policies.epsilon_schedule)]:
        assert graded(check_epsilon_schedule, seed, schedule)["status"] == "passed"
    for schedule, named in NEW_SCHEDULE_MISTAKES + [
            (lambda step, start, end, decay: start + step / decay * (end - start), "not clamped"),
            (lambda step, start, end, decay: linear(step, EPS_START, EPS_END, EPS_DECAY), "ignores the arguments"),
            (lambda step, start, end, decay: end + (start - end) * math.exp(-step / decay), "exponential")]:
        verdict = graded(check_epsilon_schedule, seed, schedule)
        assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


NOTEBOOK_EPSILONS = {(step, start): linear(step, start, end, decay) for start, end, decay in ((1.0, 0.05, 1000),
                                                                                             (0.5, 0.1, 10))
                     for step in range(0, 3 * decay + 1)}


def test_grading_fails_a_schedule_that_looks_up_the_notebook_values(capsys):
    check_epsilon_schedule(lambda step, start, end, decay: NOTEBOOK_EPSILONS.get((step, start), 0.0))
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        assert graded(check_epsilon_schedule, seed,
                     lambda step, start, end, decay: NOTEBOOK_EPSILONS.get((step, start), 0.0))["status"] == "failed"


def test_grading_flags_a_schedule_that_calls_the_course_one():
    verdict = graded(check_epsilon_schedule, 1, lambda *args: policies.epsilon_schedule(*args))
    assert verdict["flags"] == ["calls the course's own `utils.policies.epsilon_schedule`"]


EPSILON_GLOBAL = 0.1


def q_values_of(q_net, state):
    with torch.no_grad():
        return q_net(torch.as_tensor(state, dtype=torch.float32))


def never_returns_random(q_net, state, epsilon, rng):
    q_values = q_values_of(q_net, state)
    if rng.random() < epsilon:
        int(rng.integers(len(q_values)))  # drawn, then dropped
    return int(q_values.argmax())


CORRECT_POLICIES = [
    eps_greedy,
    lambda q, s, e, rng: int(rng.choice(len(q_values_of(q, s)))) if rng.random() < e else greedy(q, s),
    lambda q, s, e, rng: int(rng.random() * len(q_values_of(q, s))) if rng.random() <= e else greedy(q, s),
    lambda q, s, e, rng: (lambda q_values: int(rng.integers(0, q_values.shape[-1])) if e > rng.random()
                          else int(torch.argmax(q_values)))(q_values_of(q, s)),
]
NEW_POLICY_MISTAKES = [
    (lambda q, s, e, rng: eps_greedy(q, s, EPSILON_GLOBAL, rng), "ignores the epsilon argument"),
    (never_returns_random, "with ε=1 every action was the greedy one .*: it never explores"),
    (lambda q, s, e, rng: int(rng.integers(len(s))) if rng.random() < e else greedy(q, s),
     "drawn from len\\(state\\)"),
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() < e else int(torch.no_grad()(q)(s).argmax()),
     "with a NumPy state of shape \\(4,\\) raised TypeError.*torch.as_tensor"),
    (lambda q, s, e, rng: int(np.random.choice(3)) if rng.random() < e else greedy(q, s), "global `np.random`"),
    (lambda q, s, e, rng: eps_greedy(q, s, e, np.random.default_rng()), "never used the rng it was given"),
    (lambda q, s, e, rng: int(rng.integers(len(q_values_of(q, s[None])))) if rng.random() < e else greedy(q, s),
     "with ε=1 every action was 0: the random action is drawn from one action.*len\\(q_values\\) of a \\(1, "
     "n_actions\\) output"),
    (lambda q, s, e, rng: int(rng.integers(q_values_of(q, s).unsqueeze(0).shape[0])) if rng.random() < e else
     greedy(q, s), "with ε=1 every action was 0"),
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() < e else int(q_values_of(q, s).max()),
     r"with ε=0 it always returned 0, the largest Q-value \(0.7\) made an int, not its index: the greedy action is 1"),
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() < e else int(q_values_of(q, s)[1] > q_values_of(q, s)[0]),
     r"on a state whose greedy action is 2 \(the last of 3\), it returned \[1\]: it compares only the first two "
     r"actions' Q-values.*Hint: take the argmax over all 3 Q-values"),
]


def test_correct_epsilon_greedy_variants_pass(capsys):
    for policy in CORRECT_POLICIES:
        check_epsilon_greedy(policy)
    assert capsys.readouterr().out.count("passed") == len(CORRECT_POLICIES)


def the_other_action(q, s, e, rng):
    """Explores with 1 − greedy, 'the other action' of CartPole's two."""
    return 1 - greedy(q, s) if rng.random() < e else greedy(q, s)


def greedy_from_zero(q, s):
    """Wrong: a running maximum that starts from 0, so a state whose Q-values are all negative gets action 0."""
    best_action, best_q = 0, 0.0
    for action, value in enumerate(q_values_of(q, s).tolist()):
        if value > best_q:
            best_action, best_q = action, value
    return best_action


RED_TEAM_C_POLICY_MISTAKES = [
    # the greedy branch's running maximum starts from 0
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() < e else greedy_from_zero(q, s),
     r"with ε=0, on a state whose greedy action is 2 \(the last of 3\) and whose Q-values are all negative, it "
     r"returned \[0\]: the running maximum starts from 0.*Hint: start from the first Q-value or from float\('-inf'\)"),
    # the state made a float64 tensor, which the float32 network refuses
    (lambda q, s, e, rng: int(rng.integers(3)) if rng.random() < e else
     int(torch.no_grad()(q)(torch.tensor(s, dtype=torch.float64)).argmax()),
     r"raised RuntimeError: .*same dtype.*Hint: the network's weights are float32 and it was given float64 numbers"),
]
"""Red team c: realistic mistakes found after the hidden sets."""


@pytest.mark.parametrize("policy, named", RED_TEAM_C_POLICY_MISTAKES + NEW_POLICY_MISTAKES + [
    (the_other_action, r"with ε=1, on a state whose greedy action is 2, every action was -1: the random action is "
                       r"1 − greedy")])
def test_a_realistic_epsilon_greedy_mistake_is_named(policy, named):
    with pytest.raises(CheckFailed, match=named):
        check_epsilon_greedy(policy)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_epsilon_greedy(seed):
    for policy in CORRECT_POLICIES + [own_copy(policies.epsilon_greedy_action)]:
        assert graded(check_epsilon_greedy, seed, policy)["status"] == "passed"
    fresh = [(policy, named.replace("\\(4,\\)", "\\(\\d,\\)")) for policy, named in NEW_POLICY_MISTAKES[:3]] + [
        (lambda q, s, e, rng: greedy(q, s) if rng.random() < e else int(rng.integers(len(s))), "comparison reversed"),
        (lambda q, s, e, rng: int(rng.integers(2)) if rng.random() < e else greedy(q, s), "never came"),
        (excluding_greedy, "never picks the greedy one"), (NEW_POLICY_MISTAKES[-3][0], "every action was 0"),
        (NEW_POLICY_MISTAKES[-1][0], "compares only the first two actions' Q-values"),
        (the_other_action, "the random action is 1 − greedy")]
    for policy, named in fresh:
        verdict = graded(check_epsilon_greedy, seed, policy)
        assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


def notebook_greedy_only(q, s, e, rng):
    """Hard-codes the notebook's greedy action 1 and its 3 actions."""
    return int(rng.integers(3)) if rng.random() < e else (q(torch.as_tensor(s)).detach(), 1)[1]


def test_an_epsilon_greedy_that_hard_codes_the_notebook_state_fails():
    with pytest.raises(CheckFailed, match=r"greedy action is 2 \(the last of 3\), it returned \[1\]"):
        check_epsilon_greedy(torch.no_grad()(notebook_greedy_only))
    for seed in SEEDS:
        assert graded(check_epsilon_greedy, seed, torch.no_grad()(notebook_greedy_only))["status"] == "failed"


def test_grading_flags_an_epsilon_greedy_that_calls_the_course_one():
    verdict = graded(check_epsilon_greedy, 1, lambda *args: policies.epsilon_greedy_action(*args))
    assert verdict["status"] == "passed" and verdict["flags"] == [
        "calls the course's own `utils.policies.epsilon_greedy_action`"]


def loop_with_while(env, q_net, n_episodes, schedule, rng):
    """Correct: the solution's while loop."""
    lengths, global_step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        length, done = 0, False
        while not done:
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(global_step), rng))
            global_step, length, done = global_step + 1, length + 1, terminated or truncated
        lengths.append(length)
    return lengths


def loop_with_reset_after(env, q_net, n_episodes, schedule, rng):
    """Correct: resets after every episode, the last one too, and counts with itertools."""
    lengths, step, (state, _) = [], 0, env.reset()
    for _ in range(n_episodes):
        for length in itertools.count(1):
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            step += 1
            if terminated or truncated:
                break
        lengths.append(length)
        state, _ = env.reset()
    return lengths


def counts_at_episode_end(env, q_net, n_episodes, schedule, rng):
    lengths, step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        for t in itertools.count():
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            if terminated or truncated:
                break
        lengths.append(t + 1)
        step += t + 1
    return lengths


def total_rewards(env, q_net, n_episodes, schedule, rng):
    returns, step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        total, done = 0.0, False
        while not done:
            state, reward, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            total, step, done = total + reward, step + 1, terminated or truncated
        returns.append(total)
    return returns


def resets_once(env, q_net, n_episodes, schedule, rng):
    lengths, step, (state, _) = [], 0, env.reset()
    for _ in range(n_episodes):
        for length in itertools.count(1):
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            step += 1
            if terminated or truncated:
                break
        lengths.append(length)
    return lengths


def logs_epsilon_too(env, q_net, n_episodes, schedule, rng):
    """Right: asks the schedule twice per step (once more to log ε); the schedule is a pure function."""
    return run_episodes(env, q_net, n_episodes, lambda step: (schedule(step), schedule(step))[1], rng)


class NotebookCounter:
    """Wrong: the step counter is a notebook global, never reset between calls."""
    step = 0

    @classmethod
    def run_episodes(cls, env, q_net, n_episodes, schedule, rng):
        """Count steps on the class, as a `global global_step` would."""
        lengths = []
        for _ in range(n_episodes):
            state, _ = env.reset()
            for t in range(10_000):
                action = eps_greedy(q_net, state, schedule(cls.step), rng)
                state, _, terminated, truncated, _ = env.step(action)
                cls.step += 1
                if terminated or truncated:
                    break
            lengths.append(t + 1)
        return lengths


CORRECT_LOOPS = [run_episodes, loop_with_while, loop_with_reset_after, logs_epsilon_too]
def twice_at_episode_end(env, q_net, n_episodes, schedule, rng):
    """Wrong: the counter moves once more when an episode ends."""
    lengths, step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        for t in range(10_000):
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            step += 1
            if terminated or truncated:
                step += 1
                break
        lengths.append(t + 1)
    return lengths


def explores_with_the_action_space(env, q_net, n_episodes, schedule, rng):
    """Wrong: explores with env.action_space.sample() instead of epsilon_greedy_action."""
    return run_episodes(env, q_net, n_episodes, schedule, rng, policy=lambda q, s, e, r: int(
        env.action_space.sample()) if r.random() < e else greedy(q, s))


def done_set_once(env, q_net, n_episodes, schedule, rng):
    """Wrong: `done = False` once, before the episodes: every episode after the first is reset, never stepped."""
    lengths, step, done = [], 0, False
    for _ in range(n_episodes):
        state, _ = env.reset()
        length = 0
        while not done:
            state, _, terminated, truncated, _ = env.step(eps_greedy(q_net, state, schedule(step), rng))
            step, length, done = step + 1, length + 1, terminated or truncated
        lengths.append(length)
    return lengths


NEW_LOOP_MISTAKES = [
    (twice_at_episode_end, "increased twice at the end of each episode"),
    (explores_with_the_action_space, r"it explores with env.action_space.sample\(\)"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, schedule, rng, policy=lambda q_, s, e, r: eps_greedy(
        q_, s, r, e)), "its arguments are in another order"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, lambda step: schedule, rng),
     "the schedule function itself reached epsilon_greedy_action as ε"),
    (NotebookCounter.run_episodes, r"run_episodes asked the schedule about steps \d+, \d+, \.\.\. instead of 0, 1, "
                                   r"\.\.\.: its step counter lives on between calls"),
    (lambda *a: run_episodes(*a, clock=lambda episode, t, step: episode), "asked about the episode number"),
    (counts_at_episode_end, "only moves at the end of each episode"),
    (total_rewards, "each episode's total reward \\(the reward here is 0.5 per step\\)"),
    (lambda *a: np.cumsum(run_episodes(*a)).tolist(), "cumulative"),
    (lambda *a: [n - 1 for n in run_episodes(*a)], "one short"),
    (resets_once, "episode 1 terminated, without env.reset\\(\\) in between"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, schedule, np.random.default_rng(0)),
     "different rng seeds took the same actions: run_episodes ignores the rng"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n, schedule, np.random.default_rng()),
     "same rng seed took different actions"),
    (lambda env, q, n, schedule, rng: run_episodes(env, q, n + 1, schedule, rng), "more than n_episodes = 3"),
    (lambda *a: run_episodes(*a, new_state=False), "the greedy action of each episode's first state.*the state is "
                                                   "never updated"),
    (lambda *a: run_episodes(*a, policy=lambda q, s, e, rng: greedy(q, s)), "with schedule\\(step\\) = 1 every one "
                                                                             "of the \\d+ actions was the greedy one"),
    (lambda *a: run_episodes(*a, policy=lambda q, s, e, rng: eps_greedy(q, s, 0.0, rng)), "ε never reaches"),
    # red team c: a seeded reset at every episode, and a done flag set once for all episodes
    (lambda *a: run_episodes(*a, reset=lambda env: env.reset(seed=0)),
     r"passed a seed to env.reset\(\) at the start of episode 2.*Hint: call env.reset\(\) without a seed"),
    (done_set_once, r"run_episodes returned \[\d+(, 0)+\]: every episode after the first has 0 steps: the flag that "
                    r"ends an episode \(done = False\) is set once, before the episodes.*Hint: set done = False"),
]


def test_correct_loops_pass(capsys):
    for loop in CORRECT_LOOPS:
        check_run_episodes(loop)
    assert capsys.readouterr().out.count("passed") == len(CORRECT_LOOPS)


@pytest.mark.parametrize("loop, named", NEW_LOOP_MISTAKES)
def test_a_realistic_clock_mistake_is_named(loop, named):
    with pytest.raises(CheckFailed, match=named):
        check_run_episodes(loop)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_run_episodes(seed):
    for loop in CORRECT_LOOPS:
        assert graded(check_run_episodes, seed, loop)["status"] == "passed"
    fresh = [(loop, named.replace("0.5", "[-.0-9]+").replace("= 3", "= \\d")) for loop, named in NEW_LOOP_MISTAKES
             if loop is not resets_once] + [
        (lambda *a: run_episodes(*a, until_truncated=False), "was truncated"),
        (lambda *a: run_episodes(*a, clock=lambda episode, t, step: episode * 500 + t), "seed's fake clock"),
        (once_per_episode, "once per episode")]
    for loop, named in fresh:
        verdict = graded(check_run_episodes, seed, loop)
        assert verdict["status"] == "failed" and re.search(named, verdict["message"]), (named, verdict)


def test_grading_fails_a_loop_that_returns_the_notebook_lengths(capsys):
    check_run_episodes(lambda *a: (run_episodes(*a), [4, 2, 5])[1])
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        assert graded(check_run_episodes, seed, lambda *a: (run_episodes(*a), [4, 2, 5])[1])["status"] == "failed"


def floor_if_past_decay(step, start, end, decay):
    """Linear, then a hard-coded 0.05 once the decay is over."""
    return 0.05 if step >= decay else start + step / decay * (end - start)


HARD_FLOOR = "settles at 0.05, not at end = 0.1: the floor is a fixed number, not the `end` argument"
FLOOR_MISTAKES = [
    (lambda step, start, end, decay: max(0.05, start - step * (start - end) / decay), HARD_FLOOR + r" \(max\(0.05"),
    (floor_if_past_decay, HARD_FLOOR + r" \(ε = 0.05 once step >= decay_steps\)"),
]


@pytest.mark.parametrize("schedule, named", FLOOR_MISTAKES)
def test_a_hard_coded_floor_is_named_in_the_notebook_and_when_graded(schedule, named):
    with pytest.raises(CheckFailed, match=named):
        check_epsilon_schedule(schedule)
    verdict = graded(check_epsilon_schedule, SEEDS[0], schedule)
    assert verdict["status"] == "failed" and "the floor is a fixed number" in verdict["message"], verdict


def loop_with_default_list(env, q_net, n_episodes, schedule, rng, lengths=[]):  # noqa: B006 (the mistake tested)
    """The lengths list is a mutable default: it keeps growing across calls."""
    for length in run_episodes(env, q_net, n_episodes, schedule, rng):
        lengths.append(length)
    return lengths


KEPT_LENGTHS = []


def loop_with_global_list(env, q_net, n_episodes, schedule, rng):
    """The lengths list lives outside the function."""
    KEPT_LENGTHS.extend(run_episodes(env, q_net, n_episodes, schedule, rng))
    return KEPT_LENGTHS


def old_gym_loop(env, q_net, n_episodes, schedule, rng, old_reset=True, old_step=True):
    """The loop written for the old gym API: reset() gives the state, step() four values (either or both)."""
    lengths, step = [], 0
    for _ in range(n_episodes):
        state = env.reset() if old_reset else env.reset()[0]
        length, done = 0, False
        while not done:
            outcome = env.step(eps_greedy(q_net, state, schedule(step), rng))
            state, _, done, _ = outcome if old_step else (outcome[0], outcome[1], outcome[2] or outcome[3], outcome[4])
            step, length = step + 1, length + 1
        lengths.append(length)
    return lengths


STATE_KEPT = r"run_episodes, for episodes of lengths .* returned .*: the lengths of earlier calls are still in the list"
OLD_API_LOOPS = [
    (loop_with_default_list, STATE_KEPT),
    (loop_with_global_list, STATE_KEPT),
    (old_gym_loop, "it plays the episodes right when the env follows the old gym API \\(reset\\(\\) returning the "
                   "observation alone, step\\(\\) four values\\)"),
    (lambda *a: old_gym_loop(*a, old_step=False), "follows the old gym API for reset: env.reset\\(\\) returns a pair"),
    (lambda *a: old_gym_loop(*a, old_reset=False), "follows the old gym API for step: env.step returns five values"),
]


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")  # the pair (obs, info)
@pytest.mark.parametrize("loop, named", OLD_API_LOOPS)
def test_kept_lengths_and_the_old_gym_api_are_named_in_the_notebook_and_when_graded(loop, named):
    KEPT_LENGTHS.clear()
    assert_named_both_ways(check_run_episodes, loop, named, SEEDS[0])


@pytest.mark.parametrize("schedule", CORRECT_SCHEDULES[2:])
def test_a_clamp_at_end_passes_in_the_notebook_and_when_graded(schedule, capsys):
    check_epsilon_schedule(schedule)
    assert "passed" in capsys.readouterr().out
    assert graded(check_epsilon_schedule, SEEDS[0], schedule)["status"] == "passed"


@pytest.mark.parametrize("loop", CORRECT_LOOPS[1:])
def test_a_fresh_list_per_call_passes_in_the_notebook_and_when_graded(loop, capsys):
    check_run_episodes(loop)
    assert "passed" in capsys.readouterr().out
    assert graded(check_run_episodes, SEEDS[0], loop)["status"] == "passed"
