"""Probe progress: a rich progress bar on a terminal; otherwise (a log, a CI job, a pipe)
one line per cluster once all of its endpoints are probed, so that a portfolio of 300
clusters says 300 lines, not one per endpoint. Host and cluster names come from files:
they are shown neutralised, and never read as rich markup."""

from __future__ import annotations

import contextlib
import sys
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from auditor.collect.handshake import Handshake, Target
from auditor.common.textsafe import visible

if TYPE_CHECKING:
    from auditor.model.cluster import Inventory

Report = Callable[[Target, tuple[Handshake, ...]], None]
#: A cluster's name and the endpoints of it that are probed.
Plan = Sequence[tuple[str, Sequence[Target]]]


def plan_of(inventories: Sequence[Inventory], all_ports: bool = False) -> list[
        tuple[str, list[Target]]]:
    """Each inventory's cluster and the endpoints the prober is given for it."""
    from auditor.collect.collect import endpoints_of

    return [(inv.cluster, [Target(node.host, port, node.address)
                           for node, _service, port in endpoints_of(inv, all_ports)])
            for inv in inventories]


def _status(results: tuple[Handshake, ...]) -> str:
    if any(r.ok for r in results):
        return "ok"
    return results[0].error.kind if results and results[0].error else "failed"


def _key(target: Target) -> tuple[str, int, str | None]:
    return target.host, target.port, target.address


class ClusterLines:
    """The callback for a stream that is not a terminal: a line per cluster when its last
    endpoint is probed (``[k/N] cluster: n endpoints, a answered``, and how many failed
    how). An endpoint outside the plan is counted, never an error."""

    def __init__(self, plan: Plan, stream: TextIO) -> None:
        self.stream = stream
        self.names = [visible(name) for name, _ in plan]
        self.sizes = [len(targets) for _, targets in plan]
        self.left = list(self.sizes)
        self.answered = [0] * len(plan)
        self.failed: list[dict[str, int]] = [defaultdict(int) for _ in plan]
        self.owner: dict[tuple[str, int, str | None], deque[int]] = defaultdict(deque)
        for index, (_, targets) in enumerate(plan):
            for target in targets:
                self.owner[_key(target)].append(index)
        self.reported = 0

    def __call__(self, target: Target, results: tuple[Handshake, ...]) -> None:
        owners = self.owner.get(_key(target))
        if not owners:
            return
        index = owners.popleft()
        status = _status(results)
        if status == "ok":
            self.answered[index] += 1
        else:
            self.failed[index][status] += 1
        self.left[index] -= 1
        if self.left[index] == 0:
            self._line(index)

    def _line(self, index: int) -> None:
        self.reported += 1
        size = self.sizes[index]
        text = (f"[{self.reported}/{len(self.sizes)}] {self.names[index]}: probed "
                f"{size} endpoint{'' if size == 1 else 's'}, {self.answered[index]} answered")
        if self.failed[index]:
            text += " (" + ", ".join(f"{n} {kind}" for kind, n in
                                     sorted(self.failed[index].items())) + ")"
        self.stream.write(text + "\n")
        self.stream.flush()


@contextlib.contextmanager
def probe_progress(total: int, *, interactive: bool | None = None, plan: Plan | None = None,
                   quiet: bool = False, stream: TextIO | None = None) -> Iterator[Report]:
    """Yield the callback the prober calls once per endpoint: nothing with ``quiet``; a
    bar on a terminal (``interactive``: standard output is one); else a line per cluster
    of ``plan`` (:func:`plan_of`) on ``stream`` (standard error)."""
    if quiet:
        yield lambda target, results: None
        return
    if interactive is None:
        interactive = sys.stdout.isatty()
    if not interactive:
        yield ClusterLines(plan or (), stream if stream is not None else sys.stderr)
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("", total=total)

        def advance(target: Target, results: tuple[Handshake, ...]) -> None:
            shown = escape(visible(f"{target.host}:{target.port} {_status(results)}"))
            bar.update(task, advance=1, description=shown)

        yield advance
