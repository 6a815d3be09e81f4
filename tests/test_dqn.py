"""Unit tests of the DQN building blocks and DQNConfig in utils.dqn."""
import dataclasses

import copy

import numpy as np
import pytest
import torch
from torch import nn

from utils.dqn import (CountBonus, DQNConfig, compute_targets, double_dqn_targets, dqn_loss, gradient_step, hard_update,
                       learn_from_memory, q_values_taken, soft_update, td_targets)
from utils.prioritized import PrioritizedReplayMemory
from utils.seeding import make_env
from utils.replay import Batch, DiscountedBatch


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


def test_targets_take_one_discount_per_transition():
    # n-step transitions: each row bootstraps with its own γ^m.
    discounts, terminated = torch.tensor([0.5, 0.25, 0.125]), torch.tensor([0.0, 0.0, 1.0])
    assert td_targets(REWARDS, NEXT, terminated, FixedQ(), discounts).tolist() == [3.5, 2.0, 1.0]
    target = ShiftedQ([10.0, 0.0])
    assert double_dqn_targets(REWARDS, NEXT, terminated, FixedQ(), target, discounts).tolist() == [3.5, 4.5, 1.0]


def test_compute_targets_uses_a_batchs_discounts_else_the_configs_gamma():
    states, actions, terminated = torch.zeros(3, 4), torch.zeros(3, dtype=torch.int64), torch.zeros(3)
    one_step = Batch(states, actions, REWARDS, NEXT, terminated)
    n_step = DiscountedBatch(*one_step, torch.tensor([0.0, 1.0, 0.5]))
    config = DQNConfig(gamma=0.5, double_dqn=False)
    assert compute_targets(one_step, FixedQ(), FixedQ(), config).tolist() == [3.5, 3.0, 1.5]
    assert compute_targets(n_step, FixedQ(), FixedQ(), config).tolist() == [1.0, 5.0, 1.5]


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


def test_dqn_loss_weights_each_transitions_term():
    predicted, targets = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.5, 3.0, 1.0])
    weights = torch.tensor([1.0, 0.5, 0.0])
    assert dqn_loss(predicted, targets, "mse", weights).item() == pytest.approx((0.25 + 4.5) / 3)
    assert dqn_loss(predicted, targets, "huber", weights).item() == pytest.approx((0.125 + 1.25) / 3)
    ones = torch.ones(3)
    assert dqn_loss(predicted, targets, "huber", ones).item() == pytest.approx(dqn_loss(predicted, targets).item())
    with pytest.raises(ValueError, match=r"\(3,\), \(3,\), \(3, 1\)"):
        dqn_loss(predicted, targets, "huber", weights[:, None])


def test_gradient_step_returns_the_td_errors_before_the_step():
    torch.manual_seed(0)
    q_net, config = nn.Linear(4, 2), DQNConfig(gamma=0.9)
    target_net = copy.deepcopy(q_net)
    batch = Batch(torch.randn(8, 4), torch.randint(2, (8,)), torch.ones(8), torch.randn(8, 4), torch.zeros(8))
    expected = (compute_targets(batch, q_net, target_net, config)
                - q_values_taken(q_net, batch.states, batch.actions)).detach()
    before = q_net.weight.detach().clone()
    td_errors = gradient_step(q_net, target_net, torch.optim.SGD(q_net.parameters(), lr=0.1), batch, config)
    assert torch.equal(td_errors, expected) and not td_errors.requires_grad
    assert not torch.equal(q_net.weight, before)


class RecordingPrioritizedMemory(PrioritizedReplayMemory):
    """A prioritized memory that records the β of each sample."""

    def __init__(self, *args, **kwargs):
        """No sample recorded yet."""
        super().__init__(*args, **kwargs)
        self.betas = []

    def sample(self, batch_size, beta):
        """Record β, then sample."""
        self.betas.append(beta)
        return super().sample(batch_size, beta)


def test_learn_from_a_prioritized_memory_anneals_beta_and_updates_the_priorities():
    torch.manual_seed(0)
    config = DQNConfig(batch_size=8, learning_starts=8, max_env_steps=1000, per_beta_start=0.2)
    memory = RecordingPrioritizedMemory(16, seed=0)
    for i in range(16):
        memory.push(np.random.randn(4), i % 2, 1.0, np.random.randn(4), False, 0.99)
    q_net = nn.Linear(4, 2)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=1e-3)
    for step in (0, 500, 2000):
        learn_from_memory(q_net, target_net, optimizer, memory, config, step)
    assert memory.betas == pytest.approx([0.2, 0.6, 1.0])
    # The sampled transitions traded their initial priority 1 for that of their TD error.
    assert np.any(memory.tree.priorities(np.arange(16)) != 1.0)


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
    ({"n_step": 0}, "n_step must be a positive integer"),
    ({"n_step": 2.0}, "n_step must be a positive integer"),
    ({"n_step": 3, "learning_starts": 65}, r"batch_size \+ n_step - 1 \(66\)"),
    ({"per_alpha": -0.5}, "per_alpha must be ≥ 0"),
    ({"per_beta_start": 0.0}, r"per_beta_start must be in \(0, 1\]"),
    ({"per_beta_start": 1.5}, r"per_beta_start must be in \(0, 1\]"),
    ({"per_eps": 0.0}, "per_eps must be > 0"),
    ({"env_id": "Acrobot-v9"}, "'Acrobot-v9' is not registered in gymnasium"),
    ({"env_id": "MountainCarContinuous-v0"}, "Box actions; DQN needs Discrete ones"),
    ({"count_bonus": -0.5}, "count_bonus must be ≥ 0"),
    ({"count_bins": 0}, "count_bins must be a positive integer"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**changes)


def test_options_accept_good_values():
    DQNConfig(dueling=True, n_step=3, learning_starts=66, prioritized=True, per_alpha=0.0, per_beta_start=1.0)
    DQNConfig(env_id="Acrobot-v1", stop_return=-100.0)


def test_count_bonus_fades_with_the_visits_to_each_cell():
    bonus = CountBonus(low=[0.0, 0.0], high=[1.0, 2.0], bins=4, scale=0.5)
    assert bonus(np.array([0.1, 0.1])) == 0.5
    assert bonus(np.array([0.2, 0.4])) == pytest.approx(0.5 / np.sqrt(2))  # the same 0.25 x 0.5 cell
    assert bonus(np.array([0.3, 0.1])) == 0.5  # the next cell along the first coordinate
    # Observations on or beyond the bounds count in the edge cells.
    assert bonus(np.array([1.0, 2.0])) == 0.5 and bonus(np.array([5.0, 9.0])) == pytest.approx(0.5 / np.sqrt(2))
    assert len(bonus.counts) == 3


def test_count_bonus_spans_the_envs_observation_space_and_needs_finite_bounds():
    bonus = CountBonus.for_env(make_env(0, env_id="MountainCar-v0"), DQNConfig(count_bonus=0.5, count_bins=18))
    assert np.allclose(bonus.cell_size, [0.1, 0.14 / 18]) and bonus.scale == 0.5
    with pytest.raises(ValueError, match="finite observation bounds"):
        CountBonus.for_env(make_env(0), DQNConfig(count_bonus=0.5))
