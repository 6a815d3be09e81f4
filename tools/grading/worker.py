"""Grade one submission in this process: run its plan (the course notebook's cells with the student's
exercise cells, each check right after its exercise) in a limited kernel, started again without the
cell that killed it if it dies.

Run as `python -m tools.grading.worker` with the job (JSON, see `runner.worker_job`) on stdin;
prints the result as one JSON line on stdout:
`{"status": "graded" | "timeout" | "crashed", "exercises": {id: [status, message]}, "flags": {id: [reason, ...]},
"notes": [...], "wall_clock_timeout": bool, "cpu_exhausted": bool, "cpu_seconds": float, "wall_seconds": float}`,
where an exercise whose probe printed a record has status "record" and the record (JSON text, see
utils.checks.protocol) as its message, for the judge.
"""
import asyncio
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from time import monotonic

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from tools.grading.sandbox import Isolation, tree_cpu_seconds
from tools.grading.tamper import course_code_flags, snapshot_changes, snapshot_source, static_flags

TIME_LIMIT_ERROR = "GraderTimeLimit"  # the ename nbclient reports for a cell stopped at its time limit
CPU_LIMIT_ERROR = "CpuTimeLimit"  # the ename of the exception the kernel raises when its CPU time is used up
PROBE_SECONDS = 10  # how long a kernel may take to answer after an interrupt before it counts as stuck
MAX_RESTARTS = 3  # a kernel that died is restarted (without the cell that killed it) at most this often
MAX_MESSAGE_CHARS = 1500
MAX_CELL_ERROR_NOTES = 5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The grader's environment variables a kernel gets (the rest, credentials included, it never sees).
PASSED_VARIABLES = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "LD_LIBRARY_PATH")
# A cell or check that goes this many CPU seconds past its allowance without stopping (it ignores SIGXCPU,
# or runs in processes of its own) has its kernel killed from outside; the worker looks this often.
CPU_GRACE_SECONDS = 2
SIGNAL_EXIT = 128  # a shell's (and bubblewrap's) exit status for death by signal n is 128 + n
WATCH_SECONDS = 0.2
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")

# The grader's own cells. A check's probe runs in the kernel and prints its record (plain data, see
# utils.checks.protocol) after the session's marker; the judge decides in the grader, not here. The
# grader's lines are read from all the stream text a grader cell printed, so a long record that the
# kernel sends in several messages arrives whole.
PRELUDE_SOURCE = "import _grader_kernel"
BUDGET_SOURCE = "_grader_kernel.set_cpu_budget({seconds!r}, {marker!r})"
PROBE_SOURCE = "_grader_kernel.probe({check!r}, {inputs!r}, {marker!r}, {answers})"
MAX_COLLECTED_CHARS = 40 * 2**20  # stream text kept from one grader cell; a record is at most 16 MiB


class TimedOut(Exception):
    """A cell or check did not finish within its (wall-clock) time limit."""


class OutOfCpuTime(TimedOut):
    """A cell was stopped because the kernel used up its CPU time."""


class KernelDied(Exception):
    """The kernel died while running step `index` (the grader starts a new one without that step)."""

    def __init__(self, index: int):
        """Remember which step killed the kernel."""
        super().__init__(index)
        self.index = index


class QuietClient(NotebookClient):
    """An nbclient client that keeps no outputs of the student's code, only their size and the grader's lines."""

    marker = ""
    collected: list[str] | None = None  # the stream text of the grader cell running now (None: not collecting)

    def output(self, outs, msg, display_id, cell_index):
        """Count the output's characters and drop it (memory stays bounded); collect a grader cell's stream text."""
        content = msg.get("content", {})
        text = str(content.get("text") or content.get("data") or "")
        self.output_chars = getattr(self, "output_chars", 0) + len(text)
        if msg.get("msg_type") == "stream" and self.collected is not None:
            if sum(map(len, self.collected)) + len(text) <= MAX_COLLECTED_CHARS:
                self.collected.append(text)
        return None

    def grader_lines(self) -> list[str]:
        """The lines the last grader cell printed after the marker, without it."""
        text = "".join(self.collected or [])
        return [line[len(self.marker):] for line in text.splitlines() if line.startswith(self.marker)]

    def remember_reply(self, cell, cell_index, execute_reply):
        """Hook: keep the kernel's reply to the cell that just ran."""
        self.last_reply = execute_reply["content"] if execute_reply else {"status": "ok"}


class Grading:
    """The state of grading one notebook: its status, exercise results and notes for the student."""

    def __init__(self, job: dict):
        """Prepare the steps to run; nothing runs yet."""
        self.job = job
        self.steps = job["steps"]
        self.marker = f"@grader-{secrets.token_hex(16)}@ "  # printed only by the grader's cells
        given = [step["source"] for step in self.steps if step["kind"] == "given"]
        self.static = {step["exercise"]: static_flags(step["source"]) + course_code_flags(
            step["source"], job["probes"][step["exercise"]]["reference_paths"], given)
            for step in self.steps if step["kind"] == "exercise"}
        self.dynamic: dict[str, list[str]] = {}
        self.status = "graded"
        self.notes: list[str] = []
        self.cell_errors: list[str] = []
        self.results: dict[str, list[str]] = {}
        self.skipped: set[int] = set()  # steps that killed the kernel or ran out of time: not run again
        self.why_unusable = ""
        self.wall_clock_timeout = False
        self.output_chars = 0
        self.cpu_left = job["cpu_seconds"]
        self.cpu_granted = job["cpu_seconds"]  # what the kernel may use for the cell it runs now
        self.cpu_total = 0.0  # CPU seconds of the kernels that have ended (with every process they started)
        self.kernel_cpu = 0.0  # the running kernel's, as last measured
        self.cell_cpu = 0.0  # the last cell's, as measured from outside
        self.cpu_killed = False  # the running kernel was killed for going past its CPU time
        self.started = math.inf
        self.deadline = math.inf  # set when the first kernel is ready: starting it is not the notebook's time

    async def run(self) -> dict:
        """Run the steps in a kernel, restarting it without the step that killed it; the result."""
        resume_at = 0
        for _ in range(MAX_RESTARTS + 1):
            try:
                await self.run_kernel(resume_at)
                break
            except KernelDied as died:
                self.skipped.add(died.index)
                resume_at = died.index + 1
                if self.cpu_left <= 0 or self.deadline <= monotonic():
                    self.why_unusable = self.why_unusable or "the notebook had used up its time"
                    break
        else:
            self.why_unusable = f"the Python kernel died {MAX_RESTARTS + 1} times"
        return self.result()

    async def run_kernel(self, resume_at: int) -> None:
        """In a fresh kernel: replay the definitions before `resume_at`, then run every step from there."""
        self.client = make_client(self.job, self.marker, self.kernel_cpu_limit())
        self.cpu_killed, self.kernel_cpu = False, 0.0
        try:
            async with self.client.async_setup_kernel(
                cwd=self.job["workdir"], env=kernel_env(self.job),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True,
            ):
                try:
                    await self.run_steps(resume_at)
                finally:
                    self.output_chars += getattr(self.client, "output_chars", 0)
                    self.measure_cpu()
                    kill_kernel_group(self.client)
                    self.cpu_total += self.kernel_cpu
        except RuntimeError as error:
            if self.client.kc is not None:
                raise
            self.crash(f"The Python kernel could not start ({error}); was the memory limit too low?")
            self.why_unusable = "the Python kernel could not start"

    def kernel_cpu_limit(self) -> int:
        """The next kernel's hard CPU-time limit: what the notebook's cells and checks may still use, and a margin."""
        checks = sum(step["kind"] == "check" and step["exercise"] not in self.results for step in self.steps)
        return math.ceil(max(self.cpu_left, 1) + checks * self.job["check_cpu_seconds"] + PROBE_SECONDS)

    async def run_steps(self, resume_at: int) -> None:
        """Run the steps in order (only given and exercise cells before `resume_at`); stop when the kernel is unusable."""
        self.cpu_report = None
        self.baseline, baseline_taken = None, False
        await self.grader_cell(PRELUDE_SOURCE, PROBE_SECONDS)
        if self.deadline == math.inf:
            self.started = monotonic()
            self.deadline = self.started + self.job["timeout"]
        for index, step in enumerate(self.steps):
            if index in self.skipped or (step["kind"] == "check" and (index < resume_at or step["exercise"] in self.results)):
                continue  # after a restart, only the definitions before `resume_at` are run again
            if step["kind"] == "exercise" and not baseline_taken:
                self.baseline, baseline_taken = await self.snapshot(), True
            try:
                usable = await (self.run_check(index, step) if step["kind"] == "check" else self.run_cell(index, step))
            except TimedOut:  # one of the grader's own short cells got no answer
                self.why_unusable = "the Python kernel stopped answering the grader"
                return
            if not usable:
                return

    async def run_cell(self, index: int, step: dict) -> bool:
        """Run a given or exercise cell within the notebook's remaining CPU time; False when the kernel is unusable."""
        await self.set_budget(max(self.cpu_left, 1), charge=False)
        try:
            reply = await self.execute(self.append_cell(step["source"]), self.deadline - monotonic(), index)
        except TimedOut as stopped:
            self.skipped.add(index)
            why = self.time_limit_reached(stopped)
            self.stop("timeout", f"{why}: it was stopped in {step['label']}.")
            if step["kind"] == "exercise":
                self.results.setdefault(step["exercise"], ["error", f"{step['label']} was stopped: {why[0].lower()}{why[1:]}"])
            if self.cpu_left <= 0 or self.deadline <= monotonic():
                self.why_unusable = "the notebook had used up its time"
                return False
            return await self.responsive()
        await self.set_budget(PROBE_SECONDS, charge=True)
        self.note_cell_error(step, reply)
        return True

    async def run_check(self, index: int, step: dict) -> bool:
        """Run the probe of one exercise's check and keep its record for the judge; False when the kernel is unusable."""
        exercise, limit = step["exercise"], self.job["check_cpu_seconds"]
        await self.set_budget(limit, charge=False)
        changes = snapshot_changes(self.baseline, await self.snapshot())
        if changes:
            self.dynamic[exercise] = changes
        probe = self.job["probes"][exercise]
        source = PROBE_SOURCE.format(check=probe["check"], inputs=probe["inputs"], marker=self.marker,
                                     answers=", ".join(probe["answers"]))
        try:
            reply, lines = await self.grader_cell(source, self.job["check_wall_seconds"], index)
        except TimedOut as stopped:
            within = (f"{limit:g} s of CPU time" if isinstance(stopped, OutOfCpuTime)
                      else f"the notebook's {self.job['timeout']:g} s (wall-clock time)" if self.deadline <= monotonic()
                      else f"{self.job['check_wall_seconds']:g} s (wall-clock time)")
            self.results[exercise] = ["error", f"the check did not finish within {within}"]
            # A wall-clock stop depends on the machine's load: the file may be graded again, alone.
            self.wall_clock_timeout = self.wall_clock_timeout or not isinstance(stopped, OutOfCpuTime)
            return await self.responsive()
        except KernelDied:
            self.results[exercise] = ["error", f"the kernel died during the check ({self.death()})"]
            raise
        record = next((line[len("record "):] for line in reversed(lines) if line.startswith("record ")), None)
        self.results[exercise] = ["record", record] if record is not None else no_record(reply)
        return True

    async def grader_cell(self, source: str, seconds: float, step_index: int | None = None) -> tuple[dict, list[str]]:
        """Run one of the grader's own cells; the kernel's reply and the marked lines it printed."""
        self.client.collected = []
        try:
            reply = await self.execute(self.append_cell(source), seconds, step_index)
            return reply, self.client.grader_lines()
        finally:
            self.client.collected = None

    async def set_budget(self, seconds: float, charge: bool) -> None:
        """Allow the next cell `seconds` of CPU time; with `charge`, count the last cell's CPU time against the notebook's."""
        _, lines = await self.grader_cell(BUDGET_SOURCE.format(seconds=float(seconds), marker=self.marker), PROBE_SECONDS)
        self.cpu_granted = seconds
        used = next((float(line.split()[1]) for line in lines if line.startswith("cpu ")), None)
        if charge and used is not None and self.cpu_report is not None:
            self.cpu_left -= used - self.cpu_report
        self.cpu_report = used

    async def snapshot(self) -> dict | None:
        """The kernel's fingerprint of what the checks rely on (None when the grader's cell printed none)."""
        _, lines = await self.grader_cell(snapshot_source(self.marker, self.job["python_path"][0]), PROBE_SECONDS)
        return json.loads(lines[-1]) if lines else None

    async def execute(self, cell_index: int, seconds: float, step_index: int | None) -> dict:
        """Run a cell with a wall-clock limit (for a cell or check of the notebook's, within the notebook's too)
        and its CPU allowance; its reply content, or TimedOut, OutOfCpuTime (also when killed for it) or KernelDied."""
        within_notebook = step_index is not None and self.deadline - monotonic() < seconds
        seconds = min(seconds, self.deadline - monotonic()) if step_index is not None else seconds
        if seconds <= 0:
            raise TimedOut()
        self.client.timeout = math.ceil(seconds)
        self.client.last_reply = {"status": "ok"}
        before = self.measure_cpu()
        watch = asyncio.create_task(self.watch_cpu(before + self.cpu_granted + CPU_GRACE_SECONDS))
        try:
            await self.client.async_execute_cell(self.client.nb.cells[cell_index], cell_index, store_history=False)
        except DeadKernelError:
            if self.cpu_killed:
                raise OutOfCpuTime() from None
            label = self.steps[step_index]["label"] if step_index is not None else "one of the grader's own cells"
            self.crash(f"The Python kernel died while running {label}: {self.death()}.")
            raise KernelDied(step_index if step_index is not None else -1) from None
        finally:
            watch.cancel()
            self.cell_cpu = self.measure_cpu() - before
        reply = self.client.last_reply
        if reply.get("ename") == TIME_LIMIT_ERROR and within_notebook:
            self.wall_clock_timeout = True
            self.stop("timeout", f"{self.out_of_wall_time()}: it was stopped in {self.steps[step_index]['label']}.")
        if reply.get("ename") == TIME_LIMIT_ERROR:
            raise TimedOut()
        if reply.get("ename") == CPU_LIMIT_ERROR:
            raise OutOfCpuTime()
        return reply

    async def watch_cpu(self, limit: float) -> None:
        """Kill the kernel once it, with every process it started, has used `limit` CPU seconds (it ignored SIGXCPU)."""
        while self.measure_cpu() <= limit:
            await asyncio.sleep(WATCH_SECONDS)
        self.cpu_killed = True
        kill_kernel_group(self.client)

    def measure_cpu(self) -> float:
        """The running kernel's CPU seconds, with its processes' (the last measurement once it is gone)."""
        pid = kernel_pid(self.client)
        used = tree_cpu_seconds(pid) if pid else None
        if used is not None:
            self.kernel_cpu = used
        return self.kernel_cpu

    def time_limit_reached(self, stopped: TimedOut) -> str:
        """Which of the notebook's limits stopped it, in words; a wall-clock one is remembered for a retry."""
        if isinstance(stopped, OutOfCpuTime):
            self.cpu_left = 0
            killed = ", and did not stop when told to, so its kernel was killed" if self.cpu_killed else ""
            return f"The notebook used more than {self.job['cpu_seconds']:g} s of CPU time{killed}"
        self.cpu_left -= self.cell_cpu  # the stopped cell's CPU time counts too: it decides whether to re-run
        self.wall_clock_timeout = True
        return self.out_of_wall_time()

    def out_of_wall_time(self) -> str:
        """The notebook's wall-clock limit in words."""
        return (f"The notebook did not finish within its {self.job['wall_budget']:g} s of wall-clock time "
                "(all its runs together)")

    def append_cell(self, source: str) -> int:
        """Add a code cell to the kernel session's notebook; its index."""
        self.client.nb.cells.append(new_code_cell(source))
        return len(self.client.nb.cells) - 1

    async def responsive(self) -> bool:
        """Does the kernel still run a short grader cell (after a time-out: did the interrupt stop the code)?

        A kernel killed for its CPU time during a check is replaced (KernelDied); none is after the notebook's time.
        """
        if self.cpu_killed:
            self.notes.append("A check went on past its CPU time although told to stop, so its kernel was killed; "
                              "the grader started a new kernel and went on.")
            raise KernelDied(-1)
        if self.deadline <= monotonic():
            self.why_unusable = "the notebook had used up its time"
            return False
        try:
            await self.grader_cell("None", PROBE_SECONDS)
            return True
        except TimedOut:
            self.why_unusable = "the notebook's code could not be interrupted after the time limit"
            return False

    def stop(self, status: str, note: str) -> None:
        """Record why the notebook stopped early (the first reason wins)."""
        if self.status == "graded":
            self.status = status
            self.notes.append(note)

    def crash(self, note: str) -> None:
        """Record that a kernel died."""
        self.stop("crashed", note + " The grader started a new kernel and went on without that cell.")

    def death(self) -> str:
        """How the kernel process ended, in words (exit code or signal)."""
        provisioner = self.client.km.provisioner if self.client.km else None
        process = getattr(provisioner, "process", None)
        code = process.poll() if process else None
        if code is not None and code > SIGNAL_EXIT and self.job["isolation"]["bwrap"]:
            code = SIGNAL_EXIT - code  # bubblewrap exits with 128 + n when the kernel was killed by signal n
        return describe_exit(code)

    def note_cell_error(self, step: dict, reply: dict) -> None:
        """Remember an exception raised by a cell, for the feedback."""
        if reply.get("status") != "error":
            return
        evalue = reply.get("evalue")
        text = f"{step['label'][0].upper()}{step['label'][1:]} raised {reply.get('ename')}{': ' + evalue if evalue else ''}"
        if reply.get("ename") == "MemoryError":
            text += f" (a notebook may use at most {self.job['memory_mb']} MiB of memory)"
        self.cell_errors.append(text)

    def flags(self, exercise: str) -> list[str]:
        """Why an exercise's cell looks like tampering, for an instructor's review ([] when it does not)."""
        reasons = [f"its cell {flag}" for flag in self.static.get(exercise, [])]
        if self.dynamic.get(exercise):
            reasons.append(f"before its check: {', '.join(self.dynamic[exercise])}")
        return reasons

    def result(self) -> dict:
        """The JSON-ready result, with every message cleaned of paths, addresses and colour codes."""
        notes = self.notes + [f"{error}." for error in self.cell_errors[:MAX_CELL_ERROR_NOTES]]
        if len(self.cell_errors) > MAX_CELL_ERROR_NOTES:
            notes.append(f"... and {len(self.cell_errors) - MAX_CELL_ERROR_NOTES} more cells raised errors.")
        if self.output_chars > self.job["output_note_chars"]:
            notes.append(f"The notebook printed more than {self.job['output_note_chars']:,} characters of output; "
                         "long prints inside loops slow a notebook down.")
        exercises, flags = {}, {}
        for exercise in self.job["exercises"]:
            status, message = self.results.get(exercise["id"],
                                               ["error", f"not checked: {self.why_unusable or 'no result'}"])
            exercises[exercise["id"]] = [status, message if status == "record" else clean(message, self.job)]
            flags[exercise["id"]] = [clean(reason, self.job) for reason in self.flags(exercise["id"])]
        return {"status": self.status, "exercises": exercises, "flags": flags,
                "notes": [clean(note, self.job) for note in notes], "wall_clock_timeout": self.wall_clock_timeout,
                "cpu_exhausted": self.cpu_left <= 0, "cpu_seconds": round(self.cpu_total, 2),
                "wall_seconds": round(max(monotonic() - self.started, 0), 2)}


def make_client(job: dict, marker: str, hard_cpu_seconds: int) -> QuietClient:
    """An nbclient client for a limited kernel (in a sandbox of its own where the job has one) that goes on after errors.

    The kernel talks to the worker through Unix sockets in a folder of its own (a sandbox has no
    network), and is interrupted by a message, which it turns into SIGINT inside its sandbox.
    Its kernel spec lies outside the sandbox, so that no kernel can change how the next one starts.
    """
    scratch = Path(job["scratch"])
    spec_dir = scratch / "kernels" / "grader"
    spec_dir.mkdir(parents=True, exist_ok=True)
    sockets = Path(tempfile.mkdtemp(prefix="ipc-", dir=scratch))
    private = [scratch / "tmp", Path(job["workdir"]), scratch / "home", sockets]
    limits = [str(job["memory_mb"] * 2**20), str(math.ceil(job["cpu_seconds"])), str(hard_cpu_seconds)]
    argv = [*Isolation(**job["isolation"]).kernel_prefix(private), sys.executable, "-m", "_grader_kernel", *limits,
            "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "grader", "language": "python", "interrupt_mode": "message"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    manager = AsyncKernelManager(
        kernel_name="grader", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]),
        transport="ipc", connection_file=str(sockets / "kernel.json"),
    )
    client = QuietClient(
        new_notebook(), km=manager, allow_errors=True, interrupt_on_timeout=True, shutdown_kernel="immediate",
        error_on_timeout={"ename": TIME_LIMIT_ERROR, "evalue": "time limit reached"},
    )
    client.marker = marker
    client.on_cell_executed = client.remember_reply
    return client


def kernel_env(job: dict) -> dict:
    """The kernel's environment: none of the grader's variables but a few harmless ones, the course on the path,
    headless plotting, its own home and temporary folder, few threads."""
    env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    scratch = Path(job["scratch"])
    env.update(
        PYTHONPATH=os.pathsep.join(job["python_path"]),  # the clean copy of the course only
        MPLBACKEND="Agg", SDL_VIDEODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
        HOME=str(scratch / "home"), TMPDIR=str(scratch / "tmp"), IPYTHONDIR=str(scratch / "home" / ".ipython"),
        # glibc reserves address space per thread arena; a few arenas keep RLIMIT_AS meaningful.
        MALLOC_ARENA_MAX="2",
    )
    for name in THREAD_VARIABLES:  # parallel kernels would otherwise each use every core
        env[name] = str(job["threads"])
    return env


def kernel_pid(client: NotebookClient) -> int | None:
    """The process the kernel manager started: the sandbox's, or the kernel itself where there is none."""
    return getattr(client.km.provisioner, "pid", None) if client.km and client.km.provisioner else None


def kill_kernel_group(client: NotebookClient) -> None:
    """Kill the kernel's process group: a sandbox (whose PID namespace takes everything in it along), or the
    kernel and what it started in its group (it leads its own) where there is no sandbox."""
    pid = kernel_pid(client)
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def no_record(reply: dict) -> list[str]:
    """An exercise's outcome when its probe printed no record: what the kernel said instead."""
    if reply.get("status") == "ok":
        return ["error", "the check reported no result: something in the notebook kept it from running"]
    return ["error", f"{reply.get('ename', '')}: {reply.get('evalue', '')}"]


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
