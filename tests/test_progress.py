"""Probe progress: a progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st


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
    # a pipe: one line for the cluster, none per endpoint
    assert piped.stderr.splitlines() == [
        "[1/1] lab-row3-ec-signed-ecdsa: probed 12 endpoints, 12 answered"]
    assert "probing" not in piped.stdout


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=40), order=st.randoms())
def test_without_a_terminal_progress_is_a_line_per_cluster(sizes, order) -> None:
    """Whatever order the pool finishes endpoints in (clusters interleaved, one host and
    port in two clusters), each cluster gets exactly one line, once all of it is probed."""
    from auditor.cli.progress import probe_progress
    from auditor.collect.handshake import Target

    plan = [(f"cluster-{i}\x1b[2J", [Target(f"h{j % 3}.example.com", 8445 + j,
                                           "127.0.0.1") for j in range(size)])
            for i, size in enumerate(sizes)]
    done = [(target, ()) for _, targets in plan for target in targets]
    order.shuffle(done)
    stream = io.StringIO()
    with probe_progress(len(done), interactive=False, plan=plan, stream=stream) as report:
        for target, results in done:
            report(target, results)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(sizes)
    assert [line.split("] ", 1)[0] for line in lines] == [
        f"[{k}/{len(sizes)}" for k in range(1, len(sizes) + 1)]
    assert sorted(line.split("] ", 1)[1].split(":")[0] for line in lines) == sorted(
        f"cluster-{i}\\x1b[2J" for i in range(len(sizes)))
    assert "\x1b" not in stream.getvalue()
    quiet = io.StringIO()
    with probe_progress(len(done), interactive=False, plan=plan, stream=quiet,
                        quiet=True) as report:
        for target, results in done:
            report(target, results)
    assert quiet.getvalue() == ""
