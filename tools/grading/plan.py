"""What the grader runs for one submission: the course's own notebook, with only the exercise cells taken from the student.

Given cells, check cells and anything a student added or edited outside the exercise cells
come from the course (or are left out), so no code outside an exercise cell can change a grade.
Given cells that no later exercise or check needs (plots, videos, training demos) are not run:
a given cell runs only when it is the notebook's first code cell (imports and seeding) or
defines a name that a later cell which runs uses, and a given cell that runs loses the import
statements nothing that runs needs. A check uses more than its cell names: it runs the
student's code in the notebook, where a right answer calls names the setup cell imported
(exercise 5.4's check looks up `epsilon_greedy_action` there), so a check counts as using
every name the course's own answer to its exercise uses, read from the solution notebook.
"""
import ast
import io
import keyword
import symtable
import tokenize
from dataclasses import dataclass, field, replace

from tools.grading.course import code_cells, source_text


@dataclass(frozen=True)
class Step:
    """One cell the grader runs: a course "given" cell, a student's "exercise" cell, or a course "check"."""

    kind: str
    source: str
    exercise: str = ""  # the exercise id of an exercise or check step
    label: str = ""  # how feedback names the cell: "the cell of exercise 1.1", "course code cell 4"


@dataclass
class Plan:
    """The steps to run, and notes for the student about cells of theirs that were not run."""

    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cell_exercise(cell: dict) -> str:
    """The exercise id an exercise cell's metadata names ("" for other cells)."""
    metadata = cell.get("metadata")
    named = metadata.get("exercise") if isinstance(metadata, dict) else None
    return named.split(":", 1)[0].strip() if isinstance(named, str) else ""


def cell_check(cell: dict) -> str:
    """The exercise id a check cell's metadata names ("" for other cells)."""
    metadata = cell.get("metadata")
    named = metadata.get("check") if isinstance(metadata, dict) else None
    return named.strip() if isinstance(named, str) else ""


def student_answers(submission: dict, course_nb: dict) -> tuple[dict[str, str], list[str]]:
    """The source of each exercise cell in the submission (found by metadata, else by cell id), and notes."""
    course_ids = {cell.get("id"): cell_exercise(cell) for cell in code_cells(course_nb) if cell_exercise(cell)}
    found: dict[str, list[str]] = {}
    for cell in code_cells(submission):
        exercise = cell_exercise(cell) or course_ids.get(cell.get("id"), "")
        if exercise:
            found.setdefault(exercise, []).append(source_text(cell))
    notes = [f"Exercise {exercise} has {len(sources)} cells; the last one was graded, as it is the one that "
             "defines your answer when the notebook runs from top to bottom."
             for exercise, sources in sorted(found.items()) if len(sources) > 1]
    return {exercise: sources[-1] for exercise, sources in found.items()}, notes


def answers_outside_their_cells(submission: dict, course_nb: dict, answers: dict[str, str]) -> list[str]:
    """Take, for an exercise whose cell is missing or untouched, a cell of the student's own that defines its names.

    Students sometimes answer in a new cell and leave the stub where it was; that cell is then
    graded as the exercise cell (and checked for tampering like one). Returns notes saying so.
    """
    stubs = {cell_exercise(cell): source_text(cell) for cell in code_cells(course_nb) if cell_exercise(cell)}
    own = [source_text(cell) for cell in student_cells(submission, course_nb)]
    notes = []
    for exercise, stub in stubs.items():
        if without_markers(answers.get(exercise, stub)) != without_markers(stub):
            continue
        found = [source for source in own if defined_names(source) & defined_names(stub)]
        if found:
            answers[exercise] = found[-1]
            notes.append(f"Your answer to exercise {exercise} was found in a cell of your own outside its "
                         "exercise cell, and graded as if it were in the exercise cell.")
    return notes


def student_cells(submission: dict, course_nb: dict) -> list[dict]:
    """The code cells the student added or edited outside the exercise and check cells."""
    course_sources = {without_markers(source_text(cell)) for cell in code_cells(course_nb)}
    return [cell for cell in code_cells(submission)
            if not cell_exercise(cell) and not cell_check(cell)
            and without_markers(source_text(cell)) not in course_sources | {""}]


def outside_cells_note(submission: dict, course_nb: dict, answers: dict[str, str]) -> list[str]:
    """A note when the student wrote code outside the exercise cells (not graded as an answer), which does not run."""
    extra = [cell for cell in student_cells(submission, course_nb) if source_text(cell) not in answers.values()]
    if not extra:
        return []
    count = f"{len(extra)} code cells you added or edited outside the exercise cells were" if len(extra) > 1 else \
        "1 code cell you added or edited outside the exercise cells was"
    return [f"{count} not run: only exercise cells are graded, inside the course's own notebook. "
            "Put any helper code your answer needs inside the exercise cell."]


def without_markers(source: str) -> str:
    """A cell's code without the `# NBVAL_...` test markers the solution notebooks carry, stripped."""
    return "\n".join(line for line in source.strip().splitlines() if not line.startswith("# NBVAL_")).strip()


def answer_names(solution_nb: dict | None) -> dict[str, set[str]]:
    """Per exercise, the global names the course's own answer uses (none without a solution notebook)."""
    cells = code_cells(solution_nb) if solution_nb else []
    return {cell_exercise(cell): used_names(source_text(cell)) for cell in cells if cell_exercise(cell)}


def build_plan(submission: dict, course_nb: dict, solution_nb: dict | None = None) -> Plan:
    """The steps that grade `submission` inside the course notebook `course_nb` (whose answers `solution_nb` holds)."""
    answers, notes = student_answers(submission, course_nb)
    notes += answers_outside_their_cells(submission, course_nb, answers) + outside_cells_note(submission, course_nb, answers)
    steps = []
    for position, cell in enumerate(code_cells(course_nb)):
        if cell_exercise(cell):
            exercise = cell_exercise(cell)
            missing = f'raise NameError("Exercise {exercise}: your notebook has no cell for this exercise")'
            steps.append(Step("exercise", answers.get(exercise, missing), exercise,
                              f"the cell of exercise {exercise}"))
        elif cell_check(cell):
            steps.append(Step("check", source_text(cell), cell_check(cell), f"the check of exercise {cell_check(cell)}"))
        else:
            steps.append(Step("given", source_text(cell), label=f"course code cell {position + 1}"))
    return Plan(needed_steps(steps, answer_names(solution_nb)), notes)


def needed_steps(steps: list[Step], answers: dict[str, set[str]]) -> list[Step]:
    """Drop given cells (other than the first) that define nothing a later kept step uses, and unused imports.

    A check uses the names its cell names and those the course's answer to its exercise uses (`answers`).
    """
    needed: set[str] = set()
    kept = []
    for index in reversed(range(len(steps))):
        step = steps[index]
        if step.kind == "given":
            if index > 0 and not (defined_names(step.source) & needed):
                continue
            step = replace(step, source=without_unused_imports(step.source, needed))
        kept.append(step)
        needed |= used_names(step.source) | (answers.get(step.exercise, set()) if step.kind == "check" else set())
    return kept[::-1]


def without_unused_imports(source: str, needed: set[str]) -> str:
    """A given cell without its top-level import statements that bind none of the `needed` names.

    A setup cell imports what its notebook's plots, videos and explorers need too; grading
    skips those cells, so it need not pay for their imports (matplotlib, ipywidgets, SciPy).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines, needed = source.splitlines(keepends=True), set(needed)
    for statement in reversed(tree.body):  # from the end, so that later statements' names are known
        code = ast.unparse(statement)
        if isinstance(statement, (ast.Import, ast.ImportFrom)) and not (defined_names(code) & needed):
            del lines[statement.lineno - 1:statement.end_lineno]
        else:
            needed |= used_names(code)
    return "".join(lines)


def used_names(source: str) -> set[str]:
    """The global names a cell reads (not its functions' parameters or locals); every identifier when it does not parse."""
    try:
        table = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return identifiers(source)
    names, pending = set(), [table]
    while pending:
        scope = pending.pop()
        pending.extend(scope.get_children())
        top = scope.get_type() == "module"
        names.update(s.get_name() for s in scope.get_symbols() if s.is_referenced() and (top or s.is_global()))
    return names


def identifiers(source: str) -> set[str]:
    """Every identifier in the source, read token by token so that code with syntax errors still counts."""
    names = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                names.add(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # the names read before the error are kept
    return names


def defined_names(source: str) -> set[str]:
    """Names a cell binds at module level; a cell that does not parse counts as defining everything it names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return identifiers(source)
    names = set()
    for node in module_level_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(imported_names(node))
    return names


def imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The names an import statement binds."""
    return [(alias.asname or alias.name).split(".")[0] for alias in node.names]


def module_level_nodes(tree: ast.AST):
    """The nodes of a module outside function, lambda, class and comprehension bodies (their names are local)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, LOCAL_SCOPES):
            pending.extend(ast.iter_child_nodes(node))


LOCAL_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
