"""Checks of notebook 6: right answers pass, typical mistakes are named."""
import numpy as np
import pytest

from utils.checks import CheckFailed, ExerciseNotDone, check_evaluate_greedy, check_solved_runs
from utils.evaluation import REWARD_THRESHOLD, evaluate
from utils.policies import epsilon_greedy_action, greedy_action
from utils.seeding import make_env
from test_checks_core import AlwaysCloseArray, Anything


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


@pytest.mark.parametrize("right", [make_evaluate(), evaluate_in_with_blocks, evaluate_reading_the_env])
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
])
def test_evaluation_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_evaluate_greedy(wrong)


def test_unfinished_evaluation_is_not_done():
    def stub(q_net, n_episodes, seed):
        raise NotImplementedError("Exercise 6.1: evaluate_greedy")

    with pytest.raises(ExerciseNotDone, match="Exercise 6.1: evaluate_greedy is not done yet"):
        check_evaluate_greedy(stub)


def test_evaluation_check_restores_make_env():
    with pytest.raises(CheckFailed):
        check_evaluate_greedy(make_evaluate(seeds="training"))
    assert globals()["make_env"].__module__ == "utils.seeding"


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
