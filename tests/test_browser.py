"""In a real browser (Debian's `chromium`): the executed solution notebooks' videos load, play
and have the right length, with no JavaScript error; and in a real JupyterLab, an explorer
answers a click and the live training view shows its widgets."""
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

from tools.browser_check import (Chromium, LocalServer, check_page, embedded_mp4s, find_chromium, notebook_html,
                                 video_facts)
from utils.video import FPS
from utils.widgets import epsilon_curves, epsilon_summary

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))
ARTIFACTS = ROOT / "tests" / "artifacts"
VIDEO_FPS = {"08_capstone": 15}
"""Notebooks whose videos are not CartPole's 50 frames per second."""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def chromium():
    """One headless browser for all notebooks."""
    browser = Chromium(find_chromium())
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A local web server over a folder the notebooks' HTML is written into."""
    folder = tmp_path_factory.mktemp("html")
    server = LocalServer(folder)
    yield folder, server
    server.close()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_videos_play_in_chromium(notebook, chromium, site):
    folder, server = site
    html = notebook_html(notebook, folder)
    facts = [video_facts(mp4) for mp4 in embedded_mp4s(html.read_text())]
    report = check_page(chromium, server.url(html.name), ARTIFACTS / f"{notebook.stem}.png")
    print(f"screenshot: {report.screenshot}")

    assert report.errors == [], f"JavaScript errors in {notebook.name}: {report.errors}"
    assert len(report.videos) == len(facts), "every embedded MP4 should be one <video> on the page"
    for number, (video, (count, fps, size)) in enumerate(zip(report.videos, facts), 1):
        where = f"{notebook.name}, video {number}"
        assert video["error"] is None, f"{where}: media error code {video['error']}"
        assert video["played"] is True, f"{where}: did not play ({video['played']})"
        assert video["readyState"] >= 2, f"{where}: no frame decoded (readyState {video['readyState']})"
        assert (video["width"], video["height"]) == size
        # Each env's video plays at its own render fps, in real time: CartPole 50, notebook 8's Acrobot 15.
        assert fps == VIDEO_FPS.get(notebook.stem, FPS), f"{where}: {fps:g} fps"
        assert abs(video["duration"] - count / fps) <= 1 / fps, (
            f"{where}: plays {video['duration']:.3f} s; {count} frames at {fps:g} fps are {count / fps:.3f} s")
        assert video["brightness"] > 100, f"{where}: the decoded frame is dark (mean {video['brightness']:.0f})"
    assert report.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_broken_video_is_reported(chromium, site):
    folder, server = site
    page = folder / "broken.html"
    junk = base64.b64encode(b"\x00\x00\x00\x18ftypmp42" + bytes(200)).decode()
    page.write_text(f'<video src="data:video/mp4;base64,{junk}"></video><script>undefined_name()</script>'
                    '<img src="data:image/png;base64,<memory at 0x0>"><script src="https://cdn.example/x.js"></script>')
    report = check_page(chromium, server.url(page.name))
    assert report.videos[0]["error"] is not None and report.videos[0]["played"] is not True
    assert any("undefined_name" in error for error in report.errors)
    assert any(error.startswith("data:image/png") for error in report.errors), "a broken inline image is an error"
    assert [blocked.split(":")[0] for blocked in report.blocked] == ["https"], "an unreachable CDN is not"


LAB_NOTEBOOK = [
    "from utils.widgets import epsilon_explorer\nexplorer = epsilon_explorer()\nexplorer",
    "from utils.dqn import DQNConfig, train\nfrom utils.live import LiveTrainingView\n"
    "view = LiveTrainingView(2_000)\n"
    "result = train(DQNConfig(max_env_steps=2_000, check_every=100_000), on_episode=view.on_episode)\n"
    "view.finish()\nprint('live view mode:', view.mode)",
]
ACCEPT_DIALOG = "document.querySelector('.jp-Dialog .jp-mod-accept')?.click()"
KERNEL_STATUS = ("[...window.jupyterapp.shell.widgets('main')].find(w => w.sessionContext)"
                 "?.sessionContext.session?.kernel?.status")
OUTPUT_TEXT = "[...document.querySelectorAll('.jp-OutputArea pre')].map(e => e.textContent).join('\\n')"
CLICK_TARGET = """(() => {
  const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'exponential');
  button.scrollIntoView({block: 'center'});
  const box = button.getBoundingClientRect();
  return [box.x + box.width / 2, box.y + box.height / 2];
})()"""


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server (no token, app exposed to page scripts) over a folder with one notebook."""
    cells = [nbformat.v4.new_code_cell(source) for source in LAB_NOTEBOOK]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), tmp_path / "explore.ipynb")
    with socket.socket() as probe:  # a free port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={tmp_path}"],
        # Its own config, data and runtime folders: nothing read from or written to the user's.
        env={**os.environ, "PYTHONPATH": str(ROOT), **{f"JUPYTER_{kind}_DIR": str(tmp_path / kind.lower())
                                                      for kind in ("CONFIG", "DATA", "RUNTIME")}},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/lab/tree/explore.ipynb"
    try:
        wait_for_server(url, server)
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
    raise TimeoutError(f"JupyterLab did not answer at {url} within a minute")


@pytest.mark.slow
def test_explorer_and_live_view_work_in_jupyterlab(chromium, jupyterlab):
    page = chromium.new_page()
    try:
        for domain in ("Page", "Runtime"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1600, deviceScaleFactor=1, mobile=False)
        page.send("Page.navigate", url=jupyterlab)
        page.wait_until("!!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))")
        # A fresh JupyterLab may ask which kernel to start: accept its proposal (the notebook's own).
        page.wait_until(f"({ACCEPT_DIALOG}, {KERNEL_STATUS} === 'idle')")
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells'), true")  # not awaited
        text = page.wait_until(f"(t => t.includes('live view mode:') && t)({OUTPUT_TEXT})")
        assert epsilon_summary(epsilon_curves(1.0, 0.05, 10_000, 20, "linear")) in text
        assert "live view mode: widget" in text, "JupyterLab's kernel has JPY_SESSION_NAME: widgets expected"
        assert page.evaluate("document.querySelectorAll('.widget-hprogress').length") == 1, "no progress bar"
        assert page.evaluate("document.body.innerText.includes('finished: ')"), "no final status line"
        assert page.evaluate("document.querySelectorAll('.jp-OutputArea img').length") == 2, "explorer + live plot"
        page.click(*page.evaluate(CLICK_TARGET))
        expected = epsilon_summary(epsilon_curves(1.0, 0.05, 10_000, 20, "exponential"))
        page.wait_until(f"({OUTPUT_TEXT}).includes({expected!r})")
    finally:
        print("screenshot:", page.screenshot(ARTIFACTS / "jupyterlab_explorer.png"))
        page.close()
