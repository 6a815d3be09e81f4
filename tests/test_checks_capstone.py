"""Checks of notebook 8: right answers pass, typical mistakes are named."""
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from utils.checks import CheckFailed
from utils.checks.capstone import check_count_bonus, check_negative_reward_task, check_sb3_wrapper
from utils.dqn import DQNConfig
from test_checks_core import AlwaysCloseTensor, Anything, RegisteredReal, rig_parameters


# --- 8.1 ----------------------------------------------------------------------------------------

def acrobot_config(seed):
    """The course's recipe on Acrobot, stopping at its threshold."""
    return DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=gym.spec("Acrobot-v1").reward_threshold)


def solved(returns, env_id):
    """Mean return at or above the task's registered threshold."""
    return bool(np.mean(returns) >= gym.spec(env_id).reward_threshold)


def test_right_answers_pass(capsys):
    check_negative_reward_task(acrobot_config, solved)
    check_negative_reward_task(lambda seed: dataclasses.replace(acrobot_config(seed), lr=1e-3),
                               lambda r, e: np.asarray(r).mean() >= gym.spec(e).reward_threshold)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("config, words", [
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1"), "still CartPole's 500"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=100.0), r"stop_return is \+100"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=None), "stop_return is None"),
    (lambda seed: DQNConfig(seed=seed, stop_return=-100.0), "trains on 'CartPole-v1'"),
    (lambda seed: DQNConfig(seed=0, env_id="Acrobot-v1", stop_return=-100.0), "gave seed=0"),
    (lambda seed: DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=-100.0, max_env_steps=500_000),
     "more than the 150,000"),
    (lambda seed: {"env_id": "Acrobot-v1"}, "expected a DQNConfig"),
])
def test_config_mistakes_are_named(config, words):
    with pytest.raises(CheckFailed, match=words):
        check_negative_reward_task(config, solved)


@pytest.mark.parametrize("verdict, words", [
    (lambda r, e: bool(np.mean(r) >= 475), "CartPole's 475 for every task"),
    (lambda r, e: bool(np.mean(r) <= gym.spec(e).reward_threshold if gym.spec(e).reward_threshold < 0
                       else np.mean(r) >= gym.spec(e).reward_threshold), "comparison is reversed"),
    (lambda r, e: bool(abs(np.mean(r)) >= abs(gym.spec(e).reward_threshold)), "compares sizes, with abs"),
    (lambda r, e: bool(np.mean(r) > gym.spec(e).reward_threshold), "use >=, not >"),
    (lambda r, e: bool(np.median(r) >= gym.spec(e).reward_threshold), "median"),
    (lambda r, e: np.mean(r) - gym.spec(e).reward_threshold, "expected True or False"),
])
def test_verdict_mistakes_are_named(verdict, words):
    with pytest.raises(CheckFailed, match=words):
        check_negative_reward_task(acrobot_config, verdict)


# --- 8.2 ----------------------------------------------------------------------------------------

def count_bonus(counts, state, low, high, bins, beta):
    """β/√N, N the visits to the state's grid cell, this one included."""
    cell = tuple(np.clip(((state - low) // ((high - low) / bins)).astype(int), 0, bins - 1).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


def count_bonus_with_floor(counts, state, low, high, bins, beta):
    """The same with np.floor and a string key: any key per cell is fine."""
    index = np.minimum(np.floor((state - low) / (high - low) * bins), bins - 1).astype(int)
    key = ",".join(map(str, np.maximum(index, 0)))
    counts[key] = counts.get(key, 0) + 1
    return float(beta * counts[key] ** -0.5)


def count_bonus_rounded(counts, state, low, high, bins, beta):
    """Cells by rounding: the boundaries move by half a cell."""
    cell = tuple(np.clip(np.round((state - low) / ((high - low) / bins)), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])


def make_bonus(power=0.5, count_first=True, update=True, clip=True):
    """A count bonus with one part done the usual wrong way."""
    def bonus(counts, state, low, high, bins, beta):
        index = ((state - low) // ((high - low) / bins)).astype(int)
        cell = tuple((np.clip(index, 0, bins - 1) if clip else index).tolist())
        seen = counts.get(cell, 0)
        if update:
            counts[cell] = seen + 1
        n = counts.get(cell, 1) if count_first else np.float64(seen)  # NumPy: 0 gives inf, with a warning
        with np.errstate(divide="ignore"):
            return beta / n ** power
    return bonus


def test_right_bonuses_pass():
    check_count_bonus(count_bonus)
    check_count_bonus(count_bonus_with_floor)


@pytest.mark.parametrize("wrong, words", [
    (make_bonus(power=1.0), r"β/N, not β/√N"),
    (make_bonus(count_first=False), "count the visit first"),
    (lambda counts, state, low, high, bins, beta: beta / counts.get(0, 0) ** 0.5, "counted after the bonus"),
    (make_bonus(update=False), "never fades"),
    (make_bonus(clip=False), "upper bound falls outside the grid"),
    (lambda counts, state, low, high, bins, beta: count_bonus_rounded(counts, state, low, high, bins, beta),
     "rounded, not floored"),
    (lambda counts, state, low, high, bins, beta: np.array([beta]), "expected a finite float"),
])
def test_bonus_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_count_bonus(wrong)


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


def test_right_wrappers_pass():
    check_sb3_wrapper(SB3QNetwork)
    check_sb3_wrapper(wrapper(lambda model, s: model.q_net(s.unsqueeze(0)).squeeze(0) if s.dim() == 1
                              else model.q_net(s)))


@pytest.mark.parametrize("wrong, words", [
    (wrapper(lambda model, s: torch.as_tensor(model.predict(s.numpy(), deterministic=True)[0])),
     "actions \\(model.predict\\), not Q-values"),
    (wrapper(lambda model, s: model.q_net(s).numpy()), "not a NumPy array"),
    (wrapper(lambda model, s: model.q_net_target(s)), "from the target network"),
    (wrapper(lambda model, s: model.q_net(s) * 2), "not model.q_net's"),
    (wrapper(lambda model, s: model.q_net(s)), "your code raised"),  # fails on one state
])
def test_wrapper_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_sb3_wrapper(wrong)


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
