"""The instructor's grader (`python -m tools.grade`) on a synthetic course and synthetic submissions.

The course here is tiny and self-contained (two notebooks, a fake `utils.checks` in tmp_path)
so the tests do not depend on the real notebooks. Most cases run in one grading run with two
jobs, because every graded file starts a Jupyter kernel (about a second each).
"""
import copy
import csv
import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.grade import main
from tools.grading.course import discover_course, identify
from tools.grading.submissions import find_submissions, read_notebook

pytestmark = pytest.mark.grading
slow = pytest.mark.slow

CHECKS_MODULE = '''\
"""Fake course checks: the same exception names and outcomes as utils.checks."""


class CheckFailed(Exception):
    """A check found a mistake."""


class ExerciseNotDone(Exception):
    """The exercise still raises its template's NotImplementedError."""


def _check(label, call, expected):
    """Run the student's code and compare with the expected value."""
    try:
        got = call()
    except NotImplementedError as error:
        raise ExerciseNotDone(f"{error} is not done yet") from None
    if got != expected:
        raise CheckFailed(f"{label}: returned {got!r}; expected {expected!r}.")
    print(f"passed: {label}")


def check_add(add):
    """Exercise 1.1."""
    _check("Exercise 1.1 (add)", lambda: add(2, 3), 5)


def check_scale(scale):
    """Exercise 1.2."""
    _check("Exercise 1.2 (scale)", lambda: scale([1, 2], 3), [3, 6])


def check_twice(twice):
    """Exercise 2.1."""
    _check("Exercise 2.1 (twice)", lambda: twice(lambda x: x + 1, 0), 2)
'''

EXERCISES = {
    "01_fake": [("1.1", "add", "def add(a, b):"), ("1.2", "scale", "def scale(xs, k):")],
    "02_fake": [("2.1", "twice", "def twice(f, x):")],
}
ANSWERS = {
    "1.1": "def add(a, b):\n    return a + b",
    "1.2": "def scale(xs, k):\n    return [k * x for x in xs]",
    "2.1": "def twice(f, x):\n    return f(f(x))",
}
CHECK_CALLS = {"1.1": "check_add(add)", "1.2": "check_scale(scale)", "2.1": "check_twice(twice)"}


def course_notebook(name: str, sha: str = "v2", exercises=None) -> nbformat.NotebookNode:
    """A student notebook as the generator writes it: course metadata, exercise and check cells."""
    exercises = EXERCISES[name] if exercises is None else exercises
    checks = ", ".join(CHECK_CALLS[id_].split("(")[0] for id_, _, _ in exercises if id_ in CHECK_CALLS)
    cells = [new_markdown_cell(f"# {name}"), new_code_cell(f"from utils.checks import {checks}")]
    for id_, title, signature in exercises:
        stub = f'{signature}\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise {id_}: {title}")'
        cells.append(new_code_cell(stub, metadata={"exercise": f"{id_}: {title}"}))
        cells.append(new_code_cell(f"# NBVAL_CHECK_OUTPUT\n{CHECK_CALLS.get(id_, 'pass')}", metadata={"check": id_}))
    for index, cell in enumerate(cells):
        cell.id = f"{name}-{index}"
    nb = new_notebook(cells=cells)
    nb.metadata["course"] = {
        "notebook": name, "kind": "student", "source": f"solutions/{name}.py", "source_sha256": sha,
        "exercises": [{"id": id_, "title": title, "check": f"# NBVAL_CHECK_OUTPUT\n{CHECK_CALLS.get(id_, 'pass')}"}
                      for id_, title, _ in exercises],
    }
    return nb


def answered(nb: nbformat.NotebookNode, *ids: str) -> nbformat.NotebookNode:
    """The notebook with the given exercises answered correctly."""
    for cell in nb.cells:
        exercise = cell.metadata.get("exercise", "").split(":")[0]
        if exercise in ids:
            cell.source = ANSWERS[exercise]
    return nb


def insert_before(nb: nbformat.NotebookNode, exercise_id: str, source: str) -> nbformat.NotebookNode:
    """The notebook with a code cell inserted just before an exercise's cell."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("exercise", "").startswith(exercise_id))
    nb.cells.insert(index, new_code_cell(source))
    return nb


def write(path: Path, nb_or_text) -> None:
    """Write a notebook (or raw text) to `path`, creating its folder; notebooks are written unvalidated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb_or_text if isinstance(nb_or_text, str) else json.dumps(nb_or_text, indent=1), encoding="utf-8")


def make_course(root: Path) -> Path:
    """A course folder with notebooks/ (two notebooks) and a fake utils.checks."""
    for name in EXERCISES:
        write(root / "notebooks" / f"{name}.ipynb", course_notebook(name))
    write(root / "utils" / "__init__.py", "")
    write(root / "utils" / "checks" / "__init__.py", CHECKS_MODULE)
    return root


def carol_notebook() -> nbformat.NotebookNode:
    """Wrong answer, deleted exercise cell, check cell moved up, duplicated cell, a fake check."""
    nb = course_notebook("01_fake")
    nb.cells[2].source = "def add(a, b):\n    return a - b"
    duplicate = copy.deepcopy(nb.cells[2])
    duplicate.id = "a-copy"
    nb.cells = [nb.cells[0], nb.cells[1], nb.cells[3], nb.cells[2], duplicate, nb.cells[5]]
    nb.cells.append(new_code_cell("def check_add(add):\n    print('passed')\nimport utils.checks\n"
                                  "utils.checks.check_add = check_add"))
    nb.cells.append(new_code_cell("import os\nraise RuntimeError(f'in {os.getcwd()} at {object()}')"))
    return nb


def answered_with(source: str) -> nbformat.NotebookNode:
    """Notebook 01_fake fully answered, with a cell running `source` between its two exercises."""
    return insert_before(answered(course_notebook("01_fake"), "1.1", "1.2"), "1.2", source)


def olga_notebook() -> nbformat.NotebookNode:
    """1.1 loops forever when called (only the grader's check calls it); 1.2 is right."""
    nb = answered(course_notebook("01_fake"), "1.2")
    nb.cells[2].source = "def add(a, b):\n    while True:\n        pass"
    del nb.cells[3]
    return nb


def erin_notebook() -> nbformat.NotebookNode:
    """An older course version: another source hash, exercise 1.2 missing, an extra 1.3."""
    old = course_notebook("01_fake", sha="v1", exercises=[EXERCISES["01_fake"][0], ("1.3", "old", "def old():")])
    return answered(old, "1.1")


def mia_notebook() -> nbformat.NotebookNode:
    """A correct notebook whose course metadata (and one cell's metadata) was stripped."""
    nb = answered(course_notebook("01_fake"), "1.1", "1.2")
    del nb.metadata["course"]
    del nb.cells[1]["metadata"]  # hand-edited files lose more than the course metadata
    return nb


WRITES_FILES = ("import os\nopen('written.txt', 'w').write('x')\nos.makedirs('made_by_student')\n"
                "open('../outside.txt', 'w')")


def make_submissions(root: Path) -> Path:
    """One folder per student, each exercising one of the cases the grader must survive."""
    full = lambda: answered(course_notebook("01_fake"), "1.1", "1.2")  # noqa: E731
    files = {
        "alice/01_fake.ipynb": full(),
        "alice/02_fake.ipynb": insert_before(answered(course_notebook("02_fake"), "2.1"), "2.1", WRITES_FILES),
        "alice/.ipynb_checkpoints/01_fake-checkpoint.ipynb": full(),
        "bob/my homework (final).ipynb": answered(course_notebook("01_fake"), "1.1"),
        "carol/01_fake.ipynb": carol_notebook(),
        "dan/01_fake.ipynb": json.dumps(full(), indent=1)[:200],
        "dave/01_fake.ipynb": full(),
        "dave/01_fake_v2.ipynb": answered(course_notebook("01_fake"), "1.1"),
        "erin/01_fake.ipynb": erin_notebook(),
        "frank/01_fake.ipynb": answered_with("while True:\n    pass"),
        "gina/01_fake.ipynb": answered_with("import os\nos._exit(3)"),
        "hank/01_fake.ipynb": answered_with("import ctypes\nctypes.string_at(0)"),
        "ivan/01_fake.ipynb": answered_with("blob = bytearray(8 * 2**30)"),
        "judy/01_fake.ipynb": answered_with("for i in range(15_000):\n    print('x' * 100)\nexit()"),
        "olga/01_fake.ipynb": olga_notebook(),
        "mia/01_fake.ipynb": mia_notebook(),
        "nick/random.ipynb": new_notebook(cells=[new_code_cell("print(1)")]),
        "leo/notes.txt": "I forgot the notebook",
        "stray.ipynb": full(),
    }
    for name, content in files.items():
        write(root / name, content)
    return root


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: its content hash and modification time."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def grade(submissions: Path, out: Path, course: Path, *extra: str) -> int:
    """Run the grader's command line with small limits suited to the fake course."""
    return main([str(submissions), "--out", str(out), "--course", str(course), "--cpu-seconds", "4",
                 "--timeout", "30", "--check-timeout", "3", "--memory-mb", "1024", "--jobs", "2", *extra])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole synthetic class graded once: (submissions folder, out folder, fingerprint before)."""
    root = tmp_path_factory.mktemp("grading")
    course = make_course(root / "course")
    submissions = make_submissions(root / "submissions")
    before = fingerprint(submissions)
    assert grade(submissions, root / "out", course) == 1  # 1: stray.ipynb lies in no student folder
    return submissions, root / "out", before


@pytest.fixture(scope="module")
def rows(graded):
    """grades.csv as a dict keyed by (student, file)."""
    with open(graded[1] / "grades.csv", encoding="utf-8") as file:
        return {(row["student"], row["file"]): row for row in csv.DictReader(file)}


def feedback(graded, student: str, name: str) -> str:
    """The text of one feedback file."""
    return (graded[1] / "feedback" / student / name).read_text(encoding="utf-8")


def statuses(row: dict) -> tuple:
    """(status, 1.1, 1.2, 2.1, total) of a csv row."""
    return row["status"], row["1.1"], row["1.2"], row["2.1"], row["total"]


@slow
def test_csv_has_one_column_per_exercise_and_a_row_per_file(rows, graded):
    header = (graded[1] / "grades.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "student,notebook,file,status,1.1,1.2,2.1,total"
    handed_in = [row for row in rows.values() if row["status"] != "missing"]
    assert len(handed_in) == 16  # hidden checkpoint, stray top-level file and leo's .txt are not rows


@slow
def test_correct_and_partly_done_submissions(rows):
    assert statuses(rows["alice", "01_fake.ipynb"]) == ("graded", "passed", "passed", "", "2")
    assert statuses(rows["alice", "02_fake.ipynb"]) == ("graded", "", "", "passed", "1")
    assert statuses(rows["bob", "my homework (final).ipynb"]) == ("graded", "passed", "not attempted", "", "1")
    assert rows["bob", "my homework (final).ipynb"]["notebook"] == "01_fake"


@slow
def test_wrong_deleted_reordered_duplicated_cells_and_a_faked_check(rows, graded):
    assert statuses(rows["carol", "01_fake.ipynb"]) == ("graded", "failed", "error", "", "0")
    text = feedback(graded, "carol", "01_fake.md")
    assert "add(2, 3): returned -1; expected 5" in text or "returned -1; expected 5" in text
    assert "NameError: name 'scale' is not defined" in text


@slow
def test_messages_carry_no_temporary_paths_or_addresses(graded):
    text = feedback(graded, "carol", "01_fake.md")
    assert "RuntimeError: in . at <object object at 0x...>" in text
    assert "grade-" not in (graded[1] / "report.md").read_text(encoding="utf-8")


@slow
def test_invalid_json_and_unknown_notebook(rows, graded):
    assert statuses(rows["dan", "01_fake.ipynb"]) == ("invalid", "", "", "", "0")
    assert "not valid JSON" in feedback(graded, "dan", "01_fake.md")
    assert statuses(rows["nick", "random.ipynb"]) == ("unknown-notebook", "", "", "", "0")


@slow
def test_older_course_version(rows, graded):
    assert statuses(rows["erin", "01_fake.ipynb"]) == ("graded", "passed", "error", "", "1")
    text = feedback(graded, "erin", "01_fake.md")
    assert "different version of the course" in text
    assert "no cell for exercise 1.2" in text and "Exercise 1.3 is not part of the current course" in text


@slow
def test_infinite_loop_uses_up_its_cpu_time_but_earlier_exercises_are_checked(rows, graded):
    assert statuses(rows["frank", "01_fake.ipynb"]) == ("timeout", "passed", "error", "", "1")
    expected = "used more than 4 s of CPU time: it was stopped in cell 5 (`while True:`)"
    assert expected in feedback(graded, "frank", "01_fake.md")
    assert "graded again alone" not in feedback(graded, "frank", "01_fake.md")  # CPU time does not depend on load


def counting_attempts(counter: Path, source: str) -> nbformat.NotebookNode:
    """Notebook 01_fake answered, with a cell that appends a line to `counter` and then runs `source`."""
    return answered_with(f"open({str(counter)!r}, 'a').write('attempt\\n')\n{source}")


@slow
def test_waiting_is_stopped_by_the_wall_clock_and_retried_alone_once_cpu_burning_is_not(tmp_path):
    course = make_course(tmp_path / "course")
    submissions, counters = tmp_path / "submissions", tmp_path / "counters"
    counters.mkdir()
    write(submissions / "sam" / "01_fake.ipynb", counting_attempts(counters / "sam", "import time\ntime.sleep(600)"))
    write(submissions / "cora" / "01_fake.ipynb", counting_attempts(counters / "cora", "while True:\n    pass"))
    assert main([str(submissions), "--out", str(tmp_path / "out"), "--course", str(course), "--cpu-seconds", "3",
                 "--timeout", "6", "--check-timeout", "3", "--jobs", "2"]) == 0
    found = {row["student"]: row for row in read_csv(tmp_path / "out" / "grades.csv") if row["status"] != "missing"}
    assert statuses(found["sam"]) == ("timeout", "passed", "error", "", "1")
    assert statuses(found["cora"]) == ("timeout", "passed", "error", "", "1")
    assert (counters / "sam").read_text().count("attempt") == 2
    assert (counters / "cora").read_text().count("attempt") == 1
    assert "did not finish within 6 s (wall-clock time)" in feedback((tmp_path, tmp_path / "out"), "sam", "01_fake.md")
    assert "used more than 3 s of CPU time" in feedback((tmp_path, tmp_path / "out"), "cora", "01_fake.md")
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "`sam/01_fake.ipynb` ran past the wall-clock limit while other files were being graded" in report
    assert "`cora/01_fake.ipynb` ran past" not in report


@slow
def test_a_check_that_never_ends_is_stopped_and_the_next_check_still_runs(rows, graded):
    assert statuses(rows["olga", "01_fake.ipynb"]) == ("graded", "error", "passed", "", "1")
    assert "the check did not finish within 3 s" in feedback(graded, "olga", "01_fake.md")


@slow
def test_kernel_death_by_exit_and_by_segfault(rows, graded):
    assert statuses(rows["gina", "01_fake.ipynb"]) == ("crashed", "error", "error", "", "0")
    assert "exited with code 3" in feedback(graded, "gina", "01_fake.md")
    assert statuses(rows["hank", "01_fake.ipynb"]) == ("crashed", "error", "error", "", "0")
    assert "segmentation fault" in feedback(graded, "hank", "01_fake.md")


@slow
def test_memory_blow_up_is_stopped_by_the_limit(rows, graded):
    assert statuses(rows["ivan", "01_fake.ipynb"]) == ("graded", "passed", "passed", "", "2")
    assert "raised MemoryError" in feedback(graded, "ivan", "01_fake.md")
    assert "at most 1024 MiB" in feedback(graded, "ivan", "01_fake.md")


@slow
def test_enormous_output_is_dropped_and_noted_and_exit_is_ignored(rows, graded):
    assert statuses(rows["judy", "01_fake.ipynb"]) == ("graded", "passed", "passed", "", "2")
    assert "printed more than" in feedback(graded, "judy", "01_fake.md")


@slow
def test_stripped_metadata_is_recognised_from_the_exercise_cells(rows, graded):
    assert statuses(rows["mia", "01_fake.ipynb"]) == ("graded", "passed", "passed", "", "2")
    assert "Recognised as course notebook 01_fake from its exercise cells" in feedback(graded, "mia", "01_fake.md")


@slow
def test_two_files_for_one_notebook_are_both_graded_and_reported(rows, graded):
    assert statuses(rows["dave", "01_fake.ipynb"])[-1] == "2"
    assert statuses(rows["dave", "01_fake_v2.ipynb"])[-1] == "1"
    report = (graded[1] / "report.md").read_text(encoding="utf-8")
    assert "dave handed in 2 files for course notebook 01_fake" in report
    assert "dave handed in 2 files" in feedback(graded, "dave", "01_fake_v2.md")


@slow
def test_ignored_files_are_reported(graded):
    report = (graded[1] / "report.md").read_text(encoding="utf-8")
    assert "`leo/` holds no .ipynb file." in report
    assert "`stray.ipynb` is not inside a student folder" in report


@slow
def test_submissions_are_unchanged_and_written_files_stay_in_the_temp_folder(graded):
    submissions, out, before = graded
    assert fingerprint(submissions) == before
    assert not any(p.name in {"written.txt", "made_by_student", "outside.txt"} for p in submissions.parent.rglob("*"))
    assert not Path("written.txt").exists()


@slow
def test_feedback_file_per_submission(graded):
    names = sorted(str(p.relative_to(graded[1] / "feedback")) for p in (graded[1] / "feedback").rglob("*.md"))
    assert len(names) == 16 and "bob/my homework (final).md" in names


@slow
def test_same_folder_gives_the_same_files(tmp_path):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    write(submissions / "carol" / "01_fake.ipynb", carol_notebook())
    write(submissions / "dan" / "x.ipynb", "{not json")
    assert grade(submissions, tmp_path / "first", course) == 0
    assert grade(submissions, tmp_path / "second", course) == 0
    assert fingerprint_content(tmp_path / "first") == fingerprint_content(tmp_path / "second")
    assert [row["file"] for row in read_csv(tmp_path / "first" / "timings.csv")] == ["01_fake.ipynb", "x.ipynb"]


def fingerprint_content(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its content hash (not its time), except timings.csv which alone varies."""
    return {k: v[0] for k, v in fingerprint(folder).items() if k != "timings.csv"}


REPO = Path(__file__).resolve().parent.parent
FIRST_NOTEBOOK = sorted((REPO / "notebooks").glob("*.ipynb"))[:1]


@slow
@pytest.mark.skipif(not FIRST_NOTEBOOK, reason="no generated course notebook yet")
def test_real_course_student_and_solution_notebooks(tmp_path):
    name = FIRST_NOTEBOOK[0].name
    write(tmp_path / "subs" / "student" / name, FIRST_NOTEBOOK[0].read_text(encoding="utf-8"))
    write(tmp_path / "subs" / "teacher" / name, (REPO / "solutions" / name).read_text(encoding="utf-8"))
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--jobs", "2"]) == 0
    with open(tmp_path / "out" / "grades.csv", encoding="utf-8") as file:
        found = {row["student"]: row for row in csv.DictReader(file) if row["status"] != "missing"}
    exercise_count = len(json.loads(FIRST_NOTEBOOK[0].read_text(encoding="utf-8"))["metadata"]["course"]["exercises"])
    assert found["teacher"]["status"] == "graded" and found["teacher"]["total"] == str(exercise_count)
    assert found["student"]["total"] == "0"
    assert set(found["student"].values()) >= {"not attempted"}


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_out_inside_submissions_is_refused(tmp_path, capsys):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "subs" / "grades")]) == 2
    assert "inside the submissions folder" in capsys.readouterr().err


def test_out_holding_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    write(tmp_path / "out" / "thesis.tex", "precious")
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "out")]) == 2
    assert "thesis.tex" in capsys.readouterr().err


def test_notebook_is_identified_by_metadata_then_by_cells(tmp_path):
    course = discover_course(make_course(tmp_path) / "notebooks")
    nb = course_notebook("02_fake")
    assert identify(nb, course) == (course["02_fake"], "course metadata")
    del nb.metadata["course"]
    assert identify(nb, course) == (course["02_fake"], "exercise cells")
    for cell in nb.cells:
        cell.metadata = {}
    assert identify(nb, course) == (course["02_fake"], "cell ids")
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    assert identify(nb, course) == (course["02_fake"], "check calls")
    nb.cells = [new_code_cell("print('hello')")]
    assert identify(nb, course) == (None, "")


def test_unreadable_files_are_invalid_with_a_reason(tmp_path):
    cases = {"truncated": '{"cells": [', "not a notebook": json.dumps({"hello": 1}), "binary": b"\xff\xfe\x00"}
    for name, content in cases.items():
        path = tmp_path / f"{name}.ipynb"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        nb, problem = read_notebook(path)
        assert nb is None and problem, name


def test_hidden_folders_and_top_level_files_are_not_submissions(tmp_path):
    write(tmp_path / "alice" / "a.ipynb", "{}")
    write(tmp_path / "alice" / ".ipynb_checkpoints" / "a-checkpoint.ipynb", "{}")
    write(tmp_path / "loose.ipynb", "{}")
    (tmp_path / "empty").mkdir()
    found = find_submissions(tmp_path)
    assert [(s.student, s.file) for s in found.submissions] == [("alice", "a.ipynb")]
    assert len(found.notes) == 2 and found.skipped == ["loose.ipynb"]


def read_csv(path: Path) -> list[dict]:
    """A CSV result file as a list of rows."""
    with open(path, encoding="utf-8") as file:
        return list(csv.DictReader(file))


@slow
def test_missing_notebooks_get_rows_and_the_gradebook_has_one_row_per_student(graded):
    missing = {(r["student"], r["notebook"]) for r in read_csv(graded[1] / "grades.csv") if r["status"] == "missing"}
    assert {("bob", "02_fake"), ("leo", "01_fake"), ("leo", "02_fake"), ("dan", "01_fake")} <= missing
    assert ("alice", "01_fake") not in missing and ("alice", "02_fake") not in missing
    book = {row["student"]: row for row in read_csv(graded[1] / "gradebook.csv")}
    assert list(book["alice"].values()) == ["alice", "3", "3", "2", "1"]
    assert book["dave"]["total passed"] == "2"  # the better of dave's two files for 01_fake counts
    assert book["leo"]["total passed"] == "0" and "stray" not in " ".join(book)
    report = (graded[1] / "report.md").read_text(encoding="utf-8")
    assert "### 02_fake: not handed in" in report and "Total: 3 of 3 exercises passed" in report


def test_csv_fields_that_a_spreadsheet_would_run_are_escaped(tmp_path):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    write(submissions / "+evil" / "=cmd|' /C calc'!A0.ipynb", "")
    assert grade(submissions, tmp_path / "out", course) == 0
    [row] = [r for r in read_csv(tmp_path / "out" / "grades.csv") if r["status"] != "missing"]
    assert (row["student"], row["file"], row["status"]) == ("'+evil", "'=cmd|' /C calc'!A0.ipynb", "invalid")
    assert [r["student"] for r in read_csv(tmp_path / "out" / "gradebook.csv")] == ["'+evil"]
    assert "the file is empty" in feedback((tmp_path, tmp_path / "out"), "+evil", "=cmd|' /C calc'!A0.md")


def test_json_errors_are_worded_without_a_doubled_word(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text('{"cells": "unterminated')
    problem = read_notebook(path)[1]
    assert "at at" not in problem and "Unterminated string starting at: line 1, column 11" in problem


def test_canvas_export_is_grouped_by_student_keeping_the_latest_resubmission(tmp_path):
    for name in ("doe_jane_LATE_12345_67890_05_training-1.ipynb", "doe_jane_12345_67001_05_training.ipynb",
                 "doe_jane_12345_67002_my_notes_v2.ipynb", "roe_rick_222_333_report.pdf", "notes.txt"):
        write(tmp_path / name, "{}")
    found = find_submissions(tmp_path)
    assert [(s.student, s.file, s.path.name) for s in found.submissions] == [
        ("doe_jane_12345", "05_training.ipynb", "doe_jane_LATE_12345_67890_05_training-1.ipynb"),
        ("doe_jane_12345", "my_notes_v2.ipynb", "doe_jane_12345_67002_my_notes_v2.ipynb"),
    ]
    assert found.students == {"doe_jane_12345", "roe_rick_222"}
    assert found.skipped == ["notes.txt", "roe_rick_222_333_report.pdf"]
    assert any("later resubmission" in note for note in found.notes)


def test_moodle_export_files_and_folders_are_grouped_by_student(tmp_path):
    write(tmp_path / "Jane Doe_101_assignsubmission_file_01_fake.ipynb", "{}")
    write(tmp_path / "Jane Doe_101_assignsubmission_file_02_fake.ipynb", "{}")
    write(tmp_path / "Rick Roe_102_assignsubmission_file_" / "01_fake.ipynb", "{}")
    found = find_submissions(tmp_path)
    assert [(s.student, s.file) for s in found.submissions] == [
        ("Jane Doe_101", "01_fake.ipynb"), ("Jane Doe_101", "02_fake.ipynb"), ("Rick Roe_102", "01_fake.ipynb")]
    assert not found.skipped


def test_a_flat_folder_of_unknown_names_is_a_warning_and_exit_1(tmp_path, capsys):
    course = make_course(tmp_path / "course")
    write(tmp_path / "subs" / "jane-01.ipynb", "{}")
    assert grade(tmp_path / "subs", tmp_path / "out", course) == 1
    assert "warning: 1 top-level file not graded (jane-01.ipynb)" in capsys.readouterr().err


@slow
def test_a_submission_writing_over_another_through_an_absolute_path_is_reported(tmp_path, capsys):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    victim = submissions / "victim" / "01_fake.ipynb"
    write(victim, answered(course_notebook("01_fake"), "1.1", "1.2"))
    attack = f"open({str(victim.resolve())!r}, 'w').write('{{}}')\nopen({str(victim.parent.resolve())!r} + '/x', 'w')"
    write(submissions / "mallory" / "01_fake.ipynb", answered_with(attack))
    assert grade(submissions, tmp_path / "out", course, "--jobs", "1") == 1
    err = capsys.readouterr().err
    assert "ERROR: grading changed 2 files in the submissions folder" in err
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## WARNING: grading changed the submissions folder" in report
    assert "- `victim/01_fake.ipynb` was changed" in report and "- `victim/x` was created" in report
