"""The remediation plan: the recommended playbook of each root-cause finding, deduplicated,
in the playbooks' own order, with every step resolved to the node it is done on
(:mod:`auditor.model.plan` holds the records; the engine stores the plan in the audit).

Which playbook is recommended is decided by the rule and playbook files (each finding's
remediation is ranked by the engine from their conditions and priorities); the order of the
plan's items is each playbook's ``order``. Nothing here knows a playbook by name.

- Only findings that count toward the verdict ask for steps. A playbook that only findings
  counting toward no verdict name (a GO audit has no other) is an optional improvement,
  without steps.
- A pre-upgrade plan has a part before the upgrade and a part after it: each step says its
  phase (the playbook's ``phase``, by default the window for a restart and after the upgrade
  otherwise), and each part has its own verify step, one that can pass in that phase: the
  audit as it was run for the part before the upgrade, the same audit with ``--phase post``
  for the part after it.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditor.evaluate.gadgets import gadget_titles
from auditor.model.audit import Audit, AuditPlaybook, Step, load_audit
from auditor.model.cluster import role_family
from auditor.model.facts import state_words
from auditor.model.findings import Finding, FindingRef
from auditor.model.plan import (
    VIA,
    Alternative,
    Consequence,
    Improvement,
    Plan,
    PlanItem,
    PlanStep,
)
from auditor.model.solution import PLACES, current
from auditor.model.verdicts import decide

_PURPOSES = {"tomcat": "tomcat", "tomcat_ecdsa": "tomcat-ECDSA"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
#: "On {node}:" (or "On {node},") at the start of a step's words: the step records its
#: node, so the words do not repeat it
_ON_NODE = re.compile(r"^On \{node\}\s*[:,]\s*")
_OS_ADMIN = re.compile(r"^OS Administration\s*>\s*")


def restart_order() -> tuple[str, ...]:
    """The order in which nodes are restarted, one at a time: the solution map's role order
    (the publisher first)."""
    return tuple(current().roles)


def verify_command(audit: Audit, phase: str | None = None) -> str:
    """The command that runs this audit again, as the user ran it; with ``phase`` post for
    a pre-upgrade audit, the same audit after the upgrade (``--phase post``, no target
    version: the nodes then report the version they run)."""
    run = audit.invocation
    wanted = phase or audit.phase
    if run is None:  # not recorded: the command with the inventory to fill in
        return f"uccx-audit audit --inventory INVENTORY.yaml --phase {wanted}"
    args = list(run.args)
    if wanted != audit.phase:
        args = _with_phase(args, wanted)
    text = "uccx-audit " + shlex.join(args)
    if run.command == "evaluate":
        facts = args[1] if len(args) > 1 else "facts.json"
        # facts judged again: probe the inventory they came from first
        return (f"uccx-audit probe --inventory INVENTORY.yaml --out {shlex.quote(facts)} "
                f"&& {text}")
    return text


def _with_phase(args: Sequence[str], phase: str) -> list[str]:
    """``args`` with ``--phase`` set to ``phase``, and without a target version where the
    phase is post."""
    out: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        name, eq, _value = arg.partition("=")
        if name == "--phase":
            out += [f"--phase={phase}"] if eq else ["--phase", phase]
            skip = not eq and index + 1 < len(args)
        elif name == "--target-version" and phase == "post":
            skip = not eq
        else:
            out.append(arg)
    return out


def _purpose(finding: Finding) -> str | None:
    subject = finding.subject
    return _PURPOSES.get(subject.kind) if subject.scope == "certificate" else None


def _firefox_exceptions(audit: Audit, nodes: Sequence[str]) -> str:
    """host:port of every endpoint the map says agents' browsers meet, on these nodes."""
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


def _targets(step: Step, nodes: Sequence[str], roles: Mapping[str, str]) -> tuple[str, ...]:
    """The nodes of this plan item a node step is done on, in order."""
    on = step.on
    solution = current()
    if on == "every-node":
        targets = tuple(nodes)
    elif on == "uccx-nodes":
        targets = tuple(n for n in nodes if solution.families[role_family(roles[n])].cluster)
    elif on == "trust-store":
        # an upload on the publisher replicates to the subscriber
        present = {roles[n] for n in nodes}
        replicated = {solution.roles[r].replicates_trust_to for r in present} - {None}
        targets = tuple(n for n in nodes if roles[n] not in replicated)
    elif on == "restart":
        order = restart_order()
        targets = tuple(sorted(nodes, key=lambda n: order.index(roles[n])))
    else:
        targets = tuple(n for n in nodes if roles[n] == on)
    return tuple(n for n in targets if not step.roles or roles[n] in step.roles)


def _fill(text: str, values: Mapping[str, str]) -> str:
    return " ".join(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)),
                                     text).split())


def service_restarts(role: str) -> str:
    """The service-level restarts of a node of ``role``, from the map: ``utils service
    restart`` of each VOS service behind its family's endpoints (with their default ports),
    in the map's order."""
    family = current().families[role_family(role)]
    by_service: dict[str, list[str]] = {}
    for service in family.services.values():
        if service.vos_service:
            # the service's own port in the map names it; the same words on every node of
            # the role, so the note they go into is printed once
            seen = by_service.setdefault(service.vos_service, [])
            if service.port is not None and str(service.port) not in seen:
                seen.append(str(service.port))
    return "; ".join(f"utils service restart {name}" + (
        f" (port{'s' if len(p) > 1 else ''} {', '.join(p)})" if p else "")
        for name, p in by_service.items())


def step_phase(step: Step) -> str:
    """When a playbook step is done: as it says, else in the window for a restart and
    after the upgrade otherwise."""
    return step.phase or ("window" if step.on == "restart" else "after-upgrade")


def _expectations(playbook: AuditPlaybook, nodes: Sequence[str],
                  findings: Sequence[Finding], roles: Mapping[str, str]) -> tuple[str, ...]:
    out = []
    outcome = playbook.outcome or {}
    titles_of = gadget_titles()
    for host in nodes:
        parts = []
        for key, name in _PURPOSES.items():
            if key in outcome:
                parts.append(f"{name} not presented" if outcome[key] == "not_presented"
                             else f"{name} {state_words(outcome[key])}")
        mine = [f for f in findings if f.node == host]
        gadgets = dict.fromkeys(g for f in mine for g in f.gadgets)
        if outcome.get("gadgets") and gadgets:
            words = "works" if outcome["gadgets"] == "works" else "prompts once, accepting works"
            parts += [f"{titles_of[g]} {words}" for g in gadgets if g in titles_of]
        titles = list(dict.fromkeys(f.title for f in mine))
        if titles:
            parts.append("no finding: " + "; ".join(titles))
        out.append(f"{host} ({roles.get(host, '?')}): " + ", ".join(parts))
    return tuple(out)


@dataclasses.dataclass
class _Builder:
    """The numbering and the notes, shared by every item of one plan."""

    audit: Audit
    roles: dict[str, str]
    per_node: dict[str, list[int]]
    number: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def note(self, text: str | None) -> int | None:
        if not text:
            return None
        if text not in self.notes:
            self.notes.append(text)
        return self.notes.index(text) + 1

    def next(self, node: str | None) -> int:
        self.number += 1
        if node in self.per_node:
            self.per_node[node].append(self.number)
        return self.number

    def item(self, key: str, findings: Sequence[Finding], part: str,
             phases: Sequence[str]) -> PlanItem | None:
        """The plan item of one playbook: its steps of ``phases``, then a verify step that
        can pass in ``part``; None when it has no such step."""
        audit, roles = self.audit, self.roles
        playbook = audit.playbooks[key]
        chosen = [s for s in playbook.steps if step_phase(s) in phases]
        if not chosen:
            return None
        order = list(roles)
        nodes = sorted({f.node for f in findings if f.node in roles}, key=order.index)
        purposes: dict[str, list[str]] = {}
        for finding in findings:
            purpose = _purpose(finding)
            if purpose and finding.node in roles:
                mine = purposes.setdefault(finding.node, [])
                if purpose not in mine:
                    mine.append(purpose)
        # a playbook whose outcome names only tomcat-ECDSA (or tomcat) is about that one
        named = [k for k in _PURPOSES if k in (playbook.outcome or {})]
        fixed = _PURPOSES[named[0]] if len(named) == 1 else "tomcat or tomcat-ECDSA"

        def purpose_of(host: str) -> str:
            return " and ".join(purposes.get(host) or [fixed])

        shared = {"nodes": ", ".join(nodes),
                  "certificates": "; ".join(f"{purpose_of(n)} for {n}" for n in nodes),
                  "firefox_exceptions": _firefox_exceptions(audit, nodes)}
        steps: list[PlanStep] = []
        restarts: list[str] = []
        # every restart step of the playbook counts in "restart i of n" (role by role)
        restart_total = sum(len(_targets(s, nodes, roles)) for s in chosen if s.on == "restart")
        for step in chosen:
            phase = step_phase(step)
            if phase == "before-upgrade" and part != "before-upgrade":
                phase = "after-upgrade"  # the upgrade is done: what was to come first is now
            if step.on in PLACES:
                if step.roles and not any(roles[n] in step.roles for n in nodes):
                    continue  # a place step for roles this item has no node of
                steps.append(PlanStep(
                    self.next(None), "place", PLACES[step.on], _fill(step.do, shared), phase,
                    command=_fill(step.command, shared) if step.command else None,
                    note=self.note(_fill(step.note, shared) if step.note else None)))
                continue
            targets = _targets(step, nodes, roles)
            restart = step.on == "restart"
            via = step.via or ("vos-cli" if restart else "os-admin")
            for host in targets:
                values = {**shared, "node": host, "purpose": purpose_of(host),
                          "service_restarts": service_restarts(roles[host])}
                action = _fill(_ON_NODE.sub("", step.do), values)
                if via == "os-admin":  # the step's place says it already
                    action = _OS_ADMIN.sub("", action)
                if restart:
                    restarts.append(host)
                    action = f"Restart {len(restarts)} of {restart_total}: {action}"
                steps.append(PlanStep(
                    self.next(host), "restart" if restart else "node", VIA[via], action,
                    phase, node=host, role=roles[host],
                    command=_fill(step.command, values) if step.command else None,
                    note=self.note(_fill(step.note, values) if step.note else None)))
        after = part == "after-upgrade"
        command = verify_command(audit, "post" if after and audit.phase == "pre" else None)
        if after or audit.phase != "pre":
            expect = _expectations(playbook, nodes, findings, roles)
            action = playbook.verify.do
        else:
            # before the upgrade the audit still predicts what the upgrade creates: what it
            # must show then is the steps done, not the state after the upgrade
            expect = ()
            action = ("Run the audit again before the window: it checks what can be checked "
                      "before the upgrade; the part after the upgrade says what must then "
                      "change.")
        verify = PlanStep(self.next(None), "verify", PLACES["audit-host"], action,
                          "before-upgrade" if part == "before-upgrade" else "after-upgrade",
                          command=command, expect=expect)
        steps = [dataclasses.replace(s, verified_by=verify.number) for s in steps]
        return PlanItem(key, playbook.title, playbook.when_to_use,
                        tuple(dict.fromkeys(f.title for f in findings)), tuple(nodes),
                        tuple(steps), verify, playbook.citations, tuple(restarts),
                        playbook.changes_certificates, part)


def _counts(finding: Finding) -> bool:
    """Whether a finding counts toward the verdict (asks for action)."""
    return decide((finding.severity,), 0) != "go"


def build_plan(audit: Audit) -> Plan:
    """One item per recommended playbook (per part of a pre-upgrade plan); steps numbered
    through the whole plan."""
    roles = {n.host: n.role for n in audit.nodes}
    required: dict[str, list[Finding]] = {}
    optional: dict[str, list[Finding]] = {}
    others: dict[str, dict[str, list[str]]] = {}
    consequences: list[Finding] = []
    for finding in audit.findings:
        if finding.caused_by:
            consequences.append(finding)
            continue
        if not finding.remediation:
            continue
        first, *rest = finding.remediation
        (required if _counts(finding) else optional).setdefault(first, []).append(finding)
        if not _counts(finding):
            continue
        for other in rest:
            entry = others.setdefault(other, {"instead": [], "for": []})
            if first not in entry["instead"]:
                entry["instead"].append(first)
            if finding.title not in entry["for"]:
                entry["for"].append(finding.title)

    def rank(key: str) -> tuple[int, str]:
        playbook = audit.playbooks.get(key)
        return (playbook.order if playbook else 100, key)

    builder = _Builder(audit, roles, {host: [] for host in roles})
    parts = ((("before-upgrade", ("before-upgrade",)),
              ("after-upgrade", ("after-upgrade", "window"))) if audit.phase == "pre"
             else (("after-upgrade", ("before-upgrade", "after-upgrade", "window")),))
    items = [item for part, phases in parts for key in sorted(required, key=rank)
             if (item := builder.item(key, required[key], part, phases)) is not None]
    titles = {key: audit.playbooks[key].title for key in required}
    alternatives = tuple(
        Alternative(key, audit.playbooks[key].title, audit.playbooks[key].when_to_use,
                    tuple(titles[k] for k in entry["instead"] if k in titles),
                    tuple(entry["for"]))
        for key, entry in sorted(others.items(), key=lambda kv: rank(kv[0]))
        if key not in required and key in audit.playbooks)
    order = list(roles)
    improvements = tuple(
        Improvement(key, audit.playbooks[key].title, audit.playbooks[key].when_to_use,
                    tuple(dict.fromkeys(f.title for f in found)),
                    tuple(sorted({f.node for f in found if f.node in roles}, key=order.index)))
        for key, found in sorted(optional.items(), key=lambda kv: rank(kv[0]))
        if key not in required and key in audit.playbooks)
    return Plan(tuple(items), alternatives, {h: tuple(v) for h, v in builder.per_node.items()},
                _consequences(audit, consequences), verify_command(audit),
                verify_command(audit, "post") if audit.phase == "pre" else "",
                tuple(builder.notes), improvements, audit.phase)


def _consequences(audit: Audit, findings: Sequence[Finding]) -> tuple[Consequence, ...]:
    by_key = {(f.node, FindingRef(f.rule_id, f.subject)): f for f in audit.findings}
    notes: list[Consequence] = []
    for finding in findings:
        causes = finding.caused_by
        found = [by_key[(finding.node, c)] for c in causes if (finding.node, c) in by_key]
        fixed_by = tuple(dict.fromkeys(audit.playbooks[f.remediation[0]].title
                                       for f in found if f.remediation
                                       and f.remediation[0] in audit.playbooks))
        note = Consequence(finding.title, finding.node,
                           tuple(dict.fromkeys(f.title for f in found))
                           or tuple(f"{c.rule_id} {c.subject.text}" for c in causes), fixed_by)
        if note not in notes:
            notes.append(note)
    return tuple(notes)


def planned(audit: Audit) -> Audit:
    """The audit with its plan: as stored, else built from its findings (an audit of a
    schema before the plan was stored, or one whose invocation was replaced)."""
    return audit if audit.plan is not None else dataclasses.replace(audit,
                                                                    plan=build_plan(audit))


def plan_of(audit: Audit) -> Plan:
    """The audit's plan (built from its findings where it holds none)."""
    return audit.plan if audit.plan is not None else build_plan(audit)


def load_planned(path: str | Path) -> Audit:
    """An audit file with its plan built again from its findings and playbooks: a stored
    plan is not believed (the findings it follows from are checked on load, a plan is not),
    and an audit of schema 4 or older holds none."""
    audit = load_audit(path)
    return dataclasses.replace(audit, plan=build_plan(audit))
