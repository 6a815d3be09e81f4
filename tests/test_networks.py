"""Unit tests of utils.networks."""
import pytest
import torch
from torch import nn

from utils.networks import QNetwork, count_parameters


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
