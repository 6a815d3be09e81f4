"""The course's JupyterLab settings (jupyterlab/dqn-course.json, which `make setup` installs).

* `saveState`: a saved notebook keeps its widgets' state, so reopening it shows the last
  picture of every widget instead of "Error displaying widget: model not found".
* `commsOverSubshells: disabled`: by default JupyterLab asks the kernel for a subshell when a
  widget's comm opens; the kernel answers that control request with its own busy and idle
  status messages, and the status bar then reads "Idle" while the cell that displayed the
  widget still runs (notebook 5's training cell). The course's widgets only send from the
  kernel, so they need no subshell.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tools.browser_check import Chromium, find_chromium

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "jupyterlab" / "dqn-course.json"
SHARE = Path(sys.prefix) / "share" / "jupyter"
WIDGET_CELL = ("import time\nimport ipywidgets\nfrom IPython.display import display\n"
               "bar = ipywidgets.IntProgress(max=40)\ndisplay(bar)\n"
               "for i in range(40):\n    bar.value = i\n    time.sleep(0.25)\nprint('done')")
NOTEBOOK_JS = "Array.from(jupyterapp.shell.widgets('main')).find(w => w.sessionContext)"


def schema_of(plugin_id: str) -> dict:
    """The settings schema JupyterLab installs for a plugin id such as '@scope/package:plugin'."""
    package, plugin = plugin_id.split(":")
    candidates = [SHARE / "lab" / "schemas" / package / f"{plugin}.json",
                  *SHARE.glob(f"labextensions/{package}/schemas/{package}/{plugin}.json")]
    found = [path for path in candidates if path.is_file()]
    assert found, f"no installed JupyterLab schema for {plugin_id}"
    return json.loads(found[0].read_text())


def allowed(value, schema: dict) -> bool:
    """Whether `value` fits a property schema of the kinds these settings use (boolean, or one of consts)."""
    if "oneOf" in schema:
        return value in [choice["const"] for choice in schema["oneOf"]]
    return {"boolean": isinstance(value, bool), "string": isinstance(value, str)}[schema["type"]]


def test_every_setting_exists_in_the_installed_jupyterlab_with_an_allowed_value():
    settings = json.loads(SETTINGS.read_text())
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": True}
    assert settings["@jupyterlab/apputils-extension:kernels-settings"] == {"commsOverSubshells": "disabled"}
    for plugin_id, values in settings.items():
        properties = schema_of(plugin_id)["properties"]
        for key, value in values.items():
            assert key in properties, f"{plugin_id} has no setting {key!r}"
            assert allowed(value, properties[key]), f"{plugin_id}: {key} = {value!r} is not allowed"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_lab(folder: Path, settings_dir: Path, port: int) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1:port over `folder`, reading its app settings from `settings_dir`."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               JUPYTER_CONFIG_DIR=str(folder / "config"), JUPYTERLAB_SETTINGS_DIR=str(folder / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"))
    return subprocess.Popen(
        [str(bin_dir / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         "--IdentityProvider.token=", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.app_settings_dir={settings_dir}", f"--ServerApp.root_dir={folder / 'notebooks'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def run_and_watch(page, url: str) -> tuple:
    """Open the notebook, run its cell, sample the kernel status while it runs; (samples, its messages)."""
    page.send("Page.navigate", url=url)
    page.wait_until(f"window.jupyterapp && {NOTEBOOK_JS} && {NOTEBOOK_JS}.sessionContext.kernelDisplayStatus === 'idle'",
                    180)
    page.evaluate(f"""(() => {{
        const notebook = {NOTEBOOK_JS};
        jupyterapp.shell.activateById(notebook.id);
        window.kernelMessages = [];
        notebook.sessionContext.session.kernel.anyMessage.connect((kernel, args) => {{
            if (args.msg.header.msg_type === 'status' || args.direction === 'send')
                window.kernelMessages.push([args.msg.header.msg_type, (args.msg.parent_header || {{}}).msg_type || '']);
        }});
        jupyterapp.commands.execute('notebook:run-all-cells');
        return true; }})()""")
    page.wait_until(f"{NOTEBOOK_JS}.sessionContext.kernelDisplayStatus === 'busy'", 30)
    samples = []
    for _ in range(12):  # the cell runs for about 10 s
        time.sleep(0.5)
        samples.append(page.evaluate(f"{NOTEBOOK_JS}.sessionContext.kernelDisplayStatus"))
    page.wait_until(f"{NOTEBOOK_JS}.content.widgets[0].model.executionCount !== null", 120)
    return samples, page.evaluate("window.kernelMessages")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_jupyterlab_stays_busy_during_a_widget_cell_and_saves_the_widget_state(tmp_path):
    settings_dir = tmp_path / "app-settings"
    (settings_dir / "overrides.d").mkdir(parents=True)
    (settings_dir / "overrides.d" / "dqn-course.json").write_text(SETTINGS.read_text())
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WIDGET_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, tmp_path / "notebooks" / "widget.ipynb")
    port = free_port()
    lab, browser = start_lab(tmp_path, settings_dir, port), Chromium(find_chromium())
    try:
        page = browser.new_page()
        samples, messages = run_and_watch(page, f"http://127.0.0.1:{port}/lab/tree/widget.ipynb")
        page.evaluate(f"{NOTEBOOK_JS}.context.save().then(() => true)")
    finally:
        browser.close()
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
    assert samples == ["busy"] * len(samples), f"the status bar would read {samples}; kernel messages: {messages}"
    assert ["create_subshell_request", ""] not in messages
    saved = json.loads((tmp_path / "notebooks" / "widget.ipynb").read_text())
    assert "application/vnd.jupyter.widget-state+json" in saved["metadata"].get("widgets", {})
