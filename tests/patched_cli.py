"""``uccx-audit`` in a process of its own, with the timing or the failure a test needs patched
in from here, so the product carries no test hook. Run as ``python tests/patched_cli.py ARGS``
(the arguments of ``uccx-audit``), with these variables:

- ``TEST_SLOW_WRITES=SECONDS``: pause before each point where a file or a set is put in place
  (every ``os.replace`` of an atomic write, and the step that moves a set into ``--out``), so
  a test's signal lands in the middle of writing;
- ``TEST_PAUSE_AT=N`` with ``TEST_PAUSE_DIR=FOLDER``: at the N-th such point (the points are
  counted from 1; the point after the set went in counts too), create ``FOLDER/paused-N`` and
  wait there (at most a minute) for the test's signal; a run that never reaches point N
  creates ``FOLDER/finished`` as it ends;
- ``TEST_BREAK=module:attribute``: that function raises ``RuntimeError('injected bug')``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_points = 0


def _point() -> None:
    """One point where something is put in place: pause as the test asked."""
    global _points
    _points += 1
    slow = os.environ.get("TEST_SLOW_WRITES")
    if slow:
        time.sleep(float(slow))
    pause_at, pause_dir = os.environ.get("TEST_PAUSE_AT"), os.environ.get("TEST_PAUSE_DIR")
    if pause_at and pause_dir and _points == int(pause_at):
        (Path(pause_dir) / f"paused-{_points}").touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the signal ends this; bounded if it never comes
            time.sleep(0.05)


def _patch() -> None:
    import auditor.pipeline.outdir as outdir

    real_replace = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:  # only atomic writes use it
        _point()
        real_replace(src, dst, **kwargs)

    os.replace = replace  # type: ignore[assignment]
    held = outdir.interrupts_held

    @contextlib.contextmanager
    def interrupts_held() -> Iterator[None]:  # the step that moves a set into --out
        _point()
        with held():
            yield
        _point()

    outdir.interrupts_held = interrupts_held  # type: ignore[assignment]
    broken = os.environ.get("TEST_BREAK")
    if broken:
        module_name, name = broken.split(":")
        module = importlib.import_module(module_name)

        def fail(*args: object, **kwargs: object) -> Any:
            raise RuntimeError("injected bug")

        assert callable(getattr(module, name))
        setattr(module, name, fail)


def command() -> list[str]:
    """The start of a command line that runs this wrapper."""
    return [sys.executable, str(Path(__file__).resolve())]


def main() -> None:
    _patch()
    from auditor.cli.app import main as uccx_main

    sys.argv = ["uccx-audit", *sys.argv[1:]]
    try:
        uccx_main()
    finally:
        pause_dir = os.environ.get("TEST_PAUSE_DIR")
        if pause_dir:
            with contextlib.suppress(OSError):
                (Path(pause_dir) / "finished").touch()


if __name__ == "__main__":
    main()
