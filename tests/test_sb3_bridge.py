"""utils.sb3_bridge: the DQNConfig → SB3 mapping, the adapter, SB3's early stopping, and the committed comparison."""
import dataclasses
import inspect
import tempfile

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN

from benchmarks.sb3_compare import RUNNERS
from utils.ablation import load_runs
from utils.dqn import DQNConfig
from utils.evaluation import evaluate
from utils.policies import greedy_actions
from utils.sb3_bridge import (CONFIG_TO_SB3, SB3_FIXED, SB3_RESULTS, course_q_net, mapping_table, new_dqn,
                              not_reproduced, sb3_kwargs, train_sb3_with_eval)
from utils.seeding import HELD_OUT_SEEDS

DQN_ARGUMENTS = set(inspect.signature(DQN).parameters)
SHORT = DQNConfig(learning_starts=500, eps_decay_steps=1_500, hidden=32, check_every=500, check_episodes=5)
"""A config that trains a few thousand steps in seconds."""


def test_every_config_field_has_an_sb3_entry():
    assert set(CONFIG_TO_SB3) == {field.name for field in dataclasses.fields(DQNConfig)}
    assert all(how for _, how in CONFIG_TO_SB3.values())
    assert len(mapping_table().splitlines()) == len(CONFIG_TO_SB3)


def test_sb3_kwargs_sets_every_mapped_dqn_argument():
    dqn_targets = {target for target, _ in CONFIG_TO_SB3.values() if target in DQN_ARGUMENTS} - {"env"}
    kwargs = sb3_kwargs(DQNConfig())
    assert dqn_targets <= set(kwargs) <= DQN_ARGUMENTS


def test_fields_without_an_sb3_argument_are_the_fixed_ones_or_their_settings():
    unmapped = {field for field, (target, _) in CONFIG_TO_SB3.items() if target is None}
    assert set(SB3_FIXED) <= unmapped
    assert unmapped - set(SB3_FIXED) == {"per_alpha", "per_beta_start", "per_eps", "count_bins"}
    assert not_reproduced(DQNConfig()) == ["double_dqn", "confirm_episodes"]
    assert not_reproduced(DQNConfig(double_dqn=False, confirm_episodes=0)) == []
    assert not_reproduced(DQNConfig(loss="mse", dueling=True, prioritized=True, confirm_episodes=0,
                                    double_dqn=False, count_bonus=0.1)) == ["loss", "dueling", "prioritized",
                                                                              "count_bonus"]


def test_sb3_kwargs_of_the_default_recipe():
    kwargs = sb3_kwargs(DQNConfig())
    assert kwargs["exploration_fraction"] == pytest.approx(2_500 / 100_000)
    assert kwargs["max_grad_norm"] == float("inf")
    assert kwargs["policy_kwargs"] == {"net_arch": [128, 128]}
    assert (kwargs["train_freq"], kwargs["gradient_steps"], kwargs["target_update_interval"]) == (2, 1, 125)
    assert (kwargs["learning_rate"], kwargs["buffer_size"], kwargs["seed"]) == (2e-3, 50_000, 0)


def test_sb3_kwargs_of_another_config_and_budget():
    config = DQNConfig(seed=7, eps_decay_steps=5_000, max_grad_norm=10.0, hidden=64, n_step=3, tau=0.01)
    kwargs = sb3_kwargs(config, total_timesteps=20_000)
    assert kwargs["exploration_fraction"] == pytest.approx(0.25)
    assert (kwargs["max_grad_norm"], kwargs["n_steps"], kwargs["tau"], kwargs["seed"]) == (10.0, 3, 0.01, 7)
    assert kwargs["policy_kwargs"] == {"net_arch": [64, 64]}


def test_sb3_epsilon_follows_the_course_schedule():
    config = DQNConfig(eps_start=1.0, eps_end=0.1, eps_decay_steps=4_000)
    model = new_dqn(sb3_kwargs(config, total_timesteps=10_000))
    # SB3's schedule takes the progress remaining, 1 − steps / total_timesteps.
    epsilon_after = {steps: model.exploration_schedule(1 - steps / 10_000) for steps in (0, 2_000, 4_000, 9_000)}
    assert epsilon_after == pytest.approx({0: 1.0, 2_000: 0.55, 4_000: 0.1, 9_000: 0.1})


def test_an_infinite_max_grad_norm_leaves_gradients_unclipped():
    net = torch.nn.Linear(4, 2)
    (net(torch.full((8, 4), 100.0)) ** 2).sum().backward()
    before = [p.grad.clone() for p in net.parameters()]
    torch.nn.utils.clip_grad_norm_(net.parameters(), float("inf"))
    assert all(torch.equal(b, p.grad) for b, p in zip(before, net.parameters()))


def test_the_adapter_picks_the_actions_sb3_predicts():
    model = new_dqn(sb3_kwargs(SHORT))
    states = np.random.default_rng(0).normal(scale=[1.0, 2.0, 0.1, 2.0], size=(1_000, 4)).astype(np.float32)
    predicted, _ = model.predict(states, deterministic=True)
    q_net = course_q_net(model)
    assert torch.equal(greedy_actions(q_net, torch.as_tensor(states)), torch.as_tensor(predicted))
    assert q_net(torch.as_tensor(states[0])).shape == (2,)
    assert evaluate(q_net, n_episodes=3).shape == (3,)


def short_run(seed: int, steps: int = 2_500, **checks):
    """A few thousand SB3 steps of SHORT with early stopping."""
    return train_sb3_with_eval(SHORT, seed, total_timesteps=steps, **checks)


def test_early_stopping_runs_the_checks_keeps_the_best_model_and_is_reproducible():
    first, again, other = short_run(3), short_run(3), short_run(4, steps=1_000)
    assert first.eval_steps == list(range(500, 2_501, 500)) and first.env_steps == 2_500 and not first.stopped_early
    # On this seed the best check is not the last one, so keeping the final model would fail here.
    best_step = first.eval_steps[int(np.argmax(first.eval_returns))]
    assert first.model.num_timesteps == best_step < first.env_steps
    assert first.eval_returns == again.eval_returns
    state, state_again = first.model.policy.state_dict(), again.model.policy.state_dict()
    assert all(torch.equal(state[name], state_again[name]) for name in state)
    assert first.eval_returns[:2] != other.eval_returns


def test_early_stopping_stops_at_the_threshold_and_leaves_no_log_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # SB3's default logger makes SB3-<date> folders there
    run = short_run(3, threshold=5.0)
    assert run.stopped_early and run.env_steps == run.eval_steps[-1] == 500
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("SB3-")] == []


def test_the_committed_comparison_is_complete_and_consistent():
    """Each held-out seed for each implementation; solved means a mean of at least 475 (a fresh run of a row
    takes 15-20 s, so reproduction is left to test_early_stopping_runs_the_checks_keeps_the_best_model_and_is_reproducible)."""
    rows = load_runs(SB3_RESULTS)
    assert {(r["impl"], r["seed"]) for r in rows} == {(impl, s) for impl in RUNNERS for s in HELD_OUT_SEEDS}
    assert all(r["solved"] == (r["eval_mean"] >= 475) for r in rows)
