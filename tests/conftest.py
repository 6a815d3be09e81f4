"""Shared test setup: headless rendering, and the repository root on sys.path."""
import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    """Register the markers used to pick test subsets."""
    config.addinivalue_line("markers", "slow: starts Jupyter kernels or trains; skipped by `make test`")
    config.addinivalue_line("markers", "browser: drives headless Chromium (Debian's chromium); skipped when it is missing")
    config.addinivalue_line("markers", "grading: the instructor grader (tools/grade.py); select with -m grading")
    config.addinivalue_line("markers", "network: asks PyPI; left out unless selected (`make check-wheels`: -m network)")
