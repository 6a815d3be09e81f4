"""Checks for notebook 6: greedy evaluation over seeded episodes, and the solved verdict."""
import contextlib

import numpy as np
import torch
from torch import nn

from utils import seeding
from utils.checks.core import NUMBERS, Mistake, exercise, expect, is_plain, name_the_mistake, plain_array, plain_number
from utils.checks.tensors import describe
from utils.evaluation import REWARD_THRESHOLD

FIRST_SEED = 1_000
N_EPISODES = 8
POLICY_WEIGHTS = (0.0, -0.3, 1.0, 0.1)  # a fair linear controller: some episodes reach 500, most fall earlier


def linear_q_net() -> nn.Module:
    """Q(s) = (-w·s, w·s): greedy action 1 exactly when w·s > 0."""
    net = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        w = torch.tensor(POLICY_WEIGHTS)
        net.weight.copy_(torch.stack([-w, w]))
    return net


class WatchedEnv:
    """A CartPole made by `make_env` that records its seed, resets and actions, and refuses to step a finished episode."""

    def __init__(self, seed, q_net: nn.Module, **kwargs):
        """Wrap `seeding.make_env(seed, **kwargs)`."""
        self.env, self.seed, self.q_net = seeding.make_env(seed, **kwargs), seed, q_net
        self.resets, self.steps, self.rewards, self.non_greedy = 0, 0, 0.0, 0
        self.state, self.done = None, True
        self.ended_by = ""

    def reset(self, **kwargs):
        """Start an episode."""
        self.resets += 1
        self.state, info = self.env.reset(**kwargs)
        self.done = False
        return self.state, info

    def step(self, action):
        """Step, recording whether the action was the greedy one."""
        if self.done and self.resets:
            raise Mistake(f"your evaluation stepped an episode that had already ended ({self.ended_by}). Hint: stop "
                          "an episode when `terminated or truncated`; counting steps after truncation inflates the "
                          "return beyond the 500-step limit.")
        expect(self.resets > 0, "your evaluation stepped an environment before resetting it.",
               "call env.reset() at the start of every episode.")
        with torch.no_grad():
            greedy = int(self.q_net(torch.as_tensor(self.state, dtype=torch.float32)).argmax())
        action = plain_number(action, "your evaluation passed env.step", "a Python int",
                              "pass greedy_action(q_net, state), an int.", types=(int, np.integer))
        self.non_greedy += int(action != greedy)
        self.state, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self.rewards += float(reward)
        self.done = terminated or truncated
        self.ended_by = "terminated" if terminated else "truncated at the time limit" if truncated else ""
        return self.state, reward, terminated, truncated, info

    def __getattr__(self, name):
        """Everything else (close, unwrapped, spec, action_space, np_random, ...) from the real env."""
        if name == "env":  # not set yet (e.g. in copy.copy): looking it up here would recurse forever
            raise AttributeError(name)
        return getattr(self.env, name)

    def __enter__(self):
        """`with make_env(seed) as env:` gives this watched env, as gymnasium's envs give themselves."""
        return self

    def __exit__(self, *exception):
        """Close the real env on leaving the `with` block; exceptions propagate."""
        self.env.close()
        return False

    def __repr__(self):
        """The real env's description."""
        return repr(self.env)


@contextlib.contextmanager
def watching_make_env(function, q_net: nn.Module, made: list):
    """Replace `make_env` in the notebook namespace of `function` by one that records the envs it makes."""
    namespace = getattr(function, "__globals__", {})
    expect(callable(namespace.get("make_env")), "the check cannot find make_env in your notebook.",
           "run the import cell first; create each episode's environment with make_env(seed + i).")
    original = namespace["make_env"]

    def make_watched_env(seed, *args, **kwargs):
        env = WatchedEnv(seed, q_net, **kwargs)
        made.append(env)
        return env

    namespace["make_env"] = make_watched_env
    try:
        yield
    finally:
        namespace["make_env"] = original


@exercise("6.1", "evaluate_greedy")
def check_evaluate_greedy(evaluate_greedy) -> None:
    """Evaluate a linear controller on 8 seeded episodes and inspect the envs made, the actions and the returns."""
    q_net, made = linear_q_net(), []
    with watching_make_env(evaluate_greedy, q_net, made), torch.random.fork_rng(devices=[]):
        returns = evaluate_greedy(q_net, N_EPISODES, FIRST_SEED)
    _check_envs(made)
    expect(sum(env.non_greedy for env in made) == 0,
           f"{sum(env.non_greedy for env in made)} of {sum(env.steps for env in made)} actions were not the greedy "
           "one: the evaluation explores (ε > 0) or samples actions.",
           "evaluate the greedy policy: greedy_action(q_net, state) at every step, no randomness.")
    unfinished = [i for i, env in enumerate(made) if not env.done]
    expect(not unfinished, f"episode {unfinished[0] if unfinished else ''} was stopped before it ended.",
           "play every episode until `terminated or truncated`.")
    _check_returns(returns, np.array([env.rewards for env in made]))


def _check_envs(made: list) -> None:
    """Episode i must be the only episode of a fresh make_env(FIRST_SEED + i)."""
    seeds = [env.seed for env in made]
    expected = [FIRST_SEED + i for i in range(N_EPISODES)]
    if seeds != expected:
        name_the_mistake(lambda value: seeds == value, {
            "make_env was never called. Hint: play episode i on make_env(seed + i).": [],
            f"every episode used make_env(seed): {N_EPISODES} copies of the same start state, so the evaluation "
            "measures one episode. Hint: episode i on make_env(seed + i).": [FIRST_SEED] * N_EPISODES,
            "the seed argument is ignored: episode i ran on make_env(i). Small seeds are the training seeds "
            "(DQNConfig.seed = 0 trains on env seed 0), so the score would be measured on training episodes. "
            "Hint: make_env(seed + i).": list(range(N_EPISODES)),
            "the seeds start at seed + 1. Hint: episode i (from 0) on make_env(seed + i).":
                [s + 1 for s in expected],
            "all episodes ran on one environment made with make_env(seed). Hint: make a fresh make_env(seed + i) "
            "per episode, so that each episode can be replayed on its own.": [FIRST_SEED],
        }, f"the environments were made with seeds {seeds}; expected {expected}.",
            returned=f"the environments were made with seeds {seeds}: ")
    resets = [env.resets for env in made]
    expect(all(n == 1 for n in resets), f"the environments were reset {resets} times; expected once each.",
           "one env per episode: reset it once, then step until the episode ends.")


def _check_returns(returns, expected: np.ndarray) -> None:
    """A (N_EPISODES,) float array of undiscounted returns (CartPole pays 1 per step), in episode order."""
    if is_plain(returns, NUMBERS):
        name_the_mistake(lambda value: np.isclose(float(returns), value), {
            "it returned the mean return. Hint: return every episode's return; the mean is one line later.":
                expected.mean(),
            "it returned the total of all episodes. Hint: return one return per episode.": expected.sum(),
        }, f"evaluate_greedy returned {describe(returns)}; expected an array of {N_EPISODES} returns.",
            returned=f"evaluate_greedy returned one number ({float(returns):.1f}): ")
    returns = plain_array(returns, "evaluate_greedy returned", f"a NumPy array of shape ({N_EPISODES},)",
                          "wrap the list of returns: np.array(returns, dtype=float).")
    expect(returns.shape == (N_EPISODES,), f"evaluate_greedy returned shape {returns.shape}; expected "
           f"({N_EPISODES},), one return per episode.", "a flat array: np.array(list_of_returns, dtype=float).")
    expect(np.issubdtype(returns.dtype, np.floating), f"the returns have dtype {returns.dtype}; expected float.",
           "np.array(returns, dtype=float).")
    if not np.allclose(returns, expected):
        name_the_mistake(lambda value: np.allclose(returns, value), {
            "the returns are discounted. Hint: the score of an episode is the plain sum of its rewards.":
                (1 - 0.99 ** expected) / (1 - 0.99),
            "each return is one short: the last reward is missing. Hint: add the reward of every step, "
            "the one that ends the episode included.": expected - 1,
            "the returns are running totals: the return was not reset between episodes. Hint: start each "
            "episode at 0.": np.cumsum(expected),
        }, f"evaluate_greedy returned {returns.tolist()}; the episodes' rewards add up to {expected.tolist()}.",
            returned=f"evaluate_greedy returned {returns.tolist()}, expected {expected.tolist()}: ")


# --- 6.2 the solved verdict ------------------------------------------------------------

def verdict_cases() -> np.ndarray:
    """Six runs of 100 episodes that separate the mean from the median, the minimum, the first 10, > and v0's 195."""
    return np.array([
        [475.0] * 100,                   # mean exactly 475: solved (≥, not >)
        [500.0] * 60 + [400.0] * 40,     # mean 460, median 500: not solved
        [300.0] * 100,                   # mean 300: solved only by v0's 195
        [500.0] * 95 + [100.0] * 5,      # mean 480, min 100: solved
        [9.0] * 100,                     # a random-looking policy
        [400.0] * 10 + [500.0] * 90,     # mean 490, median 500, first 10 at 400: solved
    ])


@exercise("6.2", "solved_runs")
def check_solved_runs(solved_runs) -> None:
    """Compare the verdicts on six designed runs with mean ≥ 475 per run."""
    returns = verdict_cases()
    given = returns.copy()
    got = solved_runs(given)
    expect(np.array_equal(given, returns), "solved_runs changed the returns it was given.", "only read them.")
    expected = returns.mean(axis=1) >= REWARD_THRESHOLD
    if isinstance(got, (bool, np.bool_)):
        raise Mistake(f"solved_runs returned one verdict ({got}) for {len(returns)} runs; expected an array of "
                      f"{len(returns)} booleans. Hint: average each row (axis=1), then compare.")
    got = plain_array(got, "solved_runs returned", f"a NumPy array of {len(returns)} booleans",
                      "compare a NumPy array with the threshold: the result is a bool array.")
    if got.shape == (returns.shape[1],):
        raise Mistake(f"solved_runs returned shape {got.shape}, one verdict per episode: the mean was taken over "
                      "runs (axis=0). Hint: each row is one run; average over its episodes, axis=1.")
    expect(got.shape == expected.shape, f"solved_runs returned shape {got.shape}; expected {expected.shape}, one "
           "verdict per run.", "returns.mean(axis=1) >= threshold.")
    expect(got.dtype == bool, f"solved_runs returned dtype {got.dtype}; expected bool.",
           "return the comparison itself (mean >= threshold), not the means.")
    if not np.array_equal(got, expected):
        means = returns.mean(axis=1)
        name_the_mistake(lambda value: np.array_equal(got, value), {
            "it uses 195, CartPole-v0's threshold. CartPole-v1 has 500-step episodes and registers "
            f"reward_threshold = {REWARD_THRESHOLD:g}. Hint: use REWARD_THRESHOLD.": means >= 195,
            f"it uses > instead of >=: a mean of exactly {REWARD_THRESHOLD:g} counts as solved. Hint: >=.":
                means > REWARD_THRESHOLD,
            "it compares the median, not the mean. Hint: the criterion is the mean return over the episodes.":
                np.median(returns, axis=1) >= REWARD_THRESHOLD,
            "it averages only the first 10 episodes of each run. Hint: the criterion is the mean over all the "
            "episodes of a run: returns.mean(axis=1).": returns[:, :10].mean(axis=1) >= REWARD_THRESHOLD,
            "it requires every episode to reach the threshold (the minimum), not the mean. Hint: the criterion "
            "is the mean return.": returns.min(axis=1) >= REWARD_THRESHOLD,
            "it compares the sum of the returns with the threshold. Hint: the mean, returns.mean(axis=1).":
                returns.sum(axis=1) >= REWARD_THRESHOLD,
            "the verdicts are inverted. Hint: solved means mean >= threshold.": means < REWARD_THRESHOLD,
        }, f"solved_runs returned {got.tolist()} for runs with means {means.tolist()}; expected {expected.tolist()}.",
            returned=f"solved_runs returned {got.tolist()} for runs with means {means.tolist()}, expected "
                     f"{expected.tolist()}: ")
