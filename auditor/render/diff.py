"""What changed between two audits (before and after the change): it closes the ticket."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.evaluate.gadgets import ALL_GADGETS
from auditor.model.audit import Audit
from auditor.model.findings import Finding


@dataclass(frozen=True)
class AuditSide:
    cluster: str
    phase: str
    observed_at: str
    version: str
    verdict: str
    errors: int
    warnings: int
    notices: int


@dataclass(frozen=True)
class CertChange:
    node: str
    certificate: str
    change: str
    before_state: str | None
    after_state: str | None
    before_leaf: str | None
    after_leaf: str | None
    before_subject: str | None
    after_subject: str | None


@dataclass(frozen=True)
class OutcomeChange:
    node: str
    gadget: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class FindingRef:
    rule_id: str
    severity: str
    node: str
    subject: str
    title: str


@dataclass(frozen=True)
class AuditDiff:
    before: AuditSide
    after: AuditSide
    certificates: tuple[CertChange, ...]
    outcomes: tuple[OutcomeChange, ...]
    fixed: tuple[FindingRef, ...]
    new: tuple[FindingRef, ...]
    unchanged: int
    #: Pre-change predictions that the post-change audit confirms: not fixed, they happened.
    came_true: tuple[FindingRef, ...] = ()
    #: Why the two audits may not be a before and an after of the same cluster.
    warnings: tuple[str, ...] = ()



def _side(audit: Audit) -> AuditSide:
    version = audit.current_version if audit.phase == "post" else (
        f"{audit.current_version} (predicting {audit.target_version})")
    return AuditSide(audit.cluster, audit.phase, audit.facts.observed_at, version,
                     audit.verdict, audit.summary.get("error", 0),
                     audit.summary.get("warning", 0), audit.summary.get("notice", 0))


def _finding_key(finding: Finding) -> tuple[str, str, str]:
    # certificate subjects carry a short fingerprint ("tomcat:1a2b3c4d"); the same problem
    # on a replaced certificate is still the same problem
    return finding.rule_id, finding.node, finding.subject.split(":", 1)[0]


def _ref(finding: Finding) -> FindingRef:
    return FindingRef(finding.rule_id, finding.severity, finding.node, finding.subject,
                      finding.title)


def _cert_changes(before: Audit, after: Audit) -> list[CertChange]:
    changes = []
    hosts = [n.host for n in before.facts.nodes]
    hosts += [n.host for n in after.facts.nodes if n.host not in hosts]
    for host in hosts:
        old, new = before.facts.node(host), after.facts.node(host)
        for which in ("tomcat", "tomcat_ecdsa"):
            a = getattr(old, which) if old else None
            b = getattr(new, which) if new else None
            a_leaf, b_leaf = (a.leaf if a else None), (b.leaf if b else None)
            a_state, b_state = (a.state if a else None), (b.state if b else None)
            if a_leaf == b_leaf and a_state == b_state:
                continue
            if a_leaf and b_leaf:
                kind = "replaced" if a_leaf != b_leaf else "state changed"
            elif b_leaf:
                kind = "now presented"
            elif a_leaf:
                kind = "no longer presented"
            else:
                kind = "state changed"
            a_cert, b_cert = before.facts.certificate(a_leaf), after.facts.certificate(b_leaf)
            changes.append(CertChange(host, which.replace("_", "-").replace("ecdsa", "ECDSA"),
                                      kind, a_state, b_state, a_leaf, b_leaf,
                                      a_cert.subject if a_cert else None,
                                      b_cert.subject if b_cert else None))
    return changes


def _outcome_changes(before: Audit, after: Audit) -> list[OutcomeChange]:
    old = {n.host: n for n in before.nodes}
    new = {n.host: n for n in after.nodes}
    changes = []
    for host in [*old, *(h for h in new if h not in old)]:
        for gadget in ALL_GADGETS:
            a = old[host].gadgets.get(gadget) if host in old else None
            b = new[host].gadgets.get(gadget) if host in new else None
            a_out, b_out = (a.outcome if a else None), (b.outcome if b else None)
            if a_out != b_out:
                changes.append(OutcomeChange(host, gadget, a_out, b_out))
    return changes


def _warnings(before: Audit, after: Audit) -> list[str]:
    found = []
    if before.cluster != after.cluster:
        found.append(f"the audits are of different clusters ({before.cluster!r} before, "
                     f"{after.cluster!r} after)")
    if before.phase == "post" and after.phase == "pre":
        found.append("'before' is a post-change audit and 'after' a pre-change one: "
                     "the arguments look swapped")
    if before.facts.observed_at > after.facts.observed_at:
        found.append(f"'before' was recorded later ({before.facts.observed_at}) than 'after' "
                     f"({after.facts.observed_at}): the arguments look swapped")
    return found


def _came_true(finding: Finding, before: Audit, after: Audit,
               new: dict[tuple[str, str, str], Finding]) -> bool:
    """A pre-change prediction the post-change audit confirms: the same finding, or a
    prediction about the states (a pre-only rule) whose predicted states are now observed."""
    if before.phase != "pre" or after.phase != "post":
        return False
    if finding.basis == "predicted" and _finding_key(finding) in new:
        return True
    in_force_after = {r.id for r in after.rule_set.catalogue}
    if finding.rule_id in in_force_after:
        return False
    old = next((n for n in before.nodes if n.host == finding.node), None)
    now = next((n for n in after.nodes if n.host == finding.node), None)
    return (old is not None and now is not None and old.predicted is not None
            and (old.predicted.tomcat, old.predicted.tomcat_ecdsa)
            == (now.tomcat, now.tomcat_ecdsa))


def diff_audits(before: Audit, after: Audit) -> AuditDiff:
    """Certificates replaced, gadget outcomes changed, findings fixed, new and predictions
    that came true; warnings when the pair does not look like a before and an after."""
    old = {_finding_key(f): f for f in before.findings}
    new = {_finding_key(f): f for f in after.findings}
    came_true = {k for k, f in old.items() if _came_true(f, before, after, new)}
    fixed = tuple(_ref(f) for k, f in old.items() if k not in new and k not in came_true)
    added = tuple(_ref(f) for k, f in new.items() if k not in old)
    return AuditDiff(_side(before), _side(after), tuple(_cert_changes(before, after)),
                     tuple(_outcome_changes(before, after)), fixed, added,
                     sum(1 for k in new if k in old and k not in came_true),
                     tuple(_ref(old[k]) for k in old if k in came_true),
                     tuple(_warnings(before, after)))
