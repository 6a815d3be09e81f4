"""Find the handed-in notebooks (`SUBMISSIONS/<student>/<any name>.ipynb`) and read them safely."""
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

# Larger files are refused unread: a notebook with its outputs is rarely over a few MB.
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
CELL_TYPES = {"code", "markdown", "raw"}


@dataclass(frozen=True)
class Submission:
    """One handed-in notebook: its student (folder name) and its path inside that folder."""

    student: str
    file: str
    path: Path

    @property
    def feedback_name(self) -> str:
        """The feedback file for this submission, relative to `feedback/<student>/`."""
        return str(Path(self.file).with_suffix(".md").as_posix())


def find_submissions(folder: Path) -> tuple[list[Submission], list[str]]:
    """All notebooks in student folders, sorted, and notes about what was ignored."""
    submissions, notes = [], []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found = notebooks_in(entry)
            submissions += [Submission(entry.name, path.relative_to(entry).as_posix(), path) for path in found]
            if not found:
                notes.append(f"`{entry.name}/` holds no .ipynb file.")
        elif entry.suffix == ".ipynb":
            notes.append(f"`{entry.name}` is not inside a student folder and was not graded.")
    return submissions, notes


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
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    except OSError as error:
        return None, f"the file could not be read ({type(error).__name__})"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"the file is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
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
