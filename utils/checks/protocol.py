"""A check in two halves: a probe that calls the student's code, and a judge that decides.

The **probe** runs where the student's code runs (their kernel). It calls the student's code on
the check's inputs and records what came back in a `Recorder`, entry by entry: a returned value
(encoded at once by `utils.checks.wire`, so later changes to it do not count), or the exception
the call raised. The **judge** reads that record through `Results`, computes the references
itself and raises a `Mistake` with today's messages when something is wrong.

In a student's notebook, `Check.__call__` runs both halves in the kernel, passing the record
through the same encoding a grader uses. A grader runs only the probe in the student's kernel
(`probe_json`), on inputs it drew from a seed the kernel never sees (`inputs_json`), and the
judge in its own process (`verdict_json`): nothing the kernel does can change how a record is
read, only what it says, and a record that says the right thing needs right answers to inputs
drawn afresh for every grading run.
"""
import contextlib
import functools
import inspect
import random
import re
import sys

import numpy as np
import torch

from utils.checks import wire
from utils.checks.core import CheckFailed, ExerciseNotDone, Mistake, not_done_message, student_line

MAX_MESSAGE = 2_000  # characters kept of an exception's message


class ProbeStopped(Exception):
    """The student's code raised where the probe cannot go on; the record ends there."""


class CheckError(Exception):
    """The record lacks an entry the judge needs (the probe ended early without saying why)."""


# --- the probe's side --------------------------------------------------------------------

class Recorder:
    """What a probe saw, as plain data: for each key, the value a call returned or what it raised."""

    def __init__(self, references: dict):
        """An empty record; `references` maps the code objects of the course's own answer to their names."""
        self.entries: dict[str, dict] = {}
        self.references = references
        self.course_calls: list[str] = []

    def call(self, key: str, function, *args, expect_error: bool = False, **kwargs):
        """`function(*args, **kwargs)`, recorded under `key`; a raise ends the probe unless `expect_error`."""
        try:
            with self.watching():
                result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (anything the student's code raises is part of the record)
            self.entries[key] = {"raised": raised(error)}
            if expect_error:
                return None
            raise ProbeStopped(key) from None
        self.note(key, result)
        return result

    def note(self, key: str, value) -> None:
        """Record a value under `key`, encoded now (what the judge reads is what it was at this moment)."""
        self.entries[key] = {"value": wire.encode(value)}

    def watching(self):
        """A context in which calls into the course's own answer are noted (nothing when there is none)."""
        return _Watch(self) if self.references else _NOTHING

    def record(self) -> dict:
        """The whole record, ready for `wire.dumps`."""
        # In the order first called: the first is what the student's code called, the rest what that called.
        return {"entries": self.entries, "course_calls": list(dict.fromkeys(self.course_calls))}


class _Watch:
    """Notes every call into the course's own answer while the student's code runs (sys.settrace, call events only)."""

    def __init__(self, recorder: Recorder):
        """Watch for `recorder`."""
        self.recorder = recorder

    def __enter__(self):
        """Start watching, keeping any tracer already set (a debugger, say)."""
        self.previous = sys.gettrace()
        sys.settrace(self.trace)

    def trace(self, frame, event, arg):
        """On each new frame: note it if its code is the course's answer; trace no lines."""
        name = self.recorder.references.get(id(frame.f_code))
        if name:
            self.recorder.course_calls.append(name)
        return None

    def __exit__(self, *exception):
        """Stop watching."""
        sys.settrace(self.previous)
        return False


class _Nothing:
    """A context that does nothing."""

    def __enter__(self):
        """Nothing."""

    def __exit__(self, *exception):
        """Nothing; exceptions propagate."""
        return False


_NOTHING = _Nothing()


@contextlib.contextmanager
def random_streams_kept():
    """Restore the global random streams (torch's, NumPy's legacy one, Python's) afterwards.

    A check builds networks and calls code that may draw from them; without this, what a notebook
    prints after a check cell would depend on how the check (and the student's answer) drew.
    """
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def raised(error: BaseException) -> dict:
    """What an exception says, as plain data: its type, message, the student's line, and whether it is a stub."""
    kind = type(error)
    try:
        message = str(error)[:MAX_MESSAGE]
    except Exception:  # noqa: BLE001 (a student's exception class may fail to print)
        message = "(the exception's message could not be read)"
    entry = {"type": kind.__name__, "message": message, "where": student_line(error)}
    if kind is Mistake:
        entry["mistake"] = message
    if issubclass(kind, NotImplementedError) and message.startswith("Exercise "):
        entry["not_done"] = message
    return entry


def course_implementation(answer) -> str:
    """'utils.dqn.td_targets' if `answer` is (a partial, bound method or subclass of) code from `utils`, else ''."""
    while isinstance(answer, functools.partial):
        answer = answer.func
    answer = getattr(answer, "__func__", answer)  # a bound method's module is its function's
    if inspect.isclass(answer):
        return next((name for name in map(_course_name, answer.__mro__) if name), "")
    return _course_name(answer) if inspect.isfunction(answer) else ""  # objects are not code


def _course_name(code) -> str:
    """'module.qualname' of a function or class defined in `utils`, else ''."""
    module = getattr(code, "__module__", "") or ""
    return f"{module}.{code.__qualname__}" if module == "utils" or module.startswith("utils.") else ""


def reference_codes(names: tuple) -> dict:
    """{id(code): name} for the code of the course's answers named 'utils.module.name'.

    A function's code; a class's methods; an object's class's methods (utils.tasks.TASK_CONFIGS: its reads).

    Keyed by identity: code objects compare equal by content, and a student's own copy is not the course's.
    """
    codes = {}
    for name in names:
        module_name, _, attribute = name.rpartition(".")
        obj = getattr(sys.modules.get(module_name) or __import__(module_name, fromlist=["_"]), attribute)
        owner = obj if inspect.isclass(obj) else None if inspect.isfunction(obj) else type(obj)
        functions = [obj] if owner is None else [v for v in vars(owner).values() if inspect.isfunction(v)]
        codes.update({id(function.__code__): name for function in functions})
    return codes


# --- the judge's side --------------------------------------------------------------------

class Results:
    """A probe's record as the judge reads it: each entry's value, or the mistake its raise means."""

    def __init__(self, record: dict):
        """Wrap a decoded record; CheckError when it is not shaped like one."""
        entries = record.get("entries") if type(record) is dict else None
        if type(entries) is not dict:
            raise CheckError("the check's probe returned no record")
        self.entries = entries

    def value(self, key: str):
        """What the call recorded under `key` returned; raises what its raise means (Mistake, ExerciseNotDone)."""
        entry = self.entry(key)
        if "raised" in entry:
            raise failure(entry["raised"])
        try:
            return wire.decode(entry.get("value"))
        except wire.WireError as error:
            raise Mistake(f"what your code returned could not be read: {error}") from None

    def raised(self, key: str) -> dict | None:
        """What the call under `key` raised ({type, message, where, ...}), or None if it returned."""
        entry = self.entry(key)
        return entry.get("raised") if type(entry.get("raised")) is dict else None

    def has(self, key: str) -> bool:
        """Did the probe record anything under `key`?"""
        return key in self.entries

    def entry(self, key: str) -> dict:
        """The entry under `key`; if the probe stopped before it, what stopped it; else CheckError."""
        entry = self.entries.get(key)
        if type(entry) is dict:
            return entry
        stopped = self.entries.get(str(self.entries.get("$stopped")))
        if type(stopped) is dict and type(stopped.get("raised")) is dict:
            raise failure(stopped["raised"])
        raise CheckError(f"the check's probe recorded nothing for {key!r}")


def failure(info: dict) -> Exception:
    """The exception a recorded raise stands for: ExerciseNotDone for a stub, else a Mistake naming the crash."""
    if info.get("not_done"):
        return ExerciseNotDone(not_done_message(NotImplementedError(info["not_done"]), str(info["not_done"])))
    if info.get("mistake"):
        return Mistake(str(info["mistake"]))
    return Mistake(f"your code raised {crash_text(info)}{crash_hint(info)}")


CRASH_HINTS = (  # (the exception's type, a pattern of its message and line, the hint): crashes whose cause these show
    ("IndexError", re.compile(re.escape("only integers, slices")),  # NumPy's, for x[i] with i = n / 2
     "an index became a float: / always gives a float in Python 3; use integer division // (node // 2), or int(...), "
     "for indices."),
    ("TypeError", re.compile(r"missing (a|\d+) required|too many positional arguments|takes \d+ positional argument|"
                             r"unexpected keyword argument|multiple values for argument"),
     "the call does not fit the function's parameters: pass each parameter it declares, in its order (the message "
     "names the one that does not fit)."),
    ("RuntimeError", re.compile(r"have the same dtype, but got:? (Double and Float|double != float)"),
     "the network's weights are float32 and it was given float64 numbers (NumPy's default); make the input float32: "
     "torch.as_tensor(state, dtype=torch.float32)."),
    ("RuntimeError", re.compile(re.escape("does not require grad and does not have a grad_fn")),  # backward()
     "the loss has no gradient: it was computed with autograd off, under torch.no_grad() or torch.inference_mode() (or "
     "from detached tensors). Only the targets go without gradient: compute Q(s, a) = q_net(states) and the loss with "
     "gradients on."),
    ("RuntimeError", re.compile(re.escape("Inference tensors cannot be saved for backward")),
     "a tensor made under torch.inference_mode() cannot be used by a loss that is trained: make the targets under "
     "`with torch.no_grad():` instead."),
    ("IndexError", re.compile(re.escape("Dimension out of range (expected to be in range of [-1, 0], but got 1)")),
     "the tensor has one dimension, as one state's Q-values do (shape (n_actions,)): dim=1 is a batch's; use dim=-1, "
     "or argmax() without dim."),
    ("RuntimeError", re.compile(re.escape("Can't call numpy() on Tensor that requires grad")),
     "call the network under `with torch.no_grad():` (choosing an action needs no gradient); its output can then "
     "become a NumPy array."),
    ("TypeError", re.compile(re.escape("object does not support the context manager protocol")),  # `with torch.no_grad:`
     "`with` needs the context manager that a call makes: `with torch.no_grad():`, with its parentheses."),
    ("RuntimeError", re.compile(r"must match the size of tensor b .*one_hot", re.DOTALL),  # the code line is searched too
     "F.one_hot(actions) has max(actions) + 1 columns, fewer than the network's actions when a batch lacks the last "
     "action (a batch need not hold every action): pass num_classes, the number of actions (the Q-values' "
     "shape[1]), or pick Q(s, a) with q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1)."),
    ("AttributeError", re.compile(r"before Module\.__init__\(\) call|has no attribute '_(\w*hooks|parameters|buffers|"
                                  r"modules)'"),  # an nn.Module whose nn.Module.__init__ never ran
     "an nn.Module subclass must call super().__init__() first in its __init__, before it sets anything on self."),
)


def crash_hint(info: dict) -> str:
    """A hint for a crash whose cause is plain from its type, its message and the line that raised it, else ''."""
    kind, message = info.get("type"), f"{info.get('message')}{info.get('where', '')}"
    return next((f". Hint: {hint}" for wanted, pattern, hint in CRASH_HINTS
                 if kind == wanted and pattern.search(message)), "")


def crash_text(info: dict) -> str:
    """'TypeError: message (line 3 of your code: `...`)' from a recorded raise."""
    return f"{info.get('type', 'Exception')}: {info.get('message', '')}{info.get('where', '')}"


# --- a whole check -----------------------------------------------------------------------

class Check:
    """One exercise's check: `inputs(rng)`, `probe(recorder, inputs, *answers)` and `judge(results, inputs)`.

    `inputs(None)` gives the inputs a student's notebook uses; `inputs(rng)` draws fresh ones for
    a grading run. `references` names the course's own answer ('utils.mdp.discounted_return'):
    passing it, or calling it from the student's code, is refused in a notebook and flagged when graded.
    """

    def __init__(self, number: str, title: str, inputs, probe, judge, references: tuple = ()):
        """Assemble the check from its parts."""
        self.number, self.title, self.references = number, title, tuple(references)
        self.inputs, self.probe, self.judge = inputs, probe, judge
        self.exercise_number = number  # as the notebooks' tests read it
        self.__name__ = self.__qualname__ = f"check_{title}"
        self.__doc__ = judge.__doc__

    @property
    def label(self) -> str:
        """'Exercise 1.1 (discounted_return)'."""
        return f"Exercise {self.number} ({self.title})"

    def __call__(self, *answers) -> None:
        """The notebook's check: probe and judge here, through the grader's encoding; one line when it passes."""
        with random_streams_kept():
            self._check_here(answers)
        print(f"✅ {self.label}: passed")

    def _check_here(self, answers: tuple) -> None:
        """Probe and judge `answers` in this process; raise CheckFailed or ExerciseNotDone unless they pass."""
        inputs_text = wire.dumps(self.inputs(None))
        record = wire.from_json(self.probe_json(inputs_text, *answers))
        refused = self.refusal(record)
        if refused:
            raise CheckFailed(f"{self.label}: {refused}")
        self.decide(wire.loads(inputs_text), record)

    def run_probe(self, inputs, answers: tuple) -> dict:
        """Run the probe on the student's answers; the record (never raises for the student's code)."""
        recorder = Recorder(reference_codes(self.references))
        borrowed = next(filter(None, map(course_implementation, answers)), "")
        if borrowed:
            return recorder.record() | {"borrowed": borrowed}
        try:
            self.probe(recorder, inputs, *answers)
        except ProbeStopped as stopped:
            recorder.entries["$stopped"] = str(stopped)  # the key whose call raised; nothing after it was recorded
        except Exception as error:  # noqa: BLE001 (the student's code failed outside a recorded call)
            recorder.entries["$crash"] = {"raised": raised(error)}
        return recorder.record()

    def decide(self, inputs, record: dict) -> None:
        """Judge a record: return when it passes, else raise CheckFailed or ExerciseNotDone."""
        if type(record) is dict and record.get("unreadable"):
            raise CheckFailed(f"{self.label}: what your code returned is too large to check "
                              f"({record['unreadable']}).")
        results = Results(record)
        try:
            self.judge(results, inputs)
        except CheckError:
            crash = results.entries.get("$crash")
            if type(crash) is not dict or type(crash.get("raised")) is not dict:
                raise
            self.translate(failure(crash["raised"]))
        except Mistake as mistake:
            raise CheckFailed(f"{self.label}: {mistake}") from None

    def translate(self, error: Exception) -> None:
        """Raise a recorded failure as the check's outcome."""
        if isinstance(error, Mistake):
            raise CheckFailed(f"{self.label}: {error}") from None
        raise error

    @staticmethod
    def refusal(record: dict) -> str:
        """Why the record shows the course's own answer in use ('' when it does not)."""
        borrowed = record.get("borrowed") if type(record) is dict else ""
        if borrowed:
            return (f"you passed the course's own `{borrowed}`; the exercise wants your own code. Hint: write it in "
                    "the exercise cell, run that cell (after any import of the same name), and pass what you wrote.")
        called = record.get("course_calls") if type(record) is dict else []
        if called:
            return (f"your code calls the course's own `{called[0]}`; the exercise wants your own code. Hint: write "
                    "the computation yourself in the exercise cell.")
        return ""

    # --- what a grader calls: text in, text out --------------------------------------------

    @functools.lru_cache(maxsize=None)
    def inputs_json(self, seed: int) -> str:
        """Inputs drawn from `seed`, encoded (the grader's side); once per seed (6.1's draw plays episodes)."""
        return wire.dumps(self.inputs(np.random.default_rng(seed)))

    def probe_json(self, inputs_text: str, *answers) -> str:
        """The probe's record on encoded inputs, encoded (the kernel's side)."""
        try:
            with random_streams_kept():
                return wire.to_json(self.run_probe(wire.loads(inputs_text), answers))
        except wire.WireError as error:
            return wire.to_json({"entries": {}, "course_calls": [], "unreadable": str(error)})

    def verdict_json(self, inputs_text: str, record_text: str) -> dict:
        """The judge's verdict on an encoded record (the grader's side): status, message and flags."""
        record = {}
        try:
            record = wire.from_json(record_text)
            self.decide(wire.loads(inputs_text), record)
        except wire.WireError as error:
            return {"status": "error", "message": f"the check's record could not be read: {error}", "flags": []}
        except CheckFailed as failed:
            return {"status": "failed", "message": str(failed), "flags": self.flags(record)}
        except ExerciseNotDone as not_done:
            return {"status": "not attempted", "message": str(not_done), "flags": self.flags(record)}
        except CheckError as error:
            return {"status": "error", "message": f"the check could not run: {error}", "flags": self.flags(record)}
        return {"status": "passed", "message": "", "flags": self.flags(record)}

    def flags(self, record: dict) -> list[str]:
        """Why a graded record needs an instructor's review ([] when it does not)."""
        refused = self.refusal(record)
        return [refused.split("; ")[0].replace("you passed", "passes").replace("your code calls", "calls")] \
            if refused else []
