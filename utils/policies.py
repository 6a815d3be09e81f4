"""Action selection: greedy, ε-greedy, and the linear ε schedule."""
import numpy as np
import torch
from torch import nn


def greedy_action(q_net: nn.Module, state) -> int:
    """The action with the highest Q-value in `state` (array-like of shape (obs_dim,))."""
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(state, dtype=torch.float32))
    return int(q_values.argmax())


def greedy_actions(q_net: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """The greedy action for each row of `states` (B, obs_dim), as a (B,) int64 tensor."""
    if not isinstance(states, torch.Tensor) or states.dim() != 2:
        raise ValueError(f"states must be a 2-D tensor (B, obs_dim), got {_describe(states)}")
    with torch.no_grad():
        return q_net(states).argmax(dim=1)


def epsilon_schedule(step: int, start: float, end: float, decay_steps: int) -> float:
    """ε after `step` global steps: linear from `start` to `end` over `decay_steps`, then `end`."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be a non-negative integer (global env steps), got {step!r}")
    if isinstance(decay_steps, bool) or not isinstance(decay_steps, (int, np.integer)) or decay_steps <= 0:
        raise ValueError(f"decay_steps must be a positive integer, got {decay_steps!r}")
    fraction = min(step / decay_steps, 1.0)
    return start + fraction * (end - start)


def epsilon_greedy_action(q_net: nn.Module, state, epsilon: float, rng: np.random.Generator) -> int:
    """With probability `epsilon` a uniformly random action from `rng`, else the greedy one.

    Draws `rng.random()` once per call and, when exploring, `rng.integers(n_actions)`.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be a probability in [0, 1], got {epsilon!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if rng.random() < epsilon:
        return int(rng.integers(_n_actions(q_net, state)))
    return greedy_action(q_net, state)


def _n_actions(q_net: nn.Module, state) -> int:
    """Number of actions `q_net` scores: its `n_actions` attribute, else one forward pass."""
    n_actions = getattr(q_net, "n_actions", None)
    if n_actions is None:
        with torch.no_grad():
            n_actions = q_net(torch.as_tensor(state, dtype=torch.float32)).shape[-1]
    return int(n_actions)


def _describe(value) -> str:
    """Type and shape of `value`, for error messages."""
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} of shape {tuple(shape)}" if shape is not None else type(value).__name__
