"""The checks framework: run a student's answer, turn every outcome into one short message.

A check is a function decorated with `@exercise("N.k", "title")`. Inside it, `expect(...)`
(or `raise Mistake(...)`) states what was wrong. The decorator turns

* an answer that is the course's own code from `utils` (not the student's) into `CheckFailed`
  before anything runs,
* a `Mistake` into `CheckFailed("Exercise N.k (title): <what came back>. <hint>")`,
* a `NotImplementedError` from an untouched exercise into `ExerciseNotDone`,
* any other exception raised by the student's code into `CheckFailed` naming it and the
  line of the student's cell it came from,

and prints one line when everything passes. In Jupyter these exceptions are shown as one
line each, without a traceback through `utils` (see `_show_short`).
"""
import functools
import inspect
import traceback
from pathlib import Path

import numpy as np
import torch

from utils.checks.wire import describe  # noqa: F401 (checks import describe from here)

_UTILS_DIR = Path(__file__).resolve().parent.parent
# NumPy's own scalar types: a subclass a student defines (with a rigged __eq__, say) is none of them.
NUMPY_SCALARS = frozenset(np.dtype(code).type for code in np.typecodes["All"])
TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
NUMBERS = (int, float, np.integer, np.floating)
"""Python ints and floats and NumPy's integer and floating scalars: what `plain_number` accepts by default."""


class Mistake(Exception):
    """Raised inside a check: what the student's code did wrong, and a hint."""


class CheckFailed(Exception):
    """An exercise's check found a mistake; the message says which and how to fix it."""


class ExerciseNotDone(Exception):
    """An exercise still raises the `NotImplementedError` its template came with."""


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Raise a `Mistake` saying `problem` (and `hint`) unless `condition` holds."""
    if not condition:
        raise Mistake(f"{problem} Hint: {hint}" if hint else problem)


def exercise(number: str, title: str):
    """Decorate a check so that its outcome is one short, exercise-named message."""

    def decorate(check):
        @functools.wraps(check)
        def run_check(*args, **kwargs):
            label = f"Exercise {number} ({title})"
            borrowed = next(filter(None, map(course_implementation, [*args, *kwargs.values()])), "")
            if borrowed:
                raise CheckFailed(f"{label}: you passed the course's own `{borrowed}`; the exercise wants your own "
                                  "code. Hint: write it in the exercise cell, run that cell (after any import of the "
                                  "same name), and pass what you wrote.")
            try:
                check(*args, **kwargs)
            except NotImplementedError as error:
                raise ExerciseNotDone(not_done_message(error, label)) from None
            except Mistake as mistake:
                raise CheckFailed(f"{label}: {mistake}") from None
            except (CheckFailed, ExerciseNotDone):
                raise
            except Exception as error:  # the student's code crashed inside the check
                raise CheckFailed(f"{label}: your code raised {describe_crash(error)}") from None
            print(f"✅ {label}: passed")

        run_check.exercise_number = number
        return run_check

    return decorate


def course_implementation(answer) -> str:
    """'utils.dqn.td_targets' if `answer` is (a partial or bound method of) code from `utils`, else ''."""
    while isinstance(answer, functools.partial):
        answer = answer.func
    answer = getattr(answer, "__func__", answer)  # a bound method's module is its function's
    if not (inspect.isfunction(answer) or inspect.isclass(answer)):
        return ""  # an instance reports its class's module, but checks are given code, not objects
    module = answer.__module__ or ""
    return f"{module}.{answer.__qualname__}" if module == "utils" or module.startswith("utils.") else ""


def not_done_message(error: NotImplementedError, label: str) -> str:
    """One line telling the student which exercise is still a template."""
    needed = str(error) or label
    return f"{needed} is not done yet: write your code in its cell, run that cell, then run this one."


def describe_crash(error: Exception) -> str:
    """`TypeError: ... (line 3 of your code: `x = a + b`)`, pointing at the student's own line."""
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not _is_course_code(frame.filename):
            code = (frame.line or "").strip()
            where = f" (line {frame.lineno} of your code" + (f": `{code}`)" if code else ")")
            break
    return f"{type(error).__name__}: {error}{where}"


def _is_course_code(filename: str) -> bool:
    """True for frames in `utils/` or the libraries it calls, not in the student's cell."""
    path = Path(filename)
    return (
        _UTILS_DIR in path.resolve().parents
        or "site-packages" in path.parts
        or path.name.startswith("<frozen")
    )


def _show_short(shell, etype, value, tb, tb_offset=None):
    """IPython handler: show check outcomes and unfinished exercises as one line, no traceback."""
    if issubclass(etype, NotImplementedError) and not str(value).startswith("Exercise "):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    if issubclass(etype, NotImplementedError):
        value = ExerciseNotDone(not_done_message(value, str(value)))
        etype = ExerciseNotDone
    # _showtraceback is how IPython and ipykernel display a prepared traceback (an "error"
    # output for Jupyter); giving it only the exception line leaves out every frame.
    shell._showtraceback(etype, value, shell.InteractiveTB.get_exception_only(etype, value))
    return None


def install_short_errors() -> None:
    """In Jupyter, show `CheckFailed`/`ExerciseNotDone`/exercise stubs without tracebacks."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed, ExerciseNotDone, NotImplementedError), _show_short)


def name_the_mistake(matches_answer, wrong_versions: dict, fallback: str, returned: str = "") -> None:
    """Raise a `Mistake` naming the first wrong version that matches what the student returned.

    `matches_answer(value) -> bool` compares the student's result with a candidate;
    `wrong_versions` maps a description of a typical mistake (with its hint) to the value
    that mistake produces; `fallback` is the message when none of them matches. `returned`
    (what came back, and what was expected) is put in front of a named mistake.
    """
    for description, value in wrong_versions.items():
        if matches_answer(value):
            raise Mistake(returned + description)
    raise Mistake(fallback)


def is_plain(value, types: tuple) -> bool:
    """True if `value`'s exact type is a built-in type in `types` or NumPy's own scalar type under one there."""
    kind = type(value)
    return kind in types or (kind in NUMPY_SCALARS and issubclass(kind, tuple(t for t in types if t not in (int, float))))


def plain_number(value, returned: str, expected: str, hint: str = "", types: tuple = NUMBERS):
    """`value` as a Python int or float if its exact type is one of `types`, else a Mistake saying what it is.

    Checks compare only what this returns: an object of another type (one whose __eq__ always says
    True, or a class registered as a numbers.Real) is refused before any of its methods is called.
    A 0-d NumPy array counts when np.ndarray is among `types`.
    """
    if type(value) is np.ndarray and np.ndarray in types and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value[()]  # NumPy's own scalar, checked below like any other
    scalars = tuple(t for t in types if t is not np.ndarray)  # an array of another shape is no number
    expect(is_plain(value, scalars), f"{returned} {describe(value)}; expected {expected}.", hint)
    return value.item() if type(value) in NUMPY_SCALARS else value


def plain_array(value, returned: str, expected: str, hint: str = "", kinds: str = "biuf") -> np.ndarray:
    """A copy of `value` if it is a NumPy array (no subclass) whose dtype kind is in `kinds`, else a Mistake.

    A subclass can override np.allclose and friends (__array_function__), an object array compares
    with its elements' own __eq__: neither is accepted.
    """
    expect(type(value) is np.ndarray and value.dtype.kind in kinds, f"{returned} {describe(value)}; expected "
           f"{expected}.", hint)
    return value.copy()


def plain_tensor(value, returned: str, expected: str, hint: str = "") -> torch.Tensor:
    """`value` if it is a torch tensor (no subclass: one can override torch.allclose), else a Mistake."""
    expect(type(value) in TENSOR_TYPES, f"{returned} {describe(value)}; expected {expected}.", hint)
    return value


def plain_values(values, returned: str, expected: str, hint: str = "", types: tuple = NUMBERS,
                 containers: tuple = (list, tuple, np.ndarray)) -> np.ndarray:
    """A list, tuple, NumPy array (or tensor, if in `containers`) of numbers, as a new float64 array; else a Mistake."""
    kind = type(values)
    expect(kind in containers or (kind in TENSOR_TYPES and torch.Tensor in containers),
           f"{returned} {describe(values)}; expected {expected}.", hint)
    if kind in TENSOR_TYPES:
        return values.detach().cpu().double().numpy().copy()
    if kind is np.ndarray:
        return plain_array(values, returned, expected, hint).astype(float)
    odd = next((v for v in values if not is_plain(v, types)), None)
    expect(odd is None, f"{returned} a Python {kind.__name__} holding {describe(odd)}; expected {expected}.", hint)
    return np.array([float(v) for v in values], dtype=float)


def expect_plain_parameters(net: torch.nn.Module, call: str,
                            hint: str = "let nn.Linear create its weights and biases.") -> None:
    """Every parameter of `net` must be a plain nn.Parameter: a subclass could override torch.allclose."""
    expect(all(type(p) is torch.nn.Parameter for p in net.parameters()), f"{call} holds a parameter that is not an "
           "nn.Parameter.", hint)
