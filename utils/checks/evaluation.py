"""Checks for notebook 6: greedy evaluation over seeded episodes, the solved verdict (probe and judge, see protocol)."""
import contextlib

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from utils import seeding
from utils.checks.core import NUMBERS, Mistake, describe, expect, is_plain, name_the_mistake, plain_array
from utils.checks.envs import Witness, old_api_crash, reset_pair_check
from utils.checks.protocol import Check, CheckError
from utils.evaluation import REWARD_THRESHOLD

FIRST_SEED = 1_000
N_EPISODES = 8
POLICY_WEIGHTS = (0.0, -0.3, 1.0, 0.1)  # a fair linear controller: some episodes reach 500, most fall earlier
FRESH_EPISODES = (6, 7, 9, 11, 12)  # never the notebook's 8, nor a round count a loop might hard-code
NEAR_TIE = 1e-5  # Q-values this close: either action is greedy (float rounding may pick either)
TIME_LIMIT = 500  # CartPole-v1's episodes are truncated after 500 steps
OTHER_NET_EPISODES = 2  # episodes evaluated with another network: do the actions follow the q_net argument?


def linear_q_net(weights) -> nn.Module:
    """Q(s) = (-w·s, w·s): greedy action 1 exactly when w·s > 0."""
    net = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        w = torch.tensor([float(x) for x in weights])
        net.weight.copy_(torch.stack([-w, w]))
    return net


# --- 6.1 greedy evaluation -------------------------------------------------------------

def evaluation_inputs(rng) -> dict:
    """The notebook's controller and seeds, or fresh ones whose episodes both end early and reach the time limit."""
    if rng is None:
        return {"weights": list(POLICY_WEIGHTS), "n_episodes": N_EPISODES, "seed": FIRST_SEED}
    for _ in range(200):  # about one draw in three has both kinds of episode
        weights = [float(rng.normal(0.0, 0.05)), float(rng.uniform(-0.45, -0.15)), 1.0, float(rng.uniform(0.0, 0.2))]
        n_episodes, seed = int(rng.choice(FRESH_EPISODES)), int(rng.integers(10_000, 900_000))
        returns = [greedy_return(linear_q_net(weights), seed + i) for i in range(n_episodes)]
        if 500.0 in returns and min(returns) < 500 and returns != returns[::-1]:
            break
    return {"weights": weights, "n_episodes": n_episodes, "seed": seed}


class WatchedEnv(gym.Wrapper):
    """A CartPole made by `make_env`: records its seed, resets and actions; refuses to step a finished episode.

    A gymnasium wrapper, so that gymnasium's own wrappers (RecordEpisodeStatistics, ...) take it as they take the env
    `make_env` gives.
    """

    def __init__(self, seed, witness: Witness, *args, **kwargs):
        """Wrap `seeding.make_env(seed, ...)`; `witness` remembers the mistakes seen."""
        super().__init__(seeding.make_env(seed, *args, **kwargs))
        self.seed, self.witness = int(seed), witness  # make_env takes NumPy integers too
        self.reset_seeds, self.actions = [], []
        self.done, self.ended_by, self.steps = True, "", 0

    def reset(self, **kwargs):
        """Start an episode, recording the seed it was given (None when none)."""
        if not self.done and self.steps:
            # Resetting every step would play one endless episode: stop it here, with the reason.
            steps = f"{self.steps} step{'s' * (self.steps != 1)}"
            self.witness.refuse(f"your evaluation reset the environment in the middle of an episode, after {steps}, "
                                "before it was terminated or truncated. Hint: call env.reset() once at the start of "
                                "each episode, before the loop over its steps.")
        seed = kwargs.get("seed")  # an odd seed makes gymnasium raise just below: the crash is the record
        self.reset_seeds.append(int(seed) if is_plain(seed, (int, np.integer)) else None)
        self.steps = 0
        state, info = self.env.reset(**kwargs)
        self.done = False
        return state, info

    def step(self, action):
        """Step, recording the action."""
        if self.done and self.reset_seeds:
            self.witness.refuse(f"your evaluation stepped an episode that had already ended ({self.ended_by}). Hint: "
                                "stop an episode when `terminated or truncated`; counting steps after truncation "
                                "inflates the return beyond the 500-step limit.")
        if not self.reset_seeds:
            self.witness.refuse("your evaluation stepped an environment before resetting it. Hint: call env.reset() "
                                "at the start of every episode.")
        action = self.witness.number(action, "your evaluation passed env.step", "a Python int",
                                     "pass greedy_action(q_net, state), an int.", types=(int, np.integer))
        self.actions.append(action)
        self.steps += 1
        state, reward, terminated, truncated, info = self.env.step(action)
        self.done = terminated or truncated
        self.ended_by = "terminated" if terminated else "truncated at the time limit" if truncated else ""
        return state, reward, terminated, truncated, info

    def record(self) -> dict:
        """What the judge needs: the seed, each reset's seed and the actions."""
        return {"seed": self.seed, "reset_seeds": self.reset_seeds, "actions": self.actions}

    def used(self) -> bool:
        """Was an episode started on it? (An env made only to read its spaces plays no part in the evaluation.)"""
        return bool(self.reset_seeds or self.actions)

    def __getattr__(self, name):
        """Anything else the real env has (its own attributes, as make_env's env gives them)."""
        if name == "env" or name.startswith("__"):  # not set yet (e.g. in copy.copy): looking it up would recurse
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self):
        """The real env's description."""
        return repr(self.env)


@contextlib.contextmanager
def watching_make_env(function, made: list, witness: Witness):
    """Replace `make_env` (and wrap `greedy_action`) in the notebook namespace of `function` while it runs."""
    namespace = function.__globals__
    saved = {name: namespace[name] for name in ("make_env", "greedy_action") if callable(namespace.get(name))}

    def make_watched_env(seed, *args, **kwargs):
        env = WatchedEnv(seed, witness, *args, **kwargs)
        made.append(env)
        return env

    def watched_greedy_action(q_net, state, *args, **kwargs):
        witness.check(reset_pair_check, state, "your evaluation passed greedy_action")
        return saved["greedy_action"](q_net, state, *args, **kwargs)

    namespace["make_env"] = make_watched_env
    if "greedy_action" in saved:
        namespace["greedy_action"] = watched_greedy_action
    try:
        yield
    finally:
        namespace.update(saved)


def probe_evaluation(rec, inputs: dict, evaluate_greedy) -> None:
    """Run the student's evaluation with watched envs; record its returns, the envs it made and what they saw."""
    if not callable(getattr(evaluate_greedy, "__globals__", {}).get("make_env")):  # a stub still says it is not done
        rec.note("make_env missing", True)
        rec.call("unwatched", evaluate_greedy, linear_q_net(inputs["weights"]), inputs["n_episodes"], inputs["seed"],
                 expect_error=True)
        return
    made, witness = [], Witness()
    with watching_make_env(evaluate_greedy, made, witness), torch.random.fork_rng(devices=[]):
        rec.call("returns", evaluate_greedy, linear_q_net(inputs["weights"]), inputs["n_episodes"], inputs["seed"],
                 expect_error=True)
    rec.note("witnessed", witness.seen)
    rec.note("envs", [env.record() for env in made if env.used()] or [env.record() for env in made])
    made, witness = [], Witness()
    with watching_make_env(evaluate_greedy, made, witness), torch.random.fork_rng(devices=[]):
        rec.call("other net", evaluate_greedy, always_left_q_net(), OTHER_NET_EPISODES, inputs["seed"],
                 expect_error=True)
    rec.note("other net actions", [env.actions for env in made if env.used()])


def always_left_q_net() -> nn.Module:
    """Q(s) = (1, 0) in every state: the greedy action is always 0."""
    net = nn.Linear(4, 2)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.tensor([1.0, 0.0]))
    return net


def judge_evaluation(results, inputs: dict) -> None:
    """Evaluate a linear controller on seeded episodes: the envs made, the actions taken and the returns."""
    first, n_episodes = inputs["seed"], inputs["n_episodes"]
    if results.has("make_env missing"):
        crash = results.raised("unwatched")
        if crash and crash.get("not_done"):
            results.value("unwatched")
        raise Mistake("the check cannot find make_env in your notebook. Hint: run the import cell first; create "
                      "each episode's environment with make_env(seed + i).")
    witnessed = results.value("witnessed")
    if type(witnessed) is not list:
        raise CheckError("the check's probe recorded no readable list of mistakes")
    if witnessed:
        raise Mistake(str(witnessed[0]))
    envs = _env_records(results.value("envs"))
    crash = results.raised("returns")
    if crash and not crash.get("not_done"):
        old_api = old_api_crash(crash, after_reset_only=bool(envs) and bool(envs[-1]["reset_seeds"])
                                and not envs[-1]["actions"])
        expect(not old_api, old_api)
    returns = results.value("returns")
    _check_envs(envs, first, n_episodes)
    q_net = linear_q_net(inputs["weights"])
    played = [replay(q_net, env) for env in envs]
    _check_greedy(played, _other_net_actions(results))
    unfinished = [i for i, episode in enumerate(played) if not episode["done"]]
    expect(not unfinished, f"episode {unfinished[0] if unfinished else ''} was stopped before it ended.",
           "play every episode until `terminated or truncated`.")
    _check_returns(returns, np.array([episode["return"] for episode in played]), n_episodes)


def _env_records(value) -> list:
    """The recorded envs, checked to be shaped as the probe writes them (CheckError if not)."""
    shaped = type(value) is list and all(
        type(env) is dict and type(env.get("seed")) is int and type(env.get("reset_seeds")) is list
        and all(seed is None or type(seed) is int for seed in env["reset_seeds"])
        and type(env.get("actions")) is list and all(type(a) is int for a in env["actions"]) for env in value)
    if not shaped:
        raise CheckError("the check's probe recorded no readable list of environments")
    return value


def _check_envs(envs: list, first: int, n_episodes: int) -> None:
    """Episode i must be the only episode of a fresh make_env(first + i), reset once, without another seed."""
    seeds = [env["seed"] for env in envs]
    expected = [first + i for i in range(n_episodes)]
    reseeds = [env["reset_seeds"][0] if env["reset_seeds"] else None for env in envs]
    expect(not (seeds and set(seeds) == {first} and None not in reseeds and len(set(reseeds)) > 1),
           f"every episode's environment was made with make_env(seed) and reseeded in reset() (seeds {reseeds}): "
           "episode i must be the first episode of make_env(seed + i), and reset(seed=...) replaces it with another.",
           "use make_env(seed + i) and reset() without a seed.")
    if seeds != expected:
        wrong = {
            "make_env was never called. Hint: play episode i on make_env(seed + i).": [],
            f"every episode used make_env(seed): {n_episodes} copies of the same start state, so the evaluation "
            "measures one episode. Hint: episode i on make_env(seed + i).": [first] * n_episodes,
            "the seed argument is ignored: episode i ran on make_env(i). Small seeds are the training seeds "
            "(DQNConfig.seed = 0 trains on env seed 0), so the score would be measured on training episodes. "
            "Hint: make_env(seed + i).": list(range(n_episodes)),
            "the seeds start at seed + 1. Hint: episode i (from 0) on make_env(seed + i).": [s + 1 for s in expected],
            "all episodes ran on one environment made with make_env(seed). Hint: make a fresh make_env(seed + i) "
            "per episode, so that each episode can be replayed on its own.": [first],
            "the episodes ran in reverse order. Hint: episode i on make_env(seed + i), for i = 0, 1, ...":
                expected[::-1],
            "the seeds accumulate: `seed += i` (or seed = seed + i) in the loop changes seed itself, so episode i ran "
            "on seed + 0 + 1 + ... + i. Hint: leave seed unchanged and make episode i's environment with "
            "make_env(seed + i).": [first + i * (i + 1) // 2 for i in range(n_episodes)],
        }
        if seeds not in wrong.values() and seeds == [first + i for i in range(len(seeds))]:
            raise Mistake(f"the environments were made with seeds {seeds}: it played {len(seeds)} episodes, but "
                          f"n_episodes = {n_episodes}. Hint: loop over range(n_episodes), not a fixed count.")
        name_the_mistake(lambda value: seeds == value, wrong, f"the environments were made with seeds {seeds}; "
                         f"expected {expected}.", returned=f"the environments were made with seeds {seeds}: ")
    resets = [len(env["reset_seeds"]) for env in envs]
    expect(all(n == 1 for n in resets), f"the environments were reset {resets} times; expected once each.",
           "one env per episode: reset it once, then step until the episode ends.")
    reseeded = next((env for env in envs if env["reset_seeds"][0] not in (None, env["seed"])), None)
    expect(reseeded is None, f"the environment made with make_env({reseeded and reseeded['seed']}) was reset with "
           f"seed={reseeded and reseeded['reset_seeds'][0]!r}: the episode no longer comes from seed + i.",
           "make_env(seed + i) already seeds the env: call env.reset() without a seed.")


def greedy_return(q_net: nn.Module, seed: int) -> float:
    """The return of a greedy episode on make_env(seed) (the lower action where the Q-values tie)."""
    env = seeding.make_env(seed)
    state, _ = env.reset()
    total, done = 0.0, False
    while not done:
        state, reward, terminated, truncated, _ = env.step(min(greedy_set(q_net, state)))
        total, done = total + float(reward), terminated or truncated
    env.close()
    return total


def greedy_set(q_net: nn.Module, state) -> set:
    """The greedy action in `state`, or both actions when their Q-values tie up to float rounding."""
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(state, dtype=torch.float32))
    return greedy_of_gap(float(q_values[1] - q_values[0]))


def greedy_of_gap(gap: float) -> set:
    """The greedy actions when Q(s, 1) − Q(s, 0) = gap: both when they tie up to float rounding."""
    return {0, 1} if abs(gap) < NEAR_TIE else {int(gap > 0)}


def replayed_states(seed: int, reset_seed, actions: list) -> tuple:
    """(return, the state each action was taken in, ended) of `actions` replayed on a fresh make_env(seed)."""
    env = seeding.make_env(seed)
    state, _ = env.reset() if reset_seed is None else env.reset(seed=reset_seed)
    total, states, done = 0.0, [], False
    for action in actions:
        if done:
            break
        states.append(state)
        if action not in (0, 1):  # the env in the kernel raised on it: nothing more to replay
            break
        state, reward, terminated, truncated, _ = env.step(action)
        total, done = total + float(reward), terminated or truncated
    env.close()
    return total, states, done


def greedy_sets(q_net: nn.Module, states: list) -> list:
    """`greedy_set` of each state, from one forward pass over all of them (ties within NEAR_TIE, as there)."""
    if not states:
        return []
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(np.array(states), dtype=torch.float32))
    return [greedy_of_gap(gap) for gap in (q_values[:, 1] - q_values[:, 0]).tolist()]


def replay(q_net: nn.Module, env: dict) -> dict:
    """Replay one recorded episode on a fresh env of its seed: its return, whether it ended, the greedy actions."""
    total, states, done = replayed_states(env["seed"], env["reset_seeds"][0], env["actions"])
    return {"return": total, "done": done and len(states) == len(env["actions"]), "actions": env["actions"],
            "greedy": greedy_sets(q_net, states)}


def _other_net_actions(results) -> list | None:
    """The actions of the run with a network whose greedy action is always 0 (None if that run did not finish)."""
    if not results.has("other net") or results.raised("other net"):
        return None
    actions = results.value("other net actions")
    shaped = type(actions) is list and all(type(a) is list and all(type(x) is int for x in a) for a in actions)
    return actions if shaped else None


def _check_greedy(played: list, other_net_actions: list | None) -> None:
    """Every action must be greedy in the state it was taken in (the judge's own replay of each episode)."""
    steps = sum(len(episode["greedy"]) for episode in played)
    off = sum(a not in g for episode in played for a, g in zip(episode["actions"], episode["greedy"]))
    if not off:
        return
    first = [episode["actions"] for episode in played[:OTHER_NET_EPISODES]]
    expect(not (other_net_actions and other_net_actions == first),
           f"{off} of {steps} actions were not the greedy one of the q_net argument, and given another q_net (one "
           f"whose greedy action is always 0) your evaluation took the very same actions in its first "
           f"{OTHER_NET_EPISODES} episodes: it ignores the q_net argument and acts with another network (a notebook "
           "global such as trained_net or q_net?).",
           "use the function's own argument: greedy_action(q_net, state), q_net being the parameter.")
    stale = all(a in episode["greedy"][0] for episode in played for a in episode["actions"])
    expect(not stale, f"{off} of {steps} actions were not the greedy one in the current state: every action is the "
           "greedy one of the episode's first state, so `state` is never updated.",
           "state = next_state after every step (the first value env.step returns).")
    at_start = all(a in g for episode in played for a, g in zip(episode["actions"][1:], episode["greedy"][1:]))
    expect(not at_start, f"{off} of {steps} actions were not the greedy one, each the first action of an episode: the "
           "first action is not chosen in the state env.reset() returned.", "state, _ = env.reset(), then "
           "greedy_action(q_net, state) with that state.")
    raise Mistake(f"{off} of {steps} actions were not the greedy one: the evaluation explores (ε > 0) or samples "
                  "actions. Hint: evaluate the greedy policy: greedy_action(q_net, state) at every step, no "
                  "randomness.")


def _check_returns(returns, expected: np.ndarray, n_episodes: int) -> None:
    """A (n_episodes,) float array of undiscounted returns (CartPole pays 1 per step), in episode order."""
    if is_plain(returns, NUMBERS):
        name_the_mistake(lambda value: np.isclose(float(returns), value), {
            "it returned the mean return. Hint: return every episode's return; the mean is one line later.":
                expected.mean(),
            "it returned the total of all episodes. Hint: return one return per episode.": expected.sum(),
        }, f"evaluate_greedy returned {describe(returns)}; expected an array of {n_episodes} returns.",
            returned=f"evaluate_greedy returned one number ({float(returns):.1f}): ")
    returns = plain_array(returns, "evaluate_greedy returned", f"a NumPy array of shape ({n_episodes},)",
                          "wrap the list of returns: np.array(returns, dtype=float).")
    expect(returns.shape == (n_episodes,), f"evaluate_greedy returned shape {returns.shape}; expected "
           f"({n_episodes},), one return per episode.", "a flat array: np.array(list_of_returns, dtype=float).")
    expect(np.issubdtype(returns.dtype, np.floating), f"the returns have dtype {returns.dtype}; expected float.",
           "np.array(returns, dtype=float).")
    if not np.allclose(returns, expected):
        offset = float(returns[0] - expected[0]) if len(returns) else 0.0
        name_the_mistake(lambda value: np.allclose(returns, value), {
            "the returns are discounted. Hint: the score of an episode is the plain sum of its rewards.":
                (1 - 0.99 ** expected) / (1 - 0.99),
            "each return is one short: the last reward is missing. Hint: add the reward of every step, "
            "the one that ends the episode included.": expected - 1,
            "the returns are running totals: the return was not reset between episodes. Hint: start each "
            "episode at 0.": np.cumsum(expected),
            "the returns are in reverse episode order. Hint: returns[i] is the return of episode i.": expected[::-1],
            # CartPole pays 1 per step: a return of TIME_LIMIT is an episode truncated at the time limit
            "truncated episodes scored 0: an episode's score is its reward sum, whether it was terminated or "
            f"truncated at the {TIME_LIMIT}-step limit. Hint: add every reward to the episode's total and keep it, "
            "however the episode ended.": np.where(expected >= TIME_LIMIT, 0.0, expected),
            f"every return is off by {offset:+g}: the accumulator does not start at 0 (np.empty leaves whatever was "
            "in memory; a total kept from elsewhere). Hint: start each episode's total at 0: np.zeros(n_episodes), "
            "or total = 0.0 before each episode.": expected + offset,
        }, f"evaluate_greedy returned {returns.tolist()}; the episodes' rewards add up to {expected.tolist()}. Hint: "
           "returns[i] is the sum of every reward of episode i: start it at 0 and add (+=) each step's reward.",
            returned=f"evaluate_greedy returned {returns.tolist()}, expected {expected.tolist()}: ")


check_evaluate_greedy = Check("6.1", "evaluate_greedy", evaluation_inputs, probe_evaluation, judge_evaluation,
                              references=("utils.evaluation.evaluate", "utils.evaluation.greedy_returns",
                                          "utils.evaluation.stepped_greedy_returns",
                                          "utils.cartpole_physics.cartpole_greedy_returns"))


# --- 6.2 the solved verdict ------------------------------------------------------------

def verdict_cases() -> np.ndarray:
    """Six runs of 100 episodes on which the mean and most slips (median, minimum, maximum, sum, first 10, > and
    v0's 195, the sums divided by the number of runs) give different verdicts. Six runs cannot tell every slip
    apart: the last 10 episodes, mean − std and a rounded mean are told apart on the second set, whose runs
    separate them all (see judge_verdicts)."""
    return np.array([
        [500.0] * 4 + [490.0] * 44 + [480.0] + [460.0] * 51,  # mean exactly 475 (solved: ≥, not >), median 460
        [500.0] * 60 + [400.0] * 40,     # mean 460, median 500: not solved
        [100.0] * 100,                   # mean 100: solved only if the sums are divided by the number of runs
        [100.0] * 5 + [500.0] * 95,      # mean 480, minimum and first 10 low: solved
        [9.0] * 97 + [500.0] * 3,        # a random-looking policy, lucky 3 times: mean 23.73, maximum 500
        [476.0] * 10 + [500.0] * 90,     # every episode above 475: solved
    ])


def verdict_inputs(rng) -> dict:
    """The notebook's six runs of 100 episodes, or fresh runs; then runs of another length (50 to 90 episodes).

    With 100 episodes a row's sum compared with 100 × threshold is the mean criterion: the second
    set tells them apart. On each set every slip gives other verdicts.
    """
    first = verdict_cases() if rng is None else _separating_runs(rng)
    return {"returns": first, "other": _separating_runs(np.random.default_rng(60) if rng is None else rng)}


def _separating_runs(rng) -> np.ndarray:
    """Fresh runs on which the mean and every slip give different verdicts."""
    for _ in range(1000):  # a few draws at most
        returns = _fresh_runs(rng)
        verdicts = [tuple(v) for v in (returns.mean(axis=1) >= REWARD_THRESHOLD, *verdict_slips(returns).values())]
        if len(set(verdicts)) == len(verdicts):
            break
    return returns


def _fresh_runs(rng) -> np.ndarray:
    """Whole-number runs of the kinds verdict_cases has and more (another length, under 100), in a random order."""
    episodes = int(rng.integers(50, 91))
    first = np.arange(episodes)
    noise = rng.integers(-20, 21, size=episodes // 2).astype(float)
    lucky = rng.random(episodes) < 0.2
    runs = [
        np.full(episodes, 475.0) + np.concatenate([noise, -noise, np.zeros(episodes % 2)]),  # mean exactly 475
        np.where(first < 0.6 * episodes, 500.0, float(rng.integers(380, 420))),  # median 500, mean < 475
        rng.integers(200, 460, size=episodes).astype(float),  # solved only by v0's 195
        np.where(first < episodes - 2, 500.0, float(rng.integers(150, 250))),  # mean >= 475, a low minimum
        rng.integers(8, 40, size=episodes).astype(float),  # a random-looking policy
        np.where(lucky, 500.0, rng.integers(8, 40, size=episodes)),  # random-looking, lucky now and then
        np.where(first < 10, float(rng.integers(380, 440)), 500.0),  # first 10 low, solved
        rng.integers(100, 501, size=episodes).astype(float),  # anything
        np.full(episodes, 500.0),  # perfect
        rng.integers(476, 501, size=episodes).astype(float),  # every episode above the threshold
        # mean within 0.5 below the threshold (474.5 <= mean < 475): solved only if the mean is rounded
        np.full(episodes, 475.0) - (first < int(rng.integers(1, (episodes + 1) // 2))),
        np.full(episodes, 475.0) - (first < 1),  # mean 475 - 1/episodes: solved only if rounded to one decimal
        np.where(first >= episodes - 10, float(rng.integers(380, 440)), 500.0),  # last 10 low, solved
        np.where(first == int(rng.integers(0, episodes)), float(rng.integers(440, 470)), 500.0),  # one a little low
    ]
    return np.stack([runs[i] for i in rng.permutation(len(runs))])


def verdict_slips(returns: np.ndarray) -> dict:
    """What each typical slip returns on `returns`, keyed by its message."""
    means = returns.mean(axis=1)
    runs, episodes = returns.shape
    return {
        "it uses 195, CartPole-v0's threshold. CartPole-v1 has 500-step episodes and registers "
        f"reward_threshold = {REWARD_THRESHOLD:g}. Hint: use REWARD_THRESHOLD.": means >= 195,
        f"it uses > instead of >=: a mean of exactly {REWARD_THRESHOLD:g} counts as solved. Hint: >=.":
            means > REWARD_THRESHOLD,
        "it compares the median, not the mean. Hint: the criterion is the mean return over the episodes.":
            np.median(returns, axis=1) >= REWARD_THRESHOLD,
        "it averages only the first 10 episodes of each run. Hint: the criterion is the mean over all the "
        "episodes of a run: returns.mean(axis=1).": returns[:, :10].mean(axis=1) >= REWARD_THRESHOLD,
        "it averages only the last 10 episodes of each run (a training curve's habit). Hint: the criterion is the "
        "mean over all the episodes of a run: returns.mean(axis=1).": returns[:, -10:].mean(axis=1) >= REWARD_THRESHOLD,
        "it requires every episode to reach the threshold (the minimum), not the mean. Hint: the criterion "
        "is the mean return.": returns.min(axis=1) >= REWARD_THRESHOLD,
        "it asks the mean minus a standard deviation (a lower confidence bound) to reach the threshold. Hint: the "
        "criterion is the mean itself: returns.mean(axis=1) >= threshold.":
            means - returns.std(axis=1) >= REWARD_THRESHOLD,
        "it rounds the mean before comparing: a mean of 474.5 or more counts as 475. Hint: compare the mean "
        "itself, unrounded: returns.mean(axis=1) >= threshold.": np.round(means) >= REWARD_THRESHOLD,
        "it rounds the mean to one decimal before comparing: a mean of 474.95 or more counts as 475.0. Hint: compare "
        "the mean itself, unrounded: returns.mean(axis=1) >= threshold.": np.round(means, 1) >= REWARD_THRESHOLD,
        "it compares the sum of the returns with the threshold. Hint: the mean, returns.mean(axis=1).":
            returns.sum(axis=1) >= REWARD_THRESHOLD,
        "the verdicts are inverted. Hint: solved means mean >= threshold.": means < REWARD_THRESHOLD,
        "it uses 500, the largest possible return, as the threshold. Hint: solved means a mean of at least "
        f"REWARD_THRESHOLD = {REWARD_THRESHOLD:g}.": means >= 500,
        "it counts a run as solved when any one episode reaches the threshold (the maximum). Hint: the criterion "
        "is the mean return.": returns.max(axis=1) >= REWARD_THRESHOLD,
        f"the sums are divided by the number of runs ({runs}), not of episodes ({episodes}). Hint: "
        "returns.mean(axis=1) divides each row's sum by its length.": returns.sum(axis=1) / runs >= REWARD_THRESHOLD,
        f"the sums are compared with 100 × the threshold, which is the mean criterion only for runs of 100 "
        f"episodes; these have {episodes}. Hint: returns.mean(axis=1) >= threshold, whatever the length.":
            returns.sum(axis=1) / 100 >= REWARD_THRESHOLD,
    }


VERDICT_SETS = ("returns", "other")
"""The two sets of runs the check asks about, in order."""


def probe_verdicts(rec, inputs: dict, solved_runs) -> None:
    """Call the student's function on a copy of each set of runs; record its answer and the copy afterwards."""
    for name in VERDICT_SETS:
        given = inputs[name].copy()
        rec.call(f"{name} verdicts", solved_runs, given)
        rec.note(f"{name} after", given)


def judge_verdicts(results, inputs: dict) -> None:
    """Compare the verdicts on designed runs (100 episodes each, then another length) with mean ≥ 475 per run."""
    for name in VERDICT_SETS:
        _judge_verdict_set(results, name, inputs[name], _slips_seen_elsewhere(results, name, inputs))


def _slips_seen_elsewhere(results, name: str, inputs: dict) -> list:
    """For each slip, in verdict_slips' order: do the verdicts on the other sets of runs agree with it (True when a
    set's verdicts cannot be read)? A slip that gives the notebook's six runs another slip's verdicts is told apart
    on the other set."""
    seen = [True] * len(verdict_slips(inputs[name]))
    for other in VERDICT_SETS:
        entry = results.entries.get(f"{other} verdicts")
        if other == name or type(entry) is not dict or "raised" in entry:
            continue
        try:
            got = results.value(f"{other} verdicts")
        except Mistake:
            continue
        if type(got) is np.ndarray and got.dtype == bool and got.shape == (len(inputs[other]),):
            slips = verdict_slips(inputs[other]).values()
            seen = [agreed and np.array_equal(got, slip) for agreed, slip in zip(seen, slips)]
    return seen


def _judge_verdict_set(results, name: str, returns: np.ndarray, seen_elsewhere: list) -> None:
    """The verdicts on one set of runs; a slip is named by the first whose verdicts `seen_elsewhere` too."""
    got = results.value(f"{name} verdicts")
    expect(np.array_equal(results.value(f"{name} after"), returns), "solved_runs changed the returns it was given.",
           "only read them.")
    expected = returns.mean(axis=1) >= REWARD_THRESHOLD
    runs = len(returns)
    if is_plain(got, (bool, np.bool_)):
        raise Mistake(f"solved_runs returned one verdict ({got}) for {runs} runs; expected an array of {runs} "
                      "booleans. Hint: average each row (axis=1), then compare.")
    got = plain_array(got, "solved_runs returned", f"a NumPy array of {runs} booleans",
                      "compare a NumPy array with the threshold: the result is a bool array.")
    if got.shape == (returns.shape[1],):
        raise Mistake(f"solved_runs returned shape {got.shape}, one verdict per episode: the mean was taken over "
                      "runs (axis=0). Hint: each row is one run; average over its episodes, axis=1.")
    expect(got.shape == expected.shape, f"solved_runs returned shape {got.shape}; expected {expected.shape}, one "
           "verdict per run.", "returns.mean(axis=1) >= threshold.")
    expect(got.dtype == bool, f"solved_runs returned dtype {got.dtype}; expected bool.",
           "return the comparison itself (mean >= threshold), not the means.")
    if not np.array_equal(got, expected):
        means = np.round(returns.mean(axis=1), 2).tolist()
        runs = f"{len(returns)} runs of {returns.shape[1]} episodes with means {means}"
        slips = verdict_slips(returns)
        slips = {message: value for (message, value), seen in zip(slips.items(), seen_elsewhere) if seen} | slips
        name_the_mistake(lambda value: np.array_equal(got, value), slips,
                         f"solved_runs returned {got.tolist()} for {runs}; expected {expected.tolist()}. Hint: a run "
                         "is solved when the mean of all its episodes' returns reaches the threshold: "
                         "returns.mean(axis=1) >= REWARD_THRESHOLD.",
                         returned=f"solved_runs returned {got.tolist()} for {runs}, expected {expected.tolist()}: ")


check_solved_runs = Check("6.2", "solved_runs", verdict_inputs, probe_verdicts, judge_verdicts,
                          references=("utils.evaluation.is_solved",))
