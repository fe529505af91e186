"""`pip install .` ships the rule files and templates inside the wheel and finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, timeout=300,
                   stdin=subprocess.DEVNULL)
    (built,) = out.glob("uccx_cert_auditor-*.whl")
    return built


def test_wheel_contains_rules_templates_and_schemas(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "rules").rglob("*"):
        if path.is_file():
            assert f"auditor/_data/rules/{path.relative_to(ROOT / 'rules')}" in names
    for path in (ROOT / "reports" / "templates").rglob("*"):
        if path.is_file():
            rel = path.relative_to(ROOT / "reports" / "templates")
            assert f"auditor/_data/templates/{rel}" in names
    assert "auditor/schemas/facts.schema.json" in names
    assert "auditor/schemas/inventory.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # the stages ship; the benchmark's fleets and the tests do not
    for stage in ("model", "collect", "evaluate", "render", "pipeline", "cli", "common"):
        assert f"auditor/{stage}/__init__.py" in names
    assert not [n for n in names if "fleet" in n or n.startswith(("tests/", "bench/"))]


def _wheel_venv(wheel: Path, env_dir: Path) -> tuple[Path, dict[str, str]]:
    """A venv in which only the wheel provides ``auditor``: its dependencies come from the
    distributions this interpreter already has (a venv's or the system's), listed in a
    ``.pth`` file after the venv's own site-packages; no checkout on any path, no
    PYTHONPATH. So the test means the same inside a venv and on a system Python."""
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], env=env, capture_output=True, text=True,
                             check=True, timeout=60).stdout.strip()
    # after the venv's own site-packages: an ``auditor`` installed there (an editable
    # install, say) cannot shadow the wheel's, and its .pth files are not read
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))
             and Path(p).is_dir()]
    Path(purelib, "_installed_dependencies.pth").write_text("\n".join(outer) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], env=env, check=True,
                   timeout=300, stdin=subprocess.DEVNULL)
    return python, env


@pytest.mark.timeout(300)
def test_installed_wheel_runs_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    python, env = _wheel_venv(wheel, env_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = subprocess.run([env_dir / "bin" / "uccx-audit", "--version"], cwd=elsewhere,
                             env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("uccx-audit ")
    where = subprocess.run(
        [python, "-c", "import auditor.common.resources as r; print(r.rules_dir()); "
         "print(r.templates_dir()); import auditor; print(auditor.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True)
    rules, templates, package = where.stdout.splitlines()
    assert str(env_dir) in package, "imported the checkout, not the wheel"
    assert rules.startswith(str(env_dir)) and Path(rules, "README.md").is_file()
    assert templates.startswith(str(env_dir)) and Path(templates, "report.html.j2").is_file()
    demo = subprocess.run([env_dir / "bin" / "uccx-audit", "demo", "--out", "demo"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr
    assert "Verdict: NO-GO" in demo.stdout
    html = (elsewhere / "demo" / "report.html").read_text()
    assert "Sign tomcat-ECDSA with a CA that signs EC certificates with ECDSA" in html
    for name in ("report.md", "audit.json", "junit.xml", "facts.json"):
        assert (elsewhere / "demo" / name).is_file()
    rules_list = subprocess.run([env_dir / "bin" / "uccx-audit", "rules", "--format", "json"],
                                cwd=elsewhere, env=env, capture_output=True, text=True,
                                timeout=60)
    assert rules_list.returncode == 0 and "live-data-prompt-cannot-be-accepted" in \
        rules_list.stdout
