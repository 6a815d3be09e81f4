"""The live training view: which mode it picks, what each mode shows, and that it keeps up."""
import types

import numpy as np
import pytest

from utils.dqn import DQNConfig, train
from utils.live import LiveTrainingView
from utils.widgets import MODE_VARIABLE, detect_mode, moving_average, resolve_mode

KERNEL_SHELL = types.SimpleNamespace(kernel=object())  # what ipykernel's shell looks like
TERMINAL_SHELL = types.SimpleNamespace()  # terminal IPython: a shell without a kernel


@pytest.mark.parametrize("environ, shell, mode", [
    ({"JPY_SESSION_NAME": "/home/me/05_training.ipynb"}, KERNEL_SHELL, "widget"),  # JupyterLab
    ({}, KERNEL_SHELL, "text"),  # a kernel started by nbclient / nbval / nbconvert
    ({"JPY_SESSION_NAME": "x.ipynb"}, TERMINAL_SHELL, "text"),
    ({"JPY_SESSION_NAME": "x.ipynb"}, None, "text"),  # plain python
    ({MODE_VARIABLE: "widget"}, None, "widget"),
    ({MODE_VARIABLE: " Text ", "JPY_SESSION_NAME": "x.ipynb"}, KERNEL_SHELL, "text"),
])
def test_mode_rule(environ, shell, mode):
    assert detect_mode(environ, shell) == mode


def test_bad_modes_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=MODE_VARIABLE):
        detect_mode({MODE_VARIABLE: "gui"}, None)
    with pytest.raises(ValueError, match="mode must be"):
        resolve_mode("fancy")
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert resolve_mode("auto") == "text"


@pytest.mark.parametrize("kwargs, words", [
    ({"total_steps": 0}, "total_steps"), ({"total_steps": 10, "window": 0}, "window"),
    ({"total_steps": 10, "draw_budget": 0.0}, "draw_budget"),
])
def test_bad_arguments_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        LiveTrainingView(**kwargs, mode="text")


def feed(view, episodes: int, length: int = 10) -> None:
    """Report `episodes` episodes of `length` steps each, returns 1, 2, 3, ..."""
    for index in range(episodes):
        view.on_episode(index, float(index + 1), 1.0 - index / episodes, (index + 1) * length)


def test_text_mode_prints_a_line_per_tenth_and_a_summary(capsys):
    view = LiveTrainingView(1_000, mode="text", window=5)
    feed(view, 100)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("[ 10%] episode 10 · step 100 / 1,000 · return 10 · mean of last 5 8.0")
    assert lines[-1].startswith("[100%] episode 100")
    view.finish()
    summary = capsys.readouterr().out
    assert summary.startswith("finished: 100 episodes completed by step 1,000")
    assert "best mean of 5 consecutive training (ε-greedy) returns 98.0" in summary


def test_text_mode_skips_milestones_that_one_long_episode_jumps(capsys):
    view = LiveTrainingView(1_000, mode="text")
    view.on_episode(0, 450.0, 0.5, 450)
    view.on_episode(1, 20.0, 0.5, 470)
    view.on_episode(2, 500.0, 0.5, 970)
    percents = [line.split("]")[0] for line in capsys.readouterr().out.splitlines()]
    assert percents == ["[ 45%", "[ 97%"]


def test_widget_mode_draws_the_curve_and_throttles(capsys):
    view = LiveTrainingView(1_000, mode="widget", window=5, min_redraw_s=3600)
    feed(view, 50)
    assert view.redraws == 1, "within min_redraw_s only the first episode is drawn"
    assert view.image.value[:4] == b"\x89PNG"
    view.finish()
    assert view.redraws == 2
    returns = np.arange(1.0, 51.0)
    assert view.lines["average"].get_ydata() == pytest.approx(moving_average(returns, 5))
    assert list(view.lines["return"].get_xdata()) == list(range(10, 510, 10))
    assert view.bar.value == 500 and view.bar.bar_style == "success"
    assert view.label.value.startswith("finished: 50 episodes")
    assert 0 < view.overhead_s


def test_finish_without_episodes(capsys):
    LiveTrainingView(100, mode="text").finish()
    assert "without completing an episode" in capsys.readouterr().out
    view = LiveTrainingView(100, mode="widget")
    view.finish()
    assert view.bar.value == 0 and view.redraws == 1


def test_view_follows_a_real_training_run(capsys):
    config = DQNConfig(max_env_steps=400, learning_starts=64, batch_size=32, check_every=100_000)
    with LiveTrainingView(config.max_env_steps, mode="text") as view:
        result = train(config, on_episode=view.on_episode)
    out = capsys.readouterr().out
    assert view.returns == result.episode_returns and view.steps == result.episode_end_steps
    assert view.epsilons == result.episode_epsilons
    assert 5 <= len(out.splitlines()) <= 11 and out.splitlines()[-1].startswith("finished:")
    assert "Widget" not in out and "VBox" not in out


def test_a_verdict_replaces_the_summary_and_fills_the_bar(capsys):
    view = LiveTrainingView(1_000, mode="widget")
    feed(view, 52)  # stopped early at step 520 of 1,000
    view.finish("greedy check passed at step 520")
    assert view.bar.value == view.bar.max == 520 and view.bar.description == "done"
    assert view.label.value.endswith(": greedy check passed at step 520")
    # Printed as well: reopened without its widget state, the notebook still shows the verdict.
    assert capsys.readouterr().out.splitlines()[-1] == view.label.value
    text = LiveTrainingView(1_000, mode="text")
    feed(text, 52)
    capsys.readouterr()
    text.finish("greedy check passed at step 520")
    line = capsys.readouterr().out.strip()
    assert line.startswith("finished after 52 episodes in ") and line.endswith(": greedy check passed at step 520")
    assert "ε-greedy" not in line
