"""``uccx-audit`` run in this process, as the tests' default: the same entry point as the
console script (:func:`auditor.cli.app.run`: exit codes, one-line errors), with stdout,
stderr, the working folder and the environment of its own. A few tests still start a
process (signals, the environment of printing, the console script itself)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """What :func:`subprocess.run` would give: the exit code and the two streams."""

    returncode: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ()


def invoke(*args: str | Path, cwd: str | Path | None = None,
           env: dict[str, str] | None = None) -> Result:
    from auditor.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    here, saved = os.getcwd(), dict(os.environ)
    stdin, argv = sys.stdin, sys.argv
    try:
        sys.argv = ["uccx-audit", *(str(a) for a in args)]  # what the console script sees
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.stdin = io.StringIO()  # as stdin=subprocess.DEVNULL
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run([str(a) for a in args])
    finally:
        sys.stdin, sys.argv = stdin, argv
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
    return Result(code, out.getvalue(), err.getvalue(), tuple(str(a) for a in args))


def terminal_run(*args: str | Path, columns: int = 100,
                 env: dict[str, str] | None = None) -> Result:
    """``uccx-audit`` in a process whose standard output is a pseudo-terminal of
    ``columns`` columns (no COLUMNS in its environment unless ``env`` sets it): its exit
    code and what the terminal showed (stderr is not kept)."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "-m", "auditor", *map(str, args)],
                               stdout=follower, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env={**base, **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return Result(process.returncode, b"".join(chunks).decode().replace("\r\n", "\n"), "",
                  tuple(map(str, args)))
