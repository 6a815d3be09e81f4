"""Unit tests of the DQN building blocks and DQNConfig in utils.dqn."""
import dataclasses

import pytest
import torch
from torch import nn

from utils.dqn import (DQNConfig, double_dqn_targets, dqn_loss, hard_update, q_values_taken,
                       soft_update, td_targets)


class FixedQ(nn.Module):
    """Q-values read straight from the state: Q(s, a) = s[a]."""

    def forward(self, states):
        return states[..., :2]


class ShiftedQ(nn.Module):
    """Q(s, a) = s[a] + shift[a]: a second net that disagrees with FixedQ on the argmax."""

    def __init__(self, shift):
        super().__init__()
        self.shift = torch.tensor(shift)

    def forward(self, states):
        return states[..., :2] + self.shift


REWARDS = torch.tensor([1.0, 1.0, 1.0])
NEXT = torch.tensor([[2.0, 5.0, 0, 0], [4.0, 3.0, 0, 0], [1.0, 1.0, 0, 0]])


def test_td_targets_bootstrap_unless_terminated():
    terminated = torch.tensor([0.0, 1.0, 0.0])
    targets = td_targets(REWARDS, NEXT, terminated, FixedQ(), 0.5)
    assert targets.shape == (3,)
    assert targets.tolist() == [1.0 + 0.5 * 5.0, 1.0, 1.0 + 0.5 * 1.0]


def test_targets_carry_no_gradient():
    net = nn.Linear(4, 2)
    assert not td_targets(REWARDS, NEXT, torch.zeros(3), net, 0.9).requires_grad
    assert not double_dqn_targets(REWARDS, NEXT, torch.zeros(3), net, net, 0.9).requires_grad


def test_double_dqn_lets_q_net_choose_and_target_net_score():
    # FixedQ picks actions (1, 0, 0); the target net scores them with its own shift.
    target = ShiftedQ([10.0, 0.0])
    targets = double_dqn_targets(REWARDS, NEXT, torch.zeros(3), FixedQ(), target, 1.0)
    assert targets.tolist() == [1.0 + 5.0, 1.0 + 14.0, 1.0 + 11.0]
    # Plain DQN would take the target net's own max instead.
    assert td_targets(REWARDS, NEXT, torch.zeros(3), target, 1.0).tolist() == [13.0, 15.0, 12.0]


def test_q_values_taken_picks_each_rows_action():
    states = torch.tensor([[1.0, 2.0, 0, 0], [3.0, 4.0, 0, 0]])
    net = nn.Linear(4, 2)
    taken = q_values_taken(net, states, torch.tensor([1, 0]))
    full = net(states)
    assert taken.shape == (2,) and taken.requires_grad
    assert torch.equal(taken, torch.stack([full[0, 1], full[1, 0]]))


def test_dqn_loss_kinds():
    predicted, targets = torch.tensor([0.0, 0.0]), torch.tensor([0.5, 3.0])
    assert dqn_loss(predicted, targets, "mse").item() == pytest.approx((0.25 + 9.0) / 2)
    assert dqn_loss(predicted, targets).item() == pytest.approx((0.125 + 2.5) / 2)


def test_dqn_loss_rejects_broadcasting_shapes_and_unknown_kind():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        dqn_loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="kind must be one of"):
        dqn_loss(torch.zeros(4), torch.zeros(4), "l1")


def test_soft_and_hard_updates():
    torch.manual_seed(0)
    q_net, target = nn.Linear(4, 2), nn.Linear(4, 2)
    before = target.weight.detach().clone()
    soft_update(target, q_net, 0.25)
    assert torch.allclose(target.weight, 0.75 * before + 0.25 * q_net.weight)
    hard_update(target, q_net)
    assert torch.equal(target.weight, q_net.weight) and target.weight is not q_net.weight
    with pytest.raises(ValueError, match="tau must be in"):
        soft_update(target, q_net, 0.0)


def test_every_config_field_is_documented():
    source = open(__import__("utils.dqn").dqn.__file__).read()
    for field in dataclasses.fields(DQNConfig):
        declaration = source.split(f"    {field.name}: ", 1)[1]
        assert declaration.split("\n")[1].strip().startswith('"""'), field.name


@pytest.mark.parametrize("changes, message", [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"learning_starts": 10}, "learning_starts"),
    ({"loss": "l1"}, "loss must be one of"),
    ({"tau": 1.5}, "tau must be in"),
    ({"seed": -1}, "seed must be in"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**changes)
