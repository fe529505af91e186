"""What the engine answers: findings, each gadget's outcome, what it could not judge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "notice")


@dataclass(frozen=True)
class Finding:
    """One rule firing on one subject of one node."""

    rule_id: str
    severity: str
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

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a finding in fixtures: rule, node, subject."""
        return self.rule_id, self.node, self.subject


@dataclass(frozen=True)
class GadgetResult:
    outcome: str
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
    verdict: str
    findings: tuple[Finding, ...]
    nodes: tuple[NodeResult, ...]
    unknowns: tuple[Unknown, ...] = ()
