"""Seeding: the same seed gives the same numbers and the same episode."""
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.recipe_sweep import CONFIRM_EVAL_EPISODES, CONFIRM_RESULTS, STAGES, candidate_config
from benchmarks.recipe_sweep import RESULTS as RECIPE_SWEEP_RESULTS
from utils.ablation import RESULTS as ABLATION_RESULTS
from utils.ablation import load_runs
from utils.dqn import DQNConfig
from utils.sb3_bridge import RECIPE_VS_SB3, SB3_RESULTS
from utils.seeding import (ABLATION_SEEDS, ABLATION_TUNING_SEEDS, BATCH_CHECK_SEEDS, CAPSTONE_SEEDS,
                           CARTPOLE_TUNING_SEEDS, CONFIRM_SWEEP_SEEDS, HELD_OUT_SEEDS, NOTEBOOK_SEED,
                           RECIPE_REPORT_SEEDS, STOP_SWEEP_SEEDS, TASK_TUNING_SEEDS, env_dimensions, make_env,
                           seed_everything, seed_span)
from utils.tasks import RESULTS as TASK_RESULTS

ROOT = Path(__file__).resolve().parent.parent


def draws():
    """One draw from each global generator the course uses."""
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def trajectory(seed: int, steps: int = 60) -> list:
    """States visited by random actions in a fresh env made with `seed`."""
    env = make_env(seed)
    states = [env.reset()[0]]
    for _ in range(steps):
        state, _, terminated, truncated, _ = env.step(env.action_space.sample())
        states.append(state)
        if terminated or truncated:
            states.append(env.reset()[0])
    return np.array(states)


def test_seed_everything_repeats_every_generator():
    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    seed_everything(4)
    assert draws() != first


def test_same_seed_same_trajectory_and_different_seed_differs():
    assert np.array_equal(trajectory(7), trajectory(7))
    assert not np.array_equal(trajectory(7), trajectory(8))


def test_render_env_gives_frames_without_display():
    env = make_env(0, render=True)
    env.reset()
    assert env.render().shape == (400, 600, 3)


def test_time_limit_can_be_shortened():
    env = make_env(0, max_episode_steps=5)
    assert env.spec.max_episode_steps == 5


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_bad_seed_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)
    with pytest.raises(ValueError, match="non-negative integer"):
        make_env(bad)


def test_numpy_integer_seeds_make_the_same_env_as_python_ints():
    # make_env(seed + i) over np.arange, or a seed drawn with np.random.randint, is a NumPy integer
    for seed in (np.int64(7), np.int32(7), np.uint16(7)):
        env = make_env(seed)
        assert np.array_equal(env.reset()[0], make_env(7).reset()[0])
        assert env.action_space.sample() == make_env(7).action_space.sample()


@pytest.mark.parametrize("env_id, dimensions, frame_shape", [
    ("CartPole-v1", (4, 2), (400, 600, 3)),
    ("Acrobot-v1", (6, 3), (500, 500, 3)),
    ("MountainCar-v0", (2, 3), (400, 600, 3)),
])
def test_other_classic_control_envs_are_made_and_seeded(env_id, dimensions, frame_shape):
    env = make_env(5, render=True, env_id=env_id)
    assert env.spec.id == env_id and env_dimensions(env_id) == dimensions
    assert env.render().shape == frame_shape
    assert np.array_equal(make_env(5, env_id=env_id).reset()[0], make_env(5, env_id=env_id).reset()[0])


@pytest.mark.parametrize("env_id, message", [
    ("CartPole-v9", "not registered in gymnasium"),
    ("Pendulum-v1", "Box actions; DQN needs Discrete ones"),
    ("FrozenLake-v1", "needs a 1-D Box"),
])
def test_envs_dqn_cannot_run_are_refused_clearly(env_id, message):
    with pytest.raises(ValueError, match=message):
        env_dimensions(env_id)


def test_held_out_seeds_were_never_used_to_choose_anything():
    used = {NOTEBOOK_SEED, *CARTPOLE_TUNING_SEEDS, *STOP_SWEEP_SEEDS, *CONFIRM_SWEEP_SEEDS, *TASK_TUNING_SEEDS,
            *ABLATION_TUNING_SEEDS, *ABLATION_SEEDS, *CAPSTONE_SEEDS, *BATCH_CHECK_SEEDS}
    assert not used & set(HELD_OUT_SEEDS)
    assert not set(CAPSTONE_SEEDS) & set(TASK_TUNING_SEEDS)
    assert seed_span(HELD_OUT_SEEDS) == "200-229" and seed_span(range(3, 4)) == "3-3"


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_every_notebook_uses_the_notebook_seed(path):
    assert re.findall(r"^SEED = (\d+)", path.read_text(), flags=re.MULTILINE) == [str(NOTEBOOK_SEED)]


def test_cartpole_was_never_tuned_on_the_seeds_the_recipe_is_reported_on():
    tuned = {*CARTPOLE_TUNING_SEEDS, *STOP_SWEEP_SEEDS, *CONFIRM_SWEEP_SEEDS, *ABLATION_TUNING_SEEDS, NOTEBOOK_SEED}
    assert not tuned & set(RECIPE_REPORT_SEEDS)


@pytest.mark.parametrize("results, seeds", [(ABLATION_RESULTS, ABLATION_SEEDS), (TASK_RESULTS, CAPSTONE_SEEDS),
                                            (SB3_RESULTS, HELD_OUT_SEEDS), (RECIPE_VS_SB3, RECIPE_REPORT_SEEDS)],
                         ids=["ablation", "capstone", "sb3", "recipe vs sb3"])
def test_committed_results_ran_on_their_seed_range(results, seeds):
    assert {row["seed"] for row in load_runs(results)} == set(seeds)


def stage_grid(*stages) -> list:
    """The (seed, candidate) runs of `stages`, sorted."""
    return sorted((seed, name) for stage in stages for name in STAGES[stage].candidates
                  for seed in STAGES[stage].seeds)


def test_the_committed_recipe_sweep_ran_each_stage_on_its_own_tuning_seeds():
    rows = load_runs(ROOT / RECIPE_SWEEP_RESULTS)
    assert sorted((row["seed"], row["variant"]) for row in rows) == stage_grid("1-2", "3")
    confirm_rows = load_runs(ROOT / CONFIRM_RESULTS)
    assert sorted((row["seed"], row["variant"]) for row in confirm_rows) == stage_grid("4")
    assert {row["eval_episodes"] for row in confirm_rows} == {CONFIRM_EVAL_EPISODES}
    assert max(seed for seed, _ in stage_grid(*STAGES)) < 100
    # Stage 4 starts from the candidate chosen in stage 2 (kept in stage 3), as it ran then;
    # its last candidate, chosen there, is DQNConfig's defaults: the recipe.
    assert candidate_config(STAGES["4"].candidates[0], seed=7) == DQNConfig(seed=7, confirm_episodes=100)
    assert candidate_config(STAGES["4"].candidates[-1], seed=7) == DQNConfig(seed=7)

