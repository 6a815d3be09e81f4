"""Students sealed off from each other: hostile submissions graded in one run beside correct classmates.

One submission per harm class, each trying to zero its classmates: writing (and chmod-ing) the
course copy that kernels import `utils` from; planting a `utils` package in the other kernels'
working folders (which `import` searches first) and writing where the hidden paths were covered;
finding the other kernels' processes and killing them; and a process that outlives its kernel
to do both later. Two more go on past their CPU time (one ignoring SIGXCPU, one computing in a
process of its own). Every attack stays inside this test's own folder: the grader's temporary
folders are put there, and the attacks touch only paths under it and processes whose command line
names it (or this test's odd memory limit).
"""
import os
import signal
import tempfile
from pathlib import Path

import pytest
from fake_course import answered, answered_then, course_notebook, feedback, graded_rows, make_course, read_csv, write

from tools.grade import main
from tools.grading import sandbox

pytestmark = [pytest.mark.grading, pytest.mark.slow,
              pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason="bubblewrap cannot make a sandbox here")]

ATTACK_SECONDS = 6  # how long the attacks inside a cell look for classmates
DAEMON_SECONDS = 300  # how long the process that outlives its kernel would go on: longer than the grading run
MEMORY_MB = 1031  # an odd memory limit: the kernels' command lines name it, and no other grader's
CLASSMATES = ("b_victim", "d_victim", "f_victim", "h_victim")  # in name order between the attackers: graded beside them

ZEROED_CHECKS = """\
class CheckFailed(Exception):
    pass


class ExerciseNotDone(Exception):
    pass


def check_add(f):
    raise CheckFailed("zeroed")


def check_scale(f):
    raise CheckFailed("zeroed")


def check_twice(f):
    raise CheckFailed("zeroed")
"""

WRITE_COURSE_COPY = """
import os, utils
copy = os.path.dirname(os.path.dirname(utils.__file__))
outcome = []
if copy.startswith(ROOT):
    checks = os.path.join(copy, "utils", "checks")
    for path in (checks, os.path.join(checks, "__init__.py")):
        try:
            os.chmod(path, 0o777)
            outcome.append("chmod worked")
        except OSError as error:
            outcome.append("chmod failed: " + error.strerror)
    try:
        with open(os.path.join(checks, "__init__.py"), "w") as file:
            file.write(ZEROED)
        outcome.append("write worked")
    except OSError as error:
        outcome.append("write failed: " + error.strerror)
raise RuntimeError("; ".join(outcome))
"""

# What the other attacks share: plant a zeroing `utils` in every other kernel's working folder (where
# the grader makes them, under ROOT), and kill every other kernel of this test: one whose command line
# names ROOT or this test's memory limit (a grader without a sandbox names neither folder).
HELPERS = """
import glob, os, signal, sys, time
SPARE = os.getpid()  # an attack's own kernel
OWN = os.path.realpath(os.getcwd())  # its own working folder (gone once its file is graded)
def plant_in_others():
    planted = 0
    for work in glob.glob(os.path.join(ROOT, "tmp", "grade-*", "work")):
        if os.path.realpath(work) == OWN:
            continue
        try:
            os.makedirs(os.path.join(work, "utils", "checks"), exist_ok=True)
            open(os.path.join(work, "utils", "__init__.py"), "w").close()
            with open(os.path.join(work, "utils", "checks", "__init__.py"), "w") as file:
                file.write(ZEROED)
            planted += 1
        except OSError:
            pass
    return planted
def kill_others():
    killed = 0
    for pid in [int(name) for name in os.listdir("/proc") if name.isdigit()]:
        if pid in (1, os.getpid(), os.getppid(), SPARE):
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as file:
                command = file.read().decode(errors="replace")
        except OSError:
            continue
        if "_grader_kernel" in command and (ROOT in command or LIMIT in command.split("\\0")):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
"""

PLANT = HELPERS + """
hidden = 0
for folder in ("course/solutions", "course/utils", "submissions", "out"):
    try:
        open(os.path.join(ROOT, folder, "planted.txt"), "w").close()
        hidden += 1
    except OSError:
        pass
planted, end = 0, time.monotonic() + SECONDS
while time.monotonic() < end:
    planted += plant_in_others()
    time.sleep(0.05)
raise RuntimeError("planted in %d working folders; wrote %d hidden paths" % (planted, hidden))
"""

KILL = HELPERS + """
killed, end = 0, time.monotonic() + SECONDS
while time.monotonic() < end:
    killed += kill_others()
    time.sleep(0.05)
raise RuntimeError("killed %d kernels" % killed)
"""

# A program of its own (its command line names ROOT) in a session of its own, that goes on after its kernel.
DAEMON = HELPERS + """
SPARE = int(sys.argv[2])
signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # it inherited its kernel's CPU-time limit
end = time.monotonic() + DAEMON_SECONDS
while time.monotonic() < end:
    kill_others()
    plant_in_others()
    time.sleep(0.05)
"""
OUTLIVE = HELPERS + """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", PREAMBLE + DAEMON, ROOT, str(SPARE)])
    os._exit(0)
os.wait()
"""

IGNORE_SIGXCPU = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
SPIN_IN_A_CHILD = """
import os, signal, time
if os.fork() == 0:
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass
time.sleep(600)
"""


def attack(source: str, root: Path) -> str:
    """An attack's code with its constants filled in (ROOT, this test's folder, bounds every attack)."""
    preamble = (f"ROOT = {str(root)!r}\nLIMIT = '{MEMORY_MB * 2**20}'\nZEROED = {ZEROED_CHECKS!r}\n"
                f"SECONDS = {ATTACK_SECONDS}\nDAEMON_SECONDS = {DAEMON_SECONDS}\nDAEMON = {DAEMON!r}\n")
    return preamble + f"PREAMBLE = {preamble!r}\n" + source


def processes_of(root: Path) -> list[int]:
    """Processes working in, or naming, a folder under `root`: this test's kernels and what they left behind."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        try:
            folder = os.readlink(f"/proc/{name}/cwd")
        except OSError:  # a process in another user namespace
            folder = ""
        if str(root) in command or folder.startswith(str(root)):
            found.append(int(name))
    return found


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """Attackers and correct classmates graded in one run with two jobs: (root, out folder, processes left after)."""
    root = tmp_path_factory.mktemp("sandbox")
    course = make_course(root / "course")
    submissions = root / "submissions"
    attacks = {"a_course_copy": WRITE_COURSE_COPY, "c_planter": PLANT, "e_killer": KILL, "g_outliver": OUTLIVE,
               "s_spinner": IGNORE_SIGXCPU, "t_child_spinner": SPIN_IN_A_CHILD}
    for student, source in attacks.items():
        write(submissions / student / "01_fake.ipynb", answered_then(attack(source, root)))
    for student in CLASSMATES:
        write(submissions / student / "01_fake.ipynb", answered(course_notebook("01_fake"), "1.1", "1.2"))
    (root / "tmp").mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(root / "tmp")  # the grader's temporary folders (course copy, scratch) lie under root
    try:
        code = main([str(submissions), "--out", str(root / "out"), "--course", str(course), "--cpu-seconds", "4",
                     "--timeout", "120", "--check-timeout", "3", "--memory-mb", str(MEMORY_MB), "--jobs", "2"])
        leftovers = processes_of(root)
    finally:
        tempfile.tempdir = saved
        for pid in processes_of(root):  # a grader without a sandbox would leave the outliver running
            os.kill(pid, signal.SIGKILL)
    assert code == 0
    return root, root / "out", leftovers


def test_classmates_keep_full_marks(hostile_class):
    rows = graded_rows(hostile_class[1])
    for student in CLASSMATES:
        assert (rows[student]["status"], rows[student]["1.1"], rows[student]["1.2"]) == ("graded", "passed", "passed")


def test_every_attack_is_flagged(hostile_class):
    rows = graded_rows(hostile_class[1])
    for student in ("a_course_copy", "c_planter", "e_killer", "g_outliver", "s_spinner", "t_child_spinner"):
        assert rows[student]["1.2"] == "flagged", student


def test_the_course_copy_cannot_be_changed_even_by_its_owner(hostile_class):
    text = feedback(hostile_class, "a_course_copy", "01_fake.md")
    assert "raised RuntimeError: chmod failed: Read-only file system; chmod failed: Read-only file system; " \
           "write failed: Read-only file system" in text


def test_no_kernel_sees_another_kernels_folders_or_the_hidden_paths(hostile_class):
    assert "raised RuntimeError: planted in 0 working folders; wrote 0 hidden paths" in \
        feedback(hostile_class, "c_planter", "01_fake.md")


def test_no_kernel_sees_another_kernels_processes(hostile_class):
    assert "raised RuntimeError: killed 0 kernels" in feedback(hostile_class, "e_killer", "01_fake.md")


def test_nothing_a_kernel_started_outlives_its_file(hostile_class):
    assert hostile_class[2] == []


def test_a_kernel_that_goes_on_past_its_cpu_time_is_killed_there_and_graded_once(hostile_class):
    costs = {row["student"]: row for row in read_csv(hostile_class[1] / "timings.csv")}
    for student in ("s_spinner", "t_child_spinner"):
        text = feedback(hostile_class, student, "01_fake.md")
        assert "used more than 4 s of CPU time, and did not stop when told to, so its kernel was killed" in text
        assert "graded again alone" not in text  # it used up its CPU time: the other jobs' load is not to blame
        # 4 s for the cells, 2 s of grace, the kernel's start-up and 1.1's check: far below the 120 s budget
        assert float(costs[student]["cpu seconds"]) < 4 + 2 + 5, student
