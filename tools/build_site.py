"""Build the course as a static HTML site, readable offline without Jupyter.

    python -m tools.build_site [--out site] [--solutions]

Each executed solution notebook (`solutions/NN_*.ipynb`, ordered by name) becomes one page
with its theory, plots, videos and outputs as they were executed; nothing is re-run. An
exercise cell shows the student's stub (the generator's `student_source`) above the
outputs of the solution, unless `--solutions` keeps the solution code (an instructor's
private copy). `index.html` holds the README's table of notebooks.

Pages are rendered by nbconvert's HTML exporter (the JupyterLab template, the one
`jupyter nbconvert --to html` uses) with a small template on top of it: previous/next
links, a two-line "run it yourself" note, and math typeset by MathJax 3, whose one-file
TeX-to-SVG renderer the pinned `django-static-mathjax` package ships and the build copies
into the site (SVG needs no font files). No page loads anything from the network, so the
folder works from a USB stick, opened straight from the files or served.
"""
import argparse
import copy
import importlib.resources
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter

from tools.build_notebooks import (NBVAL_MARKER, ROOT, SOLUTIONS as SOLUTION_FOLDER, Region, header_cell,
                                   leaked_lines, serialize, solution_regions, student_source)

README = ROOT / "README.md"
OUTLINE_HEADING = "## The notebooks"
MATHJAX_FOLDER = "mathjax"
MATHJAX_FILES = ("es5/tex-svg-full.js", "LICENSE")
"""What the site needs from the package: TeX input and SVG output with every TeX extension, in one file."""
STAMP = ".course-site"
"""A file marking a folder as a built site, so that a rebuild may replace it whole."""
NOTEBOOK_NAME = re.compile(r"`(\d\d_\w+)`")
HEADING = re.compile(r"^#+\s+(?P<title>.+?)\s*$", re.M)
# utils.widgets.static_bundle: an optional PNG above a <pre> or <table>, with its own plain text.
EXPLORER_SNAPSHOT = re.compile(r'^(<img src="data:image/png;base64,[^"]*"/>)?<(pre|table)>.*</\2>$', re.S)
PLACEHOLDER_REPR = re.compile(r"^<.*>$", re.S)
LIVE_NOTE = ('<p class="course-live-note">A static picture: this explorer needs a live kernel, '
             "so open the notebook to use it (<code>make lab</code>).</p>")

TEMPLATE = r"""{%- extends "index.html.j2" -%}
{#- No require.js, widget manager or mermaid: no page needs them, and each would come from a CDN. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]]},
  // The menu's optional parts (speech, explorer) would load files the site does not ship.
  options: {enableMenu: false}
};
</script>
<script src="{{ resources.site.mathjax }}" defer></script>
{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}
<style type="text/css">
.course-bar { max-width: 1100px; margin: 0 auto; padding: 8px 16px; font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1); display: flex; justify-content: space-between; gap: 16px; }
.course-run { max-width: 1100px; margin: 4px auto 12px; padding: 8px 16px; background: var(--jp-layout-color2);
  border-left: 4px solid var(--jp-brand-color1); font-family: var(--jp-ui-font-family); }
.course-run p { margin: 2px 0; }
.course-instructor { color: var(--jp-error-color1); font-weight: bold; }
.course-live-note { font-style: italic; color: var(--jp-ui-font-color2); }
</style>
{%- endblock extra_css -%}
{%- macro nav(site) -%}
<nav class="course-bar">
  <span>{% if site.previous %}&larr; <a href="{{ site.previous.href }}">{{ site.previous.title }}</a>{% endif %}</span>
  <span>{% if site.index %}<a href="{{ site.index }}">Course outline</a>{% endif %}</span>
  <span>{% if site.next %}<a href="{{ site.next.href }}">{{ site.next.title }}</a> &rarr;{% endif %}</span>
</nav>
{%- endmacro -%}
{%- block body_header -%}
{{ super() }}
{{ nav(resources.site) }}
<aside class="course-run">
  <p>You are reading a static copy of the course: nothing here runs.</p>
  <p>To run it yourself, clone the repository and run <code>make lab</code> (needs Python 3.11 and make).</p>
  {% if resources.site.solutions %}<p class="course-instructor">Instructor's copy: it shows the solutions. Do not publish it.</p>{% endif %}
</aside>
{%- endblock body_header -%}
{%- block body_footer -%}
{{ nav(resources.site) }}
{{ super() }}
{%- endblock body_footer -%}
"""


class SiteError(Exception):
    """The site cannot be built as asked; the message says why."""


@dataclass
class Page:
    """One page of the site: the notebook it shows and where it lives."""

    notebook: nbformat.NotebookNode
    href: str
    title: str


def solution_notebooks() -> list:
    """The executed solution notebooks, ordered by name."""
    return sorted(SOLUTION_FOLDER.glob("[0-9][0-9]_*.ipynb"))


def first_heading(notebook) -> str:
    """The text of the first Markdown heading in a notebook."""
    for cell in notebook.cells:
        match = HEADING.search(cell.source) if cell.cell_type == "markdown" else None
        if match:
            return match["title"]
    raise SiteError(f"{notebook.metadata['course']['notebook']}: no Markdown heading to take a title from")


def notebook_regions(notebook) -> list:
    """Every solution region of an executed solution notebook, as the generator reads them."""
    return [Region(cell.metadata["exercise"], lines) for cell in notebook.cells
            if cell.cell_type == "code" and "exercise" in cell.metadata
            for lines in solution_regions(cell.source)]


def shown_source(cell, solutions: bool) -> str:
    """A code cell's source as the page shows it: the student's stub unless `solutions`, never nbval's marker."""
    label = cell.metadata.get("exercise")
    source = student_source(cell.source, label) if label and not solutions else cell.source
    return "\n".join(line for line in source.splitlines() if line.strip() != NBVAL_MARKER)


def is_explorer_snapshot(output) -> bool:
    """True for the static picture an explorer shows where no widget can be seen."""
    data = output.get("data", {})
    return (set(data) == {"text/html", "text/plain"} and not PLACEHOLDER_REPR.match(data["text/plain"])
            and bool(EXPLORER_SNAPSHOT.match(data["text/html"])))


def page_notebook(executed, solutions: bool):
    """A copy of an executed solution notebook as a page shows it, outputs kept."""
    page = copy.deepcopy(executed)
    # The generator's "edit the source, not this file" note speaks to authors, not readers.
    generated_note = header_cell(executed, "solution").source
    page.cells = [cell for cell in page.cells if cell.source != generated_note]
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        cell.source = shown_source(cell, solutions)
        for output in cell.outputs:
            if is_explorer_snapshot(output):
                output.data["text/html"] += LIVE_NOTE
    page.metadata["title"] = first_heading(page)
    return page


def leaks_in_text(text: str, regions: list) -> list:
    """Solution lines that appear as lines of `text`: the generator's leak check, on any text."""
    return leaked_lines(regions, serialize(nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(text)])))


def notebook_pages(paths, solutions: bool) -> list:
    """One page per executed notebook; without `solutions`, fail if a solution line would show."""
    pages = []
    for path in paths:
        executed = nbformat.read(path, as_version=4)
        page = page_notebook(executed, solutions)
        leaks = [] if solutions else leaked_lines(notebook_regions(executed), serialize(page))
        if leaks:
            raise SiteError(f"{path.name}: solution lines would appear on its page: {leaks[:3]}")
        pages.append(Page(page, f"{path.stem}.html", page.metadata["title"]))
    return pages


def readme_outline(readme: str, hrefs: dict):
    """The index page's notebook: the README's title, first paragraph and table of notebooks, linked."""
    title = HEADING.search(readme)["title"]
    introduction = readme.split("\n\n")[1]
    sections = readme.split(OUTLINE_HEADING + "\n")
    if len(sections) != 2:
        raise SiteError(f"README.md has no single {OUTLINE_HEADING!r} section to take the course outline from")
    table = "\n".join(line for line in sections[1].split("\n## ")[0].splitlines() if line.startswith("|"))
    linked = NOTEBOOK_NAME.sub(lambda m: f"[`{m[1]}`]({hrefs[m[1]]})" if m[1] in hrefs else m[0], table)
    text = f"# {title}\n\n{introduction}\n\n{OUTLINE_HEADING}\n\n{linked}"
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)], metadata={"title": title})


def exporter() -> HTMLExporter:
    """nbconvert's HTML exporter: the JupyterLab template, under the site's own."""
    return HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"course_site.html.j2": TEMPLATE})],
                        template_file="course_site.html.j2")


def link(page: Page) -> dict:
    """A page as the template links to it."""
    return {"href": page.href, "title": page.title}


def write_pages(folder: Path, pages: list, index: Page, solutions: bool) -> None:
    """Export the index and every page into `folder`, each linked to its neighbours."""
    html = exporter()
    chain = [index, *pages]
    for number, page in enumerate(chain):
        site = {"previous": link(chain[number - 1]) if number else None,
                "next": link(chain[number + 1]) if number + 1 < len(chain) else None,
                "index": index.href if number else None, "solutions": solutions,
                "mathjax": f"{MATHJAX_FOLDER}/{Path(MATHJAX_FILES[0]).name}"}
        body, _ = html.from_notebook_node(page.notebook, resources={"site": site})
        (folder / page.href).write_text(body, encoding="utf-8")


def copy_mathjax(folder: Path) -> None:
    """Copy MathJax's renderer and licence from the pinned django-static-mathjax package into the site."""
    (folder / MATHJAX_FOLDER).mkdir()
    package = importlib.resources.files("mathjax") / "static" / "mathjax"
    for name in MATHJAX_FILES:
        with importlib.resources.as_file(package / name) as source:
            shutil.copy(source, folder / MATHJAX_FOLDER / Path(name).name)


def replace_folder(built: Path, out: Path) -> None:
    """Put the built site at `out`, removing an earlier build there (and nothing else)."""
    if out.exists():
        if not (out / STAMP).is_file():
            raise SiteError(f"{out} exists and is not a site this tool built; remove it or choose another --out")
        # Pages of a removed notebook, or an instructor's copy, must not survive a rebuild.
        shutil.rmtree(out)
    built.replace(out)


def build(out: Path, solutions: bool = False, paths=None) -> list:
    """Build the site into `out` from the given (default: all) executed notebooks; return its pages."""
    paths = solution_notebooks() if paths is None else [Path(p) for p in paths]
    if not paths:
        raise SiteError(f"no executed notebooks in {SOLUTION_FOLDER}: run `make notebooks`")
    pages = notebook_pages(paths, solutions)
    hrefs = {Path(page.href).stem: page.href for page in pages}
    index = Page(readme_outline(README.read_text(encoding="utf-8"), hrefs), "index.html", "Course outline")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        write_pages(built, pages, index, solutions)
        copy_mathjax(built)
        (built / STAMP).write_text("built by tools/build_site.py; a rebuild replaces this folder\n")
        built.chmod(0o755)  # mkdtemp makes the folder private; the site is meant to be shared
        replace_folder(built, out)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return [index, *pages]


def folder_size(folder: Path) -> int:
    """Bytes in every file under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv=None) -> int:
    """Command line: build the site and say what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="folder to write (default: site/)")
    parser.add_argument("--solutions", action="store_true", help="show the solution code (instructors only)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.out, args.solutions)
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = "instructor's copy, WITH solutions" if args.solutions else "student view, no solution code"
    print(f"site: {len(pages)} pages ({kind}) in {args.out}, {folder_size(args.out) / 2**20:.1f} MiB, "
          f"{time.perf_counter() - start:.1f} s; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
