"""Seeding: one seed for Python, NumPy, PyTorch and the environment."""
import functools
import random

import gymnasium as gym
import numpy as np
import torch

ENV_ID = "CartPole-v1"


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and PyTorch from one integer."""
    _require_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_env(seed: int, render: bool = False, max_episode_steps: int | None = None,
             env_id: str = ENV_ID) -> gym.Env:
    """Return an `env_id` env (CartPole-v1 by default) whose episodes and action-space samples are fixed by `seed`.

    `render=True` gives `rgb_array` frames (no display needed). The first `env.reset()`
    you call starts an episode drawn from the seeded generator.
    """
    _require_seed(seed)
    kwargs = {"render_mode": "rgb_array"} if render else {}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


@functools.lru_cache(maxsize=None)
def env_dimensions(env_id: str) -> tuple:
    """(obs_dim, n_actions) of a registered gymnasium env with a flat Box observation and Discrete actions.

    Anything else raises a ValueError saying why: a DQN needs one Q-value per action
    and a vector to feed its network.
    """
    if env_id not in gym.registry:
        raise ValueError(f"env_id {env_id!r} is not registered in gymnasium (e.g. 'CartPole-v1', "
                         "'Acrobot-v1', 'MountainCar-v0')")
    env = gym.make(env_id)
    observations, actions = env.observation_space, env.action_space
    env.close()
    if not isinstance(actions, gym.spaces.Discrete):
        raise ValueError(f"env_id {env_id!r} has {type(actions).__name__} actions; DQN needs Discrete ones")
    if not isinstance(observations, gym.spaces.Box) or len(observations.shape) != 1:
        raise ValueError(f"env_id {env_id!r} has observations {observations}; DQN here needs a 1-D Box")
    return observations.shape[0], int(actions.n)


def _require_seed(seed) -> None:
    """Reject seeds that are not non-negative integers, with a message saying so."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
