"""Write the results: grades.csv, report.md and one feedback file per submission (all deterministic)."""
import csv
import io
import shutil
from collections import defaultdict
from pathlib import Path

from tools.grading.course import CourseNotebook
from tools.grading.runner import Grade, Options

OUTPUT_NAMES = {"grades.csv", "report.md", "feedback"}
EXERCISE_STATUSES = ("passed", "failed", "not attempted", "error")
STATUS_MEANING = {
    "graded": "every cell was run, even after errors, and every exercise was checked",
    "timeout": "the notebook did not finish within the time limit and was stopped",
    "crashed": "the Python kernel died while running the notebook",
    "invalid": "the file is not a readable Jupyter notebook",
    "unknown-notebook": "the file is not one of the course notebooks",
}


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that holds anything the grader did not write (before grading starts)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file; expected a folder")
    unexpected = sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUT_NAMES) if out_dir.exists() else []
    if unexpected:
        raise ValueError(
            f"--out {out_dir} already holds files the grader did not write ({', '.join(unexpected[:3])}); "
            "expected a new or empty folder, or one from an earlier grading run."
        )


def write_outputs(out_dir: Path, grades: list[Grade], course: dict[str, CourseNotebook],
                  ignored: list[str], options: Options) -> None:
    """Replace grades.csv, report.md and feedback/ in `out_dir` with these results."""
    check_out_dir(out_dir)
    shutil.rmtree(out_dir / "feedback", ignore_errors=True)  # no stale files from an earlier run
    out_dir.mkdir(parents=True, exist_ok=True)
    duplicates = duplicate_notes(grades)
    write_text(out_dir / "grades.csv", grades_csv(grades, course))
    notes = ignored + sorted(set(duplicates.values()))
    write_text(out_dir / "report.md", report_markdown(grades, course, notes, options))
    for grade in grades:
        path = out_dir / "feedback" / grade.submission.student / grade.submission.feedback_name
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = [duplicates[id(grade)]] if id(grade) in duplicates else []
        write_text(path, feedback_markdown(grade, course, extra))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with \\n line ends on every platform."""
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)


def exercise_columns(course: dict[str, CourseNotebook]) -> list[str]:
    """Every exercise id of the course, notebook by notebook, in notebook order."""
    return [id_ for name in sorted(course) for id_ in course[name].exercise_ids]


def grades_csv(grades: list[Grade], course: dict[str, CourseNotebook]) -> str:
    """One row per submission: student, notebook, file, status, each exercise's status, total passed."""
    columns = exercise_columns(course)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "notebook", "file", "status", *columns, "total"])
    for grade in grades:
        statuses = [grade.exercises.get(id_, ("", ""))[0] for id_ in columns]
        writer.writerow([grade.submission.student, grade.notebook, grade.submission.file, grade.status,
                         *statuses, grade.total])
    return buffer.getvalue()


def duplicate_notes(grades: list[Grade]) -> dict[int, str]:
    """For each grade whose student handed in several files for one notebook, a note saying so."""
    groups = defaultdict(list)
    for grade in grades:
        if grade.notebook:
            groups[(grade.submission.student, grade.notebook)].append(grade)
    notes = {}
    for (student, notebook), group in groups.items():
        if len(group) > 1:
            files = ", ".join(f"`{g.submission.file}`" for g in group)
            for grade in group:
                notes[id(grade)] = (f"{student} handed in {len(group)} files for course notebook {notebook} "
                                    f"({files}); each was graded separately.")
    return notes


def report_markdown(grades: list[Grade], course: dict[str, CourseNotebook], notes: list[str], options: Options) -> str:
    """The instructor's report: settings, summary table, per-exercise counts, notes, per-student sections."""
    columns = exercise_columns(course)
    students = sorted({g.submission.student for g in grades})
    lines = [
        "# Grading report", "",
        f"{plural(len(grades), 'file')} from {plural(len(students), 'student')}, graded against course notebooks "
        + ", ".join(f"{name} ({plural(len(course[name].exercises), 'exercise')})" for name in sorted(course)) + ".",
        f"Limits: {options.timeout:g} s to run a notebook, {options.check_timeout:g} s per check, "
        f"{options.memory_mb} MiB of memory per kernel.", "",
        "## Summary", "",
        table(["Student", "Notebook", "File", "Status", *columns, "Total"],
              [[g.submission.student, g.notebook, g.submission.file, g.status,
                *[g.exercises.get(id_, ("", ""))[0] for id_ in columns], str(g.total)] for g in grades]),
        "", "## Exercises", "",
        table(["Exercise", *EXERCISE_STATUSES], exercise_counts(grades, course)),
        "", "## Statuses", "",
        table(["Status", "Files", "Meaning"],
              [[s, str(sum(g.status == s for g in grades)), meaning] for s, meaning in STATUS_MEANING.items()]),
    ]
    if notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    for student in students:
        lines += ["", f"## {student}"]
        for grade in (g for g in grades if g.submission.student == student):
            lines += ["", *submission_section(grade, course, f"### `{grade.submission.file}`", [])]
    return "\n".join(lines) + "\n"


def exercise_counts(grades: list[Grade], course: dict[str, CourseNotebook]) -> list[list[str]]:
    """Per exercise, how many submissions had each status."""
    rows = []
    for name in sorted(course):
        for exercise in course[name].exercises:
            outcomes = [g.exercises[exercise.id][0] for g in grades if exercise.id in g.exercises]
            rows.append([f"{exercise.id} {exercise.title}", *[str(outcomes.count(s)) for s in EXERCISE_STATUSES]])
    return rows


def feedback_markdown(grade: Grade, course: dict[str, CourseNotebook], extra_notes: list[str]) -> str:
    """The feedback a student reads about one handed-in file."""
    title = f"# Feedback on `{grade.submission.file}` ({grade.submission.student})"
    return "\n".join([title, "", *submission_section(grade, course, "## Result", extra_notes)]) + "\n"


def submission_section(grade: Grade, course: dict[str, CourseNotebook], heading: str,
                       extra_notes: list[str]) -> list[str]:
    """Markdown lines for one submission: status, exercise table, check messages, notes."""
    notebook = course.get(grade.notebook)
    lines = [heading, "",
             f"Course notebook: {grade.notebook or 'not recognised'}. "
             f"Status: {grade.status} ({STATUS_MEANING[grade.status]})."]
    if notebook:
        lines += [f"Passed: {grade.total} of {plural(len(notebook.exercises), 'exercise')}.", "",
                  table(["Exercise", "Result"], [[f"{e.id} {e.title}", grade.exercises[e.id][0]]
                                                 for e in notebook.exercises if e.id in grade.exercises])]
        for exercise in notebook.exercises:
            status, message = grade.exercises.get(exercise.id, ("", ""))
            if message:
                lines += ["", f"**Exercise {exercise.id} ({exercise.title}): {status}**", "", fenced(message)]
    notes = grade.notes + extra_notes
    if notes:
        lines += ["", "Notes:", "", *[f"- {note}" for note in notes]]
    return lines


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; `|` inside cells is escaped."""
    escape = lambda cell: str(cell).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fenced(text: str) -> str:
    """Text in a Markdown code block, safe from fences inside it."""
    return "```text\n" + text.replace("```", "'''") + "\n```"


def plural(count: int, noun: str) -> str:
    """`1 file`, `2 files`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
