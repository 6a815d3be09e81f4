"""The checks' outcomes and shared test helpers: the course's own code refused, short errors in Jupyter, plain values."""
import functools
import numbers
import re
import types

import numpy as np

import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

from utils import dqn
from utils.checks import check_replay_memory, check_td_targets, check_train_dqn, check_update_target
from utils.checks.core import CheckFailed, Mistake, install_short_errors, plain_number, plain_values
from utils.checks.protocol import course_implementation
from utils.networks import QNetwork
from utils.replay import ReplayMemory


def own_copy(function):
    """`function` as a student's own answer: the same code, but in a new code object and function (not the course's)."""
    code = function.__code__.replace(co_filename="<a student's cell>")
    copy = types.FunctionType(code, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)
    copy.__kwdefaults__, copy.__module__ = function.__kwdefaults__, "__main__"
    return copy


def own_class(cls):
    """`cls` as a student's own class: the same methods, each an `own_copy`, in a new class that is not the course's.

    A method that calls super() gets a new `__class__` cell, pointing at the new class.
    """
    namespace = {name: own_copy(value) if isinstance(value, types.FunctionType) else value
                 for name, value in vars(cls).items() if name not in ("__dict__", "__weakref__")}
    copy = type(cls.__name__, cls.__bases__, namespace)
    copy.__module__ = "__main__"
    for name, method in namespace.items():
        if isinstance(method, types.FunctionType) and "__class__" in method.__code__.co_freevars:
            cells = tuple(types.CellType(copy) if free == "__class__" else cell
                          for free, cell in zip(method.__code__.co_freevars, method.__closure__))
            rebuilt = types.FunctionType(method.__code__, method.__globals__, name, method.__defaults__, cells)
            rebuilt.__kwdefaults__, rebuilt.__module__ = method.__kwdefaults__, "__main__"
            setattr(copy, name, rebuilt)
    return copy


def graded(check, seed: int, *answers) -> dict:
    """The verdict a grading run with `seed` gives `answers`: inputs drawn, probed here, judged from the record."""
    inputs = check.inputs_json(seed)
    return check.verdict_json(inputs, check.probe_json(inputs, *answers))


def assert_named_both_ways(check, answer, named: str, seed: int) -> None:
    """`answer` fails `check` in the notebook and in a grading run on `seed`, each message matching `named`."""
    with pytest.raises(CheckFailed, match=named):
        check(answer)
    verdict = graded(check, seed, answer)
    assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


def assert_graded(check, answers: tuple, status: str, words: str = "", seeds=range(3)) -> None:
    """Every grading run in `seeds` gives `status`, with a message that contains `words`."""
    for seed in seeds:
        verdict = graded(check, seed, *answers)
        assert verdict["status"] == status and words in verdict["message"], (seed, verdict)


@pytest.mark.parametrize("check, answer, name", [
    (check_td_targets, dqn.td_targets, "utils.dqn.td_targets"),
    (check_update_target, dqn.soft_update, "utils.dqn.soft_update"),
    (check_train_dqn, functools.partial(dqn.train, None), "utils.dqn.train"),
    (check_replay_memory, ReplayMemory(5).sample, "utils.replay.ReplayMemory.sample"),
])
def test_the_course_own_code_is_refused_by_every_check(check, answer, name, capsys):
    label = re.escape(f"Exercise {check.exercise_number} (")
    with pytest.raises(CheckFailed, match=f"^{label}.*\\): you passed the course's own `{re.escape(name)}`; the "
                                          "exercise wants your own code\\. Hint: write it in the exercise cell"):
        check(answer)
    assert capsys.readouterr().out == ""


def test_only_functions_and_classes_from_utils_are_the_course_code():
    assert course_implementation(QNetwork) == "utils.networks.QNetwork"
    twice_partial = functools.partial(functools.partial(dqn.td_targets), gamma=0.9)
    assert course_implementation(twice_partial) == "utils.dqn.td_targets"
    assert course_implementation(QNetwork()) == ""  # an object, not code: its class's module says nothing
    assert course_implementation(lambda x: dqn.td_targets(*x)) == ""  # the student's own wrapper
    assert course_implementation(re.escape) == course_implementation(len) == course_implementation(None) == ""


def plain(text: str) -> str:
    """Text without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture()
def shell():
    """A real IPython shell with the short-error handler installed."""
    instance = InteractiveShell.instance()
    install_short_errors()
    yield instance
    instance.set_custom_exc((), None)
    InteractiveShell.clear_instance()


def test_jupyter_shows_check_failures_without_traceback(shell, capsys):
    result = shell.run_cell("from utils.checks.core import CheckFailed\nraise CheckFailed('Exercise 9.1 (double): wrong.')")
    out = plain(capsys.readouterr().out)
    assert isinstance(result.error_in_exec, CheckFailed)  # the cell still fails, so nbval and graders see it
    assert "CheckFailed: Exercise 9.1 (double): wrong." in out
    assert out.strip() == "CheckFailed: Exercise 9.1 (double): wrong."


def test_jupyter_shows_exercise_stubs_as_not_done(shell, capsys):
    shell.run_cell("def f():\n    raise NotImplementedError('Exercise 9.3: f')\nf()")
    out = plain(capsys.readouterr().out)
    assert out.strip().count("\n") == 0
    assert "ExerciseNotDone: Exercise 9.3: f is not done yet" in out
    assert "Traceback" not in out


def test_other_not_implemented_errors_keep_their_traceback(shell, capsys):
    shell.run_cell("raise NotImplementedError('some library feature')")
    assert "Traceback" in capsys.readouterr().out


# --- objects posing as numbers: every check must refuse them before comparing ------------

class Anything:
    """Equal to everything, and a number to float(), int() and NumPy: the rigged answer a check must refuse."""

    __eq__ = lambda self, other: True  # noqa: E731
    __ne__ = lambda self, other: False  # noqa: E731
    __hash__ = object.__hash__
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __sub__ = __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = lambda self, other: self  # noqa: E731
    __abs__ = __neg__ = lambda self: self  # noqa: E731
    __float__ = lambda self: 0.0  # noqa: E731
    __int__ = __index__ = lambda self: 0  # noqa: E731
    __bool__ = lambda self: True  # noqa: E731
    __format__ = lambda self, spec: "anything"  # noqa: E731


class RegisteredReal(Anything):
    """A class registered as a numbers.Real, which it is not."""


class RegisteredIntegral(Anything):
    """A class registered as a numbers.Integral, which it is not."""


numbers.Real.register(RegisteredReal)
numbers.Integral.register(RegisteredIntegral)


class SneakyInt(int):
    """An int subclass whose == always says True."""

    __eq__ = lambda self, other: True  # noqa: E731
    __hash__ = int.__hash__


class SneakyFloat(float):
    """A float subclass whose == always says True."""

    __eq__ = lambda self, other: True  # noqa: E731
    __hash__ = float.__hash__


class AlwaysCloseArray(np.ndarray):
    """An array that overrides np.allclose and np.array_equal to say True."""

    def __array_function__(self, func, types, args, kwargs):
        return True


class AlwaysCloseTensor(torch.Tensor):
    """A tensor whose torch functions (allclose, equal) always answer True."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


class AlwaysCloseParameter(torch.nn.Parameter):
    """A parameter for which torch.allclose and torch.equal always say True; a tensor otherwise."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return torch.Tensor.__torch_function__.__func__(cls, func, types, args, kwargs)


def rig_parameters(net):
    """Replace every parameter of `net` by an AlwaysCloseParameter holding the same values."""
    for module in net.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            setattr(module, name, AlwaysCloseParameter(param.detach()))


def test_plain_number_refuses_objects_posing_as_numbers():
    for rigged in (Anything(), RegisteredReal(), RegisteredIntegral()):
        with pytest.raises(Mistake, match=f"^f returned a Python {type(rigged).__name__}; expected a number\\.$"):
            plain_number(rigged, "f returned", "a number")
    assert plain_number(np.float64(0.5), "f returned", "a number") == 0.5
    assert type(plain_number(np.int64(3), "f returned", "a number")) is int


def test_plain_values_refuses_an_always_equal_element():
    with pytest.raises(Mistake, match="f returned a Python list holding a Python Anything; expected numbers"):
        plain_values([1, Anything()], "f returned", "numbers")
