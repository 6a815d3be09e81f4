"""Seeding: one seed for Python, NumPy, PyTorch and the environment."""
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


def make_env(seed: int, render: bool = False, max_episode_steps: int | None = None) -> gym.Env:
    """Return a CartPole-v1 whose episodes and action-space samples are fixed by `seed`.

    `render=True` gives `rgb_array` frames (no display needed). The first `env.reset()`
    you call starts an episode drawn from the seeded generator.
    """
    _require_seed(seed)
    kwargs = {"render_mode": "rgb_array"} if render else {}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    env = gym.make(ENV_ID, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def _require_seed(seed) -> None:
    """Reject seeds that are not non-negative integers, with a message saying so."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
