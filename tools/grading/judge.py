"""The judges: grader-owned processes that draw each check's inputs and decide on the kernels' records.

A judge runs the graded course's own checks (the clean copy) outside every kernel, so nothing a
submission does can change how its record is read. Inputs are drawn once per grading run, from a
seed that no kernel sees. Each grading thread has a judge process of its own, started when first
needed and stopped when grading ends; one that hangs or dies is replaced.
"""
import ast
import hashlib
import json
import os
import selectors
import subprocess
import sys
import threading

JUDGE_SECONDS = 120  # a judge that takes longer than this on one record is stopped and replaced


class JudgeFailed(Exception):
    """A judge process did not answer (hung, died, or said it could not)."""


def check_call(source: str) -> tuple[str, list[str]]:
    """The check a course check cell calls and the answers it passes: ('check_greedy', ['greedy_action', ...])."""
    statements = [node for node in ast.parse(source).body if isinstance(node, ast.Expr)]
    calls = [node.value for node in statements if isinstance(node.value, ast.Call)
             and isinstance(node.value.func, ast.Name) and node.value.func.id.startswith("check_")]
    if len(calls) != 1 or calls[0].keywords:
        raise ValueError(f"a check cell must call one check with positional answers; found {source!r}")
    return calls[0].func.id, [ast.unparse(argument) for argument in calls[0].args]


def exercise_seed(run_seed: int, notebook: str, exercise: str) -> int:
    """The seed of one exercise's inputs in a grading run."""
    digest = hashlib.sha256(f"{run_seed}/{notebook}/{exercise}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Judge:
    """One judge process (started on first use), for one thread at a time."""

    def __init__(self, course_copy: str):
        """No process yet; it will import the course from `course_copy`."""
        self.course_copy, self.process = course_copy, None

    def ask(self, request: dict, seconds: float = JUDGE_SECONDS) -> dict:
        """The judge's reply to `request`; JudgeFailed when it cannot give one in time."""
        if self.process is None or self.process.poll() is not None:
            self.process = self.start()
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
            line = self.read_line(seconds)
        except (OSError, JudgeFailed) as error:
            self.stop()
            raise JudgeFailed(str(error) or "the judge did not answer") from None
        reply = json.loads(line)
        if "error" in reply:
            raise JudgeFailed(reply["error"])
        return reply

    def start(self) -> subprocess.Popen:
        """A fresh judge process on the course's clean copy, with one thread (its work is small)."""
        env = dict(os.environ, PYTHONPATH=self.course_copy, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   MPLBACKEND="Agg", SDL_VIDEODRIVER="dummy")
        return subprocess.Popen([sys.executable, "-m", "_grader_judge"], cwd=self.course_copy, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def read_line(self, seconds: float) -> bytes:
        """One line of the judge's output within `seconds`."""
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(seconds):
                raise JudgeFailed(f"the judge took longer than {seconds:g} s")
        finally:
            selector.close()
        line = self.process.stdout.readline()
        if not line:
            raise JudgeFailed("the judge process ended")
        return line

    def stop(self) -> None:
        """Stop the process (a new one starts on the next request)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class Judges:
    """A judge per grading thread, and the run's inputs for every exercise (drawn once, from the run's seed)."""

    def __init__(self, course_copy: str, run_seed: int):
        """No judge started yet."""
        self.course_copy, self.run_seed = course_copy, run_seed
        self.local = threading.local()
        self.lock = threading.Lock()
        self.all: list[Judge] = []
        self.probes: dict[tuple[str, str], dict] = {}

    def judge(self) -> Judge:
        """This thread's judge."""
        if getattr(self.local, "judge", None) is None:
            self.local.judge = Judge(self.course_copy)
            with self.lock:
                self.all.append(self.local.judge)
        return self.local.judge

    def probe(self, notebook: str, exercise: str, check_source: str) -> dict:
        """What the kernel runs to probe `exercise`: the check, the answers it passes, the run's inputs, references."""
        key = (notebook, exercise)
        with self.lock:
            known = self.probes.get(key)
        if known is None:
            check, answers = check_call(check_source)
            seed = exercise_seed(self.run_seed, notebook, exercise)
            known = {"check": check, "answers": answers,
                     "inputs": self.judge().ask({"op": "inputs", "check": check, "seed": seed})["inputs"],
                     "reference_paths": self.judge().ask({"op": "references", "check": check})["paths"]}
            with self.lock:
                self.probes[key] = known
        return known

    def verdict(self, probe: dict, record: str) -> dict:
        """The judge's verdict on a record: {status, message, flags}; an error verdict if the judge failed."""
        try:
            return self.judge().ask({"op": "verdict", "check": probe["check"], "inputs": probe["inputs"],
                                     "record": record})
        except JudgeFailed as failed:
            return {"status": "error", "message": f"the check could not judge the result: {failed}", "flags": []}

    def close(self) -> None:
        """Stop every judge process."""
        with self.lock:
            for judge in self.all:
                judge.stop()
