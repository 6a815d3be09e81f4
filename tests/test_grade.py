"""The instructor's grader (`python -m tools.grade`) on a synthetic course and synthetic submissions.

The course is the tiny one of `fake_course`, so the tests do not depend on the real notebooks.
Most cases run in one grading run with two jobs, because every graded file starts a Jupyter
kernel (about a second each). Tampering is tested in test_grade_tamper.py.
"""
import copy
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from fake_course import (
    EXERCISES, answered, answered_then, course_notebook, feedback, fingerprint, grade, make_course, read_csv,
    statuses, with_exercise_code, write,
)
from nbformat.v4 import new_code_cell, new_notebook

from tools.grade import main
from tools.grading import sandbox
from tools.grading.course import discover_course, identify
from tools.grading.submissions import find_submissions, read_notebook

pytestmark = pytest.mark.grading
slow = pytest.mark.slow


def carol_notebook() -> nbformat.NotebookNode:
    """A right then a wrong copy of 1.1, the check cell moved up, 1.2's cell deleted, a fake check of her own."""
    nb = answered(course_notebook("01_fake"), "1.1")
    wrong = copy.deepcopy(nb.cells[2])
    wrong.id, wrong.source = "a-copy", "def add(a, b):\n    return a - b"
    nb.cells = [nb.cells[0], nb.cells[1], nb.cells[3], nb.cells[2], wrong, nb.cells[5]]
    nb.cells.append(new_code_cell("def check_add(add):\n    print('passed')\nimport utils.checks\n"
                                  "utils.checks.check_add = check_add"))
    return nb


def paula_notebook() -> nbformat.NotebookNode:
    """1.1 right, but its cell then raises an error naming the working folder and an object's address."""
    nb = answered(course_notebook("01_fake"), "1.1", "1.2")
    return with_exercise_code(nb, "1.1", "import tempfile\nraise RuntimeError(f'in {tempfile.gettempdir()} at {object()}')")


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
        "alice/02_fake.ipynb": answered(course_notebook("02_fake"), "2.1"),
        "walt/02_fake.ipynb": with_exercise_code(answered(course_notebook("02_fake"), "2.1"), "2.1", WRITES_FILES),
        "alice/.ipynb_checkpoints/01_fake-checkpoint.ipynb": full(),
        "bob/my homework (final).ipynb": answered(course_notebook("01_fake"), "1.1"),
        "carol/01_fake.ipynb": carol_notebook(),
        "dan/01_fake.ipynb": json.dumps(full(), indent=1)[:200],
        "dave/01_fake.ipynb": full(),
        "dave/01_fake_v2.ipynb": answered(course_notebook("01_fake"), "1.1"),
        "erin/01_fake.ipynb": erin_notebook(),
        "frank/01_fake.ipynb": answered_then("while True:\n    pass"),
        "gina/01_fake.ipynb": answered_then("import os\nos._exit(3)"),
        "hank/01_fake.ipynb": answered_then("import ctypes\nctypes.string_at(0)"),
        "ivan/01_fake.ipynb": answered_then("blob = bytearray(8 * 2**30)"),
        "judy/01_fake.ipynb": answered_then("for i in range(15_000):\n    print('x' * 100)\nexit()"),
        "paula/01_fake.ipynb": paula_notebook(),
        "olga/01_fake.ipynb": olga_notebook(),
        "mia/01_fake.ipynb": mia_notebook(),
        "nick/random.ipynb": new_notebook(cells=[new_code_cell("print(1)")]),
        "leo/notes.txt": "I forgot the notebook",
        "stray.ipynb": full(),
    }
    for name, content in files.items():
        write(root / name, content)
    return root


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
        return {(row["student"], row["file"]): row for row in read_csv(Path(file.name))}


@slow
def test_csv_has_one_column_per_exercise_and_a_row_per_file(rows, graded):
    header = (graded[1] / "grades.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "student,notebook,file,status,1.1,1.2,2.1,total"
    handed_in = [row for row in rows.values() if row["status"] != "missing"]
    assert len(handed_in) == 18  # hidden checkpoint, stray top-level file and leo's .txt are not rows


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
    assert "Exercise 1.1 (add): returned -1; expected 5" in text
    assert "Exercise 1.1 has 2 cells; the last one was graded" in text
    assert "Exercise 1.2: your notebook has no cell for this exercise" in text
    assert "1 code cell you added or edited outside the exercise cells was not run" in text


@slow
def test_messages_carry_no_temporary_paths_or_addresses(rows, graded):
    assert statuses(rows["paula", "01_fake.ipynb"]) == ("graded", "passed", "passed", "", "2")
    text = feedback(graded, "paula", "01_fake.md")
    assert "The cell of exercise 1.1 raised RuntimeError: in <scratch>/tmp at <object object at 0x...>" in text
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
    expected = "used more than 4 s of CPU time: it was stopped in the cell of exercise 1.2."
    assert expected in feedback(graded, "frank", "01_fake.md")
    assert "graded again alone" not in feedback(graded, "frank", "01_fake.md")  # CPU time does not depend on load


@slow
def test_waiting_is_stopped_by_the_wall_clock_and_retried_alone_once_cpu_burning_is_not(tmp_path, capsys):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    write(submissions / "sam" / "01_fake.ipynb", answered_then("import time\ntime.sleep(600)"))
    write(submissions / "cora" / "01_fake.ipynb", answered_then("while True:\n    pass"))
    assert main([str(submissions), "--out", str(tmp_path / "out"), "--course", str(course), "--cpu-seconds", "0.5",
                 "--timeout", "8", "--check-timeout", "3", "--jobs", "2"]) == 0
    found = {row["student"]: row for row in read_csv(tmp_path / "out" / "grades.csv") if row["status"] != "missing"}
    assert statuses(found["sam"]) == ("timeout", "passed", "error", "", "1")
    assert statuses(found["cora"]) == ("timeout", "passed", "error", "", "1")
    progress = capsys.readouterr().err
    assert progress.count("sam/01_fake.ipynb: timeout") == 2 and progress.count("cora/01_fake.ipynb: timeout") == 1
    assert "did not finish within 8 s (wall-clock time)" in feedback((tmp_path, tmp_path / "out"), "sam", "01_fake.md")
    assert "used more than 0.5 s of CPU time" in feedback((tmp_path, tmp_path / "out"), "cora", "01_fake.md")
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "`sam/01_fake.ipynb` ran past the wall-clock limit while other files were being graded" in report
    assert "`cora/01_fake.ipynb` ran past" not in report


@slow
def test_a_check_that_never_ends_is_stopped_and_the_next_check_still_runs(rows, graded):
    assert statuses(rows["olga", "01_fake.ipynb"]) == ("graded", "error", "passed", "", "1")
    assert "the check did not finish within 3 s of CPU time" in feedback(graded, "olga", "01_fake.md")


@slow
def test_kernel_death_by_exit_and_by_segfault_keeps_the_exercises_before_it(rows, graded):
    # os._exit and ctypes are flagged: an answer never needs them
    assert statuses(rows["gina", "01_fake.ipynb"]) == ("crashed", "passed", "flagged", "", "1")
    text = feedback(graded, "gina", "01_fake.md")
    assert "died while running the cell of exercise 1.2: it exited with code 3" in text
    assert "started a new kernel and went on without that cell" in text
    assert "The check said: error: NameError: name 'scale' is not defined" in text  # checked in the new kernel
    assert statuses(rows["hank", "01_fake.ipynb"]) == ("crashed", "passed", "flagged", "", "1")
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
def test_submissions_are_unchanged_and_written_files_stay_in_the_temp_folder(rows, graded):
    assert statuses(rows["walt", "02_fake.ipynb"])[3] == "flagged"  # an answer never needs to open files
    submissions, out, before = graded
    assert fingerprint(submissions) == before
    assert not any(p.name in {"written.txt", "made_by_student", "outside.txt"} for p in submissions.parent.rglob("*"))
    assert not Path("written.txt").exists()


@slow
def test_feedback_file_per_submission(graded):
    names = sorted(str(p.relative_to(graded[1] / "feedback")) for p in (graded[1] / "feedback").rglob("*.md"))
    assert len(names) == 18 and "bob/my homework (final).md" in names


@slow
def test_same_folder_gives_the_same_files_with_any_number_of_jobs(tmp_path):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    write(submissions / "carol" / "01_fake.ipynb", carol_notebook())
    write(submissions / "dan" / "x.ipynb", "{not json")
    assert grade(submissions, tmp_path / "first", course) == 0
    assert grade(submissions, tmp_path / "second", course, "--jobs", "1") == 0  # the verdicts do not depend on load
    assert fingerprint_content(tmp_path / "first") == fingerprint_content(tmp_path / "second")
    assert [row["file"] for row in read_csv(tmp_path / "first" / "timings.csv")] == ["01_fake.ipynb", "x.ipynb"]


def fingerprint_content(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its content hash (not its time), except timings.csv which alone varies."""
    return {k: v[0] for k, v in fingerprint(folder).items() if k != "timings.csv"}


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


def mallory_attacks(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A course, and a class in which mallory's exercise cell overwrites victim's file through absolute paths."""
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    victim = submissions / "victim" / "01_fake.ipynb"
    write(victim, answered(course_notebook("01_fake"), "1.1", "1.2"))
    attack = f"open({str(victim.resolve())!r}, 'w').write('{{}}')\nopen({str(victim.parent.resolve())!r} + '/x', 'w')"
    write(submissions / "mallory" / "01_fake.ipynb", answered_then(attack))
    return course, submissions, victim


@slow
def test_a_submission_writing_over_another_is_reported_where_kernels_cannot_be_sandboxed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sandbox, "namespaces_work", lambda *folders: False)
    course, submissions, victim = mallory_attacks(tmp_path)
    assert grade(submissions, tmp_path / "out", course, "--jobs", "1") == 1
    err = capsys.readouterr().err
    assert "ERROR: grading changed 2 files in the submissions folder" in err
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## WARNING: grading changed the submissions folder" in report
    assert "- `victim/01_fake.ipynb` was changed" in report and "- `victim/x` was created" in report
    assert "could not hide" in report


@slow
@pytest.mark.skipif(not sandbox.namespaces_work(), reason="this system allows no unprivileged mount namespaces")
def test_sandboxed_kernels_cannot_reach_other_submissions(tmp_path, capsys):
    course, submissions, victim = mallory_attacks(tmp_path)
    before = fingerprint(submissions)
    assert grade(submissions, tmp_path / "out", course, "--jobs", "1") == 0
    assert fingerprint(submissions) == before
    mallory = feedback((submissions, tmp_path / "out"), "mallory", "01_fake.md")
    assert "The cell of exercise 1.2 raised FileNotFoundError" in mallory


@pytest.mark.skipif(not sandbox.namespaces_work(), reason="this system allows no unprivileged mount namespaces")
def test_sandboxed_kernels_see_a_clean_utils_and_none_of_the_course_secrets(tmp_path):
    course = make_course(tmp_path / "course")
    with sandbox.isolated_course(course, [tmp_path / "course" / "notebooks"]) as isolation:
        listing = subprocess.run([*isolation.command_prefix, "ls", "-A", *[str(course / part) for part in (
            "solutions", "checkpoints", "utils", "notebooks")], isolation.python_path[0]],
            capture_output=True, text=True, check=True).stdout
    assert "01_fake.ipynb" not in listing and "agent.pt" not in listing and "reference.py" not in listing
    assert "_grader_kernel.py" in listing and "utils" in listing  # the clean copy, outside the hidden folders


@slow
def test_shards_graded_apart_and_merged_give_the_results_of_one_run(tmp_path, capsys):
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    for student, answers in {"ann": ("1.1", "1.2"), "ben": ("1.1",)}.items():
        write(submissions / student / "01_fake.ipynb", answered(course_notebook("01_fake"), *answers))
    write(submissions / "cat" / "02_fake.ipynb", answered(course_notebook("02_fake"), "2.1"))
    assert grade(submissions, tmp_path / "whole", course) == 0
    for index in (1, 2):
        assert grade(submissions, tmp_path / f"part{index}", course, "--shard", f"{index}/2") == 0
    assert {r["student"] for r in read_csv(tmp_path / "part1" / "gradebook.csv")} == {"ann", "cat"}
    merge = ["--merge", str(tmp_path / "part1"), str(tmp_path / "part2"), "--course", str(course)]
    assert main([*merge, "--out", str(tmp_path / "merged")]) == 0
    for name in ("grades.csv", "gradebook.csv", "report.md", "results.json", "feedback/ben/01_fake.md"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    capsys.readouterr()
    assert main(["--merge", str(tmp_path / "part1"), "--out", str(tmp_path / "half"), "--course", str(course)]) == 2
    assert "the folders hold shards 1/2; expected each of 1/n ... n/n exactly once" in capsys.readouterr().err
    with pytest.raises(SystemExit) as error:
        main([str(submissions), "--shard", "3/2", "--out", str(tmp_path / "bad")])
    assert error.value.code == 2 and "is not of the form i/n with 1 <= i <= n" in capsys.readouterr().err
