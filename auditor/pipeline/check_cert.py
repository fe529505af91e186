"""check-cert end to end: the upload checks, then the rule files judge one node holding
the certificate, as they judge a cluster (one source of domain truth)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from auditor.collect.checkcert import FAIL, CertificateCase, certificate_case
from auditor.collect.trust import AgentTrust
from auditor.evaluate.engine import evaluate
from auditor.evaluate.gadgets import gadgets_served
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.model.cluster import role_family
from auditor.model.findings import OUTCOMES, Finding, GadgetResult
from auditor.model.solution import current
from auditor.render.checkcert import REACH_RULES


@dataclass(frozen=True)
class CertCheck:
    """What check-cert says: the upload checks, the findings the rules make on the
    certificate, and each gadget it serves with the outcome the engine gives it."""

    case: CertificateCase
    findings: tuple[Finding, ...]
    gadgets: tuple[tuple[str, GadgetResult], ...]

    @property
    def ok(self) -> bool:
        return (all(c.status != FAIL for c in self.case.checks)
                and all(f.severity != "error" for f in self.findings))


def _about(finding: Finding, case: CertificateCase, gadgets: tuple[str, ...]) -> bool:
    """Is a finding about this certificate (its subject, a port presenting it, or the
    gadgets it serves)?"""
    subject = finding.subject
    if subject.scope == "certificate":
        return case.fingerprint.startswith(subject.key)
    if subject.scope == "endpoint":
        return subject.key in case.services
    return bool(set(finding.gadgets) & set(gadgets))



def _one_node(rules: RuleSet) -> RuleSet:
    """The rules without those about the cluster as a whole (their condition reads only
    ``cluster.*`` fields, such as a missing publisher): check-cert judges one certificate
    on one stand-in node, not a cluster's composition."""
    return replace(rules, rules=tuple(
        r for r in rules.rules
        if not all(path.startswith("cluster.") for path in r.condition.facts())))


def check_cert(signed: Sequence[x509.Certificate], purpose: str, *,
               csr: x509.CertificateSigningRequest | None = None,
               chain: Sequence[x509.Certificate] = (), host: str | None = None,
               role: str | None = None, trust: AgentTrust | None = None,
               at: dt.datetime | None = None, expiry_window_days: int = 30,
               rules: RuleSet | None = None) -> CertCheck:
    """Every check a signed ``tomcat`` / ``tomcat-ECDSA`` certificate must pass."""
    case = certificate_case(signed, purpose, csr=csr, chain=chain, host=host, role=role,
                            trust=trust, at=at)
    ruleset = _one_node(rules if rules is not None else load_ruleset())
    settings = make_settings(case.facts.version, case.facts.observed_at, phase="post",
                             expiry_window_days=expiry_window_days)
    evaluation = evaluate(ruleset, case.facts, settings)
    role_here = case.facts.nodes[0].role
    gadgets = tuple(dict.fromkeys(g for s in case.services for g in gadgets_served(role_here, s)))
    # the outcomes shown: those of the gadgets whose every endpoint presents this
    # certificate, and any this certificate alone already makes worse than unknown; a gadget
    # that also needs the other certificate, or another family's node, is otherwise judged
    # by an audit, which sees them all
    here = {(role_family(role_here), s) for s in case.services}
    node = evaluation.nodes[0]
    decided = tuple(g for g in gadgets if g in node.gadgets and (
        set(current().gadgets[g].every_need()) <= here
        or OUTCOMES.index(node.gadgets[g].outcome) > OUTCOMES.index("unknown")))
    return CertCheck(case,
                     tuple(f for f in evaluation.findings if _about(f, case, gadgets)
                           and f.rule_id not in REACH_RULES),
                     tuple((g, node.gadgets[g]) for g in decided if g in node.gadgets))
