"""The FAQ matrix of Cisco 210528, the COP variants, the pre-upgrade predictions and a mixed
cluster: each node's gadget outcomes, on facts probed live from the lab.

The expectations below are the table in docs/domain.md, "Who presents which certificate", per
node. The rules know nothing of rows:
the outcomes must follow from what each endpoint presents to a browser and whether the
agents' trust accepts it.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.lab import Lab
from auditor.lab.scenarios import DOMAIN
from auditor.model.facts import Facts
from auditor.model.findings import Evaluation, rules_that_checked
from auditor.model.solution import builtin

PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
WORKS, PROMPT_OK, PROMPT_FAILS, BROKEN = ("works", "prompt_accept_works",
                                          "prompt_accept_fails", "broken")


def uccx(finesse_desktop: str, live_data: str) -> dict[str, str]:
    return {"finesse_desktop": finesse_desktop, "live_data": live_data}


def socialminer(chat_email: str, socialminer_web: str) -> dict[str, str]:
    return {"chat_email": chat_email, "socialminer_web": socialminer_web}


def faq_row(number: int) -> dict[str, dict[str, str]]:
    """The outcomes of one row of the FAQ matrix, from the solution map (its one home), per
    lab node."""
    outcomes = next(r for r in builtin().faq if r.number == number).outcomes
    return {PUB: uccx(outcomes["finesse_desktop"], outcomes["live_data"]),
            SUB: uccx(outcomes["finesse_desktop"], outcomes["live_data"]),
            SM: socialminer(outcomes["chat_email"], outcomes["socialminer_web"])}


ROW1, ROW2, ROW3, ROW4 = (faq_row(n) for n in (1, 2, 3, 4))


def test_the_map_states_the_faq_matrix_as_docs_domain_md_does() -> None:
    """docs/domain.md's FAQ matrix: the rows the map holds, as gadget outcomes."""
    rows = {n: faq_row(n) for n in (1, 2, 3, 4)}
    assert rows[1] == {PUB: uccx(PROMPT_OK, PROMPT_OK), SUB: uccx(PROMPT_OK, PROMPT_OK),
                    SM: socialminer(PROMPT_OK, PROMPT_OK)}
    assert rows[2] == {PUB: uccx(WORKS, WORKS), SUB: uccx(WORKS, WORKS),
                    SM: socialminer(BROKEN, BROKEN)}
    assert rows[3] == {PUB: uccx(WORKS, WORKS), SUB: uccx(WORKS, WORKS),
                    SM: socialminer(WORKS, WORKS)}
    assert rows[4] == {PUB: uccx(WORKS, PROMPT_FAILS), SUB: uccx(WORKS, PROMPT_FAILS),
                    SM: socialminer(PROMPT_OK, WORKS)}
    assert [(r.number, r.tomcat, r.tomcat_ecdsa) for r in builtin().faq] == [
        (1, "self_signed", "self_signed"), (2, "rsa_ca_signed", "rsa_ca_signed"),
        (3, "rsa_ca_signed", "ec_ca_signed"), (4, "rsa_ca_signed", "self_signed")]

#: scenario: (phase, target version, expected outcomes per node)
GOLDEN = {
    "row1-self-signed": ("post", None, ROW1),
    "row2-rsa-signed-ecdsa": ("post", None, ROW2),
    "row3-ec-signed-ecdsa": ("post", None, ROW3),
    "row4-upgrade-trap": ("post", None, ROW4),
    "cop-uccx": ("post", None, {PUB: uccx(WORKS, WORKS), SUB: uccx(WORKS, WORKS),
                                SM: socialminer(PROMPT_OK, WORKS)}),
    "cop-socialminer": ("post", None, ROW3),
    "pre-upgrade-ca-signed": ("pre", "11.5(1)", ROW4),
    "pre-upgrade-self-signed": ("pre", "11.5(1)", ROW1),
    "mixed-cluster": ("post", None, {PUB: uccx(WORKS, WORKS), SUB: uccx(WORKS, PROMPT_FAILS),
                                     SM: socialminer(WORKS, WORKS)}),
}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="module", params=sorted(GOLDEN))
def probed(request: pytest.FixtureRequest) -> tuple[str, Facts]:
    with Lab(request.param) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3))
    return request.param, facts


def _evaluate(name: str, facts: Facts, rules: RuleSet) -> Evaluation:
    phase, target, _ = GOLDEN[name]
    settings = make_settings(facts.version, facts.observed_at, phase=phase,
                             target_version=target)
    return evaluate(rules, facts, settings)


def test_each_nodes_gadgets_match_the_domain_table(probed, rules) -> None:
    name, facts = probed
    evaluation = _evaluate(name, facts, rules)
    got = {n.host: {g: r.outcome for g, r in n.gadgets.items()} for n in evaluation.nodes}
    assert got == GOLDEN[name][2]


def test_every_outcome_names_the_rules_that_decided_it(probed, rules) -> None:
    name, facts = probed
    evaluation = _evaluate(name, facts, rules)
    fired = {(f.node, f.rule_id) for f in evaluation.findings}
    checked = rules_that_checked(evaluation.checks)
    for node in evaluation.nodes:
        for gadget, result in node.gadgets.items():
            if result.outcome != WORKS:
                assert result.rules, (node.host, gadget)
                assert all((node.host, r) in fired for r in result.rules), (node.host, gadget)
                assert set(result.rules) <= set(checked[(node.host, gadget)])
            else:  # a working gadget: no deciding rule, and the checks name who checked it
                assert result.rules == () and checked.get((node.host, gadget)), (
                    node.host, gadget)


def test_an_outcome_other_than_works_comes_with_a_finding_on_that_gadget(probed, rules) -> None:
    name, facts = probed
    evaluation = _evaluate(name, facts, rules)
    for node in evaluation.nodes:
        for gadget, result in node.gadgets.items():
            if result.outcome != WORKS:
                assert any(f.node == node.host and f.gadgets.get(gadget) == result.outcome
                           for f in evaluation.findings), (node.host, gadget)


def test_pre_upgrade_predictions_say_so_and_post_findings_do_not(probed, rules) -> None:
    name, facts = probed
    evaluation = _evaluate(name, facts, rules)
    predicted = [f for f in evaluation.findings if f.basis == "predicted"]
    if GOLDEN[name][0] == "pre":
        assert predicted
        assert all(f.message.startswith("After the upgrade to 11.5(1): ") for f in predicted)
        assert {n.predicted.tomcat_ecdsa for n in evaluation.nodes} == {"self_signed"}
    else:
        assert predicted == []
        assert all(n.predicted is None for n in evaluation.nodes)


def test_row1_works_everywhere_once_agents_trust_the_self_signed_certificates(
        rules, tmp_path) -> None:
    """The remedy add-certificates-to-agent-trust-stores, through the same reasoning."""
    with Lab("row1-self-signed") as lab:
        leaves = [c for node in lab.certificates.values()
                  for c in (node.tomcat.cert, node.tomcat_ecdsa.cert)]
        trust = tmp_path / "agents-trust.pem"
        trust.write_bytes(lab.agent_trust_path.read_bytes() + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in leaves))
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(trust)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3))
    evaluation = evaluate(rules, facts, make_settings(facts.version, facts.observed_at,
                                                      phase="post"))
    assert {g: r.outcome for n in evaluation.nodes for g, r in n.gadgets.items()} == {
        "finesse_desktop": WORKS, "live_data": WORKS, "chat_email": WORKS,
        "socialminer_web": WORKS}
    assert evaluation.findings == () and evaluation.verdict == "go"
