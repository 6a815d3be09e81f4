"""Grades that no cell can fake: every trick a student might try on the grader, each proved to fail.

Code outside the exercise cells never runs (the grader runs the course's own notebook with only
the student's exercise cells), so the tricks there change nothing. Inside an exercise cell a trick
runs, but a check's verdict is decided by its judge in the grader's own process, on inputs drawn
for the run: patching the kernel's checks, references or NumPy changes no verdict. What a kernel
can still do is forge the record its probe prints, which passes only with right answers to the
run's inputs (the course's own code would give them): such cells are flagged for review, by
reading their code or by the kernel's fingerprint, or both.
"""
import copy
import json
from pathlib import Path

import nbformat
import pytest
from fake_course import answered, course_notebook, feedback, grade, graded_rows, insert_before, make_course, write

from tools.grade import main
from tools.grading.plan import build_plan

from tools.grading.tamper import course_code_flags, snapshot_changes, static_flags

pytestmark = [pytest.mark.grading, pytest.mark.slow]

REPLACE_EXEC = "import builtins\nbuiltins.exec = lambda *args, **kwargs: None"
BLANK_CELLS = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
FAKE_CHECKS = """\
import pathlib, sys, tempfile, utils
fake = pathlib.Path(tempfile.mkdtemp()) / "checks"
fake.mkdir()
(fake / "__init__.py").write_text("def check_add(f): pass\\ndef check_scale(f): pass")
utils.__path__.insert(0, str(fake.parent))
for name in [n for n in sys.modules if n.startswith("utils.checks")]:
    del sys.modules[name]
"""
PATCH_REFERENCE = "from utils import reference\nreference.add = lambda a, b: a - b"
COPY_SOLUTIONS = """\
import json, os, utils
course = os.path.dirname(os.path.dirname(utils.__file__))
for cell in json.load(open(os.path.join(course, "solutions", "01_fake.ipynb")))["cells"]:
    if cell["cell_type"] == "code" and "exercise" in cell["metadata"]:
        exec("".join(cell["source"]), globals())
"""
ALWAYS_EQUAL = "class Anything:\n    def __eq__(self, other):\n        return True\n"
# Rewrites the grader's probe cell into a print of a record holding the course's answer to the run's inputs.
FORGE_RECORD = """\
import json, re
from utils import reference
def forge(lines):
    found = re.search(r"probe\\('check_add', '(.*?)', '(.*?)'", "".join(lines))
    if not found:
        return lines
    a, b = json.loads(found[1])
    return [f"print({found[2]!r} + 'record ' + {json.dumps({'value': reference.add(a, b), 'type': 'int'})!r})\\n"]
get_ipython().input_transformers_post.append(forge)
"""


def outside(trick: str, *answers: str):
    """01_fake with the given exercises answered and the trick in a cell of the student's own above 1.1."""
    return insert_before(answered(course_notebook("01_fake"), *answers), "1.1", trick)


def inside(answer_11: str, trick: str):
    """01_fake with 1.2 answered, and exercise 1.1's cell holding the trick, then `answer_11`."""
    nb = answered(course_notebook("01_fake"), "1.2")
    cell = next(c for c in nb.cells if c.metadata.get("exercise", "").startswith("1.1"))
    cell.source = f"{trick}\n{answer_11}"
    return nb


RIGHT, WRONG = "def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b"
CLASS = {
    # Outside the exercise cells: the cell never runs, so the grade is what the answers deserve.
    "out_exec": outside(REPLACE_EXEC),
    "out_transformer": outside(BLANK_CELLS),
    "out_fake_checks": outside(FAKE_CHECKS),
    "out_reference": insert_before(inside(WRONG, ""), "1.1", PATCH_REFERENCE),
    "out_solutions": outside(COPY_SOLUTIONS),
    # Inside an exercise cell: it runs, and is flagged.
    "in_exec": inside(RIGHT, REPLACE_EXEC),
    "in_transformer": inside(RIGHT, BLANK_CELLS),
    "in_fake_checks": inside(WRONG, FAKE_CHECKS),
    "in_reference": inside(WRONG, PATCH_REFERENCE),
    "in_solutions": inside("", COPY_SOLUTIONS),
    "in_always_equal": inside("def add(a, b):\n    return Anything()", ALWAYS_EQUAL),
    "in_late_import": inside(RIGHT, "import utils.late\nutils.late.add = lambda a, b: 0"),
    "in_numpy": inside(WRONG, "import numpy\nnumpy.isclose = lambda *args, **kwargs: True"),
    "in_forged": inside(WRONG, FORGE_RECORD),
}


@pytest.fixture(scope="module")
def cheats(tmp_path_factory):
    """The class of cheaters graded once: (submissions folder, out folder)."""
    root = tmp_path_factory.mktemp("cheats")
    course = make_course(root / "course")
    for student, nb in CLASS.items():
        write(root / "submissions" / student / "01_fake.ipynb", nb)
    assert grade(root / "submissions", root / "out", course) == 0
    return root / "submissions", root / "out"


def results(cheats, student: str) -> tuple[str, str]:
    """(1.1, 1.2) results of one student."""
    row = graded_rows(cheats[1])[student]
    return row["1.1"], row["1.2"]


@pytest.mark.parametrize("student", ["out_exec", "out_transformer", "out_fake_checks", "out_solutions"])
def test_tricks_outside_the_exercise_cells_never_run(cheats, student):
    assert results(cheats, student) == ("not attempted", "not attempted")
    assert "1 code cell you added or edited outside the exercise cells was not run" in feedback(
        cheats, student, "01_fake.md")


def test_patching_the_reference_outside_the_exercise_cells_does_not_pass_a_wrong_answer(cheats):
    assert results(cheats, "out_reference") == ("failed", "passed")


@pytest.mark.parametrize("student, reason", [
    ("in_exec", "its cell imports builtins (line 1)"),
    ("in_exec", "the grader's own cells no longer ran normally"),
    ("in_transformer", "its cell calls get_ipython() (line 1)"),
    ("in_transformer", "the grader's own cells no longer ran normally"),
    ("in_fake_checks", "its cell uses .__path__ (line 5)"),
    ("in_fake_checks", "before its check: sys.modules['utils.checks'] was removed"),
    ("in_reference", "before its check: utils.reference.add was replaced or changed"),
    ("in_reference", "its cell assigns reference.add (line 2)"),
    ("in_solutions", "its cell imports os (line 1)"),
    ("in_late_import", "before its check: utils.late.add holds code from a notebook cell"),
    ("in_late_import", "its cell assigns utils.late.add (line 2)"),
    ("in_forged", "its cell calls get_ipython() (line 9)"),
    ("in_forged", "its cell uses the course's own utils.reference.add (line 8)"),
    ("in_forged", "before its check: IPython input_transformers_post was replaced or changed"),
])
def test_tricks_inside_an_exercise_cell_are_flagged_with_the_reason(cheats, student, reason):
    status, _ = results(cheats, student)
    assert status == "flagged"
    assert reason in feedback(cheats, student, "01_fake.md")
    assert f"**{student}/01_fake.ipynb, exercise 1.1**\n\n```text\nfor an instructor to review" in (
        cheats[1] / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("student", ["in_reference", "in_fake_checks"])
def test_patching_the_kernels_checks_or_references_passes_no_wrong_answer(cheats, student):
    exercise_11 = feedback(cheats, student, "01_fake.md").split("**Exercise 1.2")[0]
    assert "The check said: failed" in exercise_11 or "The check said: error" in exercise_11


def test_a_forged_record_passes_only_with_the_course_answer_and_is_flagged(cheats):
    assert "The check said: passed" in feedback(cheats, "in_forged", "01_fake.md").split("**Exercise 1.2")[0]


def test_rigged_values_and_patched_numpy_fail_on_their_own_and_are_not_flagged(cheats):
    assert results(cheats, "in_always_equal") == ("failed", "passed")
    assert results(cheats, "in_numpy") == ("failed", "passed")


def test_a_blanked_check_reports_no_result_instead_of_a_pass(cheats):
    assert "The check said: error: the check reported no result" in feedback(cheats, "in_transformer", "01_fake.md")


def test_solutions_are_out_of_reach_of_an_exercise_cell(cheats):
    assert "No such file or directory" in feedback(cheats, "in_solutions", "01_fake.md")
    assert results(cheats, "in_solutions")[1] == "passed"  # nothing was copied into 1.2


def test_a_later_exercise_checked_in_a_tampered_kernel_is_flagged_too(cheats):
    assert results(cheats, "in_exec") == ("flagged", "flagged")


def test_the_course_solution_code_is_not_flagged():
    for path in sorted(Path(__file__).resolve().parents[1].glob("solutions/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "exercise" in cell.metadata:
                assert static_flags(cell.source) == [], (path.name, cell.metadata["exercise"])


def test_static_flags_name_each_construct_and_its_line():
    assert static_flags("import os\nx = open('f')") == ["imports os (line 1)", "calls open() (line 2)"]
    assert static_flags("def f(:") == []  # a cell that does not parse fails when it runs
    assert static_flags("for layer in net.modules():\n    pass") == []  # nn.Module.modules() is fine
    assert static_flags("self.net = nn.Linear(4, 2)\nnet.weight = None") == []  # objects' attributes are fine
    assert static_flags("torch.allclose = max") == []  # the kernel's own NumPy and torch decide no verdict
    assert static_flags("import utils.dqn\nutils.dqn.td_targets = max") == ["assigns utils.dqn.td_targets (line 2)"]
    assert static_flags("import torch\ntorch.sys.modules.clear()") == ["uses .modules (line 2)", "uses .sys (line 2)"]
    assert static_flags("from IPython.display import clear_output\nimport IPython") == ["imports IPython (line 2)"]


def test_course_code_flags_name_the_course_answer_however_it_is_reached():
    refs = ["utils.dqn.td_targets", "utils.replay.ReplayMemory", "utils.dqn.ReplayMemory"]
    given = ["from utils import dqn\nfrom utils.replay import ReplayMemory as ReferenceMemory"]
    for source, line in (("y = dqn.td_targets(r, s, d, net, g)", 1), ("from utils.dqn import td_targets", 1),
                         ("import utils.dqn as d\n\nd.td_targets", 3), ("class ReplayMemory(ReferenceMemory):\n    pass", 1),
                         ("x = 1\nm = dqn.ReplayMemory(5).sample(2)", 2), ("f = getattr(dqn, 'td_targets')", 1)):
        flags = course_code_flags(source, refs, given)
        assert len(flags) == 1 and flags[0].startswith("uses the course's own utils.") and f"(line {line})" in flags[0]
    for honest in ("def td_targets(r, s, d, net, g):\n    return r + g * (1 - d) * net(s).max(1).values",
                   "memory = ReplayMemory(10)\nq_net.train()\ndqn.TrainingMonitor", "td_targets = 3"):
        assert course_code_flags(honest, refs, given) == []


def test_snapshot_changes_ignore_additions():
    before = {"fingerprint": {"a": 1, "b": [2]}, "planted": []}
    after = {"fingerprint": {"a": 1, "b": [3], "c": 4}, "planted": ["m.f holds code from a notebook cell"]}
    assert snapshot_changes(before, after) == ["b was replaced or changed", "m.f holds code from a notebook cell"]
    assert snapshot_changes(before, {"fingerprint": {}, "planted": []}) == ["a was removed", "b was removed"]
    assert "could not be taken" in snapshot_changes(before, None)[0]


REAL_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_mdp.ipynb"
REAL_SOLUTION = REAL_NOTEBOOK.parents[1] / "solutions" / "01_mdp.ipynb"
REAL_TRICKS = {
    "exec": "import builtins\nbuiltins.exec = lambda *args, **kwargs: None",
    "references": "import numpy as np, utils.mdp, utils.checks.mdp\nnp.isclose = np.allclose = lambda *a, **k: True\n"
                  "utils.mdp.discounted_return = lambda rewards, gamma: 0.0\n"
                  "utils.checks.mdp.mdp = utils.checks.mdp",
    "solutions": COPY_SOLUTIONS.replace("01_fake", "01_mdp"),
}
ALWAYS_EQUAL_NUMBER = """\
import numbers
class Anything:
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.0
numbers.Real.register(Anything)
def discounted_return(rewards, gamma):
    return Anything()
"""


def real_submission(tmp_path: Path, student: str, nb: dict) -> None:
    """Hand in `nb` as `student`'s copy of notebook 1."""
    write(tmp_path / "subs" / student / "01_mdp.ipynb", nb)


def test_the_tricks_on_the_real_notebook_1(tmp_path):
    released = nbformat.read(REAL_NOTEBOOK, as_version=4)
    real_submission(tmp_path, "teacher", nbformat.read(REAL_SOLUTION, as_version=4))
    wrong = copy.deepcopy(released)
    cell_11 = next(c for c in wrong.cells if c.metadata.get("exercise", "").startswith("1.1"))
    cell_11.source = "def discounted_return(rewards, gamma):\n    return 0.0"
    inside = copy.deepcopy(wrong)
    for trick in REAL_TRICKS.values():  # each in a cell of its own (the fake course tests them one by one)
        insert_before(wrong, "1.1", trick)
    real_submission(tmp_path, "outside", wrong)
    next(c for c in inside.cells if c.metadata.get("exercise", "").startswith("1.1")).source = (
        REAL_TRICKS["references"] + "\ndef discounted_return(rewards, gamma):\n    return 0.0")
    real_submission(tmp_path, "inside", inside)
    equal = copy.deepcopy(released)
    next(c for c in equal.cells if c.metadata.get("exercise", "").startswith("1.1")).source = ALWAYS_EQUAL_NUMBER
    real_submission(tmp_path, "always_equal", equal)
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--jobs", "4"]) == 0
    rows = graded_rows(tmp_path / "out")
    assert (rows["teacher"]["1.1"], rows["teacher"]["1.2"], rows["teacher"]["total"]) == ("passed", "passed", "2")
    assert (rows["outside"]["1.1"], rows["outside"]["1.2"]) == ("failed", "not attempted")
    assert "3 code cells you added or edited outside the exercise cells were not run" in feedback(
        (None, tmp_path / "out"), "outside", "01_mdp.md")
    assert rows["inside"]["1.1"] == "flagged"
    text = feedback((None, tmp_path / "out"), "inside", "01_mdp.md")
    assert "its cell assigns utils.mdp.discounted_return (line 3)" in text
    assert "The check said: failed: Exercise 1.1 (discounted_return): discounted_return([" in text
    assert rows["always_equal"]["1.1"] == "failed"
    text = feedback((None, tmp_path / "out"), "always_equal", "01_mdp.md")
    assert "Exercise 1.1 (discounted_return): discounted_return([" in text and "returned a Python Anything" in text


def test_the_plan_runs_the_course_cells_the_answers_need_and_no_others():
    course = json.loads(REAL_NOTEBOOK.read_text(encoding="utf-8"))
    solution = json.loads(REAL_SOLUTION.read_text(encoding="utf-8"))
    plan = build_plan(solution, course)
    assert [step.kind for step in plan.steps] == ["given", "exercise", "check", "exercise", "check"]
    setup = plan.steps[0].source
    assert "setup_notebook(SEED)" in setup and "from utils.notebook import setup_notebook" in setup
    assert "widgets" not in setup and "video" not in setup  # only plots and explorers use them
    answer = next(c for c in solution["cells"] if c["metadata"].get("exercise", "").startswith("1.2"))
    answer["source"] = "".join(answer["source"]) + "\nexample = corridor_mdp(length=3)\n"
    assert "from utils.mdp import corridor_mdp" in build_plan(solution, course).steps[0].source


def test_an_answer_written_in_a_new_cell_is_graded_when_its_exercise_cell_is_untouched():
    course = json.loads(REAL_NOTEBOOK.read_text(encoding="utf-8"))
    submission = copy.deepcopy(course)
    stub = next(c for c in submission["cells"] if c["metadata"].get("exercise", "").startswith("1.1"))
    answer = "def discounted_return(rewards, gamma):\n    return sum(gamma**k * r for k, r in enumerate(rewards))"
    submission["cells"].insert(submission["cells"].index(stub) + 1, nbformat.v4.new_code_cell(answer))
    plan = build_plan(submission, course)
    assert next(step.source for step in plan.steps if step.exercise == "1.1" and step.kind == "exercise") == answer
    assert plan.notes == ["Your answer to exercise 1.1 was found in a cell of your own outside its exercise cell, "
                          "and graded as if it were in the exercise cell."]
    stub["source"] = "def discounted_return(rewards, gamma):\n    return 0.0"  # an edited exercise cell wins
    assert "return 0.0" in build_plan(submission, course).steps[1].source
