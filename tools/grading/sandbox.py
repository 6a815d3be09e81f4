"""Where graded kernels run: each in a bubblewrap sandbox of its own, or (where none can be made) beside the grader.

Kernels import `utils` from a clean copy of the course's `utils`, made once per grading run next
to the grader's kernel launcher. With bubblewrap (`bwrap`, the sandbox Flatpak uses) each kernel
runs in new user, mount, PID, network, IPC and UTS namespaces, as a non-root user with no
capabilities and no right to make user namespaces of its own. It sees only the system's /usr,
the Python installation and virtual environment and the clean copy (all read-only, so even a
`chmod` fails), a minimal /dev and /proc, and the private folders of its own file (working
folder, temporary folder, home, Jupyter sockets). It cannot see or signal other kernels or the
grader, and has no network. When the kernel exits, or its worker dies, the PID namespace goes
and takes every process the kernel started with it.
"""
import compileall
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

KERNEL_MODULE = Path(__file__).with_name("kernel.py")
JUDGE_MODULE = Path(__file__).with_name("judge_server.py")
SANDBOX_UID = 1000  # the kernel's user inside its namespace: not root, so nothing treats it as privileged
SHM_BYTES = 64 * 2**20  # /dev/shm and /tmp are memory: small private ones, so that they cannot fill the machine's
# Top-level folders that are symlinks into /usr on merged-/usr systems (or real folders on others).
SYSTEM_FOLDERS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few files of /etc that the dynamic linker and Python read; the rest of /etc stays hidden.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/alternatives")
MAX_SOCKET_PATH = 100  # a Unix socket's path may have at most 107 (Linux) or 103 (macOS) bytes
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Isolation:
    """How kernels are started: the clean copy they import from, and the sandbox (None where none can be made)."""

    clean_copy: str
    bwrap: str | None  # the bubblewrap program, or None: kernels run unsandboxed
    read_only: tuple[str, ...] = ()  # what a sandboxed kernel sees read-only: system, Python, the clean copy
    problem: str = ""  # why there is no sandbox ("" when there is one)

    @property
    def python_path(self) -> list[str]:
        """The kernels' import path: the clean copy only."""
        return [self.clean_copy]

    def record(self) -> dict:
        """JSON-ready data a worker turns back into an Isolation."""
        return asdict(self)

    def kernel_prefix(self, private: list[Path]) -> list[str]:
        """The command prefix that starts a kernel in its own sandbox with the folders `private` writable."""
        if self.bwrap is None:
            return []
        return [self.bwrap, *namespace_options(), *system_options(), *private_options(private, self.read_only),
                "--remount-ro", "/", "--"]


def namespace_options() -> list[str]:
    """New namespaces for everything, a non-root user without capabilities, bound to its parent's life."""
    return ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns",
            "--cap-drop", "ALL", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            # ipykernel exits when its parent is PID 1, which a sandboxed kernel's parent always is
            "--unsetenv", "JPY_PARENT_PID"]


def system_options() -> list[str]:
    """The system folders as the host has them (read-only), and a new /proc, /dev and small /dev/shm."""
    options = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            options += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            options += ["--ro-bind", folder, folder]
    for path in ("/usr", *ETC_FILES):
        options += ["--ro-bind-try", path, path]
    return options + ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]


def private_options(private: list[Path], read_only: tuple[str, ...]) -> list[str]:
    """A small /tmp of its own (first: the others often lie under /tmp), `read_only`, then the private folders."""
    options = ["--size", str(SHM_BYTES), "--tmpfs", "/tmp"]
    for path in read_only:
        options += ["--ro-bind", path, path]
    for folder in private:
        options += ["--bind", str(folder), str(folder)]
    return options


def python_installation() -> tuple[str, ...]:
    """The folders the kernel's Python needs: its virtual environment and the installation it was made from."""
    roots = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parents[1])}
    return tuple(sorted(root for root in roots if root != "/usr" and not root.startswith("/usr/")))


@contextmanager
def isolated_course(course_root: Path, sandbox: bool = True):
    """An `Isolation` whose clean copy of the course lives as long as the `with` block (sandboxed unless told not)."""
    with tempfile.TemporaryDirectory(prefix="grader-course-") as folder:
        copy = clean_copy(course_root, Path(folder) / "course")
        problem = sandbox_problem() if sandbox else "the sandbox was switched off (--no-sandbox)"
        bwrap = None if problem else shutil.which("bwrap")
        try:
            yield Isolation(str(copy), bwrap, (*python_installation(), str(copy)), problem)
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


def sandbox_problem() -> str:
    """Why kernels cannot be sandboxed on this system, in words ("" when bubblewrap works)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux and this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`, Debian's package `bubblewrap`) is not installed"
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as folder:
        isolation = Isolation(folder, bwrap, python_installation())
        probe = [*isolation.kernel_prefix([Path(folder)]), sys.executable, "-c", "pass"]
        try:
            run = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start a sandbox ({error})"
    if run.returncode != 0:
        why = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        return f"bubblewrap could not make a sandbox here ({why}); user namespaces may be switched off"
    return ""


def check_socket_paths() -> None:
    """Refuse a temporary folder whose path is too long for the kernels' Unix sockets (ValueError)."""
    # the longest socket path: TMPDIR/grade-XXXXXXXX/ipc-XXXXXXXX/kernel-ipc-NN (see runner and worker)
    longest = len(str(Path(tempfile.gettempdir()) / "grade-xxxxxxxx" / "ipc-xxxxxxxx" / "kernel-ipc-99"))
    if longest > MAX_SOCKET_PATH:
        raise ValueError(f"the temporary folder {tempfile.gettempdir()} has too long a path for the kernels' "
                         f"sockets ({longest} characters, at most {MAX_SOCKET_PATH}); set TMPDIR to a shorter "
                         "folder, e.g. /tmp")


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it that is still there (Linux /proc; [pid] elsewhere)."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as file:
                    pending += [int(child) for child in file.read().split()]
        except OSError:  # gone in the meantime, or no /proc
            continue
    return tree


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used by `pid` and its descendants, with those they already reaped (None without /proc)."""
    total, found = 0, False
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat", encoding="ascii", errors="replace") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        found = True
    return total / CLOCK_TICKS if found else None
