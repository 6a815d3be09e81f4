"""Shared test setup: headless rendering, the repository root on sys.path, one browser and one site."""
import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEST_THREADS = 1
"""Torch threads of a test process: the course's small networks run on one (utils.notebook), and with one
thread per core each, two test workers' matrix products fought over both cores (several times slower)."""
torch.set_num_threads(TEST_THREADS)


def pytest_configure(config):
    """Register the markers used to pick test subsets."""
    config.addinivalue_line("markers", "slow: starts Jupyter kernels or trains; skipped by `make test`")
    config.addinivalue_line("markers", "browser: drives headless Chromium (Debian's chromium); skipped when it is missing")
    config.addinivalue_line("markers", "grading: the instructor grader (tools/grade.py); select with -m grading")
    config.addinivalue_line("markers", "network: asks PyPI; left out unless selected (`make check-wheels`: -m network)")
    config.addinivalue_line("markers", "reproduce: retrains a whole committed run; left out unless selected "
                                       "(`make reproduce`: -m reproduce)")


# --- One browser and one built site for the whole session (tests/test_site.py, tests/test_browser.py) ---
# Imported inside the fixtures: Playwright and Sphinx are test and site extras, and a test file
# that needs neither must still run where only `make setup` was done.

@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's, driven by Playwright) for every browser test."""
    from tools.browser_check import find_chromium, launch
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    with launch() as browser:
        yield browser


@pytest.fixture(scope="session")
def course_site(tmp_path_factory):
    """The student site (`make site`), built once from solutions/ for every test that reads it."""
    from tools import build_site
    folder = tmp_path_factory.mktemp("built") / "site"
    build_site.build(folder)
    return folder


@pytest.fixture(scope="session")
def site_server(course_site):
    """A local web server over the built site."""
    from tools.browser_check import LocalServer
    server = LocalServer(course_site)
    yield server
    server.close()
