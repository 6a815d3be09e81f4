"""Ablation of dueling, n-step and prioritized replay over training seeds, resumable.

    python -m benchmarks.ablation --seeds 0-9 --json results/ablation.jsonl     # or: make ablation
    python -m benchmarks.ablation --seeds 0-99 --shard 3/8 --json part3.jsonl   # task 3 of a job array of 8
    python -m benchmarks.ablation --merge part*.jsonl --json results/ablation.jsonl

For each seed, every variant of `utils.ablation.VARIANTS` trains with the course's recipe
plus its options, then plays 100 greedy episodes on held-out seeds. The seeds of a variant
train together as one batch of agents (utils.many), in two processes at once (--jobs);
each finished run is appended to the results file as one JSON line as soon as its agent
stops. Running the command again skips the (variant, seed) pairs already there, so an
interrupted ablation resumes where it stopped (benchmarks.sweep: --jobs, --shard, --merge).
A run's `wall_s` is the time from the start of its batch until it stopped. At the end it
prints, per variant, the IQM with a 95% bootstrap interval of the final greedy score and
of the env steps to the first confirmed perfect check.
"""
import argparse
import sys

from benchmarks.solve_rate import parse_seeds
from benchmarks.sweep import Sweep, add_sweep_arguments, merge_parts, run_sweep
from utils.ablation import RESULTS, VARIANTS, runs_of, variant_config, variant_row, variant_summary
from utils.seeding import ABLATION_SEEDS, seed_span


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


ABLATION = Sweep(key="variant", config=variant_config, row=ablation_row, describe=describe)


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
    """Run the missing (variant, seed) pairs, appending each row; print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(ABLATION_SEEDS),
                        help=f"training seeds (default {seed_span(ABLATION_SEEDS)}, utils.seeding.ABLATION_SEEDS)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="variants to run (default: all)")
    parser.add_argument("--json", default=str(RESULTS), help=f"results file, one JSON line per run (default {RESULTS})")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    if args.merge:
        rows = merge_parts(ABLATION, args.json, args.merge)
    else:
        rows = run_sweep(ABLATION, args.json, args.variants, args.seeds, args.jobs, args.shard)
    report([r for r in rows if r["seed"] in args.seeds], args.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
