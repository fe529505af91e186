"""What the engine answers: findings, each gadget's outcome, what it could not judge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from auditor.model.verdicts import Verdict

Severity = Literal["error", "warning", "notice"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "notice")
#: A gadget's outcome, best first; it is the worst any fired rule gives it. ``unknown``
#: sits above ``prompt_accept_works``: missing facts may hide something worse, but a
#: certain failure is still worse than not knowing.
Outcome = Literal["works", "prompt_accept_works", "unknown", "prompt_accept_fails", "broken"]
OUTCOMES: tuple[Outcome, ...] = ("works", "prompt_accept_works", "unknown",
                                 "prompt_accept_fails", "broken")


#: What a rule answered for one subject of one node: ``not_applicable`` (not in force for
#: the node's role, the phase or the version, or nothing of its scope to look at; subject
#: ``""``), ``passed`` (it looked and did not fire) or ``failed`` (it fired: a finding).
RuleResult = Literal["not_applicable", "passed", "failed"]


@dataclass(frozen=True)
class RuleCheck:
    rule_id: str
    node: str
    subject: str
    result: RuleResult


@dataclass(frozen=True)
class Finding:
    """One rule firing on one subject of one node."""

    rule_id: str
    severity: Severity
    node: str
    subject: str
    title: str
    message: str
    remediation: tuple[str, ...]
    gadgets: Mapping[str, str]
    citations: tuple[str, ...]
    basis: str
    #: The findings (``rule-id subject``, same node) this one is a consequence of; it then
    #: names no remediation of its own: fixing the cause fixes it.
    caused_by: tuple[str, ...] = ()



@dataclass(frozen=True)
class GadgetResult:
    outcome: Outcome
    rules: tuple[str, ...]


@dataclass(frozen=True)
class PredictedStates:
    tomcat: str
    tomcat_ecdsa: str


@dataclass(frozen=True)
class NodeResult:
    host: str
    role: str
    tomcat: str
    tomcat_ecdsa: str
    gadgets: Mapping[str, GadgetResult]
    predicted: PredictedStates | None = None


@dataclass(frozen=True)
class Unknown:
    """A gadget the audit could not judge: why, and what would settle it."""

    node: str
    gadget: str
    reasons: tuple[str, ...]
    settle: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    findings: tuple[Finding, ...]
    nodes: tuple[NodeResult, ...]
    unknowns: tuple[Unknown, ...] = ()
    #: what every rule answered for every node and subject
    checks: tuple[RuleCheck, ...] = ()
