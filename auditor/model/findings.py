"""What the engine answers: findings, each gadget's outcome, what it could not judge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from auditor.model.verdicts import Verdict

Severity = Literal["error", "warning", "notice"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "notice")
#: A gadget's outcome, best first; it is the worst any fired rule gives it, and never
#: better than ``unknown`` while evidence it needs is missing (``evaluate.engine``).
#: ``unknown`` sits above ``prompt_accept_works``: missing facts may hide something worse,
#: but a certain failure is still worse than not knowing.
Outcome = Literal["works", "prompt_accept_works", "unknown", "prompt_accept_fails", "broken"]
OUTCOMES: tuple[Outcome, ...] = ("works", "prompt_accept_works", "unknown",
                                 "prompt_accept_fails", "broken")


SubjectScope = Literal["node", "endpoint", "certificate"]


@dataclass(frozen=True, order=True)
class Subject:
    """What of a node a rule looked at: the node itself, one endpoint (``key``: its service
    name, e.g. ``finesse``) or one certificate (``key``: the short fingerprint, ``kind``:
    ``tomcat`` or ``tomcat_ecdsa``)."""

    scope: SubjectScope
    key: str = ""
    kind: str = ""

    @property
    def text(self) -> str:
        """How reports and JUnit name it: ``node``, ``finesse``, ``tomcat_ecdsa:1a2b3c4d``."""
        if self.scope == "certificate":
            return f"{self.kind}:{self.key}"
        return self.key if self.scope == "endpoint" else "node"

    @classmethod
    def from_text(cls, text: str) -> Subject:
        """The subject an audit of schema 3 or before wrote as one string (reading old
        files only; nothing else parses a subject)."""
        if text == "node":
            return NODE
        kind, colon, short = text.partition(":")
        return cls("certificate", short, kind) if colon else cls("endpoint", text)


NODE = Subject("node")


@dataclass(frozen=True)
class FindingRef:
    """Another finding of the same node: its rule and its subject."""

    rule_id: str
    subject: Subject

    @classmethod
    def from_text(cls, text: str) -> FindingRef:
        """A cause as an audit of schema 3 wrote it, ``rule-id subject`` (reading old files
        only)."""
        rule_id, _, subject = text.partition(" ")
        return cls(rule_id, Subject.from_text(subject))


RuleResult = Literal["not_applicable", "passed", "failed", "not_seen"]
"""What a rule answered for one subject of one node.

- ``not_applicable``: not in force for the node's role, the phase or the version, or
  nothing of its scope to look at (no subject).
- ``failed``: it fired (a finding), whether or not the subject was seen: a rule such as
  ``endpoint-unreachable`` fires *because* an endpoint did not answer.
- ``not_seen``: it did not fire, and evidence its ``requires:`` names is missing, e.g.
  ``endpoint.browser`` when its subject is an endpoint the audit did not see: the
  endpoint's view has no browser certificate (``endpoint.reachable`` false: not probed,
  or no browser handshake completed), so the rule's condition was false on absent facts.
  That is no pass. In the ``pre`` phase the view is the prediction for after the change:
  an endpoint counts as seen when the prediction has a certificate (a new self-signed
  ``tomcat-ECDSA`` is predicted only where today's browser handshake completed; once
  ECDSA ends, the ``rsa_only`` handshake must have completed). Offline audits' declared
  handshakes count as seen. Certificate subjects are never ``not_seen``: one exists only
  where it was presented. A rule that requires another endpoint (e.g.
  ``node.services.live_data.browser``) is ``not_seen`` on any subject, node scope
  included, where that endpoint was not reached. So is a rule whose answer depends on a
  certificate state it requires and the facts do not know (``unknown``: not collected,
  or contradicted by the facts' own evidence): tried as each state it could be, its
  condition would answer otherwise. Other node-scope rules may still pass on a node none
  of whose endpoints answered (``diff`` does not take such a pass as a fix). A gadget
  that a ``not_seen`` check would have judged (with an effect other than ``works``) is
  ``unknown``.
- ``passed``: it looked at a seen subject and did not fire.

Audits written before ``not_seen`` existed say ``passed`` there; reading them
(:func:`auditor.model.audit.audit_from_data`) gives ``not_seen`` to a passed check of an
endpoint that no client profile reached.
"""
#: The results that mean the rule looked at what it judged.
LOOKED: frozenset[RuleResult] = frozenset({"passed", "failed"})


@dataclass(frozen=True)
class RuleCheck:
    rule_id: str
    node: str
    #: None when not applicable
    subject: Subject | None
    result: RuleResult
    #: the node's gadgets the subject serves that the rule has an effect on: those it
    #: checked (empty when not applicable, and in audits of schema 3 or before)
    gadgets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One rule firing on one subject of one node."""

    rule_id: str
    severity: Severity
    node: str
    subject: Subject
    title: str
    message: str
    remediation: tuple[str, ...]
    gadgets: Mapping[str, str]
    citations: tuple[str, ...]
    basis: str
    #: The findings (same node) this one is a consequence of; it then names no
    #: remediation of its own: fixing the cause fixes it.
    caused_by: tuple[FindingRef, ...] = ()


@dataclass(frozen=True)
class GadgetResult:
    outcome: Outcome
    #: the rules that decided an outcome other than ``works`` (empty for ``works``: the
    #: rules that checked a working gadget are the audit's ``checks``)
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


def rules_that_checked(checks: Iterable[RuleCheck]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(node, gadget) -> the rules that looked at a subject serving that gadget and have an
    effect on it (passed or failed; not a subject the audit did not see), sorted: the
    evidence behind a gadget that works."""
    found: dict[tuple[str, str], set[str]] = {}
    for check in checks:
        if check.result in LOOKED:
            for gadget in check.gadgets:
                found.setdefault((check.node, gadget), set()).add(check.rule_id)
    return {key: tuple(sorted(rules)) for key, rules in found.items()}
