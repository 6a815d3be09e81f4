"""The ε-schedule, ε-greedy and global-clock checks pass right answers and name typical mistakes."""
import math
import random

import numpy as np
import pytest
import torch

from utils import policies
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.exploration import check_epsilon_greedy, check_epsilon_schedule, check_run_episodes
from utils.dqn import DQNConfig
from test_checks_core import Anything, RegisteredIntegral, RegisteredReal, SneakyFloat, SneakyInt

COURSE = DQNConfig()

EPS_START, EPS_END, EPS_DECAY = 1.0, 0.05, 1000  # what a notebook might define as globals


def not_done(*args):
    raise NotImplementedError("Exercise 4.x: not written")


def linear(step, start, end, decay_steps):
    return start + min(step / decay_steps, 1.0) * (end - start)


def test_the_reference_and_an_independent_schedule_pass(capsys):
    check_epsilon_schedule(lambda step, start, end, decay: policies.epsilon_schedule(step, start, end, decay))
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
    (lambda step, start, end, decay: linear(step, start, end, decay - 1), r"returned .*; expected "),
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
    check_epsilon_greedy(lambda q_net, state, epsilon, rng: policies.epsilon_greedy_action(q_net, state, epsilon, rng))
    check_epsilon_greedy(eps_greedy)
    assert capsys.readouterr().out.count("passed") == 2


def excluding_greedy(q_net, state, epsilon, rng):
    best = greedy(q_net, state)
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(3) if a != best]))
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


def run_episodes(env, q_net, n_episodes, schedule, rng, clock=lambda episode, t, step: step, until_truncated=True):
    """A correct loop, or with `clock` / `until_truncated` one of the typical wrong ones."""
    lengths, step = [], 0
    for episode in range(n_episodes):
        state, _ = env.reset()
        for t in range(10_000):
            action = eps_greedy(q_net, state, schedule(clock(episode, t, step)), rng)
            state, _, terminated, truncated, _ = env.step(action)
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
