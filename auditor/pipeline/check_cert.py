"""check-cert end to end: the upload checks, then the rule files judge one node holding
the certificate, as they judge a cluster (one source of domain truth).

The outcome is the audit's verdict over what check-cert judged (:func:`decide`): an upload
check that fails, an error finding or a gadget predicted broken is NOT OK; else a gadget
it predicts that is unknown, or an upload check the inputs cannot decide, is "cannot
tell"; else a warning is "OK with warnings"; else "OK to upload". The exit codes are the
audit's for the same verdicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from auditor.collect.checkcert import (
    FAIL,
    PURPOSES,
    UNKNOWN,
    WARN,
    CertificateCase,
    certificate_case,
    other_purpose,
    purpose_services,
)
from auditor.collect.trust import AgentTrust
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import Rule, RuleSet, load_ruleset
from auditor.model.cluster import role_family
from auditor.model.findings import Finding, GadgetResult
from auditor.model.solution import current, using
from auditor.model.verdicts import Verdict, decide, exit_code
from auditor.render.checkcert import REACH_RULES

#: The facts about how a server sends its chain (its order, an intermediate left out): what
#: check-cert declares there is what it was given, so its own chain check judges the chain
#: and the rules that read these facts are not check-cert's to report.
DELIVERY_FACTS = ("chain_missing_intermediate", "chain_out_of_order", "missing_intermediate",
                  "order_ok")
#: An upload check's status as a finding's severity, for the verdict.
CHECK_SEVERITY = {FAIL: "error", WARN: "warning"}
#: Gadget outcomes that only an error rule gives: the certificate is NOT OK.
FAILING = ("prompt_accept_fails", "broken")


@dataclass(frozen=True)
class CertCheck:
    """What check-cert says: the upload checks, the findings the rules make on the
    certificate, and each gadget it serves with the outcome the engine gives it."""

    case: CertificateCase
    findings: tuple[Finding, ...]
    gadgets: tuple[tuple[str, GadgetResult], ...]
    #: the gadgets that are unknown because the node's other certificate was not given
    wants_other: tuple[str, ...] = ()

    @property
    def outcome(self) -> Verdict:
        """``go`` (OK to upload), ``go_with_actions`` (OK with warnings), ``no_go`` (NOT
        OK) or ``inconclusive`` (cannot tell)."""
        severities = [CHECK_SEVERITY[c.status] for c in self.case.checks
                      if c.status in CHECK_SEVERITY]
        severities += [f.severity for f in self.findings]
        severities += ["error" for _, g in self.gadgets if g.outcome in FAILING]
        unknown = (sum(c.status == UNKNOWN for c in self.case.checks)
                   + sum(g.outcome == "unknown" for _, g in self.gadgets))
        return decide(severities, unknown)

    @property
    def ok(self) -> bool:
        """OK to upload, with or without warnings."""
        return self.outcome in ("go", "go_with_actions")

    @property
    def exit_code(self) -> int:
        """The audit's exit code for the same verdict."""
        return exit_code(self.outcome)


def _unit(purpose: str) -> str:
    """A purpose as the facts name its unit: ``tomcat-ECDSA`` -> ``tomcat_ecdsa``."""
    return purpose.lower().replace("-", "_")


def _units(rule: Rule) -> set[str]:
    """The node's certificates whose facts a node rule reads (``node.tomcat.*``,
    ``node.tomcat_ecdsa.*``; not a peer's)."""
    return {_unit(p) for p in PURPOSES
            if any(f.startswith(f"node.{_unit(p)}.") for f in rule.condition.facts())}


def _about(finding: Finding, case: CertificateCase, gadgets: tuple[str, ...],
           rules: RuleSet) -> bool:
    """Is a finding about this certificate (its subject, a port presenting it, a node rule
    on its facts, or one on no certificate's facts about the gadgets it serves)?"""
    subject = finding.subject
    if subject.scope == "certificate":
        return case.fingerprint.startswith(subject.key)
    if subject.scope == "endpoint":
        return subject.key in case.services
    units = _units(rules.rule(finding.rule_id))
    if units:
        return _unit(case.purpose) in units
    return bool(set(finding.gadgets) & set(gadgets))


def _one_node(rules: RuleSet) -> RuleSet:
    """The rules without those about the cluster as a whole (their condition reads only
    ``cluster.*`` fields, such as a missing publisher): check-cert judges one certificate
    on one stand-in node, not a cluster's composition."""
    return replace(rules, rules=tuple(
        r for r in rules.rules
        if not all(path.startswith("cluster.") for path in r.condition.facts())))


def _delivery_rules(rules: RuleSet) -> frozenset[str]:
    return frozenset(r.id for r in rules.rules
                     if any(p.rsplit(".", 1)[-1] in DELIVERY_FACTS for p in r.condition.facts()))


def check_cert(signed: Sequence[x509.Certificate], purpose: str, *,
               other: Sequence[x509.Certificate] = (),
               csr: x509.CertificateSigningRequest | None = None,
               chain: Sequence[x509.Certificate] = (), host: str | None = None,
               role: str | None = None, trust: AgentTrust | None = None,
               at: dt.datetime | None = None, expiry_window_days: int = 30,
               rules: RuleSet | None = None) -> CertCheck:
    """Every check a signed ``tomcat`` / ``tomcat-ECDSA`` certificate must pass, and the
    gadgets it takes part in on its node beside ``other`` (the node's certificate of the
    other purpose, then its chain; empty: not known, and what depends on it unknown)."""
    case = certificate_case(signed, purpose, other=other, csr=csr, chain=chain, host=host,
                            role=role, trust=trust, at=at)
    ruleset = _one_node(rules if rules is not None else load_ruleset())
    delivery = _delivery_rules(ruleset)
    settings = make_settings(case.facts.version, case.facts.observed_at, phase="post",
                             expiry_window_days=expiry_window_days)
    role_here = case.facts.nodes[0].role
    family = role_family(role_here)
    # judged on this node, holding this certificate and (when given) the other one: each
    # gadget of the node narrowed to its endpoints here (other nodes are the audit's)
    solution = current()
    narrowed = replace(solution, gadgets={
        name: replace(g, needs=tuple(s for s in g.needs if s in case.node_services),
                      needs_elsewhere={})
        for name, g in solution.gadgets.items() if g.family == family
        and set(g.needs) & set(case.node_services)})
    with using(narrowed):
        evaluation = evaluate(ruleset, case.facts, settings)
    node = evaluation.nodes[0]
    mine = tuple(f for f in evaluation.findings if _about(f, case, (), ruleset))
    # the gadgets it takes part in: those needing a port that presents it, and those a
    # finding about it gives an outcome (an RSA-signed tomcat-ECDSA and SocialMiner's page)
    predicted = tuple(g for g in narrowed.gadgets if g in node.gadgets and (
        set(narrowed.gadgets[g].needs) & set(case.services)
        or any(g in f.gadgets for f in mine)))
    other_services = set(purpose_services(family, other_purpose(purpose)))
    wants_other = () if case.other_given else tuple(
        g for g in predicted if node.gadgets[g].outcome == "unknown"
        and set(narrowed.gadgets[g].needs) & other_services)
    # and the findings that give those gadgets their outcome, where the other certificate
    # was given (where it was not, the gadget's line says what is missing)
    because = {r for g in predicted if g not in wants_other for r in node.gadgets[g].rules}
    findings = tuple(f for f in evaluation.findings
                     if (_about(f, case, predicted, ruleset) or f.rule_id in because)
                     and f.rule_id not in REACH_RULES and f.rule_id not in delivery)
    return CertCheck(case, findings, tuple((g, node.gadgets[g]) for g in predicted),
                     wants_other)
