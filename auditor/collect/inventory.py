"""The cluster inventory: which nodes, which roles, where to connect."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.filenames import nfc
from auditor.common.validation import load_yaml_validated, validate
from auditor.model.cluster import CliAccess, Inventory, Node, role_family
from auditor.model.solution import current

_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def checked_host(text: str, *, path: str | None = None, field: str = "host",
                 line: int | None = None) -> str:
    """A node's name as the tool uses it (lower case, no final dot, an IPv6 address without
    brackets), or an :class:`InputError` naming the field: RFC 1035 limits (253 characters,
    63 per label, no empty label), nothing before or after the name (a final newline
    included), an IP address as it is written."""
    def refuse(why: str) -> InputError:
        shown = repr(text) if len(text) <= 80 else repr(text[:60]) + "..."
        return InputError(f"{shown} {why}", path=path, line=line, field=field,
                          expected="a fully qualified domain name such as "
                          "uccx1.example.com, or an IP address")

    name = text
    if name.startswith("[") and name.endswith("]"):  # [::1], as in a URL
        name = name[1:-1]
        try:
            if ipaddress.ip_address(name).version != 6:
                raise refuse("is not an IPv6 address in brackets")
        except ValueError:
            raise refuse("is not an IPv6 address in brackets") from None
        return str(ipaddress.ip_address(name))
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise refuse("is not a host name")
    if len(name) > 253:
        raise refuse(f"is {len(name)} characters long; a host name has at most 253")
    for label in name.split("."):
        if not label:
            raise refuse("has an empty label (two dots in a row, or a leading dot)")
        if len(label) > 63:
            raise refuse(f"has a label of {len(label)} characters; at most 63 are allowed")
        if not _LABEL.fullmatch(label):
            raise refuse(f"has a label {label!r} with characters a host name cannot hold")
    return name.lower()


def parse_inventory(data: Any, *, path: str = "<inventory>", locate: Any = None,
                    validated: bool = False) -> Inventory:
    """Validate plain data (as loaded from YAML, unless ``validated`` against the inventory
    schema already) and build an :class:`Inventory`."""
    if not validated:
        validate(data, "inventory", path=path, locate=locate)
    nodes: list[Node] = []
    seen: dict[str, int] = {}
    role_count: dict[str, int] = {}
    solution = current()
    for index, raw in enumerate(data["nodes"]):
        try:
            host = checked_host(raw["host"], path=path, field=f"nodes[{index}].host")
        except InputError as exc:  # the line only now: locating parses the file again
            exc.line = locate(["nodes", index, "host"]) if locate else None
            raise InputError(exc.message, path=path, line=exc.line, field=exc.field,
                             expected=exc.expected) from None
        if host in seen:
            raise InputError(f"{host!r} is listed twice (first as nodes[{seen[host]}])",
                             path=path, line=locate(["nodes", index, "host"]) if locate else None,
                             field=f"nodes[{index}].host",
                             expected="each host once")
        seen[host] = index
        role = raw["role"]
        cluster_roles = [r for r in solution.roles if solution.roles[r].listed_under is None]
        if role not in cluster_roles:
            listed = solution.roles[role].listed_under if role in solution.roles else None
            raise InputError(f"{role!r} is not allowed" + (
                f": a {role} is not a node of the cluster; list it under {listed}:"
                if listed else ""), path=path,
                line=locate(["nodes", index, "role"]) if locate else None,
                field=f"nodes[{index}].role", expected="one of: " + ", ".join(cluster_roles))
        role_count[role] = role_count.get(role, 0) + 1
        if solution.roles[role].at_most_one and role_count[role] > 1:
            raise InputError(f"a second {role}: a UCCX cluster has one publisher and at most "
                             "one subscriber", path=path,
                             line=locate(["nodes", index, "role"]) if locate else None,
                             field=f"nodes[{index}].role", expected="one node per UCCX role")
        family = role_family(role)
        for service in raw.get("ports", {}):
            if service not in solution.services(family):
                raise InputError(f"port {service!r} does not exist on a {role}", path=path,
                                 line=locate(["nodes", index, "ports", service]) if locate
                                 else None, field=f"nodes[{index}].ports.{service}",
                                 expected="one of: " + ", ".join(solution.services(family)))
        cli = raw.get("cli")
        nodes.append(Node(host=host, role=role, address=raw.get("address"),
                          ports=dict(raw.get("ports", {})),
                          declared=dict(raw.get("declared", {})),
                          pem_dir=raw.get("pem_dir"),
                          cli=CliAccess(cli["user"], cli.get("port", 22), cli.get("key_file"))
                          if cli is not None else None))
    nodes += _listed_apart(data, path, locate, seen)
    # composed (NFC): "Zürich" typed on macOS and on Windows is one cluster
    return Inventory(cluster=nfc(data["cluster"]), version=data["version"],
                     nodes=tuple(nodes), path=path)


def _listed_apart(data: Any, path: str, locate: Any, seen: dict[str, int]) -> list[Node]:
    """The servers the map's roles with ``listed_under`` list under their own key (CUCM
    under ``cucm:``): probed on the one service of their family, at its default port
    unless ``port`` says otherwise. A host already listed is refused."""
    solution = current()
    out = []
    for role in solution.roles.values():
        if role.listed_under is None:
            continue
        services = list(solution.services(role.family))
        for index, raw in enumerate(data.get(role.listed_under) or ()):
            where = [role.listed_under, index, "host"]
            try:
                host = checked_host(raw["host"], path=path, field=f"{role.listed_under}"
                                    f"[{index}].host")
            except InputError as exc:
                raise InputError(exc.message, path=path, line=locate(where) if locate
                                 else None, field=exc.field, expected=exc.expected) from None
            if host in seen:
                raise InputError(f"{host!r} is listed twice (first as nodes[{seen[host]}])",
                                 path=path, line=locate(where) if locate else None,
                                 field=f"{role.listed_under}[{index}].host",
                                 expected="each host once")
            seen[host] = len(seen)
            ports = {services[0]: raw["port"]} if "port" in raw else {}
            out.append(Node(host=host, role=role.name, address=raw.get("address"),
                            ports=ports))
    return out


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file."""
    data, locate = load_yaml_validated(path, "inventory")
    return parse_inventory(data, path=str(path), locate=locate, validated=True)


def inventory_to_yaml(inventory: Inventory) -> str:
    """Write an inventory in the documented shape (used by the lab)."""
    lines = [f"cluster: {inventory.cluster}", f'version: "{inventory.version}"', "nodes:"]
    roles = current().roles
    apart = [n for n in inventory.nodes if n.role in roles and roles[n.role].listed_under]
    for node in inventory.nodes:
        if node in apart:
            continue
        lines.append(f"  - host: {node.host}")
        if node.address:
            lines.append(f"    address: {node.address}")
        lines.append(f"    role: {node.role}")
        if node.ports:
            ports = ", ".join(f"{k}: {v}" for k, v in node.ports.items())
            lines.append(f"    ports: {{{ports}}}")
        if node.pem_dir:
            lines.append(f"    pem_dir: {node.pem_dir}")
        if node.cli:
            key = f", key_file: {node.cli.key_file}" if node.cli.key_file else ""
            lines.append(f"    cli: {{user: {node.cli.user}, port: {node.cli.port}{key}}}")
        if node.declared:
            declared = ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in node.declared.items())
            lines.append(f"    declared: {{{declared}}}")
    for key in dict.fromkeys(roles[n.role].listed_under for n in apart):
        lines.append(f"{key}:")
        for node in (n for n in apart if roles[n.role].listed_under == key):
            lines.append(f"  - host: {node.host}")
            if node.address:
                lines.append(f"    address: {node.address}")
            for port in node.ports.values():
                lines.append(f"    port: {port}")
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
