"""The explorers: move each control from Python and check what the explorer computed."""
import math

import numpy as np
import pytest
import torch

from utils.dqn import DQNConfig
from utils.mdp import discounted_return
from utils.networks import QNetwork
from utils.policies import epsilon_schedule
from utils.replay import ReplayMemory
from utils.seeding import make_env, seed_everything
from utils.video import record_rollout
from utils.widgets import (MODE_VARIABLE, discount_explorer, discount_summary, draw_epsilon, epsilon_explorer,
                           exponential_epsilon, hyperparameter_playground, linear_epsilon, moving_average,
                           playground_config, replay_explorer, rollout_scrubber, run_label, seed_clock)


@pytest.fixture(autouse=True)
def widget_frontend(monkeypatch):
    """Behave as in JupyterLab, so that the explorers draw into their outputs."""
    monkeypatch.setenv(MODE_VARIABLE, "widget")


def balance(state) -> int:
    """A hand controller that keeps the pole up."""
    return int(state[2] + 0.5 * state[3] > 0)


def test_moving_average_averages_what_is_there():
    assert moving_average([1, 2, 3, 4], 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    with pytest.raises(ValueError, match="window"):
        moving_average([1], 0)


# --- ε schedule ------------------------------------------------------------------------

def test_linear_epsilon_is_the_course_schedule():
    steps = [0, 1, 2_500, 9_999, 10_000, 30_000]
    expected = [epsilon_schedule(s, 1.0, 0.05, 10_000) for s in steps]
    assert linear_epsilon(steps, 1.0, 0.05, 10_000) == pytest.approx(expected)


def test_seed_clock_jumps_500_ticks_per_episode():
    assert seed_clock([0, 19, 20, 39, 40], 20).tolist() == [0, 19, 500, 519, 1000]
    with pytest.raises(ValueError, match="episode_length"):
        seed_clock([0], 501)


def test_epsilon_explorer_shows_the_fake_clock_collapse():
    explorer = epsilon_explorer()
    state = explorer.state
    # Linear 1.0 → 0.05 over 10,000 steps: 90% of the decay is done at step 9,000 on the
    # global clock; the seed's clock gets there in episode 19, i.e. after 18 × 20 real steps.
    assert (state["global_reaches_level"], state["fake_reaches_level"]) == (9_000, 360)
    explorer.controls["episode_length"].value = 500
    assert explorer.state["fake_reaches_level"] == explorer.state["global_reaches_level"] == 9_000
    explorer.controls["decay_steps"].value = 2_000
    assert explorer.state["global_reaches_level"] == 1_800 and len(explorer.state["steps"]) == 5_001
    explorer.controls["end"].value = 0.2
    assert explorer.state["linear"][-1] == pytest.approx(0.2) and explorer.state["level"] == pytest.approx(0.28)


def test_epsilon_explorer_marks_90_percent_of_the_decay_where_its_label_says():
    explorer = epsilon_explorer()
    state = explorer.state
    # Linear 1.0 → 0.05: 90% of the way down is 1.0 − 0.9 × 0.95 = 0.145, reached at 0.9 × 10,000 steps.
    assert state["level"] == pytest.approx(0.145)
    assert state["global_clock"][9_000] == pytest.approx(0.145) and state["global_clock"][8_999] > 0.145
    fig, text = draw_epsilon(state)
    line = next(line for line in fig.axes[1].get_lines() if line.get_label() == "90% of the decay done")
    assert line.get_ydata()[0] == pytest.approx(0.145)
    assert text.startswith("ε has done 90% of its decay (ε ≤ 0.145) after 360 real steps (episode 19)")


def test_epsilon_explorer_draws_the_seed_schedule_whatever_the_sliders():
    explorer = epsilon_explorer()
    for name, value in (("start", 0.5), ("end", 0.2), ("decay_steps", 4_000)):
        explorer.controls[name].value = value
    state = explorer.state
    # The seed notebook: EPS_START = 0.9, EPS_END = 0.05, EPS_DECAY = 1000, ε = end + (start − end)·exp(−t / decay).
    assert state["seed"] == pytest.approx(0.05 + 0.85 * np.exp(-state["steps"] / 1_000))
    fig, _ = draw_epsilon(state)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["linear, slider settings", "exponential, slider settings",
                      "the seed: exponential, 0.9 → 0.05, τ = 1,000"]


def test_epsilon_explorer_reproduces_the_seed_numbers():
    explorer = epsilon_explorer()
    for name, value in (("start", 0.9), ("decay_steps", 1_000), ("schedule", "exponential")):
        explorer.controls[name].value = value
    state = explorer.state
    assert state["global_clock"] == pytest.approx(exponential_epsilon(state["steps"], 0.9, 0.05, 1_000))
    assert state["global_clock"] == pytest.approx(state["seed"])
    # ERRATA: with ~20-step episodes, ε ≈ 0.36 at the start of the third episode.
    assert state["fake_clock"][40] == pytest.approx(0.05 + 0.85 * math.exp(-1), abs=1e-12)
    assert round(state["fake_clock"][40], 2) == 0.36


# --- Discount --------------------------------------------------------------------------

def test_discount_explorer_follows_gamma():
    explorer = discount_explorer()
    assert explorer.state["horizon"] == pytest.approx(100.0)
    assert explorer.state["discounted_return"] == pytest.approx(discounted_return([1.0] * 500, 0.99))
    explorer.controls["gamma"].value = 0.9
    state = explorer.state
    assert state["horizon"] == pytest.approx(10.0)
    assert state["half_life"] == pytest.approx(math.log(0.5) / math.log(0.9))
    assert state["discounted_return"] == pytest.approx((1 - 0.9 ** 500) / 0.1)
    assert state["weights"][:3] == pytest.approx([1.0, 0.9, 0.81])


def test_discount_of_a_given_reward_sequence():
    explorer = discount_explorer([0, 0, 1])
    explorer.controls["gamma"].value = 0.5
    assert explorer.state["discounted_return"] == pytest.approx(0.25)
    assert explorer.state["undiscounted_return"] == 1.0


def test_discount_edge_cases():
    assert discount_summary(1.0, [1.0, 1.0])["horizon"] == math.inf
    with pytest.raises(ValueError, match="gamma"):
        discount_summary(1.5, [1.0])
    with pytest.raises(ValueError, match="at least one reward"):
        discount_explorer([])


# --- Replay ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def memory():
    """A 500-transition memory filled with 700 random-policy transitions (so it wrapped)."""
    seed_everything(0)
    env, memory = make_env(0), ReplayMemory(500)
    state, _ = env.reset()
    for _ in range(700):
        action = int(env.action_space.sample())
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        state = next_state if not (terminated or truncated) else env.reset()[0]
    return memory


def test_replay_explorer_finds_the_drawn_transitions(memory):
    explorer = replay_explorer(memory, batch_size=32)
    state = explorer.state
    positions = state["positions"]
    assert len(set(positions.tolist())) == 32
    # Positions are the ones the batch came from: the seeded draw, replayed, gives these rows.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        batch = memory.sample(32)
    assert torch.equal(memory.states[positions], batch.states)
    assert np.allclose(state["angles"], np.degrees(batch.states[:, 2].numpy()))


def test_replay_ages_follow_the_ring(memory):
    state = replay_explorer(memory, batch_size=32).state
    # 700 pushes into 500 slots: slot 199 is the newest, slot 200 the oldest.
    assert sorted(state["recent_ages"].tolist()) == list(range(32))
    assert state["ages"].max() < 500
    from utils.widgets import ages
    assert ages(memory, [199, 200, 0]).tolist() == [0, 499, 199]


def test_replay_batch_is_decorrelated_unlike_consecutive_transitions(memory):
    state = replay_explorer(memory).state
    assert state["recent_correlation"] > 0.8
    assert abs(state["correlation"]) < 0.4
    assert state["ages"].max() - state["ages"].min() > 300


def test_replay_draws_are_seeded_and_leave_torch_rng_alone(memory):
    before = torch.random.get_rng_state()
    explorer = replay_explorer(memory, seed=7)
    first = explorer.state["positions"].copy()
    button = explorer.children[0].children[-1]
    button.click()
    assert explorer.controls["draw"].value == 1 and explorer.state["seed"] == 8
    assert not np.array_equal(explorer.state["positions"], first)
    explorer.controls["draw"].value = 0
    assert np.array_equal(explorer.state["positions"], first)
    explorer.controls["batch_size"].value = 16
    assert len(explorer.state["positions"]) == 16
    assert torch.equal(torch.random.get_rng_state(), before)


def test_replay_explorer_refuses_what_it_cannot_show(memory):
    with pytest.raises(TypeError, match="ReplayMemory"):
        replay_explorer([1, 2, 3])
    with pytest.raises(ValueError, match="fill the memory first"):
        replay_explorer(ReplayMemory(10))


# --- Rollout scrubber ------------------------------------------------------------------

@pytest.fixture(scope="module")
def rollout():
    """30 frames of a balancing episode."""
    return record_rollout(make_env(0, render=True), balance, max_frames=30)


def test_scrubber_shows_state_and_q_values_at_the_slider(rollout):
    torch.manual_seed(0)
    q_net = QNetwork()
    scrubber = rollout_scrubber(rollout, q_net)
    scrubber.controls["step"].value = 10
    state = scrubber.state
    assert state["values"]["pole angle (°)"] == pytest.approx(math.degrees(rollout.states[10][2]))
    assert state["values"]["cart position"] == pytest.approx(float(rollout.states[10][0]))
    assert state["action"] == rollout.actions[10]
    with torch.no_grad():
        expected = q_net(torch.as_tensor(rollout.states[10])).numpy()
    assert state["q_values"] == pytest.approx(expected, abs=1e-6)
    assert state["greedy_action"] == int(expected.argmax())
    assert scrubber.image.value[:4] == b"\x89PNG" and "greedy action" in scrubber.table.value


def test_scrubber_without_network_and_at_the_last_frame(rollout):
    scrubber = rollout_scrubber(rollout)
    scrubber.controls["step"].value = 29
    assert scrubber.state["action"] is None and "q_values" not in scrubber.state
    # The balancing episode goes on after the 30-frame cap: the recording stops, not the episode.
    assert not (rollout.terminated or rollout.truncated)
    assert "Q(s" not in scrubber.table.value and "recording stops here" in scrubber.table.value
    assert scrubber.controls["step"].max == 29


def test_scrubber_says_episode_over_where_the_pole_fell():
    fallen = record_rollout(make_env(0, render=True), lambda state: 0, max_frames=100)
    assert fallen.terminated
    scrubber = rollout_scrubber(fallen)
    scrubber.controls["step"].value = fallen.steps
    assert "episode over" in scrubber.table.value
    scrubber.controls["step"].value = fallen.steps - 1
    assert "push left" in scrubber.table.value


def test_scrubber_over_n_steps_has_n_plus_one_frames():
    capped = record_rollout(make_env(0, render=True), balance, max_frames=151)
    scrubber = rollout_scrubber(capped)
    assert capped.steps == scrubber.controls["step"].max == 150
    assert "of a 150-step rollout" in scrubber.snapshot()["text/plain"]


# --- Hyperparameter playground ---------------------------------------------------------

TINY = DQNConfig(max_env_steps=200, learning_starts=64, batch_size=32, check_every=100_000)


def test_playground_config_and_labels():
    config = playground_config(TINY, lr=1e-4, target_update=(1, 0.005), eps_decay_steps=2_000,
                               buffer_capacity=1_000, max_env_steps=300)
    assert (config.lr, config.target_update_every, config.tau) == (1e-4, 1, 0.005)
    assert (config.eps_decay_steps, config.buffer_capacity, config.max_env_steps) == (2_000, 1_000, 300)
    assert config.batch_size == TINY.batch_size
    assert run_label(TINY, TINY) == "base settings"
    assert run_label(config, TINY) == ("lr=0.0001, target_update_every=1, tau=0.005, eps_decay_steps=2e+03, "
                                       "buffer_capacity=1e+03, max_env_steps=300")


def test_playground_controls_make_the_config():
    playground = hyperparameter_playground(TINY)
    settings = {"lr": 1e-3, "target_update": (1000, 1.0), "eps_decay_steps": 2_000, "buffer_capacity": 1_000,
                "max_env_steps": 5_000}
    for name, value in settings.items():
        playground.controls[name].value = value
    config = playground.config()
    assert (config.target_update_every, config.eps_decay_steps, config.buffer_capacity, config.max_env_steps) == (
        1000, 2_000, 1_000, 5_000)
    assert playground.runs == [], "changing settings does not train"


def test_playground_trains_and_overlays_runs():
    playground = hyperparameter_playground(TINY)
    assert playground.config() == TINY
    playground.train_button.click()
    assert [run["label"] for run in playground.runs] == ["base settings"]
    assert playground.progress.value == playground.progress.max == 200
    playground.controls["lr"].value = 1e-4
    playground.controls["target_update"].value = (1, 0.005)
    playground.train_button.click()
    second = playground.runs[1]
    assert second["label"] == "lr=0.0001, target_update_every=1, tau=0.005"
    assert len(second["curve"]) == second["episodes"] == len(second["steps"]) > 0
    assert not playground.train_button.disabled
    playground.clear_button.click()
    assert playground.runs == []


def test_playground_before_any_run_pictures_its_empty_axes_and_settings():
    bundle = hyperparameter_playground(TINY).snapshot()
    assert bundle["text/html"].startswith('<img src="data:image/png;base64,'), "a picture, not just a line"
    assert "lr 2.0e-03, a hard target copy every 125 steps, ε decay over 2,500 steps" in bundle["text/plain"]
    assert "a 200-step budget" in bundle["text/plain"]

# --- Where widgets cannot be seen ------------------------------------------------------

def test_explorers_draw_into_their_output_in_a_frontend():
    explorer = discount_explorer()
    assert explorer.mode == "widget"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in (bundle[0] if isinstance(bundle, tuple) else bundle)


def test_explorers_are_static_snapshots_without_a_frontend(monkeypatch, rollout):
    monkeypatch.setenv(MODE_VARIABLE, "text")
    explorer = epsilon_explorer()
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/html"].startswith('<img src="data:image/png;base64,iVBOR')
    assert "360 real steps" in bundle["text/plain"] and "360 real steps" in bundle["text/html"]
    scrubber = rollout_scrubber(rollout)
    snapshot = scrubber._repr_mimebundle_()["text/html"]
    assert snapshot.startswith('<img src="data:image/png;base64,iVBOR') and "pole angle" in snapshot
    assert "No run yet" in hyperparameter_playground(TINY)._repr_mimebundle_()["text/plain"]
