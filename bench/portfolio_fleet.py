"""A portfolio of lab clusters for scale: N three-node clusters (a publisher, a subscriber
and a SocialMiner, 8 endpoints each) served by the fleet's few server processes, with one
inventory file per cluster.

Every cluster is FAQ row 3 (the fleet's certificates), so each one's verdict is ``go``:
a portfolio run over them that reports anything else has judged something wrongly.
"""

from __future__ import annotations

from pathlib import Path

from auditor.collect.inventory import inventory_to_yaml
from auditor.common.fileio import write_atomic
from auditor.lab.scenarios import DOMAIN
from auditor.model.cluster import DEFAULT_PORTS, Inventory, Node
from bench.fleet import MAX_LIFE_S, VERSION, Fleet, FleetNode, _address

ENDPOINTS_PER_CLUSTER = 2 * len(DEFAULT_PORTS["uccx"]) + len(DEFAULT_PORTS["socialminer"])


def cluster_layout(clusters: int) -> list[FleetNode]:
    """Three nodes per cluster; host names carry the cluster (``c007-uccx-pub``), so that
    every node of the portfolio has its own name, address and certificates."""
    uccx, socialminer = tuple(DEFAULT_PORTS["uccx"]), tuple(DEFAULT_PORTS["socialminer"])
    nodes = []
    for number in range(clusters):
        prefix = f"c{number + 1:03d}"
        for offset, (name, role, services) in enumerate((
                ("uccx-pub", "uccx-publisher", uccx), ("uccx-sub", "uccx-subscriber", uccx),
                ("sm", "socialminer", socialminer))):
            nodes.append(FleetNode(f"{prefix}-{name}.{DOMAIN}", role,
                                   _address(3 * number + offset), services))
    return nodes


class PortfolioFleet(Fleet):
    """``clusters`` lab clusters on loopback. Use as a context manager."""

    def __init__(self, clusters: int, workdir: str | Path | None = None, *,
                 processes: int = 2, max_life: float = MAX_LIFE_S) -> None:
        super().__init__(ENDPOINTS_PER_CLUSTER, workdir, processes=processes,
                         max_life=max_life)
        self.clusters = clusters
        self.nodes = cluster_layout(clusters)

    @property
    def inventories_dir(self) -> Path:
        return self.workdir / "inventories"

    def start(self) -> None:
        super().start()
        for inventory in self.cluster_inventories():
            write_atomic(self.inventories_dir / f"{inventory.cluster}.yaml",
                         inventory_to_yaml(inventory))

    def cluster_inventories(self) -> list[Inventory]:
        """One inventory per cluster, in order."""
        ports: dict[str, dict[str, int]] = {}
        for endpoint in self.endpoints:
            ports.setdefault(endpoint.host, {})[endpoint.service] = endpoint.port
        inventories = []
        for start in range(0, len(self.nodes), 3):
            nodes = tuple(Node(host=node.host, role=node.role, address=node.address,
                               ports=ports.get(node.host, {}))
                          for node in self.nodes[start:start + 3])
            prefix = self.nodes[start].host.split("-")[0]
            inventories.append(Inventory(cluster=f"customer-{prefix}", version=VERSION,
                                         nodes=nodes))
        return inventories
