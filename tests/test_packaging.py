"""What PyPI would get: ``python -m build`` makes an sdist and, from it, a wheel; both pass
``twine check --strict`` with complete metadata; the wheel ships the rule files and
templates and finds them; installed from the wheel or from the sdist, the tool runs."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

import auditor

pytestmark = pytest.mark.slow  # builds and installs the package into fresh venvs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """The sdist, and the wheel ``build`` makes from the unpacked sdist (so the sdist holds
    all a wheel needs); hatchling from this environment, nothing from a network."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(ROOT)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert "No module named build" not in done.stderr, "pip install build (the test extra)"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("uccx_cert_auditor-*.tar.gz")
    (wheel,) = out.glob("uccx_cert_auditor-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def wheel(dists: dict[str, Path]) -> Path:
    return dists["wheel"]


def test_dists_pass_twine_check_with_what_pypi_shows(dists: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           str(dists["sdist"]), str(dists["wheel"])], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "No module named twine" not in done.stderr, "pip install twine (the test extra)"
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout
    wheel = dists["wheel"]
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(name))
        licence_files = [n for n in archive.namelist() if "/licenses/" in n]
    # the version is the one auditor/__init__.py spells, and pyproject spells none
    assert metadata["Version"] == auditor.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert [n.rsplit("/", 1)[-1] for n in licence_files] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    for minor in range(int(metadata["Requires-Python"].removeprefix(">=3.")), 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers, minor
    assert any(c.startswith("Topic :: ") for c in classifiers)
    assert any(c.startswith("Intended Audience :: ") for c in classifiers)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith("# uccx-cert-auditor")
    assert metadata["Summary"] and metadata["Keywords"]


def test_sdist_holds_every_file_the_readme_links_to(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as archive:
        top = archive.getnames()[0].split("/", 1)[0]
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml",
                   "scripts/wheelhouse.sh", "auditor/__init__.py"):
        assert needed in names, needed
    assert top == f"uccx_cert_auditor-{auditor.__version__}"
    # every relative link and image of the README (PyPI shows it; the source release and
    # the repository resolve it) names a file that ships
    targets = re.findall(r"\]\(([^)#\s]+)", (ROOT / "README.md").read_text())
    relative = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert "docs/report.png" in relative and "docs/USAGE.md" in relative
    for target in relative:
        assert target in names, target


def test_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    # the version being built is the newest one the changelog names
    assert headings[1] == auditor.__version__
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        kinds = re.findall(r"^### (.+)$", section, re.MULTILINE)
        assert kinds and set(kinds) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed",
                                        "Security"}, kinds


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
    """A venv in which only the wheel (or the sdist, built there with this environment's
    hatchling) provides ``auditor``: its dependencies come from the
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
                    "--no-deps", "--no-index", "--no-build-isolation", str(wheel)], env=env,
                   check=True, timeout=300, stdin=subprocess.DEVNULL)
    return python, env


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installed_package_runs_from_any_directory(kind: str, dists: dict[str, Path],
                                                   tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    python, env = _wheel_venv(dists[kind], env_dir)
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
    licence = subprocess.run(
        [python, "-c", "from importlib.metadata import distribution as d; "
         "m = d('uccx-cert-auditor'); print(m.metadata['License-Expression']); "
         "print(any(str(f).endswith('licenses/LICENSE') for f in m.files))"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert licence.stdout.split() == ["MIT", "True"]
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
