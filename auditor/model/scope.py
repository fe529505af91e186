"""What an audit judged, said out loud: the endpoints whose certificates it saw, per node
and service, those it did not (and what would check them), and whether the servers' own
trust stores were read.

Derived from the facts and the solution map alone (no list of ports or services here): the
endpoints a node has are the services of its family in the map, each probed by default or
only with ``--all-ports``, plus any the facts hold; the nodes whose trust store matters are
the trusters of the map's ``trust`` edges. Audits written before the scope existed get it
derived from their own facts when they are read (``derived: true``).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.model.facts import EndpointFacts, Facts, NodeFacts
from auditor.model.solution import Service, Solution, current

#: What checks an endpoint that the audit did not probe because it is only probed on request.
ALL_PORTS_OPTION = "--all-ports"
#: What reads the servers' trust stores: the option, or the inventory key of one node.
CLI_OPTION = "--cli"
CLI_KEY = "cli:"


@dataclass(frozen=True)
class ScopeEndpoint:
    """One endpoint of one node: judged (a browser-like client got its certificate, or the
    downloaded keystore declares it), or why not and what would check it."""

    node: str
    service: str
    port: int | None
    judged: bool
    why: str | None = None
    check_with: str | None = None


@dataclass(frozen=True)
class ScopeTrust:
    """One node's own trust store (``tomcat-trust``): read over the VOS CLI, or why not and
    what would read it."""

    node: str
    read: bool
    why: str | None = None
    check_with: str | None = None


@dataclass(frozen=True)
class Scope:
    endpoints: tuple[ScopeEndpoint, ...] = ()
    server_trust: tuple[ScopeTrust, ...] = ()
    #: derived from the facts when an audit that did not record it was read
    derived: bool = False

    @property
    def judged(self) -> tuple[ScopeEndpoint, ...]:
        return tuple(e for e in self.endpoints if e.judged)

    @property
    def not_judged(self) -> tuple[ScopeEndpoint, ...]:
        return tuple(e for e in self.endpoints if not e.judged)


def _endpoint_scope(node: NodeFacts, service: str, record: EndpointFacts | None,
                    spec: Service | None) -> ScopeEndpoint:
    """``spec``: the map's service of that name on the node's family, if it has one."""
    port = record.port if record is not None else (spec.port if spec else None)
    if record is None:
        if spec is not None and not spec.default:
            return ScopeEndpoint(node.host, service, port, False, "not probed",
                                 f"add {ALL_PORTS_OPTION}")
        return ScopeEndpoint(node.host, service, port, False, "not probed",
                             f"audit again (ports.{service} in the inventory if it listens "
                             "elsewhere)")
    browser = record.handshake("browser")
    if browser is not None and browser.leaf:
        return ScopeEndpoint(node.host, service, port, True)
    error = record.error or (browser.error if browser is not None else None)
    why = "not reached" + (f" ({error.kind})" if error is not None else "")
    if record.reachable:
        why = "no certificate for a browser"
    return ScopeEndpoint(node.host, service, port, False, why,
                         f"reach it from the audit host (ports.{service} in the inventory if "
                         "it listens elsewhere)")


def _trusters(solution: Solution) -> set[str]:
    """The families and roles the map's trust edges name as holding a trust store."""
    return {edge.truster for edge in solution.trust}


def _trust_scope(node: NodeFacts) -> ScopeTrust:
    read_with = f"add {CLI_OPTION} (or {CLI_KEY} on the node in the inventory)"
    installed = node.installed
    if installed is None:
        return ScopeTrust(node.host, False, "not read", read_with)
    if installed.error is not None:
        return ScopeTrust(node.host, False, f"VOS CLI read failed ({installed.error.kind})",
                          "audit again with --cli once the node's CLI answers")
    return ScopeTrust(node.host, True)


def scope_of(facts: Facts, solution: Solution | None = None) -> Scope:
    """The scope of an audit of ``facts``, under ``solution`` (the map in force)."""
    solution = solution or current()
    endpoints: list[ScopeEndpoint] = []
    trust: list[ScopeTrust] = []
    trusters = _trusters(solution)
    for node in facts.nodes:
        records = {e.service: e for e in node.endpoints}
        family = solution.family_of(node.role) if node.role in solution.roles else None
        specs = (solution.services(family)
                 if family is not None and family in solution.families else {})
        services = [*specs, *(s for s in records if s not in specs)]
        endpoints += [_endpoint_scope(node, s, records.get(s), specs.get(s)) for s in services]
        if family in trusters or node.role in trusters:
            trust.append(_trust_scope(node))
    return Scope(tuple(endpoints), tuple(trust))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def endpoints_phrase(scope: Scope) -> str:
    """``Judged: 5 endpoints on 3 nodes (pub: finesse 8445, ...; sm: web 443, ...)``."""
    judged = scope.judged
    hosts = list(dict.fromkeys(e.node for e in judged))
    if not judged:
        return "Judged: no endpoint"
    per_node = "; ".join(f"{host}: " + ", ".join(f"{e.service} {e.port}" for e in judged
                                                  if e.node == host) for host in hosts)
    return (f"Judged: {_plural(len(judged), 'endpoint')} on {_plural(len(hosts), 'node')} "
            f"({per_node})")


def trust_phrase(scope: Scope) -> str:
    """``Server-to-server trust: read`` / ``not read — add --cli`` / read on some nodes."""
    stores = scope.server_trust
    if not stores:
        return "Server-to-server trust: no node holds one the map names"
    read = [t.node for t in stores if t.read]
    if len(read) == len(stores):
        return "Server-to-server trust: read (VOS CLI) on " + ", ".join(read)
    if not read:
        return f"Server-to-server trust: not read — add {CLI_OPTION}"
    unread = [t.node for t in stores if not t.read]
    return (f"Server-to-server trust: read on {', '.join(read)}; not read on "
            f"{', '.join(unread)} — add {CLI_OPTION}")


def scope_line(scope: Scope) -> str:
    """The one line under the verdict: what was judged, and whether the servers' trust
    stores were read."""
    line = f"{endpoints_phrase(scope)}. {trust_phrase(scope)}."
    if scope.derived:
        line += " (Derived from the audit's facts: its version did not record a scope.)"
    return line


def not_checked(scope: Scope) -> tuple[str, ...]:
    """Each thing the audit did not check, with what would check it."""
    lines = [f"{e.node} {e.service}" + (f" {e.port}" if e.port is not None else "")
             + f": {e.why} — {e.check_with}" for e in scope.not_judged]
    lines += [f"{t.node} trust store: {t.why} — {t.check_with}" for t in scope.server_trust
              if not t.read]
    return tuple(lines)
