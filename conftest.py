"""How `make check` splits the suite over pytest-xdist workers (`-n auto --dist loadfile`).

Lives at the repository root so that it is loaded for any selection of tests or notebooks.
Each file's tests run in one worker, in order: an nbval notebook runs its cells in one kernel,
and a module's expensive fixture is built once. Notebooks 5 and 6 share one worker, 5 first,
because notebook 6 evaluates the `my_dqn_agent.pt` that notebook 5 saves next to it.
"""
import pytest

# Files that run in the same worker, in this order (the first one names the group).
RUN_TOGETHER = ("solutions/05_training.ipynb", "solutions/06_evaluation.ipynb")


def worker_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the first file of its RUN_TOGETHER group."""
    path = nodeid.split("::", 1)[0]
    return RUN_TOGETHER[0] if path in RUN_TOGETHER else path


def is_long(item) -> bool:
    """Notebooks and tests marked slow: their files are handed out first."""
    return item.nodeid.split("::", 1)[0].endswith(".ipynb") or item.get_closest_marker("slow") is not None


def pytest_collection_modifyitems(config, items):
    """In an xdist worker, put the files with long tests first (stable), so no long file is left for the end."""
    if not hasattr(config, "workerinput"):
        return
    long_scopes = {worker_scope(item.nodeid) for item in items if is_long(item)}
    items.sort(key=lambda item: worker_scope(item.nodeid) not in long_scopes)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with the files of RUN_TOGETHER as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileGroupScheduling(LoadFileScheduling):
        """LoadFileScheduling whose unit of work is `worker_scope`."""

        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return LoadFileGroupScheduling(config, log)
