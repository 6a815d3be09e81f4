"""Find the handed-in notebooks and read them safely.

Three layouts are understood: one folder per student (`SUBMISSIONS/<student>/<any name>.ipynb`),
and the flat folders that learning-management systems export: Canvas
(`lastname_firstname[_LATE]_<user id>_<file id>_<original name>[-n].ipynb`) and Moodle
(`Firstname Lastname_<id>_assignsubmission_file_<original name>`, or per-student folders named
`Firstname Lastname_<id>_assignsubmission_file_`). Canvas's `-n` marks the n-th resubmission, but
a student's own name may end in `-1` too (`part-1.ipynb`), so resubmissions are told apart only
once each file is matched to a course notebook: of a student's Canvas files for one course
notebook, only the latest is graded.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# Larger files are refused unread: a notebook with its outputs is rarely over a few MB.
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
CELL_TYPES = {"code", "markdown", "raw"}
# Canvas appends `-n` to the original name of the n-th resubmission; the user id names the student.
CANVAS_NAME = re.compile(r"(?P<name>.+?)_(?P<late>LATE_)?(?P<user>\d+)_\d+_"
                         r"(?P<original>(?P<stem>.+?)(?:-(?P<attempt>\d+))?(?P<ext>\.\w+))")
MOODLE_NAME = re.compile(r"(?P<student>.+?_\d+)_assignsubmission_[a-z]+_(?P<file>.*)")


@dataclass(frozen=True)
class Submission:
    """One handed-in notebook: its student, its name as handed in, and where it lies."""

    student: str
    file: str
    path: Path
    late: bool = False  # Canvas tagged it _LATE_

    @property
    def feedback_name(self) -> str:
        """The feedback file for this submission, relative to `feedback/<student>/`."""
        return str(Path(self.file).with_suffix(".md").as_posix())


@dataclass(frozen=True)
class LmsFile:
    """A top-level file named by a learning-management system's export."""

    student: str
    file: str  # its name as handed in (Canvas's `-n` included)
    attempt: int  # Canvas's resubmission number n (0: none)
    path: Path
    late: bool = False
    stem: str = ""  # its name without Canvas's `-n`: a resubmission's original name

@dataclass
class Found:
    """What a submissions folder holds: notebooks to grade, every student seen, and what was left out."""

    submissions: list[Submission] = field(default_factory=list)
    students: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # top-level files in no layout the grader knows
    attempts: dict[Submission, LmsFile] = field(default_factory=dict)  # Canvas files, until resubmissions are dropped


def find_submissions(folder: Path) -> Found:
    """All notebooks in student folders or LMS-named files, sorted, and notes about what was ignored."""
    found, lms_files = Found(), []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            add_student_folder(found, entry)
        elif (named := lms_file(entry)) is not None:
            lms_files.append(named)
        else:
            found.skipped.append(entry.name)
            found.notes.append(f"`{entry.name}` is not inside a student folder or named like a Canvas "
                               "or Moodle download, and was not graded.")
    add_lms_files(found, lms_files)
    found.submissions.sort(key=lambda s: (s.student, s.file))
    return found


def add_student_folder(found: Found, folder: Path) -> None:
    """Add a student's folder (a Moodle folder's name is cut down to the student's name and id)."""
    match = MOODLE_NAME.fullmatch(folder.name)
    student = match["student"] if match else folder.name
    found.students.add(student)
    notebooks = notebooks_in(folder)
    found.submissions += [Submission(student, path.relative_to(folder).as_posix(), path) for path in notebooks]
    if not notebooks:
        found.notes.append(f"`{folder.name}/` holds no .ipynb file.")


def lms_file(path: Path) -> LmsFile | None:
    """The student, original name and resubmission number of a Canvas or Moodle file; None for other names."""
    moodle = MOODLE_NAME.fullmatch(path.name)
    if moodle:
        return LmsFile(moodle["student"], moodle["file"], 0, path)
    canvas = CANVAS_NAME.fullmatch(path.name)
    if canvas:
        student = f"{canvas['name']}_{canvas['user']}"
        return LmsFile(student, canvas["original"], int(canvas["attempt"] or 0), path, bool(canvas["late"]),
                       canvas["stem"] + canvas["ext"])
    return None


def add_lms_files(found: Found, lms_files: list[LmsFile]) -> None:
    """Add every .ipynb file (Canvas resubmissions are dropped later, by `drop_resubmissions`); note the rest."""
    for item in sorted(lms_files, key=lambda f: f.path.name):
        found.students.add(item.student)
        if not item.file.endswith(".ipynb"):
            found.skipped.append(item.path.name)
            found.notes.append(f"`{item.path.name}` ({item.student}) is not a .ipynb file and was not graded.")
            continue
        submission = Submission(item.student, item.file, item.path, item.late)
        found.submissions.append(submission)
        if item.stem:
            found.attempts[submission] = item


def drop_resubmissions(found: Found, notebook_of) -> Found:
    """Drop each Canvas file that a later resubmission of the same course notebook replaces, with a note.

    `notebook_of(path)` names the course notebook a file is ("" for none: such files group by name).
    """
    groups: dict[tuple[str, str], list[LmsFile]] = {}
    for item in found.attempts.values():
        groups.setdefault((item.student, notebook_of(item.path) or f"file {item.stem}"), []).append(item)
    dropped, notes = set(), list(found.notes)
    for items in groups.values():
        for older in sorted(items, key=lambda f: f.path.name):
            newer = [f for f in items if replaces(f, older)]
            if newer:
                latest = max(newer, key=lambda f: (f.attempt, f.path.name))
                dropped.add(older.path)
                notes.append(f"`{older.path.name}` was not graded: `{latest.path.name}` is a later resubmission "
                             "of the same course notebook.")
    kept = [s for s in found.submissions if s.path not in dropped]
    return Found(kept, found.students, notes, found.skipped)


def replaces(newer: LmsFile, older: LmsFile) -> bool:
    """Is `newer` Canvas's later resubmission of `older`: `x-2.ipynb` of `x-1.ipynb` or of `x.ipynb`?"""
    same_name = newer.stem == older.stem and newer.attempt > older.attempt
    return newer.attempt > 0 and (newer.stem == older.file or same_name)


def notebooks_in(student_dir: Path) -> list[Path]:
    """The .ipynb files under a student's folder, skipping hidden ones (.ipynb_checkpoints)."""
    return sorted(
        path
        for path in student_dir.rglob("*.ipynb")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(student_dir).parts)
    )


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str]:
    """The notebook at `path` (as nbformat v4) and "", or None and why it is not a notebook."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None, f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
        text = path.read_bytes().decode("utf-8-sig")
        if not text.strip():
            return None, "the file is empty"
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    except OSError as error:
        return None, f"the file could not be read ({type(error).__name__})"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"the file is not valid JSON ({error.msg}: line {error.lineno}, column {error.colno})"
    problem = structure_problem(raw)
    if problem:
        return None, problem
    try:
        return nbformat.reads(json.dumps(with_defaults(raw)), as_version=4), ""
    except Exception as error:  # nbformat raises many types for JSON that is not a notebook
        return None, f"the file is JSON but not a Jupyter notebook ({type(error).__name__}: {str(error)[:200]})"


def structure_problem(nb) -> str:
    """What makes parsed JSON unusable as a notebook to execute, or "" when it is fine."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return "the file is JSON but has no list of cells (not a Jupyter notebook in format 4)"
    if not isinstance(nb.get("metadata", {}), dict):
        return "the notebook's metadata is not a mapping"
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
            return f"cell {number} is not a code, markdown or raw cell"
        if not isinstance(cell.get("source"), (str, list)):
            return f"cell {number} has no source text"
        if not isinstance(cell.get("metadata", {}), dict):
            return f"cell {number} has metadata that is not a mapping"
    return ""


def with_defaults(nb: dict) -> dict:
    """The notebook with the keys hand-edited files often lose filled in, and without old outputs.

    Saved outputs play no part in grading (everything is run again), and dropping them spares
    memory and rejections for outputs nbformat finds malformed.
    """
    nb.setdefault("metadata", {})
    nb.setdefault("nbformat", 4)
    nb.setdefault("nbformat_minor", 4)
    for cell in nb["cells"]:
        cell.setdefault("metadata", {})
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
    return nb
