"""The VOS CLI source: what each node holds, read over its admin CLI (SSH)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.collect.sources import Reading, Stage
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts

if TYPE_CHECKING:
    from auditor.collect.vos_cli import CliRequest


@dataclass(frozen=True)
class VosCliSource:
    """Reads the nodes each inventory's request names (``request_for``: the request of an
    inventory, None for none) before anything is probed: a changed host key stops the run
    first. Covers nothing: what a node holds refines what was presented or declared
    (:func:`auditor.collect.installed.refine_from_cli`)."""

    request_for: Callable[[Inventory], CliRequest | None]
    name: str = "vos_cli"
    stage: Stage = Stage.SHELL

    def covers(self, inventory: Inventory) -> bool:
        return False

    def read(self, inventories: Sequence[Inventory], whole: Sequence[bool]
             ) -> list[Reading | None]:
        return [self._read(inv) for inv in inventories]

    def _read(self, inventory: Inventory) -> Reading | None:
        request = self.request_for(inventory)
        if request is None:
            return None
        from auditor.collect.vos_cli import read_installed

        readings = read_installed(request)

        def refine(facts: Facts) -> Facts:
            from auditor.collect.installed import refine_from_cli

            return refine_from_cli(facts, readings)
        return Reading(self.name, refine=refine)
