"""Ablation of the DQN extensions over training seeds: one run per (variant, seed), as JSON-ready rows.

`benchmarks/ablation.py` runs the full grid and writes the rows (one JSON object per line)
to `results/ablation.jsonl`; notebook 7 loads them with `load_runs` and reruns a slice
live with `run_live`, the same code.
"""
import dataclasses
import functools
import json
import multiprocessing
import os
import queue
import statistics
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from utils.dqn import DQNConfig, train
from utils.evaluation import REWARD_THRESHOLD, config_record, evaluate
from utils.prioritized import annealed_beta
from utils.stats import bootstrap_ci, iqm

VARIANTS = {
    "default": {},
    "dueling": {"dueling": True},
    "n-step 3": {"n_step": 3},
    "prioritized": {"prioritized": True},
    "all three": {"dueling": True, "n_step": 3, "prioritized": True},
}
"""Each variant: the DQNConfig fields it changes from the course's default recipe."""

LR_FACTORS = (0.25, 0.5, 1.0, 2.0)
"""Each variant's learning rate is chosen among the recipe's times these factors, on tuning seeds of its
own (Schaul et al. cut the step size by 4 for prioritized replay; an option may want another than the
recipe's)."""

RESULTS = Path(__file__).resolve().parent.parent / "results" / "ablation.jsonl"
"""The committed rows of `python -m benchmarks.ablation`: each variant with its tuned learning rate."""
TUNING_RESULTS = RESULTS.with_name("ablation_tuning.jsonl")
"""The committed rows of the learning-rate tuning that comes first (`variant` names "dueling lr x0.5")."""
STEP_COSTS = RESULTS.with_name("step_cost.json")
"""The committed table of `python -m benchmarks.step_cost --variants --json results/step_cost.json`."""


def variant_config(variant: str, seed: int, **overrides) -> DQNConfig:
    """The DQNConfig of `variant` for `seed` (overrides such as a shorter max_env_steps on top)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {list(VARIANTS)}")
    return DQNConfig(seed=seed, **VARIANTS[variant], **overrides)


def tuning_name(variant: str, factor: float) -> str:
    """'dueling lr x0.5': a variant with the recipe's learning rate times `factor`."""
    return f"{variant} lr x{factor:g}"


def tuning_config(name: str, seed: int) -> DQNConfig:
    """The config of a tuning run named by `tuning_name`."""
    variant, _, factor = name.rpartition(" lr x")
    return variant_config(variant, seed, lr=DQNConfig.lr * float(factor))


def tuned_lrs(rows: list) -> dict:
    """{variant: learning rate} chosen from tuning rows: the most runs solved, then the fewest median env steps."""
    chosen = {}
    for variant in VARIANTS:
        candidates = []
        for factor in LR_FACTORS:
            runs = runs_of(rows, tuning_name(variant, factor))
            if runs:
                steps = steps_to_solve(runs)
                candidates.append((-sum(r["solved_at"] is not None for r in runs), float(np.median(steps)),
                                   DQNConfig.lr * factor))
        if candidates:
            chosen[variant] = min(candidates)[2]
    return chosen


def tuned_config(variant: str, seed: int, lrs: dict | None = None) -> DQNConfig:
    """`variant` on `seed` with its learning rate from `lrs` (default: the one its committed tuning chose)."""
    return variant_config(variant, seed, lr=(lrs or tuned_lrs(load_runs(TUNING_RESULTS)))[variant])


def progress_bar(**options):
    """tqdm's widget bar where the frontend shows widgets (JupyterLab, VS Code), its text bar on stdout elsewhere."""
    from utils.widgets import resolve_mode  # here: utils.widgets imports this module

    if resolve_mode("auto") == "widget":
        from tqdm.notebook import tqdm
        return tqdm(**options)
    from tqdm import tqdm
    return tqdm(file=sys.stdout, **options)


LIVE_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""How training processes start: forked from a fork server, a clean single-threaded process that imported
PRELOADED once (Linux, macOS), else a fresh interpreter each (Windows); never forked from a kernel mid-use."""
PRELOADED = ["utils.many", "torch._dynamo"]
"""What the fork server imports for every process it starts: the training code, and the compiler module torch
imports when a process builds its first optimizer (together ~4 s of CPU per process when each imports them)."""


def training_processes():
    """The multiprocessing context that training processes start from (LIVE_START_METHOD, PRELOADED)."""
    context = multiprocessing.get_context(LIVE_START_METHOD)
    if LIVE_START_METHOD == "forkserver":
        context.set_forkserver_preload(PRELOADED)
    return context


def stop_processes(workers: list) -> None:
    """Terminate and join every started process of `workers` (a no-op for one that has finished)."""
    for worker in (worker for worker in workers if worker.pid is not None):
        worker.terminate()
        worker.join()


def run_live(variant: str, seeds, eval_episodes: int = 100, jobs: int | None = None, **overrides) -> list:
    """Train `variant` (its tuned learning rate) on `seeds` as batches of agents, with a progress bar; its rows.

    The seeds are split over `jobs` processes (default: one per available core, at most one per
    seed), each training its share as one batch (utils.many), every agent exactly as it would
    alone, so how many processes there are changes no row (only `wall_s`). The bar counts the
    runs that have stopped and shows the furthest env step reached. `overrides` (such as a
    shorter max_env_steps) go on top of each config.
    """
    configs = [dataclasses.replace(tuned_config(variant, seed), **overrides) for seed in seeds]
    jobs = min(jobs or available_cores(), len(configs))
    rows, furthest = [], {}
    with progress_bar(total=len(configs), desc=variant, unit="run") as bar:
        def report(share: int, event: str, value) -> None:
            if event == "step":
                furthest[share] = value
                bar.set_postfix_str(f"env step {max(furthest.values()):,}", refresh=False)
            else:
                rows.append(value)
                bar.update(1)

        if jobs == 1:
            train_live_share(variant, configs, eval_episodes, functools.partial(report, 0))
        else:
            run_live_shares(variant, [configs[j::jobs] for j in range(jobs)], eval_episodes, report)
    return sorted(rows, key=lambda row: row["seed"])


def available_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def train_live_share(variant: str, configs: list, eval_episodes: int, report: Callable) -> None:
    """Train `configs` as one batch: report("step", env steps) per episode end, report("row", row) per stopped run."""
    from utils.many import train_many

    train_many(configs, on_episode=lambda agent, episode, episode_return, epsilon, env_steps: report("step", env_steps),
               on_result=lambda agent, result: report("row", variant_row(variant, configs[agent], result,
                                                                         eval_episodes)))


def live_worker(share: int, variant: str, configs: list, eval_episodes: int, events) -> None:
    """A worker process of `run_live_shares`: train its share, putting (share, event, value) on the `events` queue."""
    try:
        train_live_share(variant, configs, eval_episodes, lambda event, value: events.put((share, event, value)))
    except Exception as error:
        events.put((share, "error", f"{type(error).__name__}: {error}"))
        raise


def run_live_shares(variant: str, shares: list, eval_episodes: int, report: Callable) -> None:
    """Train each share of configs in a process of its own, all at once, passing their events to `report`."""
    context = training_processes()
    events = context.Queue()
    workers = [context.Process(target=live_worker, args=(share, variant, configs, eval_episodes, events), daemon=True)
               for share, configs in enumerate(shares)]
    try:
        for worker in workers:
            worker.start()
        rows_left = sum(len(configs) for configs in shares)
        while rows_left:
            try:
                share, event, value = events.get(timeout=1)
            except queue.Empty:
                if all(worker.exitcode is not None for worker in workers):
                    raise RuntimeError(f"run_live: the training processes ended with {rows_left} runs unfinished")
                continue
            if event == "error":
                raise RuntimeError(f"run_live: training process {share} failed with {value}")
            rows_left -= event == "row"
            report(share, event, value)
    finally:
        stop_processes(workers)  # after an interrupt (a student's Stop), no run goes on


def variant_row(variant: str, config: DQNConfig, result, eval_episodes: int = 100) -> dict:
    """The row of a trained run of `variant` (a `TrainResult` of `config`), after evaluating it greedily."""
    returns = evaluate(result.q_net, n_episodes=eval_episodes)
    return {
        "variant": variant, "seed": config.seed, "max_env_steps": config.max_env_steps,
        "env_steps": result.env_steps, "solved_at": result.env_steps if result.stopped_early else None,
        "updates": result.updates, "wall_s": round(result.wall_s, 3),
        "eval_mean": float(returns.mean()), "eval_min": float(returns.min()),
        "n_500": int(np.sum(returns == 500.0)), "eval_episodes": eval_episodes,
        "check_steps": result.check_steps, "check_returns": result.check_returns,
        "config": config_record(config),
    }


def load_runs(path=RESULTS) -> list:
    """The rows of a results file (one JSON object per line); a missing file gives []."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_run(path, row: dict) -> None:
    """Add one row to a results file, flushing it so an interrupted benchmark loses nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.write(json.dumps(row, sort_keys=True) + "\n")


def missing_runs(rows: list, key: str, names: list, seeds: list) -> list:
    """The (seed, name) pairs with no row yet (`row[key]` holds the name), seed by seed.

    Seed by seed, so that every name sees the same stretch of machine load.
    """
    done = {(row[key], row["seed"]) for row in rows}
    return [(seed, name) for seed in seeds for name in names if (name, seed) not in done]


def run_missing(path, rows: list, todo: list, run, describe) -> list:
    """Run `run(name, seed)` for each pair of `todo`, appending each row to `path` as it finishes.

    Returns `rows` with the new ones; `describe(row)` is the progress line printed for each.
    An interrupted benchmark thus loses at most the run in progress.
    """
    print(f"{len(rows)} runs already in {path}; {len(todo)} to go", flush=True)
    for seed, name in todo:
        row = run(name, seed)
        append_run(path, row)
        rows.append(row)
        print(describe(row), flush=True)
    return rows


def load_step_costs(path=STEP_COSTS) -> dict:
    """The committed per-variant costs: {'machine', 'command', 'rows': [{variant, update_us, ...}, ...]}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; write it with: python -m benchmarks.step_cost --variants "
                                f"--json {path}")
    return json.loads(path.read_text())


def beta_at_stop(row: dict) -> float:
    """The importance-sampling exponent β that a prioritized run had reached when its training stopped.

    β anneals over the budget `max_env_steps`; a run the greedy checks stop early ends below 1.
    """
    beta_start = row["config"].get("per_beta_start", DQNConfig.per_beta_start)
    return annealed_beta(row["env_steps"], beta_start, row["max_env_steps"])


def runs_of(rows: list, variant: str) -> list:
    """The rows of one variant, in seed order."""
    return sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["seed"])


def steps_to_solve(rows: list) -> np.ndarray:
    """Env steps to the first confirmed perfect greedy check; a run that never got there counts as its budget.

    Counting such a run as its budget understates its true cost, so an IQM of these
    numbers is a lower bound whenever some runs did not solve.
    """
    return np.array([r["solved_at"] if r["solved_at"] is not None else r["max_env_steps"] for r in rows], float)


def check_curve(row: dict, grid) -> np.ndarray:
    """The run's greedy-check score at each step of `grid`: its latest check so far (NaN before the first).

    After a run stops early its kept weights passed the check, so the curve stays at the
    last check's score up to the end of the grid.
    """
    steps, returns = np.asarray(row["check_steps"]), np.asarray(row["check_returns"], dtype=float)
    latest = np.searchsorted(steps, np.asarray(grid), side="right") - 1
    return np.where(latest >= 0, returns[np.maximum(latest, 0)], np.nan)


def curve_band(rows: list, grid) -> dict:
    """IQM over runs of the greedy-check curves at each grid step, with its 95% bootstrap interval.

    Grid steps before every run has had its first check are left out.
    """
    curves = np.array([check_curve(row, grid) for row in rows])
    known = ~np.isnan(curves).any(axis=0)
    steps, curves = np.asarray(grid)[known], curves[:, known]
    intervals = [bootstrap_ci(curves[:, k]) for k in range(len(steps))]
    return {"steps": steps, "iqm": iqm(curves, axis=0), "low": np.array([lo for lo, _ in intervals]),
            "high": np.array([hi for _, hi in intervals]), "runs": curves}


def variant_summary(rows: list) -> dict:
    """One variant's runs: final greedy scores and steps to solve, each with IQM and 95% interval."""
    scores, steps = np.array([r["eval_mean"] for r in rows]), steps_to_solve(rows)
    return {
        "runs": len(rows), "solved": int(np.sum(scores >= REWARD_THRESHOLD)),
        "scores": scores, "score_iqm": float(iqm(scores)), "score_ci": bootstrap_ci(scores),
        "steps": steps, "steps_iqm": float(iqm(steps)), "steps_ci": bootstrap_ci(steps),
        "unsolved": sum(r["solved_at"] is None for r in rows),
        "median_wall_s": float(np.median([r["wall_s"] for r in rows])),
    }


def loop_costs(configs: dict, steps: int = 3000, repeats: int = 3) -> dict:
    """{name: (seconds per env step, updates per env step)} of `train` without greedy checks, for each config.

    The runs of the configs take turns, so a slowdown of the machine in the middle
    of the benchmark hits every config alike and their ratios stay fair.
    """
    runs = {name: dataclasses.replace(config, max_env_steps=config.learning_starts + steps,
                                      check_every=10**9, stop_return=None)
            for name, config in configs.items()}
    walls, results = {name: [] for name in runs}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            results[name] = train(run)
            walls[name].append(results[name].wall_s)
    # The collection-only steps before learning_starts are cheap; charge them all to the loop anyway.
    return {name: (statistics.median(walls[name]) / result.env_steps, result.updates / result.env_steps)
            for name, result in results.items()}
