"""Fair to honest students: the honest exercise cells of tests/honest_cells.py raise no flag and pass.

Each cell is read by the grader's static rules (`static_flags`, `course_code_flags`, with the
course's own cells as context), then run as the grader runs it (the course notebook's needed
cells, the cell, its check), here in-process for speed. tests/test_grade_tamper.py shows the
same rules flagging what does tamper.
"""
import contextlib
import io
import json
from pathlib import Path

import pytest
from honest_cells import HONEST_CELLS

import utils.checks
from tools.grading.judge import check_call
from tools.grading.judge_server import reference_paths
from tools.grading.plan import build_plan, cell_exercise
from tools.grading.tamper import course_code_flags, static_flags

ROOT = Path(__file__).resolve().parents[1]
IDS = [f"{exercise}-{n}" for n, (_, exercise, _) in enumerate(HONEST_CELLS)]


def notebooks(name: str) -> tuple[dict, dict]:
    """The course's student notebook and its solution notebook, as the grader reads them."""
    return tuple(json.loads((ROOT / folder / f"{name}.ipynb").read_text(encoding="utf-8"))
                 for folder in ("notebooks", "solutions"))


def graded_plan(name: str, exercise: str, source: str):
    """The grader's plan for the solution notebook with `source` as the cell of `exercise`."""
    course, submission = notebooks(name)
    next(cell for cell in submission["cells"] if cell_exercise(cell) == exercise)["source"] = source
    return build_plan(submission, course)


def test_the_corpus_covers_every_notebook_with_forty_cells():
    assert len(HONEST_CELLS) >= 40 and {name for name, _, _ in HONEST_CELLS} >= {
        "01_mdp", "02_replay", "03_q_network", "04_exploration", "05_training", "06_evaluation", "07_beyond_dqn",
        "08_capstone"}


@pytest.mark.parametrize("name, exercise, source", HONEST_CELLS, ids=IDS)
def test_an_honest_cell_raises_no_flag(name, exercise, source):
    steps = graded_plan(name, exercise, source).steps
    check = getattr(utils.checks, check_call(next(s.source for s in steps if s.exercise == exercise
                                                   and s.kind == "check"))[0])
    given = [step.source for step in steps if step.kind == "given"]
    assert static_flags(source) == []
    assert course_code_flags(source, reference_paths(getattr(check, "references", ())), given) == []


@pytest.mark.parametrize("name, exercise, source", HONEST_CELLS, ids=IDS)
def test_an_honest_cell_passes_its_check(name, exercise, source):
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for step in graded_plan(name, exercise, source).steps:
            if step.kind != "check" or step.exercise == exercise:
                exec(compile(step.source, f"<{step.label}>", "exec"), namespace)
            if step.kind == "check" and step.exercise == exercise:
                break
    assert f"✅ Exercise {exercise} (" in printed.getvalue()
