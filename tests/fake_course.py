"""A tiny self-contained course (two notebooks, a fake `utils.checks`) and helpers to grade submissions of it.

The grader's tests use it so that they do not depend on the real notebooks: every graded file
starts a Jupyter kernel, and these kernels import nothing heavy.
"""
import csv
import hashlib
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.grade import main

CHECKS_MODULE = '''\
"""Fake course checks in two halves, as utils.checks.protocol has them: a probe (the kernel) and a judge (the grader).

The same outcomes and interface as utils.checks (`inputs_json`, `probe_json`, `verdict_json`,
`references`), small enough to read: the probe records what the student's function returned, or
what it raised; the judge compares with the course's reference on inputs drawn from the run's seed.
"""
import json
import random

import numpy

from utils import reference


class CheckFailed(Exception):
    """A check found a mistake."""


class ExerciseNotDone(Exception):
    """The exercise still raises its template's NotImplementedError."""


class Check:
    """`label`, how to draw inputs, how to call the answer, and the expected value of the inputs."""

    def __init__(self, label, draw, call, expected, references=()):
        """Assemble the check."""
        self.label, self.draw, self.call, self.expected, self.references = label, draw, call, expected, references

    def inputs_json(self, seed):
        """Fresh inputs for a grading run."""
        return json.dumps(self.draw(random.Random(seed)))

    def probe_json(self, inputs_text, answer):
        """Call the answer; what it returned (a plain int or list of ints) or raised."""
        try:
            got = self.call(answer, json.loads(inputs_text))
        except NotImplementedError as error:
            return json.dumps({"not_done": str(error)})
        except Exception as error:
            return json.dumps({"raised": f"{type(error).__name__}: {error}"})
        plain = type(got) is int or (type(got) is list and all(type(x) is int for x in got))
        return json.dumps({"value": got if plain else None, "type": type(got).__name__})

    def verdict_json(self, inputs_text, record_text):
        """Decide outside the kernel."""
        inputs, record = json.loads(inputs_text), json.loads(record_text)
        if "not_done" in record:
            return {"status": "not attempted", "message": record["not_done"] + " is not done yet", "flags": []}
        if "raised" in record:
            return {"status": "failed", "message": f"{self.label}: your code raised {record['raised']}", "flags": []}
        expected = self.expected(inputs)
        if record.get("value") != expected:
            got = record.get("value") if record.get("value") is not None else f"a {record.get('type')}"
            return {"status": "failed", "message": f"{self.label}: returned {got!r}; expected {expected!r}.",
                    "flags": []}
        return {"status": "passed", "message": "", "flags": []}

    def __call__(self, answer):
        """The notebook's check: both halves here."""
        inputs = json.dumps(self.draw(None))
        verdict = self.verdict_json(inputs, self.probe_json(inputs, answer))
        if verdict["status"] == "not attempted":
            raise ExerciseNotDone(verdict["message"])
        if verdict["status"] != "passed":
            raise CheckFailed(verdict["message"])
        print(f"passed: {self.label}")


check_add = Check("Exercise 1.1 (add)", lambda rng: [2, 3] if rng is None else [rng.randrange(100), rng.randrange(100)],
                  lambda add, ab: add(*ab), lambda ab: reference.add(*ab), ("utils.reference.add",))
check_scale = Check("Exercise 1.2 (scale)", lambda rng: [[1, 2], 3] if rng is None else [[rng.randrange(9), 4], 5],
                    lambda scale, xk: scale(list(xk[0]), xk[1]), lambda xk: [xk[1] * x for x in xk[0]])
check_twice = Check("Exercise 2.1 (twice)", lambda rng: 0 if rng is None else rng.randrange(50),
                    lambda twice, x: twice(lambda y: y + 1, x), lambda x: x + 2)
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
    cells = [new_markdown_cell(f"# {name}"), new_code_cell(f"import numpy as np\nfrom utils.checks import {checks}")]
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
    """The notebook with a code cell of the student's own inserted just before an exercise's cell."""
    nb.cells.insert(exercise_index(nb, exercise_id), new_code_cell(source))
    return nb


def exercise_index(nb: nbformat.NotebookNode, exercise_id: str) -> int:
    """The position of an exercise's cell."""
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("exercise", "").startswith(exercise_id))


def with_exercise_code(nb: nbformat.NotebookNode, exercise_id: str, source: str) -> nbformat.NotebookNode:
    """The notebook with `source` appended to an exercise's cell (it runs after the answer in that cell)."""
    nb.cells[exercise_index(nb, exercise_id)].source += "\n" + source
    return nb


def answered_then(source: str) -> nbformat.NotebookNode:
    """Notebook 01_fake fully answered, with `source` run at the end of exercise 1.2's cell."""
    return with_exercise_code(answered(course_notebook("01_fake"), "1.1", "1.2"), "1.2", source)


def write(path: Path, nb_or_text) -> None:
    """Write a notebook (or raw text) to `path`, creating its folder; notebooks are written unvalidated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb_or_text if isinstance(nb_or_text, str) else json.dumps(nb_or_text, indent=1), encoding="utf-8")


def make_course(root: Path) -> Path:
    """A course folder: notebooks/ (two notebooks), solutions/, checkpoints/, a fake utils.checks and reference."""
    for name in EXERCISES:
        write(root / "notebooks" / f"{name}.ipynb", course_notebook(name))
        write(root / "solutions" / f"{name}.ipynb", answered(course_notebook(name), *ANSWERS))
    write(root / "checkpoints" / "agent.pt", "weights")
    write(root / "utils" / "__init__.py", "")
    write(root / "utils" / "reference.py", "def add(a, b):\n    return a + b\n")
    write(root / "utils" / "late.py", "def add(a, b):\n    return a + b\n")  # imported by no check
    write(root / "utils" / "checks" / "__init__.py", CHECKS_MODULE)
    return root


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: its content hash and modification time."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


SEED = 7  # the seed of the checks' inputs in every test grading run (see `drawn_inputs`)


def drawn_inputs(check: str, notebook: str, exercise: str):
    """The inputs the fake course's check draws for `exercise` in a grading run with SEED."""
    import random

    from tools.grading.judge import exercise_seed

    draw = {"check_add": lambda rng: [rng.randrange(100), rng.randrange(100)],
            "check_scale": lambda rng: [[rng.randrange(9), 4], 5], "check_twice": lambda rng: rng.randrange(50)}
    return draw[check](random.Random(exercise_seed(SEED, notebook, exercise)))


def grade(submissions: Path, out: Path, course: Path, *extra: str) -> int:
    """Run the grader's command line with small limits suited to the fake course."""
    return main([str(submissions), "--out", str(out), "--course", str(course), "--cpu-seconds", "4",
                 "--timeout", "30", "--check-timeout", "3", "--memory-mb", "1024", "--jobs", "4", "--seed", str(SEED),
                 *extra])


def read_csv(path: Path) -> list[dict]:
    """A CSV result file as a list of rows."""
    with open(path, encoding="utf-8") as file:
        return list(csv.DictReader(file))


def graded_rows(out: Path) -> dict[str, dict]:
    """grades.csv of a run in which each student handed in one file, keyed by student."""
    return {row["student"]: row for row in read_csv(out / "grades.csv") if row["status"] != "missing"}


def feedback(graded, student: str, name: str) -> str:
    """The text of one feedback file; `graded` is (submissions folder, out folder, ...)."""
    return (graded[1] / "feedback" / student / name).read_text(encoding="utf-8")


def statuses(row: dict) -> tuple:
    """(status, 1.1, 1.2, 2.1, total) of a csv row."""
    return row["status"], row["1.1"], row["1.2"], row["2.1"], row["total"]
