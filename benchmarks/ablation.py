"""Ablation of dueling, n-step and prioritized replay over training seeds, each with a tuned learning rate, resumable.

    python -m benchmarks.ablation                                                 # or: make ablation
    python -m benchmarks.ablation --stage final --seeds 110-119 --json out.jsonl  # the final runs only
    python -m benchmarks.ablation --stage final --shard 3/8 --json part3.jsonl    # task 3 of a job array of 8
    python -m benchmarks.ablation --merge part*.jsonl --json results/ablation.jsonl

First (`--stage tune`), every variant of `utils.ablation.VARIANTS` trains with the recipe's
learning rate times each of `LR_FACTORS` on the tuning seeds, into the tuning file; each
variant keeps the rate whose runs solved most often, then needed the fewest env steps
(median). Then (`--stage final`) each variant trains with its rate on the ablation's own
seeds. Every run plays 100 greedy episodes on held-out seeds. The seeds of a variant
train together as one batch of agents (utils.many), in two processes at once (--jobs);
each finished run is appended to the results file as one JSON line as soon as its agent
stops. Running the command again skips the (variant, seed) pairs already there, so an
interrupted ablation resumes where it stopped (benchmarks.sweep: --jobs, --shard, --merge).
A run's `wall_s` is the time from the start of its batch until it stopped. At the end it
prints the chosen rates and, per variant, the IQM with a 95% bootstrap interval of the
final greedy score and of the env steps to the first confirmed perfect check.
"""
import argparse
import functools
import sys

from benchmarks.solve_rate import parse_seeds
from benchmarks.sweep import Sweep, add_sweep_arguments, merge_parts, run_sweep
from utils.ablation import (LR_FACTORS, RESULTS, TUNING_RESULTS, VARIANTS, load_runs, runs_of, tuned_config,
                            tuned_lrs, tuning_config, tuning_name, variant_row, variant_summary)
from utils.seeding import ABLATION_SEEDS, ABLATION_TUNING_SEEDS, seed_span


def interval(estimate: float, ci: tuple) -> str:
    """'IQM [low, high]'."""
    return f"{estimate:8.0f} [{ci[0]:.0f}, {ci[1]:.0f}]"


def ablation_row(variant: str, config, result, hook) -> dict:
    """The row of one trained run (no on_step hook)."""
    return variant_row(variant, config, result)


def describe(row: dict) -> str:
    """The progress line of one saved run."""
    return (f"{row['variant']:<13} seed {row['seed']:>3}: {row['env_steps']:>7,} steps, solved at {row['solved_at']}, "
            f"eval mean {row['eval_mean']:6.1f}, {row['wall_s']:6.1f} s")


TUNING = Sweep(key="variant", config=tuning_config, row=ablation_row, describe=describe)


def ablation_sweep(lrs: dict) -> Sweep:
    """The final runs: each variant with its learning rate from `lrs`."""
    return Sweep(key="variant", config=functools.partial(tuned_config, lrs=lrs), row=ablation_row, describe=describe)


def report(rows: list, variants: list) -> None:
    """Print the table: runs, solved, IQM and CI of the score and of steps to solve, median wall time."""
    print(f"\n{'variant':<13}{'runs':>5}{'solved':>7}   {'final score IQM [95% CI]':<26}"
          f"{'env steps to solve IQM [95% CI]':<34}{'median wall':>11}")
    for variant in variants:
        runs = runs_of(rows, variant)
        if len(runs) < 2:
            continue
        s = variant_summary(runs)
        print(f"{variant:<13}{s['runs']:>5}{s['solved']:>7}   {interval(s['score_iqm'], s['score_ci']):<26}"
              f"{interval(s['steps_iqm'], s['steps_ci']):<34}{s['median_wall_s']:>10.1f}s")


def main(argv=None) -> int:
    """Tune each variant's learning rate, then run the variants on the ablation's seeds; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("tune", "final", "both"), default="both",
                        help="tune the learning rates, run the final ablation with them, or both (default)")
    parser.add_argument("--seeds", type=parse_seeds, default=list(ABLATION_SEEDS),
                        help=f"seeds of the final runs (default {seed_span(ABLATION_SEEDS)}, utils.seeding.ABLATION_SEEDS)")
    parser.add_argument("--tuning-seeds", type=parse_seeds, default=list(ABLATION_TUNING_SEEDS),
                        help=f"seeds of the tuning runs (default {seed_span(ABLATION_TUNING_SEEDS)})")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="variants to run (default: all)")
    parser.add_argument("--json", default=str(RESULTS), help=f"results of the final runs (default {RESULTS})")
    parser.add_argument("--tuning-json", default=str(TUNING_RESULTS), help=f"tuning results (default {TUNING_RESULTS})")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    if set(args.seeds) & set(args.tuning_seeds):
        parser.error("the final runs' seeds must not be tuning seeds")
    if args.stage in ("tune", "both") and not args.merge:
        names = [tuning_name(variant, factor) for variant in args.variants for factor in LR_FACTORS]
        run_sweep(TUNING, args.tuning_json, names, args.tuning_seeds, args.jobs, args.shard)
    lrs = tuned_lrs([r for r in load_runs(args.tuning_json) if r["seed"] in args.tuning_seeds])
    print("\nlearning rate per variant: " + ", ".join(f"{v} {lrs[v]:g}" for v in args.variants if v in lrs))
    if args.stage == "tune":
        return 0
    missing = [v for v in args.variants if v not in lrs]
    if missing:
        parser.error(f"no tuning runs for {', '.join(missing)} in {args.tuning_json}: run --stage tune first")
    sweep = ablation_sweep(lrs)
    if args.merge:
        rows = merge_parts(sweep, args.json, args.merge)
    else:
        rows = run_sweep(sweep, args.json, args.variants, args.seeds, args.jobs, args.shard)
    report([r for r in rows if r["seed"] in args.seeds], args.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
