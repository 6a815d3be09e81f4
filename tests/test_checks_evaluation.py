"""Checks of notebook 6: right answers pass, typical mistakes are named."""
import numpy as np
import pytest

from utils.checks import CheckFailed, ExerciseNotDone, check_evaluate_greedy, check_solved_runs
from utils.evaluation import REWARD_THRESHOLD
from utils.policies import epsilon_greedy_action, greedy_action
from utils.seeding import make_env


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


def test_reference_evaluation_passes():
    check_evaluate_greedy(make_evaluate())


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


def test_reference_verdicts_pass():
    check_solved_runs(lambda returns: returns.mean(axis=1) >= REWARD_THRESHOLD)


@pytest.mark.parametrize("wrong, words", [
    (lambda r: r.mean(axis=0) >= REWARD_THRESHOLD, "axis=0"),
    (lambda r: r.mean(axis=1) >= 195, "195, CartPole-v0"),
    (lambda r: r.mean(axis=1) > REWARD_THRESHOLD, "> instead of >="),
    (lambda r: np.median(r, axis=1) >= REWARD_THRESHOLD, "median"),
    (lambda r: r.min(axis=1) >= REWARD_THRESHOLD, "every episode"),
    (lambda r: r.sum(axis=1) >= REWARD_THRESHOLD, "sum"),
    (lambda r: r.mean() >= REWARD_THRESHOLD, "one verdict"),
    (lambda r: list(r.mean(axis=1) >= REWARD_THRESHOLD), "expected a NumPy array"),
    (lambda r: r.mean(axis=1), "dtype float64"),
])
def test_verdict_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_solved_runs(wrong)
