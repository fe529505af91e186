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
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.model.cluster import role_family
from auditor.model.findings import Finding, GadgetResult
from auditor.model.solution import current, using
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
    role_here = case.facts.nodes[0].role
    family = role_family(role_here)
    # judged on what this certificate serves: each gadget it takes part in, narrowed to the
    # endpoints that present it (the rest, the other certificate and the other family's
    # nodes, is the audit's to judge, which sees them all); the text says so
    solution = current()
    narrowed = replace(solution, gadgets={
        name: replace(g, needs=tuple(s for s in g.needs if s in case.services),
                      needs_elsewhere={})
        for name, g in solution.gadgets.items() if g.family == family
        and set(g.needs) & set(case.services)})
    with using(narrowed):
        evaluation = evaluate(ruleset, case.facts, settings)
    gadgets = tuple(narrowed.gadgets)
    node = evaluation.nodes[0]

    def shown(result: GadgetResult) -> bool:
        # an unknown this certificate did not cause (the other certificate's state, which
        # check-cert is not given) is not this certificate's to report
        return result.outcome != "unknown" or any(
            _about(f, case, ()) for f in evaluation.findings if f.rule_id in result.rules)

    return CertCheck(case,
                     tuple(f for f in evaluation.findings if _about(f, case, gadgets)
                           and f.rule_id not in REACH_RULES),
                     tuple((g, node.gadgets[g]) for g in gadgets
                           if g in node.gadgets and shown(node.gadgets[g])))
