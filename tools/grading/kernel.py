"""Start an IPython kernel under the grader's limits: `python -m tools.grading.kernel BYTES -f FILE`.

The worker's kernel spec runs this module instead of `ipykernel_launcher`, so the memory limit
applies to the kernel (and whatever it starts) but not to the worker that reads its messages.
"""
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def limit_memory(max_bytes: int) -> None:
    """Cap this process's address space; allocations beyond it raise MemoryError."""
    try:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    except (ValueError, OSError):  # e.g. macOS, where RLIMIT_AS cannot be lowered like this
        print("grader: could not limit the kernel's memory on this system", file=sys.stderr)


def die_with_worker() -> None:
    """On Linux, have the kernel killed if the worker that started it dies (e.g. killed on a hard time-out)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if str(os.getppid()) != os.environ.get("JPY_PARENT_PID", str(os.getppid())):
        os._exit(1)  # the worker died before the line above took effect


def ignore_exit() -> None:
    """Make `exit()`/`quit()` in a cell do nothing, so a stray one does not end the graded run."""
    from ipykernel.zmqshell import ZMQInteractiveShell

    ZMQInteractiveShell.ask_exit = lambda shell: None


def main() -> None:
    """Apply the limits, then run the ordinary IPython kernel with the remaining arguments."""
    max_bytes = int(sys.argv.pop(1))
    limit_memory(max_bytes)
    die_with_worker()
    ignore_exit()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
