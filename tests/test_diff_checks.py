"""diff is a view of the two audits' checks: *fixed* only when the after audit checked the
problem and it passed; a problem the after audit could not look at is *no longer checked*,
never fixed."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest
from audits import OPTIONS, audit_facts, lab_audit

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.trust import load_agent_trust
from auditor.lab import Lab
from auditor.model.audit import Audit
from auditor.model.findings import Finding, RuleCheck, Subject
from auditor.render.diff import diff_audits
from auditor.render.diff_render import render_diff

PUB, SUB = "uccx-pub.lab.uccx.example", "uccx-sub.lab.uccx.example"


def _later(audit: Audit, like: Audit) -> Audit:
    """``audit`` as the after audit of ``like``'s cluster, recorded later."""
    return dataclasses.replace(audit, cluster=like.cluster, facts=dataclasses.replace(
        audit.facts, observed_at="2999-01-01T00:00:00Z"))


def _closed_ports(address: str, count: int) -> list[int]:
    """Ports on a loopback address that nothing listens on (a connection is refused)."""
    ports = []
    for _ in range(count):
        with socket.socket() as s:
            s.bind((address, 0))
            ports.append(s.getsockname()[1])
    return ports


@pytest.fixture(scope="module")
def publisher_unreachable_after() -> tuple[Audit, Audit]:
    """The row-4 trap audited, then audited again with the publisher's ports closed: the
    after audit reaches nothing of the publisher."""
    with Lab("row4-upgrade-trap") as lab:
        trust = load_agent_trust(str(lab.agent_trust_path))
        before = audit_facts(probe_inventory(load_inventory(lab.inventory_path), trust=trust,
                                             options=OPTIONS), "post")
        text = lab.inventory_path.read_text()
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if PUB in line)
        ports = next(i for i in range(at, len(lines)) if "ports:" in lines[i])
        finesse, live_data, notification = _closed_ports("127.0.0.11", 3)
        lines[ports] = (f"    ports: {{finesse: {finesse}, live_data: {live_data}, "
                        f"notification: {notification}}}")
        moved = Path(lab.inventory_path).with_name("inventory-pub-closed.yaml")
        moved.write_text("\n".join(lines) + "\n")
        after = audit_facts(probe_inventory(load_inventory(moved), trust=trust,
                                            options=OPTIONS), "post")
    return before, _later(after, before)


def test_an_after_audit_that_did_not_reach_the_node_fixes_nothing_there(
        publisher_unreachable_after: tuple[Audit, Audit]) -> None:
    before, after = publisher_unreachable_after
    assert not any(e.reachable for n in after.facts.nodes if n.host == PUB
                   for e in n.endpoints)
    on_pub = {f.rule_id for f in before.findings if f.node == PUB}
    assert "live-data-prompt-cannot-be-accepted" in on_pub
    diff = diff_audits(before, after)
    assert not [f for f in diff.fixed if f.node == PUB]
    unchecked = {f.rule_id for f in diff.no_longer_checked if f.node == PUB}
    assert on_pub <= unchecked | {f.rule_id for f in after.findings if f.node == PUB}
    assert "live-data-prompt-cannot-be-accepted" in unchecked
    why = next(f.why for f in diff.no_longer_checked
               if f.rule_id == "live-data-prompt-cannot-be-accepted")
    assert why == "the after audit did not reach its live_data endpoint"
    assert {(c.certificate, c.change) for c in diff.certificates if c.node == PUB} == {
        ("tomcat", "not seen after"), ("tomcat-ECDSA", "not seen after")}
    # the subscriber was reached and is as it was: nothing fixed or unchecked there
    assert not [f for f in (*diff.fixed, *diff.no_longer_checked) if f.node == SUB]
    for fmt in ("table", "md", "html"):
        text = render_diff(diff, fmt)
        assert "No longer checked" in text and "NOT evidence of a fix" in text, fmt
        assert "live-data-prompt-cannot-be-accepted" in text.split("No longer checked")[-1]
    data = json.loads(render_diff(diff, "json"))
    assert data["fixed"] == [] or all(f["node"] != PUB for f in data["fixed"])
    assert {"rule_id": "live-data-prompt-cannot-be-accepted", "node": PUB} in [
        {"rule_id": f["rule_id"], "node": f["node"]} for f in data["no_longer_checked"]]
    assert data["no_longer_checked"][0]["subject"]["scope"] in ("node", "endpoint",
                                                                 "certificate")
    assert "NOT evidence of a fix" in data["no_longer_checked_means"]


def test_fixed_needs_a_check_that_passed_in_the_after_audit() -> None:
    before, clean = lab_audit("pre-upgrade-ca-signed"), lab_audit("row3-ec-signed-ecdsa")
    after = _later(clean, before)
    live = "live-data-prompt-cannot-be-accepted"
    assert any(f.rule_id == live for f in diff_audits(before, after).fixed)
    # the same after audit, but its checks no longer hold that rule's answers: the diff
    # reads the checks, so it cannot call the problem fixed
    edited = dataclasses.replace(after, checks=tuple(
        RuleCheck(c.rule_id, c.node, None, "not_applicable") if c.rule_id == live else c
        for c in after.checks))
    diff = diff_audits(before, edited)
    assert not any(f.rule_id == live for f in diff.fixed)
    assert {f.why for f in diff.no_longer_checked if f.rule_id == live} == {
        "the rule did not apply to the node in the after audit"}


def test_a_node_missing_from_the_after_audit_is_no_longer_checked() -> None:
    before = lab_audit("row4-upgrade-trap")
    after = _later(before, before)
    gone = dataclasses.replace(
        after, nodes=tuple(n for n in after.nodes if n.host != PUB),
        findings=tuple(f for f in after.findings if f.node != PUB),
        checks=tuple(c for c in after.checks if c.node != PUB))
    diff = diff_audits(before, gone)
    pub = [f for f in before.findings if f.node == PUB]
    assert pub and not [f for f in diff.fixed if f.node == PUB]
    assert {(f.rule_id, f.why) for f in diff.no_longer_checked} == {
        (f.rule_id, "the node is not in the after audit") for f in pub}


def _with_fingerprint(finding: Finding | RuleCheck, old: str, new: str):
    subject = finding.subject
    if subject is None or subject.scope != "certificate" or subject.key != old:
        return finding
    return dataclasses.replace(finding, subject=Subject("certificate", new, subject.kind))


def test_a_replaced_certificate_with_the_same_problem_is_unchanged() -> None:
    before = lab_audit("hygiene-expired")
    expired = next(f for f in before.findings if f.rule_id == "certificate-expired")
    assert expired.subject.scope == "certificate"
    old = expired.subject.key
    new = "f" * len(old)
    after = _later(before, before)
    after = dataclasses.replace(
        after, findings=tuple(_with_fingerprint(f, old, new) for f in after.findings),
        checks=tuple(_with_fingerprint(c, old, new) for c in after.checks))
    assert any(f.subject == Subject("certificate", new, expired.subject.kind)
               for f in after.findings)
    diff = diff_audits(before, after)
    assert (diff.fixed, diff.new, diff.no_longer_checked) == ((), (), ())
    assert diff.unchanged == len(before.findings)


def test_a_problem_that_failed_after_and_not_before_is_new() -> None:
    before, after = lab_audit("row3-ec-signed-ecdsa"), lab_audit("hygiene-expired")
    diff = diff_audits(before, _later(after, before))
    assert "certificate-expired" in {f.rule_id for f in diff.new}
    assert diff.no_longer_checked == ()
