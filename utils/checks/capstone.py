"""Checks for notebook 8: a task whose reward is negative per step, and Stable-Baselines3 behind the course's evaluate."""
import gymnasium as gym
import numpy as np
import torch

from utils.checks.core import Mistake, exercise, expect, name_the_mistake, plain_number, plain_tensor
from utils.checks.tensors import describe
from utils.dqn import CountBonus, DQNConfig

ACROBOT = "Acrobot-v1"
CARTPOLE = "CartPole-v1"
BUDGET = 150_000
"""The most environment steps exercise 8.1 may give Acrobot (a few minutes on a laptop)."""


# --- 8.1 a reward that is negative per step --------------------------------------------------

@exercise("8.1", "acrobot_config / solved")
def check_negative_reward_task(acrobot_config, solved) -> None:
    """The config must target Acrobot and stop at its threshold; the verdict must work for any task."""
    _check_acrobot_config(acrobot_config)
    _check_solved(solved)


def _check_acrobot_config(acrobot_config) -> None:
    """acrobot_config(seed): a DQNConfig for Acrobot-v1 with that seed, stopping at -100, within the budget."""
    config = acrobot_config(3)
    expect(type(config) is DQNConfig, f"acrobot_config(3) returned {describe(config)}; expected a DQNConfig.",
           "return DQNConfig(seed=seed, env_id=\"Acrobot-v1\", ...).")
    # A dataclass takes any object in any field: those compared below must be plain values first.
    odd = next((name for name, types in (("seed", (int,)), ("env_id", (str,)), ("max_env_steps", (int,)),
                                         ("stop_return", (int, float, type(None))))
                if type(getattr(config, name)) not in types), None)
    expect(odd is None, f"acrobot_config(3) gave {odd}={describe(getattr(config, odd or 'seed'))}; expected a plain "
           "int, float or str, as DQNConfig's defaults are.", "pass plain values: DQNConfig(seed=seed, ...).")
    expect(config.seed == 3, f"acrobot_config(3) gave seed={config.seed}.", "pass the seed on: DQNConfig(seed=seed, ...).")
    expect(config.env_id == ACROBOT, f"acrobot_config(3) trains on {config.env_id!r}.", f"env_id=\"{ACROBOT}\".")
    threshold = gym.spec(ACROBOT).reward_threshold
    if config.stop_return != threshold:
        name_the_mistake(lambda value: config.stop_return == value, {
            "stop_return is still CartPole's 500: Acrobot's returns are never above 0, so the greedy checks would "
            "never stop training. Hint: stop at Acrobot's registered threshold, gym.spec(\"Acrobot-v1\")."
            "reward_threshold.": 500.0,
            "stop_return is +100: Acrobot's returns are minus the number of steps, never positive. Hint: its "
            "threshold is -100 (a swing-up in 100 steps on average).": -threshold,
            "stop_return is None: no greedy check can ever stop training, so every run takes the whole budget. "
            "Hint: stop at the task's threshold, -100.": None,
        }, f"stop_return is {config.stop_return!r}; expected Acrobot's threshold {threshold}. Hint: "
           "gym.spec(\"Acrobot-v1\").reward_threshold.")
    expect(config.max_env_steps <= BUDGET, f"max_env_steps is {config.max_env_steps:,}, more than the "
           f"{BUDGET:,} this exercise allows.", "Acrobot is solved well within 100,000 steps.")


def verdict_cases() -> list:
    """(returns, env_id, expected verdict) cases that tell the usual mistakes apart."""
    return [
        (np.full(100, 500.0), CARTPOLE, True),
        (np.full(100, 474.0), CARTPOLE, False),
        (np.full(100, -90.0), ACROBOT, True),
        (np.full(100, -100.0), ACROBOT, True),       # at the threshold: solved (≥)
        (np.full(100, -130.0), ACROBOT, False),
        (np.r_[np.full(60, -80.0), np.full(40, -140.0)], ACROBOT, False),  # mean -104, median -80
    ]


def _verdict(solved, returns, env_id) -> bool:
    """The student's verdict on one case, which must be a bool."""
    verdict = solved(returns.copy(), env_id)
    expect(type(verdict) in (bool, np.bool_), f"solved(returns, {env_id!r}) returned {describe(verdict)}; "
           "expected True or False.", "return the comparison itself: bool(np.mean(returns) >= threshold).")
    return bool(verdict)


def _check_solved(solved) -> None:
    """solved(returns, env_id): the mean return reaches the env's registered threshold, for any task."""
    cases = verdict_cases()
    got = [_verdict(solved, returns, env_id) for returns, env_id, _ in cases]
    expected = [verdict for *_, verdict in cases]
    if got == expected:
        return
    shown = ", ".join(f"{env_id.split('-')[0]} mean {returns.mean():g}: {verdict}"
                      for (returns, env_id, _), verdict in zip(cases, got))

    def verdicts(rule) -> list:
        """The verdicts a wrong rule gives on the cases."""
        return [bool(rule(returns, gym.spec(env_id).reward_threshold)) for returns, env_id, _ in cases]

    name_the_mistake(lambda value: got == value, {
        "the threshold is CartPole's 475 for every task. Hint: read the task's own threshold, "
        "gym.spec(env_id).reward_threshold (-100 for Acrobot).": verdicts(lambda r, t: r.mean() >= 475),
        # abs(mean) >= abs(threshold) gives the same verdicts as the reversed inequality on negative returns.
        "for negative returns the comparison is reversed (or compares sizes, with abs): in Acrobot too a higher "
        "return, closer to 0 (fewer steps), is better, so -90 beats -130. Hint: solved when mean >= threshold, "
        "signs kept.": verdicts(lambda r, t: r.mean() >= t if t > 0 else r.mean() <= t),
        "a mean exactly at the threshold is not counted as solved. Hint: use >=, not >.":
            verdicts(lambda r, t: r.mean() > t),
        "it uses the median, not the mean. Hint: np.mean(returns) >= threshold.":
            verdicts(lambda r, t: np.median(r) >= t),
    }, f"solved gave {shown}; expected {expected}. Hint: np.mean(returns) >= gym.spec(env_id).reward_threshold.",
        returned=f"solved gave {shown}: ")


# --- 8.2 a count-based exploration bonus -------------------------------------------------

BONUS_LOW, BONUS_HIGH, BONUS_BINS, BONUS_BETA = np.array([-1.2, -0.07]), np.array([0.6, 0.07]), 4, 0.5
"""MountainCar's observation bounds, a coarse 4 x 4 grid and β: every cell index is easy to follow."""


def bonus_states() -> list:
    """A walk of MountainCar states that revisits cells, crosses a cell boundary and ends on the upper bounds.

    [-0.7, 0] shares [-0.5, 0]'s cell when indices are floored but not when they are rounded.
    """
    return [np.array(s) for s in ([-0.5, 0.0], [-0.49, 0.001], [-0.5, 0.0], [-0.7, 0.0], [-0.74, -0.02], [-0.75, -0.02],
                                  [0.2, 0.05], [0.6, 0.07], [0.59, 0.069], [-0.5, 0.0])]


@exercise("8.2", "count_bonus")
def check_count_bonus(count_bonus) -> None:
    """Feed a walk of states; each bonus must be β/√N with N the visits to the state's cell, this one included."""
    reference = CountBonus(BONUS_LOW, BONUS_HIGH, BONUS_BINS, BONUS_BETA)  # the course's own, counting alongside
    counts, got, expected = {}, [], []
    for state in bonus_states():
        try:
            value = count_bonus(counts, state.copy(), BONUS_LOW, BONUS_HIGH, BONUS_BINS, BONUS_BETA)
        except ZeroDivisionError:
            raise Mistake("count_bonus divided by a count of 0: the visit is counted after the bonus is computed. "
                          "Hint: add 1 to the cell's count first, then return beta / sqrt(count).") from None
        hint = "count the visit first (the first visit gives N = 1, not 0), then return beta / sqrt(count)."
        value = float(plain_number(value, "count_bonus returned", f"a finite float (for state {state.tolist()})", hint))
        expect(np.isfinite(value), f"count_bonus returned {value} for state {state.tolist()}; expected a finite "
               "float.", hint)
        got.append(value)
        expected.append(reference(state))
    if np.allclose(got, expected):
        expect(len(counts) == len(reference.counts), f"the counts dict has {len(counts)} cells after visiting "
               f"{len(reference.counts)}.", "one key per grid cell, e.g. a tuple of the cell indices.")
        return
    visits = [BONUS_BETA ** 2 / value ** 2 for value in expected]  # N for each step, from β/√N
    # Each mistake maps to the bonus lists it can produce (rounding with or without clipping).
    name_the_mistake(lambda candidates: any(np.allclose(got, c) for c in candidates), {
        "the bonus is β/N, not β/√N: it fades too fast. Hint: beta / np.sqrt(count).":
            [[BONUS_BETA / n for n in visits]],
        "the bonus never fades: the counts are not updated. Hint: counts[cell] = counts.get(cell, 0) + 1.":
            [[BONUS_BETA] * len(visits)],
        "the cell indices are rounded, not floored: a cell is [low + k * size, low + (k + 1) * size). Hint: "
        "np.floor((state - low) / cell_size), clipped to 0 .. bins - 1.": [_bonuses_by(np.round, clip)
                                                                    for clip in (False, True)],
        "a state on the upper bound falls outside the grid: clip the cell indices to 0 .. bins - 1. Hint: "
        "np.clip(np.floor((state - low) / cell_size), 0, bins - 1).": [_bonuses_by(np.floor, clip=False)],
    }, f"count_bonus gave {np.round(got, 3).tolist()}; expected β/√N: {np.round(expected, 3).tolist()}. Hint: "
       "cell = floor((state - low) / ((high - low) / bins)) per coordinate, clipped to the grid.",
        returned=f"count_bonus gave {np.round(got, 3).tolist()}: ")


def _bonuses_by(to_index, clip: bool) -> list:
    """The bonuses if cells were `to_index((state - low) / cell size)`, clipped into the grid or not."""
    cell_size = (BONUS_HIGH - BONUS_LOW) / BONUS_BINS
    counts, bonuses = {}, []
    for state in bonus_states():
        index = to_index((state - BONUS_LOW) / cell_size)
        cell = tuple((np.clip(index, 0, BONUS_BINS - 1) if clip else index).astype(int).tolist())
        counts[cell] = counts.get(cell, 0) + 1
        bonuses.append(BONUS_BETA / np.sqrt(counts[cell]))
    return bonuses


# --- 8.3 an SB3 model behind the course's evaluate ---------------------------------------------

def untrained_sb3_model(seed: int = 0):
    """A small SB3 DQN on CartPole with seeded random weights (no training needed to test a wrapper)."""
    from stable_baselines3 import DQN

    return DQN("MlpPolicy", gym.make(CARTPOLE), policy_kwargs={"net_arch": [32, 32]}, seed=seed, device="cpu")


@exercise("8.3", "SB3QNetwork")
def check_sb3_wrapper(wrapper_class) -> None:
    """The wrapper must return the online network's Q-values, as a tensor, for a batch and for one state."""
    model = untrained_sb3_model()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        states = torch.randn(6, 4)
    with torch.no_grad():  # before the student's code runs: it could swap the model's parameters for rigged ones
        _perturb(model.q_net_target)  # so that reading the target network shows
        q_values, target_q_values = model.q_net(states), model.q_net_target(states)
    net = wrapper_class(model)
    expect(isinstance(net, torch.nn.Module), f"SB3QNetwork(model) built {describe(net)}; expected an nn.Module.",
           "class SB3QNetwork(nn.Module), calling super().__init__() first.")
    with torch.no_grad():
        got = net(states)
    got = plain_tensor(got, "for a (6, 4) batch SB3QNetwork returned", "a torch tensor of Q-values",
                       "return model.q_net(states) itself, not a NumPy array.")
    if tuple(got.shape) == (6,):
        raise Mistake("SB3QNetwork returned one number per state: actions (model.predict), not Q-values. Hint: "
                      "the course's evaluate takes the argmax itself; return model.q_net(states), shape (B, 2).")
    expect(tuple(got.shape) == (6, 2), f"SB3QNetwork returned shape {tuple(got.shape)} for a (6, 4) batch; "
           "expected (6, 2).", "one Q-value per action: model.q_net(states).")
    if not torch.allclose(got, q_values, atol=1e-6):
        raise Mistake("SB3QNetwork's Q-values are not model.q_net's" + (
            ": they come from the target network. Hint: act with the online network, model.q_net."
            if torch.allclose(got, target_q_values, atol=1e-6) else
            ". Hint: return model.q_net(states) unchanged."))
    one = net(states[0])
    expect(type(one) is torch.Tensor and tuple(one.shape) == (2,), f"for one state (4,) SB3QNetwork "
           f"returned {describe(one)}; expected a (2,) tensor, as the course's greedy_action needs.",
           "reshape to (-1, obs_dim) before model.q_net and back to the state's leading shape after.")


def _perturb(network: torch.nn.Module) -> None:
    """Shift every parameter of `network`, so that Q-values read from it differ from the online net's."""
    for parameter in network.parameters():
        parameter.add_(0.5)
