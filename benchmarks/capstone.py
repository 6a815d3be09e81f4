"""The course's DQN on Acrobot-v1 and MountainCar-v0 over training seeds, resumable.

    python -m benchmarks.capstone --tasks acrobot,mountaincar --seeds 0-4 --json results/capstone.jsonl

For each seed, every config of each task (`utils.tasks.TASKS`, `TASK_CONFIGS`) trains,
then plays 100 greedy episodes on held-out seeds. The seeds of a config train together as
one batch of agents (utils.many), in two processes at once (--jobs); each finished run is
appended to the results file as one JSON line as soon as its agent stops. Running the
command again skips the (config, seed) pairs already there, so an interrupted benchmark
resumes where it stopped (benchmarks.sweep: --jobs, --shard, --merge). A run's `wall_s`
is the time from the start of its batch until it stopped. At the end it prints, per
config, how many runs reached the task's threshold and what they cost.
"""
import argparse
import sys

import numpy as np

from benchmarks.solve_rate import parse_seeds
from benchmarks.sweep import Sweep, add_sweep_arguments, merge_parts, run_sweep
from utils.tasks import RESULTS, TASKS, exploration_log_for, task_config, task_row
from utils.seeding import CAPSTONE_SEEDS, seed_span


def parse_tasks(text: str) -> list:
    """'acrobot,mountaincar' → the names of their configs, in TASKS order."""
    tasks = [task.strip() for task in text.split(",")]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown task(s) {unknown}; expected some of {list(TASKS)}")
    return [name for task in tasks for name in TASKS[task]]


def describe(row: dict) -> str:
    """The progress line of one saved run."""
    return (f"{row['config_name']:<22} seed {row['seed']:>3}: {row['env_steps']:>7,} steps, solved at "
            f"{row['solved_at']}, eval mean {row['eval_mean']:7.1f}, {row['goal_episodes']} goal episodes, "
            f"{row['wall_s']:6.1f} s")


CAPSTONE = Sweep(key="config_name", config=task_config, row=task_row, describe=describe, hook=exploration_log_for)


def report(rows: list, names: list) -> None:
    """Print per config: runs, runs stopped by a confirmed check, runs solved on evaluation, and their costs."""
    print(f"\n{'config':<22}{'runs':>5}{'stopped':>8}{'solved':>7}{'eval mean (each run)':>44}"
          f"{'median steps':>13}{'median wall':>12}  {'training episodes at the goal'}")
    for name in names:
        runs = sorted((r for r in rows if r["config_name"] == name), key=lambda r: r["seed"])
        if not runs:
            continue
        means = " ".join(f"{r['eval_mean']:.0f}" for r in runs)
        print(f"{name:<22}{len(runs):>5}{sum(r['solved_at'] is not None for r in runs):>8}"
              f"{sum(r['eval_solved'] for r in runs):>7}{means:>44}"
              f"{np.median([r['env_steps'] for r in runs]):>13,.0f}{np.median([r['wall_s'] for r in runs]):>11.1f}s"
              f"  {' '.join(str(r['goal_episodes']) for r in runs)}")


def main(argv=None) -> int:
    """Run the missing (config, seed) pairs, appending each row; print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=parse_tasks, default=parse_tasks(",".join(TASKS)),
                        help=f"comma-separated tasks (default: {','.join(TASKS)})")
    parser.add_argument("--seeds", type=parse_seeds, default=list(CAPSTONE_SEEDS),
                        help=f"training seeds (default {seed_span(CAPSTONE_SEEDS)}, utils.seeding.CAPSTONE_SEEDS)")
    parser.add_argument("--json", default=str(RESULTS), help=f"results file, one JSON line per run (default {RESULTS})")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    if args.merge:
        rows = merge_parts(CAPSTONE, args.json, args.merge)
    else:
        rows = run_sweep(CAPSTONE, args.json, args.tasks, args.seeds, args.jobs, args.shard)
    report([r for r in rows if r["seed"] in args.seeds], args.tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
