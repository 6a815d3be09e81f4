"""N agents trained at once (utils.many.train_many) against each trained alone (utils.dqn.train), resumable.

    python -m benchmarks.many_vs_single --seeds 300-319 --json results/many_vs_single.jsonl

Every seed trains the recipe (`DQNConfig(seed=seed)`) twice: alone with `train` ("single"),
and together with every other seed as one batch of `train_many` ("many"); each run then
plays 100 greedy episodes on held-out seeds. The committed results use seeds 300-319,
which no other experiment of the course trains on. Each run is appended to the results
file as one JSON line when it finishes (with a SHA-256 of its final weights); running the
command again skips the runs already there. With --jobs 2 (the default) the single runs
and the batch train at the same time, in two processes. At the end it prints, for each
way, the solved count, the median env steps with its 95% bootstrap interval, and on how
many seeds the two ways gave the same weights.
"""
import argparse
import hashlib
import sys

import numpy as np

from benchmarks.solve_rate import PERFECT_RETURN, parse_seeds
from benchmarks.sweep import positive_int, run_in_processes, save_row
from utils.ablation import load_runs
from utils.dqn import DQNConfig, train
from utils.evaluation import REWARD_THRESHOLD, config_record, evaluate
from utils.many import train_many
from utils.seeding import BATCH_CHECK_SEEDS, seed_span
from utils.stats import bootstrap_ci

IMPLS = ("single", "many")


def weights_sha256(q_net) -> str:
    """SHA-256 of a network's weights, tensor after tensor in state_dict order: equal hashes, equal weights."""
    digest = hashlib.sha256()
    for tensor in q_net.state_dict().values():
        digest.update(tensor.detach().numpy().tobytes())
    return digest.hexdigest()


def run_row(impl: str, config: DQNConfig, result, agents: int) -> dict:
    """One JSON-ready row: a run of `impl` (`agents` trained at once), evaluated on 100 held-out episodes."""
    returns = evaluate(result.q_net)
    return {"impl": impl, "seed": config.seed, "agents": agents, "env_steps": result.env_steps,
            "solved_at": result.env_steps if result.stopped_early else None, "updates": result.updates,
            "wall_s": round(result.wall_s, 3), "eval_mean": float(returns.mean()), "eval_min": float(returns.min()),
            "n_500": int(np.sum(returns == PERFECT_RETURN)), "check_steps": result.check_steps,
            "check_returns": result.check_returns, "weights_sha256": weights_sha256(result.q_net),
            "config": config_record(config)}


def describe(row: dict) -> str:
    """The progress line of one saved run."""
    return (f"{row['impl']:<7} seed {row['seed']:>4}: {row['env_steps']:>7,} steps, eval mean {row['eval_mean']:6.1f}, "
            f"{row['wall_s']:6.1f} s")


def train_singles(path, seeds: list, lock=None) -> None:
    """Train each seed alone with `train`, appending its row."""
    for seed in seeds:
        config = DQNConfig(seed=seed)
        row = run_row("single", config, train(config), agents=1)
        save_row(path, row, lock)
        print(describe(row), flush=True)


def train_batch(path, seeds: list, lock=None) -> None:
    """Train all seeds at once with `train_many`, appending each row as its agent stops."""
    configs = [DQNConfig(seed=seed) for seed in seeds]

    def save(agent: int, result) -> None:
        row = run_row("many", configs[agent], result, agents=len(configs))
        save_row(path, row, lock)
        print(describe(row), flush=True)

    train_many(configs, on_result=save)


def summary(rows: list, seeds: list) -> dict:
    """Per way: runs, solved, median env steps and its 95% bootstrap interval; and the seeds with equal weights."""
    by_impl = {impl: {r["seed"]: r for r in rows if r["impl"] == impl and r["seed"] in seeds} for impl in IMPLS}
    table = {}
    for impl, runs in by_impl.items():
        steps = np.array([runs[seed]["env_steps"] for seed in sorted(runs)], dtype=float)  # in seed order
        table[impl] = {"runs": len(runs), "solved": sum(r["eval_mean"] >= REWARD_THRESHOLD for r in runs.values()),
                       "median_env_steps": float(np.median(steps)) if len(steps) else None,
                       "median_ci": bootstrap_ci(steps, statistic=np.median) if len(steps) > 1 else None}
    both = set(by_impl["single"]) & set(by_impl["many"])
    table["same_weights"] = sorted(s for s in both
                                   if by_impl["single"][s]["weights_sha256"] == by_impl["many"][s]["weights_sha256"])
    table["seeds_in_both"] = len(both)
    return table


def main(argv=None) -> int:
    """Train the missing runs of both ways, appending each row; print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(BATCH_CHECK_SEEDS),
                        help=f"training seeds (default {seed_span(BATCH_CHECK_SEEDS)}: no other experiment uses them)")
    parser.add_argument("--json", required=True, help="results file, one JSON line per run (resumed if present)")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="2 (default): the single runs and the batch train at the same time; 1: one after another")
    args = parser.parse_args(argv)
    done = {(r["impl"], r["seed"]) for r in load_runs(args.json)}
    todo = {impl: [s for s in args.seeds if (impl, s) not in done] for impl in IMPLS}
    print(f"{len(done)} runs already in {args.json}; to go: {len(todo['single'])} single, "
          f"{len(todo['many'])} in one batch", flush=True)
    tasks = [(train_singles, (args.json, todo["single"])), (train_batch, (args.json, todo["many"]))]
    tasks = [(function, task_args) for function, task_args in tasks if task_args[1]]
    if args.jobs > 1 and len(tasks) > 1:
        run_in_processes(tasks, args.json)
    else:
        for function, task_args in tasks:
            function(*task_args)
    table = summary(load_runs(args.json), args.seeds)
    print()
    for impl in IMPLS:
        s = table[impl]
        if s["runs"] > 1:
            print(f"{impl:<7} solved {s['solved']}/{s['runs']}  median env steps {s['median_env_steps']:,.0f} "
                  f"[95% CI {s['median_ci'][0]:,.0f}, {s['median_ci'][1]:,.0f}]")
    print(f"same weights both ways on {len(table['same_weights'])} of {table['seeds_in_both']} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
