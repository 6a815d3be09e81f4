"""The one call at the top of every notebook: `setup_notebook(SEED)`.

It seeds Python, NumPy and PyTorch, runs PyTorch on one thread, and (in Jupyter) makes an
unfinished exercise cell say so when it is run. One thread because the course's networks
are tiny: a forward pass on one state takes microseconds, and with several threads the
cost of waking them dominates; on a busy 2-core laptop it made single-state cells 10-20x
slower.
"""
import re

import torch

from utils.seeding import seed_everything

STUB = re.compile(r'raise NotImplementedError\("(?P<label>Exercise \d+\.\d+[^"]*)"\)')
"""The line the notebook generator puts in place of each solution (tools/build_notebooks.py)."""


def setup_notebook(seed: int, optimizers: bool = False) -> None:
    """Seed everything, use one torch thread, and announce unfinished exercises in Jupyter.

    `optimizers=True` also builds one throw-away optimizer, so that the first one an
    exercise check builds does not pay PyTorch's one-time import of its compiler (~2 s).
    """
    seed_everything(seed)
    torch.set_num_threads(1)
    if optimizers:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    _announce_stubs()


def unfinished_exercises(cell_source: str) -> list:
    """The exercise labels whose template line is still in `cell_source`, each once, in order."""
    # An exercise with several methods leaves one template line per method: name it once.
    return list(dict.fromkeys(match["label"] for match in STUB.finditer(cell_source)))


def stub_notice(cell_source: str) -> str:
    """The one line printed after running a cell that still holds an exercise template ('' if none)."""
    labels = unfinished_exercises(cell_source)
    if not labels:
        return ""
    verb = "is" if len(labels) == 1 else "are"
    return (f"✏️ {' and '.join(labels)} {verb} not done yet: replace `raise NotImplementedError(...)` with your "
            "code, run this cell again, then run the check cell below.")


def _announce_stubs() -> None:
    """Register (once) an IPython hook that prints `stub_notice` after each cell."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or any(getattr(f, "__name__", "") == "_print_stub_notice" for f in shell.events.callbacks["post_run_cell"]):
        return
    shell.events.register("post_run_cell", _print_stub_notice)


def _print_stub_notice(result) -> None:
    """IPython post_run_cell hook: say so when the cell just run is an untouched exercise."""
    notice = stub_notice(result.info.raw_cell or "")
    if notice:
        print(notice)
