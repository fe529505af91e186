"""The audit JSON: the verdict, findings and gadget outcomes, with the facts they came from.

Deterministic (sorted keys, findings in the engine's order, no time of generation), so the
same facts, rules and options give the same file byte for byte. Validated against
``auditor/schemas/audit.schema.json`` on save and on load. ``checks`` (tens of thousands
on a large fleet) are written compactly: one line per rule and node, the subject as a small
object without its empty fields. Audits of schema 3 are read and migrated on load.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.serde import from_jsonable, to_jsonable
from auditor.common.validation import load_json, validate, validate_versioned
from auditor.model.facts import Facts, facts_from_data
from auditor.model.findings import (
    OUTCOMES,
    SEVERITIES,
    Finding,
    FindingRef,
    NodeResult,
    RuleCheck,
    Severity,
    Subject,
    Unknown,
)
from auditor.model.scope import Scope, scope_line, scope_of
from auditor.model.verdicts import Verdict, decide

#: 2: the ``inconclusive`` verdict and the ``unknowns`` list; 3: ``checks``, what every rule
#: answered for every node and subject; 4: subjects as objects (scope, key, kind), the
#: gadgets each check covered, ``caused_by`` as (rule, subject) and checks grouped per rule
#: and node. Schema 3 is still read (migrated on load); 1 and 2 are refused.
SCHEMA_VERSION = 4
#: Older schemas this version reads, migrating them on load.
READABLE_SCHEMAS = (3,)


@dataclass(frozen=True)
class Step:
    on: str
    do: str
    note: str | None = None
    #: before-upgrade, after-upgrade or window (None: the default for its kind of step)
    phase: str | None = None
    #: the exact command to type, where there is one
    command: str | None = None
    #: os-admin or vos-cli, for a step done on a node
    via: str | None = None
    #: done only on nodes of these roles (None: on every node the step targets)
    roles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RuleBrief:
    """A rule in force for this audit (its phase and version), for per-rule reports."""

    id: str
    title: str
    severity: Severity
    roles: tuple[str, ...]


@dataclass(frozen=True)
class RuleSetInfo:
    """Which rules judged: a SHA-256 over every rule and playbook, the site's rules, and
    the rules in force for this audit's phase and version."""

    sha256: str
    rules: int
    playbooks: int
    site_rules: tuple[str, ...]
    catalogue: tuple[RuleBrief, ...] = ()


@dataclass(frozen=True)
class AuditPlaybook:
    """A playbook that a finding refers to, copied in so a report needs no rule files."""

    title: str
    when_to_use: str
    steps: tuple[Step, ...]
    verify: Step
    citations: tuple[str, ...]
    order: int = 50
    changes_certificates: bool = False
    outcome: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Setting:
    """An option of the run that was not on its command line: ``source`` is ``file`` (a
    config file, ``origin`` its path) or ``environment`` (``origin`` the variable)."""

    option: str
    source: str
    origin: str


@dataclass(frozen=True)
class Invocation:
    """How the audit was run: the arguments after ``uccx-audit`` that run it again (without
    ``--out``), so that a plan's verify step gives the user's own command."""

    command: str
    args: tuple[str, ...]
    inventory: str | None = None
    #: the options taken from a config file or the environment (they are in ``args`` too)
    settings: tuple[Setting, ...] = ()

    @property
    def text(self) -> str:
        import shlex

        return "uccx-audit " + shlex.join(self.args)


@dataclass(frozen=True)
class Waiver:
    """One accepted risk as a waivers file states it (``line``: where, for messages)."""

    rule: str
    node: str
    reason: str
    approved_by: str
    ticket: str
    expires: str
    service: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class AcceptedRisk:
    """A finding that a waiver in force accepted, and that waiver
    (:mod:`auditor.evaluate.waivers`)."""

    finding: Finding
    waiver: Waiver


@dataclass(frozen=True)
class Override:
    """One decision of a site's policy (``overrides.yaml``): a rule re-graded from
    ``was`` to ``severity``, or ``disabled`` (not evaluated), and why."""

    rule: str
    reason: str
    was: Severity
    severity: Severity | None = None
    disabled: bool = False
    line: int | None = None

    @property
    def text(self) -> str:
        """What the override does, in a few words."""
        if self.disabled:
            return f"{self.rule} disabled"
        return f"{self.rule} re-graded from {self.was} to {self.severity}"

    @property
    def statement(self) -> str:
        """What it does and why, as every report says it."""
        return f"{self.text}: {self.reason}"


@dataclass(frozen=True)
class SitePolicy:
    """A site's ``overrides.yaml``: where it is, its SHA-256, and its overrides in order."""

    path: str
    sha256: str
    overrides: tuple[Override, ...] = ()

    @property
    def heading(self) -> str:
        """Which file, and which content: ``site policy PATH (sha256 PREFIX...)``."""
        return f"site policy {self.path} (sha256 {self.sha256[:16]}...)"


@dataclass(frozen=True)
class Audit:
    schema_version: int
    tool_version: str
    verdict: Verdict
    cluster: str
    phase: str
    current_version: str
    target_version: str
    change_date: str
    expiry_window_days: int
    rule_set: RuleSetInfo
    summary: Mapping[str, int]
    facts: Facts
    findings: tuple[Finding, ...]
    nodes: tuple[NodeResult, ...]
    playbooks: Mapping[str, AuditPlaybook]
    #: Every gadget the audit could not judge, why, and what would settle it.
    unknowns: tuple[Unknown, ...] = ()
    invocation: Invocation | None = None
    #: findings waived by a waiver in force: they do not count toward the verdict
    accepted_risks: tuple[AcceptedRisk, ...] = ()
    #: waivers that expired or matched nothing
    waiver_notices: tuple[str, ...] = ()
    #: the engine's answer for every rule, node and subject (audits before it: empty)
    checks: tuple[RuleCheck, ...] = ()
    #: the site policies in force (overrides.yaml of each site rule folder; audits before
    #: them: none)
    site_policy: tuple[SitePolicy, ...] = ()
    #: what was judged (endpoints, server trust stores) and what was not; audits before it
    #: get it derived from their facts when read
    scope: Scope | None = None


def subject_data(subject: Subject) -> dict[str, str]:
    """A subject as JSON: its scope, and its key and kind where they are not empty."""
    data: dict[str, str] = {"scope": subject.scope}
    if subject.key:
        data["key"] = subject.key
    if subject.kind:
        data["kind"] = subject.kind
    return data


def _grouped(entries: Iterable[tuple[str, str, dict[str, Any] | None, str]],
             ) -> list[dict[str, Any]]:
    """Checks as written: one entry per rule and node (consecutive in the engine's order).
    Each entry is (rule, node, the subject's item, result); no item: not applicable."""
    groups: list[dict[str, Any]] = []
    for rule_id, node, item, result in entries:
        if item is None:
            groups.append({"node": node, "result": result, "rule_id": rule_id})
            continue
        last = groups[-1] if groups else None
        if (last is not None and "subjects" in last and last["node"] == node
                and last["rule_id"] == rule_id):
            last["subjects"].append(item)
        else:
            groups.append({"node": node, "rule_id": rule_id, "subjects": [item]})
    return groups


def _item(subject: Subject, result: str, gadgets: Iterable[str]) -> dict[str, Any]:
    """One subject's answer as written: the gadgets only where there are some."""
    item: dict[str, Any] = {"result": result, "subject": subject_data(subject)}
    gadgets = list(gadgets)
    if gadgets:
        item["gadgets"] = gadgets
    return item


def _check_groups(checks: Iterable[RuleCheck]) -> list[dict[str, Any]]:
    return _grouped((c.rule_id, c.node,
                     None if c.subject is None else _item(c.subject, c.result, c.gadgets),
                     c.result) for c in checks)


def _checks_from_groups(groups: list[dict[str, Any]]) -> tuple[RuleCheck, ...]:
    """The checks of validated data; equal subjects and gadget lists share one object."""
    subjects: dict[tuple[str, str, str], Subject] = {}
    gadget_lists: dict[tuple[str, ...], tuple[str, ...]] = {}
    checks = []
    for group in groups:
        rule_id, node = group["rule_id"], group["node"]
        if "subjects" not in group:
            checks.append(RuleCheck(rule_id, node, None, group["result"]))
            continue
        for item in group["subjects"]:
            raw = item["subject"]
            key = (raw["scope"], raw.get("key", ""), raw.get("kind", ""))
            subject = subjects.get(key)
            if subject is None:
                subject = subjects[key] = Subject(*key)
            gadgets = tuple(item.get("gadgets", ()))
            checks.append(RuleCheck(rule_id, node, subject, item["result"],
                                    gadget_lists.setdefault(gadgets, gadgets)))
    return tuple(checks)


def _audit_data(audit: Audit) -> dict[str, Any]:
    """The audit as JSON-able data, its checks grouped as written."""
    data = {f.name: to_jsonable(getattr(audit, f.name)) for f in dataclasses.fields(audit)
            if f.name != "checks"}
    data["checks"] = _check_groups(audit.checks)
    return data


def _dumps(data: dict[str, Any]) -> str:
    text = json.dumps({**data, "checks": []}, indent=2, sort_keys=True,
                      ensure_ascii=False, allow_nan=False) + "\n"
    if not data["checks"]:
        return text
    # the only line at this indent that names "checks" is the top-level key: every string
    # inside is escaped onto one line and nested keys sit deeper
    lines = ",\n".join("    " + json.dumps(g, sort_keys=True, ensure_ascii=False,
                                            separators=(",", ":"), allow_nan=False)
                       for g in data["checks"])
    return text.replace('\n  "checks": []', '\n  "checks": [\n' + lines + "\n  ]", 1)


def audit_to_json(audit: Audit) -> str:
    """Sorted keys, two-space indent, a final newline; each entry of ``checks`` on a line
    of its own."""
    return _dumps(_audit_data(audit))


def _cause_data(text: str) -> dict[str, Any]:
    ref = FindingRef.from_text(text)
    return {"rule_id": ref.rule_id, "subject": subject_data(ref.subject)}


def _finding_from_v3(finding: dict[str, Any]) -> dict[str, Any]:
    return {**finding, "subject": subject_data(Subject.from_text(finding["subject"])),
            "caused_by": [_cause_data(c) for c in finding.get("caused_by", ())]}


def _from_v3(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-3 audit (validated) in schema 4's shape. Its checks name no gadgets, except
    failed ones (the gadgets their finding gives an outcome); the rules that checked a
    working gadget stay where schema 3 kept them, in that gadget's result."""
    findings = [_finding_from_v3(f) for f in data["findings"]]
    affected = {(f["rule_id"], f["node"], Subject.from_text(f["subject"])): list(f["gadgets"])
                for f in data["findings"]}

    def item(check: dict[str, Any]) -> dict[str, Any] | None:
        if check["result"] == "not_applicable":
            return None
        subject = Subject.from_text(check["subject"])
        gadgets = (affected.get((check["rule_id"], check["node"], subject), [])
                   if check["result"] == "failed" else [])
        return _item(subject, check["result"], gadgets)

    groups = _grouped((c["rule_id"], c["node"], item(c), c["result"])
                      for c in data.get("checks", ()))
    return {**data, "schema_version": SCHEMA_VERSION, "findings": findings, "checks": groups,
            "accepted_risks": [{**a, "finding": _finding_from_v3(a["finding"])}
                               for a in data.get("accepted_risks", ())]}


def audit_from_data(data: Any, *, path: str = "<audit>") -> Audit:
    """Validate plain data against the audit schema (and its facts against theirs); an
    audit of schema 3 is validated against that schema, then migrated."""
    if isinstance(data, dict) and "verdict" not in data and {"certificates", "nodes",
                                                              "observed_at"} <= data.keys():
        raise InputError("this is a facts file (what probe and audit record), not an audit",
                         path=path, expected="an audit.json; judge facts first with "
                         f"uccx-audit evaluate {path} --phase pre|post --out audit.json")
    if isinstance(data, dict) and data.get("schema_version") in READABLE_SCHEMAS:
        validate(data, f"audit-v{data['schema_version']}", path=path)
        data = _from_v3(data)
    else:
        validate_versioned(data, "audit", SCHEMA_VERSION, path=path)
    facts_from_data(data["facts"], path=f"{path} (facts)")
    audit: Audit = from_jsonable(Audit, {k: v for k, v in data.items() if k != "checks"})
    checks = _checks_from_groups(data.get("checks", []))
    audit = dataclasses.replace(audit, checks=_unseen_not_passed(checks, audit.facts))
    check_judgement(audit, path=path)
    if audit.scope is None:
        return dataclasses.replace(audit, scope=dataclasses.replace(scope_of(audit.facts),
                                                                    derived=True))
    check_scope(audit, path=path)
    return audit


def audit_scope_line(audit: Audit) -> str:
    """The scope line of an audit: of the scope it recorded, else derived from its facts
    (as :func:`audit_from_data` does for audits written before the scope)."""
    scope = audit.scope or dataclasses.replace(scope_of(audit.facts), derived=True)
    return scope_line(scope)


def check_scope(audit: Audit, *, path: str) -> None:
    """A recorded scope claims no more than the audit's own facts hold: an endpoint it
    calls judged gave a browser a certificate there, and a trust store it calls read was
    read over that node's VOS CLI. (What it says was not checked may follow a map of its
    time, so it is kept as written.)"""
    assert audit.scope is not None
    nodes = {n.host: n for n in audit.facts.nodes}
    for index, endpoint in enumerate(audit.scope.endpoints):
        node = nodes.get(endpoint.node)
        record = node.endpoint(endpoint.service) if node is not None else None
        browser = record.handshake("browser") if record is not None else None
        if endpoint.judged and (browser is None or not browser.leaf):
            raise InputError(f"calls {endpoint.node} {endpoint.service} judged, but the facts "
                             "hold no certificate a browser got there; the file was edited or "
                             "is damaged", path=path, field=f"scope.endpoints[{index}].judged",
                             expected="judged only where the facts hold a browser's certificate")
    for index, trust in enumerate(audit.scope.server_trust):
        node = nodes.get(trust.node)
        installed = node.installed if node is not None else None
        if trust.read and (installed is None or installed.error is not None):
            raise InputError(f"calls the trust store of {trust.node} read, but the facts hold "
                             "no VOS CLI reading of it; the file was edited or is damaged",
                             path=path, field=f"scope.server_trust[{index}].read",
                             expected="read only where the facts hold the node's VOS CLI "
                             "reading")


def check_judgement(audit: Audit, *, path: str) -> None:
    """An audit file is judged again from its own findings, not believed: every field derived
    from them (each finding's severity as its rule has it, the failed checks, the summary,
    each gadget's outcome, the unknowns and the verdict) must be what they give, or an
    :class:`InputError` names the first field that is not (the file was edited or damaged).
    Gadgets are checked to be at least as bad as the findings make them: an outcome of
    ``unknown`` may also come from missing evidence, with no finding."""
    def refuse(field: str, message: str, expected: str) -> InputError:
        return InputError(f"{message}; the file was edited or is damaged", path=path,
                          field=field, expected=expected)

    hosts = [n.host for n in audit.facts.nodes]
    severity = {r.id: r.severity for r in audit.rule_set.catalogue}
    everything = [*audit.findings, *(a.finding for a in audit.accepted_risks)]
    for index, finding in enumerate(audit.findings):
        if finding.node not in hosts:
            raise refuse(f"findings[{index}].node", f"{finding.node!r} is not a node of the "
                         "audit's facts", "one of: " + ", ".join(hosts))
        if finding.rule_id in severity and finding.severity != severity[finding.rule_id]:
            raise refuse(f"findings[{index}].severity", f"{finding.severity!r} is not the "
                         f"severity of {finding.rule_id}", repr(severity[finding.rule_id]))
    refs = {(f.node, f.rule_id, f.subject) for f in everything}
    for index, finding in enumerate(everything):
        field = (f"findings[{index}]" if index < len(audit.findings)
                 else f"accepted_risks[{index - len(audit.findings)}].finding")
        for playbook in finding.remediation:
            if playbook not in audit.playbooks:
                raise refuse(f"{field}.remediation", f"names playbook {playbook!r}, which the "
                             "audit does not hold", "playbooks the audit's playbooks hold")
        for cause in finding.caused_by:
            if (finding.node, cause.rule_id, cause.subject) not in refs:
                raise refuse(f"{field}.caused_by", f"names {cause.rule_id} "
                             f"({cause.subject.text}) on {finding.node}, which is not a "
                             "finding of the audit", "findings of the same node")
    if audit.checks:
        failed = {(c.rule_id, c.node, c.subject) for c in audit.checks if c.result == "failed"}
        found = {(f.rule_id, f.node, f.subject) for f in everything}
        if failed != found:
            rule, node, subject = min(failed ^ found, key=str)
            what = "a finding" if (rule, node, subject) in found else "a failed check"
            raise refuse("checks", f"{what} of {rule} on {node} ({subject.text if subject else ''}"
                         ") has no counterpart", "a failed check for each finding and back")
    summary = {s: sum(1 for f in audit.findings if f.severity == s) for s in SEVERITIES}
    if dict(audit.summary) != summary:
        raise refuse("summary", f"{dict(audit.summary)} does not count the findings",
                     str(summary))
    given: dict[tuple[str, str], str] = {}
    for finding in everything:
        for gadget, outcome in finding.gadgets.items():
            place = (finding.node, gadget)
            if outcome in OUTCOMES and OUTCOMES.index(outcome) > OUTCOMES.index(
                    given.get(place, "works")):
                given[place] = outcome
    unknown = set()
    for index, result in enumerate(audit.nodes):
        for gadget, gadget_result in result.gadgets.items():
            worst = given.get((result.host, gadget), "works")
            if OUTCOMES.index(gadget_result.outcome) < OUTCOMES.index(worst):
                raise refuse(f"nodes[{index}].gadgets.{gadget}.outcome",
                             f"{gadget_result.outcome!r} is better than the findings make it "
                             f"({worst!r})", f"{worst!r} or worse")
            if gadget_result.outcome == "unknown":
                unknown.add((result.host, gadget))
    listed = {(u.node, u.gadget) for u in audit.unknowns}
    if listed != unknown:
        node_name, gadget = min(listed ^ unknown)
        raise refuse("unknowns", f"{gadget} on {node_name} is "
                     + ("listed as unknown, but its outcome is not" if (node_name, gadget)
                        in listed else "unknown, but not listed"),
                     "an entry for each gadget whose outcome is unknown")
    verdict = decide((f.severity for f in audit.findings), len(audit.unknowns))
    if audit.verdict != verdict:
        counts = ", ".join(f"{n} {s}" for s, n in summary.items() if n) or "no findings"
        raise refuse("verdict", f"{audit.verdict!r} does not follow from the audit's own "
                     f"findings ({counts}) and {len(audit.unknowns)} unknown gadget(s)",
                     repr(verdict))


def _unseen_not_passed(checks: tuple[RuleCheck, ...], facts: Facts) -> tuple[RuleCheck, ...]:
    """Audits written before ``not_seen`` existed say ``passed`` where a rule's condition
    was merely false on an endpoint that never answered: such a check of an endpoint no
    client profile reached (or that was not probed) is ``not_seen``. The engine never
    writes that combination, so this changes nothing in newer audits."""
    reached = {(n.host, e.service) for n in facts.nodes for e in n.endpoints if e.reachable}
    return tuple(dataclasses.replace(c, result="not_seen")
                 if c.result == "passed" and c.subject is not None
                 and c.subject.scope == "endpoint" and (c.node, c.subject.key) not in reached
                 else c for c in checks)


def save_audit(audit: Audit, path: str | Path) -> Path:
    """Validate against the audit schema, then write atomically. The facts inside are only
    checked to be an object here (the audit schema's view of them): they are validated in
    full when read (:func:`load_audit`), which on a thousand endpoints takes longer than
    the probe."""
    data = _audit_data(audit)
    validate(data, "audit", path=str(path))
    return write_atomic(path, _dumps(data))


def load_audit(path: str | Path) -> Audit:
    """Read an audit file written by any version of this tool with the same schema, or
    with schema 3 (migrated)."""
    return audit_from_data(load_json(path), path=str(path))
