"""The audit JSON: the verdict, findings and gadget outcomes, with the facts they came from.

Deterministic (sorted keys, findings in the engine's order, no time of generation), so the
same facts, rules and options give the same file byte for byte. Validated against
``auditor/schemas/audit.schema.json`` on save and on load. ``checks`` (tens of thousands
on a large fleet) are written as a table: the columns named once, each rule, node, subject
and gadget listed once, and a row of indexes per check, a line each. The facts are copied
in, or, when the facts file sits beside the audit in the same folder and manifest, named
with the SHA-256 of its bytes (``facts_file``) and read from there, checked, on load.
Audits of schemas 3 and 4 are read and migrated on load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.inputs import input_text, read_input
from auditor.common.serde import from_jsonable, to_jsonable
from auditor.common.validation import load_json, parse_json, validate, validate_versioned
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
from auditor.model.plan import Plan
from auditor.model.scope import Scope, scope_line, scope_of
from auditor.model.verdicts import Verdict, decide

#: 2: the ``inconclusive`` verdict and the ``unknowns`` list; 3: ``checks``, what every rule
#: answered for every node and subject; 4: subjects as objects (scope, key, kind), the
#: gadgets each check covered, ``caused_by`` as (rule, subject) and checks grouped per rule
#: and node; 5: checks as a table of indexes, the facts by reference (``facts_file``)
#: when they are written beside the audit, and the remediation plan (``plan``). Schemas 3
#: and 4 are still read (migrated on load, one step per version); 1 and 2 are refused.
SCHEMA_VERSION = 5
#: Older schemas this version reads, migrating them on load.
READABLE_SCHEMAS = (3, 4)
#: The columns of a row of the checks table.
CHECK_COLUMNS = ("rule", "node", "subject", "result", "gadgets")


@dataclass(frozen=True)
class Step:
    """A playbook step as its file says it (the plan resolves it to nodes)."""

    on: str
    do: str
    note: str | None = None
    #: before-upgrade, after-upgrade or window (None: the default for its kind)
    phase: str | None = None
    #: the exact command to type, placeholders unfilled
    command: str | None = None
    #: os-admin or vos-cli, for a step done on a node (None: the default for its kind)
    via: str | None = None
    #: done only on nodes of these roles (empty: every node the step targets)
    roles: tuple[str, ...] = ()


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
    #: the remediation plan (:func:`auditor.evaluate.plan.build_plan`); None in an audit
    #: of schema 4 or older as read, until :func:`auditor.evaluate.plan.planned` builds it
    plan: Plan | None = None


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


def check_table(checks: Iterable[RuleCheck]) -> dict[str, Any]:
    """Checks as schema 5 writes them: each rule, node, subject and gadget listed once (in
    the order of first use) and a row of indexes per check, in the engine's order."""
    lists: dict[str, dict[Any, int]] = {"rules": {}, "nodes": {}, "subjects": {},
                                        "gadgets": {}}

    def index(kind: str, value: Any) -> int:
        return lists[kind].setdefault(value, len(lists[kind]))

    rows = [[index("rules", c.rule_id), index("nodes", c.node),
             None if c.subject is None else index("subjects", c.subject), c.result,
             [index("gadgets", g) for g in c.gadgets]] for c in checks]
    return {"columns": list(CHECK_COLUMNS), "rules": list(lists["rules"]),
            "nodes": list(lists["nodes"]),
            "subjects": [subject_data(s) for s in lists["subjects"]],
            "gadgets": list(lists["gadgets"]), "rows": rows}


def checks_from_table(table: Mapping[str, Any], *, path: str) -> tuple[RuleCheck, ...]:
    """The checks of a schema-valid table; an index that points nowhere, or a subject where
    the rule was not applicable (or none where it was), is an :class:`InputError` naming the
    row. Equal gadget lists share one object."""
    rules, nodes, gadget_names = table["rules"], table["nodes"], table["gadgets"]
    subjects = [Subject(s["scope"], s.get("key", ""), s.get("kind", ""))
                for s in table["subjects"]]
    gadget_lists: dict[tuple[int, ...], tuple[str, ...]] = {}
    checks = []
    for number, (rule, node, subject, result, gadgets) in enumerate(table["rows"]):
        for column, value, within in (("rule", rule, rules), ("node", node, nodes),
                                      ("subject", subject, subjects)):
            if value is not None and value >= len(within):
                raise InputError(f"{column} index {value} points past the end of the "
                                 f"{len(within)} listed", path=path,
                                 field=f"checks.rows[{number}][{CHECK_COLUMNS.index(column)}]",
                                 expected=f"an index below {len(within)} into "
                                 f"checks.{column}s")
        if (subject is None) != (result == "not_applicable"):
            raise InputError(f"result {result!r} with subject {subject!r}", path=path,
                             field=f"checks.rows[{number}]", expected="a null subject with "
                             "not_applicable, and a subject with any other result")
        key = tuple(gadgets)
        names = gadget_lists.get(key)
        if names is None:
            if any(g >= len(gadget_names) for g in key):
                raise InputError(f"a gadget index points past the end of the "
                                 f"{len(gadget_names)} listed", path=path,
                                 field=f"checks.rows[{number}][4]",
                                 expected=f"indexes below {len(gadget_names)} into "
                                 "checks.gadgets")
            names = gadget_lists[key] = tuple(gadget_names[g] for g in key)
        checks.append(RuleCheck(rules[rule], nodes[node],
                                None if subject is None else subjects[subject], result, names))
    return tuple(checks)


def _audit_data(audit: Audit, facts_file: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The audit as JSON-able data, its checks as a table; ``facts_file``: the reference
    written instead of the facts."""
    skipped = {"checks", "facts"} if facts_file is not None else {"checks"}
    data = {f.name: to_jsonable(getattr(audit, f.name)) for f in dataclasses.fields(audit)
            if f.name not in skipped}
    if facts_file is not None:
        data["facts_file"] = dict(facts_file)
    data["checks"] = check_table(audit.checks)
    return data


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def _dumps(data: dict[str, Any]) -> str:
    text = json.dumps({**data, "checks": None}, indent=2, sort_keys=True,
                      ensure_ascii=False, allow_nan=False) + "\n"
    # the only line at this indent that names "checks" is the top-level key: every string
    # inside is escaped onto one line and nested keys sit deeper. The table's lists go on
    # a line each, its rows a line each.
    table = data["checks"]
    parts = []
    for key in sorted(table):
        if key == "rows":
            rows = ",\n".join("      " + _compact(row) for row in table["rows"])
            parts.append('    "rows": [' + (f"\n{rows}\n    ]" if rows else "]"))
        else:
            parts.append(f"    {_compact(key)}: {_compact(table[key])}")
    return text.replace('\n  "checks": null', '\n  "checks": {\n' + ",\n".join(parts)
                        + "\n  }", 1)


def audit_to_json(audit: Audit) -> str:
    """The self-contained audit (its facts copied in): sorted keys, two-space indent, a
    final newline; each row of the checks table on a line of its own."""
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
    return {**data, "schema_version": 4, "findings": findings, "checks": groups,
            "accepted_risks": [{**a, "finding": _finding_from_v3(a["finding"])}
                               for a in data.get("accepted_risks", ())]}


def _from_v4(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-4 audit (validated, or migrated from 3) in schema 5's shape: its checks,
    grouped per rule and node, as the table; it holds no plan, which is built from its
    findings when it is shown (:func:`auditor.evaluate.plan.planned`)."""
    return {**data, "schema_version": 5, "plan": None,
            "checks": check_table(_checks_from_groups(data.get("checks", [])))}


#: Each older schema's step to the next one.
_MIGRATIONS = {3: _from_v3, 4: _from_v4}


def _migrated(data: dict[str, Any], *, path: str) -> dict[str, Any]:
    """An audit of an older readable schema, validated against that schema and migrated
    step by step to this one."""
    validate(data, f"audit-v{data['schema_version']}", path=path)
    while data["schema_version"] != SCHEMA_VERSION:
        data = _MIGRATIONS[data["schema_version"]](data)
    return data


#: A facts file named by reference: a plain name in the audit's own folder.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


def facts_reference(facts_path: Path) -> dict[str, str]:
    """What an audit written beside ``facts_path`` holds instead of the facts: the file's
    name and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(facts_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"name": facts_path.name, "sha256": digest.hexdigest()}


def _referenced_facts(reference: Mapping[str, str], *, path: str,
                      folder: Path | None) -> Any:
    """The facts data an audit names by reference, read from its folder and checked against
    the SHA-256 it records: a missing file, or one with other bytes, is an
    :class:`InputError` naming both files and what was expected, never a fall back."""
    name, wanted = reference["name"], reference["sha256"]
    if not _PLAIN_NAME.fullmatch(name):  # the schema's pattern lets a final newline through
        shown = json.dumps(name, allow_nan=False)
        raise InputError(f"names its facts as {shown}, which is not a file name in the "
                         "audit's own folder", path=path, field="facts_file.name",
                         expected="a plain file name such as facts.json (no folder, no "
                         "leading dot)")
    self_contained = ("or, for an audit that needs no other file, write one with "
                      f"uccx-audit report {path} --format json --out FILE where both are")
    if folder is None:
        raise InputError(f"names its facts as {name} beside it, but was not read from a "
                         "folder", path=path, field="facts_file",
                         expected=f"the audit.json read from its folder, beside {name}")
    facts_path = folder / name
    if not facts_path.exists() and not facts_path.is_symlink():
        raise InputError(f"its facts are not in this file but in {name} beside it (sha256 "
                         f"{wanted[:16]}...), and {facts_path} is missing: was the audit.json "
                         "copied without its facts.json?", path=path, field="facts_file.name",
                         expected=f"{facts_path} from the same audit folder; copy the whole "
                         f"folder, {self_contained}")
    raw = read_input(facts_path, "json")
    got = hashlib.sha256(raw).hexdigest()
    if got != wanted:
        raise InputError(f"{facts_path} is not the facts file this audit was judged from: "
                         f"its SHA-256 is {got[:16]}..., the audit names {wanted[:16]}...",
                         path=path, field="facts_file.sha256",
                         expected=f"the {name} written with this audit (uccx-audit verify "
                         "on the folder shows which file changed)")
    return parse_json(input_text(raw, facts_path), str(facts_path))


def audit_from_data(data: Any, *, path: str = "<audit>", folder: Path | None = None
                    ) -> Audit:
    """Validate plain data against the audit schema (and its facts against theirs); an
    audit of schema 3 or 4 is validated against that schema, then migrated. Facts named by
    reference are read from ``folder`` (the audit file's) and checked against their
    SHA-256."""
    if isinstance(data, dict) and "verdict" not in data and {"certificates", "nodes",
                                                              "observed_at"} <= data.keys():
        raise InputError("this is a facts file (what probe and audit record), not an audit",
                         path=path, expected="an audit.json; judge facts first with "
                         f"uccx-audit evaluate {path} --phase pre|post --out audit.json")
    if isinstance(data, dict) and data.get("schema_version") in READABLE_SCHEMAS:
        data = _migrated(data, path=path)
    else:
        validate_versioned(data, "audit", SCHEMA_VERSION, path=path)
    if ("facts" in data) == ("facts_file" in data):
        raise InputError("holds both the facts and a reference to a facts file" if "facts"
                         in data else "holds neither the facts nor a reference to them",
                         path=path, field="facts", expected="the facts copied in (facts) or "
                         "the facts file beside it named (facts_file), one of the two")
    if "facts_file" in data:
        facts_path = folder / data["facts_file"]["name"] if folder is not None else None
        facts_data = _referenced_facts(data["facts_file"], path=path, folder=folder)
        facts_from_data(facts_data, path=str(facts_path))
        data = {**{k: v for k, v in data.items() if k != "facts_file"}, "facts": facts_data}
    else:
        facts_from_data(data["facts"], path=f"{path} (facts)")
    audit: Audit = from_jsonable(Audit, {k: v for k, v in data.items() if k != "checks"})
    checks = (checks_from_table(data["checks"], path=path) if "checks" in data else ())
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


def save_audit(audit: Audit, path: str | Path, *, facts_file: Path | None = None) -> Path:
    """Validate against the audit schema, then write atomically. ``facts_file``: the facts
    file the run wrote beside ``path`` (same folder, same manifest) from ``audit.facts``;
    the audit then names it with its SHA-256 instead of copying the facts in. Without it
    the audit is self-contained. The facts are only checked to be an object here (the
    audit schema's view of them): they are validated in full when read
    (:func:`load_audit`), which on a thousand endpoints takes longer than the probe."""
    if facts_file is not None and Path(facts_file).parent.resolve() != Path(
            path).parent.resolve():
        raise ValueError(f"{facts_file} is not beside {path}")
    data = _audit_data(audit, None if facts_file is None else facts_reference(Path(facts_file)))
    validate(data, "audit", path=str(path))
    return write_atomic(path, _dumps(data))


def load_audit(path: str | Path) -> Audit:
    """Read an audit file written by any version of this tool with the same schema, or
    with schema 3 or 4 (migrated); facts it names by reference are read beside it."""
    return audit_from_data(load_json(path), path=str(path), folder=Path(path).parent)
