"""Grade a folder of student notebooks: `python -m tools.grade SUBMISSIONS [--out DIR] ...`.

SUBMISSIONS holds one folder per student with their .ipynb files (any names). Each file is
recognised as a course notebook, run as submitted in its own kernel (separate process,
temporary folder, time and memory limits), then every exercise's check from the course
notebook is run. Results: OUT/grades.csv, OUT/report.md, OUT/feedback/<student>/<file>.md.
The same folder graded with the same options gives the same files; progress and timings
go to stderr only. Submissions are only read, never changed.
"""
import argparse
import signal
import sys
from pathlib import Path

from tools.grading.course import discover_course
from tools.grading.report import check_out_dir, plural, write_outputs
from tools.grading.runner import GRADER_ROOT, Options, grade_all
from tools.grading.submissions import find_submissions


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder with one sub-folder of .ipynb files per student")
    parser.add_argument("--out", type=Path, default=GRADER_ROOT / "grades",
                        help="where to write the results (default: grades/ in the repository)")
    parser.add_argument("--timeout", type=float, default=Options.timeout,
                        help="seconds to run one notebook's cells (default %(default)g)")
    parser.add_argument("--check-timeout", type=float, default=Options.check_timeout,
                        help="seconds for each exercise's check (default %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=Options.memory_mb,
                        help="memory limit of each kernel in MiB (default %(default)d)")
    parser.add_argument("-j", "--jobs", type=int, default=Options.jobs,
                        help="notebooks graded at the same time (default: number of cores, %(default)d here)")
    parser.add_argument("--course", type=Path, default=GRADER_ROOT,
                        help="course folder with notebooks/ and utils/ (default: this repository)")
    return parser.parse_args(argv)


def check_folders(submissions: Path, out: Path) -> None:
    """Refuse a missing submissions folder, or an output folder inside it (or around it)."""
    if not submissions.is_dir():
        raise ValueError(f"submissions folder {submissions} does not exist or is not a folder")
    submissions, out = submissions.resolve(), out.resolve()
    if out == submissions or submissions in out.parents:
        raise ValueError(f"--out {out} is inside the submissions folder; choose a folder outside {submissions}")
    if out in submissions.parents:
        raise ValueError(f"the submissions folder {submissions} is inside --out {out}; choose another --out")


def show_progress(done: int, total: int, grade, seconds: float) -> None:
    """One stderr line per graded file (timings appear here only, never in the result files)."""
    s = grade.submission
    print(f"[{done}/{total}] {s.student}/{s.file}: {grade.status}, {grade.total} passed ({seconds:.0f} s)",
          file=sys.stderr, flush=True)


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so that running workers and kernels are killed too."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    """Grade the folder and write the results; a one-line error and exit status 2 on bad input."""
    args = parse_args(argv)
    try:
        check_folders(args.submissions, args.out)
        check_out_dir(args.out)
        options = Options(args.timeout, args.check_timeout, args.memory_mb, args.jobs)
        course = discover_course(args.course / "notebooks")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    submissions, ignored = find_submissions(args.submissions)
    try:
        grades = grade_all(submissions, course, args.course.resolve(), options, show_progress)
    except KeyboardInterrupt:
        print("interrupted: the running notebooks were stopped and no results were written", file=sys.stderr)
        return 130
    write_outputs(args.out, grades, course, ignored, options)
    print(f"graded {plural(len(grades), 'file')}; results in {args.out}/ (grades.csv, report.md, feedback/)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
