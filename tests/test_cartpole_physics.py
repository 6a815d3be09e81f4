"""CartPole stepped as arrays (utils.cartpole_physics): the returns of stepping each env, bit for bit."""
import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from utils.cartpole_physics import cartpole_greedy_returns, one_physics
from utils.evaluation import SHIPPED_CHECKPOINT, greedy_returns, load_checkpoint, stepped_greedy_returns
from utils.networks import QNetwork
from utils.seeding import make_env


def perturbed(q_net, scale: float, seed: int):
    """A copy of `q_net` with Gaussian noise of `scale` on every weight: a policy between good and bad."""
    generator = torch.Generator().manual_seed(seed)
    noisy = copy.deepcopy(q_net)
    with torch.no_grad():
        for parameter in noisy.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return noisy


def networks() -> dict:
    """Policies whose episodes end early, in between, and never (500 steps, the time limit)."""
    torch.manual_seed(0)
    shipped = load_checkpoint(SHIPPED_CHECKPOINT)[0]
    return {"untrained": QNetwork(), "shipped": shipped, "shipped + noise 0.05": perturbed(shipped, 0.05, 1),
            "shipped + noise 0.1": perturbed(shipped, 0.1, 2)}


NETWORKS = networks()


@pytest.mark.parametrize("name", NETWORKS)
def test_arrays_give_each_envs_own_returns_episode_after_episode(name):
    q_net = NETWORKS[name]
    stepped, arrays = ([make_env(1000 + i) for i in range(40)] for _ in range(2))
    for _ in range(2):  # the second round plays each env's next episode
        expected = stepped_greedy_returns(q_net, stepped)
        assert cartpole_greedy_returns(q_net, arrays).tolist() == expected.tolist()
    assert len(set(expected)) > 1 or set(expected) == {500.0}


def test_the_policies_cover_short_middle_and_full_episodes():
    returns = np.concatenate([stepped_greedy_returns(q_net, [make_env(1000 + i) for i in range(40)])
                              for q_net in NETWORKS.values()])
    assert returns.min() < 20 and returns.max() == 500 and np.any((returns > 100) & (returns < 500))


def test_a_shorter_time_limit_is_kept():
    q_net = NETWORKS["shipped"]
    envs = [make_env(i, max_episode_steps=50) for i in range(3)]
    assert one_physics(envs) and greedy_returns(q_net, envs).tolist() == [50.0] * 3


@pytest.mark.parametrize("change", ["gravity", "other env", "mixed limits", "extra wrapper", "semi-implicit"])
def test_anything_but_plain_cartpoles_is_stepped_env_by_env(change):
    envs = [make_env(i) for i in range(3)]
    if change == "gravity":
        envs[1].unwrapped.gravity = 20.0
    elif change == "other env":
        envs = [make_env(i, env_id="Acrobot-v1") for i in range(3)]
    elif change == "mixed limits":
        envs[2] = make_env(2, max_episode_steps=100)
    elif change == "extra wrapper":
        envs[0] = gym.wrappers.ClipReward(envs[0], 0.0, 0.5)
    else:
        envs[0].unwrapped.kinematics_integrator = "semi-implicit euler"
    assert not one_physics(envs)
