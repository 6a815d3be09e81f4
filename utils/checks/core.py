"""The checks' vocabulary: the outcomes of a check and the helpers its judge states mistakes with.

A check (utils.checks.protocol) ends in `CheckFailed("Exercise N.k (title): <what came back>.
Hint: <...>")`, `ExerciseNotDone` for an untouched exercise, or one printed ✅ line. Its judge
states what was wrong with `expect(...)`, `name_the_mistake(...)` or `raise Mistake(...)`, and
accepts only plain values (`plain_number`, `plain_array`, `plain_tensor`, `plain_values`). In
Jupyter these exceptions are shown as one line each, without a traceback through `utils`
(see `_show_short`).
"""
import sysconfig
import traceback
from pathlib import Path

import numpy as np
import torch

from utils.checks.wire import describe  # noqa: F401 (checks import describe from here)

_UTILS_DIR = Path(__file__).resolve().parent.parent
_STANDARD_LIBRARY = {Path(sysconfig.get_paths()[name]).resolve() for name in ("stdlib", "platstdlib")}
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


def not_done_message(error: NotImplementedError, label: str) -> str:
    """One line telling the student which exercise is still a template."""
    needed = str(error) or label
    return f"{needed} is not done yet: write your code in its cell, run that cell, then run this one."


def describe_crash(error: Exception) -> str:
    """`TypeError: ... (line 3 of your code: `x = a + b`)`, pointing at the student's own line."""
    return f"{type(error).__name__}: {error}{student_line(error)}"


def student_line(error: BaseException) -> str:
    """' (line 3 of your code: `x = a + b`)' for the innermost frame outside the course's code, else ''."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not _is_course_code(frame.filename):
            code = (frame.line or "").strip()
            return f" (line {frame.lineno} of your code" + (f": `{code}`)" if code else ")")
    return ""


def _is_course_code(filename: str) -> bool:
    """True for frames in `utils/`, the libraries it calls or Python's own, not in the student's cell."""
    path = Path(filename)
    parents = path.resolve().parents
    return (
        _UTILS_DIR in parents
        or not _STANDARD_LIBRARY.isdisjoint(parents)
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
    if type(value) in TENSOR_TYPES and value.numel() == 1 and ".item()" not in hint:
        hint = "a one-element tensor is not a Python number: convert it with .item() (or float(...) / int(...))."
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
    odd = [v for v in values if not is_plain(v, types)]
    expect(not odd, f"{returned} a Python {kind.__name__} holding {describe(odd[0]) if odd else ''}; expected "
           f"{expected}.", hint)
    return np.array([float(v) for v in values], dtype=float)


def separated(values: list, margin: float = 1e-3, same_ok: bool = False) -> bool:
    """True when every two of `values` (numbers, arrays or tensors) differ by more than `margin` somewhere.

    Fresh inputs are drawn until this holds for the right result and every named mistake's, so that
    each mistake can be told apart; with `same_ok`, two results that agree exactly (two slips that
    coincide by construction) are allowed too.
    """
    arrays = [np.asarray(torch.as_tensor(v).detach(), dtype=float) for v in values]
    return all(a.shape != b.shape or np.max(np.abs(a - b), initial=0.0) > margin
               or (same_ok and np.max(np.abs(a - b), initial=0.0) <= 1e-9)
               for i, a in enumerate(arrays) for b in arrays[:i])


def expect_plain_parameters(net: torch.nn.Module, call: str,
                            hint: str = "let nn.Linear create its weights and biases.") -> None:
    """Every parameter of `net` must be a plain nn.Parameter: a subclass could override torch.allclose."""
    expect(all(type(p) is torch.nn.Parameter for p in net.parameters()), f"{call} holds a parameter that is not an "
           "nn.Parameter.", hint)
