"""The grader on the course's own notebooks: an untouched notebook is `not attempted`, exercise by exercise."""
import json
import shutil
from pathlib import Path

import pytest
from fake_course import graded_rows

from tools.grade import main
from tools.grading.plan import build_plan

ROOT = Path(__file__).resolve().parent.parent


def course_json(folder: str, name: str) -> dict:
    """One of the course's notebooks as JSON."""
    return json.loads((ROOT / folder / f"{name}.ipynb").read_text(encoding="utf-8"))


def test_a_check_keeps_the_setup_imports_its_course_answer_uses():
    released, solution = course_json("notebooks", "05_training"), course_json("solutions", "05_training")
    # exercise 5.4's check looks epsilon_greedy_action up in the notebook, where only an answer names it
    assert "epsilon_greedy_action" not in build_plan(released, released).steps[0].source
    setup = build_plan(released, released, solution).steps[0].source
    assert "from utils.policies import epsilon_greedy_action" in setup
    assert "hyperparameter_playground" not in setup and "learning_curve" not in setup  # plots and widgets stay out


@pytest.mark.grading
@pytest.mark.slow
def test_an_untouched_training_notebook_is_not_attempted_exercise_by_exercise(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "ada").mkdir(parents=True)
    shutil.copyfile(ROOT / "notebooks" / "05_training.ipynb", submissions / "ada" / "05_training.ipynb")
    assert main([str(submissions), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    row = graded_rows(tmp_path / "out")["ada"]
    assert [row[exercise] for exercise in ("5.1", "5.2", "5.3", "5.4")] == ["not attempted"] * 4
