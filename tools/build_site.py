"""Build the course as a static website, readable offline without Jupyter.

    python -m tools.build_site [--out site] [--solutions]

The site is built by Sphinx with MyST-NB and sphinx-book-theme (the stack Jupyter Book 1.x
runs on), never executing anything: each executed solution notebook (`solutions/NN_*.ipynb`,
ordered by name) becomes one page with its theory, plots, videos and outputs as they were
executed. Before Sphinx sees a notebook, every exercise cell is replaced by the student's stub
(the generator's `student_source`; `--solutions` keeps the solution code, for an instructor's
private copy), the build fails if any solution line would still show, output lines that speak
to the student who ran the notebook are rewritten for a reader (`READER_LINES`), and each
explorer's static picture gets a line saying to open the notebook to use it. `index.html`
holds the README's table of notebooks.

Every page has a sidebar listing each notebook and its sections (tools/site/templates), a
table of contents of its own sections, and Sphinx's full-text search, which runs in the page
from a local index (also opened as file://). Math is typeset by MathJax 3, whose one-file
TeX-to-SVG renderer the pinned `django-static-mathjax` package ships and the build copies into
the site. No page loads anything from the network, so the folder works from a USB stick.
"""
import argparse
import copy
import importlib.resources
import io
import re
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

from tools.build_notebooks import (ROOT, SOLUTIONS as SOLUTION_FOLDER, Region, header_cell,
                                   leaked_lines, serialize, solution_regions, student_source, without_test_markers)

README = ROOT / "README.md"
THEME = ROOT / "tools" / "site"
OUTLINE_HEADING = "## The notebooks"
MATHJAX = "mathjax/tex-svg-full.js"
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
READER_NOTE = ("A static copy of the course: nothing runs here. To run the notebooks, clone the repository "
               "and run <code>make lab</code>.")
INSTRUCTOR_NOTE = "<strong>Instructor's copy: it shows the solutions. Do not publish it.</strong> "
READER_LINES = (
    # utils.checks: on the page, the check ran on the course's solution, not on the reader's code.
    (re.compile(r"^(✅ Exercise \S+ \(.+\): passed)$", re.M), r"\1, run on the course's solution"),
    # utils.student_agent: the reader has no agent of their own.
    (re.compile(r"^Showing YOUR agent, trained by your loop in notebook 5 \((?P<file>[^)]+)\)\.$", re.M),
     r"Showing the agent the course's solution trained in notebook 5 (\g<file>); in a student's notebook, "
     r"the agent their own loop trained."),
    (re.compile(r"^saved your agent to (?P<file>\S+): notebook 6 evaluates and films it$", re.M),
     r"saved the agent the course's solution trained to \g<file>: notebook 6 evaluates and films it"),
    # Notebook 7 prints the student's iqm and bootstrap_interval beside SciPy's.
    (re.compile(r"^(IQM|95% interval): yours ", re.M), r"\1: the solution's "),
    # Notebook 7's live ablation, run when the solution notebook was executed.
    (re.compile(r"^(\d+) of your (\d+) runs took exactly", re.M), r"\1 of the \2 runs trained here took exactly"),
)
"""(pattern, replacement) for each output line written to the student who ran the notebook."""


class SiteError(Exception):
    """The site cannot be built as asked; the message says why."""


@dataclass
class Page:
    """One page of the site: the notebook it shows and its name (`name.ipynb` becomes `name.html`)."""

    notebook: nbformat.NotebookNode
    name: str

    @property
    def href(self) -> str:
        """The page's file in the site."""
        return f"{self.name}.html"


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
    """A code cell's source as the page shows it: the student's stub unless `solutions`, never nbval's markers."""
    label = cell.metadata.get("exercise")
    source = student_source(cell.source, label) if label and not solutions else cell.source
    return without_test_markers(source)


def is_explorer_snapshot(output) -> bool:
    """True for the static picture an explorer shows where no widget can be seen."""
    data = output.get("data", {})
    return (set(data) == {"text/html", "text/plain"} and not PLACEHOLDER_REPR.match(data["text/plain"])
            and bool(EXPLORER_SNAPSHOT.match(data["text/html"])))


def for_a_reader(text: str) -> str:
    """Output text with every line written to the notebook's student rewritten for a reader (`READER_LINES`)."""
    for pattern, replacement in READER_LINES:
        text = pattern.sub(replacement, text)
    return text


def shown_output(output):
    """An output as a page shows it: printed lines for a reader, an explorer's picture with its note."""
    if output.output_type == "stream":
        output.text = for_a_reader(output.text)
    elif is_explorer_snapshot(output):
        output.data["text/html"] += LIVE_NOTE
    return output


def page_notebook(executed, solutions: bool):
    """A copy of an executed solution notebook as a page shows it, outputs kept."""
    page = copy.deepcopy(executed)
    # The generator's "edit the source, not this file" note speaks to authors, not readers.
    generated_note = header_cell(executed, "solution").source
    page.cells = [cell for cell in page.cells if cell.source != generated_note]
    for cell in page.cells:
        if cell.cell_type == "code":
            cell.source = shown_source(cell, solutions)
            cell.outputs = [shown_output(output) for output in cell.outputs]
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
        pages.append(Page(page, path.stem))
    return pages


def readme_outline(readme: str, pages: list) -> str:
    """The index page (MyST Markdown): the README's title, first paragraph and table of notebooks, linked by title."""
    title = HEADING.search(readme)["title"]
    introduction = readme.split("\n\n")[1]
    sections = readme.split(OUTLINE_HEADING + "\n")
    if len(sections) != 2:
        raise SiteError(f"README.md has no single {OUTLINE_HEADING!r} section to take the course outline from")
    table = "\n".join(line for line in sections[1].split("\n## ")[0].splitlines() if line.startswith("|"))
    titles = {page.name: page.notebook.metadata["title"] for page in pages}
    linked = NOTEBOOK_NAME.sub(lambda m: f"[{titles[m[1]]}]({m[1]}.ipynb)" if m[1] in titles else m[0], table)
    # The sidebar lists the pages in this (hidden) table of contents' order.
    contents = "\n".join(page.name for page in pages)
    return (f"# {title}\n\n{introduction}\n\n{OUTLINE_HEADING}\n\n{linked}\n\n"
            f"```{{toctree}}\n:hidden:\n\n{contents}\n```\n")


def sphinx_config(title: str, solutions: bool) -> dict:
    """Sphinx's settings: MyST-NB that never executes, the book theme, local MathJax, the course's sidebar."""
    return {
        "project": title, "html_title": title, "extensions": ["myst_nb"], "master_doc": "index",
        "nb_execution_mode": "off", "nb_merge_streams": True, "myst_enable_extensions": ["dollarmath", "amsmath"],
        "html_theme": "sphinx_book_theme", "templates_path": [str(THEME / "templates")],
        "html_static_path": [str(THEME / "static"), "_static"], "html_css_files": ["course.css"],
        # MathJax from the site itself; its menu's optional parts would load files the site does not ship.
        "mathjax_path": MATHJAX, "mathjax3_config": {"options": {"enableMenu": False}},
        "html_copy_source": False, "html_show_sourcelink": False, "html_context": {"default_mode": "light"},
        "html_theme_options": {
            "announcement": (INSTRUCTOR_NOTE if solutions else "") + READER_NOTE,
            "show_navbar_depth": 1, "max_navbar_depth": 2, "show_toc_level": 2,
            "use_download_button": False, "search_bar_text": "Search the course…", "navbar_persistent": [],
        },
    }


def copy_mathjax(folder: Path) -> None:
    """Copy MathJax's renderer and licence from the pinned django-static-mathjax package into `folder`."""
    (folder / Path(MATHJAX).parent).mkdir(parents=True)
    package = importlib.resources.files("mathjax") / "static" / "mathjax"
    for name in MATHJAX_FILES:
        with importlib.resources.as_file(package / name) as source:
            shutil.copy(source, folder / Path(MATHJAX).parent / Path(name).name)


def write_sources(folder: Path, pages: list, index: str) -> None:
    """The Sphinx project: the index, one prepared notebook per page, MathJax among the static files."""
    (folder / "index.md").write_text(index, encoding="utf-8")
    for page in pages:
        nbformat.write(page.notebook, folder / f"{page.name}.ipynb")
    copy_mathjax(folder / "_static")


def run_sphinx(source: Path, doctrees: Path, out: Path, config: dict) -> None:
    """Build the HTML into `out` with Sphinx; any warning (a broken link, say) stops the build."""
    messages = io.StringIO()
    # Sphinx's own warnings go to `messages`; the Python deprecation warnings its extensions raise
    # about each other's APIs are for their authors, not for whoever builds the course.
    with docutils_namespace(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        app = Sphinx(str(source), None, str(out), str(doctrees), "html", confoverrides=config, status=None,
                     warning=messages, freshenv=True)
        app.build()
    if messages.getvalue():
        raise SiteError(f"Sphinx warned:\n{messages.getvalue().strip()}")


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
    readme = README.read_text(encoding="utf-8")
    title = HEADING.search(readme)["title"].split(":")[0]
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Everything the build writes stays in here until the site replaces `out`: MyST-NB also writes
    # copies of the notebooks beside Sphinx's output folder (its "jupyter_execute").
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as scratch:
        source, built = Path(scratch) / "source", Path(scratch) / "html"
        source.mkdir()
        write_sources(source, pages, readme_outline(readme, pages))
        run_sphinx(source, Path(scratch) / "doctrees", built, sphinx_config(title, solutions))
        (built / STAMP).write_text("built by tools/build_site.py; a rebuild replaces this folder\n")
        replace_folder(built, out)
    return pages


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
    print(f"site: index and {len(pages)} notebook pages ({kind}) in {args.out}, "
          f"{folder_size(args.out) / 2**20:.1f} MiB, {time.perf_counter() - start:.1f} s; "
          f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
