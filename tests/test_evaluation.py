"""Unit tests of utils.evaluation."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from utils.dqn import DQNConfig
from utils.evaluation import (CHECKPOINT_FORMAT, LATER_CONFIG_FIELDS, REWARD_THRESHOLD, SHIPPED_CHECKPOINT,
                              config_record, evaluate, greedy_returns, is_solved, load_checkpoint, reward_threshold,
                              save_checkpoint)
from utils.networks import DuelingQNetwork, QNetwork
from utils.seeding import make_env


class PushTowardsLean(nn.Module):
    """A hand-made good controller: push the cart towards where the pole is falling."""

    def forward(self, states):
        lean = states[..., 2] + 0.5 * states[..., 3]
        return torch.stack([-lean, lean], dim=-1)


class AlwaysLeft(nn.Module):
    """A bad controller: always action 0."""

    def forward(self, states):
        return torch.stack([torch.ones_like(states[..., 0]), torch.zeros_like(states[..., 0])], dim=-1)


def test_threshold_is_cartpole_v1s():
    assert REWARD_THRESHOLD == 475.0


def test_is_solved():
    assert is_solved([475.0] * 100)
    assert not is_solved([500.0] * 50 + [449.0] * 50)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        is_solved([])


@pytest.mark.parametrize("env_id, threshold", [("CartPole-v1", 475.0), ("Acrobot-v1", -100.0),
                                               ("MountainCar-v0", -110.0)])
def test_reward_threshold_is_gymnasiums(env_id, threshold):
    assert reward_threshold(env_id) == threshold


def test_reward_threshold_of_an_env_without_one_is_refused():
    with pytest.raises(ValueError, match="Pendulum-v1 has no registered reward_threshold"):
        reward_threshold("Pendulum-v1")


def test_is_solved_against_a_negative_threshold():
    assert is_solved([-90.0, -110.0], threshold=-100.0)
    assert not is_solved([-90.0, -112.0], threshold=-100.0)


class PumpEnergy(nn.Module):
    """A hand-made MountainCar controller: accelerate the way the car moves, so each swing climbs higher."""

    def forward(self, states):
        velocity = states[..., 1]
        return torch.stack([-velocity, torch.zeros_like(velocity), velocity], dim=-1)


def test_evaluate_plays_the_env_it_is_given():
    returns = evaluate(PumpEnergy(), n_episodes=5, env_id="MountainCar-v0")
    # Every episode reaches the flag, before the 200-step limit, at −1 a step.
    assert np.all((returns > -200) & (returns < -80)) and np.all(returns == np.round(returns))


def test_evaluate_plays_episodes_to_the_time_limit():
    returns = evaluate(PushTowardsLean(), n_episodes=3)
    assert returns.shape == (3,) and np.all(returns == 500.0)


def test_evaluate_is_deterministic_and_seeded():
    first = evaluate(AlwaysLeft(), n_episodes=5, seed=1)
    assert np.array_equal(first, evaluate(AlwaysLeft(), n_episodes=5, seed=1))
    assert np.all(first < 20)
    assert not np.array_equal(first, evaluate(AlwaysLeft(), n_episodes=5, seed=2))


def test_evaluate_episode_i_uses_seed_plus_i():
    both = evaluate(AlwaysLeft(), n_episodes=2, seed=7)
    assert both[1] == evaluate(AlwaysLeft(), n_episodes=1, seed=8)[0]


def test_greedy_returns_play_each_env_to_its_own_end():
    envs = [make_env(1), make_env(2), make_env(3)]
    together = greedy_returns(AlwaysLeft(), envs)
    alone = [greedy_returns(AlwaysLeft(), [make_env(s)])[0] for s in (1, 2, 3)]
    assert together.tolist() == alone and len(set(alone)) > 1


def test_evaluate_rejects_bad_episode_count():
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        evaluate(AlwaysLeft(), n_episodes=0)


def test_checkpoint_round_trip_is_exact_and_byte_stable(tmp_path):
    torch.manual_seed(0)
    net, config = QNetwork(hidden=16), DQNConfig(seed=3, hidden=16)
    save_checkpoint(tmp_path / "a.pt", net, config)
    save_checkpoint(tmp_path / "b.pt", net, config)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded, loaded_config = load_checkpoint(tmp_path / "a.pt")
    assert loaded_config == config
    for name, tensor in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "a.pt", QNetwork(hidden=16), DQNConfig(hidden=16))
    data = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "a.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "a.pt")


def test_foreign_file_gives_a_clear_error(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a dqn-cartpole-checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_mismatched_weights_give_a_clear_error(tmp_path):
    # Weights of a 16-unit network, labelled with a config that says 128 units.
    save_checkpoint(tmp_path / "a.pt", QNetwork(hidden=16), DQNConfig(hidden=128))
    with pytest.raises(ValueError, match=r"do not fit QNetwork\(hidden=128\)"):
        load_checkpoint(tmp_path / "a.pt")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_config_record_of_the_recipe_has_the_fields_of_the_first_checkpoints():
    shipped = json.loads(SHIPPED_CHECKPOINT.with_suffix(".json").read_text())["config"]
    record = config_record(DQNConfig())
    assert record == shipped and list(record) == list(shipped)
    assert set(record) | set(LATER_CONFIG_FIELDS) == {f.name for f in dataclasses.fields(DQNConfig)}


def test_config_record_keeps_later_fields_that_differ_from_their_default():
    record = config_record(DQNConfig(dueling=True, n_step=3, per_alpha=0.5))
    assert {"dueling": True, "n_step": 3, "per_alpha": 0.5}.items() <= record.items()
    assert "prioritized" not in record and "per_eps" not in record


def test_checkpoint_without_the_later_fields_loads_with_their_defaults(tmp_path):
    old_config = {f.name: getattr(DQNConfig(seed=4), f.name) for f in dataclasses.fields(DQNConfig)
                  if f.name not in LATER_CONFIG_FIELDS}
    torch.save({"format": CHECKPOINT_FORMAT, "config": old_config, "state_dict": QNetwork().state_dict()},
               tmp_path / "old.pt")
    q_net, config = load_checkpoint(tmp_path / "old.pt")
    assert config == DQNConfig(seed=4) and type(q_net) is QNetwork


def test_config_record_keeps_a_task_other_than_cartpole():
    assert config_record(DQNConfig(env_id="Acrobot-v1"))["env_id"] == "Acrobot-v1"
    assert "env_id" not in config_record(DQNConfig())


def test_checkpoint_of_another_task_loads_a_network_of_its_size(tmp_path):
    torch.manual_seed(0)
    net, config = QNetwork(6, 3, hidden=16), DQNConfig(hidden=16, env_id="Acrobot-v1")
    save_checkpoint(tmp_path / "a.pt", net, config)
    loaded, loaded_config = load_checkpoint(tmp_path / "a.pt")
    assert loaded_config == config and (loaded.obs_dim, loaded.n_actions) == (6, 3)
    states = torch.randn(5, 6)
    assert torch.equal(loaded(states), net(states))


def test_dueling_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    net, config = DuelingQNetwork(hidden=16), DQNConfig(hidden=16, dueling=True, prioritized=True)
    save_checkpoint(tmp_path / "a.pt", net, config)
    loaded, loaded_config = load_checkpoint(tmp_path / "a.pt")
    assert loaded_config == config and type(loaded) is DuelingQNetwork
    states = torch.randn(5, 4)
    assert torch.equal(loaded(states), net(states))


def test_dueling_weights_under_a_plain_config_give_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "a.pt", DuelingQNetwork(hidden=16), DQNConfig(hidden=16))
    with pytest.raises(ValueError, match=r"do not fit QNetwork\(hidden=16\)"):
        load_checkpoint(tmp_path / "a.pt")
