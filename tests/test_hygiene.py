"""Types and dead code: mypy over the model and the evaluator, vulture over everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_mypy_passes_over_model_and_evaluate() -> None:
    done = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null",
                "--ignore-missing-imports", "auditor/model", "auditor/evaluate")
    assert "No module named mypy" not in done.stderr, "pip install mypy (the test extra)"
    assert done.returncode == 0, done.stdout + done.stderr


def test_vulture_finds_no_dead_code() -> None:
    # bench/run.py installs sslyze into bench/.venv-sslyze (git ignores it): not our code
    done = _run("vulture", "auditor", "tests", "bench", "scripts", "--min-confidence", "60",
                "--exclude", ".venv-sslyze")
    assert "No module named vulture" not in done.stderr, "pip install vulture (the test extra)"
    assert done.returncode == 0, (
        done.stdout + done.stderr + "\n(remove it, or name it in tests/vulture_whitelist.py "
        "with why it is used)")
