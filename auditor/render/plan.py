"""The remediation plan: the recommended playbook of each root-cause finding, deduplicated,
in the playbooks' own order, with every step resolved to the node it is done on.

Which playbook is recommended is decided by the rule and playbook files (each finding's
remediation is ranked by the engine from their conditions and priorities); the order of the
plan's items is each playbook's ``order``. Nothing here knows a playbook by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auditor.evaluate.gadgets import gadget_titles
from auditor.model.audit import Audit, AuditPlaybook, Step
from auditor.model.cluster import role_family
from auditor.model.facts import state_words
from auditor.model.findings import Finding, FindingRef
from auditor.model.solution import PLACES, current


def restart_order() -> tuple[str, ...]:
    """The order in which nodes are restarted, one at a time: the solution map's role order
    (the publisher first)."""
    return tuple(current().roles)
_PURPOSES = {"tomcat": "tomcat", "tomcat_ecdsa": "tomcat-ECDSA"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class PlanStep:
    number: int
    where: tuple[str, ...]
    do: str
    note: str | None
    #: node (done on the node in ``where``), place (elsewhere), restart, verify
    kind: str = "place"
    #: before-upgrade, after-upgrade or window
    phase: str = "after-upgrade"
    #: the exact command to type, where the step has one (also at the end of ``do``)
    command: str | None = None


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
    #: The nodes in the order the restart steps restart them (empty: no restart).
    restart_order: tuple[str, ...] = ()
    #: What each node must show in the audit afterwards, one line per node.
    expect: tuple[str, ...] = ()
    changes_certificates: bool = False


@dataclass(frozen=True)
class Alternative:
    playbook: str
    title: str
    when_to_use: str
    instead_of: tuple[str, ...]
    #: The findings it would also fix (their titles).
    for_findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consequence:
    """A finding that follows from another: fixing the cause fixes it, so no playbook."""

    title: str
    node: str
    causes: tuple[str, ...]
    fixed_by: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    items: tuple[PlanItem, ...]
    alternatives: tuple[Alternative, ...]
    per_node: Mapping[str, tuple[int, ...]]
    consequences: tuple[Consequence, ...] = ()
    verify_command: str = ""


def verify_command(audit: Audit) -> str:
    """The command that runs this audit again, as the user ran it."""
    run = audit.invocation
    if run is None:
        return (f"uccx-audit audit --inventory INVENTORY.yaml --phase {audit.phase} (with "
                "the inventory and options of this audit, which did not record them)")
    if run.command == "evaluate":
        facts = run.args[1] if len(run.args) > 1 else "facts.json"
        return (f"uccx-audit probe --inventory INVENTORY.yaml --out {facts} (the inventory "
                f"the facts came from), then {run.text}")
    return run.text


def _purpose(finding: Finding) -> str | None:
    subject = finding.subject
    return _PURPOSES.get(subject.kind) if subject.scope == "certificate" else None


def _firefox_exceptions(audit: Audit, nodes: Sequence[str]) -> str:
    pairs = []
    for node in audit.facts.nodes:
        if node.host not in nodes:
            continue
        family = role_family(node.role)
        ports = {e.service: e.port for e in node.endpoints}
        for service in current().families[family].agents:
            port = ports.get(service, current().port_of(family, service))
            if port is not None and f"{node.host}:{port}" not in pairs:
                pairs.append(f"{node.host}:{port}")
    return ", ".join(pairs)


def service_restarts(audit: Audit, host: str) -> str:
    """The service-level restarts of a node, from the map: ``utils service restart`` of each
    VOS service behind its family's endpoints (with their ports), in the map's order."""
    node = next((n for n in audit.facts.nodes if n.host == host), None)
    if node is None:
        return ""
    family = current().families[role_family(node.role)]
    ports = {e.service: e.port for e in node.endpoints}
    by_service: dict[str, list[str]] = {}
    for name, service in family.services.items():
        if service.vos_service:
            port = ports.get(name, service.port)
            by_service.setdefault(service.vos_service, [])
            if str(port) not in by_service[service.vos_service]:
                by_service[service.vos_service].append(str(port))
    return "; ".join(f"utils service restart {name} (port{'s' if len(p) > 1 else ''} "
                     f"{', '.join(p)})" for name, p in by_service.items())


def step_phase(step: Step) -> str:
    """When a playbook step is done: as it says, else in the window for a restart and after
    the upgrade otherwise."""
    return step.phase or ("window" if step.on == "restart" else "after-upgrade")


def _targets(on: str, nodes: Sequence[str], roles: Mapping[str, str],
             only: Sequence[str] | None = None) -> tuple[str, ...]:
    """The nodes of this plan item a node step is done on, in order (of the roles ``only``
    names, where it names some)."""
    targets = _all_targets(on, nodes, roles)
    return targets if only is None else tuple(n for n in targets if roles[n] in only)


def _all_targets(on: str, nodes: Sequence[str], roles: Mapping[str, str]) -> tuple[str, ...]:
    if on == "every-node":
        return tuple(nodes)
    solution = current()
    if on == "uccx-nodes":
        return tuple(n for n in nodes if solution.families[role_family(roles[n])].cluster)
    if on == "trust-store":
        # an upload on the publisher replicates to the subscriber
        present = {roles[n] for n in nodes}
        replicated = {solution.roles[r].replicates_trust_to for r in present} - {None}
        return tuple(n for n in nodes if roles[n] not in replicated)
    if on == "restart":
        order = restart_order()
        return tuple(sorted(nodes, key=lambda n: order.index(roles[n])))
    return tuple(n for n in nodes if roles[n] == on)


def _fill(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _expectations(playbook: AuditPlaybook, nodes: Sequence[str],
                  findings: Sequence[Finding], roles: Mapping[str, str]) -> tuple[str, ...]:
    out = []
    outcome = playbook.outcome or {}
    for host in nodes:
        parts = []
        for key, name in (("tomcat", "tomcat"), ("tomcat_ecdsa", "tomcat-ECDSA")):
            if key in outcome:
                if outcome[key] == "not_presented":
                    parts.append(f"{name} not presented")
                else:
                    parts.append(f"{name} {state_words(outcome[key])}")
        mine = [f for f in findings if f.node == host]
        gadgets = dict.fromkeys(g for f in mine for g in f.gadgets)
        if outcome.get("gadgets") and gadgets:
            words = "works" if outcome["gadgets"] == "works" else "prompts once, accepting works"
            titles_of = gadget_titles()
            parts += [f"{titles_of[g]} {words}" for g in gadgets if g in titles_of]
        titles = list(dict.fromkeys(f.title for f in mine))
        if titles:
            parts.append("no finding: " + "; ".join(titles))
        out.append(f"{host} ({roles.get(host, '?')}): " + ", ".join(parts))
    return tuple(out)


def build_plan(audit: Audit) -> Plan:
    """One item per recommended playbook; steps numbered through the whole plan."""
    roles = {n.host: n.role for n in audit.nodes}
    order = [n.host for n in audit.nodes]
    chosen: dict[str, list[Finding]] = {}
    others: dict[str, dict[str, list[str]]] = {}
    consequences: list[tuple[Finding, tuple[FindingRef, ...]]] = []
    for finding in audit.findings:
        if finding.caused_by:
            consequences.append((finding, finding.caused_by))
            continue
        if not finding.remediation:
            continue
        first, *rest = finding.remediation
        chosen.setdefault(first, []).append(finding)
        for other in rest:
            entry = others.setdefault(other, {"instead": [], "for": []})
            if first not in entry["instead"]:
                entry["instead"].append(first)
            if finding.title not in entry["for"]:
                entry["for"].append(finding.title)
    command = verify_command(audit)

    def rank(key: str) -> tuple[int, str]:
        playbook = audit.playbooks.get(key)
        return (playbook.order if playbook else 100, key)

    items: list[PlanItem] = []
    number = 0
    per_node: dict[str, list[int]] = {host: [] for host in order}
    for key in sorted(chosen, key=rank):
        playbook = audit.playbooks[key]
        findings = chosen[key]
        nodes = sorted({f.node for f in findings if f.node in roles}, key=order.index)
        purposes: dict[str, list[str]] = {}
        for finding in findings:
            purpose = _purpose(finding)
            if purpose and finding.node in roles:
                purposes.setdefault(finding.node, [])
                if purpose not in purposes[finding.node]:
                    purposes[finding.node].append(purpose)
        # a playbook whose outcome names only tomcat-ECDSA (or tomcat) is about that one
        named = [k for k in ("tomcat", "tomcat_ecdsa") if k in (playbook.outcome or {})]
        fixed = _PURPOSES[named[0]] if len(named) == 1 else None
        certificates = "; ".join(
            f"{' and '.join(purposes.get(n) or [fixed or 'tomcat or tomcat-ECDSA'])} "
            f"for {n}" for n in nodes)
        shared = {"nodes": ", ".join(nodes), "certificates": certificates,
                  "firefox_exceptions": _firefox_exceptions(audit, nodes)}
        steps: list[PlanStep] = []
        restarts: list[str] = []

        def add(where: tuple[str, ...], do: str, note: str | None, kind: str,
                step: Step, values: Mapping[str, str], steps: list[PlanStep] = steps) -> None:
            nonlocal number
            number += 1
            for host in where:
                if host in per_node:
                    per_node[host].append(number)
            command = _fill(step.command, values) if step.command else None
            if command:
                do = f"{do} Command: {command}"
            steps.append(PlanStep(number, where, " ".join(do.split()),
                                  " ".join(note.split()) if note else None, kind,
                                  step_phase(step), command))

        # every restart step of the playbook counts in "restart i of n" (role by role)
        restart_total = sum(len(_targets(s.on, nodes, roles, s.roles))
                            for s in playbook.steps if s.on == "restart")
        for step in playbook.steps:
            if step.on in PLACES:
                if step.roles is not None and not any(roles[n] in step.roles for n in nodes):
                    continue
                add((PLACES[step.on],), _fill(step.do, shared),
                    _fill(step.note, shared) if step.note else None, "place", step, shared)
                continue
            targets = _targets(step.on, nodes, roles, step.roles)
            for host in targets:
                values = {**shared, "node": host, "purpose": " and ".join(
                    purposes.get(host) or [fixed or "tomcat or tomcat-ECDSA"]),
                    "service_restarts": service_restarts(audit, host)}
                do = _fill(step.do, values)
                if "{node}" not in step.do:
                    do = f"On {host}: {do}"
                if step.on == "restart":
                    restarts.append(host)
                    do = f"Restart {len(restarts)} of {restart_total}: {do}"
                add((host,), do, _fill(step.note, values) if step.note else None,
                    "restart" if step.on == "restart" else "node", step, values)
        expect = _expectations(playbook, nodes, findings, roles)
        number += 1
        verify = PlanStep(number, (PLACES["audit-host"],),
                          f"Run {command} — {' '.join(playbook.verify.do.split())} "
                          f"Each node must then show: {' | '.join(expect)}.",
                          None, "verify")
        items.append(PlanItem(key, playbook.title, " ".join(playbook.when_to_use.split()),
                              tuple(dict.fromkeys(f.title for f in findings)), tuple(nodes),
                              tuple(steps), verify, playbook.citations, tuple(restarts),
                              expect, playbook.changes_certificates))
    titles = {key: audit.playbooks[key].title for key in chosen}
    alternatives = tuple(
        Alternative(key, audit.playbooks[key].title,
                    " ".join(audit.playbooks[key].when_to_use.split()),
                    tuple(titles[k] for k in entry["instead"] if k in titles),
                    tuple(entry["for"]))
        for key, entry in sorted(others.items(), key=lambda kv: rank(kv[0]))
        if key not in chosen and key in audit.playbooks)
    by_key = {(f.node, FindingRef(f.rule_id, f.subject)): f for f in audit.findings}
    notes = []
    for finding, causes in consequences:
        found = [by_key[(finding.node, c)] for c in causes if (finding.node, c) in by_key]
        fixed_by = tuple(dict.fromkeys(audit.playbooks[f.remediation[0]].title
                                       for f in found if f.remediation
                                       and f.remediation[0] in audit.playbooks))
        note = Consequence(finding.title, finding.node,
                           tuple(dict.fromkeys(f.title for f in found))
                           or tuple(f"{c.rule_id} {c.subject.text}" for c in causes), fixed_by)
        if note not in notes:
            notes.append(note)
    return Plan(tuple(items), alternatives, {h: tuple(v) for h, v in per_node.items()},
                tuple(notes), command)
