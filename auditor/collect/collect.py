"""From an inventory to facts: the probe stage wired together."""

from __future__ import annotations

from collections.abc import Callable

from auditor.collect.handshake import Handshake, Target
from auditor.collect.observed import build_facts
from auditor.collect.prober import ProbeOptions, probe_all
from auditor.collect.trust import AgentTrust
from auditor.model.cluster import Inventory, Node
from auditor.model.facts import Facts, ProbeSettings


def endpoints_of(inventory: Inventory, all_ports: bool = False) -> list[tuple[Node, str, int]]:
    """Every (node, service, port) to probe, in inventory order."""
    return [(node, service, port) for node in inventory.nodes
            for service, port in node.endpoints(all_ports).items()]


def probe_inventory(inventory: Inventory, *, trust: AgentTrust, options: ProbeOptions,
                    all_ports: bool = False,
                    progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
                    ) -> Facts:
    """Probe every endpoint of every node concurrently and build the facts."""
    endpoints = endpoints_of(inventory, all_ports)
    targets = [Target(node.host, port, node.address) for node, _service, port in endpoints]
    results = probe_all(targets, options, progress)
    settings = ProbeSettings(float(options.connect_timeout), float(options.handshake_timeout),
                             all_ports, "tls13_sigalgs")
    return build_facts(inventory, endpoints, results, trust=trust, settings=settings)
