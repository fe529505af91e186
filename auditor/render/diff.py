"""What changed between two audits (before and after the change): it closes the ticket.

The findings part is a view of the two audits' checks. A problem that failed before is
*fixed* only when the after audit checked it and it passed; when the after audit has no
answer for it (the endpoint not reached, the node gone, the rule not in force) it is *no
longer checked*, which is not evidence of a fix."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.common.filenames import nfc
from auditor.evaluate.gadgets import ALL_GADGETS
from auditor.model.audit import Audit, audit_scope_line
from auditor.model.findings import Finding, Subject


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
    #: the audit's scope line: what it judged, and whether the servers' trust stores were
    #: read (a scope the audit did not record is derived from its facts, and says so)
    scope: str = ""


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
class ChangedFinding:
    rule_id: str
    severity: str
    node: str
    subject: Subject
    title: str
    #: why the after audit has no answer for it (``no_longer_checked`` only)
    why: str = ""


@dataclass(frozen=True)
class AuditDiff:
    before: AuditSide
    after: AuditSide
    certificates: tuple[CertChange, ...]
    outcomes: tuple[OutcomeChange, ...]
    #: failed before; the after audit checked it and it passed
    fixed: tuple[ChangedFinding, ...]
    #: failed after, not before
    new: tuple[ChangedFinding, ...]
    unchanged: int
    #: Pre-change predictions that the post-change audit confirms: not fixed, they happened.
    came_true: tuple[ChangedFinding, ...] = ()
    #: Why the two audits may not be a before and an after of the same cluster.
    warnings: tuple[str, ...] = ()
    #: failed before, and the after audit did not check it (the node or endpoint not
    #: reached, the node gone, the rule not in force): not evidence of a fix
    no_longer_checked: tuple[ChangedFinding, ...] = ()


#: A problem as the diff follows it: rule, node, scope and the service (endpoint) or the
#: certificate's kind (a replaced certificate with the same problem is the same problem).
ProblemKey = tuple[str, str, str, str]


def _key(rule_id: str, node: str, subject: Subject) -> ProblemKey:
    return (rule_id, node, subject.scope,
            subject.kind if subject.scope == "certificate" else subject.key)


def _nodes_reached(audit: Audit) -> frozenset[str]:
    """The nodes of which the audit reached at least one endpoint."""
    return frozenset(n.host for n in audit.facts.nodes if any(e.reachable for e in n.endpoints))


def _answers(audit: Audit) -> dict[ProblemKey, str]:
    """What the audit's checks answered for each problem: ``failed`` if any subject of it
    failed, else ``passed`` if the rule passed on a subject of it, else ``not_seen`` (the
    engine's answer for an endpoint the audit did not reach: no pass). A node-scope rule
    that passed on a node none of whose endpoints answered judged only what was declared
    or read over the VOS CLI: the diff does not take that as a pass either. A problem the
    audit did not look at is absent."""
    nodes = _nodes_reached(audit)
    rank = {"not_seen": 0, "passed": 1, "failed": 2}
    answers: dict[ProblemKey, str] = {}
    for check in audit.checks:
        if check.subject is None or check.result not in rank:
            continue
        result = check.result
        if result == "passed" and check.subject.scope == "node" and check.node not in nodes:
            result = "not_seen"
        key = _key(check.rule_id, check.node, check.subject)
        if rank[result] > rank.get(answers.get(key, ""), -1):
            answers[key] = result
    return answers


def _side(audit: Audit) -> AuditSide:
    version = audit.current_version if audit.phase == "post" else (
        f"{audit.current_version} (predicting {audit.target_version})")
    return AuditSide(audit.cluster, audit.phase, audit.facts.observed_at, version,
                     audit.verdict, audit.summary.get("error", 0),
                     audit.summary.get("warning", 0), audit.summary.get("notice", 0),
                     audit_scope_line(audit))


def _finding_key(finding: Finding) -> ProblemKey:
    return _key(finding.rule_id, finding.node, finding.subject)


def _ref(finding: Finding, why: str = "") -> ChangedFinding:
    return ChangedFinding(finding.rule_id, finding.severity, finding.node, finding.subject,
                          finding.title, why)


def _failures(audit: Audit) -> dict[ProblemKey, Finding]:
    """Its findings, with those a waiver accepted (still failing: waived is not fixed)."""
    out: dict[ProblemKey, Finding] = {}
    for finding in (*audit.findings, *(a.finding for a in audit.accepted_risks)):
        out.setdefault(_finding_key(finding), finding)
    return out


def _why_unchecked(finding: Finding, after: Audit, answered: dict[ProblemKey, str],
                   applied: set[tuple[str, str]]) -> str:
    """``applied``: the (rule, node) pairs the after audit's rules applied to."""
    subject = finding.subject
    if not any(n.host == finding.node for n in after.nodes):
        return "the node is not in the after audit"
    if (finding.rule_id, finding.node) not in applied:
        return "the rule did not apply to the node in the after audit"
    if answered.get(_finding_key(finding)) == "not_seen":
        if subject.scope == "endpoint":
            return f"the after audit did not reach its {subject.key} endpoint"
        if finding.node not in _nodes_reached(after):
            return "the after audit reached no endpoint of the node"
        return "the after audit did not reach an endpoint of the node that the rule needs"
    return f"the after audit did not look at this {subject.scope}"


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
                # an endpoint that did not answer shows nothing, which is not a removal
                kind = "not seen after" if b_state in (None, "unknown") else "no longer presented"
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
    if nfc(before.cluster) != nfc(after.cluster):  # composed or not, one name
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
               new: dict[ProblemKey, Finding]) -> bool:
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
    """Certificates replaced, gadget outcomes changed, and the audits' checks compared:
    findings fixed (the after audit checked and passed them), no longer checked, new, and
    predictions that came true; warnings when the pair does not look like a before and an
    after."""
    old = _failures(before)
    new = _failures(after)
    answered = _answers(after)
    failed_after = {k for k, result in answered.items() if result == "failed"} | new.keys()
    came_true = {k for k, f in old.items() if _came_true(f, before, after, new)}
    gone = [k for k in old if k not in failed_after and k not in came_true]
    fixed = tuple(_ref(old[k]) for k in gone if answered.get(k) == "passed")
    applied = {(c.rule_id, c.node) for c in after.checks if c.result != "not_applicable"}
    unchecked = tuple(_ref(old[k], _why_unchecked(old[k], after, answered, applied))
                      for k in gone if answered.get(k) != "passed")
    added = tuple(_ref(f) for k, f in new.items() if k not in old)
    return AuditDiff(_side(before), _side(after), tuple(_cert_changes(before, after)),
                     tuple(_outcome_changes(before, after)), fixed, added,
                     sum(1 for k in new if k in old and k not in came_true),
                     tuple(_ref(old[k]) for k in old if k in came_true),
                     tuple(_warnings(before, after)), unchecked)
