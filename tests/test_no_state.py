"""The tool keeps no state between runs: a whole audit writes nothing outside its --out
folder (no cache in the home folder, nothing a later run could trust blindly)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _everything_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_whole_audit_writes_nothing_into_the_home_or_cache_folder(tmp_path: Path) -> None:
    home, cache, out = tmp_path / "home", tmp_path / "cache", tmp_path / "out"
    home.mkdir()
    cache.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-m", "auditor", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert {"facts.json", "report.html", "report.md", "junit.xml"} <= {
        p.name for p in out.iterdir()}
    assert _everything_in(home) == []
    assert _everything_in(cache) == []
