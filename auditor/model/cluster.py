"""What a cluster is: roles, the services and ports each role serves, its nodes.

The inventory file is read into these by :mod:`auditor.collect.inventory`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROLES = ("uccx-publisher", "uccx-subscriber", "socialminer")


UCCX_ROLES = ("uccx-publisher", "uccx-subscriber")


#: Ports per role, from the table in docs/domain.md, "Who presents which certificate" and the UCCX
#: / SocialMiner port guides.
DEFAULT_PORTS: Mapping[str, Mapping[str, int]] = {
    "uccx": {"finesse": 8445, "live_data": 12015, "notification": 7443},
    "socialminer": {"web": 443, "notification": 7443},
}


#: Ports added by ``--all-ports`` on UCCX nodes (Tomcat, always ``tomcat``).
EXTRA_UCCX_PORTS: Mapping[str, int] = {"cuic": 8444, "os_admin": 8443}


SERVICES_BY_ROLE: Mapping[str, tuple[str, ...]] = {
    "uccx": ("finesse", "live_data", "notification", "cuic", "os_admin"),
    "socialminer": ("web", "notification"),
}


def role_family(role: str) -> str:
    """``uccx`` for publisher and subscriber, ``socialminer`` otherwise."""
    return "uccx" if role in UCCX_ROLES else "socialminer"


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
        ports = {} if self.only_listed_ports else dict(DEFAULT_PORTS[family])
        if all_ports and family == "uccx" and not self.only_listed_ports:
            ports.update(EXTRA_UCCX_PORTS)
        ports.update(self.ports)
        return dict(sorted(ports.items(), key=lambda item: (item[1], item[0])))


@dataclass(frozen=True)
class Inventory:
    """A whole cluster: name, version the nodes run now, and nodes."""

    cluster: str
    version: str
    nodes: tuple[Node, ...]
    path: str | None = None
