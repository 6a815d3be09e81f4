"""The static site (`make site`, tools/build_site.py): pages built from the executed notebooks
show the student's stubs, never the solutions; and in headless Chromium every page loads
with nothing from the network, plays its videos, shows its plots and typesets its math."""
import copy
import re
from pathlib import Path

import nbformat
import pytest

from tools import build_site
from tools.browser_check import (MATH_PROBE, Chromium, LocalServer, check_page, embedded_mp4s, find_chromium,
                                 remote_requests)
from tools.build_notebooks import NBVAL_MARKER, leaked_lines, serialize
from utils.widgets import snapshot_bundle, static_bundle

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
NOTEBOOKS = build_site.solution_notebooks()
SCREENSHOTS = ("index", "06_evaluation")
WIDGET_IMPORT = re.compile(r"^from utils\.widgets import (.+)$", re.M)
PROBES = {
    "math": MATH_PROBE,
    "text": "document.body.innerText",
    "images": "[...document.querySelectorAll('.jp-OutputArea-output img')].map(image => image.naturalWidth > 0)",
    "live_notes": "document.querySelectorAll('.course-live-note').length",
}


def in_chromium(test):
    """Mark a test as one that drives headless Chromium, skipped where Chromium is missing."""
    missing = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)")
    return pytest.mark.browser(missing(test))


def executed(path: Path):
    """An executed solution notebook."""
    return nbformat.read(path, as_version=4)


def html_outputs(notebook) -> list:
    """The text/html of every output of a notebook."""
    return [output["data"]["text/html"] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if "text/html" in output.get("data", {})]


def explorer_calls(notebook) -> int:
    """Cells whose last line calls something imported from utils.widgets: the explorers."""
    names = {name.strip() for cell in notebook.cells for imported in WIDGET_IMPORT.findall(cell.source)
             for name in imported.split(",")}
    last_lines = [cell.source.splitlines()[-1] for cell in notebook.cells if cell.cell_type == "code" and cell.source]
    return sum(any(line.startswith(f"{name}(") for name in names) for line in last_lines)


def as_shown(output):
    """An executed output as a page should show it: an explorer's picture gains the live-kernel note."""
    if not build_site.is_explorer_snapshot(output):
        return output
    shown = copy.deepcopy(output)
    shown.data["text/html"] += build_site.LIVE_NOTE
    return shown


def expected_on_page(notebook) -> dict:
    """What a notebook's page must show: its videos, pictures, explorer notes, and whether it has math."""
    pictures = sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)
    return {"videos": len(embedded_mp4s("".join(html_outputs(notebook)))),
            "images": pictures + sum(html.count("<img ") for html in html_outputs(notebook)),
            "live_notes": explorer_calls(notebook),
            "math": any("$" in cell.source for cell in notebook.cells if cell.cell_type == "markdown")}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The student site, built once for the module."""
    folder = tmp_path_factory.mktemp("built") / "site"
    build_site.build(folder)
    return folder


@pytest.fixture(scope="module")
def server(site):
    """A local web server over the built site."""
    local = LocalServer(site)
    yield local
    local.close()


@pytest.fixture(scope="module")
def chromium():
    """One headless browser for every page."""
    browser = Chromium(find_chromium())
    yield browser
    browser.close()


# --- Without a browser ---------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_student_page_shows_stubs_and_keeps_every_output(path):
    notebook = executed(path)
    page = build_site.page_notebook(notebook, solutions=False)
    original = {cell.id: cell for cell in notebook.cells}
    assert len(page.cells) == len(notebook.cells) - 1, "only the generator's header cell is dropped"
    for cell in page.cells:
        if cell.cell_type == "code":
            assert NBVAL_MARKER not in cell.source
            assert cell.outputs == [as_shown(output) for output in original[cell.id].outputs], f"{cell.id}"
        label = cell.metadata.get("exercise")
        if label:
            assert f'raise NotImplementedError("Exercise {label}")' in cell.source
    assert leaked_lines(build_site.notebook_regions(notebook), serialize(page)) == []
    assert page.metadata["title"] == build_site.first_heading(notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_instructor_page_keeps_the_solutions(path):
    notebook = executed(path)
    regions = build_site.notebook_regions(notebook)
    page = build_site.page_notebook(notebook, solutions=True)
    assert not regions or leaked_lines(regions, serialize(page)), "the solution code should be on the page"


def test_build_refuses_a_page_that_would_show_a_solution_line(tmp_path):
    notebook = executed(ROOT / "solutions" / "06_evaluation.ipynb")
    line = next(line for region in build_site.notebook_regions(notebook) for line in region.lines if "=" in line)
    markdown = next(cell for cell in notebook.cells if cell.cell_type == "markdown" and "#" in cell.source)
    markdown.source += f"\n\n    {line.strip()}\n"
    nbformat.write(notebook, tmp_path / "06_evaluation.ipynb")
    with pytest.raises(build_site.SiteError, match=re.escape(line.strip())):
        build_site.notebook_pages([tmp_path / "06_evaluation.ipynb"], solutions=False)
    assert build_site.notebook_pages([tmp_path / "06_evaluation.ipynb"], solutions=True)


def test_explorer_pictures_are_recognised_and_nothing_else():
    png = bytes.fromhex("89504e470d0a1a0a")
    snapshot = {"output_type": "execute_result", "data": snapshot_bundle(None, "ε has done 90% of its decay")}
    scrubber = {"output_type": "execute_result", "data": static_bundle(png, "<table><tr></tr></table>", "frame 0")}
    video = {"output_type": "execute_result", "data": {"text/html": '<video src="data:video/mp4;base64,AAAA"></video>',
                                                       "text/plain": "<IPython.core.display.HTML object>"}}
    plot = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure size 640x480>"}}
    assert build_site.is_explorer_snapshot(snapshot) and build_site.is_explorer_snapshot(scrubber)
    assert not build_site.is_explorer_snapshot(video) and not build_site.is_explorer_snapshot(plot)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_explorer_gets_one_open_the_notebook_line(path):
    page = build_site.page_notebook(executed(path), solutions=False)
    assert sum(html.count(build_site.LIVE_NOTE) for html in html_outputs(page)) == explorer_calls(page)


def test_index_links_the_built_notebooks_only():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    outline = build_site.readme_outline(readme, {"01_mdp": "01_mdp.html"}).cells[0].source
    assert "[`01_mdp`](01_mdp.html)" in outline
    assert "| `02_replay` |" in outline, "a notebook without a page stays plain text"
    with pytest.raises(build_site.SiteError, match="The notebooks"):
        build_site.readme_outline(readme.replace(build_site.OUTLINE_HEADING, "## Notebooks"), {})


def test_pages_are_chained_by_previous_and_next_links(site):
    chain = ["index.html", *(f"{path.stem}.html" for path in NOTEBOOKS)]
    for before, after in zip(chain, chain[1:]):
        assert f'href="{after}"' in (site / before).read_text(encoding="utf-8"), f"{before} should link to {after}"
        assert f'href="{before}"' in (site / after).read_text(encoding="utf-8"), f"{after} should link to {before}"
    assert (site / build_site.MATHJAX_FOLDER / "tex-svg-full.js").is_file()


def test_a_rebuild_replaces_a_site_but_never_another_folder(tmp_path):
    first = NOTEBOOKS[:1]
    build_site.build(tmp_path / "site", solutions=True, paths=first)
    build_site.build(tmp_path / "site", solutions=False, paths=first)
    assert "Instructor" not in (tmp_path / "site" / f"{first[0].stem}.html").read_text(encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(build_site.SiteError, match="not a site"):
        build_site.build(tmp_path / "notes", paths=first)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


# --- In Chromium ---------------------------------------------------------------------------

@in_chromium
@pytest.mark.parametrize("name", ["index", *(path.stem for path in NOTEBOOKS)])
def test_page_works_offline_in_chromium(name, site, server, chromium):
    url = server.url(f"{name}.html")
    screenshot = ARTIFACTS / f"site_{name}.png" if name in SCREENSHOTS else None
    report = check_page(chromium, url, screenshot, PROBES)
    notebook = executed(ROOT / "solutions" / f"{name}.ipynb") if name != "index" else nbformat.v4.new_notebook()
    expected = expected_on_page(notebook)

    assert report.errors == [] and report.blocked == [], f"{name}: {report.errors + report.blocked}"
    assert remote_requests(report.requests, url) == [], f"{name}: requests that left the local server"
    math = report.probes["math"]
    assert math["state"] == "typeset" and math["failed"] == 0, f"{name}: MathJax {math}"
    assert math["raw"] == [], f"{name}: math left as TeX: {math['raw'][:5]}"
    assert (math["typeset"] > 0) == expected["math"], f"{name}: {math['typeset']} formulas typeset"
    assert len(report.videos) == expected["videos"], f"{name}: every embedded MP4 should be a <video>"
    for number, video in enumerate(report.videos, 1):
        assert video["error"] is None and video["readyState"] >= 2, f"{name}, video {number}: {video}"
        assert video["played"] is True, f"{name}, video {number} did not advance when played: {video['played']}"
    assert report.probes["images"] == [True] * expected["images"], f"{name}: plots missing or not decoded"
    assert report.probes["live_notes"] == expected["live_notes"], f"{name}: explorers without the notebook hint"
    regions = build_site.notebook_regions(notebook)
    assert build_site.leaks_in_text(report.probes["text"], regions) == [], f"{name}: a solution line is visible"
    assert "make lab" in report.probes["text"], f"{name}: no word on how to run the course"
    if screenshot:
        assert report.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@in_chromium
def test_instructor_copy_shows_solutions_and_the_page_check_sees_them(tmp_path, chromium):
    path = NOTEBOOKS[0]
    build_site.build(tmp_path / "site", solutions=True, paths=[path])
    local = LocalServer(tmp_path / "site")
    try:
        report = check_page(chromium, local.url(f"{path.stem}.html"), probes={"text": PROBES["text"]})
    finally:
        local.close()
    assert build_site.leaks_in_text(report.probes["text"], build_site.notebook_regions(executed(path)))
    assert "Instructor's copy" in report.probes["text"]


@in_chromium
def test_the_page_checks_catch_remote_requests_and_raw_math(tmp_path, chromium):
    (tmp_path / "bad.html").write_text(
        '<div class="jp-MarkdownCell">the loss is $L = (y - Q)^2$</div>'
        '<img src="http://cdn.example/pixel.png"><script src="https://cdn.example/x.js"></script>')
    local = LocalServer(tmp_path)
    try:
        url = local.url("bad.html")
        report = check_page(chromium, url, probes={"math": MATH_PROBE})
    finally:
        local.close()
    assert sorted(remote_requests(report.requests, url)) == ["http://cdn.example/pixel.png", "https://cdn.example/x.js"]
    assert report.probes["math"] == {"state": "no MathJax", "raw": ["$L = (y - Q)^2$"], "typeset": 0, "failed": 0}
