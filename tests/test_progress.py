"""Probe progress: a progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_plain_lines(tmp_path) -> None:
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "demo", "--scenario", "row3-ec-signed-ecdsa",
         "--out", str(tmp_path / "tty")], stdin=subprocess.DEVNULL, stdout=secondary,
        stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the program ended
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(30)
    os.close(primary)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "probing" in text and "[1/8]" not in text
    piped = subprocess.run(
        [sys.executable, "-m", "auditor", "demo", "--scenario", "row3-ec-signed-ecdsa",
         "--out", str(tmp_path / "pipe")], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert piped.returncode == 0
    assert "[8/8]" in piped.stderr and "probing" not in piped.stderr + piped.stdout
