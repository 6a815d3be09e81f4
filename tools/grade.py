"""Grade a folder of student notebooks: `python -m tools.grade SUBMISSIONS [--out DIR] ...`.

SUBMISSIONS holds one folder per student with their .ipynb files (any names), or the flat
folder a Canvas or Moodle export gives. Each file is recognised as a course notebook and graded
in its own kernel, in a bubblewrap sandbox of its own (no network, read-only course copy,
private folders and processes) under CPU-time, wall-clock and memory limits: the kernel runs the
course's own copy of that notebook with only the student's exercise cells put in, and the
course's check of each exercise right after it; given cells that no exercise or check needs
(plots, videos, training demos) are skipped. Exercise cells that tamper with the grading
machinery are flagged for review (--accept accepts the ones you have read). Results:
OUT/grades.csv, OUT/gradebook.csv, OUT/report.md, OUT/feedback/<student>/<file>.md,
OUT/timings.csv and OUT/results.json.
The same folder graded with the same options gives the same files, except timings.csv.
Submissions are only read, never changed: every file's SHA-256 is compared before and after.

Exit status: 0 when all went well; 1 when results were written but top-level files were
not graded, grading changed the submissions folder or a row of --accept's file named nothing
flagged; 2 on bad input; 130 when interrupted.
"""
import argparse
import secrets
import signal
import sys
from functools import partial
from pathlib import Path

from tools.grading.course import discover_course
from tools.grading.integrity import changes, snapshot
from tools.grading.report import check_out_dir, plural, write_outputs, write_timings
from tools.grading.review import Review, accept, read_review
from tools.grading.runner import GRADER_ROOT, WALL_CLOCK_FACTOR, Options, Timing, grade_all, notebook_name
from tools.grading.sandbox import check_socket_paths, isolated_course
from tools.grading.shards import (
    Part, course_versions, load_part, merge_parts, options_record, save_part, shard_of,
)
from tools.grading.submissions import drop_resubmissions, find_submissions
from tools.shard import parse_shard


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, nargs="?",
                        help="folder with one sub-folder of .ipynb files per student, or a Canvas or Moodle export")
    parser.add_argument("--out", type=Path, default=GRADER_ROOT / "grades",
                        help="where to write the results (default: grades/ in the repository)")
    parser.add_argument("--cpu-seconds", type=float, default=Options.cpu_seconds,
                        help="CPU seconds one notebook's kernel may use to run its cells, counted from its start; "
                             "unlike wall-clock time it does not grow when other jobs load the machine; a kernel "
                             "that goes on past it (ignoring SIGXCPU, or in processes of its own) is killed "
                             "(default %(default)g)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="wall-clock seconds one notebook may take in all, cells, checks and any second run "
                             "together: a backstop for code that waits without using CPU (default "
                             f"{WALL_CLOCK_FACTOR} times --cpu-seconds); a file graded beside others gets half, "
                             "and if it runs past that without using up its CPU time it is graded again alone with "
                             "the rest")
    parser.add_argument("--check-timeout", type=float, default=Options.check_timeout,
                        help="CPU seconds for each exercise's check, with "
                             f"{WALL_CLOCK_FACTOR} times as much wall-clock time (within --timeout) "
                             "(default %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=Options.memory_mb,
                        help="memory limit of each kernel in MiB (default %(default)d)")
    parser.add_argument("-j", "--jobs", type=int, default=Options.jobs,
                        help="notebooks graded at the same time (default: number of cores, %(default)d here)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the inputs the checks draw for this run, which no kernel sees (default: a new "
                             "random one each run; give one to grade the same folder again with the same inputs)")
    parser.add_argument("--course", type=Path, default=GRADER_ROOT,
                        help="course folder with notebooks/ and utils/ (default: this repository)")
    parser.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="I/N",
                        help="grade only part I of N of the class (every N-th student in name order), e.g. on "
                             "N machines; then combine the N output folders with --merge")
    parser.add_argument("--accept", type=Path, metavar="REVIEW.csv",
                        help="a CSV file with the columns student, notebook, exercise: each flagged exercise it names "
                             "counts as its check's own verdict (you read the cell and accept it); report.md lists "
                             "them. With --merge of one output folder, this applies a review without grading again")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run kernels without bubblewrap, only to measure what the sandbox costs (never for a "
                             "class: a submission could then reach the others)")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="DIR",
                        help="instead of grading, combine the output folders of --shard 1/N ... N/N into --out")
    args = parser.parse_args(argv)
    if (args.submissions is None) == (args.merge is None):
        parser.error("give either a submissions folder to grade or --merge DIR... (not both)")
    return args


def check_folders(submissions: Path, out: Path) -> None:
    """Refuse a missing submissions folder, or an output folder inside it (or around it)."""
    if not submissions.is_dir():
        raise ValueError(f"submissions folder {submissions} does not exist or is not a folder")
    submissions, out = submissions.resolve(), out.resolve()
    if out == submissions or submissions in out.parents:
        raise ValueError(f"--out {out} is inside the submissions folder; choose a folder outside {submissions}")
    if out in submissions.parents:
        raise ValueError(f"the submissions folder {submissions} is inside --out {out}; choose another --out")


class Progress:
    """Reports each graded file on stderr and remembers what it cost (for timings.csv only)."""

    def __init__(self):
        """No file graded yet."""
        self.timings: dict[tuple[str, str], Timing] = {}

    def __call__(self, done: int, total: int, grade, seconds: float) -> None:
        """One stderr line per graded file (a file graded again adds its time)."""
        s = grade.submission
        self.timings.setdefault((s.student, s.file), Timing()).add(grade, seconds)
        print(f"[{done}/{total}] {printable(s.student)}/{printable(s.file)}: {grade.status}, {grade.total} passed "
              f"({seconds:.0f} s)",
              file=sys.stderr, flush=True)


def printable(text: str) -> str:
    """A student's file or folder name for the terminal: control characters (escape sequences) shown, not sent."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def isolation_line(problem: str) -> str:
    """The terminal's first line: whether each kernel runs in a sandbox of its own, and what it means if not."""
    if not problem:
        return "grading each notebook in a bubblewrap sandbox of its own (no network, read-only course, private files)"
    return (f"WARNING: no sandbox: {problem}. Kernels run as your user: a submission can read your files, reach the "
            "network and harm the other students' grading; see report.md")


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so that running workers and kernels are killed too."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    """Grade the folder (or merge parts) and write the results; a one-line error and exit status 2 on bad input."""
    args = parse_args(argv)
    if args.merge:
        return merge(args)
    try:
        check_folders(args.submissions, args.out)
        check_out_dir(args.out)
        options = Options(args.cpu_seconds, args.timeout, args.check_timeout, args.memory_mb, args.jobs)
        course = discover_course(args.course / "notebooks")
        check_socket_paths()
        reviews = read_review(args.accept) if args.accept else []
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seed = secrets.randbits(62) if args.seed is None else args.seed
    before = snapshot(args.submissions)
    found = shard_of(drop_resubmissions(find_submissions(args.submissions), partial(notebook_name, course=course)),
                     args.shard)
    progress = Progress()
    try:
        with isolated_course(args.course.resolve(), sandbox=not args.no_sandbox) as isolation:
            print(isolation_line(isolation.problem), file=sys.stderr, flush=True)
            grades = grade_all(found.submissions, course, isolation, options, progress, seed)
    except KeyboardInterrupt:
        print("interrupted: the running notebooks were stopped and no results were written", file=sys.stderr)
        return 130
    changed = changes(before, snapshot(args.submissions))
    part = Part(args.shard, course_versions(course), options_record(options), found, grades, changed,
                isolation.problem, progress.timings, [seed])
    return write_part(args.out, part, course, options, reviews)


def merge(args: argparse.Namespace) -> int:
    """Combine the output folders of a sharded run into one set of results in `args.out`."""
    try:
        if args.out.resolve() in [folder.resolve() for folder in args.merge]:
            raise ValueError(f"--out {args.out} is one of the folders being merged; choose another --out")
        check_out_dir(args.out)
        course = discover_course(args.course / "notebooks")
        part = merge_parts([load_part(folder) for folder in args.merge], course)
        options = Options(**part.options)
        reviews = read_review(args.accept) if args.accept else []
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return write_part(args.out, part, course, options, reviews)


def write_part(out: Path, part: Part, course: dict, options: Options, reviews: list[Review]) -> int:
    """Apply the review, write the results of a grading run (or merge) and say what needs attention; the exit status."""
    review_errors = accept(part.grades, reviews, course)
    write_outputs(out, part.grades, course, part.found, options, part.changed, part.sandbox_problem, review_errors,
                  part.seeds)
    write_timings(out, part.timings)
    save_part(out, part)
    index, count = part.shard
    print(f"graded {plural(len(part.grades), 'file')}{f' (shard {index}/{count})' if count > 1 else ''}; results in "
          f"{out}/ (grades.csv, gradebook.csv, report.md, timings.csv, results.json, feedback/)", file=sys.stderr)
    return warn_about(part.found.skipped, part.changed, review_errors)


def warn_about(skipped: list[str], changed: list[str], review_errors: list[str]) -> int:
    """Say on stderr what needs the instructor's attention; exit status 1 when anything does, else 0."""
    if skipped:
        print(f"warning: {plural(len(skipped), 'top-level file')} not graded ({printable(', '.join(skipped[:3]))}"
              f"{', ...' if len(skipped) > 3 else ''}): put each student's files in a folder of their own, "
              "or grade the folder exactly as Canvas or Moodle exported it; see report.md", file=sys.stderr)
    if changed:
        print(f"ERROR: grading changed {plural(len(changed), 'file')} in the submissions folder "
              f"({printable('; '.join(changed[:3]))}{'; ...' if len(changed) > 3 else ''}): a submission wrote there "
              "through an absolute path; see report.md", file=sys.stderr)
    for error in review_errors:
        print(f"error: --accept, {printable(error)}; that row was not applied (see report.md)", file=sys.stderr)
    return 1 if skipped or changed or review_errors else 0


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
