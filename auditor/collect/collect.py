"""From inventories to facts over the network: the probe stage wired together (the
network source's worker, :mod:`auditor.collect.sources.network`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def probe_inventories(inventories: Sequence[Inventory], *, trust: AgentTrust,
                      options: ProbeOptions, all_ports: bool = False,
                      progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
                      ) -> list[Facts]:
    """Probe every endpoint of every inventory through one handshake pool (the concurrency
    limit holds for all of them at once) and build each inventory's facts."""
    per_cluster = [endpoints_of(inv, all_ports) for inv in inventories]
    targets = [Target(node.host, port, node.address)
               for endpoints in per_cluster for node, _service, port in endpoints]
    results = probe_all(targets, options, progress) if targets else []
    settings = ProbeSettings(float(options.connect_timeout), float(options.handshake_timeout),
                             all_ports, "tls13_sigalgs")
    facts, start = [], 0
    for inventory, endpoints in zip(inventories, per_cluster, strict=True):
        mine = results[start:start + len(endpoints)]
        start += len(endpoints)
        facts.append(build_facts(inventory, endpoints, mine, trust=trust, settings=settings))
    return facts


def probe_inventory(inventory: Inventory, *, trust: AgentTrust, options: ProbeOptions,
                    all_ports: bool = False,
                    progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
                    ) -> Facts:
    """Probe every endpoint of every node concurrently and build the facts."""
    return probe_inventories([inventory], trust=trust, options=options, all_ports=all_ports,
                             progress=progress)[0]
