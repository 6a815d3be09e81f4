"""Sweeps of training runs, trained as batches of agents (utils.many) on every core, resumable and split into shards.

A sweep is a grid of runs, each a (seed, name) pair: a named config (an ablation variant,
a capstone config) trained on one seed, then evaluated into one row (a JSON object).
`run_sweep` trains the grid's runs that its results file (JSON lines) does not hold yet,
the runs of one name together as one batch (`utils.many.train_many`), and appends each
run's row as soon as its agent stops: run it again and it skips the runs already there,
so an interrupted sweep loses only the runs in progress. A run trains as it would alone
(bit for bit, see utils.many), so how a sweep is batched, split or resumed does not
change its rows, except `wall_s`: the seconds from the start of the run's batch until
its agent stopped.

Command-line options (`add_sweep_arguments`):
- `--jobs J`: train in J processes at once (default 2, a laptop's cores), each with every
  J-th of the runs to do and one torch thread.
- `--shard I/N`: keep only part I of N of the grid, every N-th run from the I-th (as the
  grader's `--shard`), so N machines, e.g. a job array on Slurm or Kubernetes, split a
  sweep; each writes its own file, then `--merge` adds their rows to one.
"""
import argparse
import contextlib
import dataclasses
import signal
import threading
from pathlib import Path
from typing import Callable, Optional

from tools.shard import parse_shard, part_of
from utils.ablation import append_run, load_runs, stop_processes, training_processes
from utils.many import train_many

DEFAULT_JOBS = 2
"""Processes training at once: the two cores of the laptop the course's timings come from."""


@dataclasses.dataclass(frozen=True)
class Sweep:
    """How a benchmark turns a (name, seed) into a config and a trained run into a row.

    Every function must be importable by name (defined at a module's top level): the
    worker processes of `--jobs` receive them by reference.
    """

    key: str
    """The row field that holds the run's name (e.g. "variant")."""
    config: Callable
    """config(name, seed) → the run's DQNConfig."""
    row: Callable
    """row(name, config, result, hook) → the run's row, `hook` its on_step hook (or None)."""
    describe: Callable
    """describe(row) → the progress line printed when the run's row is saved."""
    hook: Optional[Callable] = None
    """hook(config) → an on_step hook for the run (e.g. an exploration log), or None for none."""


def positive_int(text: str) -> int:
    """A command-line integer ≥ 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --jobs, --shard and --merge to a benchmark's parser."""
    parser.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS,
                        help=f"processes training at once, one torch thread each (default {DEFAULT_JOBS})")
    parser.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="I/N",
                        help="run only part I of N of the grid (every N-th run from the I-th), e.g. as task I of a "
                             "job array of N on a cluster, each with its own --json file; then --merge them")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="PART",
                        help="instead of training, add the rows of these results files (e.g. of --shard runs) "
                             "that --json lacks to --json")


def run_sweep(sweep: Sweep, path, names: list, seeds: list, jobs: int = DEFAULT_JOBS, shard: tuple = (1, 1)) -> list:
    """Train the runs of the grid (`seeds` × `names`, part `shard`) missing from `path`; return all rows of `path`."""
    rows = load_runs(path)
    done = {(row["seed"], row[sweep.key]) for row in rows}
    grid = part_of([(seed, name) for seed in seeds for name in names], shard)
    todo = [run for run in grid if run not in done]
    part = f" (shard {shard[0]}/{shard[1]}: {len(grid)} runs)" if shard[1] > 1 else ""
    print(f"{len(rows)} runs already in {path}; {len(todo)} to go{part}", flush=True)
    shares = [share for share in (todo[j::jobs] for j in range(jobs)) if share]
    if len(shares) == 1:
        train_share(sweep, path, shares[0])
    elif shares:
        run_in_processes([(train_share, (sweep, path, share)) for share in shares], path)
    return load_runs(path)


def run_in_processes(tasks: list, path) -> None:
    """Run each (function, args) of `tasks` in its own process, all at once, as function(*args, lock=lock).

    They share one lock, to append rows to `path` one at a time.
    """
    context = training_processes()
    lock = context.Lock()
    workers = [context.Process(target=function, args=args, kwargs={"lock": lock}) for function, args in tasks]
    with sigterm_as_exit():
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        finally:
            stop_processes(workers)  # after Ctrl-C or a `kill`, no worker goes on appending rows
    failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(workers)} worker processes failed (exit codes {failed}); the rows "
                         f"they saved are in {path}: run the same command again to resume")


@contextlib.contextmanager
def sigterm_as_exit():
    """Within it, SIGTERM (a plain `kill`, a scheduler's cancel) raises SystemExit, so that cleanup code runs.

    Python's default for SIGTERM ends the process at once, and the worker processes, which
    only Ctrl-C (sent to the whole process group) reached, went on appending rows.
    Outside the main thread, where no handler can be set, it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}; the rows saved so far stay: run the same command to resume")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def save_row(path, row: dict, lock=None) -> None:
    """Append `row` to the results file `path`, holding `lock` (if any) so processes write one row at a time."""
    with lock if lock is not None else contextlib.nullcontext():
        append_run(path, row)


def train_share(sweep: Sweep, path, runs: list, lock=None) -> None:
    """Train `runs` (seed, name pairs), one batch per name, appending each row to `path` (under `lock`)."""
    for name in dict.fromkeys(name for _, name in runs):
        train_batch(sweep, path, name, [seed for seed, run_name in runs if run_name == name], lock)


def train_batch(sweep: Sweep, path, name: str, seeds: list, lock=None) -> None:
    """Train `name` on `seeds` as one batch of agents, appending each run's row as soon as its agent stops."""
    configs = [sweep.config(name, seed) for seed in seeds]
    hooks = [sweep.hook(config) for config in configs] if sweep.hook is not None else None

    def save(agent: int, result) -> None:
        row = sweep.row(name, configs[agent], result, hooks[agent] if hooks is not None else None)
        save_row(path, row, lock)
        print(sweep.describe(row), flush=True)

    train_many(configs, on_step=hooks, on_result=save)


def merge_parts(sweep: Sweep, path, parts: list) -> list:
    """Append to `path` the rows of `parts` whose run it lacks; return all rows of `path`.

    A run found in two files keeps the row already in `path` (or the first part's).
    """
    rows = load_runs(path)
    done = {(row["seed"], row[sweep.key]) for row in rows}
    for part in parts:
        if not Path(part).is_file():
            raise SystemExit(f"--merge: no results file at {part}")
        added = 0
        for row in load_runs(part):
            if (row["seed"], row[sweep.key]) not in done:
                append_run(path, row)
                rows.append(row)
                done.add((row["seed"], row[sweep.key]))
                added += 1
        print(f"{part}: {added} new runs added to {path}", flush=True)
    return rows
