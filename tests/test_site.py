"""The static site (`make site`, tools/build_site.py): pages built from the executed notebooks
show the student's stubs, never the solutions, and speak to a reader; and in headless Chromium
(Playwright) every page loads with nothing from the network, plays its videos, shows its
pictures and typesets its math, search finds what the course teaches, and the sidebar leads
from notebook to notebook. The site is built once per session (tests/conftest.py)."""
import copy
import re
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from tests.test_environment import pins
from tools import build_site
from tools.browser_check import (SITE_PROBES, LocalServer, check_page, embedded_mp4s, remote_requests,
                                 video_facts)
from tools.build_notebooks import leaked_lines, serialize
from utils.video import FPS
from utils.widgets import snapshot_bundle, static_bundle

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "tests" / "artifacts" / "last-run"
"""Where each page's screenshot lands (git-ignored; tests/artifacts/ keeps two, README "Tests")."""
NOTEBOOKS = build_site.solution_notebooks()
VIDEO_FPS = {"08_capstone": 15}
"""Notebooks whose videos are not CartPole's 50 frames per second."""
WIDGET_IMPORT = re.compile(r"^from utils\.widgets import (.+)$", re.M)
STUDENT_WORDS = re.compile(r"\b(you|your|yours)\b", re.I)
MAX_LINE_CHARACTERS = 90
MEASURE_PROBE = """() => {
  const context = document.createElement('canvas').getContext('2d');
  const prose = [...document.querySelectorAll('article.bd-article p')]
    .filter(p => p.textContent.length > 300 && !p.querySelector('mjx-container'));
  return Math.max(...prose.map(p => {
    const style = getComputedStyle(p);
    context.font = `${style.fontSize} ${style.fontFamily}`;
    return p.clientWidth / (context.measureText(p.textContent).width / p.textContent.length);
  }));
}"""
"""Characters of prose that fit on one line of the widest long paragraph, at the page's own font."""

browser = pytest.mark.browser


def executed(path: Path):
    """An executed solution notebook."""
    return nbformat.read(path, as_version=4)


def html_outputs(notebook) -> list:
    """The text/html of every output of a notebook."""
    return [output["data"]["text/html"] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if "text/html" in output.get("data", {})]


def printed_text(notebook) -> str:
    """Everything the notebook's cells printed."""
    return "".join(output.text for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")


def explorer_calls(notebook) -> int:
    """Cells whose last line calls something imported from utils.widgets: the explorers."""
    names = {name.strip() for cell in notebook.cells for imported in WIDGET_IMPORT.findall(cell.source)
             for name in imported.split(",")}
    last_lines = [cell.source.splitlines()[-1] for cell in notebook.cells if cell.cell_type == "code" and cell.source]
    return sum(any(line.startswith(f"{name}(") for name in names) for line in last_lines)


def as_shown(output):
    """An executed output as a page should show it: printed lines for a reader, an explorer's picture with its note."""
    shown = copy.deepcopy(output)
    if shown.output_type == "stream":
        shown.text = build_site.for_a_reader(shown.text)
    elif build_site.is_explorer_snapshot(shown):
        shown.data["text/html"] += build_site.LIVE_NOTE
    return shown


def expected_on_page(notebook) -> dict:
    """What a notebook's page must show: its videos, pictures, explorer notes, and whether it has math."""
    pictures = sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)
    return {"videos": [video_facts(mp4) for mp4 in embedded_mp4s("".join(html_outputs(notebook)))],
            "images": pictures + sum(html.count("<img ") for html in html_outputs(notebook)),
            "live_notes": explorer_calls(notebook),
            "math": any("$" in cell.source for cell in notebook.cells if cell.cell_type == "markdown")}


def open_page(chromium, url: str, viewport=None):
    """A new browser tab showing `url`."""
    page = chromium.new_page(viewport=viewport)
    page.goto(url, wait_until="load")
    return page


# --- Without a browser ---------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_student_page_shows_stubs_and_keeps_every_output(path):
    notebook = executed(path)
    page = build_site.page_notebook(notebook, solutions=False)
    original = {cell.id: cell for cell in notebook.cells}
    assert len(page.cells) == len(notebook.cells) - 1, "only the generator's header cell is dropped"
    for cell in page.cells:
        if cell.cell_type == "code":
            assert "# NBVAL_" not in cell.source
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


def test_printed_lines_speak_to_a_reader_not_to_a_student():
    printed = [printed_text(executed(path)) for path in NOTEBOOKS]
    for pattern, _ in build_site.READER_LINES:
        assert any(pattern.search(text) for text in printed), f"no output matches {pattern.pattern}: reworded?"
    for path in NOTEBOOKS:
        shown = printed_text(build_site.page_notebook(executed(path), solutions=False))
        assert STUDENT_WORDS.findall(shown) == [], f"{path.stem}: a printed line still speaks to its student"


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
def test_every_explorer_shows_a_picture_and_one_open_the_notebook_line(path):
    page = build_site.page_notebook(executed(path), solutions=False)
    pictures = [html for html in html_outputs(page) if build_site.LIVE_NOTE in html]
    assert len(pictures) == explorer_calls(page)
    assert all(html.startswith('<img src="data:image/png;base64,') for html in pictures), "a line is no picture"


def test_index_links_the_built_notebooks_by_title():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = build_site.Page(nbformat.v4.new_notebook(metadata={"title": "1 · MDPs"}), "01_mdp")
    outline = build_site.readme_outline(readme, [page])
    assert "| [1 · MDPs](01_mdp.ipynb) |" in outline, "a link in words, not in code"
    assert "| `02_replay` |" in outline, "a notebook without a page stays plain text"
    assert outline.count(build_site.OUTLINE_HEADING) == 1
    with pytest.raises(build_site.SiteError, match="The notebooks"):
        build_site.readme_outline(readme.replace(build_site.OUTLINE_HEADING, "## Notebooks"), [])


def test_site_has_its_pages_search_index_and_mathjax_but_no_notebook_sources(course_site):
    names = {path.name for path in course_site.iterdir()}
    assert {"index.html", "search.html", "searchindex.js", *(f"{path.stem}.html" for path in NOTEBOOKS)} <= names
    assert (course_site / "_static" / build_site.MATHJAX).is_file()
    copies = [path for path in course_site.rglob("*") if path.suffix == ".ipynb" or "_sources" in path.parts[:-1]]
    assert copies == [], "no copy of the notebooks: a reader gets the pages"


def test_a_sphinx_warning_stops_the_build(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "index.md").write_text("# Course\n\n```{toctree}\nno_such_notebook\n```\n")
    config = build_site.sphinx_config("Course", solutions=False)
    with pytest.raises(build_site.SiteError, match="no_such_notebook"):
        build_site.run_sphinx(tmp_path / "source", tmp_path / "doctrees", tmp_path / "out", config)


def test_a_rebuild_replaces_a_site_but_never_another_folder(tmp_path):
    first = NOTEBOOKS[:1]
    build_site.build(tmp_path / "site", solutions=True, paths=first)
    assert "Instructor" in (tmp_path / "site" / f"{first[0].stem}.html").read_text(encoding="utf-8")
    build_site.build(tmp_path / "site", solutions=False, paths=first)
    assert "Instructor" not in (tmp_path / "site" / f"{first[0].stem}.html").read_text(encoding="utf-8")
    assert [path.name for path in tmp_path.iterdir()] == ["site"], "nothing written beside the site"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(build_site.SiteError, match="not a site"):
        build_site.build(tmp_path / "notes", paths=first)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


# --- In Chromium ---------------------------------------------------------------------------

@browser
@pytest.mark.parametrize("name", ["index", *(path.stem for path in NOTEBOOKS)])
def test_page_works_offline_in_chromium(name, site_server, chromium):
    url = site_server.url(f"{name}.html")
    report = check_page(chromium, url, SCREENSHOTS / f"site_{name}.png", SITE_PROBES)
    notebook = executed(ROOT / "solutions" / f"{name}.ipynb") if name != "index" else nbformat.v4.new_notebook()
    expected = expected_on_page(notebook)

    assert report.errors == [] and report.blocked == [], f"{name}: {report.errors + report.blocked}"
    assert remote_requests(report.requests, url) == [], f"{name}: requests that left the local server"
    math = report.probes["math"]
    assert math["state"] == ("typeset" if expected["math"] else "no MathJax") and math["failed"] == 0, f"{math}"
    assert math["raw"] == [], f"{name}: math left as TeX: {math['raw'][:5]}"
    assert (math["typeset"] > 0) == expected["math"], f"{name}: {math['typeset']} formulas typeset"
    assert len(report.videos) == len(expected["videos"]), f"{name}: every embedded MP4 should be a <video>"
    for number, (video, (count, fps, size)) in enumerate(zip(report.videos, expected["videos"]), 1):
        where = f"{name}, video {number}"
        assert video["error"] is None and video["readyState"] >= 2, f"{where}: {video}"
        assert video["played"] is True, f"{where} did not advance when played: {video['played']}"
        assert (video["width"], video["height"]) == size
        # Each env's video plays at its own render fps, in real time: CartPole 50, notebook 8's Acrobot 15.
        assert fps == VIDEO_FPS.get(name, FPS), f"{where}: {fps:g} fps"
        assert abs(video["duration"] - count / fps) <= 1 / fps, (
            f"{where}: plays {video['duration']:.3f} s; {count} frames at {fps:g} fps are {count / fps:.3f} s")
        assert video["brightness"] > 100, f"{where}: the decoded frame is dark (mean {video['brightness']:.0f})"
    assert report.probes["images"] == [True] * expected["images"], f"{name}: plots missing or not decoded"
    assert report.probes["live_notes"] == expected["live_notes"], f"{name}: explorers without the notebook hint"
    regions = build_site.notebook_regions(notebook)
    assert build_site.leaks_in_text(report.probes["text"], regions) == [], f"{name}: a solution line is visible"
    assert "make lab" in report.probes["text"], f"{name}: no word on how to run the course"
    assert report.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@browser
def test_prose_keeps_a_readable_measure_on_a_wide_screen(site_server, chromium):
    page = open_page(chromium, site_server.url("01_mdp.html"), viewport={"width": 1920, "height": 1080})
    try:
        characters = page.evaluate(MEASURE_PROBE)
    finally:
        page.close()
    assert 60 <= characters <= MAX_LINE_CHARACTERS, f"{characters:.0f} characters per line"


@browser
def test_search_finds_what_the_course_teaches_from_the_server_and_from_a_file(site_server, course_site, chromium):
    searches = {"Bellman": "01_mdp.html", "sum-tree": "07_beyond_dqn.html"}
    for root in (site_server.url(""), course_site.as_uri() + "/"):
        page = open_page(chromium, root + "01_mdp.html")
        try:
            for words, expected in searches.items():
                page.locator(".bd-sidebar-primary .search-button-field").click()  # the sidebar's search box
                page.keyboard.type(words)
                page.keyboard.press("Enter")
                page.wait_for_url("**/search.html?q=*")
                page.locator("#search-results .search-summary").wait_for()
                found = page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.href)")
                assert any(href.split("#")[0].endswith(expected) for href in found), f"{words!r} from {root}: {found}"
        finally:
            page.close()


@browser
def test_sidebar_lists_every_notebook_and_its_sections_and_leads_to_them(site_server, chromium):
    page = open_page(chromium, site_server.url("index.html"))
    try:
        notebooks = page.eval_on_selector_all(".course-nav li.toctree-l1 > a", "links => links.map(a => a.textContent)")
        assert notebooks == [build_site.first_heading(executed(path)) for path in NOTEBOOKS]
        for path in NOTEBOOKS:
            sections = page.locator(f'.course-nav li.toctree-l2 > a[href^="{path.stem}.html#"]')
            headings = [cell.source for cell in executed(path).cells if cell.cell_type == "markdown"]
            assert sections.count() == sum(source.count("\n## ") + source.startswith("## ") for source in headings)
        for path in NOTEBOOKS[:2]:  # from the index to notebook 1, from there to notebook 2
            page.locator(".course-nav li.toctree-l1 > a", has_text=build_site.first_heading(executed(path))).click()
            page.wait_for_url(f"**/{path.stem}.html")
            assert page.locator("article h1").first.inner_text().startswith(build_site.first_heading(executed(path)))
        section = page.locator(f'.course-nav a[href^="{NOTEBOOKS[2].stem}.html#"]').nth(1)
        anchor, heading = section.get_attribute("href"), section.inner_text()
        section.click()
        page.wait_for_url(f"**/{anchor}")
        target = page.locator(f"section#{anchor.split('#')[1]} > h2")
        assert target.inner_text().startswith(heading) and target.is_visible()
        assert 0 <= target.bounding_box()["y"] < page.viewport_size["height"] / 2, "the section is scrolled to"
    finally:
        page.close()


@browser
def test_instructor_copy_shows_solutions_and_the_page_check_sees_them(tmp_path, chromium):
    path = NOTEBOOKS[0]
    build_site.build(tmp_path / "site", solutions=True, paths=[path])
    local = LocalServer(tmp_path / "site")
    try:
        report = check_page(chromium, local.url(f"{path.stem}.html"), probes={"text": SITE_PROBES["text"]})
    finally:
        local.close()
    assert build_site.leaks_in_text(report.probes["text"], build_site.notebook_regions(executed(path)))
    assert "Instructor's copy" in report.probes["text"]


@browser
def test_the_page_checks_catch_remote_requests_and_raw_math(tmp_path, chromium):
    (tmp_path / "bad.html").write_text(
        '<article class="bd-article"><p>the loss is $L = (y - Q)^2$</p></article>'
        '<img src="http://cdn.example/pixel.png"><script src="https://cdn.example/x.js"></script>')
    local = LocalServer(tmp_path)
    try:
        url = local.url("bad.html")
        report = check_page(chromium, url, probes={"math": SITE_PROBES["math"]})
    finally:
        local.close()
    assert sorted(remote_requests(report.requests, url)) == ["http://cdn.example/pixel.png", "https://cdn.example/x.js"]
    assert report.probes["math"] == {"state": "no MathJax", "raw": ["$L = (y - Q)^2$"], "typeset": 0, "failed": 0}


def test_the_site_and_test_extras_pin_exactly_on_top_of_the_lock_and_are_installed():
    lock = pins(ROOT / "requirements-lock.txt")
    for extra in ("requirements-site.txt", "requirements-test.txt"):
        text = (ROOT / extra).read_text()
        assert "-c requirements-lock.txt" in text.splitlines(), f"{extra} must apply the lock"
        added = pins(ROOT / extra)
        assert not set(added) & set(lock), f"{extra} moves or repeats a course pin: {set(added) & set(lock)}"
        assert {name: metadata.version(name) for name in added} == added, f"{extra} is not what is installed"
