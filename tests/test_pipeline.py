"""The notebook pipeline: one source gives a solution and a student notebook, stably and safely."""
import json

import pytest

from tools import build_notebooks as pipeline

SOURCE = '''# %% [markdown]
# # Tiny notebook

# %%
from utils.checks import check_discounted_return

# %% exercise="1.1: discounted_return"
def discounted_return(rewards, gamma):
    """Discounted return."""
    ### BEGIN SOLUTION
    weights = [gamma ** k for k in range(len(rewards))]
    return float(sum(w * r for w, r in zip(weights, rewards)))
    ### END SOLUTION

# %% check="1.1"
# NBVAL_CHECK_OUTPUT
check_discounted_return(discounted_return)
'''
SOLUTION_LINES = ["weights = [gamma ** k for k in range(len(rewards))]", "return float(sum(w * r for w, r in zip(weights, rewards)))"]


@pytest.fixture()
def course(tmp_path, monkeypatch):
    """A scratch course folder with one source, wired into the pipeline's paths."""
    monkeypatch.setattr(pipeline, "ROOT", tmp_path)
    monkeypatch.setattr(pipeline, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(pipeline, "NOTEBOOKS", tmp_path / "notebooks")
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_tiny.py").write_text(SOURCE)
    return tmp_path


def cell_text(path) -> str:
    """All cell sources of a notebook file, joined."""
    return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])


def test_marker_validation_accepts_the_real_sources():
    for source in pipeline.sources():
        pipeline.read_source(source)


def test_student_notebook_stubs_every_region_and_keeps_the_rest():
    notebook, regions = pipeline.read_source(pipeline.SOLUTIONS / "01_mdp.py")
    student = pipeline.student_notebook(notebook)
    text = "\n".join(cell.source for cell in student.cells)
    assert text.count('raise NotImplementedError("Exercise 1.1: discounted_return")') == 1
    assert text.count('raise NotImplementedError("Exercise 1.2: bellman_optimality_backup")') == 1
    assert "BEGIN SOLUTION" not in text and "NBVAL_CHECK_OUTPUT" not in text
    assert all(cell.get("outputs", []) == [] for cell in student.cells)
    assert "generated from `solutions/01_mdp.py`" in student.cells[0].source
    assert "**Run All** stops at the first exercise that is not done yet" in student.cells[0].source
    assert pipeline.leaked_lines(regions, pipeline.serialize(student)) == []


@pytest.mark.slow
def test_round_trip_then_rebuild_is_byte_stable_and_does_not_re_execute(course, capsys):
    pipeline.build(pipeline.sources())
    solution, student = course / "solutions" / "01_tiny.ipynb", course / "notebooks" / "01_tiny.ipynb"
    executed = json.loads(solution.read_text())
    outputs = [o for cell in executed["cells"] if cell["cell_type"] == "code" for o in cell["outputs"]]
    assert any("passed" in "".join(o.get("text", [])) for o in outputs)
    assert executed["metadata"]["course"]["exercises"][0]["id"] == "1.1"
    assert [cell["id"] for cell in executed["cells"]] == [f"01_tiny-{i:02d}" for i in range(len(executed["cells"]))]
    assert all(line not in cell_text(student) for line in SOLUTION_LINES)
    assert 'raise NotImplementedError("Exercise 1.1: discounted_return")' in cell_text(student)
    before = {path: path.read_bytes() for path in (solution, student)}
    capsys.readouterr()
    pipeline.build(pipeline.sources())
    assert capsys.readouterr().out == ""  # nothing executed, nothing written
    assert {path: path.read_bytes() for path in before} == before
    assert pipeline.check(pipeline.sources()) == []


WRITER = """# %% [markdown]
# # Writer

# %%
from pathlib import Path
print("left over:", Path("agent.txt").is_file())
Path("agent.txt").write_text("trained")
"""
READER = """# %% [markdown]
# # Reader

# %%
from pathlib import Path
print("read:", Path("agent.txt").read_text())
"""


def printed(path) -> str:
    """Everything a notebook file's code cells printed."""
    return "".join("".join(o.get("text", [])) for cell in json.loads(path.read_text())["cells"]
                   if cell["cell_type"] == "code" for o in cell["outputs"])


@pytest.mark.slow
def test_notebooks_run_in_a_fresh_folder_and_one_reading_an_earlier_ones_files_gets_them(course, monkeypatch, capsys):
    solutions = course / "solutions"
    (solutions / "01_tiny.py").unlink()
    (solutions / "01_writer.py").write_text(WRITER)
    (solutions / "02_reader.py").write_text(READER)
    (solutions / "agent.txt").write_text("an instructor's own run")  # left in solutions/, as `make check` leaves one
    monkeypatch.setattr(pipeline, "READS_FILES_OF", {"02_reader": "01_writer"})
    pipeline.build(pipeline.sources())
    assert printed(solutions / "01_writer.ipynb") == "left over: False\n"
    assert printed(solutions / "02_reader.ipynb") == "read: trained\n"
    assert (solutions / "agent.txt").read_text() == "an instructor's own run"
    writer = (solutions / "01_writer.ipynb").read_bytes()
    (solutions / "02_reader.py").write_text(READER.replace("read:", "read again:"))
    capsys.readouterr()
    pipeline.build(pipeline.sources())  # only the reader changed: the writer runs first, for its file only
    assert "executing 01_writer first, for the files 02_reader reads" in capsys.readouterr().out
    assert printed(solutions / "02_reader.ipynb") == "read again: trained\n"
    assert (solutions / "01_writer.ipynb").read_bytes() == writer


@pytest.mark.slow
def test_check_reports_stale_and_leaking_notebooks(course):
    pipeline.build(pipeline.sources())
    student = course / "notebooks" / "01_tiny.ipynb"
    notebook = json.loads(student.read_text())
    notebook["cells"][-1]["source"] += "\n" + SOLUTION_LINES[0]
    student.write_text(json.dumps(notebook))
    assert any("stale" in problem for problem in pipeline.check(pipeline.sources()))
    source = course / "solutions" / "01_tiny.py"
    source.write_text(source.read_text().replace("Discounted return.", "The discounted return."))
    problems = pipeline.check(pipeline.sources())
    assert "solutions/01_tiny.ipynb is stale: run `make notebooks`" in problems


def test_solution_line_outside_its_region_is_a_leak(course):
    source = course / "solutions" / "01_tiny.py"
    source.write_text(SOURCE + "\n# %%\n" + SOLUTION_LINES[0].replace("weights", "    weights").strip() + "\n")
    with pytest.raises(pipeline.SourceError, match="would appear in the student notebook"):
        pipeline.build(pipeline.sources())


BROKEN = {
    "unclosed": ("    ### END SOLUTION\n", "", r"01_tiny.py:10: ### BEGIN SOLUTION is not closed"),
    "end without begin": ("    ### BEGIN SOLUTION\n", "", r"01_tiny.py:12: ### END SOLUTION without"),
    "nested": ("    return float", "    ### BEGIN SOLUTION\n    return float", r"01_tiny.py:12: nested"),
    "malformed": ("    ### END SOLUTION", "    ## END SOLUTION", r"01_tiny.py:13: malformed marker"),
    "in markdown": ("# # Tiny notebook", "# # Tiny notebook\n# ### BEGIN SOLUTION", r"01_tiny.py:3: solution marker in a markdown cell"),
    "no exercise label": ('# %% exercise="1.1: discounted_return"', "# %%", "without exercise="),
    "no check": ('# %% check="1.1"', "# %%", "exercise 1.1 has no check cell"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_source_stops_with_file_and_line_and_writes_nothing(course, case):
    old, new, message = BROKEN[case]
    good = course / "solutions" / "00_good.py"
    good.write_text(SOURCE.replace("01_tiny", "00_good"))
    committed = course / "notebooks" / "00_good.ipynb"
    committed.parent.mkdir()
    committed.write_bytes(b"committed bytes")
    source = course / "solutions" / "01_tiny.py"
    source.write_text(SOURCE.replace(old, new, 1))
    with pytest.raises(pipeline.SourceError, match=message):
        pipeline.build(pipeline.sources())
    assert committed.read_bytes() == b"committed bytes"
    assert sorted(p.name for p in (course / "solutions").iterdir()) == ["00_good.py", "01_tiny.py"]


def with_markdown(lines: str) -> str:
    """SOURCE with one more markdown cell holding `lines` (its first line is line 20 of the file)."""
    return SOURCE + "\n# %% [markdown]\n" + "".join(f"# {line}".rstrip() + "\n" for line in lines.splitlines())


def test_number_wrapped_to_the_start_of_a_markdown_line_is_rejected(course):
    (course / "solutions" / "01_tiny.py").write_text(with_markdown("as shown by van Hasselt et al.\n2016) it helps."))
    with pytest.raises(pipeline.SourceError, match=r"01_tiny.py:21: markdown line starts with '2016\)'.*rewrap"):
        pipeline.read_source(course / "solutions" / "01_tiny.py")


@pytest.mark.parametrize("lines", [
    "Steps:\n\n1. reset\n2. act\n3) learn",
    "```text\nlength 20,\n2016. not a list in a fence\n```",
    "| n | meaning |\n|---|---|\n| 1 | one |\n2. | two |",
    "Double DQN (2016). Its year may start a line when no space follows:\n2016). Fine.",
])
def test_numbered_lines_that_are_lists_or_code_are_accepted(course, lines):
    (course / "solutions" / "01_tiny.py").write_text(with_markdown(lines))
    pipeline.read_source(course / "solutions" / "01_tiny.py")


def test_command_line_reports_errors_in_one_line(course, capsys):
    (course / "solutions" / "01_tiny.py").write_text(SOURCE.replace("    ### END SOLUTION\n", ""))
    assert pipeline.main([]) == 2
    assert capsys.readouterr().err.startswith("error: solutions/01_tiny.py:10:")


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "x.ipynb"
    pipeline.write_atomic(target, b"one")
    pipeline.write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["x.ipynb"]
