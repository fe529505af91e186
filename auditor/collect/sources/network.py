"""The network source: what each endpoint presents to the three client profiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from auditor.collect.handshake import Handshake, Target
from auditor.collect.prober import ProbeOptions
from auditor.collect.sources import Reading, Stage
from auditor.collect.trust import AgentTrust
from auditor.model.cluster import Inventory

Progress = Callable[[Target, tuple[Handshake, ...]], None]


@dataclass(frozen=True)
class NetworkSource:
    """Probe every endpoint of the inventories it is to give facts for, all of them
    through one handshake pool, so that the concurrency and per-host limits hold for the
    whole run (a portfolio's clusters included). Refines nothing."""

    trust: AgentTrust
    options: ProbeOptions
    all_ports: bool = False
    progress: Progress | None = None
    name: str = "network"
    stage: Stage = Stage.NETWORK

    def covers(self, inventory: Inventory) -> bool:
        return True

    def read(self, inventories: Sequence[Inventory], whole: Sequence[bool]
             ) -> list[Reading | None]:
        from auditor.collect.collect import probe_inventories

        wanted = [inv for inv, asked in zip(inventories, whole, strict=True) if asked]
        probed = iter(probe_inventories(wanted, trust=self.trust, options=self.options,
                                        all_ports=self.all_ports, progress=self.progress))
        return [Reading(self.name, facts=next(probed)) if asked else None
                for asked in whole]
