"""The engine never says "passed" about what the audit did not see: a rule that did not fire
on an endpoint that never answered is ``not_seen``, and every view of the checks (audit.json,
JUnit, "rules that checked this gadget", diff) says so."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from pathlib import Path

import pytest
from audits import check_rows, lab_audit
from cli_runner import invoke

from auditor.common.errors import InputError
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.lab import Lab
from auditor.model.audit import Audit, audit_from_data, audit_to_json, load_audit, save_audit
from auditor.model.facts import Facts, ProbeError, load_facts
from auditor.model.findings import Evaluation, RuleCheck, Subject, rules_that_checked
from auditor.render.diff import diff_audits

PUB, SUB = "uccx-pub.lab.uccx.example", "uccx-sub.lab.uccx.example"
LIVE = "live-data-prompt-cannot-be-accepted"
REACHABILITY = {"endpoint-unreachable", "endpoint-not-probed"}
FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


def _evaluate(rules: RuleSet, facts: Facts, phase: str = "post",
              target: str | None = None) -> Evaluation:
    return evaluate(rules, facts, make_settings(facts.version, facts.observed_at, phase=phase,
                                                target_version=target))


def _answers(evaluation: Evaluation, node: str, service: str) -> dict[str, str]:
    return {c.rule_id: c.result for c in evaluation.checks
            if c.node == node and c.subject == Subject("endpoint", service)}


@pytest.mark.parametrize(("name", "fired"), [
    ("row4-publisher-live-data-refused", "endpoint-unreachable"),
    ("row3-publisher-live-data-not-probed", "endpoint-not-probed")])
def test_recorded_facts_of_an_endpoint_not_seen(rules: RuleSet, name: str,
                                                fired: str) -> None:
    evaluation = _evaluate(rules, load_facts(FACTS / f"{name}.json"))
    live = _answers(evaluation, PUB, "live_data")
    assert live.pop(fired) == "failed"
    assert live and set(live.values()) == {"not_seen"}
    seen = _answers(evaluation, PUB, "finesse")
    assert seen and set(seen.values()) <= {"passed", "failed"}
    # beyond the endpoint's own rules, only a rule whose condition needs that endpoint
    # reached (tomcat-ecdsa-not-presented-by-uccx looks at Live Data from the node), and,
    # where the port that presents tomcat-ECDSA left its state unknown, a rule whose
    # answer depends on that state
    unknown_state = evaluation.nodes[0].tomcat_ecdsa == "unknown"
    assert {(c.rule_id, c.subject.scope) for c in evaluation.checks
            if c.result == "not_seen" and c.subject is not None
            and c.subject.scope != "endpoint"} == {
        ("tomcat-ecdsa-not-presented-by-uccx", "node"),
        *([("uccx-does-not-present-rsa-signed-tomcat-ecdsa", "node")] if unknown_state
          else [])}


def _without_rsa_only(facts: Facts, host: str, service: str) -> Facts:
    """The facts with one endpoint's RSA-only handshake failed (the browser's still ok)."""
    nodes = []
    for node in facts.nodes:
        endpoints = tuple(dataclasses.replace(e, handshakes=tuple(
            dataclasses.replace(h, ok=False, chain=(), chain_check=None, name_covered=None,
                                cn_only=None, error=ProbeError("timeout", "timed out"))
            if h.profile == "rsa_only" else h for h in e.handshakes))
            if (node.host, e.service) == (host, service) else e for e in node.endpoints)
        nodes.append(dataclasses.replace(node, endpoints=endpoints))
    return dataclasses.replace(facts, nodes=tuple(nodes))


def test_a_prediction_without_a_certificate_is_not_seen(rules: RuleSet) -> None:
    """Pre phase, 11.5 to 12.5: once ECDSA ends, browsers get what the RSA-only client got
    today; where that handshake failed the prediction has no certificate to judge."""
    facts = load_facts(FACTS / "row4-upgrade-trap.json")
    whole = _answers(_evaluate(rules, facts, "pre", "12.5(1)"), PUB, "live_data")
    assert whole and set(whole.values()) <= {"passed", "failed"}
    cut = _evaluate(rules, _without_rsa_only(facts, PUB, "live_data"), "pre", "12.5(1)")
    live = _answers(cut, PUB, "live_data")
    assert live.pop("endpoint-unreachable") == "failed"
    assert live and set(live.values()) == {"not_seen"}


def test_a_predicted_new_tomcat_ecdsa_counts_as_seen(rules: RuleSet) -> None:
    """Pre phase, 11.0 to 11.5: the upgrade's self-signed tomcat-ECDSA is predicted where
    today's browser handshake completed; the rules judge that prediction."""
    evaluation = _evaluate(rules, load_facts(FACTS / "pre-upgrade-ca-signed.json"), "pre",
                           "11.5(1)")
    live = _answers(evaluation, PUB, "live_data")
    assert live[LIVE] == "failed" and live["endpoint-unreachable"] == "passed"
    assert any(f.rule_id == LIVE and f.node == PUB and f.basis == "predicted"
               for f in evaluation.findings)
    assert not [c for c in evaluation.checks if c.result == "not_seen"]


def _closed_port(address: str) -> int:
    """A port on a loopback address that nothing listens on (a connection is refused)."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_data_closed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The row-4 trap audited with the publisher's Live Data port closed (Finesse and the
    notification service still answer): the audit folder, and the closed port."""
    out = tmp_path_factory.mktemp("live-data-closed") / "audit"
    with Lab("row4-upgrade-trap") as lab:
        text = lab.inventory_path.read_text()
        pub = text.index(PUB)
        closed = _closed_port("127.0.0.11")
        line = re.compile(r"live_data: \d+")
        text = text[:pub] + line.sub(f"live_data: {closed}", text[pub:], count=1)
        inventory = Path(lab.inventory_path).with_name("inventory-live-data-closed.yaml")
        inventory.write_text(text)
        done = invoke("audit", "--inventory", str(inventory), "--agent-trust",
                      str(lab.agent_trust_path), "--phase", "post", "--out", str(out),
                      "--connect-timeout", "3", "--handshake-timeout", "3")
    assert done.returncode in (0, 1), done.stderr
    return out, closed


def _results(audit: Audit, node: str, service: str) -> dict[str, str]:
    return {c.rule_id: c.result for c in audit.checks
            if c.node == node and c.subject == Subject("endpoint", service)}


def test_rules_on_an_endpoint_that_never_answered_are_not_seen(
        live_data_closed: tuple[Path, int]) -> None:
    out, _ = live_data_closed
    audit = load_audit(out / "audit.json")
    live = _results(audit, PUB, "live_data")
    # the rule that fires because the endpoint did not answer still fails
    assert live["endpoint-unreachable"] == "failed"
    assert live[LIVE] == "not_seen"  # it fired before the port was closed: not a pass
    others = {r for r in live if r not in REACHABILITY}
    assert others and {live[r] for r in others} == {"not_seen"}
    assert "passed" not in live.values()
    # written so: the file says not_seen, not a reading of it
    raw = json.loads((out / "audit.json").read_text())
    written = {(c["rule_id"], c["result"]) for c in check_rows(raw) if c["node"] == PUB
               and c["subject"] is not None and c["subject"].get("key") == "live_data"}
    assert (LIVE, "not_seen") in written
    # the endpoints that answered are judged as before
    finesse = _results(audit, PUB, "finesse")
    assert finesse and set(finesse.values()) <= {"passed", "failed"}
    assert "passed" in finesse.values()
    assert _results(audit, SUB, "live_data")[LIVE] == "failed"
    assert not [c for c in audit.checks if c.node == SUB and c.result == "not_seen"]


def test_junit_skips_what_was_not_seen_and_says_where_and_why(
        live_data_closed: tuple[Path, int]) -> None:
    from junitparser import Failure, JUnitXml, Skipped

    out, closed = live_data_closed
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    suites = {s.name.rsplit(" / ", 1)[-1]: s for s in xml}
    cases = {c.name: c for c in suites[PUB]}
    results = cases[LIVE].result
    assert results and isinstance(results[0], Skipped), "a rule that saw nothing passed"
    message = results[0].message
    assert PUB in message and f"port {closed}" in message and "refused" in message
    assert "live_data" in message
    # a rule that passed on Finesse but could not see Live Data is no pass either
    skipped = {name for name, c in cases.items()
               if c.result and isinstance(c.result[0], Skipped)}
    assert "self-signed-tomcat-prompts-agents" in skipped
    assert int(suites[PUB].skipped) == len(skipped)
    # the rule that fired because the port was closed is not skipped
    assert "endpoint-unreachable" not in skipped
    # a node-scope rule whose condition needs Live Data reached names that endpoint too
    node_rule = cases["tomcat-ecdsa-not-presented-by-uccx"].result[0]
    assert isinstance(node_rule, Skipped)
    assert f"live_data on {PUB} port {closed}" in node_rule.message, node_rule.message
    # the subscriber, reached everywhere, keeps its failure and skips nothing
    sub = {c.name: c for c in suites[SUB]}
    assert isinstance(sub[LIVE].result[0], Failure)
    assert int(suites[SUB].skipped) == 0


def test_rules_that_checked_count_only_what_was_seen(
        live_data_closed: tuple[Path, int]) -> None:
    out, _ = live_data_closed
    audit = load_audit(out / "audit.json")
    checked = rules_that_checked(audit.checks)
    unseen = {c.rule_id for c in audit.checks if c.node == PUB and c.result == "not_seen"}
    assert LIVE in unseen
    assert "endpoint-unreachable" in checked[(PUB, "live_data")]
    # a rule that saw none of what it judges for the gadget never counts as checking it
    # (one that saw another endpoint the gadget needs, CUIC 8444 or 7443, did check it)
    seen = {c.rule_id for c in audit.checks if c.node == PUB and c.result in ("passed",
                                                                               "failed")}
    assert not (unseen - seen) & set(checked[(PUB, "live_data")])
    assert LIVE in checked[(SUB, "live_data")]
    html = (out / "report.html").read_text()
    pub = html[html.index(f"<h3>{PUB}"):]
    evidence = pub[:pub.index("</article>")]
    # Finesse, reached, works and names its rules; the Live Data gadget, not seen, is
    # unknown and names none
    line = evidence.split("Rules that checked the working gadgets")[1].split("</p>")[0]
    assert "Finesse desktop" in line
    assert LIVE not in line and "Live Data gadget" not in line


def test_diff_reads_not_seen_as_no_longer_checked(
        live_data_closed: tuple[Path, int]) -> None:
    out, _ = live_data_closed
    after = load_audit(out / "audit.json")
    before = lab_audit("row4-upgrade-trap")
    after = dataclasses.replace(after, cluster=before.cluster, facts=dataclasses.replace(
        after.facts, observed_at="2999-01-01T00:00:00Z"))
    diff = diff_audits(before, after)
    assert not [f for f in diff.fixed if f.node == PUB]
    why = {f.rule_id: f.why for f in diff.no_longer_checked if f.node == PUB}
    assert why[LIVE] == "the after audit did not reach its live_data endpoint"
    # a node-scope problem whose rule needs the closed endpoint: the node answered on
    # Finesse, so the reason is the endpoint the rule needs, not "no endpoint"
    node_rule = "tomcat-ecdsa-not-presented-by-uccx"
    assert (node_rule, PUB, Subject("node"), "not_seen") in {
        (c.rule_id, c.node, c.subject, c.result) for c in after.checks}
    fired = dataclasses.replace(before.findings[0], rule_id=node_rule, node=PUB,
                                subject=Subject("node"))
    before = dataclasses.replace(before, findings=(*before.findings, fired))
    why = {f.rule_id: f.why for f in diff_audits(before, after).no_longer_checked
           if f.node == PUB}
    assert why[node_rule] == ("the after audit did not reach an endpoint of the node that "
                              "the rule needs")


def _as_written_before(audit: Audit) -> dict:
    """The audit as a version of the tool before ``not_seen`` wrote it: ``passed``."""
    data = json.loads(audit_to_json(audit))
    for row in data["checks"]["rows"]:
        if row[3] == "not_seen":
            row[3] = "passed"
    return data


def test_an_audit_written_before_not_seen_reads_as_not_seen(
        live_data_closed: tuple[Path, int]) -> None:
    out, _ = live_data_closed
    audit = load_audit(out / "audit.json")
    old = _as_written_before(audit)
    assert "not_seen" not in json.dumps(old["checks"])
    # reading an old file cannot know the rules' conditions: the endpoint's own checks
    # become not_seen; a node-scope rule that needed the endpoint stays passed (diff
    # still takes no node-scope pass on a node that answered nothing as a fix)
    migrated = {(c.rule_id, c.node, c.subject): c.result
                for c in audit_from_data(old).checks}
    for check in audit.checks:
        key = (check.rule_id, check.node, check.subject)
        if check.subject is not None and check.subject.scope == "node" \
                and check.result == "not_seen":
            assert migrated[key] == "passed", key
        else:
            assert migrated[key] == check.result, key


def test_the_schema_takes_not_seen_and_refuses_other_results(
        live_data_closed: tuple[Path, int], tmp_path: Path) -> None:
    out, _ = live_data_closed
    audit = load_audit(out / "audit.json")
    assert any(c.result == "not_seen" and c.subject == Subject("node")
               for c in audit.checks)  # a node-scope rule that needed Live Data
    save_audit(audit, tmp_path / "audit.json")
    assert load_audit(tmp_path / "audit.json") == audit
    bad = dataclasses.replace(audit, checks=(
        RuleCheck("vos-cli-not-read", PUB, Subject("node"), "skipped"),))  # type: ignore[arg-type]
    with pytest.raises(InputError) as caught:
        save_audit(bad, tmp_path / "bad.json")
    assert "checks.rows[0][3]" in str(caught.value)
