"""Every dependency floor in pyproject.toml is a version the code really works with.

A fresh venv gets exactly the floors (constraints-lowest.txt) from PyPI, then runs the
demo and, for each runtime dependency, the test modules of the code that calls it (a
representative subset: the whole fast suite there doubled the time of the suite for what
these modules already show; a floor too low breaks the calls these modules make).
pip runs with no configuration but this project's, so a machine's own pins or mirrors
cannot hide a wrong floor.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints-lowest.txt"
#: tools of the suite, not of the code under test: ruff lints, hatchling and build build,
#: twine checks what they built, uv installs,
#: import-linter checks the direction of the stages, mypy the types, vulture dead code
NOT_IN_THE_VENV = {"ruff", "hatchling", "import-linter", "mypy", "vulture", "uv", "build", "twine"}
#: The tests run with the floors: for each runtime dependency, the modules that exercise
#: the calls the code makes to it (none needs Tomcat, Chromium or a tool of the suite;
#: paramiko's is slow, as it talks to a real sshd, and the only one that does).
LOWEST_MODULES: dict[str, tuple[str, ...]] = {
    "cryptography": ("test_certs_and_trust.py", "test_check_cert.py", "test_signatures.py"),
    "pyopenssl": ("test_lab_probe.py", "test_openssl_private.py"),
    "jinja2": ("test_report_formats.py", "test_output_neutralising.py"),
    "typer": ("test_cli.py", "test_cli_help_and_inputs.py", "test_cli_evaluate_and_rules.py"),
    "tabulate": ("test_terminal_output.py",),
    "pyyaml": ("test_yaml12.py", "test_inventory.py", "test_ruleset.py", "test_waivers.py"),
    "rich": ("test_progress.py", "test_terminal_output.py"),
    "jsonschema-rs": ("test_schemas.py", "test_all_problems_listed.py", "test_facts.py"),
    "paramiko": ("test_vos_cli.py",),
    "tomli": ("test_site_config.py",),
}


def _floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for spec in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        match = re.match(r"([A-Za-z0-9_.\-]+)>=([0-9][0-9.]*)", spec)
        assert match, f"{spec!r} has no floor"
        found[match[1].lower()] = match[2]
    return found


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _same(floor: str, pin: str) -> bool:
    def parts(text: str) -> list[int]:
        numbers = [int(p) for p in text.split(".")]
        return numbers + [0] * (3 - len(numbers))
    return parts(floor) == parts(pin)


def test_each_runtime_dependency_has_the_modules_that_exercise_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", spec)[0]).lower()
               for spec in project["dependencies"]}
    assert set(LOWEST_MODULES) == runtime
    for modules in LOWEST_MODULES.values():
        for module in modules:
            text = (ROOT / "tests" / module).read_text(encoding="utf-8")
            assert not re.search(r"pytest\.mark\.(tomcat|browser|lint)", text), module


def test_the_constraints_pin_exactly_the_floors() -> None:
    floors, pins = _floors(), _pins()
    assert set(pins) == set(floors) - NOT_IN_THE_VENV
    for name, pin in pins.items():
        assert _same(floors[name], pin), (name, floors[name], pin)


@pytest.mark.timeout(1200)
def test_the_lowest_versions_run_the_demo_and_the_unit_tests(tmp_path: Path) -> None:
    where = tmp_path / "venv"
    venv.create(where, with_pip=False)
    python = str(where / "bin" / "python")
    # uv installs what pip would, about ten times faster; no configuration of this machine
    # (pip's or uv's files and variables, mirrors, pins) takes part, only PyPI and the pins
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "uv-cache"),
               PYTHONPATH=str(ROOT))
    uv = [sys.executable, "-m", "uv", "pip"]
    installed = subprocess.run(
        [*uv, "install", "--quiet", "--python", python, "--index-url",
         "https://pypi.org/simple", "--native-tls", "-c", str(CONSTRAINTS), *_pins()],
        env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert "No module named uv" not in installed.stderr, "pip install uv (the test extra)"
    assert installed.returncode == 0, (
        "uv could not install the lowest versions from PyPI:\n" + installed.stderr[-3000:])
    frozen = subprocess.run([*uv, "freeze", "--python", python], env=env,
                            capture_output=True, text=True, timeout=120).stdout.lower()
    for name, pin in _pins().items():
        # names as PEP 503 normalises them (uv writes my-name where pip may write my.name)
        assert f"{re.sub(r'[-_.]+', '-', name)}=={pin}" in re.sub(r"[_.]+(?=\S*==)", "-",
                                                                  frozen), name
    demo = subprocess.run([python, "-m", "auditor", "demo", "--out", str(tmp_path / "demo")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (tmp_path / "demo" / "report.html").is_file()
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-n", "2",
         *sorted({str(ROOT / "tests" / m) for ms in LOWEST_MODULES.values() for m in ms})],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
        stdin=subprocess.DEVNULL)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert sys.version_info >= (3, 10)
