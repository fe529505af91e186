"""The audit JSON: the verdict, findings and gadget outcomes, with the facts they came from.

Deterministic (sorted keys, findings in the engine's order, no time of generation), so the
same facts, rules and options give the same file byte for byte. Validated against
``auditor/schemas/audit.schema.json`` on save and on load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.serde import from_jsonable, to_jsonable
from auditor.common.validation import load_json, validate, validate_versioned
from auditor.model.facts import Facts, facts_from_data
from auditor.model.findings import Finding, NodeResult, RuleCheck, Severity, Unknown
from auditor.model.verdicts import Verdict

#: Where a playbook step happens when it is not on a node (``Step.on``), in words; the
#: plan and the rule catalogue both say it so.
PLACES = {
    "agent-desktops": "agents' PCs",
    "certificate-authority": "the certificate authority",
    "cisco-software-download": "Cisco Software Download",
    "audit-host": "the audit host",
}

#: 2: the ``inconclusive`` verdict and the ``unknowns`` list; 3: ``checks``, what every rule
#: answered for every node and subject.
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Step:
    on: str
    do: str
    note: str | None = None


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
class Invocation:
    """How the audit was run: the arguments after ``uccx-audit`` that run it again (without
    ``--out``), so that a plan's verify step gives the user's own command."""

    command: str
    args: tuple[str, ...]
    inventory: str | None = None

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


def audit_to_json(audit: Audit) -> str:
    """Sorted keys, two-space indent, a final newline."""
    return json.dumps(to_jsonable(audit), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def audit_from_data(data: Any, *, path: str = "<audit>") -> Audit:
    """Validate plain data against the audit schema (and its facts against theirs)."""
    if isinstance(data, dict) and "verdict" not in data and {"certificates", "nodes",
                                                              "observed_at"} <= data.keys():
        raise InputError("this is a facts file (what probe and audit record), not an audit",
                         path=path, expected="an audit.json; judge facts first with "
                         f"uccx-audit evaluate {path} --phase pre|post --out audit.json")
    validate_versioned(data, "audit", SCHEMA_VERSION, path=path)
    facts_from_data(data["facts"], path=f"{path} (facts)")
    return from_jsonable(Audit, data)


def save_audit(audit: Audit, path: str | Path) -> Path:
    """Validate against the audit schema, then write atomically. The facts inside are only
    checked to be an object here (the audit schema's view of them): they are validated in
    full when read (:func:`load_audit`), which on a thousand endpoints takes longer than
    the probe."""
    text = audit_to_json(audit)
    validate(json.loads(text), "audit", path=str(path))
    return write_atomic(path, text)


def load_audit(path: str | Path) -> Audit:
    """Read an audit file written by any version of this tool with the same schema."""
    return audit_from_data(load_json(path), path=str(path))
