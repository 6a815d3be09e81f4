"""Checks in two halves: what travels between probe and judge, and how a grader uses each half."""
import json
import random

import numpy as np
import pytest
import torch

from utils import dqn, mdp, policies
from utils.checks import check_epsilon_greedy, check_td_targets, check_update_target, wire
from utils.checks.core import CheckFailed, ExerciseNotDone, expect
from utils.checks.mdp import check_bellman_backup, check_discounted_return
from utils.checks.protocol import Check, course_implementation
from utils.networks import QNetwork
from test_checks_core import AlwaysCloseArray, AlwaysCloseTensor, Anything, RegisteredReal, SneakyFloat, own_copy


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", [1, 2.0, "x"], (1, (2, 3)), {"a": [1], "b": (None,)},
    float("nan"), float("-inf"), np.float32(1.5), np.int64(7), np.bool_(True),
    np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((0, 4)), np.array(2.5), np.arange(6.0).reshape(2, 3).T,
    torch.tensor([[1.0, 2.0]], requires_grad=True), torch.arange(3), torch.nn.Parameter(torch.ones(2)),
    torch.arange(6.0).reshape(2, 3).T,
])
def test_plain_values_travel_unchanged(value):
    back = wire.loads(wire.dumps(value))
    assert type(back) is type(value) and wire.describe(back) == wire.describe(value)
    if isinstance(value, (np.ndarray, np.generic)):
        assert back.dtype == value.dtype and np.array_equal(back, value, equal_nan=True)
    elif isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back, value) and back.requires_grad == value.requires_grad
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        assert back == value


@pytest.mark.parametrize("rigged, described", [
    (Anything(), "a Python Anything"), (RegisteredReal(), "a Python RegisteredReal"),
    (SneakyFloat(1.0), "a Python SneakyFloat"), (np.zeros(3).view(AlwaysCloseArray), "a Python AlwaysCloseArray"),
    (torch.zeros(2).as_subclass(AlwaysCloseTensor), "a Python AlwaysCloseTensor"),
    (np.array([Anything()], dtype=object), "a NumPy array of shape (1,) and dtype object"),
    (np.arange(3, dtype=">i8"), "a NumPy array of shape (3,) and dtype >i8"),  # its bytes would read back wrong
    (QNetwork(hidden=4), "a Python QNetwork"), ({1: "a"}, "a Python dict"),
])
def test_anything_else_travels_only_as_its_description(rigged, described):
    back = wire.loads(wire.dumps(rigged))
    assert type(back) is wire.Opaque and wire.describe(back) == described
    assert back != 0 and back != back.description  # an Opaque equals no number and no text


@pytest.mark.parametrize("text, words", [
    ('{"$pickle": "gASV"}', "unknown tag"),
    ('{"$ndarray": {"dtype": "object", "shape": [1], "data": ""}}', "no valid dtype"),
    ('{"$ndarray": {"dtype": ["float64"], "shape": [1], "data": ""}}', "no valid dtype"),
    ('{"$ndarray": {"dtype": "float64", "shape": [3], "data": "AAAA"}}', "wrong number of bytes"),
    ('{"$tensor": {"dtype": "float32", "shape": [-1], "data": ""}}', "no valid shape"),
    ('{"a": 1, "b": 2}', "unexpected data"),
    ("[" * 50 + "]" * 50, "nested too deeply"),
    ("not json", "not valid JSON"),
])
def test_malformed_records_are_refused_without_running_anything(text, words):
    with pytest.raises(wire.WireError, match=words):
        wire.loads(text)


def test_a_record_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BYTES", 1000)
    with pytest.raises(wire.WireError, match="at most"):
        wire.dumps(np.zeros(1000))
    with pytest.raises(wire.WireError, match="at most"):
        wire.loads("[" + "1," * 600 + "1]")


def test_a_value_is_recorded_as_it_was_when_returned():
    def answer(state):
        state.append(1)
        return state

    record = json.loads(check_discounted_return.probe_json(wire.dumps(
        {"rewards": [1.0], "gamma": 0.5, "cases": []}), lambda rewards, gamma: answer([])))
    assert wire.decode(record["entries"]["main"]["value"]) == [1]


def toy_inputs(rng):
    """2 for the notebook, a drawn number for a grading run."""
    return {"x": 2 if rng is None else int(rng.integers(3, 1000))}


def toy_probe(rec, inputs, double):
    """Call the answer once."""
    rec.call("double", double, inputs["x"])


def toy_judge(results, inputs):
    """double(x) must be 2x."""
    got = results.value("double")
    expect(type(got) is int and got == 2 * inputs["x"], f"double({inputs['x']}) returned {got!r}; expected "
           f"{2 * inputs['x']}.", "multiply by two.")


check_double = Check("9.1", "double", toy_inputs, toy_probe, toy_judge, references=("utils.mdp.discounted_return",))


def test_a_notebook_check_prints_one_line_or_raises_one_message(capsys):
    check_double(lambda x: 2 * x)
    assert capsys.readouterr().out == "✅ Exercise 9.1 (double): passed\n"
    with pytest.raises(CheckFailed, match=r"^Exercise 9.1 \(double\): double\(2\) returned 3; expected 4\. Hint: "):
        check_double(lambda x: x + 1)
    with pytest.raises(CheckFailed, match=r"your code raised ZeroDivisionError: division by zero \(line \d+ of your "
                                          r"code: `return x / 0`\)"):
        def crashing(x):
            return x / 0
        check_double(crashing)


def test_an_untouched_stub_is_not_done():
    def stub(x):
        raise NotImplementedError("Exercise 9.1: double")

    with pytest.raises(ExerciseNotDone, match="^Exercise 9.1: double is not done yet"):
        check_double(stub)


def test_a_grader_draws_inputs_from_its_seed_and_judges_outside():
    first, again, other = check_double.inputs_json(11), check_double.inputs_json(11), check_double.inputs_json(12)
    assert first == again and first != other and wire.loads(first) != toy_inputs(None)
    right = check_double.probe_json(first, lambda x: 2 * x)
    assert check_double.verdict_json(first, right) == {"status": "passed", "message": "", "flags": []}
    hard_coded = check_double.probe_json(first, lambda x: 4)  # the notebook's answer, learnt by heart
    assert check_double.verdict_json(first, hard_coded)["status"] == "failed"
    stub = check_double.probe_json(first, lambda x: (_ for _ in ()).throw(NotImplementedError("Exercise 9.1: d")))
    assert check_double.verdict_json(first, stub)["status"] == "not attempted"


def test_a_forged_record_is_only_as_good_as_the_answers_it_holds():
    inputs = check_double.inputs_json(5)
    x = wire.loads(inputs)["x"]
    forged = json.dumps({"entries": {"double": {"value": 2 * x}}, "course_calls": []})
    assert check_double.verdict_json(inputs, forged)["status"] == "passed"  # right answers to fresh inputs
    wrong = json.dumps({"entries": {"double": {"value": 4}}, "course_calls": []})
    assert check_double.verdict_json(inputs, wrong)["status"] == "failed"
    for broken in ("{}", "[]", '{"entries": 3}', "\x00", '{"entries": {"double": {"value": {"$x": 1}}}}'):
        assert check_double.verdict_json(inputs, broken)["status"] in ("error", "failed")


def test_the_course_answer_passed_or_called_is_refused_and_flagged():
    own = own_copy(mdp.discounted_return)
    check_discounted_return(own)
    for answer, words in ((mdp.discounted_return, "you passed the course's own `utils.mdp.discounted_return`"),
                          (lambda r, g: mdp.discounted_return(r, g), "your code calls the course's own")):
        with pytest.raises(CheckFailed, match=words):
            check_discounted_return(answer)
    inputs = check_discounted_return.inputs_json(3)
    verdict = check_discounted_return.verdict_json(inputs, check_discounted_return.probe_json(
        inputs, lambda r, g: mdp.discounted_return(r, g)))
    assert verdict["status"] == "passed" and verdict["flags"] == ["calls the course's own `utils.mdp.discounted_return`"]


def test_subclassing_the_course_class_is_borrowing_it():
    class Mine(QNetwork):
        pass

    assert course_implementation(Mine) == "utils.networks.QNetwork"
    assert course_implementation(own_copy(mdp.discounted_return)) == ""


@pytest.mark.parametrize("seed", range(6))
def test_notebook_1_checks_judge_fresh_inputs_outside_the_kernel(seed):
    for check, right, wrong, words in (
        (check_discounted_return, own_copy(mdp.discounted_return), lambda r, g: float(sum(r)), "not discounted"),
        (check_bellman_backup, own_copy(mdp.bellman_optimality_backup),
         lambda Q, P, R, T, g: R + g * P @ Q.max(axis=1), "bootstraps from terminal states"),
    ):
        inputs = check.inputs_json(seed)
        assert check.verdict_json(inputs, check.probe_json(inputs, right))["status"] == "passed"
        verdict = check.verdict_json(inputs, check.probe_json(inputs, wrong))
        assert verdict["status"] == "failed" and words in verdict["message"]


def test_notebook_1_answers_learnt_by_heart_fail_a_grading_run():
    memorised = own_copy(mdp.discounted_return)
    check_discounted_return(lambda rewards, gamma: 4.807 if rewards == [1.0, 0.0, 2.0, 3.0] else memorised(rewards, gamma))
    for inputs in map(check_discounted_return.inputs_json, range(5)):
        record = check_discounted_return.probe_json(inputs, lambda rewards, gamma: 4.807)
        assert check_discounted_return.verdict_json(inputs, record)["status"] == "failed"


def random_streams():
    """The global random streams' states: torch's, NumPy's legacy one, Python's."""
    return torch.get_rng_state().numpy().tobytes(), repr(np.random.get_state()), random.getstate()


def own_update_target(target_net, q_net, tau):
    """A right answer to exercise 5.3, written out."""
    with torch.no_grad():
        for target, online in zip(target_net.parameters(), q_net.parameters()):
            target.lerp_(online, tau)


def draws_then_returns_none(*args):
    """A wrong answer that draws from every global stream first."""
    torch.rand(3), np.random.rand(3), random.random()


@pytest.mark.parametrize("check, answer", [
    (check_epsilon_greedy, own_copy(policies.epsilon_greedy_action)), (check_td_targets, own_copy(dqn.td_targets)),
    (check_update_target, own_update_target), (check_epsilon_greedy, draws_then_returns_none),
])
def test_a_check_leaves_the_notebooks_random_streams_as_they_were(check, answer, capsys):
    inputs = check.inputs_json(1)  # drawn in the grader's process, not the kernel
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    before = random_streams()
    try:
        check(answer)
    except CheckFailed:
        assert answer is draws_then_returns_none
    assert random_streams() == before, "what the notebook prints after a check would depend on the check's draws"
    check.probe_json(inputs, answer)  # the grader's half in the kernel
    assert random_streams() == before
