"""What a cluster is: its nodes, and the roles, services and ports each role serves as the
solution map (:mod:`auditor.model.solution`) states them.

The inventory file is read into these by :mod:`auditor.collect.inventory`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.model.solution import builtin, current


def roles() -> tuple[str, ...]:
    """The roles, in the map's order (publisher, subscriber, SocialMiner)."""
    return tuple(current().roles)


def cluster_roles() -> tuple[str, ...]:
    """The roles whose nodes form the UCCX cluster (publisher and subscriber): the nodes that
    report the cluster's version and are each other's peer."""
    solution = current()
    return tuple(r for r, spec in solution.roles.items()
                 if solution.families[spec.family].cluster)


def role_family(role: str) -> str:
    """The family of a role (``uccx`` for publisher and subscriber) in the map in force."""
    return current().family_of(role)


def default_ports(family: str, *, all_ports: bool = False) -> dict[str, int]:
    """Service to default port of a family: probed by default (and with ``--all-ports``)."""
    return current().default_ports(family, all_ports=all_ports)


def services_of_family(family: str) -> tuple[str, ...]:
    """Every service of a family, in the map's order."""
    return tuple(current().services(family))


def __getattr__(name: str) -> Any:
    # The names this module had before the map, read from the built-in map when first asked
    # (so importing the model does not read the map).
    if name == "ROLES":
        return tuple(builtin().roles)
    if name == "UCCX_ROLES":
        return cluster_roles()
    if name == "DEFAULT_PORTS":
        return {f: builtin().default_ports(f) for f in builtin().families}
    if name == "EXTRA_UCCX_PORTS":  # what --all-ports adds (only UCCX nodes have such)
        return {s.name: s.port for f in builtin().families.values()
                for s in f.services.values() if not s.default}
    if name == "SERVICES_BY_ROLE":
        return {f: tuple(builtin().services(f)) for f in builtin().families}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class CliAccess:
    """How to log in to a node's VOS CLI (the password never comes from the inventory)."""

    user: str = "admin"
    port: int = 22
    key_file: str | None = None


@dataclass(frozen=True)
class Node:
    """One server of the cluster as the inventory names it."""

    host: str
    role: str
    address: str | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    declared: Mapping[str, Any] = field(default_factory=dict)
    #: probe only ``ports`` (a quick look at HOST:PORT), not the role's defaults
    only_listed_ports: bool = False
    #: offline audit: the folder with this node's downloaded certificates
    pem_dir: str | None = None
    #: read this node's installed certificates over its VOS CLI
    cli: CliAccess | None = None

    def endpoints(self, all_ports: bool = False) -> dict[str, int]:
        """Service name to port: role defaults, ``--all-ports`` extras, then overrides."""
        family = role_family(self.role)
        ports = {} if self.only_listed_ports else default_ports(family, all_ports=all_ports)
        ports.update(self.ports)
        return dict(sorted(ports.items(), key=lambda item: (item[1], item[0])))


@dataclass(frozen=True)
class Inventory:
    """A whole cluster: name, version the nodes run now, and nodes."""

    cluster: str
    version: str
    nodes: tuple[Node, ...]
    path: str | None = None
