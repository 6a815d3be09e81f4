"""Greedy evaluation, the solved criterion, and saving/loading trained Q-networks."""
import dataclasses
import io
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from utils.cartpole_physics import cartpole_greedy_returns, one_physics
from utils.networks import q_network_for
from utils.policies import greedy_actions
from utils.seeding import ENV_ID, env_dimensions, make_env


def reward_threshold(env_id: str = ENV_ID) -> float:
    """The mean return at which gymnasium counts `env_id` as solved; an env without one raises a ValueError.

    CartPole-v1 475, Acrobot-v1 −100, MountainCar-v0 −110.
    """
    threshold = gym.spec(env_id).reward_threshold
    if threshold is None:
        raise ValueError(f"{env_id} has no registered reward_threshold")
    return float(threshold)


REWARD_THRESHOLD = reward_threshold(ENV_ID)
"""CartPole-v1 counts as solved at a mean return of 475 over 100 episodes (v0's was 195)."""

EVAL_SEED = 2_000_000_000
"""Environment seed of evaluation episodes: far above any training seed (see utils.dqn)."""

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "dqn_cartpole.pt"
"""The course's CartPole agent (`make checkpoint` reproduces it): notebook 6 shows it until a student has their own."""

CHECKPOINT_FORMAT = "dqn-cartpole-checkpoint/1"

LATER_CONFIG_FIELDS = ("dueling", "n_step", "prioritized", "per_alpha", "per_beta_start", "per_eps", "env_id",
                       "count_bonus", "count_bins")
"""DQNConfig fields added after the format's first checkpoints: recorded only when not at their default."""


def greedy_returns(q_net: nn.Module, envs: list) -> np.ndarray:
    """Play one greedy episode on each env of `envs`, all in step; return their returns.

    Stepping the episodes together lets one forward pass choose every env's action.
    CartPoles as `gym.make` builds them are stepped as arrays (utils.cartpole_physics),
    with the same returns as `stepped_greedy_returns`, several times faster.
    """
    if one_physics(envs):
        return cartpole_greedy_returns(q_net, envs)
    return stepped_greedy_returns(q_net, envs)


def stepped_greedy_returns(q_net: nn.Module, envs: list) -> np.ndarray:
    """`greedy_returns` for any envs: each env reset, then stepped by its own `step`."""
    states = np.stack([env.reset()[0] for env in envs])
    returns = np.zeros(len(envs))
    running = np.ones(len(envs), dtype=bool)
    while running.any():
        actions = greedy_actions(q_net, torch.as_tensor(states)).tolist()
        for i in np.flatnonzero(running):
            states[i], reward, terminated, truncated, _ = envs[i].step(actions[i])
            returns[i] += reward
            # A perfect CartPole policy is truncated at 500 steps, never terminated.
            running[i] = not (terminated or truncated)
    return returns


def evaluate(q_net: nn.Module, n_episodes: int = 100, seed: int = EVAL_SEED, env_id: str = ENV_ID) -> np.ndarray:
    """Greedy returns of `n_episodes` episodes of `env_id`, episode i on env seed `seed + i`.

    The default seeds are disjoint from every training and greedy-check seed (utils.dqn).
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes <= 0:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    envs = [make_env(seed + i, env_id=env_id) for i in range(n_episodes)]
    try:
        return greedy_returns(q_net, envs)
    finally:
        for env in envs:
            env.close()


def is_solved(returns, threshold: float = REWARD_THRESHOLD) -> bool:
    """True when the mean of `returns` reaches `threshold` (default 475, CartPole-v1's; see `reward_threshold`)."""
    returns = np.asarray(returns, dtype=float)
    if returns.ndim != 1 or returns.size == 0:
        raise ValueError(f"returns must be a non-empty 1-D sequence, got shape {returns.shape}")
    return bool(returns.mean() >= threshold)


def config_record(config) -> dict:
    """`config` as a checkpoint records it: every field, except LATER_CONFIG_FIELDS left at their default.

    A config of the recipe thus gives the same dict, hence the same checkpoint bytes, as
    before those fields existed: the shipped checkpoint stays byte-identical to a retrain
    (`python -m tools.train_checkpoint --verify`). `load_checkpoint` fills in what is absent.
    """
    defaults = {field.name: field.default for field in dataclasses.fields(config)}
    return {name: value for name, value in dataclasses.asdict(config).items()
            if name not in LATER_CONFIG_FIELDS or value != defaults[name]}


def save_checkpoint(path, q_net: nn.Module, config) -> None:
    """Write `q_net`'s weights and its training config (`config_record`) to `path`; same inputs, same bytes."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "config": config_record(config),
        "state_dict": {name: t.detach().clone() for name, t in q_net.state_dict().items()},
    }
    # Serialising to memory first keeps the archive's inner name fixed, whatever the path.
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    Path(path).write_bytes(buffer.getvalue())


def load_checkpoint(path):
    """Read a file written by `save_checkpoint`: returns `(q_net, config)`, q_net in eval mode.

    Config fields the file does not record take their defaults (see `config_record`), so
    checkpoints written before a field existed still load.
    """
    # Imported here: utils.dqn imports this module for its greedy checks.
    from utils.dqn import DQNConfig

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint (corrupt or not a torch file): "
                         f"{type(error).__name__}: {str(error).splitlines()[0]}") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint (written by "
                         "utils.evaluation.save_checkpoint)")
    config_fields = {f.name for f in dataclasses.fields(DQNConfig)}
    unknown = sorted(set(checkpoint["config"]) - config_fields)
    if unknown:
        raise ValueError(f"{path} has config fields this DQNConfig does not know: {unknown}")
    config = DQNConfig(**checkpoint["config"])
    q_net = q_network_for(config, *env_dimensions(config.env_id))
    try:
        q_net.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{path}: weights do not fit {type(q_net).__name__}(hidden={config.hidden}): "
                         f"{str(error).splitlines()[-1].strip()}") from error
    return q_net.eval(), config
