"""Unit tests of utils.policies."""
import numpy as np
import pytest
import torch
from torch import nn

from utils.policies import epsilon_greedy_action, epsilon_schedule, greedy_action, greedy_actions


class FixedQ(nn.Module):
    """Q-values (state[0], state[1]): the greedy action is whichever coordinate is larger."""

    n_actions = 2

    def forward(self, states):
        return states[..., :2]


def test_greedy_action_returns_python_int_of_argmax():
    assert greedy_action(FixedQ(), np.array([0.0, 1.0, 0, 0], dtype=np.float32)) == 1
    action = greedy_action(FixedQ(), [2.0, 1.0, 0, 0])
    assert action == 0 and type(action) is int


def test_greedy_actions_batch():
    states = torch.tensor([[0.0, 1.0, 0, 0], [3.0, 1.0, 0, 0]])
    actions = greedy_actions(FixedQ(), states)
    assert actions.dtype == torch.int64 and actions.tolist() == [1, 0]


def test_greedy_actions_builds_no_graph():
    net = nn.Linear(4, 2)
    with torch.enable_grad():
        assert greedy_actions(net, torch.zeros(3, 4)).grad_fn is None


def test_greedy_actions_rejects_a_single_state():
    with pytest.raises(ValueError, match="2-D tensor"):
        greedy_actions(FixedQ(), torch.zeros(4))


@pytest.mark.parametrize("step, expected", [(0, 1.0), (5_000, 0.525), (10_000, 0.05), (50_000, 0.05)])
def test_epsilon_schedule_is_linear_then_constant(step, expected):
    assert epsilon_schedule(step, 1.0, 0.05, 10_000) == pytest.approx(expected)


def test_epsilon_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="step must be a non-negative integer"):
        epsilon_schedule(-1, 1.0, 0.05, 100)
    with pytest.raises(ValueError, match="decay_steps must be a positive integer"):
        epsilon_schedule(0, 1.0, 0.05, 0)


def test_epsilon_zero_is_greedy_and_one_is_uniform():
    rng = np.random.default_rng(0)
    state = [0.0, 1.0, 0, 0]
    assert {epsilon_greedy_action(FixedQ(), state, 0.0, rng) for _ in range(50)} == {1}
    actions = [epsilon_greedy_action(FixedQ(), state, 1.0, rng) for _ in range(2000)]
    assert 0.45 < np.mean(actions) < 0.55


def test_epsilon_greedy_explores_with_probability_epsilon():
    rng = np.random.default_rng(1)
    actions = np.array([epsilon_greedy_action(FixedQ(), [0.0, 1.0, 0, 0], 0.2, rng) for _ in range(5000)])
    # Action 0 only comes from exploring and then drawing 0: probability 0.2 / 2.
    assert 0.08 < np.mean(actions == 0) < 0.12


def test_epsilon_greedy_draw_order_is_documented():
    state = [0.0, 1.0, 0, 0]
    expected_rng = np.random.default_rng(5)
    expected = [int(expected_rng.integers(2)) if expected_rng.random() < 0.5 else 1 for _ in range(100)]
    rng = np.random.default_rng(5)
    assert [epsilon_greedy_action(FixedQ(), state, 0.5, rng) for _ in range(100)] == expected


def test_epsilon_greedy_rejects_bad_input():
    with pytest.raises(ValueError, match="epsilon must be a probability"):
        epsilon_greedy_action(FixedQ(), [0, 0, 0, 0], 1.5, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        epsilon_greedy_action(FixedQ(), [0, 0, 0, 0], 0.1, np.random)
