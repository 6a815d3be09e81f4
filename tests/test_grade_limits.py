"""Limits a submission cannot stretch: one wall-clock budget per file, a second run included.

Notebooks that wait without computing (in a cell, or inside the function a check calls) are
graded in one run with two jobs beside a correct classmate. Each is stopped at its share of the
budget, graded again alone with the rest of it, and in all its cells and checks take no more
than the budget, as the grader's own accounting (timings.csv) shows. The CPU-time side (kernels
killed when they go on past their CPU time) is tested with the hostile class of
test_grade_sandbox.py.
"""
import pytest
from fake_course import (
    answered, answered_then, course_notebook, feedback, graded_rows, make_course, read_csv, with_exercise_code, write,
)

from tools.grade import main

pytestmark = [pytest.mark.grading, pytest.mark.slow]

BUDGET = 8  # --timeout: wall-clock seconds per file, a second run included
CHECK_SECONDS = 3  # --check-timeout: each check may take 4 times as long in wall-clock time, 24 s for two
MARGIN = 3  # seconds a run may overshoot its deadline: the interrupt, and the kernel's reply to it
SLOW = "import time\n_{name} = {name}\ndef {name}(*args):\n    time.sleep(600)\n    return _{name}(*args)"


def sleepy_checks():
    """01_fake answered right, but both answers sleep whenever a check calls them."""
    nb = answered(course_notebook("01_fake"), "1.1", "1.2")
    nb = with_exercise_code(nb, "1.1", SLOW.format(name="add"))
    return with_exercise_code(nb, "1.2", SLOW.format(name="scale"))


@pytest.fixture(scope="module")
def waited(tmp_path_factory):
    """The class graded once: (root, out folder)."""
    root = tmp_path_factory.mktemp("limits")
    course = make_course(root / "course")
    submissions = root / "submissions"
    write(submissions / "sam" / "01_fake.ipynb", answered_then("import time\ntime.sleep(600)"))
    write(submissions / "sid" / "01_fake.ipynb", sleepy_checks())
    write(submissions / "zoe" / "01_fake.ipynb", answered(course_notebook("01_fake"), "1.1", "1.2"))
    assert main([str(submissions), "--out", str(root / "out"), "--course", str(course), "--cpu-seconds", "1.5",
                 "--timeout", str(BUDGET), "--check-timeout", str(CHECK_SECONDS), "--jobs", "2"]) == 0
    return root, root / "out"


def test_waiting_in_a_cell_or_a_checked_function_costs_at_most_the_budget(waited):
    costs = {row["student"]: row for row in read_csv(waited[1] / "timings.csv")}
    for student in ("sam", "sid"):
        assert float(costs[student]["notebook seconds"]) <= BUDGET + 2 * MARGIN, student


def test_a_file_stopped_by_its_share_is_graded_again_alone_with_the_rest(waited):
    rows = graded_rows(waited[1])
    assert (rows["sam"]["status"], rows["sam"]["1.2"]) == ("timeout", "error")
    assert (rows["sid"]["status"], rows["sid"]["1.1"], rows["sid"]["1.2"]) == ("timeout", "error", "error")
    for student, where in (("sam", "the cell of exercise 1.2"), ("sid", "the check of exercise 1.1")):
        text = feedback(waited, student, "01_fake.md")
        assert "so it was graded again alone with the rest; this is the second result" in text
        assert f"did not finish within its {BUDGET} s of wall-clock time (all its runs together): it was stopped " \
               f"in {where}" in text
    report = (waited[1] / "report.md").read_text(encoding="utf-8")
    assert "\\`sam/01_fake.ipynb\\` ran out of its share of the wall-clock time" in report


def test_the_classmate_is_graded_once_with_full_marks(waited):
    row = graded_rows(waited[1])["zoe"]
    assert (row["status"], row["1.1"], row["1.2"]) == ("graded", "passed", "passed")
    assert "graded again" not in feedback(waited, "zoe", "01_fake.md")
