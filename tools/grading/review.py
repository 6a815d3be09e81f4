"""Accept flagged exercises an instructor has read: `--accept review.csv`, one row per exercise.

review.csv has the columns `student`, `notebook` and `exercise` (as grades.csv names them; a `'`
that grades.csv put in front of a formula-like name may stay). Each row turns that exercise,
flagged in the student's file(s) for that course notebook, into what its check itself said;
report.md lists what was accepted. A row that names nothing flagged is an error, said on the
terminal and at the top of report.md; the other rows are still applied.
"""
import csv
from dataclasses import dataclass
from pathlib import Path

from tools.grading.course import CourseNotebook
from tools.grading.runner import Grade

COLUMNS = ("student", "notebook", "exercise")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what grades.csv puts a `'` in front of


@dataclass(frozen=True)
class Review:
    """One row of review.csv: accept this exercise of this student's files for this course notebook."""

    line: int
    student: str
    notebook: str
    exercise: str


def read_review(path: Path) -> list[Review]:
    """The rows of a review file; ValueError, saying what was wrong, when it is not one."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file)
            missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"--accept {path} has no column {', '.join(missing)}; expected a CSV file with the "
                                 f"columns {', '.join(COLUMNS)}")
            rows = [Review(reader.line_num, *(unquoted(row[column] or "") for column in COLUMNS)) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"--accept {path} could not be read ({error}); expected a CSV file with the columns "
                         f"{', '.join(COLUMNS)}") from None
    for review in rows:
        if not all((review.student, review.notebook, review.exercise)):
            raise ValueError(f"--accept {path}, line {review.line}: fill in the student, notebook and exercise")
    return rows


def unquoted(text: str) -> str:
    """A name as the grader knows it: stripped, without the `'` grades.csv put in front of a formula-like name."""
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def accept(grades: list[Grade], reviews: list[Review], course: dict[str, CourseNotebook]) -> list[str]:
    """Turn each reviewed flag into its check's own verdict (in place); an error for each row naming nothing flagged."""
    errors = []
    for review in reviews:
        files = [g for g in grades if (g.submission.student, g.notebook) == (review.student, review.notebook)]
        flagged = [g for g in files if g.exercises.get(review.exercise, ("",))[0] == "flagged"
                   and review.exercise in g.verdicts]
        for grade in flagged:
            grade.exercises[review.exercise] = grade.verdicts[review.exercise]
            grade.accepted.append(review.exercise)
            verdict = grade.exercises[review.exercise][0]
            grade.notes.append(f"Exercise {review.exercise} was flagged for review; your instructor read it and "
                               f"accepted it, so it counts as what its check said: {verdict}.")
        if not flagged and not any(review.exercise in g.accepted for g in files):
            errors.append(f"line {review.line} ({review.student}, {review.notebook}, {review.exercise}): "
                          f"{why_not_flagged(review, files, course)}")
    return errors


def why_not_flagged(review: Review, files: list[Grade], course: dict[str, CourseNotebook]) -> str:
    """Why a review row names nothing flagged, in words."""
    if review.notebook not in course:
        return f"the course has no notebook {review.notebook}"
    if review.exercise not in course[review.notebook].exercise_ids:
        return f"course notebook {review.notebook} has no exercise {review.exercise}"
    if not files:
        return f"no file of student {review.student} was graded as {review.notebook}"
    statuses = sorted({g.exercises.get(review.exercise, ("not checked",))[0] for g in files})
    return f"that exercise is not flagged (it is {' / '.join(statuses)})"
