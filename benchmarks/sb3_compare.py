"""The course's DQN beside Stable-Baselines3's on held-out seeds, with and without SB3's early stopping.

    python -m benchmarks.sb3_compare --seeds 200-229 --json results/sb3_compare.jsonl

Per seed, three runs, one torch thread each, interleaved so all see the same machine load:
  course      `train(DQNConfig(seed=seed))`: greedy checks, early stop, best weights kept.
  sb3-zoo     SB3's DQN with the rl-baselines3-zoo settings for their 50,000 steps, final model.
  sb3-zoo-es  the same settings with SB3's early stopping: EvalCallback every 1,000 steps on
              20 episodes, StopTrainingOnRewardThreshold at 500, the best model kept, within
              the course's budget of 100,000 steps; ε still decays over the zoo's 8,000 steps,
              so up to the stop this run takes exactly sb3-zoo's steps.
Each trained network then plays 100 greedy episodes on the course's evaluation seeds
(utils.evaluation.evaluate). Each run is appended to the results file as one JSON line;
running again skips the (impl, seed) pairs already there.
"""
import argparse
import statistics
import sys

import numpy as np

from benchmarks.sb3_baseline import train_sb3
from benchmarks.solve_rate import PERFECT_RETURN, parse_seeds
from utils.ablation import load_runs, missing_runs, run_missing
from utils.dqn import DQNConfig, train
from utils.evaluation import REWARD_THRESHOLD, evaluate
from utils.sb3_bridge import SB3_RESULTS, train_sb3_with_eval, zoo_settings
from utils.seeding import HELD_OUT_SEEDS, seed_span

EARLY_STOP_BUDGET = DQNConfig.max_env_steps
EARLY_STOP_CHECKS = dict(eval_every=DQNConfig.check_every, eval_episodes=DQNConfig.check_episodes,
                         threshold=DQNConfig.stop_return)
"""sb3-zoo-es checks like the course's greedy checks: every 1,000 steps, 20 episodes, stop at a perfect 500."""


def run_course(seed: int) -> dict:
    """The course's recipe on `seed`."""
    result = train(DQNConfig(seed=seed))
    return {"q_net": result.q_net, "env_steps": result.env_steps, "wall_s": result.wall_s,
            "stopped_early": result.stopped_early, "check_steps": result.check_steps,
            "check_returns": result.check_returns}


def run_sb3_zoo(seed: int) -> dict:
    """SB3 with the zoo settings for 50k steps, no early stopping."""
    run = train_sb3(seed, num_threads=1)
    return {"q_net": run["q_net"], "env_steps": run["env_steps"], "wall_s": run["wall_s"], "stopped_early": False}


def run_sb3_zoo_early_stop(seed: int) -> dict:
    """SB3 with the zoo settings, EvalCallback + StopTrainingOnRewardThreshold, best model kept."""
    run = train_sb3_with_eval(zoo_settings(EARLY_STOP_BUDGET), seed, EARLY_STOP_BUDGET, **EARLY_STOP_CHECKS)
    return {"q_net": run.q_net, "env_steps": run.env_steps, "wall_s": run.wall_s,
            "stopped_early": run.stopped_early, "check_steps": run.eval_steps, "check_returns": run.eval_returns}


RUNNERS = {"course": run_course, "sb3-zoo": run_sb3_zoo, "sb3-zoo-es": run_sb3_zoo_early_stop}


def measure(impl: str, seed: int, eval_episodes: int = 100) -> dict:
    """Train `impl` on `seed`, score it on held-out episodes, return one JSON-ready row."""
    run = RUNNERS[impl](seed)
    returns = evaluate(run.pop("q_net"), n_episodes=eval_episodes)
    return {"impl": impl, "seed": seed, **run, "wall_s": round(run["wall_s"], 3),
            "eval_mean": float(returns.mean()), "eval_min": float(returns.min()),
            "n_500": int(np.sum(returns == PERFECT_RETURN)), "eval_episodes": eval_episodes,
            "solved": bool(returns.mean() >= REWARD_THRESHOLD)}


def report(rows: list) -> None:
    """Per implementation: solved and perfect counts, median env steps and wall time."""
    print(f"\n{'impl':<12}{'runs':>5}{'solved':>7}{'perfect':>8}{'median steps':>13}{'median wall':>12}")
    for impl in RUNNERS:
        runs = [r for r in rows if r["impl"] == impl]
        if runs:
            print(f"{impl:<12}{len(runs):>5}{sum(r['solved'] for r in runs):>7}"
                  f"{sum(r['n_500'] == r['eval_episodes'] for r in runs):>8}"
                  f"{statistics.median(r['env_steps'] for r in runs):>13,.0f}"
                  f"{statistics.median(r['wall_s'] for r in runs):>11.1f}s")


def main(argv=None) -> int:
    """Run the missing (impl, seed) pairs, appending each row; print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(HELD_OUT_SEEDS),
                        help=f"training seeds (default {seed_span(HELD_OUT_SEEDS)}, utils.seeding.HELD_OUT_SEEDS: "
                             "never used to choose a setting, on any task)")
    parser.add_argument("--json", default=str(SB3_RESULTS), help="results file, one JSON line per run")
    parser.add_argument("--impls", nargs="+", choices=list(RUNNERS), default=list(RUNNERS),
                        help="implementations to run (default: all three)")
    args = parser.parse_args(argv)
    rows = load_runs(args.json)
    todo = missing_runs(rows, "impl", args.impls, args.seeds)
    rows = run_missing(args.json, rows, todo, measure, lambda row: (
        f"{row['impl']:<11} seed {row['seed']:>3}: {row['env_steps']:>7,} steps, eval mean {row['eval_mean']:6.1f}, "
        f"solved {row['solved']!s:<5}, {row['wall_s']:6.1f} s"))
    report([r for r in rows if r["seed"] in args.seeds and r["impl"] in args.impls])
    return 0


if __name__ == "__main__":
    sys.exit(main())
