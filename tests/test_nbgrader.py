"""The nbgrader course folder (`python -m tools.nbgrader_course`), and nbgrader's own pipeline on it.

The slow tests export notebook 1 (the quickest to run), release it with nbgrader's
`generate_assignment`, autograde two submissions made from the released notebook (one
exercise right and the other wrong; one untouched and the other right) and read the scores
from nbgrader's gradebook. nbgrader is an optional extra (requirements-nbgrader.txt), not a course pin: when
the course venv lacks it, it is installed once into `.venv-nbgrader/`, a venv that also sees
the course venv's packages and reuses them, rebuilt only when a requirements file changes.
"""
import copy
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest

from tools.build_notebooks import BEGIN, END
from tools.nbgrader_course import DEFAULT_COURSE_ID, MANIFEST, main

ROOT = Path(__file__).resolve().parent.parent
NBGRADER_VENV = ROOT / ".venv-nbgrader"
NBGRADER_REQUIREMENTS = [ROOT / "requirements-nbgrader.txt", ROOT / "requirements-lock.txt"]
ASSIGNMENT = "01_mdp"
NBGRADER_TIMEOUT_S = 300
# A typical mistake in exercise 1.2: it bootstraps from terminal states.
WRONG_BACKUP = '''\
def bellman_optimality_backup(Q, P, R, terminal, gamma):
    """One Bellman optimality backup of Q for the MDP (P, R, terminal, gamma)."""
    return R + gamma * (P @ Q.max(axis=1))'''
GRADEBOOK_SCORES = '''\
import json, sys
from nbgrader.api import Gradebook
with Gradebook(sys.argv[1], sys.argv[2]) as gradebook:
    print(json.dumps({s.student_id: {"total": [s.score, s.max_score],
                                     **{g.name: g.score for n in s.notebooks for g in n.grades}}
                      for s in gradebook.assignment_submissions(sys.argv[3])}))
'''


def export(out: Path, *options: str) -> int:
    """Run the exporter for notebook 1 into `out`; its exit status."""
    return main(["--out", str(out), "--assignment", ASSIGNMENT, *options])


def cells_by_grade_id(notebook) -> dict:
    """The notebook's cells keyed by their nbgrader grade id."""
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells}


def cell_texts(notebook) -> list:
    """Each cell's id, type and source."""
    return [(cell.id, cell.cell_type, cell.source) for cell in notebook.cells]


def test_cells_become_answer_test_and_read_only_cells(tmp_path):
    """Exercise cells hold the solution between markers; checks are graded; the rest is locked."""
    assert export(tmp_path / "course") == 0
    notebook = nbformat.read(tmp_path / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cells = cells_by_grade_id(notebook)
    answer, check = cells["ex-1_1"], cells["check-1_1"]
    assert (answer.metadata["nbgrader"]["solution"], answer.metadata["nbgrader"]["locked"]) == (True, False)
    assert BEGIN in answer.source and END in answer.source
    assert check.metadata["nbgrader"] == {"grade_id": "check-1_1", "grade": True, "solution": False,
                                          "locked": True, "points": 1, "schema_version": 3}
    assert check.source == "check_discounted_return(discounted_return)"
    read_only = [c for c in notebook.cells if "exercise" not in c.metadata and "check" not in c.metadata]
    assert read_only
    assert all(c.metadata["nbgrader"]["locked"] and not c.metadata["nbgrader"]["grade"] for c in read_only)
    assert all(c.outputs == [] for c in notebook.cells if c.cell_type == "code")
    assert notebook.metadata["course"]["notebook"] == ASSIGNMENT


def test_cells_nbval_skips_are_commented_out_for_autograde(tmp_path):
    """Notebook 7's live training would run for minutes per student under autograde: it ships commented out."""
    assert main(["--out", str(tmp_path / "course"), "--assignment", "07_beyond_dqn"]) == 0
    notebook = nbformat.read(tmp_path / "course" / "source" / "07_beyond_dqn" / "07_beyond_dqn.ipynb", as_version=4)
    live = [cell.source for cell in notebook.cells if cell.cell_type == "code" and "run_live(" in cell.source]
    assert len(live) == 3 and all(line.startswith("#") for source in live for line in source.splitlines())
    assert "# my_runs[\"dueling\"] = run_live(\"dueling\", MY_SEEDS)" in live[2]
    assert not any("NBVAL" in cell.source for cell in notebook.cells)


def test_refuses_a_folder_that_is_not_an_export(tmp_path, capsys):
    """A non-empty folder without an earlier export's manifest is left alone: exit 2, one line."""
    (tmp_path / "notes.txt").write_text("mine")
    assert export(tmp_path) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_keeps_an_edited_source_notebook_unless_forced(tmp_path):
    """Exporting again rewrites nothing; an instructor's edit is kept, or overwritten with --force."""
    course = tmp_path / "course"
    assert export(course) == 0
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    exported = source.read_bytes()
    assert export(course) == 0 and source.read_bytes() == exported
    source.write_bytes(exported.replace(b"Markov", b"Markoff"))
    assert export(course) == 2
    assert b"Markoff" in source.read_bytes()
    assert export(course, "--force") == 0 and source.read_bytes() == exported
    assert (course / MANIFEST).is_file()


def test_unknown_assignment_is_an_error(tmp_path):
    """A notebook name that is not a course notebook: exit 2, nothing written."""
    assert main(["--out", str(tmp_path / "course"), "--assignment", "09_nothing"]) == 2
    assert not (tmp_path / "course").exists()


def requirements_digest() -> str:
    """What .venv-nbgrader was built from: the requirements files and the course venv's site-packages."""
    digest = hashlib.sha256(sysconfig.get_paths()["purelib"].encode())
    for path in NBGRADER_REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_nbgrader_venv(bin_dir: Path) -> None:
    """Create .venv-nbgrader, let it see the course venv's packages, and install nbgrader into it."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(NBGRADER_VENV)], check=True)
    python = bin_dir / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # `venv --system-site-packages` made from the course venv would see the base Python's
    # packages, not the course venv's; addsitedir adds them, editable `utils` included.
    course_purelib = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "course-venv.pth").write_text(f"import site; site.addsitedir({course_purelib!r})\n")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", str(NBGRADER_REQUIREMENTS[0])],
                             capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"installing requirements-nbgrader.txt into {NBGRADER_VENV} failed:\n{install.stderr[-3000:]}")


@pytest.fixture(scope="session")
def nbgrader_bin() -> Path:
    """The folder of the python that runs nbgrader: the course venv's when it has nbgrader, else .venv-nbgrader's."""
    if find_spec("nbgrader") is not None:
        return Path(sys.executable).parent
    bin_dir = NBGRADER_VENV / Path(sys.executable).parent.name
    stamp = NBGRADER_VENV / ".installed"
    if not stamp.is_file() or stamp.read_text() != requirements_digest():
        build_nbgrader_venv(bin_dir)
        stamp.write_text(requirements_digest())
    return bin_dir


def run_in(course: Path, bin_dir: Path, *command) -> str:
    """Run a python module or script of the nbgrader venv in the course folder; its stdout."""
    # nbgrader starts `alembic` (its database migrations) from PATH.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([bin_dir / "python", *command], cwd=course, env=env, capture_output=True, text=True,
                            timeout=NBGRADER_TIMEOUT_S)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def solved(source: str) -> str:
    """A solution cell as a student would hand it in: the solution, without nbgrader's markers."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def solutions() -> dict:
    """Exercise id ("1.1") -> (cell id, the solved cell) from the solution notebook."""
    notebook = nbformat.read(ROOT / "solutions" / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {cell.metadata["exercise"].split(":")[0]: (cell.id, solved(cell.source))
            for cell in notebook.cells if "exercise" in cell.metadata}


def hand_in(course: Path, student: str, released, answers: dict) -> None:
    """Put the released notebook, with the given cells (cell id -> source) filled in, in submitted/."""
    notebook = copy.deepcopy(released)
    for cell in notebook.cells:
        cell.source = answers.get(cell.id, cell.source)
    path = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory, nbgrader_bin) -> Path:
    """A course folder with notebook 1 released, and two submissions handed in and autograded."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    assert export(course) == 0
    run_in(course, nbgrader_bin, "-m", "nbgrader", "generate_assignment", ASSIGNMENT)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = solutions()
    (cell_1, solution_1), (cell_2, solution_2) = answers["1.1"], answers["1.2"]
    # Each exercise right once, and the other way once: wrong, or untouched (its stub raises).
    hand_in(course, "right_then_wrong", released, {cell_1: solution_1, cell_2: WRONG_BACKUP})
    hand_in(course, "untouched_then_right", released, {cell_2: solution_2})
    run_in(course, nbgrader_bin, "-m", "nbgrader", "autograde", ASSIGNMENT)
    return course


@pytest.mark.slow
def test_released_notebook_is_the_student_notebook(course):
    """What nbgrader releases reads cell for cell like notebooks/01_mdp.ipynb, stubs included."""
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    student = nbformat.read(ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert cell_texts(released) == cell_texts(student)
    assert not any(BEGIN in c.source for c in released.cells)


@pytest.mark.slow
def test_autograde_scores_each_check(course, nbgrader_bin):
    """nbgrader's gradebook: a point for each right exercise, none for a wrong or untouched one."""
    scores = json.loads(run_in(course, nbgrader_bin, "-c", GRADEBOOK_SCORES, f"sqlite:///{course / 'gradebook.db'}",
                               DEFAULT_COURSE_ID, ASSIGNMENT))
    assert scores == {
        "right_then_wrong": {"total": [1.0, 2.0], "check-1_1": 1.0, "check-1_2": 0.0},
        "untouched_then_right": {"total": [1.0, 2.0], "check-1_1": 0.0, "check-1_2": 1.0},
    }
