"""Grade many submissions in parallel, each in its own worker process and temporary folder."""
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import monotonic

from tools.grading.course import CourseNotebook, course_metadata, identify, version_notes
from tools.grading.judge import Judges
from tools.grading.plan import Plan, build_plan
from tools.grading.sandbox import Isolation
from tools.grading.submissions import Submission, read_notebook
from tools.grading.worker import MAX_RESTARTS, PROBE_SECONDS, clean

GRADER_ROOT = Path(__file__).resolve().parents[2]
PRIVATE_FOLDERS = ("work", "tmp", "home")  # a file's working folder, temporary folder and home
STARTUP_SECONDS = 120  # margin for starting the worker and its kernels before the hard time limit
# The default wall-clock budget is this many times the CPU-time limit: generous, because a loaded
# machine stretches wall-clock time while the CPU limit alone decides on a busy notebook.
WALL_CLOCK_FACTOR = 4
# A file graded beside others gets this share of its wall-clock budget; if it runs past it without
# having used up its CPU time (so other jobs' load may be to blame), it is graded again alone
# with the rest. Both runs together never take more than the budget.
FIRST_RUN_SHARE = 0.5


@dataclass(frozen=True)
class Options:
    """How to grade: time limits (seconds; `timeout` is a file's wall-clock budget, re-run included), kernel
    memory (MiB), parallel workers."""

    cpu_seconds: float = 60  # grading runs only setup, exercise cells and checks: about 5 s of CPU here
    timeout: float | None = None  # None: WALL_CLOCK_FACTOR times cpu_seconds
    check_timeout: float = 60  # CPU seconds for each check; WALL_CLOCK_FACTOR times as much wall-clock time
    memory_mb: int = 4096
    jobs: int = os.cpu_count() or 1
    output_note_chars: int = 1_000_000

    def __post_init__(self):
        """Fill in the default wall-clock limit; refuse limits that cannot work."""
        if self.timeout is None:
            object.__setattr__(self, "timeout", WALL_CLOCK_FACTOR * self.cpu_seconds)  # frozen: set once here
        for name in ("cpu_seconds", "timeout", "check_timeout", "memory_mb", "jobs", "output_note_chars"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")


@dataclass
class Grade:
    """The outcome for one submission: status, exercise results `{id: (status, message)}`, notes."""

    submission: Submission
    status: str
    notebook: str = ""
    exercises: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wall_clock_timeout: bool = False  # stopped by a wall-clock limit, which other jobs' load may have caused
    retried: bool = False  # graded a second time, alone
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # each flagged exercise's check verdict
    cpu_exhausted: bool = False  # its kernels used up the notebook's CPU time
    cpu_seconds: float | None = None  # CPU time its kernels used, with every process they started (this run)
    wall_seconds: float = 0  # wall-clock time its cells and checks took, from its first kernel's start (this run)
    accepted: list[str] = field(default_factory=list)  # flagged exercises an instructor accepted (--accept)

    @property
    def total(self) -> int:
        """How many exercises passed."""
        return sum(status == "passed" for status, _ in self.exercises.values())


@dataclass
class Timing:
    """What grading one file cost (all its runs): seconds in all, seconds its cells and checks ran, CPU seconds."""

    seconds: float = 0
    notebook_seconds: float = 0
    cpu_seconds: float | None = None  # None where it could not be measured (no /proc)

    def add(self, grade: Grade, seconds: float) -> None:
        """Count one more run of the file."""
        self.seconds += seconds
        self.notebook_seconds += grade.wall_seconds
        if grade.cpu_seconds is not None:
            self.cpu_seconds = (self.cpu_seconds or 0) + grade.cpu_seconds


class Workers:
    """The running worker processes, so that an interrupted grading run can kill them all."""

    def __init__(self):
        """No workers yet."""
        self.lock = threading.Lock()
        self.processes: set[subprocess.Popen] = set()
        self.stopped = False

    def start(self, command: list[str], **popen_args) -> subprocess.Popen:
        """Start a worker in its own process group, unless the run is stopping."""
        with self.lock:
            if self.stopped:
                raise KeyboardInterrupt("grading was stopped")
            process = subprocess.Popen(command, start_new_session=True, **popen_args)
            self.processes.add(process)
            return process

    def finished(self, process: subprocess.Popen) -> None:
        """Forget a worker that has ended."""
        with self.lock:
            self.processes.discard(process)

    def stop(self) -> None:
        """Kill every running worker (their kernels die with them) and start no more."""
        with self.lock:
            self.stopped = True
            for process in self.processes:
                kill_group(process)


def grade_all(submissions: list[Submission], course: dict[str, CourseNotebook], isolation: Isolation,
              options: Options, progress=None, seed: int = 0) -> list[Grade]:
    """Grade every submission, `options.jobs` at a time, then grade again, alone, the files that ran past their
    share of the wall-clock budget without using up their CPU time (with the rest of their budget).

    The checks' inputs are drawn from `seed`, which no kernel sees. `progress(done, total, grade,
    seconds)` is called after each grading, retries included.
    """
    workers, judges = Workers(), Judges(isolation.python_path[0], seed)
    shared = options.jobs > 1 and len(submissions) > 1  # only then do other jobs share the machine
    first = dict.fromkeys(submissions, options.timeout * (FIRST_RUN_SHARE if shared else 1))
    try:
        grades = grade_in_parallel(first, course, isolation, options, workers, judges, progress, options.jobs)
        retry = {g.submission: g for g in grades
                 if shared and g.wall_clock_timeout and not g.cpu_exhausted and g.wall_seconds < options.timeout}
        if retry:
            rest = {submission: options.timeout - g.wall_seconds for submission, g in retry.items()}
            again = grade_in_parallel(rest, course, isolation, options, workers, judges, progress, 1)
            second = {g.submission: marked_retried(g) for g in again}
            grades = [second.get(g.submission, g) for g in grades]
    finally:
        judges.close()
    return sorted(grades, key=lambda g: (g.submission.student, g.notebook, g.submission.file))


def grade_in_parallel(budgets: dict[Submission, float], course: dict[str, CourseNotebook], isolation: Isolation,
                      options: Options, workers: Workers, judges: Judges, progress, jobs: int) -> list[Grade]:
    """Grade every submission once, each within its wall-clock budget, `jobs` at a time; every worker is killed
    if this is interrupted."""
    grades = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        started = [pool.submit(timed, grade_safely, s, course, isolation, options, workers, judges, seconds)
                   for s, seconds in budgets.items()]
        try:
            for done, future in enumerate(as_completed(started), start=1):
                grade, seconds = future.result()
                grades.append(grade)
                if progress:
                    progress(done, len(budgets), grade, seconds)
        except BaseException:
            workers.stop()
            pool.shutdown(cancel_futures=True)
            raise
    return grades


def marked_retried(grade: Grade) -> Grade:
    """The result of grading a file a second time, alone, with a note saying why."""
    grade.retried = True
    grade.notes.insert(0, "This file ran out of its share of the wall-clock time while other files were being graded "
                          "at the same time, so it was graded again alone with the rest; this is the second result.")
    return grade


def timed(function, *args):
    """`function(*args)` and the seconds it took."""
    start = monotonic()
    return function(*args), monotonic() - start


def grade_safely(submission: Submission, *args) -> Grade:
    """`grade_one`, with an unexpected grader error reported as a `crashed` file so the run goes on."""
    try:
        return grade_one(submission, *args)
    except Exception as error:  # a bug or an OS error must not lose the other students' grades
        return Grade(submission, "crashed", notes=[f"The grader failed on this file ({type(error).__name__}: {error})."])


def grade_one(submission: Submission, course: dict[str, CourseNotebook], isolation: Isolation,
              options: Options, workers: Workers, judges: Judges, wall_seconds: float) -> Grade:
    """Read, recognise and (when it is a course notebook) run one submission within `wall_seconds`."""
    nb, problem = read_notebook(submission.path)
    if nb is None:
        return Grade(submission, "invalid", notes=[f"This file could not be graded: {problem}."])
    notebook, how = identify(nb, course)
    if notebook is None:
        return Grade(submission, "unknown-notebook", notes=[unknown_note(nb)])
    plan = build_plan(nb, course_notebook_cells(notebook.path), solution_cells(notebook.path))
    notes = version_notes(nb, notebook) + plan.notes
    if how != "course metadata":
        notes.insert(0, recognised_note(nb, notebook, how))
    result = run_worker(submission, notebook, plan, isolation, options, workers, judges, wall_seconds)
    exercises = {id_: tuple(outcome) for id_, outcome in result["exercises"].items()}
    return Grade(submission, result["status"], notebook.name, exercises, notes + result["notes"],
                 result.get("wall_clock_timeout", False), verdicts={k: tuple(v) for k, v in result["verdicts"].items()},
                 cpu_exhausted=result["cpu_exhausted"], cpu_seconds=result["cpu_seconds"],
                 wall_seconds=result["wall_seconds"])


def notebook_name(path: Path, course: dict[str, CourseNotebook]) -> str:
    """The name of the course notebook the file at `path` is ("" when it is unreadable or none of them)."""
    nb, _ = read_notebook(path)
    notebook = identify(nb, course)[0] if nb is not None else None
    return notebook.name if notebook else ""


def recognised_note(nb: dict, notebook: CourseNotebook, how: str) -> str:
    """Say how a file whose metadata did not name a course notebook was recognised."""
    named = course_metadata(nb).get("notebook")
    why = (f"its metadata names `{named}`, which this course does not have" if isinstance(named, str)
           else "its course metadata is missing")
    return f"Recognised as course notebook {notebook.name} from its {how}, because {why}."


def unknown_note(nb: dict) -> str:
    """Why a valid notebook was not recognised as one of the course's."""
    named = course_metadata(nb).get("notebook")
    if isinstance(named, str):
        return f"This notebook says it is course notebook `{named}`, which the course being graded does not have."
    return "This notebook is not one of the course notebooks: it has neither their metadata nor their exercise cells."


@functools.lru_cache(maxsize=None)
def course_notebook_cells(path: Path) -> dict:
    """The course's student notebook (read once per grading run)."""
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def solution_cells(path: Path) -> dict | None:
    """The course's solution notebook for the student notebook at `path` (None if the course has none).

    Only the names its answers use reach the plan: no solution code ever runs in a kernel.
    """
    solution = path.parent.parent / "solutions" / path.name
    return json.loads(solution.read_text(encoding="utf-8")) if solution.is_file() else None


def run_worker(submission: Submission, notebook: CourseNotebook, plan: Plan, isolation: Isolation,
               options: Options, workers: Workers, judges: Judges, wall_seconds: float) -> dict:
    """Run the worker on the plan in a fresh temporary folder of the file's own, then judge its probes' records."""
    probes = {e.id: judges.probe(notebook.name, e.id, e.check) for e in notebook.exercises}
    with tempfile.TemporaryDirectory(prefix="grade-", ignore_cleanup_errors=True) as scratch:
        for folder in PRIVATE_FOLDERS:  # what the kernel may write: seen by no other kernel
            (Path(scratch) / folder).mkdir()
        job = worker_job(Path(scratch), notebook, plan, isolation, options, wall_seconds) | {"probes": probes}
        process = workers.start(
            [sys.executable, "-m", "tools.grading.worker"], cwd=GRADER_ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            out, err = process.communicate(json.dumps(job).encode(), timeout=hard_limit(wall_seconds))
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.communicate()
            result = stopped_result(notebook, "timeout", f"Grading this notebook took longer than "
                                    f"{hard_limit(wall_seconds):.0f} s in all and was stopped.")
            return result | {"wall_seconds": wall_seconds}  # its own limits failed: not graded again
        finally:
            workers.finished(process)
        return judged(parse_result(out, err, notebook), probes, judges, job)


def judged(result: dict, probes: dict, judges: Judges, job: dict) -> dict:
    """The worker's result with every probe's record judged, each flagged exercise marked for review and
    its check's own verdict kept in "verdicts" (for an instructor who accepts it)."""
    flags, result["verdicts"] = result.get("flags", {}), {}
    for exercise, (status, message) in list(result["exercises"].items()):
        reasons = list(flags.get(exercise, []))
        if status == "record":
            verdict = judges.verdict(probes[exercise], message)
            status, message = verdict["status"], clean(verdict["message"], job)
            reasons += [f"the answer {flag}" for flag in verdict["flags"]]
        if reasons:
            result["verdicts"][exercise] = [status, message]
        result["exercises"][exercise] = list(flagged(status, message, reasons))
    return result


def flagged(status: str, message: str, reasons: list[str]) -> tuple[str, str]:
    """An exercise's outcome: its check's verdict, or "flagged" with the reasons and that verdict."""
    if not reasons:
        return status, message
    return "flagged", (f"for an instructor to review, because {'; '.join(reasons)}. "
                       f"The check said: {status}{': ' + message if message else ''}")


def worker_job(scratch: Path, notebook: CourseNotebook, plan: Plan, isolation: Isolation, options: Options,
               wall_seconds: float) -> dict:
    """The JSON job a worker reads: the steps to run, what to check, the limits and the kernel's isolation."""
    return {
        "steps": [asdict(step) for step in plan.steps], "workdir": str(scratch / "work"), "scratch": str(scratch),
        "exercises": [{"id": e.id, "title": e.title} for e in notebook.exercises],
        "cpu_seconds": options.cpu_seconds, "timeout": wall_seconds, "wall_budget": options.timeout,
        "check_cpu_seconds": options.check_timeout, "check_wall_seconds": WALL_CLOCK_FACTOR * options.check_timeout,
        "memory_mb": options.memory_mb, "python_path": isolation.python_path, "isolation": isolation.record(),
        "threads": max(1, (os.cpu_count() or 1) // options.jobs), "output_note_chars": options.output_note_chars,
    }


def hard_limit(wall_seconds: float) -> float:
    """Seconds after which a worker is killed whatever it is doing (its own limits failed)."""
    return wall_seconds + (MAX_RESTARTS + 1) * PROBE_SECONDS + STARTUP_SECONDS


def parse_result(out: bytes, err: bytes, notebook: CourseNotebook) -> dict:
    """The worker's JSON result, or a `crashed` result quoting its error output."""
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        return stopped_result(notebook, "crashed", "The grader failed on this notebook: " + " / ".join(tail))


def stopped_result(notebook: CourseNotebook, status: str, note: str) -> dict:
    """A result for a worker that gave none: every exercise unchecked."""
    exercises = {e.id: ["error", "not checked: grading of this notebook was stopped"] for e in notebook.exercises}
    return {"status": status, "exercises": exercises, "notes": [note], "verdicts": {}, "wall_clock_timeout": False,
            "cpu_exhausted": False, "cpu_seconds": None, "wall_seconds": 0}


def kill_group(process: subprocess.Popen) -> None:
    """Kill a worker's whole process group (it leads its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
