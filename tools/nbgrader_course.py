"""Write an nbgrader course folder from the course notebooks: `python -m tools.nbgrader_course --out DIR`.

Each course notebook becomes one assignment of the same name, DIR/source/NN_topic/NN_topic.ipynb,
built from its solution notebook: exercise cells become autograded answer cells (the solution
between nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` markers, which the course's
sources already use), check cells become autograder test cells, and every other cell is
read-only; outputs are cleared and the course metadata is kept. DIR/nbgrader_config.py holds
the course id, the gradebook (DIR/gradebook.db) and the stub `nbgrader generate_assignment`
puts in place of each solution: the course's own, so a released cell reads exactly like the
cell of the student notebook in notebooks/. Run nbgrader's commands inside DIR.

DIR may be missing, empty, or an earlier export: files are rewritten only when they changed,
and a file edited since the last export is never overwritten without --force.
Exit status: 0 when written, 2 on bad input (one line on stderr).
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import nbformat

from tools.build_notebooks import (
    BEGIN, END, EXECUTION_TIMEOUT_S, NBVAL_SKIP, SOLUTIONS, header_cell, serialize, student_source,
    without_test_markers, write_atomic,
)

MANIFEST = ".nbgrader_course.json"
CONFIG = "nbgrader_config.py"
LOCAL_CONFIG = "nbgrader_config_local.py"
DEFAULT_COURSE_ID = "dqn-cartpole-course"
LABEL_SLOT = "{label}"
OPTIONAL_NOTE = ("# Optional, and commented out because nbgrader's autograde runs every cell and this one "
                 "trains for minutes:\n# remove the '# ' in front of each line below to run it.")

CONFIG_TEMPLATE = '''\
# Written by the DQN CartPole course's `python -m tools.nbgrader_course`; run nbgrader's commands in this folder.
# Put your own settings (c.Exchange.root, c.CourseDirectory.course_id, ...) in {local}
# next to this file: it is read last, and an export never writes it.
import os

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

HERE = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821 (traitlets provides get_config in config files)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = HERE
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
# Seconds per cell when autograding: notebook 5 trains an agent in one cell (minutes, not nbgrader's 30 s).
c.Execute.timeout = {timeout}

# The course's stub for an exercise's solution region, with the exercise's label filled in from the
# cell's `exercise` metadata. nbgrader's own stub is one text for every cell; the course's names its
# exercise, which the course's checks and setup_notebook() use to say which exercise is unfinished.
EXERCISE_STUB = {stub!r}


class ClearSolutionsWithExerciseStub(ClearSolutions):
    """nbgrader's ClearSolutions, with the stub naming the cell's exercise."""

    def preprocess_cell(self, cell, resources, index):
        """Clear one cell's solution regions, with this cell's own stub."""
        label = cell.metadata.get("exercise")
        if not label:
            return super().preprocess_cell(cell, resources, index)
        shared_stubs = self.code_stub
        self.code_stub = {{**shared_stubs, resources["language"]: EXERCISE_STUB.replace({slot!r}, label)}}
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.code_stub = shared_stubs


c.GenerateAssignment.preprocessors = [
    ClearSolutionsWithExerciseStub if step is ClearSolutions else step
    for step in GenerateAssignment.class_traits()["preprocessors"].default()
]

load_subconfig({local!r})  # noqa: F821 (traitlets provides it; a missing file is skipped)
'''


class ExportError(Exception):
    """Bad input: the message is the one line the command prints."""


def course_notebooks() -> list:
    """The names of the course notebooks that have a solution notebook (01_mdp, ...)."""
    return sorted(path.stem for path in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def chosen_notebooks(assignments: list) -> list:
    """The notebooks to export: the named ones, or all of them."""
    available = course_notebooks()
    unknown = [name for name in assignments if name not in available]
    if unknown:
        raise ExportError(f"no course notebook named {', '.join(unknown)}; choose from {', '.join(available)}")
    return assignments or available


def grade_id(kind: str, exercise_id: str) -> str:
    """A grade id derived from the exercise id: ("ex", "1.1") gives "ex-1_1"."""
    return f"{kind}-{exercise_id.replace('.', '_')}"


def nbgrader_metadata(cell, points: int) -> dict:
    """The nbgrader cell metadata (schema 3) of one course cell."""
    exercise, check = cell.metadata.get("exercise"), cell.metadata.get("check")
    if exercise:
        role = {"grade_id": grade_id("ex", exercise.split(":")[0]), "solution": True, "grade": False, "locked": False}
    elif check:
        role = {"grade_id": grade_id("check", check), "solution": False, "grade": True, "locked": True,
                "points": points}
    else:
        role = {"grade_id": cell.id, "solution": False, "grade": False, "locked": True}
    return {**role, "schema_version": 3}


def source_notebook(name: str, points: int):
    """nbgrader's source version of one course notebook, from its solution notebook."""
    notebook = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    if notebook.metadata.get("course", {}).get("kind") != "solution":
        raise ExportError(f"solutions/{name}.ipynb has no course metadata of a solution notebook; run `make notebooks`")
    # The metadata of the student notebook: no record of the kernel that executed the solutions.
    notebook.metadata = {"course": {**notebook.metadata["course"], "kind": "student"},
                         "kernelspec": notebook.metadata["kernelspec"], "language_info": {"name": "python"}}
    # The header the student notebook has, not the solution's "edit the source" note.
    notebook.cells[0].source = header_cell(notebook, "student").source
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            # nbval's markers mean nothing to a student (the student notebook drops them too).
            cell.source = optional_for_autograde(cell.source) if NBVAL_SKIP in cell.source.splitlines() \
                else without_test_markers(cell.source)
        cell.metadata["nbgrader"] = nbgrader_metadata(cell, points)
    return notebook


def optional_for_autograde(source: str) -> str:
    """A cell nbval skips (notebook 7's live training, minutes per student), commented out: autograde runs every cell."""
    lines = without_test_markers(source).splitlines()
    return "\n".join([OPTIONAL_NOTE] + [f"# {line}" if line else "#" for line in lines])


def config_text(course_id: str) -> str:
    """The nbgrader_config.py of the course folder."""
    stub = student_source(f"{BEGIN}\n{END}", LABEL_SLOT)  # the stub build_notebooks writes, label left open
    return CONFIG_TEMPLATE.format(course_id=course_id, timeout=EXECUTION_TIMEOUT_S, stub=stub, slot=LABEL_SLOT,
                                  local=LOCAL_CONFIG)


def export_files(names: list, course_id: str, points: int) -> dict:
    """Every file of the export, relative path -> bytes."""
    files = {CONFIG: config_text(course_id).encode("utf-8")}
    for name in names:
        files[f"source/{name}/{name}.ipynb"] = serialize(source_notebook(name, points))
    return files


def sha256(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def earlier_export(out: Path) -> dict:
    """The files (path -> SHA-256) an earlier export wrote to `out`; {} for a missing or empty folder."""
    if not out.exists():
        return {}
    if not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder")
    manifest = out / MANIFEST
    if not manifest.is_file():
        if any(out.iterdir()):
            raise ExportError(f"--out {out} is not empty and holds no earlier export ({MANIFEST}); "
                              "choose a new or empty folder")
        return {}
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        raise ExportError(f"{manifest} is not readable; move it away to start a fresh export") from None


def edited_files(out: Path, files: dict, written_before: dict) -> list:
    """Files that this export would change but that were edited (or created) after the last export."""
    edited = []
    for relative, data in files.items():
        path = out / relative
        if path.is_file():
            current = sha256(path.read_bytes())
            if current != sha256(data) and current != written_before.get(relative):
                edited.append(relative)
    return edited


def write_export(out: Path, files: dict, force: bool) -> list:
    """Write the files that changed and the manifest; return the paths written."""
    written_before = earlier_export(out)
    edited = edited_files(out, files, written_before)
    if edited and not force:
        raise ExportError(f"{out} has files edited since the last export ({', '.join(edited)}); "
                          "keep them, or overwrite them with --force")
    written = []
    for relative, data in files.items():
        path = out / relative
        if not path.is_file() or path.read_bytes() != data:
            write_atomic(path, data)
            written.append(relative)
    manifest = {"written_by": "python -m tools.nbgrader_course",
                "files": {**written_before, **{relative: sha256(data) for relative, data in files.items()}}}
    write_atomic(out / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return written


def main(argv=None) -> int:
    """Command line: write the course folder; a one-line error and exit status 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m tools.nbgrader_course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the nbgrader course folder to write")
    parser.add_argument("--assignment", action="append", default=[], metavar="NAME",
                        help="export only this notebook, e.g. 01_mdp (repeatable; default: every notebook)")
    parser.add_argument("--course-id", default=DEFAULT_COURSE_ID, help="nbgrader's course id (default %(default)s)")
    parser.add_argument("--points", type=int, default=1, help="points of each exercise's check (default %(default)d)")
    parser.add_argument("--force", action="store_true", help="overwrite files edited since the last export")
    args = parser.parse_args(argv)
    try:
        if args.points < 1:
            raise ExportError(f"--points must be at least 1, not {args.points}")
        files = export_files(chosen_notebooks(args.assignment), args.course_id, args.points)
        written = write_export(args.out, files, args.force)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: wrote {len(written)} of {len(files)} files ({len(files) - len(written)} unchanged); "
          f"next, inside it: nbgrader generate_assignment NAME", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
