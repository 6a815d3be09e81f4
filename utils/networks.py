"""The Q-network: a small multilayer perceptron from a state to one value per action."""
import torch
from torch import nn


class QNetwork(nn.Module):
    """obs_dim → hidden → hidden → n_actions, ReLU between layers, linear output."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 128):
        """Build the three linear layers (17,410 parameters with the defaults)."""
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("n_actions", n_actions), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.hidden = hidden
        self.layers = nn.Sequential(
            nn.Linear(obs_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_actions),
        )

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Map states (..., obs_dim) to Q-values (..., n_actions); no activation on the output."""
        return self.layers(states)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (elements of tensors with requires_grad) in `module`."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
