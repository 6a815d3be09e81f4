"""Tests of utils.dqn.train: reproducibility, bookkeeping, and the checkpoint round trip."""
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from utils.dqn import DQNConfig, train
from utils.evaluation import evaluate, load_checkpoint, save_checkpoint
from utils.networks import DuelingQNetwork

TINY = DQNConfig(seed=11, max_env_steps=600, learning_starts=100, batch_size=16, hidden=16,
                 eps_decay_steps=300, target_update_every=50, check_every=200, check_episodes=2,
                 confirm_episodes=3)


@pytest.fixture(scope="module")
def tiny_run():
    """One short training run shared by the tests below."""
    return train(TINY)


def test_same_seed_gives_identical_returns_and_weights(tiny_run):
    again = train(TINY)
    assert again.episode_returns == tiny_run.episode_returns
    for name, tensor in tiny_run.q_net.state_dict().items():
        assert torch.equal(again.q_net.state_dict()[name], tensor), name


def test_another_seed_gives_another_run(tiny_run):
    other = train(DQNConfig(**{**TINY.__dict__, "seed": 12}))
    assert other.episode_returns != tiny_run.episode_returns


def test_bookkeeping_adds_up(tiny_run):
    result = tiny_run
    assert result.env_steps == 600 and not result.stopped_early
    training_steps = range(TINY.learning_starts, 601)
    assert result.updates == sum(step % TINY.train_every == 0 for step in training_steps)
    # Steps of finished episodes plus the unfinished last one make up all steps.
    assert sum(result.episode_lengths) <= result.env_steps
    assert result.episode_end_steps[-1] == sum(result.episode_lengths)
    assert result.episode_returns == [float(n) for n in result.episode_lengths]
    assert result.episode_epsilons[-1] == pytest.approx(TINY.eps_end)
    assert len(result.check_steps) == len(result.check_returns) >= 2


def test_on_episode_callback_sees_every_episode(tiny_run):
    seen = []
    train(TINY, on_episode=lambda i, ret, eps, steps: seen.append((i, ret, steps)))
    expected = list(zip(range(len(tiny_run.episode_returns)), tiny_run.episode_returns,
                        tiny_run.episode_end_steps))
    assert seen == expected


def test_early_stop_when_check_reaches_the_goal():
    result = train(DQNConfig(**{**TINY.__dict__, "stop_return": 1.0}))
    assert result.stopped_early is True and result.env_steps == result.check_steps[0]


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    torch.set_num_threads(before + 1)  # not the run's 1: a run that left its own setting behind would show
    try:
        train(DQNConfig(**{**TINY.__dict__, "max_env_steps": 150, "num_threads": 1}))
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)


def test_checkpoint_round_trip_of_a_trained_net(tiny_run, tmp_path):
    save_checkpoint(tmp_path / "run.pt", tiny_run.q_net, tiny_run.config)
    q_net, config = load_checkpoint(tmp_path / "run.pt")
    assert config == TINY
    states = torch.randn(10, 4)
    assert torch.equal(q_net(states), tiny_run.q_net(states))


def test_shipped_checkpoint_matches_its_record_and_the_current_defaults():
    root = Path(__file__).resolve().parent.parent / "checkpoints"
    record = json.loads((root / "dqn_cartpole.json").read_text())
    data = (root / "dqn_cartpole.pt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    q_net, config = load_checkpoint(root / "dqn_cartpole.pt")
    # Changing DQNConfig's defaults means retraining: `python -m tools.train_checkpoint`.
    assert config == DQNConfig(seed=record["config"]["seed"])
    assert evaluate(q_net, n_episodes=5).tolist() == [500.0] * 5


OPTIONS = {"dueling": {"dueling": True}, "n_step": {"n_step": 3}, "prioritized": {"prioritized": True},
           "all three": {"dueling": True, "n_step": 3, "prioritized": True}}
SHORT = DQNConfig(seed=5, max_env_steps=1_500, learning_starts=200, batch_size=32, hidden=32, eps_decay_steps=750,
                  target_update_every=200, check_every=500, check_episodes=2, confirm_episodes=2)


@pytest.fixture(scope="module")
def short_default_run():
    """The default recipe on the short budget, to compare the options with."""
    return train(SHORT)


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_trains_reproducibly_and_changes_the_run(option, short_default_run):
    config = dataclasses.replace(SHORT, **OPTIONS[option])
    first, second = train(config), train(config)
    assert first.env_steps == SHORT.max_env_steps and first.updates == short_default_run.updates
    assert first.episode_returns == second.episode_returns
    for name, tensor in first.q_net.state_dict().items():
        assert torch.equal(second.q_net.state_dict()[name], tensor), name
    assert first.episode_returns != short_default_run.episode_returns
    assert isinstance(first.q_net, DuelingQNetwork) == config.dueling


def test_checkpoint_round_trip_of_a_dueling_net(tmp_path):
    result = train(dataclasses.replace(TINY, dueling=True, n_step=2))
    save_checkpoint(tmp_path / "dueling.pt", result.q_net, result.config)
    q_net, config = load_checkpoint(tmp_path / "dueling.pt")
    assert config == result.config and isinstance(q_net, DuelingQNetwork)
    states = torch.randn(10, 4)
    assert torch.equal(q_net(states), result.q_net(states))


def returns_are_minus_one_a_step(result) -> bool:
    """Each return is minus its episode's length, far from CartPole's +1 a step (Acrobot's goal step pays 0)."""
    return all(-n <= ret <= 1 - n for ret, n in zip(result.episode_returns, result.episode_lengths))


@pytest.fixture(scope="module", params=["Acrobot-v1", "MountainCar-v0"])
def other_task_run(request):
    """A short run of TINY on another classic-control task, whose reward is −1 a step until the goal.

    Its episodes last up to 500 (Acrobot) or 200 (MountainCar) steps, and a greedy check runs at
    an episode's end: 1,200 steps hold at least two checks.
    """
    return train(dataclasses.replace(TINY, env_id=request.param, stop_return=None, max_env_steps=1_200))


def test_other_tasks_train_reproducibly_with_networks_of_their_size(other_task_run):
    result = other_task_run
    obs_dim, n_actions = {"Acrobot-v1": (6, 3), "MountainCar-v0": (2, 3)}[result.config.env_id]
    assert (result.q_net.obs_dim, result.q_net.n_actions) == (obs_dim, n_actions)
    assert returns_are_minus_one_a_step(result)
    assert result.env_steps == result.config.max_env_steps and len(result.check_returns) >= 2
    again = train(result.config)
    assert again.episode_returns == result.episode_returns and again.check_returns == result.check_returns


def test_the_exploration_bonus_changes_what_is_learned_not_the_returns(other_task_run):
    with_bonus = train(dataclasses.replace(other_task_run.config, count_bonus=0.5))
    assert returns_are_minus_one_a_step(with_bonus)
    plain = other_task_run.q_net.state_dict()
    assert not all(torch.equal(with_bonus.q_net.state_dict()[name], tensor) for name, tensor in plain.items())


def test_checkpoint_round_trip_of_an_acrobot_net(tmp_path):
    result = train(dataclasses.replace(TINY, env_id="Acrobot-v1", stop_return=-100.0))
    save_checkpoint(tmp_path / "acrobot.pt", result.q_net, result.config)
    q_net, config = load_checkpoint(tmp_path / "acrobot.pt")
    assert config == result.config and config.env_id == "Acrobot-v1"
    states = torch.randn(10, 6)
    assert torch.equal(q_net(states), result.q_net(states))
    assert np.array_equal(evaluate(q_net, n_episodes=3, env_id=config.env_id),
                          evaluate(result.q_net, n_episodes=3, env_id="Acrobot-v1"))


def test_on_step_sees_every_step_and_leaves_the_run_unchanged(tiny_run):
    steps = []
    result = train(TINY, on_step=lambda *transition: steps.append(transition))
    assert result.episode_returns == tiny_run.episode_returns and len(steps) == result.env_steps
    ends = [i + 1 for i, (*_, terminated, truncated) in enumerate(steps) if terminated or truncated]
    assert ends == result.episode_end_steps


def test_the_shipped_checkpoint_saves_back_to_the_same_bytes(tmp_path):
    # What `python -m tools.train_checkpoint --verify` relies on: new config fields at their
    # defaults leave a checkpoint's bytes unchanged.
    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / "dqn_cartpole.pt"
    q_net, config = load_checkpoint(shipped)
    save_checkpoint(tmp_path / "again.pt", q_net, config)
    assert (tmp_path / "again.pt").read_bytes() == shipped.read_bytes()
