"""The lock resolves to wheels on every supported Python (3.11, 3.12, 3.13).

`make lock` asks pip on each version to resolve every requirements*.txt file together, wheels
only, and records what it chose in requirements-resolution.json. The fast tests check that
record against the requirement files as they are now; the `network` test asks PyPI again
(`make check-wheels`; `make check` leaves it out: it takes a minute or two per version).
"""
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from test_environment import pins

from tools.lock_requirements import (
    RECORD, SUPPORTED_PYTHONS, find_python, requirement_files, requirements_digest, resolve, resolved_wheels,
)

ROOT = Path(__file__).resolve().parent.parent


def all_pins() -> dict:
    """{canonical name: version} pinned by the lock or by any requirements*.txt."""
    found = pins(ROOT / "requirements-lock.txt")
    for path in requirement_files():
        found.update(pins(path))
    return found


def wheel_fits(filename: str, version: str) -> bool:
    """Whether a wheel installs on CPython `version` ('3.12'): a cp312, py3 or abi3 (cp3x, x <= 12) tag."""
    minor = int(version.split(".")[1])
    for tag in parse_wheel_filename(filename)[3]:
        if tag.interpreter in ("py3", f"py3{minor}", f"cp3{minor}"):
            return True
        if tag.abi == "abi3" and re.fullmatch(r"cp3(\d+)", tag.interpreter) and int(tag.interpreter[3:]) <= minor:
            return True
    return False


def resolution_problems(packages: dict, version: str) -> list:
    """What is wrong with one version's resolution {canonical name: [name, version, wheel]}; [] if nothing."""
    pinned = all_pins()
    problems = [f"{name}=={got} is not pinned" for key, (name, got, _) in packages.items() if key not in pinned]
    problems += [f"{name}=={got}, but the pin says {pinned[key]}" for key, (name, got, _) in packages.items()
                 if key in pinned and got.split("+")[0] != pinned[key]]
    problems += [f"{wheel} does not install on Python {version}" for _, _, wheel in packages.values()
                 if not wheel_fits(wheel, version)]
    direct = {key for path in requirement_files() for key in pins(path)}
    problems += [f"{key}, pinned in a requirements file, was not resolved" for key in sorted(direct - set(packages))]
    return problems


@pytest.fixture(scope="module")
def record() -> dict:
    """requirements-resolution.json."""
    return json.loads(RECORD.read_text())


def test_the_record_is_for_the_requirement_files_as_they_are(record):
    assert record["files"] == [path.name for path in requirement_files()]
    assert record["requirements_sha256"] == requirements_digest(), \
        "a requirements*.txt file changed since `make lock`: run `make lock KEEP=1` to resolve it again"


@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_every_pin_resolved_to_a_wheel_on_each_supported_python(record, version):
    resolved = record["pythons"][version]
    assert resolved["python"].startswith(f"{version}.")
    assert len(resolved["packages"]) > 100
    assert resolution_problems(resolved["packages"], version) == []


def test_the_checks_of_a_resolution_can_fail():
    packages = {"torch": ["torch", "2.13.0", "torch-2.13.0-cp312-cp312-manylinux_2_28_x86_64.whl"],
                "left-pad": ["left-pad", "1.0", "left_pad-1.0-py3-none-any.whl"],
                "numpy": ["numpy", "2.4.5", "numpy-2.4.5-cp311-cp311-manylinux_2_28_x86_64.whl"]}
    problems = resolution_problems(packages, "3.12")
    assert "left-pad==1.0 is not pinned" in problems
    assert "numpy==2.4.5, but the pin says 2.4.6" in problems
    assert "numpy-2.4.5-cp311-cp311-manylinux_2_28_x86_64.whl does not install on Python 3.12" in problems
    assert "scipy, pinned in a requirements file, was not resolved" in problems
    assert wheel_fits("cffi-2.1.1-cp39-abi3-manylinux_2_17_x86_64.whl", "3.13")
    assert not wheel_fits("cffi-2.1.1-cp314-abi3-manylinux_2_17_x86_64.whl", "3.13")


def test_every_place_names_the_same_python_versions():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^SUPPORTED_PYTHONS := (.+)$", makefile, re.M).group(1).split() == list(SUPPORTED_PYTHONS)
    requires = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if f"{v}.0" in requires] == list(SUPPORTED_PYTHONS)
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"][0]
    assert conda == "python>=3.11,<3.14" and SpecifierSet(conda.removeprefix("python")) == requires
    quick_start = (ROOT / "README.md").read_text().split("## Quick start")[1].split("\n## ")[0]
    assert "Python 3.11, 3.12 or 3.13" in quick_start


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_pypi_resolves_every_pin_to_a_wheel_now(version):
    python = find_python(version)
    assert python, f"python{version} not found (on PATH or in pyenv): this check needs every supported Python"
    packages = resolved_wheels(resolve(python, requirement_files()))
    assert resolution_problems(packages, version) == []
