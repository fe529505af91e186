"""The remediation plan: the recommended playbook of each finding, deduplicated, ordered,
with every step resolved to the nodes it is done on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auditor.audit import Audit, AuditPlaybook

#: The order in which playbooks must be done when several apply: reach the servers first,
#: mend the certificates themselves, then the ECDSA choice, then the agents' side.
PLAN_ORDER = (
    "check-endpoint-reachability",
    "prepare-ec-signing-before-upgrade",
    "renew-certificate",
    "replace-weak-certificate",
    "fix-certificate-names",
    "fix-certificate-chain",
    "install-uccx-cop",
    "install-socialminer-cop",
    "sign-tomcat-ecdsa-with-ec-ca",
    "roll-back-cop",
    "add-certificates-to-agent-trust-stores",
    "agents-accept-once",
)

_PLACES = {
    "agent-desktops": "agents' PCs",
    "certificate-authority": "the certificate authority",
    "cisco-software-download": "Cisco Software Download",
    "audit-host": "the audit host",
}


@dataclass(frozen=True)
class PlanStep:
    number: int
    where: tuple[str, ...]
    do: str
    note: str | None


@dataclass(frozen=True)
class PlanItem:
    playbook: str
    title: str
    when_to_use: str
    because: tuple[str, ...]
    nodes: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    verify: PlanStep
    citations: tuple[str, ...]


@dataclass(frozen=True)
class Alternative:
    playbook: str
    title: str
    when_to_use: str
    instead_of: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    items: tuple[PlanItem, ...]
    alternatives: tuple[Alternative, ...]
    per_node: Mapping[str, tuple[int, ...]]


def _rank(playbook: str) -> tuple[int, str]:
    return (PLAN_ORDER.index(playbook) if playbook in PLAN_ORDER else len(PLAN_ORDER),
            playbook)


def _where(on: str, nodes: Sequence[str], roles: Mapping[str, str]) -> tuple[str, ...]:
    if on in _PLACES:
        return (_PLACES[on],)
    if on == "every-node":
        return tuple(nodes)
    if on == "uccx-nodes":
        return tuple(n for n in nodes if roles[n] != "socialminer") or tuple(
            h for h, r in roles.items() if r != "socialminer")
    chosen = tuple(n for n in nodes if roles[n] == on)
    return chosen or tuple(h for h, r in roles.items() if r == on) or (on,)


def build_plan(audit: Audit) -> Plan:
    """One item per recommended playbook; steps numbered through the whole plan."""
    roles = {n.host: n.role for n in audit.nodes}
    order = [n.host for n in audit.nodes]
    chosen: dict[str, dict[str, list[str]]] = {}
    others: dict[str, list[str]] = {}
    for finding in audit.findings:
        if not finding.remediation:
            continue
        first, *rest = finding.remediation
        entry = chosen.setdefault(first, {"because": [], "nodes": []})
        if finding.title not in entry["because"]:
            entry["because"].append(finding.title)
        if finding.node in roles and finding.node not in entry["nodes"]:
            entry["nodes"].append(finding.node)
        for other in rest:
            others.setdefault(other, [])
            if first not in others[other]:
                others[other].append(first)
    items: list[PlanItem] = []
    number = 0
    per_node: dict[str, list[int]] = {host: [] for host in order}
    for key in sorted(chosen, key=_rank):
        playbook: AuditPlaybook = audit.playbooks[key]
        nodes = sorted(chosen[key]["nodes"], key=order.index)
        steps = []
        for step in (*playbook.steps, playbook.verify):
            number += 1
            where = _where(step.on, nodes, roles)
            for host in where:
                if host in per_node:
                    per_node[host].append(number)
            steps.append(PlanStep(number, where, " ".join(step.do.split()),
                                  " ".join(step.note.split()) if step.note else None))
        items.append(PlanItem(key, playbook.title, " ".join(playbook.when_to_use.split()),
                              tuple(chosen[key]["because"]), tuple(nodes), tuple(steps[:-1]),
                              steps[-1], playbook.citations))
    alternatives = tuple(
        Alternative(key, audit.playbooks[key].title,
                    " ".join(audit.playbooks[key].when_to_use.split()), tuple(instead))
        for key, instead in sorted(others.items(), key=lambda kv: _rank(kv[0]))
        if key not in chosen and key in audit.playbooks)
    return Plan(tuple(items), alternatives, {h: tuple(v) for h, v in per_node.items()})
