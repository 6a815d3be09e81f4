"""Ablation of dueling, n-step and prioritized replay over training seeds, resumable.

    python -m benchmarks.ablation --seeds 0-9 --json results/ablation.jsonl     # or: make ablation

For each seed, every variant of `utils.ablation.VARIANTS` trains with the course's recipe
plus its options, then plays 100 greedy episodes on held-out seeds. Variants run
interleaved per seed, so all see the same machine load. Each finished run is appended to
the results file as one JSON line; running the command again skips the (variant, seed)
pairs already there, so an interrupted ablation resumes where it stopped. At the end it
prints, per variant, the IQM with a 95% bootstrap interval of the final greedy score and
of the env steps to the first confirmed perfect check.
"""
import argparse
import sys

from benchmarks.solve_rate import parse_seeds
from utils.ablation import RESULTS, VARIANTS, load_runs, missing_runs, run_missing, run_variant, runs_of, variant_summary
from utils.seeding import ABLATION_SEEDS, seed_span


def interval(estimate: float, ci: tuple) -> str:
    """'IQM [low, high]'."""
    return f"{estimate:8.0f} [{ci[0]:.0f}, {ci[1]:.0f}]"


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
    args = parser.parse_args(argv)
    rows = load_runs(args.json)
    todo = missing_runs(rows, "variant", args.variants, args.seeds)
    rows = run_missing(args.json, rows, todo, run_variant, lambda row: (
        f"{row['variant']:<13} seed {row['seed']:>3}: {row['env_steps']:>7,} steps, solved at {row['solved_at']}, "
        f"eval mean {row['eval_mean']:6.1f}, {row['wall_s']:6.1f} s"))
    report([r for r in rows if r["seed"] in args.seeds], args.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
