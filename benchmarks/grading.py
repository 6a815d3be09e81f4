"""Throughput of the grader on a synthetic class: notebooks per minute, and the time a class of 300 would take.

    python -m benchmarks.grading                  # 8 students x every course notebook, 2 jobs
    python -m benchmarks.grading --no-sandbox     # the same without bubblewrap: what the sandbox costs
    python -m benchmarks.grading --students 16 --jobs 2 --shard 1/2

Each student hands in every course notebook. Students come in four kinds, in turn:
- correct: the solution notebooks;
- partial: the first half of each notebook's exercises solved, the rest untouched;
- untouched: the student notebooks as released;
- broken: the first exercise has a syntax error.
One student in every --hang-every (default 16; a broken one at the default) also has a notebook (a different one each time) that hangs in an infinite loop in its
  last exercise cell, which the grader stops at its CPU-time limit (--cpu-seconds, default
  the grader's own).
Prints the wall time, notebooks per minute, the mean exercises passed per kind (so a fast but
wrong grader shows), the mean time to start a file's worker and kernel (timings.csv's seconds
less its notebook seconds: what the sandbox adds shows here), and the projected time for 300
students at the same rate. Run it on a quiet machine: it measures wall-clock time.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("correct", "partial", "untouched", "broken")
CLASS_SIZE = 300


def exercise_cells(nb: dict) -> list[dict]:
    """The exercise cells of a notebook, in order."""
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code" and "exercise" in cell["metadata"]]


def student_notebook(name: str, kind: str, hangs: bool) -> dict:
    """One synthetic submission of course notebook `name`; with `hangs`, its last exercise cell loops forever."""
    solution = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text(encoding="utf-8"))
    released = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    nb = solution if kind == "correct" else released
    cells = exercise_cells(released)
    answers = ["".join(cell["source"]) for cell in exercise_cells(solution)]
    if kind == "partial":
        for cell, answer in list(zip(cells, answers))[: (len(cells) + 1) // 2]:
            cell["source"] = answer
    elif kind == "broken":
        cells[0]["source"] = answers[0] + "\n    oops = (\n"
    if hangs:
        last = exercise_cells(nb)[-1]
        last["source"] = "".join(last["source"]) + "\nwhile True:\n    pass\n"
    return nb


def write_class(folder: Path, students: int, hang_every: int) -> int:
    """Write `students` folders of every course notebook; the number of notebooks written."""
    names = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    written = 0
    for index in range(students):
        kind = KINDS[index % len(KINDS)]
        hung = names[(index // hang_every) % len(names)] if (index + 1) % hang_every == 0 else None
        for name in names:
            path = folder / f"{index:03d}_{kind}" / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(student_notebook(name, kind, name == hung)), encoding="utf-8")
            written += 1
    return written


def passed_per_kind(out: Path) -> dict[str, float]:
    """Mean exercises passed per student, per kind of student, from gradebook.csv."""
    import csv

    totals = defaultdict(list)
    with open(out / "gradebook.csv", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            totals[row["student"].split("_", 1)[1]].append(int(row["total passed"]))
    return {kind: sum(values) / len(values) for kind, values in totals.items()}


def mean_start_up(out: Path) -> float:
    """Mean seconds per file spent outside its cells and checks (starting the worker and kernels), from timings.csv."""
    import csv

    with open(out / "timings.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return sum(float(row["seconds"]) - float(row["notebook seconds"]) for row in rows) / max(len(rows), 1)


def main() -> None:
    """Grade a synthetic class and print its throughput."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--hang-every", type=int, default=16, help="one student in this many hangs in one notebook")
    parser.add_argument("--cpu-seconds", type=float, default=None, help="the grader's --cpu-seconds (default: its own)")
    parser.add_argument("--shard", default=None, help="pass --shard I/N to the grader")
    parser.add_argument("--no-sandbox", action="store_true", help="pass --no-sandbox to the grader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as folder:
        submissions, out = Path(folder) / "submissions", Path(folder) / "out"
        notebooks = write_class(submissions, args.students, args.hang_every)
        command = [sys.executable, "-m", "tools.grade", str(submissions), "--out", str(out), "--jobs", str(args.jobs)]
        command += ["--cpu-seconds", str(args.cpu_seconds)] if args.cpu_seconds else []
        command += ["--shard", args.shard] if args.shard else []
        command += ["--no-sandbox"] if args.no_sandbox else []
        start = time.monotonic()
        subprocess.run(command, cwd=ROOT, check=False, stderr=subprocess.DEVNULL)
        seconds = time.monotonic() - start
        graded = sum(1 for _ in open(out / "timings.csv", encoding="utf-8")) - 1
        per_kind = passed_per_kind(out)
        start_up = mean_start_up(out)
    rate = graded / seconds * 60
    per_student = notebooks / args.students
    hung = args.students // args.hang_every
    print(f"{hung} hung notebook{'s' * (hung != 1)} among them (one student in {args.hang_every})")
    print(f"{graded} of {notebooks} notebooks graded in {seconds:.0f} s with {args.jobs} jobs: {rate:.1f} notebooks/minute")
    print("mean exercises passed per student: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_kind.items())))
    print(f"mean start-up per file (worker and kernel, {'without' if args.no_sandbox else 'with'} the sandbox): "
          f"{start_up:.2f} s")
    print(f"projected for {CLASS_SIZE} students x {per_student:.0f} notebooks: "
          f"{CLASS_SIZE * per_student / rate:.0f} min; x 6 notebooks: {CLASS_SIZE * 6 / rate:.0f} min")


if __name__ == "__main__":
    main()
