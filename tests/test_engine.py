"""The engine: a pure function of rules, facts and settings to findings and outcomes."""

from __future__ import annotations

import builtins
import io
import pathlib
from pathlib import Path

import pytest
from test_ruleset import SITE_RULE, write_rule

from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.model.facts import Facts, facts_to_json, load_facts
from auditor.model.findings import NODE, SEVERITIES, Subject, rules_that_checked
from auditor.model.verdicts import VERDICTS

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
PUB, SM = "uccx-pub.lab.uccx.example", "sm.lab.uccx.example"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


def recorded(name: str) -> Facts:
    return load_facts(FACTS / f"{name}.json")


def run(rules: RuleSet, name: str, phase: str = "post", target: str | None = None):
    facts = recorded(name)
    return evaluate(rules, facts, make_settings(facts.version, facts.observed_at, phase=phase,
                                                target_version=target))


def test_same_inputs_same_output_and_the_facts_are_untouched(rules: RuleSet) -> None:
    facts = recorded("row4-upgrade-trap")
    before = facts_to_json(facts)
    settings = make_settings(facts.version, facts.observed_at, phase="post")
    assert evaluate(rules, facts, settings) == evaluate(rules, facts, settings)
    assert facts_to_json(facts) == before


def test_the_engine_reads_and_writes_no_files(rules: RuleSet, monkeypatch) -> None:
    facts = recorded("mixed-cluster")
    settings = make_settings(facts.version, facts.observed_at, phase="post")

    def refuse(*args, **kwargs):
        raise AssertionError("the engine touched a file")

    for owner, name in ((builtins, "open"), (io, "open"), (pathlib.Path, "open"),
                        (pathlib.Path, "read_text"), (pathlib.Path, "write_text")):
        monkeypatch.setattr(owner, name, refuse)
    assert evaluate(rules, facts, settings).verdict == "no_go"


@pytest.mark.parametrize(("name", "verdict"), [
    ("row3-ec-signed-ecdsa", "go"),
    ("cop-socialminer", "go"),  # notices only
    ("row1-self-signed", "go_with_actions"),
    ("row4-upgrade-trap", "no_go"),
    ("row2-rsa-signed-ecdsa", "no_go"),
])
def test_verdict_follows_the_worst_severity(rules: RuleSet, name: str, verdict: str) -> None:
    assert run(rules, name).verdict == verdict
    assert verdict in VERDICTS


def test_findings_are_ordered_by_severity_then_node(rules: RuleSet) -> None:
    evaluation = run(rules, "pre-upgrade-ca-signed", "pre", "11.5(1)")
    order = [SEVERITIES.index(f.severity) for f in evaluation.findings]
    assert order == sorted(order)
    hosts = [n.host for n in evaluation.nodes]
    errors = [f for f in evaluation.findings if f.severity == "error"]
    assert [hosts.index(f.node) for f in errors] == sorted(hosts.index(f.node) for f in errors)


def test_the_checks_name_the_rules_that_checked_a_working_gadget(rules: RuleSet) -> None:
    evaluation = run(rules, "row3-ec-signed-ecdsa")
    node = evaluation.nodes[0]
    finesse = node.gadgets["finesse_desktop"]
    assert finesse.outcome == "works" and finesse.rules == ()
    checked = rules_that_checked(evaluation.checks)[(node.host, "finesse_desktop")]
    assert {"self-signed-tomcat-prompts-agents", "ca-signed-certificate-not-accepted",
            "endpoint-unreachable"} <= set(checked)


def test_a_check_names_the_gadgets_its_subject_serves_and_the_rule_affects(
        rules: RuleSet) -> None:
    evaluation = run(rules, "row4-upgrade-trap")
    by_rule = {r.id: r for r in rules.rules}
    pub = evaluation.nodes[0].host
    live = [c for c in evaluation.checks if c.node == pub
            and c.rule_id == "live-data-prompt-cannot-be-accepted"]
    assert [(c.subject, c.result, c.gadgets) for c in live] == [
        (Subject("endpoint", "live_data"), "failed", ("live_data",))]
    for check in evaluation.checks:
        if check.result == "not_applicable":
            assert check.subject is None and check.gadgets == ()
        else:
            assert set(check.gadgets) <= set(by_rule[check.rule_id].effects)
    unreachable = {c.subject: c.gadgets for c in evaluation.checks if c.node == pub
                   and c.rule_id == "endpoint-unreachable"}
    assert unreachable[Subject("endpoint", "finesse")] == ("finesse_desktop",)
    node_wide = [c for c in evaluation.checks if c.subject == NODE]
    assert node_wide, "no node-scope rule answered"


def test_a_bad_outcome_names_only_the_rules_that_gave_it(rules: RuleSet) -> None:
    live_data = run(rules, "row4-upgrade-trap").nodes[0].gadgets["live_data"]
    assert live_data.outcome == "prompt_accept_fails"
    assert live_data.rules == ("live-data-prompt-cannot-be-accepted",)


def test_the_worst_effect_wins_when_several_rules_fire(tmp_path: Path) -> None:
    broken = (SITE_RULE.format(id="site-live-data-broken")
              .replace("severity: warning", "severity: error")
              .replace("live_data: prompt_accept_works", "live_data: broken"))
    write_rule(tmp_path, "site-live-data-broken", text=broken)
    write_rule(tmp_path, "site-live-data-marker")
    rules = load_ruleset([tmp_path])
    live_data = run(rules, "row1-self-signed").nodes[0].gadgets["live_data"]
    assert live_data.outcome == "broken" and live_data.rules == ("site-live-data-broken",)
    findings = {f.rule_id for f in run(rules, "row1-self-signed").findings if f.node == PUB}
    assert {"site-live-data-broken", "site-live-data-marker",
            "self-signed-tomcat-ecdsa-prompts-agents"} <= findings


def test_an_unknown_endpoint_outranks_a_prompt_that_works_but_not_a_failing_one(
        rules: RuleSet) -> None:
    finesse = run(rules, "row4-publisher-finesse-refused").nodes[0].gadgets
    assert finesse["finesse_desktop"].outcome == "unknown"
    # row 4 follows the certificate states: the CA-signed tomcat is seen on 7443
    assert finesse["live_data"].outcome == "prompt_accept_fails"
    self_signed = run(rules, "row1-publisher-finesse-refused").nodes[0].gadgets
    assert self_signed["live_data"].rules == ("live-data-prompt-outcome-unknown",)


def test_remediation_names_only_playbooks_for_the_nodes_role(rules: RuleSet) -> None:
    findings = [f for f in run(rules, "row1-self-signed").findings
                if f.rule_id == "self-signed-tomcat-ecdsa-prompts-agents"]
    by_node = {f.node: f.remediation for f in findings}
    assert "install-uccx-cop" in by_node[PUB] and "install-socialminer-cop" not in by_node[PUB]
    assert "install-socialminer-cop" in by_node[SM] and "install-uccx-cop" not in by_node[SM]


def test_a_rule_outside_its_version_range_is_not_even_checked(rules: RuleSet) -> None:
    facts = recorded("row2-rsa-signed-ecdsa")
    settings = make_settings(facts.version, facts.observed_at, phase="pre",
                             target_version="12.5(1)")
    evaluation = evaluate(rules, facts, settings)
    sm = evaluation.nodes[2].gadgets
    assert "rsa-signed-tomcat-ecdsa-breaks-socialminer" not in sm["chat_email"].rules
    assert sm["chat_email"].outcome == "works"  # 12.5 presents tomcat on 7443


def test_findings_carry_what_a_report_needs(rules: RuleSet) -> None:
    finding = next(f for f in run(rules, "row2-rsa-signed-ecdsa").findings
                   if f.rule_id == "rsa-signed-tomcat-ecdsa-breaks-socialminer")
    assert finding.node == SM and finding.subject == NODE and finding.severity == "error"
    assert finding.gadgets == {"chat_email": "broken", "socialminer_web": "broken"}
    assert finding.citations[0].startswith("CSCvb58580")
    # FAQ row 2: the SocialMiner COP is the fix for broken chat, re-signing the alternative
    assert finding.remediation == ("install-socialminer-cop", "sign-tomcat-ecdsa-with-ec-ca")
    assert "CSCvb58580" in finding.message and finding.basis == "observed"


def test_pre_phase_node_results_show_the_states_after_the_upgrade(rules: RuleSet) -> None:
    node = run(rules, "pre-upgrade-ca-signed", "pre", "11.5(1)").nodes[0]
    assert (node.tomcat, node.tomcat_ecdsa) == ("rsa_ca_signed", "not_presented")
    assert node.predicted is not None
    assert (node.predicted.tomcat, node.predicted.tomcat_ecdsa) == ("rsa_ca_signed",
                                                                    "self_signed")


@pytest.mark.parametrize("name, phase", [("row4-upgrade-trap", "post"),
                                         ("hygiene-expired-publisher", "post"),
                                         ("pre-upgrade-self-signed", "pre")])
def test_the_engine_answers_for_every_rule_node_and_subject(rules: RuleSet, name: str,
                                                             phase: str) -> None:
    """Not applicable, passed or failed: one result that findings, JUnit and the gadgets'
    deciding rules are views of."""
    evaluation = run(rules, name, phase, "11.5(1)" if phase == "pre" else None)
    hosts = [n.host for n in evaluation.nodes]
    answered = {(c.rule_id, c.node) for c in evaluation.checks}
    assert answered == {(r.id, h) for r in rules.rules for h in hosts}
    assert {c.result for c in evaluation.checks} <= {"not_applicable", "passed", "failed"}
    failed = sorted((c.rule_id, c.node, c.subject) for c in evaluation.checks
                    if c.result == "failed" and c.subject is not None)
    assert failed == sorted((f.rule_id, f.node, f.subject) for f in evaluation.findings)
    for node in evaluation.nodes:
        looked = {c.rule_id for c in evaluation.checks
                  if c.node == node.host and c.result != "not_applicable"}
        for result in node.gadgets.values():
            assert set(result.rules) <= looked
