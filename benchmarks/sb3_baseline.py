"""Stable-Baselines3 DQN with the rl-baselines3-zoo hyperparameters for CartPole-v1.

The settings below are the zoo's published ones (rl-baselines3-zoo, hyperparams/dqn.yml,
entry CartPole-v1): 5e4 timesteps, MlpPolicy with net_arch [256, 256], learning rate
2.3e-3, batch 64, buffer 100,000, learning_starts 1,000, gamma 0.99,
target_update_interval 10, train_freq 256, gradient_steps 128, exploration_fraction 0.16,
exploration_final_eps 0.04. Install with `pip install -r requirements-bench.txt`.
"""
import time

import torch
from torch import nn

from utils.seeding import make_env, seed_everything

ZOO_TIMESTEPS = 50_000
ZOO_CARTPOLE_DQN = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1_000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)

INSTALL_HINT = ("the sb3 baseline needs stable-baselines3, a benchmark-only extra: run `make bench`, "
                "or `.venv/bin/pip install -r requirements-bench.txt`")


def sb3_available() -> bool:
    """True when stable_baselines3 can be imported."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return False
    return True


class BatchedQ(nn.Module):
    """Wrap SB3's q_net so it takes one state (obs_dim,) or a batch, like utils' QNetwork."""

    def __init__(self, q_net: nn.Module, obs_dim: int):
        """Keep the SB3 network and the state size."""
        super().__init__()
        self.q_net = q_net
        self.obs_dim = obs_dim

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values with the same leading shape as `states`."""
        q_values = self.q_net(states.reshape(-1, self.obs_dim))
        return q_values.reshape(*states.shape[:-1], -1)


def train_sb3(seed: int, num_threads: int = 1) -> dict:
    """Train SB3 DQN with the zoo settings for 50k steps on make_env(seed); return the run."""
    from stable_baselines3 import DQN

    torch.set_num_threads(num_threads)
    seed_everything(seed)
    env = make_env(seed)
    model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **ZOO_CARTPOLE_DQN)
    start = time.perf_counter()
    model.learn(total_timesteps=ZOO_TIMESTEPS)
    wall_s = time.perf_counter() - start
    env.close()
    q_net = BatchedQ(model.q_net, env.observation_space.shape[0]).eval()
    return {"q_net": q_net, "env_steps": int(model.num_timesteps), "updates": int(model._n_updates),
            "wall_s": wall_s}
