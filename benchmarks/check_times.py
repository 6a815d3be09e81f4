"""CPU time of each exercise check on the solution notebooks' answers: as a notebook calls it, and in graded runs.

    python -m benchmarks.check_times                         # notebooks 05 and 06, seeds 0-9
    python -m benchmarks.check_times --notebooks 05 --seeds 30

Runs a notebook's setup cell and exercise cells (from solutions/NN_topic.py, as a student's
kernel would), then the check of each check cell on those answers: once as the notebook calls
it, and once per seed as a grading run does (inputs drawn from the seed, the probe, the judge).
Each check runs once before it is timed, so one-off imports (torch's optimisers) do not count.
Prints the largest and the median CPU time (time.process_time: other jobs on the machine do not
count) per check and mode; the course's limit is 2 s per check.
"""
import argparse
import contextlib
import io
import statistics
import time
from pathlib import Path

import jupytext

from tools.grading.judge import check_call

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
LIMIT_S = 2.0


def notebook_checks(number: str) -> list:
    """[(check, answers)] of notebook `number`, its setup and exercise cells run in a fresh namespace."""
    import utils.checks

    source = next(SOLUTIONS.glob(f"{number}_*.py"))
    cells = [cell for cell in jupytext.read(source, fmt="py:percent").cells if cell.cell_type == "code"]
    namespace = {}
    for cell in [cells[0]] + [cell for cell in cells if "exercise" in cell.metadata]:
        exec(compile(cell.source, str(source), "exec"), namespace)
    checks = []
    for cell in (cell for cell in cells if "check" in cell.metadata):
        name, answers = check_call(cell.source)
        checks.append((getattr(utils.checks, name), [eval(answer, namespace) for answer in answers]))
    return checks


def cpu_seconds(function) -> float:
    """CPU time of one call of `function`, its output hidden."""
    start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        function()
    return time.process_time() - start


def graded_run(check, seed: int, answers: list):
    """What a grading run does for one check: draw the inputs, probe, judge; the verdict must be a pass."""
    inputs = check.inputs_json(seed)
    verdict = check.verdict_json(inputs, check.probe_json(inputs, *answers))
    if verdict["status"] != "passed":
        raise RuntimeError(f"{check.label} failed the solution with seed {seed}: {verdict['message']}")


def main() -> None:
    """Time every check of the chosen notebooks and print one row per check and mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default="05,06", help="comma-separated notebook numbers (default 05,06)")
    parser.add_argument("--seeds", type=int, default=10, help="graded runs per check, seeds 0..N-1 (default 10)")
    args = parser.parse_args()
    print(f"{'check':40s} {'mode':9s} {'runs':>4s} {'median s':>9s} {'max s':>7s}")
    for number in args.notebooks.split(","):
        for check, answers in notebook_checks(number.strip()):
            cpu_seconds(lambda: check(*answers))  # warm-up
            modes = {"notebook": [cpu_seconds(lambda: check(*answers)) for _ in range(3)]}
            if hasattr(check, "inputs_json"):
                modes["graded"] = [cpu_seconds(lambda: graded_run(check, seed, answers)) for seed in range(args.seeds)]
            for mode, times in modes.items():
                flag = "" if max(times) < LIMIT_S else f"  over {LIMIT_S:g} s"
                print(f"{check.label:40s} {mode:9s} {len(times):4d} {statistics.median(times):9.3f} "
                      f"{max(times):7.3f}{flag}")


if __name__ == "__main__":
    main()
