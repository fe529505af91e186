"""The direction of the stages is enforced (docs/ARCHITECTURE.md): import-linter's
contracts in pyproject.toml hold, they fail on a wrong import, and the engine loads no
OpenSSL, template engine or table printer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports")
    assert exe, "lint-imports is missing: pip install import-linter (the test extra)"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([exe, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.lint
def test_the_import_contracts_hold() -> None:
    done = _lint_imports(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "0 broken" in done.stdout


@pytest.mark.lint
def test_a_wrong_import_breaks_the_contracts(tmp_path: Path) -> None:
    """A copy of the package whose engine imports the prober fails lint-imports."""
    shutil.copytree(ROOT / "auditor", tmp_path / "auditor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    engine = tmp_path / "auditor" / "evaluate" / "engine.py"
    engine.write_text(engine.read_text().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport auditor.collect.prober  # wrong\n", 1))
    done = _lint_imports(tmp_path, tmp_path)
    assert done.returncode != 0, done.stdout
    assert "evaluate never imports collect" in done.stdout and "BROKEN" in done.stdout
    assert "auditor.evaluate.engine -> auditor.collect.prober" in done.stdout


def _fresh_python(code: str) -> None:
    """Run ``code`` in a new interpreter (nothing imported yet) on this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_importing_the_engine_loads_no_openssl_jinja2_or_tabulate() -> None:
    code = ("import sys, auditor.evaluate.engine\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('OpenSSL', 'cryptography', 'ssl', '_ssl', 'jinja2', 'tabulate', 'paramiko') "
            "or m.startswith(('auditor.collect', 'auditor.render', 'auditor.lab')))\n"
            "assert not bad, bad\n"
            "assert 'auditor.evaluate.engine' in sys.modules\n")
    _fresh_python(code)


def test_commands_import_only_what_they_use() -> None:
    """Markdown, JSON, JUnit and ``verify`` need no Jinja2, tabulate or OpenSSL; a valid
    file needs nothing beyond its validator. Start-up time is paid per run."""
    code = ("import sys\n"
            "import auditor.render, auditor.render.catalogue, auditor.render.audit_text\n"
            "import auditor.render.diff_render, auditor.render.portfolio_diff\n"
            "import auditor.pipeline.manifest, auditor.cli.app\n"
            "from auditor.evaluate.ruleset import load_ruleset\n"
            "load_ruleset()\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('OpenSSL', 'jinja2', 'tabulate', 'asyncio'))\n"
            "assert not bad, bad\n")
    _fresh_python(code)
