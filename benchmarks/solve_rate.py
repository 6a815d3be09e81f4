"""Solve rate and speed of the course's DQN over seeds, optionally beside two baselines.

    python -m benchmarks.solve_rate --seeds 0-9 [--baseline seed-fixed] [--baseline sb3] --json out.json
    python -m benchmarks.solve_rate --seeds 0-9 --baseline sb3 --many --jobs 2   # as `make bench`

Each seed trains with the course defaults (`DQNConfig(seed=seed)`), then plays 100 greedy
episodes on evaluation seeds disjoint from training. Baselines run interleaved per seed,
so all implementations see the same machine load. By default every implementation runs
with one torch thread (the course sets it; `--baseline-threads 0` gives the baselines
torch's own default instead, as their users would run them).

With --many, the course trains all its seeds at once as one batch of agents (utils.many;
each run as it would alone), then the baselines run one after another; with --jobs 2 the
batch and the baselines run at the same time, in two processes (one core each). A course
run's wall_s is then the time from the start of the batch until it stopped, so the ratios
printed compare total times: the batch's against the sum of a baseline's runs.
"""
import argparse
import json
import multiprocessing
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor

import torch

from benchmarks.sb3_baseline import INSTALL_HINT, sb3_available, train_sb3
from benchmarks.seed_loop import train_seed_loop
from utils.dqn import DQNConfig, train
from utils.evaluation import REWARD_THRESHOLD, evaluate
from utils.many import train_many

BASELINES = ("seed-fixed", "sb3")
PERFECT_RETURN = 500.0
TORCH_DEFAULT_THREADS = torch.get_num_threads()


def parse_seeds(text: str) -> list:
    """'0-9', '3,17,42' or '100-104,7' → a list of distinct seeds in the order given."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise argparse.ArgumentTypeError(f"bad seed list {text!r}: expected e.g. 0-9, 3,17,42 or 100-104,7")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise argparse.ArgumentTypeError(f"bad seed range {part!r}: the end is below the start")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    return seeds


def run_course(seed: int) -> dict:
    """Train the course's DQN with the default config."""
    result = train(DQNConfig(seed=seed))
    return {"q_net": result.q_net, "env_steps": result.env_steps, "updates": result.updates,
            "wall_s": result.wall_s}


RUNNERS = {"course": run_course, "seed-fixed": train_seed_loop, "sb3": train_sb3}


def measure(impl: str, seed: int, eval_episodes: int, baseline_threads: int = 1) -> dict:
    """Train `impl` on `seed`, evaluate it greedily, return one JSON-ready row."""
    threads = {} if impl == "course" else {"num_threads": baseline_threads or TORCH_DEFAULT_THREADS}
    return run_row(impl, seed, RUNNERS[impl](seed, **threads), eval_episodes)


def course_batch_rows(seeds: list, eval_episodes: int) -> list:
    """The course's runs of `seeds`, trained at once as one batch of agents (utils.many), each evaluated as it stops."""
    rows = []

    def save(agent: int, result) -> None:
        run = {"q_net": result.q_net, "env_steps": result.env_steps, "updates": result.updates,
               "wall_s": result.wall_s}
        rows.append(run_row("course", seeds[agent], run, eval_episodes))
        print(format_row(rows[-1]), flush=True)

    train_many([DQNConfig(seed=seed) for seed in seeds], on_result=save)
    return sorted(rows, key=lambda row: seeds.index(row["seed"]))


def sequential_rows(impls: list, seeds: list, eval_episodes: int, baseline_threads: int) -> list:
    """The runs of `impls` on `seeds`, one after another, interleaved per seed (all see the same machine load)."""
    rows = []
    for seed in seeds:
        for impl in impls:
            rows.append(measure(impl, seed, eval_episodes, baseline_threads))
            print(format_row(rows[-1]), flush=True)
    return rows


def batched_rows(seeds: list, baselines: list, eval_episodes: int, baseline_threads: int, jobs: int) -> list:
    """The course's batch, then the baselines' runs; with `jobs` ≥ 2 both at once, in two processes."""
    if jobs < 2 or not baselines:
        return course_batch_rows(seeds, eval_episodes) + sequential_rows(baselines, seeds, eval_episodes,
                                                                       baseline_threads)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        course = pool.submit(course_batch_rows, seeds, eval_episodes)
        others = pool.submit(sequential_rows, baselines, seeds, eval_episodes, baseline_threads)
        return course.result() + others.result()


def run_row(impl: str, seed: int, run: dict, eval_episodes: int) -> dict:
    """One JSON-ready row of a trained run (`run`: q_net, env_steps, updates, wall_s), after evaluating it greedily."""
    returns = evaluate(run["q_net"], n_episodes=eval_episodes)
    return {"impl": impl, "seed": seed, "env_steps": run["env_steps"], "updates": run["updates"],
            "wall_s": round(run["wall_s"], 3), "eval_mean": float(returns.mean()),
            "eval_min": float(returns.min()), "n_500": int((returns == PERFECT_RETURN).sum())}


def summarize(rows: list, eval_episodes: int, batched: bool = False) -> dict:
    """Solved and perfect counts, medians and total wall time of one implementation's rows (`batched`: at once)."""
    walls = [r["wall_s"] for r in rows]
    return {"runs": len(rows), "total_wall_s": round(max(walls) if batched else sum(walls), 3),
            "solved": sum(r["eval_mean"] >= REWARD_THRESHOLD for r in rows),
            "perfect": sum(r["n_500"] == eval_episodes for r in rows),
            "median_env_steps": statistics.median(r["env_steps"] for r in rows),
            "median_updates": statistics.median(r["updates"] for r in rows),
            "median_wall_s": round(statistics.median(r["wall_s"] for r in rows), 3)}


def ratios(summary: dict, batched: bool = False) -> dict:
    """Course wall time over each baseline's (below 1: the course is faster): medians, or totals when `batched`."""
    kind = "total_wall" if batched else "median_wall"
    ours = summary["course"][f"{kind}_s"]
    return {f"course/{impl}_{kind}": round(ours / s[f"{kind}_s"], 3)
            for impl, s in summary.items() if impl != "course"}


def format_row(row: dict) -> str:
    """One table line."""
    return (f"{row['impl']:<11}{row['seed']:>6}{row['env_steps']:>10}{row['updates']:>9}"
            f"{row['wall_s']:>9.1f}{row['eval_mean']:>10.1f}{row['eval_min']:>9.0f}{row['n_500']:>7}")


def main(argv=None) -> int:
    """Parse the command line, run every seed, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"),
                        help="training seeds: 0-9, 3,17,42 or 100-104,7 (default 0-9)")
    parser.add_argument("--baseline", action="append", choices=BASELINES, default=[],
                        help="also run this baseline on every seed (repeatable)")
    parser.add_argument("--baseline-threads", type=int, default=1,
                        help="torch threads for the baselines (default 1, as the course; 0 = torch's default)")
    parser.add_argument("--eval-episodes", type=int, default=100, help="greedy evaluation episodes")
    parser.add_argument("--many", action="store_true",
                        help="train the course's seeds at once, as one batch of agents (utils.many)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --many: 2 runs the course's batch and the baselines at the same time (default 1)")
    parser.add_argument("--json", help="write runs and summary to this file")
    args = parser.parse_args(argv)
    if "sb3" in args.baseline and not sb3_available():
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    impls = ["course"] + [b for b in BASELINES if b in args.baseline]

    print(f"{'impl':<11}{'seed':>6}{'env_steps':>10}{'updates':>9}{'wall_s':>9}{'eval_mean':>10}"
          f"{'eval_min':>9}{'n_500':>7}", flush=True)
    if args.many:
        rows = batched_rows(args.seeds, impls[1:], args.eval_episodes, args.baseline_threads, args.jobs)
    else:
        rows = sequential_rows(impls, args.seeds, args.eval_episodes, args.baseline_threads)

    summary = {impl: summarize([r for r in rows if r["impl"] == impl], args.eval_episodes,
                               batched=args.many and impl == "course") for impl in impls}
    print()
    for impl, s in summary.items():
        print(f"{impl:<11} solved {s['solved']}/{s['runs']}  perfect {s['perfect']}/{s['runs']}  "
              f"median env_steps {s['median_env_steps']:.0f}  median wall {s['median_wall_s']:.1f} s  "
              f"total wall {s['total_wall_s']:.1f} s")
    report = {"seeds": args.seeds, "eval_episodes": args.eval_episodes, "runs": rows, "summary": summary,
              "baseline_threads": args.baseline_threads or TORCH_DEFAULT_THREADS, "many": args.many}
    if len(impls) > 1:
        report["ratios"] = ratios(summary, batched=args.many)
        for name, value in report["ratios"].items():
            print(f"{name}: {value:.3f}  (their/ours = {1 / value:.1f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
