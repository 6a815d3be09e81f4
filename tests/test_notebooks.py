"""The committed notebooks: embedded videos are real, student copies fail only politely."""
import base64
import json
import re
from pathlib import Path

import imageio.v2 as imageio
import nbformat
import pytest
from nbclient import NotebookClient

from tools.build_notebooks import NBVAL_SKIP

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))


def outputs(notebook: dict):
    """(cell index, output) for every output of a notebook's code cells."""
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            yield index, output


def test_random_agent_video_has_one_frame_per_state(tmp_path):
    notebook = json.loads((ROOT / "solutions" / "01_mdp.ipynb").read_text())
    videos = [(i, o) for i, o in outputs(notebook) if "data:video/mp4" in "".join(o.get("data", {}).get("text/html", ""))]
    assert len(videos) == 1
    index, video = videos[0]
    steps = int(re.match(r"(\d+) steps", "".join(notebook["cells"][index]["outputs"][0]["text"])).group(1))
    payload = re.search(r"base64,([^\"]+)\"", "".join(video["data"]["text/html"])).group(1)
    path = tmp_path / "random.mp4"
    path.write_bytes(base64.b64decode(payload))
    reader = imageio.get_reader(path, format="FFMPEG")
    assert sum(1 for _ in reader) == steps + 1
    assert reader.get_meta_data()["fps"] == 50


def without_optional_cells(path: Path):
    """The student notebook at `path` without notebook 7's optional live training (minutes), which nbval skips too."""
    notebook = nbformat.read(path, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
    optional = {cell.id for cell in solution.cells if NBVAL_SKIP in cell.source.splitlines()}
    notebook.cells = [cell for cell in notebook.cells if cell.id not in optional]
    return notebook


@pytest.fixture(scope="module")
def student_runs(tmp_path_factory) -> dict:
    """Every student notebook, exercises untouched, run in turn in one kernel: {path: its executed cells}.

    Each starts after `%reset -f`, which deletes every name the ones before it made (so a missing
    import still fails), in a folder of its own. One kernel, not eight: a kernel start and the
    course's imports cost about 3 s of CPU each, and a student opens the notebooks one at a time anyway.
    """
    folder = tmp_path_factory.mktemp("student_runs")
    merged, spans = nbformat.v4.new_notebook(), {}
    for path in STUDENT:
        home = folder / path.stem
        home.mkdir()
        merged.cells.append(nbformat.v4.new_code_cell(f"%reset -f\n%cd -q {home}"))
        cells = without_optional_cells(path).cells
        spans[path] = cells
        merged.cells.extend(cells)  # the same cell objects: execution fills in their outputs
    NotebookClient(merged, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return spans


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_student_notebook_stops_only_at_unfinished_exercises(path, student_runs):
    cells = student_runs[path]
    for cell in cells:
        if "exercise" in cell.metadata:  # running an untouched exercise cell says so, in one line
            said = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
            assert f"Exercise {cell.metadata['exercise']} is not done yet" in said
    errors = [o for cell in cells if cell.cell_type == "code" for o in cell.outputs if o["output_type"] == "error"]
    assert errors, "a student notebook with exercises must stop at them"
    for error in errors:
        assert error["ename"] == "ExerciseNotDone", f"{error['ename']}: {error['evalue']}"
        assert re.match(r"Exercise \d+\.\d+: .+ is not done yet", error["evalue"])
        assert len(error["traceback"]) == 1, "the student sees one line, not a traceback"


def test_the_value_growth_table_quotes_the_committed_measurement():
    rows = json.loads((ROOT / "results" / "value_growth.json").read_text())["rows"]
    text = (ROOT / "solutions" / "06_evaluation.py").read_text()
    table = {label: " | ".join(cell(row) for row in rows) for label, cell in (
        ("target copies (environment steps)", lambda row: f"{row['copies']} ({row['env_steps']:,})"),
        ("measured $\\max_a Q$", lambda row: f"{row['measured']:.1f}"),
        ("predicted $100\\,(1 - 0.99^k)$", lambda row: f"{row['predicted']:.1f}"))}
    for label, cells in table.items():
        assert f"# | {label} | {cells} |" in text
