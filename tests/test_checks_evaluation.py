"""Checks of notebook 6: right answers pass, typical mistakes are named, in a notebook and in graded runs."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotDone, check_evaluate_greedy, check_solved_runs, wire
from utils.evaluation import REWARD_THRESHOLD, evaluate, is_solved
from utils.policies import epsilon_greedy_action, greedy_action
from utils.seeding import make_env
from test_checks_core import AlwaysCloseArray, Anything, graded

SEEDS = (1, 2, 3)  # grading runs: inputs drawn from each


def make_evaluate(seeds="offset", reset="per episode", stop="either", policy="greedy", total="plain", result="array"):
    """An evaluate_greedy with one part done the usual wrong way."""
    def evaluate_greedy(q_net, n_episodes, seed):
        rng = np.random.default_rng(0)
        shared = make_env(seed) if seeds == "one env" else None
        returns = []
        for i in range(n_episodes):
            env = shared or make_env({"offset": seed + i, "same": seed, "training": i}[seeds])
            if reset == "per episode" or i == 0:
                state, _ = env.reset()
            episode_return, discount, done = 0.0, 1.0, False
            while not done:
                if policy == "greedy":
                    action = greedy_action(q_net, state)
                else:
                    action = epsilon_greedy_action(q_net, state, 0.1, rng)
                state, reward, terminated, truncated, _ = env.step(action)
                episode_return += discount * reward
                discount *= 0.99 if total == "discounted" else 1.0
                done = terminated or truncated if stop == "either" else terminated
            returns.append(episode_return)
        if result == "mean":
            return float(np.mean(returns))
        return returns if result == "list" else np.array(returns)
    return evaluate_greedy


def greedy_return(env, q_net):
    """One greedy episode on `env`, from its reset to its end."""
    state, _ = env.reset()
    episode_return, done = 0.0, False
    while not done:
        state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
        episode_return, done = episode_return + reward, terminated or truncated
    return episode_return


def evaluate_in_with_blocks(q_net, n_episodes, seed):
    """Right: each env is a context manager that closes it, as gymnasium's envs are."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        with make_env(seed + i) as env:
            returns[i] = greedy_return(env, q_net)
    return returns


def evaluate_reading_the_env(q_net, n_episodes, seed):
    """Right: reads what a gymnasium env offers (spec, spaces, unwrapped, np_random), then closes each env."""
    returns = []
    for i in range(n_episodes):
        env = make_env(seed + i)
        assert env.spec.max_episode_steps == 500 and env.action_space.n == 2 and env.observation_space.shape == (4,)
        assert env.unwrapped.np_random is env.np_random and "CartPole" in repr(env)
        returns.append(greedy_return(env, q_net))
        env.close()
    return np.array(returns)


def evaluate_by_hand(act=greedy_action, first_state=lambda reset_state: reset_state, add=lambda total, r: total + r):
    """An evaluation written out step by step, choosing actions with `act`, starting from `first_state`, summing with
    `add`: the right one by default, or one of the red team's wrong ones."""
    def evaluate_greedy(q_net, n_episodes, seed):
        returns = np.zeros(n_episodes)
        for i in range(n_episodes):
            env, done = make_env(seed + i), False
            state = first_state(env.reset()[0])
            while not done:
                with torch.no_grad():
                    action = act(q_net, state)
                state, reward, terminated, truncated, _ = env.step(action)
                returns[i], done = add(returns[i], reward), terminated or truncated
        return returns
    return evaluate_greedy


# red team c: wrong evaluations whose messages named another mistake or gave no hint
FROM_A_ZERO_STATE = evaluate_by_hand(first_state=lambda reset_state: np.zeros(4, dtype=np.float32))
BATCH_ARGMAX = evaluate_by_hand(act=lambda q_net, state: int(q_net(torch.as_tensor(state)).argmax(dim=1)))
FLOAT64_STATES = evaluate_by_hand(act=lambda q_net, state: int(q_net(torch.tensor(state, dtype=torch.float64)).argmax()))
KEEPS_THE_LAST_REWARD = evaluate_by_hand(add=lambda total, reward: reward)


@pytest.mark.parametrize("right", [make_evaluate(), evaluate_in_with_blocks, evaluate_reading_the_env,
                                   evaluate_by_hand()])
def test_right_evaluations_pass(right, capsys):
    check_evaluate_greedy(right)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (make_evaluate(seeds="training"), "training seeds"),
    (make_evaluate(seeds="same"), "same start state"),
    (make_evaluate(seeds="one env"), "one environment"),
    (make_evaluate(reset="once"), "before resetting it"),
    (make_evaluate(seeds="one env", reset="once"), "already ended \\(terminated\\)"),
    (make_evaluate(stop="terminated"), "already ended \\(truncated at the time limit\\).*after truncation"),
    (make_evaluate(policy="epsilon"), "explores"),
    (make_evaluate(total="discounted"), "discounted"),
    (make_evaluate(result="mean"), "returned the mean return"),
    (make_evaluate(result="list"), "expected a NumPy array"),
    (FLOAT64_STATES, r"raised RuntimeError: .*same dtype.*Hint: the network's weights are float32"),
    (FROM_A_ZERO_STATE, r"actions were not the greedy one, each the first action of an episode: the first "
                                 r"action is not chosen in the state env.reset\(\) returned"),  # red team c: "explores"
    (BATCH_ARGMAX, r"raised IndexError: Dimension out of range \(expected to be in range of \[-1, 0\], "
                                   r"but got 1\).*Hint: the tensor has one dimension, as one state's Q-values do"),
])
def test_evaluation_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_evaluate_greedy(wrong)


def test_unfinished_evaluation_is_not_done():
    def stub(q_net, n_episodes, seed):
        raise NotImplementedError("Exercise 6.1: evaluate_greedy")

    with pytest.raises(ExerciseNotDone, match="Exercise 6.1: evaluate_greedy is not done yet"):
        check_evaluate_greedy(stub)


def test_an_untouched_evaluation_is_not_done_even_where_make_env_is_missing():
    namespace = {}  # a notebook whose import cell did not run
    exec("def evaluate_greedy(q_net, n_episodes, seed):\n    raise NotImplementedError('Exercise 6.1: evaluate_greedy')",
         namespace)
    with pytest.raises(ExerciseNotDone, match="Exercise 6.1: evaluate_greedy is not done yet"):
        check_evaluate_greedy(namespace["evaluate_greedy"])
    exec("def evaluate_greedy(q_net, n_episodes, seed):\n    return make_env(seed)", namespace)
    with pytest.raises(CheckFailed, match="cannot find make_env in your notebook"):
        check_evaluate_greedy(namespace["evaluate_greedy"])


def test_evaluation_check_restores_make_env():
    with pytest.raises(CheckFailed):
        check_evaluate_greedy(make_evaluate(seeds="training"))
    assert globals()["make_env"].__module__ == "utils.seeding"


# Students' own wrong versions, written as they write them: each is caught, and its mistake named.

def play(env, q_net, choose=greedy_action) -> float:
    """One episode from env.reset(), choosing with `choose(q_net, state)`; its return."""
    state, _ = env.reset()
    total, done = 0.0, False
    while not done:
        state, reward, terminated, truncated, _ = env.step(choose(q_net, state))
        total, done = total + reward, terminated or truncated
    return total


def old_reset_api(q_net, n_episodes, seed):
    """`state = env.reset()` keeps the pair (observation, info)."""
    returns = []
    for i in range(n_episodes):
        env = make_env(seed + i)
        state = env.reset()
        total, done = 0.0, False
        while not done:
            action = q_net(torch.tensor(state)).argmax().item()
            state, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return np.array(returns)


def old_reset_api_greedy(q_net, n_episodes, seed):
    """The same, through greedy_action."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env, done = make_env(seed + i), False
        state = env.reset()
        while not done:
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i], done = returns[i] + reward, terminated or truncated
    return returns


def old_step_api(q_net, n_episodes, seed):
    """Unpacks env.step into four values."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        done = False
        while not done:
            state, reward, done, _ = env.step(greedy_action(q_net, state))
            returns[i] += reward
    return returns


def never_moves_on(q_net, n_episodes, seed):
    """Chooses every action for the first state: `state` is never updated."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i], done = returns[i] + reward, terminated or truncated
    return returns


def returns_backwards(q_net, n_episodes, seed):
    """Prepends each return."""
    returns = []
    for i in range(n_episodes):
        returns.insert(0, play(make_env(seed + i), q_net))
    return np.array(returns)


def reseeds_every_reset(q_net, n_episodes, seed):
    """env.reset(seed=seed) on every episode's env."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset(seed=seed)
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i], done = returns[i] + reward, terminated or truncated
    return returns


def ten_episodes(q_net, n_episodes, seed):
    """Ignores n_episodes."""
    return np.array([play(make_env(seed + i), q_net) for i in range(10)])


def stops_at_200(q_net, n_episodes, seed):
    """CartPole-v0's 200 steps."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        for _ in range(200):
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i] += reward
            if terminated or truncated:
                break
    return returns


def tensor_actions(q_net, n_episodes, seed):
    """Passes the argmax tensor to env.step."""
    return np.array([play(make_env(seed + i), q_net, lambda net, s: net(torch.as_tensor(s)).argmax())
                     for i in range(n_episodes)])


def integer_returns(q_net, n_episodes, seed):
    """Counts steps in an int array."""
    returns = np.zeros(n_episodes, dtype=int)
    for i in range(n_episodes):
        returns[i] = play(make_env(seed + i), q_net)
    return returns


def resets_every_step(q_net, n_episodes, seed):
    """env.reset() inside the step loop: one endless episode, unless the check stops it."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        finished = False
        while not finished:
            state, _ = env.reset()
            _, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i] += reward
            finished = terminated or truncated
    return returns


def reseeds_one_seed_in_reset(q_net, n_episodes, seed):
    """make_env(seed) for every episode, reseeded with env.reset(seed=seed + i): not make_env(seed + i)'s episode."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed)
        state, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i], done = returns[i] + reward, terminated or truncated
    return returns


def accumulates_the_seed(q_net, n_episodes, seed):
    """`seed += i` in the loop: the seeds drift by 0, 1, 3, 6, ..."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        seed += i
        returns[i] = play(make_env(seed), q_net)
    return returns


def scores_truncation_zero(q_net, n_episodes, seed):
    """Keeps a return only when the episode was terminated: a truncated one counts 0."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        total, terminated, truncated = 0.0, False, False
        while not (terminated or truncated):
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            total += reward
        returns[i] = total if terminated else 0.0
    return returns


def totals_from_one(q_net, n_episodes, seed):
    """np.ones where np.zeros was meant (np.empty, as often, starts from whatever was in memory)."""
    returns = np.ones(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i] += reward
            done = terminated or truncated
    return returns


STUDENT_EVALUATION_MISTAKES = [
    # red team b: reseeded in reset(), `seed += i`, truncation scored 0, an accumulator not started at 0
    (reseeds_one_seed_in_reset, r"made with make_env\(seed\) and reseeded in reset\(\).*Hint: use make_env\(seed \+ "
                                r"i\) and reset\(\) without a seed"),
    (accumulates_the_seed, r"seeds \[1000, 1001, 1003, 1006, .*: the seeds accumulate: `seed \+= i`"),
    (scores_truncation_zero, r"truncated episodes scored 0: an episode's score is its reward sum"),
    (totals_from_one, r"every return is off by \+1: the accumulator does not start at 0.*Hint: start each episode's "
                      r"total at 0"),
    (resets_every_step, "reset the environment in the middle of an episode, after 1 step,"),
    (old_reset_api, "env.reset\\(\\) returns a pair \\(observation, info\\)"),
    (old_reset_api_greedy, "passed greedy_action the pair \\(observation, info\\)"),
    (old_step_api, "env.step returns five values"),
    (never_moves_on, "`state` is never updated"),
    (returns_backwards, "reverse episode order"),
    (reseeds_every_reset, "was reset with seed=1000"),
    (ten_episodes, "it played 10 episodes, but n_episodes = 8"),
    (stops_at_200, "stopped before it ended"),
    (tensor_actions, "passed env.step a tensor"),
    (integer_returns, "dtype int64; expected float"),
]


@pytest.mark.parametrize("wrong, words", STUDENT_EVALUATION_MISTAKES)
def test_students_evaluation_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_evaluate_greedy(wrong)


def test_a_reset_in_every_step_ends_in_a_named_failure_when_graded():
    verdict = graded(check_evaluate_greedy, 1, resets_every_step)
    assert verdict["status"] == "failed" and "in the middle of an episode" in verdict["message"], verdict


def reseeds_with_its_own_seed(q_net, n_episodes, seed):
    """Right: env.reset(seed=seed + i) on make_env(seed + i) (the same seed again)."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(greedy_action(q_net, state))
            returns[i], done = returns[i] + reward, terminated or truncated
    return returns


def counts_steps(q_net, n_episodes, seed):
    """Right: counts steps (CartPole pays 1 per step), actions from the Q-values directly."""
    lengths = []
    for i in range(n_episodes):
        env = make_env(seed + i)
        observation, _ = env.reset()
        for t in range(1, 10_000):
            with torch.no_grad():
                action = int(torch.argmax(q_net(torch.from_numpy(observation))))
            observation, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                lengths.append(float(t))
                break
    return np.asarray(lengths)


def numpy_seeds(q_net, n_episodes, seed):
    """Right: the seeds of seed + np.arange(n_episodes), NumPy integers."""
    return np.array([play(make_env(episode_seed), q_net) for episode_seed in seed + np.arange(n_episodes)])


def recorded_statistics(q_net, n_episodes, seed):
    """Right: gymnasium's RecordEpisodeStatistics around make_env(seed + i) gives each return."""
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = gym.wrappers.RecordEpisodeStatistics(make_env(seed + i))
        state, _ = env.reset()
        done = False
        while not done:
            state, _, terminated, truncated, info = env.step(greedy_action(q_net, state))
            done = terminated or truncated
        returns[i] = float(info["episode"]["r"])
    return returns


def extra_env_for_sizes(q_net, n_episodes, seed):
    """Right: an extra make_env(seed), never reset or stepped, only to read the number of actions."""
    n_actions = make_env(seed).action_space.n
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        state, _ = env.reset()
        done = False
        while not done:
            action = greedy_action(q_net, state)
            assert 0 <= action < n_actions
            state, reward, terminated, truncated, _ = env.step(action)
            returns[i] += reward
            done = terminated or truncated
    return returns


@pytest.mark.parametrize("right", [reseeds_with_its_own_seed, counts_steps,
                                   # red team b: NumPy seeds, a gymnasium wrapper, an env made only for its sizes
                                   numpy_seeds, recorded_statistics, extra_env_for_sizes])
def test_right_evaluation_variants_pass(right, capsys):
    check_evaluate_greedy(right)
    assert all(graded(check_evaluate_greedy, seed, right)["status"] == "passed" for seed in SEEDS)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("right", [
    lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD,
    lambda returns: np.array([sum(run) / len(run) >= REWARD_THRESHOLD for run in returns]),
])
def test_right_verdicts_pass(right, capsys):
    check_solved_runs(right)
    assert "passed" in capsys.readouterr().out


def test_the_course_code_itself_is_refused():
    with pytest.raises(CheckFailed, match="^Exercise 6.1 \\(evaluate_greedy\\): you passed the course's own "
                                          "`utils.evaluation.evaluate`"):
        check_evaluate_greedy(evaluate)


@pytest.mark.parametrize("wrong, words", [
    (lambda r: r.mean(axis=0) >= REWARD_THRESHOLD, "axis=0"),
    (lambda r: r.mean(axis=1) >= 195, "195, CartPole-v0"),
    (lambda r: r.mean(axis=1) > REWARD_THRESHOLD, "> instead of >="),
    (lambda r: np.median(r, axis=1) >= REWARD_THRESHOLD, "compares the median, not the mean"),
    (lambda r: r[:, :10].mean(axis=1) >= REWARD_THRESHOLD, "averages only the first 10 episodes of each run"),
    (lambda r: r.min(axis=1) >= REWARD_THRESHOLD, "every episode"),
    (lambda r: r.sum(axis=1) >= REWARD_THRESHOLD, "sum"),
    (lambda r: r.mean() >= REWARD_THRESHOLD, "one verdict"),
    (lambda r: list(r.mean(axis=1) >= REWARD_THRESHOLD), "expected a NumPy array"),
    (lambda r: r.mean(axis=1), "dtype float64"),
])
def test_verdict_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_solved_runs(wrong)


@pytest.mark.parametrize("rigged, named", [
    (lambda q_net, n, seed: make_evaluate()(q_net, n, seed).view(AlwaysCloseArray), "a Python AlwaysCloseArray"),
    (lambda q_net, n, seed: [Anything() for _ in make_evaluate()(q_net, n, seed)], "a Python list"),
])
def test_evaluation_refuses_rigged_returns(rigged, named):
    with pytest.raises(CheckFailed, match=f"evaluate_greedy returned {named}; expected a NumPy array of shape"):
        check_evaluate_greedy(rigged)


@pytest.mark.parametrize("rigged, named", [
    (lambda r: np.array([Anything()] * len(r), dtype=object), r"shape \(6,\) and dtype object"),
    (lambda r: (r.mean(axis=1) >= REWARD_THRESHOLD).view(AlwaysCloseArray), "a Python AlwaysCloseArray"),
])
def test_verdicts_refuse_rigged_arrays(rigged, named):
    with pytest.raises(CheckFailed, match=f"solved_runs returned .*{named}; expected a NumPy array of 6 booleans"):
        check_solved_runs(rigged)


def sorts_in_place(returns):
    """Sorts the rows (for a median) in the caller's array."""
    returns.sort(axis=1)
    return returns.mean(axis=1) >= REWARD_THRESHOLD


STUDENT_VERDICT_MISTAKES = [
    (lambda returns: np.mean(returns, axis=1) >= 500, "uses 500, the largest possible return"),
    (lambda returns: np.any(returns >= REWARD_THRESHOLD, axis=1), "any one episode reaches the threshold"),
    (lambda returns: returns.sum(axis=1) / len(returns) >= REWARD_THRESHOLD, "divided by the number of runs"),
    (sorts_in_place, "changed the returns it was given"),
    (lambda returns: np.all(returns >= REWARD_THRESHOLD, axis=1), "requires every episode to reach the threshold"),
    (lambda returns: np.median(returns, axis=1) >= 475, "compares the median"),
    (lambda returns: (returns.mean(axis=1) >= REWARD_THRESHOLD).astype(int), "dtype int64; expected bool"),
    (lambda returns: np.mean(returns, axis=0) >= REWARD_THRESHOLD, "axis=0"),
    (lambda returns: [float(np.mean(run)) >= REWARD_THRESHOLD for run in returns], "expected a NumPy array"),
    (lambda returns: returns[:, :10].mean(axis=1) >= REWARD_THRESHOLD, "first 10 episodes"),
    # red team b: a training curve's last 10 episodes, a lower confidence bound, a rounded mean
    (lambda returns: returns[:, -10:].mean(axis=1) >= REWARD_THRESHOLD, r"averages only the last 10 episodes"),
    (lambda returns: returns.mean(axis=1) - returns.std(axis=1) >= REWARD_THRESHOLD,
     r"the mean minus a standard deviation \(a lower confidence bound\).*the criterion is the mean itself"),
    (lambda returns: np.round(returns.mean(axis=1)) >= REWARD_THRESHOLD,
     r"rounds the mean before comparing: a mean of 474.5 or more counts as 475"),
    # red team c: the mean rounded to one decimal, as it is printed
    (lambda returns: np.round(returns.mean(axis=1), 1) >= REWARD_THRESHOLD,
     r"rounds the mean to one decimal before comparing: a mean of 474.95 or more counts as 475.0"),
]


def solved_by_the_last_100_of_all_runs(returns):
    """Wrong: each run's verdict from the 100 returns before its end in the flattened array."""
    flat, n = returns.reshape(-1), returns.shape[1]
    return np.array([flat[max(0, (i + 1) * n - 100):(i + 1) * n].mean() >= REWARD_THRESHOLD for i in range(len(returns))])


@pytest.mark.parametrize("check, wrong", [(check_evaluate_greedy, KEEPS_THE_LAST_REWARD),
                                          (check_solved_runs, solved_by_the_last_100_of_all_runs)])
def test_a_mistake_no_slip_explains_still_gets_a_hint(check, wrong):
    with pytest.raises(CheckFailed, match="Hint: "):  # red team c: these two fallbacks had none
        check(wrong)
    assert "Hint: " in graded(check, SEEDS[0], wrong)["message"]


@pytest.mark.parametrize("wrong, words", STUDENT_VERDICT_MISTAKES)
def test_students_verdict_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_solved_runs(wrong)


def divides_by_100(returns):
    """Hard-codes 100 episodes per run: right on the notebook's runs only."""
    return returns.sum(axis=1) / 100 >= REWARD_THRESHOLD


# --- graded runs: fresh inputs per run, judged apart from the probe ---------------------------

GRADED = [  # check, a right answer, a wrong one and the words naming its mistake
    (check_evaluate_greedy, make_evaluate(), returns_backwards, "reverse episode order"),
    (check_evaluate_greedy, make_evaluate(), make_evaluate(stop="terminated"), "already ended"),
    (check_solved_runs, lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD, divides_by_100,
     "compared with 100 × the threshold, which is the mean criterion only for runs of 100 episodes"),
    (check_solved_runs, lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD,
     lambda returns: returns.mean(axis=1) > REWARD_THRESHOLD, "> instead of >="),
    (check_solved_runs, lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD,  # red team b: a mean of 474.6 counts
     lambda returns: np.round(returns.mean(axis=1)) >= REWARD_THRESHOLD, "rounds the mean before comparing"),
    (check_solved_runs, lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD,  # red team c: 474.95 counts
     lambda returns: np.round(returns.mean(axis=1), 1) >= REWARD_THRESHOLD, "rounds the mean to one decimal"),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check, right, wrong, words", GRADED)
def test_graded_runs_pass_right_answers_and_name_mistakes(check, right, wrong, words, seed):
    assert graded(check, seed, right) == {"status": "passed", "message": "", "flags": []}
    verdict = graded(check, seed, wrong)
    assert verdict["status"] == "failed" and words in verdict["message"] and not verdict["flags"]


def test_graded_inputs_are_fresh_for_each_seed():
    for check in (check_evaluate_greedy, check_solved_runs):
        drawn = {check.inputs_json(seed) for seed in SEEDS}
        assert len(drawn) == len(SEEDS) and wire.dumps(check.inputs(None)) not in drawn


@pytest.mark.parametrize("check, wrapper, name", [
    (check_evaluate_greedy, lambda q_net, n_episodes, seed: evaluate(q_net, n_episodes, seed),
     "utils.evaluation.evaluate"),
    (check_solved_runs, lambda returns: np.array([is_solved(run) for run in returns]), "utils.evaluation.is_solved"),
])
def test_graded_wrappers_of_the_course_answer_are_flagged(check, wrapper, name):
    assert graded(check, SEEDS[0], wrapper)["flags"] == [f"calls the course's own `{name}`"]


NOTEBOOK_VERDICTS = {runs.shape: runs.mean(axis=1) >= REWARD_THRESHOLD for runs in check_solved_runs.inputs(None).values()}


@pytest.mark.parametrize("check, hard_coded", [
    (check_evaluate_greedy, lambda q_net, n_episodes, seed: make_evaluate()(q_net, 8, 1_000)),
    (check_solved_runs, lambda returns: NOTEBOOK_VERDICTS[returns.shape].copy()),
])
def test_answers_hard_coded_for_the_notebook_fail_graded_runs(check, hard_coded, capsys):
    check(hard_coded)  # the notebook's own inputs: it passes there
    assert "passed" in capsys.readouterr().out
    assert all(graded(check, seed, hard_coded)["status"] == "failed" for seed in SEEDS)


@pytest.mark.parametrize("check, right", [(check, right) for check, right, *_ in GRADED[1::2]])
def test_a_record_of_the_notebook_inputs_fails_a_graded_run(check, right):
    notebook_record = check.probe_json(wire.dumps(check.inputs(None)), right)
    assert check.verdict_json(check.inputs_json(SEEDS[0]), notebook_record)["status"] == "failed"


# --- issue 18: another network than the argument, rows of another length ---------------------------

TRAINED_NET = torch.nn.Linear(4, 2)  # a notebook global a student might evaluate by mistake
with torch.no_grad():
    TRAINED_NET.weight.copy_(torch.tensor([[0.0, 0.5, -0.8, -0.4], [0.0, -0.5, 0.8, 0.4]]))  # not the check's net
    TRAINED_NET.bias.zero_()


def evaluates_the_global_net(q_net, n_episodes, seed):
    """greedy_action of a notebook global instead of the q_net argument."""
    return make_evaluate()(TRAINED_NET, n_episodes, seed)


def argmax_of_the_global_net(q_net, n_episodes, seed):
    """The greedy action computed inline from the global network's Q-values."""
    returns = []
    for i in range(n_episodes):
        env, total, done = make_env(seed + i), 0.0, False
        state, _ = env.reset()
        while not done:
            with torch.no_grad():
                action = int(TRAINED_NET(torch.as_tensor(state, dtype=torch.float32)).argmax())
            state, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return np.array(returns)


ANOTHER_NETWORK = "it ignores the q_net argument and acts with another network"


@pytest.mark.parametrize("wrong", [evaluates_the_global_net, argmax_of_the_global_net])
def test_a_global_network_is_named_in_the_notebook_and_when_graded(wrong):
    with pytest.raises(CheckFailed, match=ANOTHER_NETWORK):
        check_evaluate_greedy(wrong)
    verdict = graded(check_evaluate_greedy, SEEDS[0], wrong)
    assert verdict["status"] == "failed" and ANOTHER_NETWORK in verdict["message"], verdict


HUNDRED_EPISODES = "compared with 100 × the threshold, which is the mean criterion only for runs of 100 episodes"


@pytest.mark.parametrize("wrong", [
    divides_by_100,
    lambda returns: np.sum(returns, axis=1) >= 100 * REWARD_THRESHOLD,
])
def test_runs_assumed_to_hold_100_episodes_are_named_in_the_notebook_and_when_graded(wrong):
    with pytest.raises(CheckFailed, match=f"runs of [0-9]+ episodes.*{HUNDRED_EPISODES}"):
        check_solved_runs(wrong)
    verdict = graded(check_solved_runs, SEEDS[0], wrong)
    assert verdict["status"] == "failed" and HUNDRED_EPISODES in verdict["message"], verdict


@pytest.mark.parametrize("right", [
    lambda returns: np.average(returns, axis=-1) >= REWARD_THRESHOLD,
    lambda returns: returns.sum(axis=1) >= returns.shape[1] * REWARD_THRESHOLD,
])
def test_verdicts_for_runs_of_any_length_pass_in_the_notebook_and_when_graded(right, capsys):
    check_solved_runs(right)
    assert "passed" in capsys.readouterr().out
    assert all(graded(check_solved_runs, seed, right)["status"] == "passed" for seed in SEEDS)
