"""Grade one submission in this process: run it in a limited kernel, then run each exercise's check.

Run as `python -m tools.grading.worker` with the job (JSON, see `runner.worker_job`) on stdin;
prints the result as one JSON line on stdout:
`{"status": "graded" | "timeout" | "crashed", "exercises": {id: [status, message]}, "notes": [...],
"wall_clock_timeout": bool}`.
"""
import sys

if __name__ == "__main__":
    # jsonschema (imported by nbformat) would spend ~1.4 s of every worker's start building an
    # IRI grammar that notebooks never use; without this optional module it skips that format.
    sys.modules.setdefault("rfc3987_syntax", None)

import asyncio  # noqa: E402 (the line above must run first)
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402
from time import monotonic  # noqa: E402

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell

from tools.grading.submissions import read_notebook

TIME_LIMIT_ERROR = "GraderTimeLimit"  # the ename nbclient reports for a cell stopped at its time limit
CPU_LIMIT_ERROR = "CpuTimeLimit"  # the ename of the exception the kernel raises when its CPU time is used up
PROBE_SECONDS = 10  # how long a kernel may take to answer after an interrupt before it counts as stuck
MAX_MESSAGE_CHARS = 1500
MAX_CELL_ERROR_NOTES = 5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")

# Run in the student's kernel for each check: a fresh import of utils.checks, so that a student's
# own `check_*` (or one patched into the module) cannot stand in for the course's check; builtins
# are reached through their module because a notebook may shadow `exec`, `dir`, ... by name.
CHECK_SOURCE = """\
import builtins as _grader_builtins, sys as _grader_sys
for _grader_name in [n for n in _grader_sys.modules if n == "utils.checks" or n.startswith("utils.checks.")]:
    del _grader_sys.modules[_grader_name]
import utils.checks as _grader_checks
_grader_names = [n for n in _grader_builtins.dir(_grader_checks) if n.startswith("check_")]
_grader_namespace = _grader_builtins.dict(_grader_builtins.globals())
_grader_namespace.update({{n: _grader_builtins.getattr(_grader_checks, n) for n in _grader_names}})
_grader_builtins.exec(_grader_builtins.compile({check!r}, "<check {id}>", "exec"), _grader_namespace)
"""
# Run before the checks: they have wall-clock limits of their own, and the CPU time the student's
# cells left over must not decide whether a check can run.
LIFT_CPU_LIMIT_SOURCE = "from tools.grading.kernel import lift_cpu_limit as _grader_lift\n_grader_lift()"


class TimedOut(Exception):
    """A cell or check did not finish within its (wall-clock) time limit."""


class OutOfCpuTime(TimedOut):
    """A cell was stopped because the kernel used up its CPU time."""


class QuietClient(NotebookClient):
    """An nbclient client that keeps no outputs (only their size) and remembers the last reply."""

    def output(self, outs, msg, display_id, cell_index):
        """Count the output's characters and drop it, so memory stays bounded."""
        content = msg.get("content", {})
        size = len(str(content.get("text") or content.get("data") or ""))
        self.output_chars = getattr(self, "output_chars", 0) + size
        return None

    def remember_reply(self, cell, cell_index, execute_reply):
        """Hook: keep the kernel's reply to the cell that just ran."""
        self.last_reply = execute_reply["content"] if execute_reply else {"status": "ok"}


class Grading:
    """The state of grading one notebook: its status, exercise results and notes for the student."""

    def __init__(self, job: dict):
        """Prepare a client for the job's notebook copy; nothing runs yet."""
        self.job = job
        nb, problem = read_notebook(Path(job["notebook"]))
        if nb is None:
            raise ValueError(f"the worker was given an unreadable notebook: {problem}")
        self.student_cells = len(nb.cells)
        self.client = make_client(nb, job)
        self.status = "graded"
        self.notes: list[str] = []
        self.cell_errors: list[str] = []
        self.results: dict[str, list[str]] = {}
        self.why_unusable = ""
        self.started = False
        self.wall_clock_timeout = False

    async def run(self) -> dict:
        """Start the kernel, run the notebook and the checks, and return the result."""
        try:
            async with self.client.async_setup_kernel(
                cwd=self.job["workdir"], env=kernel_env(self.job),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True,
            ):
                self.started = True
                try:
                    if await self.run_cells() and await self.responsive(LIFT_CPU_LIMIT_SOURCE):
                        await self.run_checks()
                finally:
                    kill_kernel_group(self.client)
        except RuntimeError as error:
            if self.started:
                raise
            self.crash(f"The Python kernel could not start ({error}); was the memory limit too low?")
            self.why_unusable = "the Python kernel could not start"
        return self.result()

    async def run_cells(self) -> bool:
        """Run the student's code cells in order; False when the kernel is no longer usable."""
        deadline = monotonic() + self.job["timeout"]
        for index in range(self.student_cells):
            cell = self.client.nb.cells[index]
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            try:
                reply = await self.execute(index, deadline - monotonic())
            except TimedOut as stopped:
                self.stop("timeout", f"{self.time_limit_reached(stopped)}: it was stopped "
                          f"in {describe_cell(index, cell)}; later cells were not run.")
                return await self.responsive()
            except DeadKernelError:
                self.crash(f"The Python kernel died while running {describe_cell(index, cell)}: {self.death()}.")
                return False
            self.note_cell_error(index, cell, reply)
        return True

    async def run_checks(self) -> None:
        """Run every exercise's check from the course (not the student's check cell), one at a time.

        Exercises left without a result when the kernel becomes unusable are reported by `result`.
        """
        limit = self.job["check_timeout"]
        for exercise in self.job["exercises"]:
            source = CHECK_SOURCE.format(check=exercise["check"], id=exercise["id"])
            try:
                reply = await self.execute(self.append_cell(source), limit)
            except TimedOut:
                self.results[exercise["id"]] = ["error", f"the check did not finish within {limit:g} s"]
                if not await self.responsive():
                    return
                continue
            except DeadKernelError:
                death = self.death()
                self.crash(f"The Python kernel died while checking exercise {exercise['id']}: {death}.")
                self.results[exercise["id"]] = ["error", f"the kernel died during the check ({death})"]
                return
            self.results[exercise["id"]] = list(classify(reply))

    async def execute(self, index: int, seconds: float) -> dict:
        """Run cell `index` with a time limit; its reply content, or TimedOut."""
        if seconds <= 0:
            raise TimedOut()
        self.client.timeout = math.ceil(seconds)
        self.client.last_reply = {"status": "ok"}  # a cell nbclient skips (tag skip-execution) has no reply
        await self.client.async_execute_cell(self.client.nb.cells[index], index, store_history=False)
        reply = self.client.last_reply
        if reply.get("ename") == TIME_LIMIT_ERROR:
            raise TimedOut()
        if reply.get("ename") == CPU_LIMIT_ERROR:
            raise OutOfCpuTime()
        return reply

    def time_limit_reached(self, stopped: TimedOut) -> str:
        """Which of the notebook's limits stopped it, in words; a wall-clock one is remembered for a retry."""
        if isinstance(stopped, OutOfCpuTime):
            return f"The notebook used more than {self.job['cpu_seconds']:g} s of CPU time"
        self.wall_clock_timeout = True
        return f"The notebook did not finish within {self.job['timeout']:g} s (wall-clock time)"

    def append_cell(self, source: str) -> int:
        """Add a grader's code cell after the student's cells; its index."""
        self.client.nb.cells.append(new_code_cell(source))
        return len(self.client.nb.cells) - 1

    async def responsive(self, source: str = "None") -> bool:
        """Does the kernel still run a short grader cell (after a time-out: did the interrupt stop the code)?"""
        try:
            await self.execute(self.append_cell(source), PROBE_SECONDS)
            return True
        except TimedOut:
            self.why_unusable = "the notebook's code could not be interrupted after the time limit"
            return False
        except DeadKernelError:
            self.crash(f"The Python kernel died after being interrupted: {self.death()}.")
            return False

    def stop(self, status: str, note: str) -> None:
        """Record why the notebook stopped early (the first reason wins)."""
        if self.status == "graded":
            self.status = status
            self.notes.append(note)

    def crash(self, note: str) -> None:
        """Record that the kernel died; no later code can run."""
        self.why_unusable = "the Python kernel had died"
        self.stop("crashed", note)

    def death(self) -> str:
        """How the kernel process ended, in words (exit code or signal)."""
        provisioner = self.client.km.provisioner if self.client.km else None
        process = getattr(provisioner, "process", None)
        return describe_exit(process.poll() if process else None)

    def note_cell_error(self, index: int, cell, reply: dict) -> None:
        """Remember an exception raised by a student's cell, for the feedback."""
        if reply.get("status") != "error" or "check" in cell.metadata:  # checks are reported per exercise
            return
        evalue = reply.get("evalue")
        text = f"C{describe_cell(index, cell)[1:]} raised {reply.get('ename')}{': ' + evalue if evalue else ''}"
        if reply.get("ename") == "MemoryError":
            text += f" (a notebook may use at most {self.job['memory_mb']} MiB of memory)"
        self.cell_errors.append(text)

    def result(self) -> dict:
        """The JSON-ready result, with every message cleaned of paths, addresses and colour codes."""
        notes = self.notes + [f"{error}." for error in self.cell_errors[:MAX_CELL_ERROR_NOTES]]
        if len(self.cell_errors) > MAX_CELL_ERROR_NOTES:
            notes.append(f"... and {len(self.cell_errors) - MAX_CELL_ERROR_NOTES} more cells raised errors.")
        if getattr(self.client, "output_chars", 0) > self.job["output_note_chars"]:
            notes.append(f"The notebook printed more than {self.job['output_note_chars']:,} characters of output; "
                         "long prints inside loops slow a notebook down.")
        exercises = {}
        for exercise in self.job["exercises"]:
            status, message = self.results.get(exercise["id"], ["error", f"not checked: {self.why_unusable}"])
            exercises[exercise["id"]] = [status, clean(message, self.job)]
        return {"status": self.status, "exercises": exercises, "notes": [clean(note, self.job) for note in notes],
                "wall_clock_timeout": self.wall_clock_timeout}


def make_client(nb, job: dict) -> QuietClient:
    """An nbclient client for our limited kernel that keeps going after errors."""
    spec_dir = Path(job["scratch"]) / "kernels" / "grader"
    spec_dir.mkdir(parents=True, exist_ok=True)
    limits = [str(job["memory_mb"] * 2**20), str(math.ceil(job["cpu_seconds"]))]
    argv = [sys.executable, "-m", "tools.grading.kernel", *limits, "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "grader", "language": "python"}))
    manager = AsyncKernelManager(
        kernel_name="grader", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    )
    client = QuietClient(
        nb, km=manager, allow_errors=True, interrupt_on_timeout=True, shutdown_kernel="immediate",
        error_on_timeout={"ename": TIME_LIMIT_ERROR, "evalue": "time limit reached"},
    )
    client.on_cell_executed = client.remember_reply
    return client


def kernel_env(job: dict) -> dict:
    """The kernel's environment: course on the path, headless plotting, scratch dirs, few threads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(job["python_path"] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    scratch = Path(job["scratch"])
    (scratch / "tmp").mkdir(exist_ok=True)
    env.update(
        MPLBACKEND="Agg", SDL_VIDEODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
        TMPDIR=str(scratch / "tmp"), IPYTHONDIR=str(scratch / "ipython"),
        # glibc reserves address space per thread arena; a few arenas keep RLIMIT_AS meaningful.
        MALLOC_ARENA_MAX="2",
    )
    for name in THREAD_VARIABLES:  # parallel kernels would otherwise each use every core
        env.setdefault(name, str(job["threads"]))
    return env


def kill_kernel_group(client: NotebookClient) -> None:
    """Kill the kernel and anything it started in its process group (the kernel leads its own)."""
    pid = getattr(client.km.provisioner, "pid", None) if client.km and client.km.provisioner else None
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def classify(reply: dict) -> tuple[str, str]:
    """An exercise's status and message from the kernel's reply to its check."""
    if reply.get("status") == "ok":
        return "passed", ""
    name, value = reply.get("ename", ""), reply.get("evalue", "")
    if name == "CheckFailed":
        return "failed", value
    if name == "ExerciseNotDone" or (name == "NotImplementedError" and value.startswith("Exercise ")):
        return "not attempted", value
    return "error", f"{name}: {value}"


def describe_cell(index: int, cell) -> str:
    """`cell 7 (`for step in range(...`)`: position among all cells and its first code line."""
    lines = [line.strip() for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    first = (lines[0] if lines else "").replace("`", "'")  # it is shown inside Markdown backticks
    return f"cell {index + 1} (`{first[:60]}{'...' if len(first) > 60 else ''}`)"


def describe_exit(code: int | None) -> str:
    """An exit status in words, naming the usual causes of each signal."""
    if code is None:
        return "it stopped answering"
    if code >= 0:
        return f"it exited with code {code} (for example through os._exit())"
    causes = {
        signal.SIGSEGV: "a segmentation fault: C code read memory it may not",
        signal.SIGKILL: "SIGKILL: often the system running out of memory",
        signal.SIGABRT: "SIGABRT: often a failed memory allocation in C/C++ code",
    }
    try:
        signum = signal.Signals(-code)
    except ValueError:
        return f"it was killed by signal {-code}"
    return f"it was killed by {causes.get(signum, signum.name)}"


def clean(text: str, job: dict) -> str:
    """A message made stable and short: no temp paths, memory addresses, colour codes or megabytes."""
    text = ANSI_ESCAPE.sub("", str(text))
    for path, name in ((job["workdir"], "."), (job["scratch"], "<scratch>")):
        text = text.replace(str(path), name)
    text = ADDRESS.sub("0x...", text)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " ... (cut)"


def main() -> None:
    """Read the job from stdin, grade, print the result as one JSON line."""
    job = json.loads(sys.stdin.read())
    result = asyncio.run(Grading(job).run())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
