"""`pip install .` ships the rule files and templates inside the wheel and finds them."""

from __future__ import annotations

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


@pytest.mark.timeout(300)
def test_installed_wheel_runs_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # system site packages provide the dependencies; the project itself comes from the wheel
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, timeout=300, stdin=subprocess.DEVNULL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = subprocess.run([env_dir / "bin" / "uccx-audit", "--version"], cwd=elsewhere,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("uccx-audit ")
    where = subprocess.run(
        [python, "-c", "import auditor.common.resources as r; print(r.rules_dir()); "
         "print(r.templates_dir()); import auditor; print(auditor.__file__)"],
        cwd=elsewhere, capture_output=True, text=True, timeout=60, check=True)
    rules, templates, package = where.stdout.splitlines()
    assert str(env_dir) in package, "imported the checkout, not the wheel"
    assert rules.startswith(str(env_dir)) and Path(rules, "README.md").is_file()
    assert templates.startswith(str(env_dir)) and Path(templates, "report.html.j2").is_file()
    demo = subprocess.run([env_dir / "bin" / "uccx-audit", "demo", "--out", "demo"],
                          cwd=elsewhere, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr
    assert "Verdict: NO-GO" in demo.stdout
    html = (elsewhere / "demo" / "report.html").read_text()
    assert "Sign tomcat-ECDSA with a CA that signs EC certificates with ECDSA" in html
    for name in ("report.md", "audit.json", "junit.xml", "facts.json"):
        assert (elsewhere / "demo" / name).is_file()
    rules_list = subprocess.run([env_dir / "bin" / "uccx-audit", "rules", "--format", "json"],
                                cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert rules_list.returncode == 0 and "live-data-prompt-cannot-be-accepted" in \
        rules_list.stdout
