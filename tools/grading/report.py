"""Write the results: grades.csv, gradebook.csv, report.md and a feedback file per submission (all deterministic).

Whatever a submission controls (file and folder names, messages of its exceptions, the notes that
quote them) reaches report.md and the feedback files only escaped (`plain`: one line, every
Markdown and HTML character taken literally) or in a code block no line of it can close (`fenced`),
so that no submission can forge a heading, a verdict or a link, or hide the rest of a report.
"""
import csv
import io
import re
import shutil
from collections import defaultdict
from pathlib import Path

from tools.grading.course import CourseNotebook
from tools.grading.runner import Grade, Options, Timing
from tools.grading.submissions import Found, Submission

OUTPUT_NAMES = {"grades.csv", "gradebook.csv", "report.md", "timings.csv", "results.json", "feedback"}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXERCISE_STATUSES = ("passed", "failed", "not attempted", "error", "flagged")
# Characters that start Markdown or HTML syntax anywhere in a line (`_` only outside words, where it cannot).
MARKDOWN_SYNTAX = re.compile(r"[\\`*\[\]<>#|!~&$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")  # line breaks among them
STATUS_MEANING = {
    "graded": "the course's notebook ran with the student's exercise cells, even after errors, and every exercise was checked",
    "timeout": "the notebook used up its CPU time, or ran past the wall-clock limit, and was stopped",
    "crashed": "the Python kernel died; the grader restarted it without the cell that killed it and checked what it could",
    "invalid": "the file is not a readable Jupyter notebook",
    "unknown-notebook": "the file is not one of the course notebooks",
    "missing": "the student handed in no file for this course notebook",
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
                  found: Found, options: Options, changed: list[str], sandbox_problem: str,
                  review_errors: list[str], seeds: list[int]) -> None:
    """Replace the result files in `out_dir`; `changed` lists submission files that grading changed,
    `sandbox_problem` says why kernels ran without a sandbox of their own ("" when they had one),
    `review_errors` the rows of --accept's file that named nothing flagged, `seeds` those of the checks' inputs."""
    check_out_dir(out_dir)
    shutil.rmtree(out_dir / "feedback", ignore_errors=True)  # no stale files from an earlier run
    out_dir.mkdir(parents=True, exist_ok=True)
    grades = with_missing(grades, course, found.students)
    duplicates = duplicate_notes(grades)
    write_text(out_dir / "grades.csv", grades_csv(grades, course))
    write_text(out_dir / "gradebook.csv", gradebook_csv(grades, course))
    notes = found.notes + retry_notes(grades) + sorted(set(duplicates.values()))
    write_text(out_dir / "report.md", report_markdown(grades, course, notes, options, changed, sandbox_problem,
                                                          review_errors, seeds))
    for grade in handed_in(grades):
        path = out_dir / "feedback" / grade.submission.student / grade.submission.feedback_name
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = [duplicates[id(grade)]] if id(grade) in duplicates else []
        write_text(path, feedback_markdown(grade, course, extra))


def retry_notes(grades: list[Grade]) -> list[str]:
    """A report note for each file graded a second time, alone, after a wall-clock time-out."""
    return [f"`{g.submission.student}/{g.submission.file}` ran out of its share of the wall-clock time while other "
            f"files were being graded, so it was graded again alone with the rest of its budget (status of the "
            f"second run: {g.status})." for g in grades if g.retried]


def write_timings(out_dir: Path, timings: dict[tuple[str, str], Timing]) -> None:
    """timings.csv: what grading each file cost, all its runs together (kept apart: it differs from run to run).

    `seconds` is wall-clock time in all, `notebook seconds` the part its cells and checks ran (which its
    wall-clock budget bounds), `cpu seconds` the CPU time of its kernels and every process they started.
    """
    rows = [[student, file, f"{t.seconds:.1f}", f"{t.notebook_seconds:.1f}",
             "" if t.cpu_seconds is None else f"{t.cpu_seconds:.1f}"] for (student, file), t in sorted(timings.items())]
    header = ["student", "file", "seconds", "notebook seconds", "cpu seconds"]
    write_text(out_dir / "timings.csv", csv_text(header, rows))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with \\n line ends on every platform."""
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)


def with_missing(grades: list[Grade], course: dict[str, CourseNotebook], students: set[str]) -> list[Grade]:
    """The grades plus a `missing` row for each course notebook a student handed in no file for."""
    handed = {(g.submission.student, g.notebook) for g in grades}
    missing = [Grade(Submission(student, "", Path()), "missing", name)
               for student in students for name in course if (student, name) not in handed]
    return sorted(grades + missing, key=lambda g: (g.submission.student, g.notebook, g.submission.file))


def handed_in(grades: list[Grade]) -> list[Grade]:
    """The grades of files that were handed in (not the `missing` rows)."""
    return [g for g in grades if g.status != "missing"]


def best_per_notebook(grades: list[Grade], course: dict[str, CourseNotebook]) -> dict[str, dict[str, int]]:
    """Per student, per course notebook, the exercises passed in their best file for it."""
    best = defaultdict(lambda: dict.fromkeys(sorted(course), 0))
    for grade in grades:
        counts = best[grade.submission.student]
        if grade.notebook in counts:
            counts[grade.notebook] = max(counts[grade.notebook], grade.total)
    return best


def late_notebooks(grades: list[Grade]) -> dict[str, str]:
    """Per student, the course notebooks whose counted file (the best; on time before late) was late."""
    counted: dict[tuple[str, str], Grade] = {}
    for grade in handed_in(grades):
        key = (grade.submission.student, grade.notebook)
        if grade.notebook and (key not in counted or (grade.total, not grade.submission.late) >
                               (counted[key].total, not counted[key].submission.late)):
            counted[key] = grade
    late = defaultdict(list)
    for (student, notebook), grade in sorted(counted.items()):
        if grade.submission.late:
            late[student].append(notebook)
    return {student: " ".join(notebooks) for student, notebooks in late.items()}


def exercise_columns(course: dict[str, CourseNotebook]) -> list[str]:
    """Every exercise id of the course, notebook by notebook, in notebook order."""
    return [id_ for name in sorted(course) for id_ in course[name].exercise_ids]


def grades_csv(grades: list[Grade], course: dict[str, CourseNotebook]) -> str:
    """One row per submission: student, notebook, file, status, each exercise's status, total passed, late."""
    columns = exercise_columns(course)
    rows = [[g.submission.student, g.notebook, g.submission.file, g.status,
             *[g.exercises.get(id_, ("", ""))[0] for id_ in columns], g.total, "yes" if g.submission.late else ""]
            for g in grades]
    return csv_text(["student", "notebook", "file", "status", *columns, "total", "late"], rows)


def gradebook_csv(grades: list[Grade], course: dict[str, CourseNotebook]) -> str:
    """One row per student for an LMS import: total passed (best file per notebook), exercises, per notebook,
    and the notebooks handed in late."""
    exercises = sum(len(notebook.exercises) for notebook in course.values())
    best, late = best_per_notebook(grades, course), late_notebooks(grades)
    rows = [[student, sum(counts.values()), exercises, *counts.values(), late.get(student, "")]
            for student, counts in sorted(best.items())]
    return csv_text(["student", "total passed", "total exercises", *sorted(course), "late"], rows)


def csv_text(header: list[str], rows: list[list]) -> str:
    """CSV text with every field made safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in [header, *rows]:
        writer.writerow([spreadsheet_safe(field) for field in row])
    return buffer.getvalue()


def spreadsheet_safe(field) -> str:
    """The field as text, with a `'` in front when a spreadsheet would read it as a formula."""
    text = str(field)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def duplicate_notes(grades: list[Grade]) -> dict[int, str]:
    """For each grade whose student handed in several files for one notebook, a note saying so."""
    groups = defaultdict(list)
    for grade in handed_in(grades):
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


def report_markdown(grades: list[Grade], course: dict[str, CourseNotebook], notes: list[str], options: Options,
                    changed: list[str], sandbox_problem: str, review_errors: list[str], seeds: list[int]) -> str:
    """The instructor's report: isolation, integrity, flags, settings, summary, counts, notes, per-student sections."""
    columns = exercise_columns(course)
    students = sorted({g.submission.student for g in grades})
    best = best_per_notebook(grades, course)
    exercises = sum(len(notebook.exercises) for notebook in course.values())
    lines = [
        "# Grading report", "", *isolation_lines(sandbox_problem), *integrity_lines(changed),
        *review_error_lines(review_errors), *flagged_lines(grades), *accepted_lines(grades),
        f"{plural(len(handed_in(grades)), 'file')} from {plural(len(students), 'student')}, graded against course notebooks "
        + ", ".join(f"{name} ({plural(len(course[name].exercises), 'exercise')})" for name in sorted(course)) + ".",
        f"Limits: {options.cpu_seconds:g} s of CPU time to run a notebook ({options.timeout:g} s of wall-clock "
        f"time at most), {options.check_timeout:g} s of CPU time per check, "
        f"{options.memory_mb} MiB of memory per kernel.", "",
        f"The checks' inputs were drawn from seed {', '.join(map(str, seeds))}, which no kernel saw (grading again "
        "with `--seed` and the same seed draws the same inputs).", "",
        "Seconds spent on each file are in timings.csv (which alone differs between runs).", "",
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
        lines += ["", "## Notes", "", *[f"- {plain(note)}" for note in notes]]
    for student in students:
        lines += ["", f"## {plain(student)}", "",
                  f"Total: {sum(best[student].values())} of {plural(exercises, 'exercise')} passed "
                  "(the best file for each course notebook counts)."]
        for grade in (g for g in grades if g.submission.student == student):
            if grade.status == "missing":
                lines += ["", f"### {grade.notebook}: not handed in"]
            else:
                lines += ["", *submission_section(grade, course, f"### {plain(grade.submission.file)}", [])]
    return "\n".join(lines) + "\n"


def integrity_lines(changed: list[str]) -> list[str]:
    """The report's opening lines on whether grading left every submission file as it was."""
    if not changed:
        return ["Every file in the submissions folder had the same SHA-256 after grading as before.", ""]
    return ["## WARNING: grading changed the submissions folder", "",
            "Code in a submission wrote outside its private copy (through an absolute path). "
            "These files are not as handed in, so their grades cannot be trusted:", "",
            *[f"- {plain(change)}" for change in changed], ""]


def isolation_lines(problem: str) -> list[str]:
    """The report's first lines: whether each kernel ran in a sandbox of its own, and what it means if not."""
    if not problem:
        return ["Each notebook ran in a bubblewrap sandbox of its own: the system, Python and a copy of the course's "
                "`utils` read-only (nothing else of the course, no submissions, not this folder), its own working "
                "and temporary folders, its own process namespace (everything it started ended with it), no "
                "network. No kernel could read or change another's files, see or signal its processes, or change "
                "the course copy; it could still compete with them for the machine's CPU, memory and disk.", ""]
    return ["## WARNING: the notebooks ran without a sandbox", "",
            f"No sandbox was used: {problem}. Each kernel ran as your user, beside the others: code in a "
            "submission could read and write your files (the course's solutions, other submissions, this output "
            "folder), reach the network, and see, signal or outlive other students' kernels, so one student could "
            "change another's grades. The submissions' SHA-256 check below still catches a write to the "
            "submissions folder. Grade on Linux with bubblewrap installed (`apt-get install bubblewrap`) and "
            "user namespaces allowed.", ""]


def flagged_lines(grades: list[Grade]) -> list[str]:
    """The report's list of exercises flagged for review, or nothing when there are none."""
    flagged = [(g, id_, message) for g in grades for id_, (status, message) in sorted(g.exercises.items())
               if status == "flagged"]
    if not flagged:
        return []
    return ["## Flagged for review", "",
            "These exercise cells did something an answer never needs and that can tamper with grading. They count "
            "as not passed until you have read the cell; each entry quotes what the check itself said.",
            *[line for g, id_, message in flagged
              for line in ("", f"**{plain(g.submission.student + '/' + g.submission.file)}, exercise {id_}**", "",
                           fenced(message))],
            ""]


def review_error_lines(errors: list[str]) -> list[str]:
    """The report's list of --accept rows that named nothing flagged, or nothing when there are none."""
    if not errors:
        return []
    return ["## ERROR: review rows that name nothing flagged", "",
            "These rows of the --accept file were not applied (the others were):", "",
            *[f"- {plain(error)}" for error in errors], ""]


def accepted_lines(grades: list[Grade]) -> list[str]:
    """The report's list of flagged exercises accepted after review (--accept), or nothing when there are none."""
    accepted = [f"- {plain(g.submission.student + '/' + g.submission.file)}, exercise {id_}: flagged, accepted; "
                f"the check said {g.exercises[id_][0]}" for g in grades for id_ in sorted(g.accepted)]
    if not accepted:
        return []
    return ["## Accepted after review", "",
            "These exercises were flagged, and you accepted them (--accept): each counts as its check's own verdict.",
            "", *accepted, ""]


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
    title = f"# Feedback on {plain(grade.submission.file)} ({plain(grade.submission.student)})"
    return "\n".join([title, "", *submission_section(grade, course, "## Result", extra_notes)]) + "\n"


def submission_section(grade: Grade, course: dict[str, CourseNotebook], heading: str,
                       extra_notes: list[str]) -> list[str]:
    """Markdown lines for one submission: status, exercise table, check messages, notes."""
    notebook = course.get(grade.notebook)
    lines = [heading, "",
             f"Course notebook: {grade.notebook or 'not recognised'}. "
             f"Status: {grade.status} ({STATUS_MEANING[grade.status]})."]
    if grade.submission.late:
        lines[-1] += " Canvas marked this file late."
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
        lines += ["", "Notes:", "", *[f"- {plain(note)}" for note in notes]]
    return lines


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table whose cells are plain text."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(plain(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def plain(text) -> str:
    """Text as one line of Markdown that renders as exactly that text (control characters become spaces)."""
    return MARKDOWN_SYNTAX.sub(lambda match: "\\" + match[0], CONTROL_CHARACTERS.sub(" ", str(text)))


def fenced(text: str) -> str:
    """Text in a Markdown code block whose fence is longer than any run of backticks in it (so none can close it)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def plural(count: int, noun: str) -> str:
    """`1 file`, `2 files`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
