"""The course's JupyterLab settings (jupyterlab/dqn-course.json, which `make setup` installs).

* `saveState`: a saved notebook keeps its widgets' state, so reopening it shows the last
  picture of every widget instead of "Error displaying widget: model not found".
* `commsOverSubshells: disabled`: by default JupyterLab asks the kernel for a subshell when a
  widget's comm opens; the kernel answers that control request with its own busy and idle
  status messages, and the status bar then reads "Idle" while the cell that displayed the
  widget still runs (notebook 5's training cell). The course's widgets only send from the
  kernel, so they need no subshell.

Here: every setting exists in the installed JupyterLab with an allowed value. Their effect in a
real JupyterLab (busy status bar, saved widget state) is tested in tests/test_browser.py.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "jupyterlab" / "dqn-course.json"
SHARE = Path(sys.prefix) / "share" / "jupyter"


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

