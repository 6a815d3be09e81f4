"""What a graded kernel can see: a clean copy of the course's `utils`, and (where Linux allows) nothing else of the course.

Kernels import `utils` from a read-only copy made once per grading run, next to the grader's
kernel launcher, so no submission can reach the course's solutions through `utils.__file__`.
Where unprivileged user namespaces are available (`unshare -rm`), each kernel also runs in a
private mount namespace in which the course's solutions/, checkpoints/, tools/, tests/, .git/
and utils/, the submissions folder and the output folder are covered by an empty folder: code
in a notebook cannot read or write them even through absolute paths.
"""
import compileall
import shutil
import stat
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KERNEL_MODULE = Path(__file__).with_name("kernel.py")
JUDGE_MODULE = Path(__file__).with_name("judge_server.py")
GRADER_ROOT = Path(__file__).resolve().parents[2]  # the repository holding this grader (often the course too)
COURSE_PARTS_TO_HIDE = ("solutions", "checkpoints", "tools", "tests", ".git", "utils")
# Bind-mounts the empty folder ($1) over every folder up to "--", then runs the command after it.
MOUNT_SCRIPT = 'empty=$1; shift; while [ "$1" != -- ]; do mount --bind "$empty" "$1" || exit 97; shift; done; ' \
               'shift; exec "$@"'


@dataclass(frozen=True)
class Isolation:
    """How kernels are started: their import path, and the command prefix that hides folders (empty: none)."""

    python_path: list[str]
    command_prefix: list[str]
    hidden: list[str]


@contextmanager
def isolated_course(course_root: Path, also_hide: list[Path]):
    """An `Isolation` whose clean copy of the course lives as long as the `with` block."""
    with tempfile.TemporaryDirectory(prefix="grader-course-") as folder:
        copy = clean_copy(course_root, Path(folder) / "course")
        empty = Path(folder) / "empty"
        empty.mkdir()
        roots = dict.fromkeys([course_root, GRADER_ROOT])
        hidden = [str(p) for p in [root / part for root in roots for part in COURSE_PARTS_TO_HIDE] + also_hide
                  if p.is_dir()]
        prefix = mount_prefix(empty, hidden) if namespaces_work(empty, hidden) else []
        try:
            yield Isolation([str(copy)], prefix, hidden if prefix else [])
        finally:
            make_writable(copy)  # so that the temporary folder can be removed


def clean_copy(course_root: Path, destination: Path) -> Path:
    """Copy `utils/`, the kernel launcher and the judge (`_grader_kernel.py`, `_grader_judge.py`) to `destination`,
    compiled, then read-only."""
    shutil.copytree(course_root / "utils", destination / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(KERNEL_MODULE, destination / "_grader_kernel.py")
    shutil.copyfile(JUDGE_MODULE, destination / "_grader_judge.py")  # the judge runs outside the kernels
    compileall.compile_dir(destination, quiet=1)  # kernels cannot write byte code into a read-only copy
    for path in [destination, *destination.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return destination


def make_writable(folder: Path) -> None:
    """Give the owner write permission back on every file and folder under `folder`."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def mount_prefix(empty: Path, hidden: list[str]) -> list[str]:
    """The command prefix that starts a program in a mount namespace with `hidden` covered by `empty`."""
    return ["unshare", "-rm", "--", "/bin/sh", "-c", MOUNT_SCRIPT, "sh", str(empty), *hidden, "--"]


def namespaces_work(empty: Path | None = None, hidden: list[str] | None = None) -> bool:
    """Can this user hide `hidden` behind `empty` in a new user and mount namespace (by default: any folder)?"""
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as folder:
        probe = [*mount_prefix(empty or Path(folder), hidden or [folder]), "true"]
        try:
            return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
