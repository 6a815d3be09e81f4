"""Byte-compile the venv's installed packages on every core (`make setup` runs it after pip).

    python -m tools.byte_compile [folder]     # default: this venv's site-packages

pip installs with --no-compile because it compiles one file at a time. `compileall -j 0`
hands its workers one file per message: with 10,000 files, that overhead alone was 5 s here
(a run with nothing left to compile), so this sends them in chunks. Packages' own test suites
(folders named test or tests, about 2,000 of the 12,000 files here, which nothing imports) are
left out. Like pip, it skips files that are not valid Python (templates) without failing.
"""
import argparse
import compileall
import os
import re
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

TEST_FOLDERS = re.compile(r"/tests?/")
CHUNK = 64  # files per message to a worker


def sources(folder: Path) -> list:
    """Every .py file under `folder` (not following links, as compileall), except those in test folders."""
    return [path for parent, _, names in os.walk(folder) for name in names
            if name.endswith(".py") and not TEST_FOLDERS.search(path := os.path.join(parent, name))]


def byte_compile(folder: Path) -> None:
    """Compile the sources under `folder` on every core, skipping those already compiled."""
    with ProcessPoolExecutor() as workers:
        list(workers.map(partial(compileall.compile_file, quiet=2), sources(folder), chunksize=CHUNK))


def main(argv=None) -> int:
    """Byte-compile the folder named on the command line, or this venv's site-packages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path(sysconfig.get_path("purelib")))
    folder = parser.parse_args(argv).folder
    if not folder.is_dir():
        parser.error(f"{folder} is not a folder")
    byte_compile(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
