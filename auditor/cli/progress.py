"""Probe progress: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from auditor.collect.handshake import Handshake, Target

Report = Callable[[Target, tuple[Handshake, ...]], None]


def _status(results: tuple[Handshake, ...]) -> str:
    if any(r.ok for r in results):
        return "ok"
    return results[0].error.kind if results and results[0].error else "failed"


@contextlib.contextmanager
def probe_progress(total: int, *, interactive: bool | None = None) -> Iterator[Report]:
    """Yield the callback the prober calls once per endpoint."""
    if interactive is None:
        interactive = sys.stdout.isatty()
    if not interactive:
        done = [0]

        def line(target: Target, results: tuple[Handshake, ...]) -> None:
            done[0] += 1
            sys.stderr.write(f"[{done[0]}/{total}] {target.host}:{target.port} "
                             f"{_status(results)}\n")
            sys.stderr.flush()

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("", total=total)

        def advance(target: Target, results: tuple[Handshake, ...]) -> None:
            bar.update(task, advance=1,
                       description=f"{target.host}:{target.port} {_status(results)}")

        yield advance
