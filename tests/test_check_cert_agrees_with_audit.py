"""check-cert and the audit judge a certificate with the same rules, so they give the same
severity (and the same gadget outcomes) for the same certificate problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.collect.certs import load_certificate
from auditor.collect.trust import AgentTrust
from auditor.evaluate.engine import evaluate
from auditor.evaluate.gadgets import GADGET_TITLES
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.certificate import parse_time
from auditor.model.facts import load_facts
from auditor.model.findings import Subject
from auditor.pipeline.check_cert import check_cert

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
HYGIENE = sorted(FACTS.glob("hygiene-*-publisher.json"))
#: How a server sends a chain (order, completeness) is not a property of the certificate:
#: check-cert builds the chain from what it is given.
DELIVERY = {"chain-missing-intermediate", "chain-out-of-order"}


def test_there_are_hygiene_scenarios() -> None:
    assert len(HYGIENE) >= 5, HYGIENE


@pytest.mark.parametrize("path", HYGIENE, ids=lambda p: p.stem)
def test_check_cert_and_the_audit_give_the_same_severity(path: Path) -> None:
    rules = load_ruleset()
    facts = load_facts(path)
    audit = evaluate(rules, facts, make_settings(facts.version, facts.observed_at,
                                                  phase="post"))
    node = next(n for n in facts.nodes if n.role == "uccx-publisher")
    chain = node.endpoint("finesse").handshake("browser").chain
    leaf = load_certificate(facts.certificates[chain[0]].pem)
    anchors = tuple(load_certificate(facts.certificates[fp].pem)
                    for fp in facts.agent_trust.anchors)
    rest = [load_certificate(facts.certificates[fp].pem) for fp in chain[1:]]
    checked = check_cert([leaf], "tomcat", chain=[*rest, *anchors], host=node.host,
                         role=node.role, trust=AgentTrust("agents", anchors),
                         at=parse_time(facts.observed_at))
    subject = Subject("certificate", chain[0][:16], "tomcat")
    found = {(f.rule_id, f.severity) for f in audit.findings
             if f.node == node.host and f.subject == subject}
    assert found, f"{path.stem}: the audit found no problem with the certificate"
    in_audit = {(rule, severity) for rule, severity in found if rule not in DELIVERY}
    in_check = {(f.rule_id, f.severity) for f in checked.findings
                if f.subject == subject and f.rule_id not in DELIVERY}
    assert in_check == in_audit
    if not {f.rule_id for f in audit.findings} & DELIVERY:
        audited = next(r for r in audit.nodes if r.host == node.host).gadgets
        for gadget, result in checked.gadgets:
            assert result.outcome == audited[gadget].outcome, GADGET_TITLES[gadget]
