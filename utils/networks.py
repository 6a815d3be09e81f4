"""Q-networks: small multilayer perceptrons from a state to one value per action."""
import torch
from torch import nn


class QNetwork(nn.Module):
    """obs_dim → hidden → hidden → n_actions, ReLU between layers, linear output."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 128):
        """Build the three linear layers (17,410 parameters with the defaults)."""
        super().__init__()
        _keep_sizes(self, obs_dim, n_actions, hidden)
        self.layers = nn.Sequential(*_hidden_layers(obs_dim, hidden), nn.Linear(hidden, n_actions))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Map states (..., obs_dim) to Q-values (..., n_actions); no activation on the output."""
        return self.layers(states)


class DuelingQNetwork(nn.Module):
    """Dueling architecture (Wang et al., 2016): a shared trunk, then a value head and an advantage head.

    Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a') (their equation 9). V and A alone are not
    identifiable from Q (a constant can move between them); subtracting the mean advantage
    pins them down, so V(s) estimates the state's value and the advantages average to zero.
    """

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 128):
        """Build the trunk (the same two hidden layers as QNetwork) and the two heads (17,539 parameters)."""
        super().__init__()
        _keep_sizes(self, obs_dim, n_actions, hidden)
        self.trunk = nn.Sequential(*_hidden_layers(obs_dim, hidden))
        self.value_head = nn.Linear(hidden, 1)
        self.advantage_head = nn.Linear(hidden, n_actions)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Map states (..., obs_dim) to Q-values (..., n_actions) = V + A − mean over actions of A."""
        features = self.trunk(states)
        advantages = self.advantage_head(features)
        return self.value_head(features) + advantages - advantages.mean(dim=-1, keepdim=True)


def q_network_for(config, obs_dim: int = 4, n_actions: int = 2) -> nn.Module:
    """The Q-network `config` asks for: DuelingQNetwork if `config.dueling`, else QNetwork, `config.hidden` wide."""
    network = DuelingQNetwork if config.dueling else QNetwork
    return network(obs_dim, n_actions, config.hidden)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (elements of tensors with requires_grad) in `module`."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _keep_sizes(network: nn.Module, obs_dim: int, n_actions: int, hidden: int) -> None:
    """Check the sizes are positive integers and keep them on the network, where callers read them."""
    _require_positive_sizes(obs_dim=obs_dim, n_actions=n_actions, hidden=hidden)
    network.obs_dim, network.n_actions, network.hidden = obs_dim, n_actions, hidden


def _hidden_layers(obs_dim: int, hidden: int) -> list[nn.Module]:
    """The two hidden layers both networks share: Linear(obs_dim, hidden), ReLU, Linear(hidden, hidden), ReLU."""
    return [nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()]


def _require_positive_sizes(**sizes) -> None:
    """Raise a ValueError naming the first of `sizes` that is not a positive integer."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
