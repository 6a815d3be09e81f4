"""Checks of notebook 8: right answers pass, typical mistakes are named, in the notebook and in grading runs."""
import copy
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from utils import evaluation, sb3_bridge, tasks
from utils.checks import CheckFailed, capstone
from utils.checks.capstone import check_count_bonus, check_negative_reward_task, check_sb3_wrapper
from utils.dqn import CountBonus, DQNConfig
from test_checks_core import AlwaysCloseTensor, Anything, RegisteredReal, rig_parameters, assert_graded, graded

SEEDS = range(6)


# --- 8.1 ----------------------------------------------------------------------------------------

def acrobot_config(seed):
    """The course's recipe on Acrobot, stopping at its threshold."""
    return DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=gym.spec("Acrobot-v1").reward_threshold)


def solved(returns, env_id):
    """Mean return at or above the task's registered threshold."""
    return bool(np.mean(returns) >= gym.spec(env_id).reward_threshold)


def solved_by_make(returns, env_id):
    """The threshold read from a made env's spec, the mean by hand."""
    env = gym.make(env_id)
    threshold = env.spec.reward_threshold
    env.close()
    return sum(returns) / len(returns) >= threshold


THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}


def written_in(returns, env_id):
    """The notebook's two tasks' thresholds written in, CartPole's for any other."""
    return bool(np.mean(returns) >= THRESHOLDS.get(env_id, 475.0))


RIGHT_TASKS = ((acrobot_config, solved),
               (lambda seed: dataclasses.replace(acrobot_config(seed), lr=1e-3, max_env_steps=100_000),
                solved_by_make))


def test_right_answers_pass(capsys):
    for answers in RIGHT_TASKS:
        check_negative_reward_task(*answers)
    check_negative_reward_task(acrobot_config, lambda r, e: np.asarray(r).mean() >= gym.spec(e).reward_threshold)
    assert capsys.readouterr().out.count("passed") == 3


@pytest.mark.parametrize("config, words", [
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1"), "still CartPole's 500"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=475.0), "CartPole's threshold, 475"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=100.0), r"stop_return is \+100"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=None), "stop_return is None"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=-110.0),
     r"stop_return is -110.0; expected Acrobot's threshold -100.0"),
    (lambda seed: DQNConfig(seed=seed, stop_return=-100.0), "trains on 'CartPole-v1'"),
    (lambda seed: DQNConfig(seed=0, env_id="Acrobot-v1", stop_return=-100.0), "gave seed=0"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=-100.0, max_env_steps=500_000),
     "more than the 150,000"),
    # red team c: the episode's time limit taken for the training budget, and a budget below the recipe's
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=-100.0,
                            max_env_steps=gym.spec("Acrobot-v1").max_episode_steps),
     r"max_env_steps is 500, Acrobot's time limit per episode \(max_episode_steps\), not the training budget.*Hint: "
     r"keep the recipe's budget, DQNConfig's default 100,000"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=-100.0, max_env_steps=10_000),
     r"max_env_steps is 10,000, less than the recipe's budget of 100,000.*Hint: keep the recipe's budget"),
    (lambda seed: {"env_id": "Acrobot-v1"}, "returned a Python dict; expected a DQNConfig"),
    # red team b: the seed made a float was refused as "expected a plain int, float or str"
    (lambda seed: DQNConfig(seed=float(seed), env_id="Acrobot-v1", stop_return=-100.0),
     r"gave seed=a Python float; expected a plain int: seed must be an int, .*Hint: pass the seed on as it was given"),
])
def test_config_mistakes_are_named(config, words):
    with pytest.raises(CheckFailed, match=words):
        check_negative_reward_task(config, solved)


VERDICT_MISTAKES = [
    (lambda r, e: bool(np.mean(r) >= 475), "CartPole's 475 for every task"),
    (written_in, "written in for CartPole .475. and Acrobot .-100. only"),
    (lambda r, e: bool(np.mean(r) >= {"CartPole-v1": 475, "Acrobot-v1": -100}[e]),
     r"raised KeyError: 'MountainCar-v0'.*: it knows the thresholds of some tasks only"),
    (lambda r, e: bool(np.mean(r) <= gym.spec(e).reward_threshold if gym.spec(e).reward_threshold < 0
                       else np.mean(r) >= gym.spec(e).reward_threshold), "comparison is reversed"),
    (lambda r, e: bool(abs(np.mean(r)) >= abs(gym.spec(e).reward_threshold)), "compares sizes, with abs"),
    (lambda r, e: bool(np.mean(r) > gym.spec(e).reward_threshold), "use >=, not >"),
    (lambda r, e: bool(np.median(r) >= gym.spec(e).reward_threshold), "median"),
    (lambda r, e: bool(np.max(r) >= gym.spec(e).reward_threshold), r"judges by the best episode \(max\)"),  # set C
    (lambda r, e: bool(np.min(r) >= gym.spec(e).reward_threshold), "every episode to reach the threshold"),
    (lambda r, e: bool(np.mean(r) >= abs(gym.spec(e).reward_threshold)), r"the threshold's sign is dropped"),
    (lambda r, e: np.mean(r) - gym.spec(e).reward_threshold, "expected True or False"),
    # issue 18: reversed for every task, sizes compared, one threshold written in for every task
    (lambda r, e: bool(np.mean(r) <= gym.spec(e).reward_threshold),
     r"the comparison is reversed \(mean <= threshold\)"),
    (lambda r, e: bool(abs(np.mean(r)) <= abs(gym.spec(e).reward_threshold)),
     r"compares sizes \(abs\(mean\) <= abs\(threshold\).*CartPole's 500 counts as unsolved"),
    (lambda r, e: bool(np.mean(r) >= -100), r"one threshold for every task, above -104 and at most -100 \(Acrobot-v1's "
                                            r"-100, written in\?\)"),
    (lambda r, e: np.mean(r) >= -110.0, r"one threshold for every task.*MountainCar-v0's -110"),
    # red team b: a training curve's last episodes, a rounded mean (-110.4 counted as -110)
    (lambda r, e: bool(np.mean(r[-10:]) >= gym.spec(e).reward_threshold),
     r"judges the last episodes only \(returns\[-10:\]"),
    (lambda r, e: bool(round(float(np.mean(r))) >= gym.spec(e).reward_threshold),
     r"MountainCar-v0 mean -110.4 \(threshold -110\): True; it rounds the mean before comparing"),
]


@pytest.mark.parametrize("verdict, words", VERDICT_MISTAKES)
def test_verdict_mistakes_are_named(verdict, words):
    with pytest.raises(CheckFailed, match=words):
        check_negative_reward_task(acrobot_config, verdict)


def test_negative_reward_task_in_grading_runs():
    for answers in RIGHT_TASKS:
        assert_graded(check_negative_reward_task, answers, "passed")
    assert_graded(check_negative_reward_task, (acrobot_config, written_in), "failed",
                  "written in for CartPole (475) and Acrobot (-100) only")
    assert_graded(check_negative_reward_task, (acrobot_config, lambda r, e: bool(np.median(r) >= gym.spec(
        e).reward_threshold)), "failed", "it uses the median")
    assert_graded(check_negative_reward_task, (acrobot_config, lambda r, e: bool(np.max(r) >= gym.spec(
        e).reward_threshold)), "failed", "it judges by the best episode (max)")
    for verdict, words in ((lambda r, e: bool(np.mean(r) >= -100), "one threshold for every task"),
                           (lambda r, e: bool(abs(np.mean(r)) <= abs(gym.spec(e).reward_threshold)), "compares sizes"),
                           (lambda r, e: bool(np.mean(r) <= gym.spec(e).reward_threshold), "comparison is reversed")):
        assert_graded(check_negative_reward_task, (acrobot_config, verdict), "failed", words)
    seed_three = lambda seed: acrobot_config(3)  # noqa: E731 (the notebook's seed, written in)
    check_negative_reward_task(seed_three, solved)  # passes in the notebook
    assert_graded(check_negative_reward_task, (seed_three, solved), "failed", "gave seed=3")
    notebook_thresholds = {"CartPole-v1": 475.0, "CartPole-v0": 195.0, "Acrobot-v1": -100.0, "MountainCar-v0": -110.0}
    notebook_tasks = lambda r, e: bool(np.mean(r) >= notebook_thresholds[e])  # noqa: E731
    check_negative_reward_task(acrobot_config, notebook_tasks)  # passes in the notebook
    other_tasks = [seed for seed in range(20) if any(env_id not in notebook_thresholds for _, env_id in
                                                     capstone.task_inputs(np.random.default_rng(seed))["cases"])]
    assert_graded(check_negative_reward_task, (acrobot_config, notebook_tasks), "failed", "KeyError", seeds=other_tasks)


def test_grading_runs_name_a_rounded_mean_and_the_last_episodes():
    # every task has a case whose mean is less than 0.5 below its threshold, and one whose last episodes mislead
    rounded = lambda r, e: bool(round(float(np.mean(r))) >= gym.spec(e).reward_threshold)  # noqa: E731
    assert_graded(check_negative_reward_task, (acrobot_config, rounded), "failed", "rounds the mean before comparing")
    last_ten = lambda r, e: bool(np.mean(r[-10:]) >= gym.spec(e).reward_threshold)  # noqa: E731
    assert_graded(check_negative_reward_task, (acrobot_config, last_ten), "failed", "judges the last episodes only")


def test_grading_runs_ask_about_mountain_car_and_another_positive_threshold():
    for seed in SEEDS:
        tasks_asked = {env_id for _, env_id in capstone.task_inputs(np.random.default_rng(seed))["cases"]}
        assert {"CartPole-v1", "Acrobot-v1", "MountainCar-v0"} < tasks_asked and len(tasks_asked) == 4


def test_answers_that_call_the_course_code_are_flagged():
    course_solved = lambda r, e: evaluation.is_solved(r, gym.spec(e).reward_threshold)  # noqa: E731
    verdict = graded(check_negative_reward_task, 0, acrobot_config, course_solved)
    assert verdict["status"] == "passed"
    assert verdict["flags"] == ["calls the course's own `utils.evaluation.is_solved`"]
    verdict = graded(check_negative_reward_task, 0, lambda seed: tasks.task_config("acrobot", seed), solved)
    assert verdict["flags"] == ["calls the course's own `utils.tasks.task_config`"]
    # Both: the flag names the one the student's code called first (the check asks for the config first).
    verdict = graded(check_negative_reward_task, 0, lambda seed: tasks.task_config("acrobot", seed), course_solved)
    assert verdict["flags"] == ["calls the course's own `utils.tasks.task_config`"]
    # The config read out of TASK_CONFIGS, which the notebook shows after the exercise, is the course's answer too.
    copied = lambda seed: dataclasses.replace(tasks.TASK_CONFIGS["acrobot"], seed=seed)  # noqa: E731
    assert graded(check_negative_reward_task, 0, copied, solved)["flags"] == [
        "calls the course's own `utils.tasks.TASK_CONFIGS`"]
    with pytest.raises(CheckFailed, match=r"your code calls the course's own `utils.tasks.TASK_CONFIGS`; the exercise "
                                          r"wants your own code"):
        check_negative_reward_task(copied, solved)


# --- 8.2 ----------------------------------------------------------------------------------------

def count_bonus(counts, state, low, high, bins, beta):
    """β/√N, N the visits to the state's grid cell, this one included."""
    cell = tuple(np.clip(((state - low) // ((high - low) / bins)).astype(int), 0, bins - 1).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


def count_bonus_with_floor(counts, state, low, high, bins, beta):
    """The same with np.floor, and a key that is a tuple of NumPy ints (they hash and compare as Python ints)."""
    index = np.minimum(np.floor((state - low) / (high - low) * bins), bins - 1).astype(int)
    key = tuple(np.maximum(index, 0))
    counts[key] = counts.get(key, 0) + 1
    return float(beta * counts[key] ** -0.5)


def keyed_by(key):
    """The right bonus, with the counts keyed by `key(cell, bins)` instead of the tuple of the cell's indices."""
    def bonus(counts, state, low, high, bins, beta):
        cell = key(tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist()),
                   bins)
        counts[cell] = counts.get(cell, 0) + 1
        return beta / np.sqrt(counts[cell])
    return bonus


def count_before_visit(counts, state, low, high, bins, beta):
    """Computes the bonus from the count before this visit (β on a first visit), then counts."""
    cell = tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    seen = counts.get(cell, 0)
    counts[cell] = seen + 1
    return beta if seen == 0 else beta / np.sqrt(seen)


def count_bonus_rounded(counts, state, low, high, bins, beta):
    """Cells by rounding: the boundaries move by half a cell."""
    cell = tuple(np.clip(np.round((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


def make_bonus(power=0.5, count_first=True, update=True, clip=True, key=None, offset=0, by_cells=False,
               cell_size=lambda low, high, bins: (high - low) / bins):
    """A count bonus with one part done the usual wrong way."""
    def bonus(counts, state, low, high, bins, beta):
        index = ((state - low) // cell_size(low, high, bins)).astype(int)
        cell = key(state, index) if key else tuple((np.clip(index, 0, bins - 1) if clip else index).tolist())
        seen = counts.get(cell, 0)
        if update:
            counts[cell] = seen + 1
        n = counts.get(cell, 1) if count_first else np.float64(seen)  # NumPy: 0 gives inf, with a warning
        with np.errstate(divide="ignore"):
            return beta / ((len(counts) if by_cells else n) + offset) ** power
    return bonus


def counted_twice(counts, state, low, high, bins, beta):
    """Wrong: the visit counted twice; the cells are right."""
    cell = tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 2
    return beta / np.sqrt(counts[cell])


def beta_forgotten(counts, state, low, high, bins, beta):
    """1/√N: β never used."""
    cell = tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return 1 / np.sqrt(counts[cell])


def beta_under_the_root(counts, state, low, high, bins, beta):
    """√(β/N) instead of β/√N."""
    cell = tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return np.sqrt(beta / counts[cell])


def increment_without_default(counts, state, low, high, bins, beta):
    """counts[cell] += 1 on a cell never seen: KeyError."""
    cell = tuple(np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int))
    counts[cell] += 1
    return beta / np.sqrt(counts[cell])


def keyed_by_the_array(counts, state, low, high, bins, beta):
    """The index array itself as the key: unhashable."""
    cell = np.clip(np.floor((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int)
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


def ceil_minus_one(counts, state, low, high, bins, beta):
    """ceil(x) − 1 as the index: a state on a cell's lower boundary goes one cell down."""
    cell = tuple(np.clip(np.ceil((state - low) / ((high - low) / bins)) - 1, 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


MOUNTAIN_CAR_BOUNDS = (np.array([-1.2, -0.07]), np.array([0.6, 0.07]))


def bonus_on_mountain_car(counts, state, low, high, bins, beta):
    """The notebook's bounds written in instead of the arguments."""
    return count_bonus(counts, state, *MOUNTAIN_CAR_BOUNDS, bins, beta)


def counted_on_the_side(counts, state, low, high, bins, beta, store={}):  # noqa: B006 (the mistake)
    """Counts in a default argument's dict of its own: it keeps counting over every call, the given dict stays empty."""
    return count_bonus(store, state, low, high, bins, beta)


def counted_in_an_attribute(counts, state, low, high, bins, beta):
    """Counts in a dict kept on the function (it too outlives the call)."""
    return count_bonus(counted_in_an_attribute.__dict__.setdefault("store", {}), state, low, high, bins, beta)


def test_right_bonuses_pass():
    check_count_bonus(count_bonus)
    check_count_bonus(count_bonus_with_floor)


@pytest.mark.parametrize("wrong, words", [
    (make_bonus(power=1.0), r"β/N, not β/√N"),
    (make_bonus(power=-0.5), r"grows with the count \(β·√N\)"),
    (make_bonus(count_first=False), "count the visit first"),
    (lambda counts, state, low, high, bins, beta: beta / counts.get(0, 0) ** 0.5, "counted after the bonus"),
    (make_bonus(update=False), "never fades"),
    (lambda counts, *args: make_bonus()(dict(counts), *args),  # hidden set C: a copy updated
     r"the bonus never fades: the counts dict it is given is not updated.*update the dict passed in, in place"),
    (make_bonus(clip=False), "upper bound falls outside the grid"),
    (make_bonus(key=lambda state, index: tuple(state.tolist())), "keyed by the state itself, not by its grid cell"),
    (make_bonus(key=lambda state, index: int(min(index[0], 3))), "the first coordinate only"),
    (make_bonus(power=0.5, offset=1), r"β/√\(N \+ 1\), with N already counting this visit"),
    (make_bonus(by_cells=True), r"N is the number of cells seen so far \(len\(counts\)\)"),
    (make_bonus(cell_size=lambda low, high, bins: (high - low) * bins), r"the cell size is \(high − low\) · bins"),
    (make_bonus(cell_size=lambda low, high, bins: (high - low) / (bins - 1)), r"\(high − low\) / \(bins − 1\) wide"),
    (lambda counts, state, low, high, bins, beta: make_bonus(cell_size=lambda low, high, bins: high / bins)(
        counts, state + low, low, high, bins, beta), "low is left out twice: the cell size is high / bins"),  # set C
    (lambda counts, state, low, high, bins, beta: count_bonus_rounded(counts, state, low, high, bins, beta),
     "rounded, not floored"),
    (lambda counts, state, low, high, bins, beta: np.array([beta]), "expected a finite float"),
    # hidden set B: the dict given never written (a dict of its own, kept across calls and check runs)
    (counted_on_the_side, r"the counts dict count_bonus was given is still empty after a walk of \d+ states, yet the "
                          r"bonuses fade: the visits are counted in a dict of its own.*Hint: count in the dict you "
                          r"are given"),
    (counted_in_an_attribute, "is still empty after a walk"),
    # issue 18: the count before this visit, low not subtracted, bins written in, another key than the cell's tuple
    (count_before_visit, r"the count from before this visit \(β/√\(N − 1\), β on a first visit\)"),
    (lambda counts, state, low, high, bins, beta: count_bonus(counts, state, 0 * low, high - low, bins, beta),
     "low is not subtracted, so the grid starts at 0"),
    (lambda counts, state, low, high, bins, beta: count_bonus(counts, state, low, high, 10, beta),
     r"the grid has 10 cells per coordinate whatever bins is \(here 4\): the number of bins is written in"),
    (lambda counts, state, low, high, bins, beta: count_bonus(counts, state, low, high, 5, beta),
     r"the grid has 5 cells per coordinate"),
    (keyed_by(lambda cell, bins: str(cell)), r"the bonuses are right, but the counts dict is keyed by the Python str "
                                             r"'\(1, 2\)'; the statement asks for the tuple of the cell's indices"),
    (keyed_by(lambda cell, bins: ",".join(map(str, cell))), "keyed by the Python str '1,2'"),
    (keyed_by(lambda cell, bins: cell[0] * bins + cell[1]), "keyed by the Python int 6"),
    (keyed_by(lambda cell, bins: tuple(float(i) for i in cell)), "keyed by tuples holding a Python float"),
    # red team b: β left out or under the root, a crash with no hint, a tensor, ceil − 1
    (beta_forgotten, r"the bonus is 1/√N: β is missing\. Hint: the bonus is β/√N"),
    (beta_under_the_root, r"the bonus is √\(β/N\): β is inside the root\. Hint: the bonus is β/√N"),
    (increment_without_default, r"raised KeyError: .*counts\[cell\] \+= 1 cannot read it\. Hint: counts\[cell\] = "
                                r"counts\.get\(cell, 0\) \+ 1"),
    (keyed_by_the_array, r"unhashable type: 'numpy.ndarray'.*cannot be a dict key\. Hint: use tuple\(\.\.\.\) of the "
                         r"cell's indices as the key"),
    (lambda counts, state, low, high, bins, beta: torch.tensor(count_bonus(counts, state, low, high, bins, beta)),
     r"returned a tensor of shape \(\) .*: return a float, not a tensor"),
    (ceil_minus_one, r"a state on a cell's lower boundary is put in the cell below \(ceil\(x\) − 1"),
    # red team c5: MountainCar's bounds in place of the arguments passed the notebook, whose walk is MountainCar's;
    # a bonus off with the cells right was sent to the cells
    (bonus_on_mountain_car, r"with other bounds, low = \[-2.0, -1.0\] and high = \[2.0, 1.0\], count_bonus gave "
                            r"\[0.5, 0.354, 0.289\], the bonuses of MountainCar's bounds: low and high are not read "
                            r"from the arguments.*Hint: use the low and high arguments"),
    (counted_twice, r"the counts dict's keys are the right cells, so the count or the bonus is off.*Hint: "
                    r"counts\[cell\] = counts.get\(cell, 0\) \+ 1"),
])
def test_bonus_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_count_bonus(wrong)


def test_count_bonus_in_grading_runs():
    for right in (count_bonus, count_bonus_with_floor):
        assert_graded(check_count_bonus, (right,), "passed")
    for wrong, words in ((make_bonus(power=1.0), "β/N, not β/√N"), (make_bonus(clip=False), "upper bound"),
                         (count_bonus_rounded, "rounded, not floored"), (count_before_visit, "before this visit"),
                         (keyed_by(lambda cell, bins: str(cell)), "keyed by the Python str"),
                         (counted_on_the_side, "is still empty after a walk"),
                         # red team c: the graded walk never repeats a state, so this was named "the dict is not updated"
                         (make_bonus(key=lambda state, index: tuple(state.tolist())), "keyed by the state itself")):
        assert_graded(check_count_bonus, (wrong,), "failed", words)
    assert_graded(check_count_bonus, (bonus_on_mountain_car,), "failed")  # and in the notebook: the walk in other bounds

    def kept_alongside(counts, state, low, high, bins, beta):
        counts.setdefault("course", CountBonus(low, high, bins, beta))
        return counts["course"](state)

    assert graded(check_count_bonus, 0, kept_alongside)["flags"] == ["calls the course's own `utils.dqn.CountBonus`"]


def test_grading_runs_tell_beta_and_boundaries_apart():
    # β = 1 made 1/√N and √(β/N) the right bonus; a walk without a state on an inner boundary let ceil − 1 pass.
    assert all(capstone.bonus_inputs(np.random.default_rng(seed))["beta"] != 1.0 for seed in range(30))
    for wrong, words in ((beta_forgotten, "β is missing"), (beta_under_the_root, "β is inside the root"),
                         (ceil_minus_one, "lower boundary is put in the cell below")):
        assert_graded(check_count_bonus, (wrong,), "failed", words, seeds=range(5))


def test_the_notebook_walk_tells_every_bonus_mistake_from_every_other():
    inputs = capstone.bonus_inputs(None)
    groups = [[capstone._reference_bonuses(inputs)], *capstone._bonus_slips(inputs).values()]
    assert all(np.max(np.abs(np.subtract(a, b))) > 1e-3
               for i, group in enumerate(groups) for other in groups[:i] for a in group for b in other)


# --- 8.3 ----------------------------------------------------------------------------------------

class SB3QNetwork(nn.Module):
    """The online Q-network of an SB3 DQN, for one state or a batch."""

    def __init__(self, model):
        """Keep the model."""
        super().__init__()
        self.model = model

    def forward(self, states):
        """Q-values with the leading shape of `states`."""
        q_values = self.model.q_net(states.reshape(-1, states.shape[-1]))
        return q_values.reshape(*states.shape[:-1], -1)


def wrapper(forward):
    """An SB3QNetwork whose forward is `forward(model, states)`."""
    class Wrapper(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, states):
            return forward(self.model, states)
    return Wrapper


UNSQUEEZED = wrapper(lambda model, s: model.q_net(s.unsqueeze(0)).squeeze(0) if s.dim() == 1 else model.q_net(s))
SQUEEZED = wrapper(lambda model, s: model.q_net(s.reshape(-1, s.shape[-1])).squeeze())


FROM_THE_SPACE = wrapper(lambda model, s: model.policy.q_net(s.view(-1, model.observation_space.shape[0])).view(
    *s.shape[:-1], model.action_space.n))


class KeepsACopy(SB3QNetwork):
    """Keeps a deep copy of model.q_net made when it is built: stale once the model trains on."""

    def __init__(self, model):
        super().__init__(model)
        self.q_net = copy.deepcopy(model.q_net)

    def forward(self, states):
        return self.q_net(states.reshape(-1, states.shape[-1])).reshape(*states.shape[:-1], -1)


class LoadsItsOwn(KeepsACopy):
    """The same with a network of its own given the model's weights once."""

    def __init__(self, model):
        super().__init__(model)
        self.q_net = copy.deepcopy(model.q_net_target)
        self.q_net.load_state_dict(model.q_net.state_dict())


class SharedModel(nn.Module):
    """Keeps the model in a class attribute: every wrapper answers with the model wrapped last."""

    model = None

    def __init__(self, model):
        super().__init__()
        SharedModel.model = model

    def forward(self, states):
        return SharedModel.model.q_net(states.reshape(-1, states.shape[-1])).reshape(*states.shape[:-1], -1)


LAST_MODEL = {}


class GlobalModel(SharedModel):
    """The same with the model in a module global."""

    def __init__(self, model):
        nn.Module.__init__(self)
        LAST_MODEL["model"] = model

    def forward(self, states):
        return LAST_MODEL["model"].q_net(states.reshape(-1, states.shape[-1])).reshape(*states.shape[:-1], -1)


class NoSuperInit(SB3QNetwork):
    """Forgets super().__init__(): the model is kept, and the first call fails inside nn.Module."""

    def __init__(self, model):
        self.model = model


SHARED = r"after a second SB3QNetwork was built around a model of Acrobot-v1, the first one no longer answered with " \
         r"its own model's Q-values: the model is kept outside the instance.*Hint: keep it on the instance"
FIRST_ROW = wrapper(lambda model, s: model.q_net(s.reshape(-1, s.shape[-1]))[0])
NAMED_WRAPPER_MISTAKES = [  # hidden set B: [0] applied to a batch, a copy of q_net made at construction
    (FIRST_ROW, r"for a \(6, 4\) batch SB3QNetwork returned the Q-values of its first state only, shape \(2,\): \[0\] "
                r"is applied to the batch.*Hint: index \[0\] only where"),
    (wrapper(lambda model, s: model.q_net(s.unsqueeze(0) if s.dim() == 1 else s)[0]), "of its first state only"),
    (KeepsACopy, r"after model.q_net's weights changed .*still gave the Q-values of the old weights: it keeps a copy "
                 r"of the network.*Hint: keep the model and call self.model.q_net"),
    (LoadsItsOwn, "the Q-values of the old weights"),
    (SharedModel, SHARED),  # hidden set C
    (wrapper(lambda model, s: model.q_net(s.unsqueeze(0)).squeeze(0) if s.dim() == 1 else model.q_net(s.unsqueeze(0))),
     r"for a \(6, 4\) batch your code raised RuntimeError: mat1 and mat2 shapes cannot be multiplied \(1x24 and "
     r"4x.*the batch got an extra leading dimension, \(1, 6, 4\).*Hint: add the batch dimension to a single state "
     r"only"),
    (GlobalModel, SHARED),
]


def test_right_wrappers_pass():
    check_sb3_wrapper(SB3QNetwork)
    check_sb3_wrapper(UNSQUEEZED)
    check_sb3_wrapper(FROM_THE_SPACE)


@pytest.mark.parametrize("wrong, words", [
    (wrapper(lambda model, s: torch.as_tensor(model.predict(s.numpy(), deterministic=True)[0])),
     r"actions \(model.predict\), not Q-values"),
    (wrapper(lambda model, s: model.q_net(s).max(dim=-1).values), "the largest Q-value, not the Q-value of every"),
    (wrapper(lambda model, s: model.q_net(s).numpy()), "not a NumPy array"),
    (wrapper(lambda model, s: model.q_net_target(s)), "from the target network"),
    (wrapper(lambda model, s: model.q_net(s) * 2), "not model.q_net's"),
    (wrapper(lambda model, s: model.q_net(s)), r"for one state \(4,\) your code raised .*Hint: reshape"),
    (wrapper(lambda model, s: model.q_net(s.reshape(-1, s.shape[-1]))),
     r"for one state \(4,\) SB3QNetwork returned a tensor of shape \(1, 2\)"),
    (SQUEEZED, r"for a batch of one state \(1, 4\) SB3QNetwork returned a tensor of shape \(2,\).*; expected a "
               r"\(1, 2\) tensor\. Hint: keep the batch dimension: squeeze\(\) drops every dimension of size 1"),
    # issue 18: CartPole's sizes written in
    (wrapper(lambda model, s: model.q_net(s.reshape(-1, 4)).reshape(*s.shape[:-1], -1)),
     r"with an SB3 model of Acrobot-v1 \(6 observations, 3 actions\), for a batch \(5, 6\) your code raised "
     r"RuntimeError: .*\(line \d+ of your code: .*a size of CartPole's \(4 observations or 2 actions\) is written in"),
    (wrapper(lambda model, s: model.q_net(s.reshape(-1, s.shape[-1])).reshape(*s.shape[:-1], 2)),
     r"Acrobot-v1 .*for a batch \(5, 6\) your code raised RuntimeError"),
    (NoSuperInit, r"your code raised AttributeError: 'NoSuperInit' object has no attribute '_\w+'.*Hint: an "
                  r"nn.Module subclass must call super\(\).__init__\(\) first in its __init__"),
    *NAMED_WRAPPER_MISTAKES,
])
def test_wrapper_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_sb3_wrapper(wrong)


def test_sb3_wrapper_in_grading_runs():
    for right in (SB3QNetwork, UNSQUEEZED, FROM_THE_SPACE):
        assert_graded(check_sb3_wrapper, (right,), "passed", seeds=range(3))
    assert_graded(check_sb3_wrapper, (wrapper(lambda model, s: model.q_net(s.reshape(-1, 4)).reshape(
        *s.shape[:-1], -1)),), "failed", "a size of CartPole's", seeds=range(3))
    assert_graded(check_sb3_wrapper, (SQUEEZED,), "failed", "squeeze() drops every dimension", seeds=range(3))
    assert_graded(check_sb3_wrapper, (wrapper(lambda model, s: model.q_net_target(s)),), "failed",
                  "from the target network", seeds=range(3))
    for wrong, words in ((FIRST_ROW, "of its first state only"), (KeepsACopy, "the Q-values of the old weights"),
                         (GlobalModel, "the model is kept outside the instance")):
        assert_graded(check_sb3_wrapper, (wrong,), "failed", words, seeds=range(2))
    notebook = capstone.wrapper_inputs(None)
    # looked up by the states and by the last bias of model.q_net, which changes when the check retrains the model
    table = {(states.shape, states.tobytes(), weights[-1][1].tobytes()): capstone._q_values(weights, torch.from_numpy(
        states).reshape(-1, states.shape[-1])).reshape(*states.shape[:-1], -1)
        for weights, batch in ((notebook["online"], notebook["states"]), (notebook["target"], notebook["states"]),
                               (notebook["other"]["online"], notebook["other"]["states"]))
        for states in (batch, batch[0], batch[:1])}
    hard_coded = wrapper(lambda model, s: table[(tuple(s.shape), s.numpy().tobytes(),
                                                 model.q_net.q_net[4].bias.detach().numpy().tobytes())])
    check_sb3_wrapper(hard_coded)  # passes in the notebook
    assert_graded(check_sb3_wrapper, (hard_coded,), "failed", seeds=range(3))
    verdict = graded(check_sb3_wrapper, 0, wrapper(lambda model, s: sb3_bridge.course_q_net(model)(s)))
    assert verdict["flags"] == ["calls the course's own `utils.sb3_bridge.course_q_net`"]  # which builds a BatchedQ


# --- objects posing as numbers ----------------------------------------------------------------

@pytest.mark.parametrize("config, verdict, named", [
    (lambda seed: dataclasses.replace(acrobot_config(seed), seed=Anything()), solved,
     r"acrobot_config\(3\) gave seed=a Python Anything; expected a plain int"),
    (acrobot_config, lambda returns, env_id: Anything(),
     r"solved\(returns, 'CartPole-v1'\) returned a Python Anything; expected True or False"),
])
def test_negative_reward_task_refuses_rigged_answers(config, verdict, named):
    with pytest.raises(CheckFailed, match=named):
        check_negative_reward_task(config, verdict)


@pytest.mark.parametrize("rigged", [Anything, RegisteredReal])
def test_count_bonus_refuses_an_object_posing_as_a_number(rigged):
    with pytest.raises(CheckFailed, match=f"count_bonus returned a Python {rigged.__name__}; expected a finite float"):
        check_count_bonus(lambda *args: (count_bonus(*args), rigged())[1])


class RiggingWrapper(SB3QNetwork):
    """Doubles the Q-values, after swapping the model's parameters for ones that say torch.allclose is True."""

    def __init__(self, model):
        super().__init__(model)
        rig_parameters(model.policy)

    def forward(self, states):
        return 2 * super().forward(states).as_subclass(torch.Tensor)


@pytest.mark.parametrize("rigged, named", [
    (wrapper(lambda model, s: model.q_net(s).as_subclass(AlwaysCloseTensor)),
     r"for a \(6, 4\) batch SB3QNetwork returned a Python AlwaysCloseTensor; expected a torch tensor"),
    (RiggingWrapper, "SB3QNetwork's Q-values are not model.q_net's"),
])
def test_wrapper_refuses_rigged_answers(rigged, named):
    with pytest.raises(CheckFailed, match=named):
        check_sb3_wrapper(rigged)
