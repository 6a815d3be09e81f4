"""In a real JupyterLab, driven in Debian's chromium by Playwright: a student's filled-in notebook 1
runs top to bottom (every check passes, its video plays), an explorer answers a click, the live
training view shows its widgets, and with the course's settings (jupyterlab/dqn-course.json) the
status bar stays busy during a widget cell and a saved notebook keeps its widgets' state. And the
page checks themselves catch a broken video, a JavaScript error and a request that leaves the
machine. (The site's pages: tests/test_site.py.)"""
import base64
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tools.browser_check import VIDEO_PROBE, LocalServer, PageReport, check_page, watch
from tools.build_notebooks import BEGIN, END
from utils.widgets import epsilon_curves, epsilon_summary

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "last-run"
STUDENT_NOTEBOOK = "01_mdp"
LAB_NOTEBOOK = [
    "from utils.widgets import epsilon_explorer\nexplorer = epsilon_explorer()\nexplorer",
    "from utils.dqn import DQNConfig, train\nfrom utils.live import LiveTrainingView\n"
    "view = LiveTrainingView(2_000)\n"
    "result = train(DQNConfig(max_env_steps=2_000, check_every=100_000), on_episode=view.on_episode)\n"
    "view.finish()\nprint('live view mode:', view.mode)",
]
WIDGET_CELL = ("import time\nimport ipywidgets\nfrom IPython.display import display\n"
               "bar = ipywidgets.IntProgress(max=20)\ndisplay(bar)\n"
               "for i in range(20):\n    bar.value = i\n    time.sleep(0.25)\nprint('done')")
"""A cell that displays a widget and runs for about 5 s."""
SETTINGS = ROOT / "jupyterlab" / "dqn-course.json"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
RUN_ALL_S = 600
"""A guard against a hung kernel, far above what Run All of notebook 1 needs."""
# JupyterLab keeps cells out of the DOM while they are off screen, so the state of a run is read
# from the notebook's model: the kernel's status, and each code cell's execution count and outputs.
NOTEBOOK_STATE = """() => {
  const panel = [...window.jupyterapp.shell.widgets('main')].find(widget => widget.sessionContext);
  if (!panel || !panel.content.model) return null;
  const cells = panel.content.model.cells;
  const code = Array.from({length: cells.length}, (_, i) => cells.get(i)).filter(cell => cell.type === 'code');
  return {kernel: panel.sessionContext.session?.kernel?.status ?? null,
          counts: code.map(cell => cell.executionCount),
          outputs: code.map(cell => cell.outputs.toJSON())};
}"""
# The kernel's status messages and every request the page sends, as [type, parent type] pairs.
RECORD_KERNEL_MESSAGES = """() => {
  const panel = [...window.jupyterapp.shell.widgets('main')].find(widget => widget.sessionContext);
  window.kernelMessages = [];
  panel.sessionContext.session.kernel.anyMessage.connect((kernel, args) => {
    if (args.msg.header.msg_type === 'status' || args.direction === 'send')
      window.kernelMessages.push([args.msg.header.msg_type, (args.msg.parent_header || {}).msg_type || '']);
  });
}"""
ACCEPT_DIALOG = "() => document.querySelector('.jp-Dialog .jp-mod-accept')?.click()"
OUTPUT_TEXT = "() => [...document.querySelectorAll('.jp-OutputArea pre')].map(e => e.textContent).join('\\n')"

browser = pytest.mark.browser


def student_solved(name: str):
    """The student notebook with each exercise cell filled in with its solution, as a student hands it in."""
    solutions = {cell.id: cell for cell in nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4).cells}
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if "exercise" in cell.metadata:
            lines = solutions[cell.id].source.splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in (BEGIN, END))
    return notebook


def printed(outputs: list) -> str:
    """The text a cell's outputs (in nbformat JSON, from JupyterLab's model) show."""
    return "".join(output.get("text", "") + output.get("data", {}).get("text/plain", "") for output in outputs)


@pytest.fixture(scope="module")
def lab_folder(tmp_path_factory):
    """The folder JupyterLab serves: the notebooks to open, and the course's settings as its app settings."""
    folder = tmp_path_factory.mktemp("lab")
    cells = [nbformat.v4.new_code_cell(source) for source in LAB_NOTEBOOK]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=KERNEL), folder / "explore.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WIDGET_CELL)], metadata=KERNEL),
                   folder / "widget.ipynb")
    nbformat.write(student_solved(STUDENT_NOTEBOOK), folder / f"{STUDENT_NOTEBOOK}.ipynb")
    overrides = folder / "app-settings" / "overrides.d"
    overrides.mkdir(parents=True)
    (overrides / SETTINGS.name).write_text(SETTINGS.read_text())
    return folder


@pytest.fixture(scope="module")
def jupyterlab(lab_folder):
    """A JupyterLab server (no token, app exposed to page scripts) over `lab_folder`, with the course's settings."""
    folder = lab_folder
    with socket.socket() as probe:  # a free port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={folder}",
         f"--LabApp.app_settings_dir={folder / 'app-settings'}"],
        # Its own config, data and runtime folders: nothing read from or written to the user's.
        env={**os.environ, "PYTHONPATH": str(ROOT), **{f"JUPYTER_{kind}_DIR": str(folder / kind.lower())
                                                      for kind in ("CONFIG", "DATA", "RUNTIME")}},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{url}/lab", server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_server(url: str, server) -> None:
    """Return once `url` answers; fail if the server process exits or a minute passes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, f"JupyterLab exited with status {server.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer at {url} within a minute")


def open_in_lab(chromium, jupyterlab: str, notebook: str):
    """A tab showing `notebook` in JupyterLab (a workspace of its own) once its kernel is idle; and its report."""
    page = chromium.new_page(viewport={"width": 1400, "height": 1600})
    report = PageReport(url=jupyterlab)
    watch(page, report)
    page.goto(f"{jupyterlab}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}")
    page.wait_for_function("() => !!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))")
    # A fresh JupyterLab may ask which kernel to start: accept its proposal (the notebook's own).
    page.wait_for_function(f"() => ({ACCEPT_DIALOG})() || ({NOTEBOOK_STATE})()?.kernel === 'idle'")
    return page, report


def run_all(page) -> dict:
    """Run All, as the toolbar does; the notebook's state once every code cell has run (or one failed)."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # not awaited
    return run_all_done(page)


def run_all_done(page) -> dict:
    """The notebook's state once every code cell has run (or one failed)."""
    done = (f"() => (state => state.kernel === 'idle' && (state.counts.every(count => count !== null) || "
            f"state.outputs.flat().some(output => output.output_type === 'error')))(({NOTEBOOK_STATE})())")
    page.wait_for_function(done, timeout=RUN_ALL_S * 1000, polling=500)
    return page.evaluate(NOTEBOOK_STATE)


@browser
@pytest.mark.slow
def test_a_students_filled_in_notebook_1_runs_all_in_jupyterlab(chromium, jupyterlab):
    exercises = [cell.metadata["exercise"].split(":")[0]
                 for cell in student_solved(STUDENT_NOTEBOOK).cells if "exercise" in cell.metadata]
    page, report = open_in_lab(chromium, jupyterlab, f"{STUDENT_NOTEBOOK}.ipynb")
    try:
        state = run_all(page)
        errors = [output for output in sum(state["outputs"], []) if output["output_type"] == "error"]
        assert errors == [], f"Run All stopped: {errors[:1]}"
        assert all(count is not None for count in state["counts"]), "every code cell ran"
        text = "".join(printed(outputs) for outputs in state["outputs"])
        for exercise in exercises:
            assert f"✅ Exercise {exercise} (" in text, f"no ✅ line for exercise {exercise}"
        videos = page.evaluate(VIDEO_PROBE)
        assert len(videos) == 1 and videos[0]["played"] is True and videos[0]["error"] is None, videos
        assert videos[0]["readyState"] >= 2 and videos[0]["duration"] > 0 and videos[0]["brightness"] > 100
        assert report.errors == [], f"JavaScript errors in JupyterLab: {report.errors}"
    finally:
        page.screenshot(path=ARTIFACTS / "jupyterlab_notebook_1.png")
        page.close()


@browser
@pytest.mark.slow
def test_explorer_and_live_view_work_in_jupyterlab(chromium, jupyterlab):
    page, _ = open_in_lab(chromium, jupyterlab, "explore.ipynb")
    try:
        state = run_all(page)
        text = page.evaluate(OUTPUT_TEXT)
        assert epsilon_summary(epsilon_curves(1.0, 0.05, 10_000, 20, "linear")) in text
        assert "live view mode: widget" in printed(state["outputs"][1]), "JupyterLab's kernel has JPY_SESSION_NAME"
        assert page.locator(".widget-hprogress").count() == 1, "no progress bar"
        assert "finished: " in page.inner_text("body"), "no final status line"
        assert page.locator(".jp-OutputArea img").count() == 2, "explorer + live plot"
        page.get_by_role("button", name="exponential", exact=True).click()
        expected = epsilon_summary(epsilon_curves(1.0, 0.05, 10_000, 20, "exponential"))
        page.wait_for_function(f"() => ({OUTPUT_TEXT})().includes({expected!r})")
    finally:
        page.screenshot(path=ARTIFACTS / "jupyterlab_explorer.png")
        page.close()


@browser
@pytest.mark.slow
def test_jupyterlab_stays_busy_during_a_widget_cell_and_saves_the_widget_state(chromium, jupyterlab, lab_folder):
    page, _ = open_in_lab(chromium, jupyterlab, "widget.ipynb")
    try:
        page.evaluate(RECORD_KERNEL_MESSAGES)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(f"() => ({NOTEBOOK_STATE})().kernel === 'busy'", timeout=30_000)
        samples = []
        for _ in range(6):  # the cell runs for about 5 s
            page.wait_for_timeout(500)
            samples.append(page.evaluate("() => [...window.jupyterapp.shell.widgets('main')]"
                                         ".find(w => w.sessionContext).sessionContext.kernelDisplayStatus"))
        state = run_all_done(page)
        assert "done" in printed(state["outputs"][0])
        messages = page.evaluate("() => window.kernelMessages")
        page.evaluate("() => [...window.jupyterapp.shell.widgets('main')].find(w => w.sessionContext)"
                      ".context.save().then(() => true)")
    finally:
        page.close()
    assert samples == ["busy"] * len(samples), f"the status bar would read {samples}; kernel messages: {messages}"
    assert ["create_subshell_request", ""] not in messages
    saved = nbformat.read(lab_folder / "widget.ipynb", as_version=4)
    assert "application/vnd.jupyter.widget-state+json" in saved.metadata.get("widgets", {})


@browser
def test_broken_video_error_and_remote_request_are_reported(chromium, tmp_path):
    junk = base64.b64encode(b"\x00\x00\x00\x18ftypmp42" + bytes(200)).decode()
    (tmp_path / "broken.html").write_text(
        f'<video src="data:video/mp4;base64,{junk}"></video><script>undefined_name()</script>'
        '<img src="data:image/png;base64,<memory at 0x0>"><script src="https://cdn.example/x.js"></script>')
    server = LocalServer(tmp_path)
    try:
        report = check_page(chromium, server.url("broken.html"))
    finally:
        server.close()
    assert report.videos[0]["error"] is not None and report.videos[0]["played"] is not True
    assert any("undefined_name" in error for error in report.errors)
    assert any(error.startswith("data:image/png") for error in report.errors), "a broken inline image is an error"
    assert [blocked.split(":")[0] for blocked in report.blocked] == ["https"], "an unreachable CDN is not"
    assert "https://cdn.example/x.js" in report.requests
