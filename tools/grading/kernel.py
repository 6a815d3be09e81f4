"""Start an IPython kernel under the grader's limits: `python -m _grader_kernel BYTES CPU_SECONDS HARD_CPU_SECONDS -f FILE`.

The grader copies this file, as `_grader_kernel.py`, next to its clean copy of the course's
`utils`, and the worker's kernel spec runs it instead of `ipykernel_launcher`, so the memory and
CPU-time limits apply to the kernel (and whatever it starts) but not to the worker that reads
its messages. It imports nothing from the grader, which the kernel cannot see.
"""
import math
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


class CpuTimeLimit(BaseException):
    """Raised in the running cell when the kernel has used its CPU time (BaseException: `except Exception` misses it)."""


def limit_cpu(seconds: int, hard: int) -> None:
    """Send SIGXCPU after `seconds` of CPU time, which stops the running cell with CpuTimeLimit; kill at `hard`.

    CPU time, unlike wall-clock time, does not grow when other jobs slow the machine down, so the
    same notebook gets the same verdict under any load. The worker moves the soft limit before
    every cell and check (checks have their own allowance); `hard` is all the notebook may use,
    which a kernel can lower but never raise: the kernel gets SIGKILL there even if it ignores
    SIGXCPU (the worker, watching from outside, normally kills such a kernel sooner).
    """
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (min(seconds, hard), hard))
    except (ValueError, OSError):
        print("grader: could not limit the kernel's CPU time on this system", file=sys.stderr)
        return
    signal.signal(signal.SIGXCPU, stop_cell)


def stop_cell(signum, frame) -> None:
    """SIGXCPU handler: lift the soft limit (the kernel would get SIGXCPU every second) and stop the cell."""
    lift_cpu_limit()
    raise CpuTimeLimit("the notebook used up its CPU time")


def set_cpu_budget(seconds: float, marker: str) -> None:
    """Let the code that runs next use `seconds` more CPU time; print the CPU time used so far after `marker`."""
    used = cpu_used()
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(used + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    signal.signal(signal.SIGXCPU, stop_cell)
    print(f"{marker}cpu {used:.3f}")


def cpu_used() -> float:
    """CPU seconds this process has used (all its threads, user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def lift_cpu_limit() -> None:
    """Raise the soft CPU-time limit to the hard one."""
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


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


def probe(check_name: str, inputs_text: str, marker: str, *answers) -> None:
    """Run the probe of the course's check `check_name` on the answers; print its record after `marker`.

    Only the probe runs here: the grader's judge reads the record in its own process.
    """
    import utils.checks

    print(marker + "record " + getattr(utils.checks, check_name).probe_json(inputs_text, *answers), flush=True)


def main() -> None:
    """Apply the limits, then run the ordinary IPython kernel with the remaining arguments."""
    max_bytes, cpu_seconds, hard_cpu_seconds = (int(sys.argv.pop(1)) for _ in range(3))
    limit_memory(max_bytes)
    limit_cpu(cpu_seconds, hard_cpu_seconds)
    die_with_worker()
    ignore_exit()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
