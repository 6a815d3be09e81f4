"""Notebook 7's ablation: a committed run is reproduced by a fresh one, and its explorer recomputes what it shows."""
import dataclasses

import numpy as np
import pytest

from utils import ablation
from utils.ablation import (RESULTS, TUNING_RESULTS, VARIANTS, curve_band, load_runs, run_live, runs_of, tuned_config,
                            tuned_lrs, tuning_config, variant_summary)
from utils.dqn import DQNConfig
from utils.seeding import ABLATION_SEEDS
from utils.widgets import ABLATION_GRID, MODE_VARIABLE, ablation_explorer

ROWS = load_runs(RESULTS)


def test_the_committed_ablation_is_complete():
    assert {(r["variant"], r["seed"]) for r in ROWS} == {(v, s) for v in VARIANTS for s in ABLATION_SEEDS}


PREFIX_STEPS = 3_000
"""Env steps of a committed run that a fresh run repeats in `make check` (whole runs: `make reproduce`)."""


def test_the_committed_runs_are_each_variants_config_with_its_tuned_rate():
    lrs = tuned_lrs(load_runs(TUNING_RESULTS))
    for row in ROWS:
        assert DQNConfig(**row["config"]) == tuned_config(row["variant"], row["seed"], lrs)
    for row in load_runs(TUNING_RESULTS):
        assert DQNConfig(**row["config"]) == tuning_config(row["variant"], row["seed"])


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["default", "n-step 3"])
def test_a_committed_run_begins_as_a_fresh_run_begins(variant):
    # Not prioritized replay: its β anneals over max_env_steps, so a shorter budget changes every batch's weights.
    committed = min(runs_of(ROWS, variant), key=lambda r: r["env_steps"])
    (fresh,) = run_live(variant, [committed["seed"]], eval_episodes=1, max_env_steps=PREFIX_STEPS)
    checks = len(fresh["check_steps"])
    assert checks >= 2
    assert (fresh["check_steps"], fresh["check_returns"]) == (committed["check_steps"][:checks],
                                                              committed["check_returns"][:checks])


@pytest.mark.reproduce
def test_a_committed_run_is_reproduced_by_a_fresh_run():
    committed = min(ROWS, key=lambda r: r["env_steps"])  # the cheapest run to repeat
    (fresh,) = run_live(committed["variant"], [committed["seed"]])
    measured = lambda row: {k: v for k, v in row.items() if k not in ("wall_s", "config")}  # noqa: E731
    assert measured(fresh) == measured(committed)
    # Configs compare as DQNConfigs: fields added since the run was committed take their defaults.
    assert DQNConfig(**fresh["config"]) == DQNConfig(**committed["config"])


def test_summaries_agree_with_the_rows():
    runs = runs_of(ROWS, "default")
    summary = variant_summary(runs)
    assert summary["runs"] == len(ABLATION_SEEDS) and summary["solved"] == sum(r["eval_mean"] >= 475 for r in runs)
    assert summary["score_ci"][0] <= summary["score_iqm"] <= summary["score_ci"][1]
    assert summary["steps_ci"][0] <= summary["steps_iqm"] <= summary["steps_ci"][1]
    band = curve_band(runs, ABLATION_GRID)
    assert np.all(band["low"] <= band["iqm"] + 1e-9) and np.all(band["iqm"] <= band["high"] + 1e-9)
    assert band["runs"].shape == (len(ABLATION_SEEDS), len(band["steps"]))


@pytest.fixture
def forked_live_processes(monkeypatch):
    """run_live's processes forked from this one: the same code paths without importing torch again in each.

    (Processes started as run_live starts them, from a fork server, are tested by test_many's sweep in two processes.)
    """
    monkeypatch.setattr(ablation, "LIVE_START_METHOD", "fork")


def test_a_live_ablation_gives_each_seed_the_run_it_would_have_alone(forked_live_processes):
    short = {"eval_episodes": 5, "max_env_steps": 1_500, "learning_starts": 300}
    rows = run_live("n-step 3", [3, 4], jobs=2, **short)  # one seed in each of two processes
    assert [r["seed"] for r in rows] == [3, 4]
    for row in rows:
        config = tuned_config("n-step 3", row["seed"])
        assert DQNConfig(**row["config"]) == dataclasses.replace(config, max_env_steps=1_500, learning_starts=300)
        assert row["env_steps"] == 1_500 and row["eval_episodes"] == 5
    measured = lambda row: {k: v for k, v in row.items() if k != "wall_s"}  # noqa: E731
    assert [measured(row) for row in run_live("n-step 3", [4], jobs=1, **short)] == [measured(rows[1])]


def test_a_live_ablation_says_why_a_training_process_failed(forked_live_processes):
    with pytest.raises(RuntimeError, match=r"process \d failed with ValueError: n_episodes must be a positive integer"):
        run_live("default", [3, 4], jobs=2, eval_episodes=0, max_env_steps=400, learning_starts=300)


def test_the_explorer_redraws_the_chosen_variants(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "widget")
    explorer = ablation_explorer(ROWS)
    assert list(explorer.state["summaries"]) == list(VARIANTS)
    explorer.controls["variants"].value = ("dueling", "n-step 3")
    assert list(explorer.state["summaries"]) == ["dueling", "n-step 3"]
    explorer.controls["seeds"].value = False
    assert explorer.state["show_seeds"] is False
    explorer.controls["variants"].value = ()
    assert explorer.state["summaries"] == {} and "pick at least one variant" in explorer.snapshot()["text/plain"]


def test_the_explorer_needs_runs():
    with pytest.raises(ValueError, match="make ablation"):
        ablation_explorer([])
