"""Time every cell of the solution notebooks, as a student running them top to bottom would.

    python -m tools.cell_times                       # all solution notebooks, the 5 slowest cells
    python -m tools.cell_times solutions/05_training.ipynb --top 10

Each notebook runs in a fresh kernel in a scratch folder (so nothing it writes, such as
notebook 5's my_dqn_agent.pt, lands in the repository), in the order given. Notebook 6 is
run after notebook 5 in the same scratch folder, so it evaluates the agent notebook 5
trained, as on the student path. Times are wall-clock seconds on this machine: they vary
between machines and with load.
"""
import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def cell_seconds(cell) -> float:
    """Wall-clock seconds nbclient recorded for one executed code cell."""
    timing = cell.metadata.get("execution", {})
    started, finished = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (started and finished):
        return 0.0
    return (datetime.fromisoformat(finished.replace("Z", "+00:00"))
            - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds()


def time_notebook(path: Path, folder: Path) -> list:
    """Execute a copy of `path` in `folder`; return (seconds, notebook, cell index, first line) per code cell."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return [(cell_seconds(cell), path.stem, index, first_line(cell.source))
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]


def first_line(source: str) -> str:
    """The first line of a cell that is not an nbval marker, shortened."""
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("# NBVAL")]
    return (lines[0] if lines else "")[:70]


def main(argv=None) -> int:
    """Run the notebooks, print each one's total and the slowest cells overall."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: solutions/*.ipynb)")
    parser.add_argument("--top", type=int, default=5, help="how many of the slowest cells to list (default 5)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            cells = time_notebook(path, Path(scratch))
            print(f"{path.stem}: {sum(c[0] for c in cells):6.1f} s over {len(cells)} code cells", flush=True)
            times += cells
    print(f"\nthe {args.top} slowest cells:")
    for seconds, name, index, line in sorted(times, reverse=True)[:args.top]:
        print(f"{seconds:6.1f} s  {name} cell {index}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
