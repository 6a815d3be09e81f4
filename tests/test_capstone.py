"""Notebook 8's tasks: named configs, exploration log, benchmark bookkeeping, and a committed run reproduced."""
import argparse

import gymnasium as gym
import numpy as np
import pytest

from benchmarks.capstone import parse_tasks
from utils.ablation import load_runs
from utils.dqn import DQNConfig
from utils.evaluation import reward_threshold
from utils.tasks import RESULTS, TASK_CONFIGS, TASK_STOP, TASKS, ExplorationLog, run_task, task_config, task_of

ROWS = load_runs(RESULTS)


def test_every_config_belongs_to_one_task_and_stops_at_its_threshold():
    assert sorted(name for names in TASKS.values() for name in names) == sorted(TASK_CONFIGS)
    for name, config in TASK_CONFIGS.items():
        assert config.stop_return == reward_threshold(config.env_id)
        assert task_of(name) in name


def test_the_acrobot_and_default_mountaincar_configs_keep_the_recipe():
    # Only the task, its solved line and the stop's confirmation differ from the recipe: the failure is the recipe's.
    for name in ("acrobot", "mountaincar-default"):
        config = TASK_CONFIGS[name]
        assert config == DQNConfig(env_id=config.env_id, stop_return=config.stop_return, **TASK_STOP)
    assert TASK_STOP == {"confirm_episodes": 100}  # the results and the Acrobot checkpoint were trained with it


def test_task_config_sets_the_seed_and_overrides():
    config = task_config("acrobot", 7, max_env_steps=500)
    assert (config.seed, config.max_env_steps, config.env_id) == (7, 500, "Acrobot-v1")
    with pytest.raises(ValueError, match="unknown config 'cartpole'"):
        task_config("cartpole", 0)


def test_exploration_log_counts_goal_episodes_and_where_the_agent_went():
    log = ExplorationLog(-1.2, 0.6, bins=2)
    state = np.zeros(2)
    log(state, 0, -1.0, np.array([-0.5, 0.0]), False, False)
    log(state, 0, -1.0, np.array([-1.0, 0.0]), False, True)  # time limit: not the goal
    log(state, 2, -1.0, np.array([0.2, 0.0]), False, False)
    log(state, 2, -1.0, np.array([0.6, 0.0]), True, False)  # the flag, on the upper edge
    summary = log.summary()
    assert summary["goal_episodes"] == 1 and summary["first_goal_episode"] == 1
    assert summary["episode_max_coordinate"] == [-0.5, 0.6] and summary["max_coordinate"] == 0.6
    assert summary["coordinate_counts"] == [2, 2] and summary["coordinate_edges"] == [-1.2, -0.3, 0.6]


def test_exploration_log_of_no_goal():
    log = ExplorationLog(0.0, 1.0)
    log(None, 0, -1.0, np.array([0.5]), False, True)
    assert log.summary()["goal_episodes"] == 0 and log.summary()["first_goal_episode"] is None


def test_parse_tasks():
    assert parse_tasks("mountaincar, acrobot") == TASKS["mountaincar"] + TASKS["acrobot"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown task"):
        parse_tasks("acrobot,pong")


def test_the_committed_benchmark_is_complete_and_consistent():
    assert {(r["config_name"], r["seed"]) for r in ROWS} == {(name, seed) for name in TASK_CONFIGS for seed in range(5)}
    for row in ROWS:
        assert row["eval_solved"] == (row["eval_mean"] >= row["threshold"])
        assert (row["solved_at"] is not None) == (row["env_steps"] < row["max_env_steps"])
        # An episode shorter than the time limit ended at the goal (reaching it on the last step also counts).
        time_limit = gym.spec(row["env_id"]).max_episode_steps
        assert len(row["episode_max_coordinate"]) == len(row["episode_returns"])
        assert row["goal_episodes"] >= sum(r > -time_limit for r in row["episode_returns"])


PREFIX_STEPS = 3_000
"""Env steps of a committed run that a fresh run repeats in `make check` (whole runs: `make reproduce`)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mountaincar-default", "mountaincar-remedy"])  # recipe, bonus
def test_a_committed_run_begins_as_a_fresh_run_begins(name):
    committed = next(r for r in ROWS if r["config_name"] == name and r["seed"] == 0)
    fresh = run_task(name, 0, eval_episodes=1, max_env_steps=PREFIX_STEPS)
    # Every training episode's return and furthest point, and the greedy checks, depend on every step before.
    episodes = len(fresh["episode_returns"])
    assert episodes >= 5
    for key in ("episode_returns", "episode_max_coordinate"):
        assert fresh[key] == committed[key][:episodes]
    assert fresh["check_returns"] == committed["check_returns"][:len(fresh["check_returns"])]


@pytest.mark.reproduce
def test_a_committed_run_is_reproduced_by_a_fresh_run():
    committed = min(ROWS, key=lambda r: r["env_steps"])  # the cheapest run to repeat
    fresh = run_task(committed["config_name"], committed["seed"])
    assert {k: v for k, v in fresh.items() if k != "wall_s"} == {k: v for k, v in committed.items() if k != "wall_s"}
