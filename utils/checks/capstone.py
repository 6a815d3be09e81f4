"""Checks for notebook 8: a task whose reward is negative per step, and Stable-Baselines3 behind the course's evaluate.

Each check is a probe, which calls the student's code on the check's inputs and records what came
back, and a judge, which compares the record with references it computes itself (see
utils.checks.protocol). `inputs(None)` gives the notebook's fixed inputs; `inputs(rng)` draws fresh
ones for a grading run: other seeds, tasks, thresholds, grids and network weights.
"""
import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks.core import (Mistake, describe, expect, is_plain, name_the_mistake, plain_number, plain_tensor,
                               separated)
from utils.checks.protocol import Check, crash_text
from utils.checks.wire import Opaque
from utils.dqn import CountBonus, DQNConfig

ACROBOT = "Acrobot-v1"
CARTPOLE = "CartPole-v1"
MOUNTAIN_CAR = "MountainCar-v0"
BUDGET = 150_000
"""The most environment steps exercise 8.1 may give Acrobot (a few minutes on a laptop)."""
# Tasks whose registered threshold a verdict is asked about, all of them classic control (gym.make builds them):
# CartPole-v1, a positive threshold other than 475, and the two negative ones.
OTHER_POSITIVE_TASKS = ("CartPole-v0", "MountainCarContinuous-v0")
NEGATIVE_TASKS = (ACROBOT, MOUNTAIN_CAR)
EPISODES = 100


def _threshold(env_id: str) -> float:
    """The mean return at which gymnasium counts `env_id` as solved."""
    return float(gym.spec(env_id).reward_threshold)


# --- 8.1 a reward that is negative per step --------------------------------------------------

CONFIG_FIELDS = (("seed", (int,)), ("env_id", (str,)), ("max_env_steps", (int,)),
                 ("stop_return", (int, float, type(None))))
FIELD_KINDS = {"seed": "int", "env_id": "str", "max_env_steps": "int", "stop_return": "number or None"}
"""What each field compared must be, as a message says it."""


def task_inputs(rng) -> dict:
    """A seed for acrobot_config, and returns of several tasks to give solved a verdict on."""
    if rng is None:
        cases = [[[500.0] * EPISODES, CARTPOLE], [[474.0] * EPISODES, CARTPOLE], [[-90.0] * EPISODES, ACROBOT],
                 [[-100.0] * EPISODES, ACROBOT],  # at the threshold: solved (≥)
                 [[-130.0] * EPISODES, ACROBOT],
                 [[-80.0] * 60 + [-140.0] * 40, ACROBOT],  # mean -104, median -80
                 [[-80.0] * 50 + [-110.0] * 50, ACROBOT],  # mean -95, some episodes below the threshold
                 [[-80.0] * 10 + [-140.0] * 90, ACROBOT],  # mean -134, median -140, best episode -80
                 [[-140.0] * 60 + [-80.0] * 40, ACROBOT],  # mean -116, the last episodes -80
                 [[-111.0] * 40 + [-110.0] * 60, MOUNTAIN_CAR],  # mean -110.4: solved only if the mean is rounded
                 [[-105.0] * EPISODES, MOUNTAIN_CAR], [[-115.0] * EPISODES, MOUNTAIN_CAR],
                 [[300.0] * EPISODES, "CartPole-v0"]]  # solved at 195
        return {"seed": 3, "cases": cases}
    tasks = [CARTPOLE, str(rng.choice(OTHER_POSITIVE_TASKS)), *NEGATIVE_TASKS]
    cases = [case for env_id in tasks for case in _verdict_cases(rng, env_id)]
    order = rng.permutation(len(cases))
    return {"seed": int(rng.integers(0, 10_000)), "cases": [cases[i] for i in order]}


def _verdict_cases(rng, env_id: str) -> list:
    """Returns above, at and below `env_id`'s threshold, and ones whose median, worst or best episode mislead."""
    threshold = _threshold(env_id)
    up, down = int(rng.integers(2, 20)), int(rng.integers(2, 20))
    spread = int(rng.integers(25, 40))
    high, low = threshold + spread, threshold - spread - int(rng.integers(1, 10))
    # 60 episodes above and 40 far below: the median is above the threshold, the mean below it.
    median_trap = [high] * 60 + [threshold - 2 * spread] * 40
    # half above and half a little below: the mean is above, the worst episode below.
    worst_trap = [threshold + spread] * 50 + [threshold - spread + up] * 50
    # a few episodes above and most far below: the best episode is above the threshold, mean and median below.
    best_trap = [threshold + spread] * 10 + [threshold - 2 * spread] * 90
    # the best episodes last: the last ten are above the threshold, the mean below it.
    late_trap = [threshold - 2 * spread] * 60 + [threshold + spread] * 40
    # a mean less than 0.5 below the threshold (whole-number returns, as a task's are): rounded, it reaches it.
    short = int(rng.integers(1, 50))
    rounding_trap = [threshold - 1] * short + [threshold] * (EPISODES - short)
    return [[[float(r) for r in returns], env_id] for returns in
            ([threshold + up] * EPISODES, [threshold - down] * EPISODES, [threshold] * EPISODES, median_trap,
             worst_trap, best_trap, [float(low)] * EPISODES, late_trap, rounding_trap)]


def probe_task(rec, inputs: dict, acrobot_config, solved) -> None:
    """Call acrobot_config(seed) and read its fields; call solved on every case."""
    config = rec.call("config", acrobot_config, inputs["seed"])
    if type(config) is DQNConfig:
        rec.call("fields", lambda: {name: getattr(config, name) for name, _ in CONFIG_FIELDS})
    for index, (returns, env_id) in enumerate(inputs["cases"]):
        rec.call(f"solved {index}", solved, np.array(returns), env_id, expect_error=True)


def judge_task(results, inputs: dict) -> None:
    """The config must target Acrobot and stop at its threshold; the verdict must work for any task."""
    _judge_config(results, inputs["seed"])
    _judge_solved(results, inputs["cases"])


def _judge_config(results, seed: int) -> None:
    """acrobot_config(seed): a DQNConfig for Acrobot-v1 with that seed, stopping at -100, within the budget."""
    call = f"acrobot_config({seed})"
    config = results.value("config")
    expect(type(config) is Opaque and config.type_name == "utils.dqn.DQNConfig", f"{call} returned "
           f"{describe(config)}; expected a DQNConfig.", "return DQNConfig(seed=seed, env_id=\"Acrobot-v1\", ...).")
    fields = results.value("fields")
    # A dataclass takes any object in any field: those compared below must be plain values first.
    odd = next((name for name, types in CONFIG_FIELDS if type(fields.get(name)) not in types), None)
    expect(odd is None, f"{call} gave {odd}={describe(fields.get(odd or 'seed'))}; expected a plain "
           f"{FIELD_KINDS.get(odd or 'seed')}" + (": seed must be an int" if odd == "seed" else "") +
           ", as DQNConfig's default is.",
           "pass the seed on as it was given: DQNConfig(seed=seed, ...)." if odd == "seed" else
           "pass plain values: DQNConfig(seed=seed, ...).")
    expect(fields["seed"] == seed, f"{call} gave seed={fields['seed']}.",
           "pass the seed on: DQNConfig(seed=seed, ...).")
    expect(fields["env_id"] == ACROBOT, f"{call} trains on {fields['env_id']!r}.", f"env_id=\"{ACROBOT}\".")
    threshold, stop = _threshold(ACROBOT), fields["stop_return"]
    if stop != threshold:
        name_the_mistake(lambda value: stop == value, {
            "stop_return is still CartPole's 500: Acrobot's returns are never above 0, so the greedy checks would "
            "never stop training. Hint: stop at Acrobot's registered threshold, gym.spec(\"Acrobot-v1\")."
            "reward_threshold.": 500.0,
            "stop_return is CartPole's threshold, 475: Acrobot's returns are never above 0, so the greedy checks "
            "would never stop training. Hint: gym.spec(\"Acrobot-v1\").reward_threshold.": _threshold(CARTPOLE),
            "stop_return is +100: Acrobot's returns are minus the number of steps, never positive. Hint: its "
            "threshold is -100 (a swing-up in 100 steps on average).": -threshold,
            "stop_return is None: no greedy check can ever stop training, so every run takes the whole budget. "
            "Hint: stop at the task's threshold, -100.": None,
        }, f"stop_return is {stop!r}; expected Acrobot's threshold {threshold}. Hint: "
           "gym.spec(\"Acrobot-v1\").reward_threshold.")
    steps, recipe = fields["max_env_steps"], DQNConfig.max_env_steps
    expect(steps <= BUDGET, f"max_env_steps is {steps:,}, more than the {BUDGET:,} this exercise allows.",
           f"Acrobot is solved well within {recipe:,} steps.")
    expect(steps != gym.spec(ACROBOT).max_episode_steps, f"max_env_steps is {steps:,}, Acrobot's time limit per "
           "episode (max_episode_steps), not the training budget: training would end after one episode, before "
           "learning starts.", f"keep the recipe's budget, DQNConfig's default {recipe:,} (leave max_env_steps out).")
    expect(steps >= recipe, f"max_env_steps is {steps:,}, less than the recipe's budget of {recipe:,}.",
           f"keep the recipe's budget, DQNConfig's default {recipe:,} (leave max_env_steps out).")


def _wrong_rules() -> dict:
    """The usual wrong verdicts, as rules of (returns, threshold, env_id), keyed by the message (after 'it ')."""
    return {
        "looks as if the threshold is CartPole's 475 for every task. Hint: read the task's own threshold, "
        "gym.spec(env_id).reward_threshold (-100 for Acrobot).": lambda r, t, e: r.mean() >= 475,
        "looks as if the thresholds are written in for CartPole (475) and Acrobot (-100) only, so any other task is "
        "judged by CartPole's. Hint: read every task's own threshold, gym.spec(env_id).reward_threshold.":
            lambda r, t, e: r.mean() >= (-100 if e.startswith("Acrobot") else 475),
        "looks as if the threshold's sign is dropped (abs(threshold)): Acrobot's -100 became 100, which no return "
        "reaches. Hint: compare with the threshold itself, signs kept.": lambda r, t, e: r.mean() >= abs(t),
        # abs(mean) >= abs(threshold) gives the same verdicts as the reversed inequality on negative returns.
        "looks as if, for negative returns, the comparison is reversed (or compares sizes, with abs): there too a "
        "higher return, closer to 0 (fewer steps), is better, so -90 beats -130 in Acrobot. Hint: solved when mean >= "
        "threshold, signs kept.": lambda r, t, e: r.mean() >= t if t > 0 else r.mean() <= t,
        "looks as if the comparison is reversed (mean <= threshold): a higher return is better for every task, also "
        "when the returns are negative: -90 beats -130 in Acrobot, 500 beats 474 in CartPole. Hint: solved when mean "
        ">= threshold.": lambda r, t, e: r.mean() <= t,
        "looks as if it compares sizes (abs(mean) <= abs(threshold), closer to 0 counted as better): that reverses the "
        "verdict for positive thresholds, so CartPole's 500 counts as unsolved. Hint: mean >= threshold, signs kept, "
        "for every task.": lambda r, t, e: abs(r.mean()) <= abs(t),
        "does not count a mean exactly at the threshold as solved. Hint: use >=, not >.": lambda r, t, e: r.mean() > t,
        "uses the median, not the mean. Hint: np.mean(returns) >= threshold.": lambda r, t, e: np.median(r) >= t,
        "judges by the best episode (max), not the mean. Hint: np.mean(returns) >= threshold.":
            lambda r, t, e: r.max() >= t,
        "asks every episode to reach the threshold; the criterion is the mean. Hint: np.mean(returns) >= "
        "threshold.": lambda r, t, e: r.min() >= t,
        "judges the last episodes only (returns[-10:], a training curve's habit); the criterion is the mean over "
        "every episode given. Hint: np.mean(returns) >= threshold.": lambda r, t, e: r[-10:].mean() >= t,
        "rounds the mean before comparing: a mean a little below the threshold (such as -110.4 for MountainCar's "
        "-110) counts as reaching it. Hint: compare the mean itself, unrounded: np.mean(returns) >= threshold.":
            lambda r, t, e: round(float(r.mean())) >= t,
    }


def _judge_solved(results, cases: list) -> None:
    """solved(returns, env_id): the mean return reaches the env's registered threshold, for any task."""
    got = [_verdict(results, index, env_id) for index, (_, env_id) in enumerate(cases)]
    arrays = [(np.array(returns), env_id) for returns, env_id in cases]
    expected = [bool(r.mean() >= _threshold(e)) for r, e in arrays]
    if got == expected:
        return
    wrong = [f"{env_id} mean {returns.mean():g} (threshold {_threshold(env_id):g}): {verdict}"
             for (returns, env_id), verdict, right in zip(arrays, got, expected) if verdict != right]
    shown = f"solved gave {len(wrong)} of {len(got)} verdicts wrong: " + "; ".join(wrong[:3]) + (
        f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
    name_the_mistake(lambda value: got == value,
                     {message: [bool(rule(r, _threshold(e), e)) for r, e in arrays]
                      for message, rule in _wrong_rules().items()},
                     f"{shown}{_one_threshold(got, arrays)}. Hint: np.mean(returns) >= "
                     "gym.spec(env_id).reward_threshold.", returned=f"{shown}; it ")


def _one_threshold(got: list, arrays: list) -> str:
    """'; its verdicts follow one threshold for every task ...' if one constant explains them all, else ''."""
    means = np.array([returns.mean() for returns, _ in arrays])
    verdicts = np.array(got)
    if verdicts.all() or not verdicts.any() or means[~verdicts].max() >= means[verdicts].min():
        return ""
    low, high = means[~verdicts].max(), means[verdicts].min()
    known = sorted({f"{e}'s {_threshold(e):g}" for _, e in arrays if low < _threshold(e) <= high})
    return (f"; its verdicts follow one threshold for every task, above {low:g} and at most {high:g}"
            + (f" ({' or '.join(known)}, written in?)" if known else "") + ", but each task has its own")


def _verdict(results, index: int, env_id: str) -> bool:
    """The student's verdict on one case, which must be a bool."""
    error = results.raised(f"solved {index}")
    if error and error.get("type") == "KeyError":
        raise Mistake(f"solved(returns, {env_id!r}) raised {crash_text(error)}: it knows the thresholds of some tasks "
                      "only. Hint: read the task's own threshold, gym.spec(env_id).reward_threshold.")
    verdict = results.value(f"solved {index}")
    expect(type(verdict) in (bool, np.bool_), f"solved(returns, {env_id!r}) returned {describe(verdict)}; "
           "expected True or False.", "return the comparison itself: bool(np.mean(returns) >= threshold).")
    return bool(verdict)


check_negative_reward_task = Check("8.1", "acrobot_config / solved", task_inputs, probe_task, judge_task,
                                   references=("utils.tasks.task_config", "utils.tasks.TASK_CONFIGS",
                                               "utils.evaluation.is_solved"))


# --- 8.2 a count-based exploration bonus -------------------------------------------------

# Grids a student may write in instead of the bins argument (the course's DQNConfig.count_bins is 20).
WRITTEN_IN_BINS = (4, 5, 8, 10, 20)
BONUS_LOW, BONUS_HIGH, BONUS_BINS, BONUS_BETA = np.array([-1.2, -0.07]), np.array([0.6, 0.07]), 4, 0.5
"""MountainCar's observation bounds, a coarse 4 x 4 grid and β: every cell index is easy to follow."""
OTHER_BOUNDS = {"low": [-2.0, -1.0], "high": [2.0, 1.0], "states": [[-1.9, -0.9], [-1.5, -0.2], [-1.3, -0.5]]}
"""After the notebook's MountainCar walk, a walk in other bounds: cells (0, 0), (0, 1), (0, 1) there, but all
(0, 0) in MountainCar's bounds, so bounds read from an env rather than the arguments show."""
GRADED_BETAS = (0.1, 0.2, 0.25, 0.5)
"""The β of grading runs: never 1, where β/√N, 1/√N and √(β/N) are one and the same."""


def bonus_states() -> list:
    """A walk of MountainCar states that revisits cells, crosses cell boundaries and reaches the upper bounds.

    [-0.7, 0] shares [-0.5, 0]'s cell when indices are floored but not when they are rounded; the last
    two states tell every usual mistake from every other (written-in grids of 5 to 20 bins included).
    """
    return [[-0.5, 0.0], [-0.49, 0.001], [-0.5, 0.0], [-0.7, 0.0], [-0.74, -0.02], [-0.75, -0.02], [0.2, 0.05],
            [0.6, 0.07], [0.59, 0.069], [-0.5, 0.0], [-0.8, -0.015], [-0.95, -0.015]]


def bonus_inputs(rng) -> dict:
    """Bounds, a grid, β and a walk of states that revisits cells, crosses boundaries and reaches the upper bound."""
    if rng is None:
        return {"low": BONUS_LOW.tolist(), "high": BONUS_HIGH.tolist(), "bins": BONUS_BINS, "beta": BONUS_BETA,
                "states": bonus_states(), "other": OTHER_BOUNDS}
    for _ in range(1000):  # a few draws at most
        dims, bins = int(rng.integers(2, 4)), int(rng.integers(3, 7))
        low = np.round(rng.uniform(-2, 0, dims), 2)
        high = low + np.round(rng.uniform(0.5, 3, dims), 2)
        inputs = {"low": low.tolist(), "high": high.tolist(), "bins": bins,
                  "beta": float(rng.choice(GRADED_BETAS)), "states": _walk(rng, low, high, bins)}
        right = _reference_bonuses(inputs)
        if _bonuses_apart(right, _bonus_slips(inputs).values()):
            return inputs
    return inputs


def _walk(rng, low: np.ndarray, high: np.ndarray, bins: int) -> list:
    """About a dozen states in a few cells, each visited more than once, with the upper bound among them."""
    size = (high - low) / bins
    cells = rng.integers(0, bins, size=(4, len(low)))
    visits = [cells[i] for i in rng.choice(4, size=9)] + [cells[0], np.full(len(low), bins - 1)]
    states = [np.round(low + (cell + rng.uniform(0.05, 0.95, len(low))) * size, 4) for cell in visits]
    states.insert(int(rng.integers(1, len(states))), high.copy())  # on the upper bound: the last cell
    # The lower corner of a visited cell, on an inner boundary in each coordinate where it has one: floor puts it
    # in that cell, ceil − 1 in the one below (bonus_inputs redraws until the two give other bonuses).
    corner = next((cell for cell in cells if cell.any()), None)
    if corner is not None:
        boundary = np.round(low + (corner + rng.uniform(0.05, 0.95, len(low))) * size, 4)
        for i in np.flatnonzero(corner):
            boundary[i] = _on_boundary(float(low[i]), float(high[i]), bins, int(corner[i]), float(boundary[i]))
        states.insert(int(rng.integers(1, len(states))), boundary)
    return [state.tolist() for state in states]


def _on_boundary(low: float, high: float, bins: int, k: int, otherwise: float) -> float:
    """A float on the k-th inner boundary of [low, high] cut into `bins` cells, as every usual way of computing the
    index puts it (exactly k: floor, //, (state − low) / (high − low) * bins, np.digitize on np.linspace's edges),
    or `otherwise` when no float near low + k · size is."""
    size, edges = (high - low) / bins, np.linspace(low, high, bins + 1)
    start = low + k * size
    for b in sorted({start, float(edges[k]), *np.nextafter(start, [-np.inf, np.inf])}):
        quotients = ((b - low) / size, (b - low) / (high - low) * bins, (b - low) * bins / (high - low),
                     (b - low) // size, float(np.floor_divide(np.float64(b - low), size)))
        if all(q == k for q in quotients) and int(np.digitize(b, edges[1:-1])) == k:
            return b
    return otherwise


NEVER_FADES = "the bonus never fades"
KEYED_BY_STATE = ("the counts are keyed by the state itself, not by its grid cell: every new state counts as unseen. "
                  "Hint: key = tuple of the cell indices, floor((state - low) / cell_size).")


def _bonuses_apart(right: list, slips) -> bool:
    """Does every usual mistake's list of bonuses differ clearly from the right one (and not barely from another)?"""
    candidates = [candidate for group in slips for candidate in group]
    return all(np.max(np.abs(np.subtract(candidate, right))) > 1e-3 for candidate in candidates) \
        and separated([right, *candidates], same_ok=True)


def _reference_bonuses(inputs: dict) -> list:
    """The bonuses the course's CountBonus gives along the walk."""
    reference = CountBonus(inputs["low"], inputs["high"], inputs["bins"], inputs["beta"])
    return [float(reference(np.array(state))) for state in inputs["states"]]


def _bonuses_by(inputs: dict, to_index=np.floor, clip: bool = True, cells=None, key=None, bonus=None,
                by_cells: bool = False, from_low: bool = True, last=None, divide=np.true_divide, span=None) -> list:
    """The bonuses along the walk if each part were done as the keywords say (their defaults: the right way).

    `to_index` turns `divide`(state − low, cell size) into indices (state, not state − low, unless `from_low`); `clip`
    clips them to 0 .. `last` (bins − 1); the cell size is `span`(low, high) (high − low) over `cells` (`bins`);
    `key(state, index)` is the counts' key (the indices); `bonus(beta, count)` the bonus (β/√N); `by_cells` counts
    the cells seen instead of the cell's visits.
    """
    low, high, bins, beta = (np.array(inputs["low"]), np.array(inputs["high"]), inputs["bins"], inputs["beta"])
    counts, bonuses = {}, []
    for state in map(np.array, inputs["states"]):
        with np.errstate(divide="ignore", invalid="ignore"):  # a slip's grid may have cells of width 0 (high = 0)
            width = (high - low if span is None else span(low, high)) / (cells or bins)
            index = to_index(divide(state - (low if from_low else 0), width))
            index = np.clip(index, 0, bins - 1 if last is None else last) if clip else index
            cell = key(state, index) if key else tuple(index.astype(int).tolist())
        counts[cell] = counts.get(cell, 0) + 1
        count = len(counts) if by_cells else counts[cell]
        bonuses.append((bonus or (lambda b, n: b / np.sqrt(n)))(beta, count))
    return bonuses


def _bonus_slips(inputs: dict) -> dict:
    """For each usual mistake, the lists of bonuses it can give along the walk, keyed by the message."""
    beta, bins = inputs["beta"], inputs["bins"]
    cell = " Hint: cell = floor((state - low) / ((high - low) / bins)) per coordinate, clipped to 0 .. bins - 1."
    return {
        "the bonus is β/N, not β/√N: it fades too fast. Hint: beta / np.sqrt(count).":
            [_bonuses_by(inputs, bonus=lambda b, count: b / count)],
        "the bonus grows with the count (β·√N): it must fade as the cell becomes familiar. Hint: beta / "
        "np.sqrt(count).": [_bonuses_by(inputs, bonus=lambda b, count: b * np.sqrt(count))],
        "the bonus is 1/√N: β is missing. Hint: the bonus is β/√N, beta / np.sqrt(count), so that beta sets its "
        "size.": [_bonuses_by(inputs, bonus=lambda b, count: 1 / np.sqrt(count))],
        "the bonus is √(β/N): β is inside the root. Hint: the bonus is β/√N, beta / np.sqrt(count), the root of "
        "the count only.": [_bonuses_by(inputs, bonus=lambda b, count: np.sqrt(b / count))],
        "the bonus is β/√(N + 1), with N already counting this visit. Hint: beta / np.sqrt(count) after "
        "counts[cell] += 1.": [_bonuses_by(inputs, bonus=lambda b, count: b / np.sqrt(count + 1))],
        "N is the number of cells seen so far (len(counts)), not the visits to this state's cell. Hint: "
        "beta / np.sqrt(counts[cell]).": [_bonuses_by(inputs, bonus=None, by_cells=True)],
        NEVER_FADES + ": the counts dict it is given is not updated (a copy of it, or a dict of its own, may be). "
        "Hint: update the dict passed in, in place: counts[cell] = counts.get(cell, 0) + 1.":
            [[beta] * len(inputs["states"])],
        "the cell indices are rounded, not floored: a cell is [low + k * size, low + (k + 1) * size). Hint: "
        "np.floor((state - low) / cell_size), clipped to 0 .. bins - 1.":
            [_bonuses_by(inputs, np.round, clip) for clip in (False, True)],
        "a state on a cell's lower boundary is put in the cell below (ceil(x) − 1 as the index): a cell is "
        "[low + k * size, low + (k + 1) * size), its lower boundary included. Hint: np.floor((state - low) / "
        "cell_size), clipped to 0 .. bins - 1.": [_bonuses_by(inputs, lambda x: np.ceil(x) - 1)],
        "a state on the upper bound falls outside the grid: clip the cell indices to 0 .. bins - 1. Hint: "
        "np.clip(np.floor((state - low) / cell_size), 0, bins - 1).": [_bonuses_by(inputs, clip=False)],
        "the cell size is (high − low) · bins; it is (high − low) / bins." + cell:
            [_bonuses_by(inputs, cells=1 / bins)],
        "the cells are (high − low) / (bins − 1) wide: the grid has bins cells per coordinate, so (high − low) / "
        "bins." + cell: [_bonuses_by(inputs, cells=bins - 1)],
        "the bonus uses the count from before this visit (β/√(N − 1), β on a first visit): N must include this "
        "visit. Hint: counts[cell] = counts.get(cell, 0) + 1 first, then return beta / np.sqrt(counts[cell]).":
            [_bonuses_by(inputs, bonus=lambda b, count: b / np.sqrt(max(count - 1, 1)))],
        "the cell is floor(state / cell size): low is not subtracted, so the grid starts at 0 instead of at the "
        "lower bound. Hint: np.floor((state - low) / cell_size).":
            [_bonuses_by(inputs, from_low=False, clip=clip) for clip in (True, False)],
        "low is left out twice: the cell size is high / bins and the cell floor(state / cell size), so the grid "
        "starts at 0 and its cells have the wrong width. Hint: cell size (high − low) / bins, then "
        "np.floor((state − low) / cell_size).":
            [_bonuses_by(inputs, from_low=False, span=lambda low, high: high, clip=clip) for clip in (True, False)],
        **{f"the grid has {fixed} cells per coordinate whatever bins is (here {bins}): the number of bins is written "
           "in. Hint: use the bins argument: cell size (high − low) / bins, indices clipped to 0 .. bins − 1.":
           # floor(x / size) and x // size part ways on a cell boundary: either way of flooring is right
           [_bonuses_by(inputs, cells=fixed, last=last, divide=divide) for last in (fixed - 1, bins - 1)
            for divide in (np.true_divide, np.floor_divide)]
           for fixed in WRITTEN_IN_BINS if fixed != bins},
        "the cell is found from the first coordinate only; every coordinate has its index." + cell:
            [_bonuses_by(inputs, key=lambda state, index: int(index[0]))],
        KEYED_BY_STATE:
            [_bonuses_by(inputs, key=lambda state, index: tuple(state.tolist()))],
    }


def probe_bonus(rec, inputs: dict, count_bonus) -> None:
    """Feed the walk of states, one call each, with one counts dict; then count its cells."""
    counts, low, high = {}, np.array(inputs["low"]), np.array(inputs["high"])
    for index, state in enumerate(inputs["states"]):
        rec.call(f"bonus {index}", count_bonus, counts, np.array(state), low.copy(), high.copy(), inputs["bins"],
                 inputs["beta"])
    rec.note("keys", list(counts))
    other = inputs.get("other")  # the notebook's walk only: a grading run's bounds are fresh already
    if other:
        counts, low, high = {}, np.array(other["low"]), np.array(other["high"])
        for index, state in enumerate(other["states"]):
            rec.call(f"other {index}", count_bonus, counts, np.array(state), low.copy(), high.copy(), inputs["bins"],
                     inputs["beta"])


def judge_bonus(results, inputs: dict) -> None:
    """Each bonus must be β/√N with N the visits to the state's cell, this one included."""
    got = [_bonus(results, index, state) for index, state in enumerate(inputs["states"])]
    keys = results.value("keys")
    # the bonuses fade, so visits are counted, yet not in the dict given
    expect(keys != [] or not np.any(np.array(got) < inputs["beta"] * (1 - 1e-9)), "the counts dict count_bonus was "
           f"given is still empty after a walk of {len(got)} states, yet the bonuses fade: the visits are counted in a "
           "dict of its own (a global, a default argument or an attribute), which every caller shares, which no "
           "caller can reset or read, and which keeps its counts when the cell runs again.", "count in the dict you "
           "are given: counts[cell] = counts.get(cell, 0) + 1.")
    expected = _reference_bonuses(inputs)
    if np.allclose(got, expected):
        _judge_keys(keys, _cells(inputs))
        _judge_other_bounds(results, inputs)
        return
    if _keyed_by_state(keys, inputs["states"]):
        raise Mistake(f"count_bonus gave {np.round(got, 3).tolist()}: {KEYED_BY_STATE}")
    slips = _bonus_slips(inputs)
    if type(keys) is list and keys:  # counts were written into the dict given: a bonus that never fades has another cause
        slips = {message: bonuses for message, bonuses in slips.items() if not message.startswith(NEVER_FADES)}
    cells_right = type(keys) is list and sorted(map(str, keys)) == sorted(map(str, _cells(inputs)))
    name_the_mistake(lambda candidates: any(np.allclose(got, c) for c in candidates), slips,
                     f"count_bonus gave {np.round(got, 3).tolist()}; expected β/√N: {np.round(expected, 3).tolist()}"
                     + (": the counts dict's keys are the right cells, so the count or the bonus is off. Hint: "
                        "counts[cell] = counts.get(cell, 0) + 1, then return beta / np.sqrt(counts[cell])."
                        if cells_right else ". Hint: cell = floor((state - low) / ((high - low) / bins)) per "
                        "coordinate, clipped to the grid."),
                     returned=f"count_bonus gave {np.round(got, 3).tolist()}: ")


def _judge_other_bounds(results, inputs: dict) -> None:
    """On the walk in other bounds, the bonuses must follow those bounds, not MountainCar's."""
    other = inputs.get("other")
    if not other:
        return
    got = [plain_number(results.value(f"other {index}"), "count_bonus returned", "a float",
                        "return beta / np.sqrt(count) as a number.") for index in range(len(other["states"]))]
    expected = _reference_bonuses({**inputs, **other})
    if np.allclose(got, expected):
        return
    bounds = f"low = {other['low']} and high = {other['high']}"
    expect(not np.allclose(got, _reference_bonuses({**inputs, "states": other["states"]})), f"with other bounds, "
           f"{bounds}, count_bonus gave {np.round(got, 3).tolist()}, the bonuses of MountainCar's bounds: low and "
           "high are not read from the arguments.", "use the low and high arguments, whatever task they come from.")
    raise Mistake(f"with other bounds, {bounds}, count_bonus gave {np.round(got, 3).tolist()}; expected "
                  f"{np.round(expected, 3).tolist()}. Hint: compute the cells from the low, high and bins arguments.")


def _keyed_by_state(keys, states: list) -> bool:
    """Are the counts dict's keys the walk's states themselves, one per distinct state?"""
    distinct = list(dict.fromkeys(tuple(float(x) for x in state) for state in states))
    try:
        got = [tuple(float(x) for x in key) for key in keys]
    except (TypeError, ValueError):  # keys that are not sequences of numbers
        return False
    return len(got) == len(distinct) and all(len(k) == len(d) and np.allclose(k, d) for k, d in zip(got, distinct))


def _cells(inputs: dict) -> list:
    """The grid cells the walk visits, as tuples of their indices, in the order of the first visits."""
    reference = CountBonus(inputs["low"], inputs["high"], inputs["bins"], inputs["beta"])
    for state in inputs["states"]:
        reference(np.array(state))
    return [tuple(int(i) for i in cell) for cell in reference.counts]


def _judge_keys(keys, cells: list) -> None:
    """The counts dict's keys must be the tuples of the visited cells' indices (ints, Python's or NumPy's)."""
    keys = keys if type(keys) is list else []
    odd = next((key for key in keys if type(key) is not tuple or not all(is_plain(i, (int, np.integer)) for i in key)),
               None)
    example = f"{cells[0]}" if cells else "(0, 1)"
    hint = (f"key the counts by the tuple of the cell's indices, e.g. counts[{example}]: "
            "cell = tuple(np.clip(np.floor((state - low) / cell_size), 0, bins - 1).astype(int).tolist()).")
    expect(odd is None, f"the bonuses are right, but the counts dict is keyed by {_shown_key(odd)}; the statement asks "
           f"for the tuple of the cell's indices as the key, such as {example}.", hint)
    got = [tuple(int(i) for i in key) for key in keys]
    expect(sorted(got) == sorted(cells), f"the counts dict has the keys {sorted(got)[:6]} after the walk; expected "
           f"the cells {sorted(cells)[:6]}, one key per cell visited.", hint)


def _shown_key(key) -> str:
    """A key as a message shows it: "the Python str '(1, 0)'", 'a tuple holding a Python float'."""
    if type(key) in (str, int, float):
        return f"the Python {type(key).__name__} {repr(key)[:40]}"
    if type(key) is tuple:
        inner = next(i for i in key if not is_plain(i, (int, np.integer)))
        return f"tuples holding {describe(inner)} (e.g. {key!r}), not ints"
    return describe(key)


def _bonus(results, index: int, state: list) -> float:
    """The bonus count_bonus returned for the walk's state `index`, checked to be a finite number."""
    error = results.raised(f"bonus {index}")
    if error and error.get("type") == "ZeroDivisionError":
        raise Mistake("count_bonus divided by a count of 0: the visit is counted after the bonus is computed. "
                      "Hint: add 1 to the cell's count first, then return beta / sqrt(count).")
    if error and error.get("type") == "KeyError":
        raise Mistake(f"count_bonus raised {crash_text(error)}: on a cell's first visit its key is not in the dict "
                      "yet, so counts[cell] += 1 cannot read it. Hint: counts[cell] = counts.get(cell, 0) + 1.")
    if error and error.get("type") == "TypeError" and "unhashable" in str(error.get("message")):
        raise Mistake(f"count_bonus raised {crash_text(error)}: a NumPy array (or a list) cannot be a dict key. "
                      "Hint: use tuple(...) of the cell's indices as the key: cell = tuple(np.clip(np.floor((state - "
                      "low) / cell_size), 0, bins - 1).astype(int).tolist()).")
    hint = "count the visit first (the first visit gives N = 1, not 0), then return beta / sqrt(count)."
    got = results.value(f"bonus {index}")
    expect(type(got) is not torch.Tensor, f"count_bonus returned {describe(got)} for state {state}: return a float, "
           "not a tensor.", "beta / np.sqrt(count) of plain numbers is a float; a bonus is added to the reward, a "
           "number, before anything is stored.")
    value = float(plain_number(got, "count_bonus returned", f"a finite float (for state {state})", hint))
    expect(np.isfinite(value), f"count_bonus returned {value} for state {state}; expected a finite float.", hint)
    return value


check_count_bonus = Check("8.2", "count_bonus", bonus_inputs, probe_bonus, judge_bonus,
                          references=("utils.dqn.CountBonus",))


# --- 8.3 an SB3 model behind the course's evaluate ---------------------------------------------

# The linear layers of SB3's MlpPolicy with net_arch [32, 32]: Linear, ReLU, Linear, ReLU, Linear.
SB3_LAYERS = ("q_net.0", "q_net.2", "q_net.4")
SB3_SIZES = (4, 32, 32, 2)
SB3_BATCH = 6
# A second task whose observations and actions differ from CartPole's 4 and 2: Acrobot's 6 and 3.
OTHER_TASK, OTHER_SIZES = ACROBOT, (6, 32, 32, 3)


class NoOptimizer:
    """Stands in for SB3's Adam: the check never trains, and torch's first optimizer imports torch._dynamo (~1 s)."""

    def __init__(self, parameters, lr, **settings):
        """Keep nothing."""


def untrained_sb3_model(seed: int = 0, env_id: str = CARTPOLE):
    """A small SB3 DQN on `env_id` with seeded random weights (no training needed to test a wrapper)."""
    from stable_baselines3 import DQN

    return DQN("MlpPolicy", gym.make(env_id), policy_kwargs={"net_arch": [32, 32], "optimizer_class": NoOptimizer},
               seed=seed, device="cpu", buffer_size=1)


def wrapper_inputs(rng) -> dict:
    """Weights for the online and the target network, a batch of states (its first row is the single state),
    and the weights and states of a model of another task."""
    draw = np.random.default_rng(0) if rng is None else rng
    batch = SB3_BATCH if rng is None else int(rng.choice([3, 4, 5, 7, 8]))
    inputs = {"online": _mlp_weights(draw), "target": _mlp_weights(draw),
              "states": draw.normal(size=(batch, SB3_SIZES[0])).astype(np.float32)}
    inputs["other"] = {"online": _mlp_weights(draw, OTHER_SIZES), "target": _mlp_weights(draw, OTHER_SIZES),
                       "states": draw.normal(size=(batch - 1, OTHER_SIZES[0])).astype(np.float32)}
    return inputs


def _mlp_weights(rng, sizes: tuple = SB3_SIZES) -> list:
    """[weight, bias] for each linear layer of a network of `sizes` (4-32-32-2), as float32 arrays."""
    return [[(rng.normal(size=(out, inp)) / np.sqrt(inp)).astype(np.float32),
             rng.normal(scale=0.3, size=out).astype(np.float32)] for inp, out in zip(sizes, sizes[1:])]


def _q_values(weights: list, states: torch.Tensor) -> torch.Tensor:
    """The Q-values of the network with `weights` (ReLU between its layers)."""
    x = states
    for index, (weight, bias) in enumerate(weights):
        x = F.linear(x, torch.as_tensor(weight), torch.as_tensor(bias))
        x = torch.relu(x) if index < len(weights) - 1 else x
    return x


def _sb3_model(inputs: dict, env_id: str = CARTPOLE):
    """An untrained SB3 DQN on `env_id` whose online and target networks hold the inputs' weights."""
    model = untrained_sb3_model(env_id=env_id)
    for network, weights in ((model.q_net, inputs["online"]), (model.q_net_target, inputs["target"])):
        _load_weights(network, weights)
    return model


def _load_weights(network, weights: list) -> None:
    """Copy `weights` ([weight, bias] per linear layer) into an SB3 QNetwork, in place."""
    network.load_state_dict({f"{layer}.{part}": torch.as_tensor(array) for layer, pair in zip(SB3_LAYERS, weights)
                             for part, array in zip(("weight", "bias"), pair)})


def probe_wrapper(rec, inputs: dict, wrapper_class) -> None:
    """Wrap a model with the inputs' weights; ask for the Q-values of a batch, of one state and of a batch of one."""
    model = _sb3_model(inputs)
    net = rec.call("wrapper", wrapper_class, model)
    rec.note("module", isinstance(net, nn.Module))
    if not isinstance(net, nn.Module):
        return
    states = torch.from_numpy(inputs["states"].copy())
    rec.call("batch", _without_grad, net, states.clone())
    rec.call("one", _without_grad, net, states[0].clone(), expect_error=True)
    rec.call("batch of one", _without_grad, net, states[:1].clone(), expect_error=True)
    _load_weights(model.q_net, inputs["target"])  # as training would change them, after the wrapper was built
    rec.call("trained further", _without_grad, net, states.clone(), expect_error=True)
    other = inputs["other"]
    other_net = rec.call("other wrapper", wrapper_class, _sb3_model(other, OTHER_TASK))
    for key, given in (("other batch", other["states"]), ("other one", other["states"][0])):
        rec.call(key, _without_grad, other_net, torch.from_numpy(given.copy()), expect_error=True)
    # The first wrapper again, now that a second exists: a model kept outside the instance is the second's.
    rec.call("first again", _without_grad, net, states.clone(), expect_error=True)


def _without_grad(net, states: torch.Tensor):
    """`net(states)` without building a graph."""
    with torch.no_grad():
        return net(states)


def judge_wrapper(results, inputs: dict) -> None:
    """The wrapper must return the online network's Q-values, as a tensor, for a batch and for one state."""
    results.value("wrapper")
    expect(results.value("module") is True, f"SB3QNetwork(model) built {describe(results.value('wrapper'))}; "
           "expected an nn.Module.", "class SB3QNetwork(nn.Module), calling super().__init__() first.")
    states = torch.from_numpy(inputs["states"])
    batch = tuple(states.shape)
    online, target = _q_values(inputs["online"], states), _q_values(inputs["target"], states)
    _judge_batch_crash(results.raised("batch"), batch)
    got = plain_tensor(results.value("batch"), f"for a {batch} batch SB3QNetwork returned",
                       "a torch tensor of Q-values", "return the tensor model.q_net(states) gives, not a NumPy array "
                       "or a Python list.")
    _judge_one_per_state(got, online, batch)
    expect(not _same_tensor(got, online[0]),
           f"for a {batch} batch SB3QNetwork returned the Q-values of its first state only, shape {tuple(got.shape)}: "
           "[0] is applied to the batch as well as to a single state.", "index [0] only where a single state was "
           "made a batch of one; or reshape: q = model.q_net(states.reshape(-1, obs_dim)), then "
           "q.reshape(*states.shape[:-1], -1), which serves both.")
    expect(tuple(got.shape) == tuple(online.shape), f"SB3QNetwork returned shape {tuple(got.shape)} for a {batch} "
           f"batch; expected {tuple(online.shape)}.", "one Q-value per action: model.q_net(states).")
    if not torch.allclose(got.double(), online.double(), atol=1e-5):
        raise Mistake("SB3QNetwork's Q-values are not model.q_net's" + (
            ": they come from the target network. Hint: act with the online network, model.q_net."
            if torch.allclose(got.double(), target.double(), atol=1e-5) else
            ". Hint: return model.q_net(states) unchanged."))
    _judge_single(results, "one", online[0], (SB3_SIZES[-1],), f"for one state {tuple(states[0].shape)}",
                  "reshape to (-1, obs_dim) before model.q_net and back to the state's leading shape after, as the "
                  "course's greedy_action needs.")
    _judge_single(results, "batch of one", online[:1], (1, SB3_SIZES[-1]), f"for a batch of one state "
                  f"{(1, SB3_SIZES[0])}", "keep the batch dimension: squeeze() drops every dimension of size 1, the "
                  "batch's too. Reshape back to the leading shape of states: q.reshape(*states.shape[:-1], -1).")
    _judge_trained_further(results, online, _q_values(inputs["target"], states))
    _judge_other_task(results, inputs["other"])
    _judge_first_again(results, _q_values(inputs["target"], states))


def _judge_batch_crash(error, batch: tuple) -> None:
    """A batch made (1, B, obs_dim) reaches SB3's q_net as one row of B · obs_dim numbers: name that crash."""
    flattened = f"1x{batch[0] * batch[1]} and {batch[1]}x"
    if error and error.get("type") == "RuntimeError" and flattened in str(error.get("message")):
        raise Mistake(f"for a {batch} batch your code raised {crash_text(error)}: the batch got an extra leading "
                      f"dimension, (1, {batch[0]}, {batch[1]}), and SB3's q_net flattens everything after the first "
                      f"dimension, so it saw one state of {batch[0] * batch[1]} numbers. Hint: add the batch dimension "
                      "to a single state only (states.dim() == 1), or reshape: model.q_net(states.reshape(-1, "
                      "states.shape[-1])).")


def _judge_trained_further(results, before: torch.Tensor, after: torch.Tensor) -> None:
    """After model.q_net's weights change (training, loading), the wrapper must give the new Q-values."""
    got = results.value("trained further")
    if _same_tensor(got, after):
        return
    raise Mistake("after model.q_net's weights changed (as training or model.set_parameters does), SB3QNetwork "
                  "still gave the Q-values of the old weights: it keeps a copy of the network made when it was built "
                  "(copy.deepcopy, or a state_dict loaded into a network of its own). Hint: keep the model and call "
                  "self.model.q_net(...) in forward, so the wrapper always uses the model's current weights."
                  if _same_tensor(got, before) else f"after model.q_net's weights changed, SB3QNetwork returned "
                  f"{describe(got)}, not the Q-values of the new weights. Hint: call self.model.q_net(...) in forward.")


def _judge_first_again(results, expected: torch.Tensor) -> None:
    """Once a second wrapper of another model exists, the first must still answer with its own model."""
    if not results.raised("first again") and _same_tensor(results.value("first again"), expected):
        return
    raise Mistake(f"after a second SB3QNetwork was built around a model of {OTHER_TASK}, the first one no longer "
                  "answered with its own model's Q-values: the model is kept outside the instance (a global or a "
                  "class attribute), which every wrapper shares. Hint: keep it on the instance, self.model = model, "
                  "and use self.model.q_net in forward.")


def _same_tensor(got, expected: torch.Tensor) -> bool:
    """Is `got` a tensor of `expected`'s shape and values (up to float32 rounding)?"""
    return (type(got) is torch.Tensor and got.shape == expected.shape
            and torch.allclose(got.double(), expected.double(), atol=1e-5))


def _judge_other_task(results, other: dict) -> None:
    """A model of Acrobot (6 observations, 3 actions) must work as CartPole's does: no size of CartPole's written in."""
    results.value("other wrapper")
    states = torch.from_numpy(other["states"])
    online = _q_values(other["online"], states)
    model = f"with an SB3 model of {OTHER_TASK} ({OTHER_SIZES[0]} observations, {OTHER_SIZES[-1]} actions),"
    hint = ("read the sizes from the states and the model, never CartPole's 4 and 2: "
            "q = model.q_net(states.reshape(-1, states.shape[-1])), then q.reshape(*states.shape[:-1], -1).")
    cause = "SB3QNetwork works for CartPole's model only: a size of CartPole's (4 observations or 2 actions) is " \
            "written in"
    for key, expected, given in (("other batch", online, f"a batch {tuple(states.shape)}"),
                                 ("other one", online[0], f"one state {tuple(states[0].shape)}")):
        error = results.raised(key)
        if error and not error.get("not_done"):
            raise Mistake(f"{model} for {given} your code raised {crash_text(error)}: {cause}. Hint: {hint}")
        got = results.value(key)
        expect(type(got) is torch.Tensor and tuple(got.shape) == tuple(expected.shape), f"{model} for {given} "
               f"SB3QNetwork returned {describe(got)}; expected a {tuple(expected.shape)} tensor: {cause}.", hint)
        expect(torch.allclose(got.double(), expected.double(), atol=1e-5), f"{model} for {given} SB3QNetwork's "
               "Q-values are not model.q_net's.", hint)


def _judge_one_per_state(got: torch.Tensor, online: torch.Tensor, batch: tuple) -> None:
    """Name the usual reasons for one number per state instead of one Q-value per action."""
    if tuple(got.shape) != (len(online),):
        return
    if torch.allclose(got.double(), online.max(dim=1).values.double(), atol=1e-5):
        raise Mistake(f"for a {batch} batch SB3QNetwork returned one number per state: the largest Q-value, not the "
                      "Q-value of every action. Hint: the course's evaluate takes the argmax itself; return "
                      "model.q_net(states), shape (B, 2).")
    raise Mistake("SB3QNetwork returned one number per state: actions (model.predict), not Q-values. Hint: "
                  "the course's evaluate takes the argmax itself; return model.q_net(states), shape (B, 2).")


def _judge_single(results, key: str, expected: torch.Tensor, shape: tuple, given: str, hint: str) -> None:
    """The Q-values for one state, or a batch of one, must have `shape` and be the online network's."""
    error = results.raised(key)
    if error and not error.get("not_done"):
        raise Mistake(f"{given} your code raised {crash_text(error)}. Hint: {hint}")
    got = results.value(key)
    expect(type(got) is torch.Tensor and tuple(got.shape) == shape, f"{given} SB3QNetwork returned "
           f"{describe(got)}; expected a {shape} tensor.", hint)
    expect(torch.allclose(got.double(), expected.double(), atol=1e-5), f"{given} SB3QNetwork's Q-values are not "
           "model.q_net's.", hint)


check_sb3_wrapper = Check("8.3", "SB3QNetwork", wrapper_inputs, probe_wrapper, judge_wrapper,
                          references=("utils.sb3_bridge.BatchedQ", "utils.sb3_bridge.course_q_net"))
