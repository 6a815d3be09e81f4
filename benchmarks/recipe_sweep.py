"""The sweep that chose the recipe (DQNConfig's defaults), on tuning seeds only, resumable.

    python -m benchmarks.recipe_sweep --json results/recipe_sweep.jsonl   # stages 1 and 2, seeds 20-39
    python -m benchmarks.recipe_sweep --candidates before eps5k --seeds 20-39
    python -m benchmarks.recipe_sweep --stage 3       # the stricter stops, on their own seeds 50-89
    python -m benchmarks.recipe_sweep --stage 4       # more confirmation episodes, all tuning seeds 0-99

Each candidate is a set of changes to the recipe as it stood before this sweep (the
`BEFORE` settings); every candidate trains on the same seeds, each seed's agents together
as one batch (utils.many, bit for bit as alone), then plays 100 greedy episodes on the
held-out evaluation seeds. Rows are appended to the results file as runs finish; running
again skips the runs already there (benchmarks.sweep: --jobs, --shard, --merge). At the
end it prints, per candidate, the runs, the perfect ones (every evaluation episode at 500), the
median env steps to the first confirmed perfect check with its 95% bootstrap interval,
and the median gradient updates, which with the env steps set a run's wall time.

Stage 4 evaluates each run on 2,000 episodes (results/confirm_sweep.jsonl) and also
prints each candidate's failed episodes, with an exact sign test of the per-seed failure
counts against the recipe it starts from, Bonferroni-corrected for its two candidates.
"""
import argparse
import sys
from typing import NamedTuple, Optional

import numpy as np

from benchmarks.solve_rate import parse_seeds
from benchmarks.sweep import Sweep, add_sweep_arguments, merge_parts, run_sweep
from utils.ablation import variant_row
from utils.dqn import DQNConfig
from utils.seeding import CONFIRM_SWEEP_SEEDS, RECIPE_SWEEP_SEEDS, STOP_SWEEP_SEEDS, seed_span
from utils.stats import bootstrap_ci, sign_test_p

# The recipe before this sweep; candidates change it, and the winner became DQNConfig's defaults.
BEFORE = dict(eps_decay_steps=10_000, train_every=4, lr=2e-3, target_update_every=500, check_every=2_000,
              batch_size=64, learning_starts=1_000, confirm_episodes=100)
CANDIDATES = {
    # Stage 1: each change alone, and a few together.
    "before": {},
    "eps5k": dict(eps_decay_steps=5_000),
    "eps2.5k": dict(eps_decay_steps=2_500),
    "train2": dict(train_every=2),
    "lr4e-3": dict(lr=4e-3),
    "target250": dict(target_update_every=250),
    "check1k": dict(check_every=1_000),
    "eps5k+check1k": dict(eps_decay_steps=5_000, check_every=1_000),
    "eps5k+train2": dict(eps_decay_steps=5_000, train_every=2),
    "eps5k+train2+check1k": dict(eps_decay_steps=5_000, train_every=2, check_every=1_000),
    "eps2.5k+train2+check1k": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000),
    "eps5k+train2+check1k+target250": dict(eps_decay_steps=5_000, train_every=2, check_every=1_000,
                                           target_update_every=250),
    # Stage 2: around the best of stage 1 (a target copied more often, ε decayed sooner).
    "eps2.5k+target250": dict(eps_decay_steps=2_500, target_update_every=250),
    "eps2.5k+check1k+target250": dict(eps_decay_steps=2_500, check_every=1_000, target_update_every=250),
    "eps2.5k+check1k+target125": dict(eps_decay_steps=2_500, check_every=1_000, target_update_every=125),
    "eps2.5k+check1k+target100": dict(eps_decay_steps=2_500, check_every=1_000, target_update_every=100),
    "eps2.5k+train2+check1k+target250": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                             target_update_every=250),
    "eps2.5k+train2+check1k+target125": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                             target_update_every=125),
    "eps5k+train2+check1k+target125": dict(eps_decay_steps=5_000, train_every=2, check_every=1_000,
                                           target_update_every=125),
    "eps2.5k+check1k+target250+lr4e-3": dict(eps_decay_steps=2_500, check_every=1_000, target_update_every=250,
                                             lr=4e-3),
    "eps2.5k+train2+check1k+target250+start500": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                                      target_update_every=250, learning_starts=500),
    # Stage 3 (--stage 3): the chosen recipe with a stricter stop (more confirmation episodes).
    "eps2.5k+train2+check1k+target125+confirm300": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                                        target_update_every=125, confirm_episodes=300),
    "eps2.5k+train2+check1k+target125+confirm900": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                                         target_update_every=125, confirm_episodes=900),
    # Stage 4 (--stage 4): more confirmation episodes, judged by failures over 2,000 held-out episodes per run.
    "eps2.5k+train2+check1k+target125+confirm980": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                                        target_update_every=125, confirm_episodes=980),
    "eps2.5k+train2+check1k+target125+confirm1979": dict(eps_decay_steps=2_500, train_every=2, check_every=1_000,
                                                         target_update_every=125, confirm_episodes=1979),
}
RESULTS = "results/recipe_sweep.jsonl"
CONFIRM_RESULTS = "results/confirm_sweep.jsonl"
"""Stage 4's rows: evaluated on 2,000 episodes, not 100, so kept apart from the earlier stages'."""
STAGE_2_CHOICE = "eps2.5k+train2+check1k+target125"
STAGE_3 = [f"{STAGE_2_CHOICE}+confirm{n}" for n in (300, 900)]
STAGE_4 = [f"{STAGE_2_CHOICE}+confirm{n}" for n in (980, 1979)]
CONFIRM_EVAL_EPISODES = 2_000
"""Stage 4 counts failed episodes out of this many per run: a policy that fails one episode in a few hundred
scores 100 out of 100 more often than not, so 100 episodes cannot tell such stops apart."""


def candidate_config(name: str, seed: int) -> DQNConfig:
    """The recipe as it stood before the sweep, with candidate `name`'s changes, on `seed`."""
    return DQNConfig(seed=seed, **{**BEFORE, **CANDIDATES[name]})


def candidate_row(name: str, config: DQNConfig, result, hook) -> dict:
    """The row of one trained run, evaluated on 100 held-out episodes (`variant` holds the candidate's name)."""
    return variant_row(name, config, result)


def confirm_row(name: str, config: DQNConfig, result, hook) -> dict:
    """Stage 4's row of one trained run, evaluated on CONFIRM_EVAL_EPISODES held-out episodes."""
    return variant_row(name, config, result, eval_episodes=CONFIRM_EVAL_EPISODES)


def describe(row: dict) -> str:
    """The progress line of one saved run."""
    return (f"{row['variant']:<32} seed {row['seed']:>3}: {row['env_steps']:>7,} steps, {row['updates']:>6,} updates, "
            f"{row['n_500']:>4}/{row['eval_episodes']} at 500")


RECIPE = Sweep(key="variant", config=candidate_config, row=candidate_row, describe=describe)
CONFIRM = Sweep(key="variant", config=candidate_config, row=confirm_row, describe=describe)


class Stage(NamedTuple):
    """One stage of the sweep: its candidates, tuning seeds, sweep and results file, and the candidate whose
    per-seed failures the others are tested against (None: no such test)."""
    candidates: list
    seeds: range
    sweep: Sweep
    results: str
    failures_against: Optional[str] = None


STAGES = {"1-2": Stage([name for name in CANDIDATES if name not in STAGE_3 + STAGE_4], RECIPE_SWEEP_SEEDS,
                       RECIPE, RESULTS),
          "3": Stage([STAGE_2_CHOICE, *STAGE_3], STOP_SWEEP_SEEDS, RECIPE, RESULTS),
          "4": Stage([STAGE_2_CHOICE, *STAGE_4], CONFIRM_SWEEP_SEEDS, CONFIRM, CONFIRM_RESULTS, STAGE_2_CHOICE)}
"""Each stage (stage 3 on seeds no earlier stage saw, stage 4 on all 100 tuning seeds)."""


def report(rows: list, names: list) -> None:
    """Per candidate: runs, perfect runs, median env steps [95% CI] and median updates."""
    width = max(len(name) for name in names) + 1
    print(f"\n{'candidate':<{width}}{'runs':>5}{'perfect':>8}   {'median env steps [95% CI]':<28}{'median updates':>15}")
    for name in names:
        runs = [r for r in rows if r["variant"] == name]
        if not runs:
            continue
        steps = np.array([r["env_steps"] for r in runs], dtype=float)
        low, high = bootstrap_ci(steps, np.median)
        perfect = sum(r["n_500"] == r["eval_episodes"] for r in runs)
        print(f"{name:<{width}}{len(runs):>5}{perfect:>8}   {np.median(steps):>8,.0f} [{low:,.0f}, {high:,.0f}]"
              f"{np.median([r['updates'] for r in runs]):>15,.0f}")


def failures_report(rows: list, baseline: str, names: list) -> None:
    """Per candidate: failed evaluation episodes, runs with any, and the sign test of per-seed failures against
    `baseline` (paired by seed), Bonferroni-corrected for the candidates compared with it."""
    failures = {name: {r["seed"]: r["eval_episodes"] - r["n_500"] for r in rows if r["variant"] == name}
                for name in names}
    seeds = sorted(set.intersection(*(set(f) for f in failures.values())))
    if not seeds or baseline not in names:
        return
    comparisons = len(names) - 1
    print(f"\nfailed episodes of {rows[0]['eval_episodes']:,} per run, {len(seeds)} seeds; sign test against "
          f"{baseline}, Bonferroni x{comparisons}")
    for name in names:
        own = [failures[name][s] for s in seeds]
        line = f"{name:<48}{sum(own):>6} failed{sum(f > 0 for f in own):>4} runs with any"
        if name != baseline:
            base = [failures[baseline][s] for s in seeds]
            fewer, more = sum(a < b for a, b in zip(own, base)), sum(a > b for a, b in zip(own, base))
            p = min(1.0, comparisons * sign_test_p(own, base))
            line += f"   fewer on {fewer} seeds, more on {more}: p = {p:.2g}"
        print(line)


def main(argv=None) -> int:
    """Run (or resume) the sweep, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=list(STAGES), default="1-2",
                        help="the stage whose candidates and seeds are the defaults (1-2: seeds "
                             f"{seed_span(STAGES['1-2'].seeds)}; 3: the stricter stops, seeds "
                             f"{seed_span(STAGES['3'].seeds)}; 4: more confirmation episodes, seeds "
                             f"{seed_span(STAGES['4'].seeds)})")
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES),
                        help="candidates to run (default: the stage's)")
    parser.add_argument("--seeds", type=parse_seeds, help="tuning seeds (default: the stage's, utils.seeding)")
    parser.add_argument("--json", help=f"results file, one JSON line per run (default {RESULTS}; stage 4: "
                                       f"{CONFIRM_RESULTS})")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    stage = STAGES[args.stage]
    candidates, seeds = args.candidates or stage.candidates, args.seeds or list(stage.seeds)
    path = args.json or stage.results
    if any(seed >= 100 for seed in seeds):
        parser.error("tuning seeds are below 100: 100 and above are kept for reporting")
    if args.merge:
        rows = merge_parts(stage.sweep, path, args.merge)
    else:
        rows = run_sweep(stage.sweep, path, candidates, seeds, args.jobs, args.shard)
    rows = [r for r in rows if r["seed"] in seeds]
    report(rows, candidates)
    if stage.failures_against is not None:
        failures_report(rows, stage.failures_against, candidates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
