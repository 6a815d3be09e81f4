"""Unit tests of utils.networks."""
import pytest
import torch
from torch import nn

from utils.dqn import DQNConfig
from utils.networks import DuelingQNetwork, QNetwork, count_parameters, q_network_for


def test_default_network_has_17410_parameters():
    assert count_parameters(QNetwork()) == 17_410


def test_layer_sizes_and_output_shape():
    net = QNetwork(obs_dim=4, n_actions=2, hidden=128)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 128), (128, 128), (128, 2)]
    assert net(torch.zeros(7, 4)).shape == (7, 2)
    assert net(torch.zeros(4)).shape == (2,)


def test_output_is_linear_so_can_be_negative():
    torch.manual_seed(0)
    out = QNetwork()(torch.randn(256, 4) * 5)
    assert out.min() < 0 < out.max()


def test_count_parameters_skips_frozen_parameters():
    net = QNetwork(hidden=8)
    net.layers[0].weight.requires_grad_(False)
    assert count_parameters(net) == count_parameters(QNetwork(hidden=8)) - 4 * 8


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        QNetwork(hidden=0)
    with pytest.raises(TypeError, match="expects a torch.nn.Module"):
        count_parameters([1, 2])


def hand_set_dueling() -> DuelingQNetwork:
    """A 2-state-input, 3-action dueling net whose trunk passes positive states through unchanged.

    V(x) = x0 + x1 + 0.5 and A(x) = (x0, x1, 2·x0 + 2·x1 + 0.3).
    """
    net = DuelingQNetwork(obs_dim=2, n_actions=3, hidden=2)
    with torch.no_grad():
        for layer in (net.trunk[0], net.trunk[2]):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
        net.value_head.weight.copy_(torch.tensor([[1.0, 1.0]]))
        net.value_head.bias.fill_(0.5)
        net.advantage_head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
        net.advantage_head.bias.copy_(torch.tensor([0.0, 0.0, 0.3]))
    return net


def test_dueling_q_is_value_plus_advantage_minus_mean_advantage():
    net = hand_set_dueling()
    states = torch.tensor([[1.0, 2.0], [3.0, 0.5]])
    # Row 1: V = 3.5, A = (1, 2, 6.3), mean A = 3.1. Row 2: V = 4, A = (3, 0.5, 7.3), mean A = 3.6.
    expected = torch.tensor([[1.4, 2.4, 6.7], [3.4, 0.9, 7.7]])
    assert torch.allclose(net(states), expected)
    # The mean is over actions, per state: one state alone gives its row of the batch.
    assert torch.allclose(net(states[1]), expected[1])


def test_dueling_advantage_offset_does_not_change_q():
    net, states = hand_set_dueling(), torch.tensor([[1.0, 2.0], [3.0, 0.5]])
    before = net(states)
    with torch.no_grad():
        net.advantage_head.bias += 10.0
    assert torch.allclose(net(states), before)
    with torch.no_grad():
        net.value_head.bias += 10.0
    assert torch.allclose(net(states), before + 10.0)


def test_dueling_layer_sizes_shapes_and_parameter_count():
    net = DuelingQNetwork()
    linears = [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]
    assert linears == [(4, 128), (128, 128), (128, 1), (128, 2)]
    assert count_parameters(net) == 17_539
    assert net(torch.zeros(7, 4)).shape == (7, 2) and net(torch.zeros(4)).shape == (2,)
    with pytest.raises(ValueError, match="n_actions must be a positive integer"):
        DuelingQNetwork(n_actions=0)


def test_q_network_for_follows_the_config():
    plain, dueling = q_network_for(DQNConfig(hidden=16)), q_network_for(DQNConfig(dueling=True, hidden=16), 3, 5)
    assert type(plain) is QNetwork and plain.hidden == 16
    assert type(dueling) is DuelingQNetwork and (dueling.obs_dim, dueling.n_actions, dueling.hidden) == (3, 5, 16)
