"""The PEM source: the certificates downloaded from OS Administration, one folder per node
(the node's ``pem_dir`` in the inventory, or ``--from-pem DIR``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.collect.sources import Reading, Stage
from auditor.collect.trust import AgentTrust
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts


@dataclass(frozen=True)
class PemSource:
    """Covers an inventory whose every keystore it holds (``from_pem``, or a ``pem_dir`` on
    every node): its facts are then declared from the keystores, as the servers would
    present them (:mod:`auditor.collect.offline`). Otherwise the nodes with a ``pem_dir``
    refine probed facts: what is installed outranks what is presented
    (:mod:`auditor.collect.installed`). Every folder is read when the source is read, so a
    bad one is an input error before any traffic."""

    trust: AgentTrust
    from_pem: Path | None = None
    all_ports: bool = False
    name: str = "pem"
    stage: Stage = Stage.FILES

    def covers(self, inventory: Inventory) -> bool:
        return self.from_pem is not None or all(n.pem_dir for n in inventory.nodes)

    def read(self, inventories: Sequence[Inventory], whole: Sequence[bool]
             ) -> list[Reading | None]:
        return [self._read(inv, asked) for inv, asked in zip(inventories, whole, strict=True)]

    def _read(self, inventory: Inventory, whole: bool) -> Reading | None:
        from auditor.collect.offline import declared_facts, installed_from_pem

        if whole:
            return Reading(self.name, facts=declared_facts(
                inventory, trust=self.trust, from_pem=self.from_pem,
                all_ports=self.all_ports))
        if not any(n.pem_dir for n in inventory.nodes):
            return None
        installed = installed_from_pem(inventory)

        def refine(facts: Facts) -> Facts:
            from auditor.collect.installed import refine as refine_installed

            return refine_installed(facts, installed)
        return Reading(self.name, refine=refine)
