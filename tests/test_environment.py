"""The pins: exact, locked, identical for pip and conda, and what is actually installed."""
import re
from importlib import metadata
from pathlib import Path

import yaml

from tools.lock_requirements import canonical, direct_requirements

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[\w,-]+\])?==(?P<version>[\w.]+)$")


def requirement_lines(path: Path) -> list:
    """Non-comment, non-option lines of a requirements file."""
    return direct_requirements(path.read_text())


def pins(path: Path) -> dict:
    """{canonical name: version} of a requirements file with only exact pins."""
    found = {}
    for line in requirement_lines(path):
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not an exact pin (name==version)"
        found[canonical(match["name"])] = match["version"]
    return found


def test_direct_dependencies_are_pinned_exactly_and_locked():
    direct, locked = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-lock.txt")
    assert direct["torch"] == "2.13.0" and direct["gymnasium"] == "1.4.0"
    assert "gymnasium[classic-control]==1.4.0" in requirement_lines(ROOT / "requirements.txt")
    assert {"pygame-ce", "imageio-ffmpeg"} <= set(locked)
    assert {name: locked.get(name) for name in direct} == direct
    assert "-c requirements-lock.txt" in (ROOT / "requirements.txt").read_text()


def test_stable_baselines3_is_a_course_dependency_not_an_extra():
    assert pins(ROOT / "requirements.txt")["stable-baselines3"] == "2.9.2"
    # Notebook 8 needs it, so `make setup` installs it; a separate benchmark extra would drift from the lock.
    assert not (ROOT / "requirements-bench.txt").exists()
    assert "requirements-bench.txt" not in (ROOT / "Makefile").read_text()


def test_conda_environment_installs_the_same_files():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip_section = environment["dependencies"][:-1], environment["dependencies"][-1]["pip"]
    assert conda == ["python>=3.11,<3.14", "pip"], "only Python and pip come from conda"
    assert "-r requirements.txt" in pip_section
    assert all(entry.startswith(("-r ", "-e ", "--extra-index-url")) for entry in pip_section), "pins belong in requirements.txt"


def test_installed_packages_are_the_pinned_versions_and_nothing_else():
    """Every installed distribution is pinned (lock or a requirements file) at its version; every direct pin is installed."""
    pinned = {}
    for path in sorted(ROOT.glob("requirements*.txt")):
        pinned.update(pins(path))
    installed = {canonical(dist.metadata["Name"]): dist.version.split("+")[0] for dist in metadata.distributions()}
    # pip comes with the venv; the course itself is `pip install -e .`; extras a test installed are pinned too.
    unpinned = set(installed) - set(pinned) - {"pip", "dqn-cartpole-course"}
    assert not unpinned, f"installed but pinned nowhere: {sorted(unpinned)}"
    assert {name: installed[name] for name in installed if name in pinned} == \
        {name: pinned[name] for name in installed if name in pinned}
    assert set(pins(ROOT / "requirements.txt")) <= set(installed)


def test_byte_compile_compiles_packages_but_not_their_tests_and_skips_templates(tmp_path):
    from tools.byte_compile import main
    (tmp_path / "pkg" / "tests").mkdir(parents=True)
    (tmp_path / "pkg" / "module.py").write_text("VALUE = 1\n")
    (tmp_path / "pkg" / "tests" / "test_module.py").write_text("def test(): pass\n")
    (tmp_path / "pkg" / "template.py").write_text("{% if x %}not python{% endif %}\n")
    assert main([str(tmp_path)]) == 0
    compiled = {path.name.split(".")[0] for path in tmp_path.rglob("*.pyc")}
    assert compiled == {"module"}

