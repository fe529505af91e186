"""Windows and macOS by construction, checked on Linux (see docs/PLATFORMS.md).

A child Python makes fcntl, termios, pwd, grp and resource unimportable, imports every
module of the package, then forces the Windows paths (auditor.common.portable.FORCED)
with a stand-in msvcrt whose ``locking`` has the documented semantics (a lock held by one
handle refuses every other handle, of this process too; LK_NBLCK fails at once with
EACCES) built on the flock this process took before fcntl was hidden. The standard
library is loaded before the stand-in (so it keeps its POSIX code); the package's code
alone sees it. It then runs an
offline audit, the demo and a PDF, and checks the lock refuses a second writer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from test_output_sets import offline_cluster

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "fixtures" / "lab"
HIDDEN = ("fcntl", "termios", "pwd", "grp", "resource")

PRELUDE = f"""
import errno, importlib, os, pkgutil, sys, types
_fcntl = importlib.import_module("fcntl")  # kept for the stand-in msvcrt only
# the standard library picks its Windows code when msvcrt imports: load it before the
# stand-in exists (only the package's own code is to see it)
import asyncio, getpass, shutil, subprocess, tempfile
for name in {HIDDEN!r}:
    sys.modules[name] = None
msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_UNLCK, msvcrt.LK_LOCK, msvcrt.LK_NBLCK, msvcrt.LK_RLCK, msvcrt.LK_NBRLCK = range(5)
def locking(fd, mode, nbytes):
    if mode == msvcrt.LK_UNLCK:
        _fcntl.flock(fd, _fcntl.LOCK_UN)
        return
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
    except BlockingIOError:
        raise OSError(errno.EACCES, "Permission denied") from None
msvcrt.locking = locking
sys.modules["msvcrt"] = msvcrt
import auditor
failed = []
for module in pkgutil.walk_packages(auditor.__path__, "auditor."):
    if module.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(module.name)
    except ImportError as exc:
        failed.append(f"{{module.name}}: {{exc}}")
assert not failed, failed
"""


def child(code: str, **env: str) -> subprocess.CompletedProcess:
    script = PRELUDE + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=400, stdin=subprocess.DEVNULL, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_every_module_imports_without_posix_only_modules() -> None:
    done = child("print('imported')")
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout


def test_no_posix_only_module_is_imported_at_module_level() -> None:
    line = re.compile(rf"^(import|from) ({'|'.join(HIDDEN)})\b", re.MULTILINE)
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}"
             for path in sorted((ROOT / "auditor").rglob("*.py"))
             for match in line.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.browser
def test_audit_demo_and_pdf_with_the_windows_paths_forced(tmp_path) -> None:
    browser = shutil.which("chromium")
    assert browser, "chromium is missing: install Debian chromium (sh scripts/test-deps.sh)"
    inventory = offline_cluster(tmp_path)
    # Chromium's sockets live in the temporary folder, and a socket's path has at most
    # 107 bytes: a short one of the test's own, as a user's is
    short = Path(tempfile.mkdtemp(prefix="uccx-"))
    try:
        done = child(f"""
            import auditor.common.portable as portable
            portable.FORCED = "windows"
            from auditor.cli.app import run
            from auditor.common.errors import InputError
            from auditor.pipeline.outdir import OutputSet
            from auditor.pipeline import ownership
            assert ownership._renameat2_function() is None
            codes = {{}}
            codes["audit"] = run(["audit", "--inventory", {str(inventory)!r}, "--phase", "post",
                                 "--agent-trust", {str(LAB / "agent-trust.pem")!r},
                                 "--out", {str(tmp_path / "audit")!r}])
            codes["again"] = run(["audit", "--inventory", {str(inventory)!r}, "--phase", "post",
                                 "--agent-trust", {str(LAB / "agent-trust.pem")!r},
                                 "--out", {str(tmp_path / "audit")!r}, "--pdf"])
            codes["demo"] = run(["demo", "--out", {str(tmp_path / "demo")!r}])
            with OutputSet(__import__("pathlib").Path({str(tmp_path / "locked")!r})):
                try:
                    with OutputSet(__import__("pathlib").Path({str(tmp_path / "locked")!r})):
                        codes["lock"] = "not held"
                except InputError as exc:
                    codes["lock"] = "held" if "another uccx-audit" in str(exc) else str(exc)
            print(codes)
        """, UCCX_AUDIT_BROWSER=browser, HOME=str(tmp_path), TMPDIR=str(short))
    finally:
        shutil.rmtree(short, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    codes = eval(done.stdout.strip().splitlines()[-1])  # the child's own dict
    assert codes == {"audit": 1, "again": 1, "demo": 0, "lock": "held"}, done.stderr
    assert (tmp_path / "audit" / "report.pdf").is_file(), done.stdout + done.stderr
    assert (tmp_path / "audit" / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "demo" / "manifest.json").is_file()
    assert invoke_verify(tmp_path / "audit") == 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not [n for n in leftovers if n.endswith(".lock") or "uccx-stage" in n], leftovers


def invoke_verify(folder: Path) -> int:
    from cli_runner import invoke

    return invoke("verify", folder, "--strict").returncode
