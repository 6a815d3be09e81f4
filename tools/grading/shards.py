"""Split a class across machines (`--shard i/n`) and merge the parts (`--merge DIR...`).

Shard i of n grades every n-th student, in name order, starting with the i-th, so the parts
are disjoint, cover the class, and are balanced whatever the folder holds. Each part writes
its usual results plus `results.json`, everything `--merge` needs to write the class's
results as one run would have.
"""
import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.grading.course import CourseNotebook
from tools.grading.runner import Grade, Options, Timing
from tools.grading.submissions import Found, Submission
from tools.shard import part_of

RESULTS_NAME = "results.json"
RESULTS_FORMAT = 2


@dataclass(frozen=True)
class Part:
    """What one grading run recorded: its shard, course version, options, findings and grades."""

    shard: tuple[int, int]
    course: dict[str, str]
    options: dict
    found: Found
    grades: list[Grade]
    changed: list[str]
    sandbox_problem: str  # why kernels ran without a sandbox of their own ("" when every one had one)
    timings: dict[tuple[str, str], Timing]
    seeds: list[int]  # the seed(s) the checks' inputs were drawn from (one per part graded)


def shard_of(found: Found, shard: tuple[int, int]) -> Found:
    """The students of shard i of n (every n-th in name order), their submissions, and every note."""
    students = set(part_of(sorted(found.students), shard))
    return Found([s for s in found.submissions if s.student in students], students, found.notes, found.skipped)


def course_versions(course: dict[str, CourseNotebook]) -> dict[str, str]:
    """Each course notebook's source hash: parts graded against other versions must not be merged."""
    return {name: notebook.source_sha256 for name, notebook in sorted(course.items())}


def save_part(out_dir: Path, part: Part) -> None:
    """Write `results.json` for a later merge."""
    data = {
        "format": RESULTS_FORMAT, "shard": list(part.shard), "course": part.course, "options": part.options,
        "students": sorted(part.found.students), "notes": part.found.notes, "skipped": part.found.skipped,
        "changed": part.changed, "sandbox_problem": part.sandbox_problem, "seeds": part.seeds,
        "grades": [grade_record(g) for g in part.grades],
    }
    (out_dir / RESULTS_NAME).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def grade_record(grade: Grade) -> dict:
    """One grade as JSON-ready data (its seconds stay in timings.csv, which alone varies between runs)."""
    return {"student": grade.submission.student, "file": grade.submission.file, "path": str(grade.submission.path),
            "late": grade.submission.late,
            "status": grade.status, "notebook": grade.notebook, "exercises": grade.exercises, "notes": grade.notes,
            "wall_clock_timeout": grade.wall_clock_timeout, "retried": grade.retried, "verdicts": grade.verdicts,
            "accepted": grade.accepted}


def load_part(folder: Path) -> Part:
    """Read the `results.json` a sharded run wrote in `folder`; ValueError when it is missing or unreadable."""
    path = folder / RESULTS_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} could not be read ({error}); expected the output folder of a grading run") from None
    if data.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path} was written by another version of the grader; grade that part again")
    grades = [Grade(Submission(r["student"], r["file"], Path(r["path"]), r["late"]), r["status"], r["notebook"],
                    {k: tuple(v) for k, v in r["exercises"].items()}, r["notes"], r["wall_clock_timeout"], r["retried"],
                    {k: tuple(v) for k, v in r["verdicts"].items()}, accepted=r["accepted"])
              for r in data["grades"]]
    timings = read_timings(folder / "timings.csv")
    found = Found([g.submission for g in grades], set(data["students"]), data["notes"], data["skipped"])
    return Part(tuple(data["shard"]), data["course"], data["options"], found, grades, data["changed"],
                data["sandbox_problem"], timings, data["seeds"])


def read_timings(path: Path) -> dict[tuple[str, str], Timing]:
    """The cost per (student, file) in a timings.csv ({} when it is missing)."""
    if not path.exists():
        return {}
    with open(path, encoding="utf-8", newline="") as file:
        return {(row["student"], row["file"]): Timing(float(row["seconds"]), float(row["notebook seconds"]),
                                                      float(row["cpu seconds"]) if row["cpu seconds"] else None)
                for row in csv.DictReader(file)}


def merge_parts(parts: list[Part], course: dict[str, CourseNotebook]) -> Part:
    """One part holding the whole class; ValueError unless the parts are the shards 1..n of one run setup."""
    counts = {part.shard[1] for part in parts}
    numbers = sorted(part.shard[0] for part in parts)
    if len(counts) != 1 or numbers != list(range(1, next(iter(counts)) + 1)):
        raise ValueError(f"the folders hold shards {', '.join(f'{i}/{n}' for i, n in sorted(p.shard for p in parts))}; "
                         "expected each of 1/n ... n/n exactly once")
    if any(part.course != course_versions(course) for part in parts):
        raise ValueError("a part was graded against another version of the course notebooks than this course's")
    if any(part.options != parts[0].options for part in parts):
        raise ValueError("the parts were graded with different limits; grade them again with the same options")
    found = Found([s for p in parts for s in p.found.submissions], set().union(*(p.found.students for p in parts)),
                  parts[0].found.notes, parts[0].found.skipped)
    timings = {key: value for part in parts for key, value in part.timings.items()}
    grades = sorted((g for p in parts for g in p.grades), key=lambda g: (g.submission.student, g.notebook, g.submission.file))
    return Part((1, 1), parts[0].course, parts[0].options, found, grades,
                sorted({c for p in parts for c in p.changed}),
                next((p.sandbox_problem for p in parts if p.sandbox_problem), ""),
                timings, sorted({seed for p in parts for seed in p.seeds}))


def options_record(options: Options) -> dict:
    """The options as JSON-ready data (parts must agree on them; `jobs` may differ between machines)."""
    record = asdict(options)
    record.pop("jobs")
    return record
