"""Build the course notebooks from their one source, `solutions/NN_topic.py`.

For each source this writes
* `solutions/NN_topic.ipynb`: the solution notebook, executed, outputs kept;
* `notebooks/NN_topic.ipynb`: the student notebook, each solution region replaced by
  `# YOUR CODE HERE` and `raise NotImplementedError("Exercise N.k: ...")`, no outputs.

A solution notebook is executed again only when its cells changed (or with --force), so a
build with nothing changed rewrites nothing. Every source is validated before anything is
written, and files are replaced atomically: a bad source leaves every notebook as it was.
`--check` writes nothing and fails when a notebook is stale or a solution line leaks.
"""
import argparse
import copy
import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
READS_FILES_OF = {"06_evaluation": "05_training"}
"""Notebook 6 evaluates the agent notebook 5 saves next to it (my_dqn_agent.pt)."""
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"
NBVAL_SKIP = "# NBVAL_SKIP"
"""nbval's marker of a cell it does not run: notebook 7's optional live training."""
CELL_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
EXERCISE = re.compile(r"^(?P<id>\d+\.\d+): (?P<title>\S.*)$")
MARKDOWN_PREFIX = re.compile(r"^# ?")
ORDERED_ITEM = re.compile(r"^\d{1,9}[.)](\s|$)")  # what CommonMark reads as the start of a numbered list item
LIST_ITEM = re.compile(r"^([-*+]|\d{1,9}[.)])(\s|$)")
FENCE = re.compile(r"^(```|~~~)")
TABLE_DELIMITER = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
EXECUTION_TIMEOUT_S = 900


class SourceError(Exception):
    """A notebook source breaks the authoring rules; the message names file and line."""


@dataclass
class Region:
    """One solution region: the source lines between its markers."""

    exercise: str
    lines: list


def sources(paths=None) -> list:
    """The source files to build: the given ones, or every solutions/NN_*.py."""
    return [Path(p).resolve() for p in paths] if paths else sorted(SOLUTIONS.glob("[0-9][0-9]_*.py"))


def relative(path: Path) -> str:
    """`path` relative to the repository, for messages and metadata."""
    return path.resolve().relative_to(ROOT).as_posix()


def kind_of_cell(header: re.Match) -> str:
    """"code" for `# %%`, else the bracketed kind of `# %% [markdown]`."""
    rest = header["rest"].strip()
    return rest[1:].split("]")[0] if rest.startswith("[") else "code"


def validate_markers(path: Path, text: str) -> None:
    """Fail with file:line on a marker that is unmatched, nested, malformed or in a text cell."""
    cell_kind, cell_line, open_line = "code", 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        header = CELL_HEADER.match(line)
        if header:
            if open_line is not None:
                raise SourceError(f"{relative(path)}:{open_line}: {BEGIN} is not closed before the next cell")
            cell_kind, cell_line = kind_of_cell(header), number
            continue
        stripped = line.strip()
        if "BEGIN SOLUTION" not in stripped and "END SOLUTION" not in stripped:
            continue
        where = f"{relative(path)}:{number}"
        if cell_kind != "code":
            raise SourceError(f"{where}: solution marker in a {cell_kind} cell (line {cell_line}); markers belong in code cells")
        if stripped not in (BEGIN, END):
            raise SourceError(f"{where}: malformed marker {stripped!r}; write exactly {BEGIN!r} or {END!r}")
        if stripped == BEGIN and open_line is not None:
            raise SourceError(f"{where}: nested {BEGIN} (the region opened at line {open_line} is still open)")
        if stripped == END and open_line is None:
            raise SourceError(f"{where}: {END} without a {BEGIN} before it")
        open_line = number if stripped == BEGIN else None
    if open_line is not None:
        raise SourceError(f"{relative(path)}:{open_line}: {BEGIN} is never closed")


def validate_numbered_lines(path: Path, text: str) -> None:
    """Fail with file:line on a markdown line that starts like "2016) ..." but is not meant as a list item.

    Markdown renderers can read such a line as the start of a numbered list, which a wrapped
    year or number never means. A line counts as a list item when the line before it is blank
    or a list item itself; code fences and tables are left alone.
    """
    cell_kind, previous, fenced, in_table = "code", "", False, False
    for number, line in enumerate(text.splitlines(), start=1):
        header = CELL_HEADER.match(line)
        if header:
            cell_kind, previous, fenced, in_table = kind_of_cell(header), "", False, False
            continue
        if cell_kind != "markdown":
            continue
        content = MARKDOWN_PREFIX.sub("", line, count=1).strip()
        if FENCE.match(content):
            fenced = not fenced
        in_table = bool(content) and (in_table or bool(TABLE_DELIMITER.match(content)))
        listed = not previous or LIST_ITEM.match(previous)
        if not fenced and not in_table and ORDERED_ITEM.match(content) and not listed:
            start = ORDERED_ITEM.match(content)[0].strip()
            raise SourceError(
                f"{relative(path)}:{number}: markdown line starts with {start!r}, which Markdown can render "
                "as a numbered list item; rewrap the paragraph so that the number is not first on the line "
                "(or, for a list, leave a blank line before its first item)")
        previous = content


def read_source(path: Path):
    """Parse and validate one source; return its notebook (no outputs) and solution regions."""
    if not path.is_file():
        raise SourceError(f"{path}: no such source file")
    text = path.read_text(encoding="utf-8")
    validate_markers(path, text)
    validate_numbered_lines(path, text)
    notebook = jupytext.reads(text, fmt="py:percent")
    regions, exercises = [], {}
    for cell in notebook.cells:
        label = cell.metadata.get("exercise")
        if label is not None:
            exercise_id = parse_exercise(path, label, exercises)
            exercises[exercise_id] = {"id": exercise_id, "title": EXERCISE.match(label)["title"], "check": None}
        cell_regions = solution_regions(cell.source)
        if cell_regions and label is None:
            raise SourceError(f"{relative(path)}: a solution region in a cell without exercise=\"N.k: title\": {cell.source[:60]!r}")
        regions += [Region(label, lines) for lines in cell_regions]
        checked = cell.metadata.get("check")
        if checked is not None:
            if checked not in exercises:
                raise SourceError(f"{relative(path)}: check=\"{checked}\" comes before or without its exercise cell")
            exercises[checked]["check"] = cell.source.replace(NBVAL_MARKER + "\n", "")
    for exercise in exercises.values():
        if exercise["check"] is None:
            raise SourceError(f"{relative(path)}: exercise {exercise['id']} has no check cell (check=\"{exercise['id']}\")")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    notebook.metadata = {
        "course": {"exercises": list(exercises.values()), "notebook": path.stem, "source": relative(path), "source_sha256": digest},
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    return notebook, regions


def parse_exercise(path: Path, label, seen: dict) -> str:
    """Validate an `exercise="N.k: title"` label and return its id."""
    match = EXERCISE.match(label) if isinstance(label, str) else None
    if not match:
        raise SourceError(f"{relative(path)}: exercise label {label!r} should look like \"2.1: ReplayMemory\"")
    if match["id"] in seen:
        raise SourceError(f"{relative(path)}: exercise {match['id']} is defined twice")
    return match["id"]


def solution_regions(source: str) -> list:
    """The lines inside each BEGIN/END region of a (validated) cell source."""
    regions, current = [], None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def student_source(source: str, label: str) -> str:
    """Replace each solution region in a cell by a stub that raises NotImplementedError."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("Exercise {label}")']
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def header_cell(notebook, kind: str):
    """A first cell saying the notebook is generated, and from which source."""
    source = notebook.metadata["course"]["source"]
    text = (
        f"<small>Generated from `{source}` by `make notebooks`; edit that file, not this one.</small>"
        if kind == "solution"
        else f"<small>Student version, generated from `{source}` by `make notebooks`. Fill in each "
        "`# YOUR CODE HERE`, run the cell, then run the check cell below it. **Run All** stops at the "
        "first exercise that is not done yet, so the videos and explorers below it appear once the "
        "exercises above them are done (or run those cells one by one). When your work is graded, only "
        "the code inside the exercise cells counts: put any helper function you write inside the "
        "exercise cell that uses it.</small>"
    )
    return nbformat.v4.new_markdown_cell(text)


def finish(notebook, kind: str):
    """Give a notebook its header cell, stable cell ids and clean cell metadata."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata["course"]["kind"] = kind
    notebook.cells.insert(0, header_cell(notebook, kind))
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{notebook.metadata['course']['notebook']}-{index:02d}"[:64]
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("exercise", "check")}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return notebook


def student_notebook(notebook):
    """The student version: regions stubbed, outputs cleared."""
    student = finish(notebook, "student")
    for cell in student.cells:
        if cell.cell_type == "code":
            label = cell.metadata.get("exercise")
            source = student_source(cell.source, label) if label else cell.source
            cell.source = without_test_markers(source)
    return student


def without_test_markers(source: str) -> str:
    """`source` without nbval's markers, which mean nothing to a student or a reader."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (NBVAL_MARKER, NBVAL_SKIP))


def serialize(notebook) -> bytes:
    """Notebook JSON, byte-for-byte the same for the same notebook."""
    return (nbformat.writes(notebook, version=4) + "\n").encode("utf-8")


def without_outputs(notebook):
    """A copy of an executed notebook as it was before execution, for staleness checks."""
    bare = copy.deepcopy(notebook)
    bare.metadata = {k: v for k, v in bare.metadata.items() if k in ("course", "kernelspec")}
    bare.metadata["language_info"] = {"name": "python"}
    for cell in bare.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return bare


def execute(notebook, path: Path, folder: Path):
    """Run every cell of a solution notebook (from `path`) with the course kernel, in `folder`."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    executed = copy.deepcopy(notebook)
    client = NotebookClient(
        # Widget state holds random model ids: storing it would change the file on every build.
        executed, timeout=EXECUTION_TIMEOUT_S, kernel_name="python3", record_timing=False, store_widget_state=False,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise SourceError(f"{relative(path)}: a cell failed while executing the solution notebook:\n{error}") from None
    return executed


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, so a failure never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files; notebooks are shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (reading it requires setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_notebook(path: Path):
    """Read a committed notebook, or None if it is missing or not a notebook."""
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def solution_is_current(notebook, path: Path) -> bool:
    """True when the committed solution notebook was executed from exactly these cells."""
    committed = read_notebook(path)
    fresh = finish(notebook, "solution")
    return committed is not None and serialize(without_outputs(committed)) == serialize(fresh)


def leaked_lines(regions: list, student_bytes: bytes) -> list:
    """Solution-region lines that appear in a student notebook's cells."""
    student = nbformat.reads(student_bytes.decode("utf-8"), as_version=4)
    shown = {line.strip() for cell in student.cells for line in cell.source.splitlines()}
    return [line.strip() for region in regions for line in region.lines if _meaningful(line) and line.strip() in shown]


def _meaningful(line: str) -> bool:
    """Lines worth checking for leaks: not blank, not lone brackets or keywords."""
    return bool(re.search(r"\w", line)) and line.strip() not in ("else:", "try:", "pass", "return", "break", "continue")


def build(paths, force: bool = False) -> None:
    """Validate every source, then write each student and (re-executed if changed) solution notebook."""
    parsed = [(path, *read_source(path)) for path in paths]
    # The notebooks run in an empty folder of their own, not in solutions/, so that files left there (the agent
    # `make check` or an instructor's run of notebook 5 saves) never change what a committed notebook shows.
    with tempfile.TemporaryDirectory(prefix="course-build-") as scratch:
        executed = set()
        for path, notebook, regions in parsed:
            build_one(path, notebook, regions, force, Path(scratch), executed)


def build_one(path: Path, notebook, regions: list, force: bool, scratch: Path, executed: set) -> None:
    """Write one source's student notebook and, if changed, its executed solution notebook (run in `scratch`)."""
    student = serialize(student_notebook(notebook))
    leaks = leaked_lines(regions, student)
    if leaks:
        raise SourceError(f"{relative(path)}: solution lines would appear in the student notebook: {leaks[:3]}")
    solution_path = path.with_suffix(".ipynb")
    if force or not solution_is_current(notebook, solution_path):
        earlier = READS_FILES_OF.get(path.stem)
        if earlier and earlier not in executed:  # run it for its files only: its committed notebook stays
            print(f"executing {earlier} first, for the files {path.stem} reads", flush=True)
            execute(finish(read_source(SOLUTIONS / f"{earlier}.py")[0], "solution"), path, scratch)
            executed.add(earlier)
        print(f"executing {relative(solution_path)}", flush=True)
        write_atomic(solution_path, serialize(execute(finish(notebook, "solution"), path, scratch)))
        executed.add(path.stem)
    student_path = NOTEBOOKS / f"{path.stem}.ipynb"
    if not student_path.is_file() or student_path.read_bytes() != student:
        print(f"writing {relative(student_path)}", flush=True)
        write_atomic(student_path, student)


def check(paths) -> list:
    """Problems that make the committed notebooks out of date with their sources."""
    problems = []
    for path in paths:
        notebook, regions = read_source(path)
        student = serialize(student_notebook(notebook))
        student_path = NOTEBOOKS / f"{path.stem}.ipynb"
        if not student_path.is_file() or student_path.read_bytes() != student:
            problems.append(f"{relative(student_path)} is stale: run `make notebooks`")
        else:
            problems += [f"{relative(student_path)} leaks solution line {line!r}" for line in leaked_lines(regions, student)]
        if not solution_is_current(notebook, path.with_suffix(".ipynb")):
            problems.append(f"{relative(path.with_suffix('.ipynb'))} is stale: run `make notebooks`")
    names = {path.stem for path in paths}
    problems += [f"{relative(p)} has no source solutions/{p.stem}.py" for p in sorted(NOTEBOOKS.glob("*.ipynb")) if p.stem not in names]
    return problems


def main(argv=None) -> int:
    """Command line: build (default) or --check the notebooks of the given or all sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", help="solutions/NN_topic.py files (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; fail if anything is stale or leaks")
    parser.add_argument("--force", action="store_true", help="re-execute solution notebooks even if unchanged")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(sources(args.sources))
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"notebooks: {'stale' if problems else 'up to date, no solution leaks'}")
            return 1 if problems else 0
        build(sources(args.sources), force=args.force)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
