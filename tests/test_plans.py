"""The remediation plan of every lab scenario, asserted structurally: the recommended
playbooks in order, the node of every step, the restart order, the verify command; and the
same in report.md, where an admin reads it at 2 a.m. (docs/domain.md, "Which remedy first"
and "The CA-signed procedure")."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from audits import lab_audit

from auditor.evaluate.engine import evaluate
from auditor.evaluate.plan import build_plan, planned
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.lab import SCENARIOS, Lab
from auditor.lab.scenarios import DOMAIN
from auditor.model.audit import Audit, Invocation
from auditor.render import ReportMeta, render

PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
ALL = (PUB, SUB, SM)
INVENTORY = "/srv/change/east-cluster.yaml"
TRUST = "/srv/change/agents-trust.pem"

SIGN, ROLLBACK = "sign-tomcat-ecdsa-with-ec-ca", "roll-back-cop"
PUSH, ACCEPT = "add-certificates-to-agent-trust-stores", "agents-accept-once"
UCCX_COP, SM_COP = "install-uccx-cop", "install-socialminer-cop"
PREPARE = "prepare-ec-signing-before-upgrade"
RESTART = "restart-stale-tomcat-instances"

#: scenario: the plan's playbooks in order, each (playbook, its nodes, its restart order)
GOLDEN: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "row1-self-signed": [(PUSH, ALL, ())],
    "row2-rsa-signed-ecdsa": [(SM_COP, (SM,), ())],
    "row3-ec-signed-ecdsa": [],
    "trust-socialminer-chain-missing": [("upload-socialminer-chain-to-uccx-trust", (SM,), ())],
    "row4-upgrade-trap": [(SIGN, ALL, ALL)],
    # a COP installed and working is a legitimate end state: its rollback is an optional
    # improvement, never a playbook (IMPROVEMENTS)
    "cop-uccx": [(SIGN, (SM,), (SM,))],
    "cop-socialminer": [],
    # before the upgrade: what can be done then; after it: the rest (the same playbook may
    # have steps in both parts)
    # before the upgrade: what can be done then (the CA confirmed, the agents' trust
    # prepared); after it: the rest, the restarts in the window
    "pre-upgrade-ca-signed": [(PREPARE, ALL, ()), (SIGN, ALL, ()), (PREPARE, ALL, ()),
                              (SIGN, ALL, ALL)],
    "pre-upgrade-self-signed": [(PREPARE, ALL, ()), (PUSH, ALL, ()), (PREPARE, ALL, ()),
                                (PUSH, ALL, ())],
    "mixed-cluster": [(SIGN, (SUB,), (SUB,))],
    "hygiene-expired": [("renew-certificate", (PUB,), (PUB,))],
    "hygiene-sha1": [("replace-weak-certificate", (PUB,), (PUB,))],
    "hygiene-cn-without-san": [("fix-certificate-names", (PUB,), (PUB,))],
    "hygiene-wrong-host": [("fix-certificate-names", (PUB,), (PUB,))],
    "hygiene-missing-intermediate": [("fix-certificate-chain", (PUB,), (PUB,))],
    "hygiene-wildcard": [("fix-certificate-names", (PUB,), (PUB,))],
    # 8444 alone presents an expired certificate: the node's Tomcat instances disagree, so
    # the restart is pending too
    "live-data-broken-by-cuic": [("renew-certificate", (PUB,), (PUB,)),
                                 (RESTART, (PUB,), (PUB,))],
    "restart-pending": [(RESTART, (PUB,), (PUB,))],
}
#: scenario: the alternatives a plan must offer (with their conditions)
ALTERNATIVES = {
    "row1-self-signed": {ACCEPT, UCCX_COP, SM_COP, SIGN},
    "row2-rsa-signed-ecdsa": {SIGN},
    "row4-upgrade-trap": {UCCX_COP, SM_COP, PUSH, ACCEPT},
    "mixed-cluster": {UCCX_COP, PUSH},
    "hygiene-expired": set(),
}


#: scenario: the optional improvements of its plan (playbooks nothing requires)
IMPROVEMENTS = {"cop-uccx": [ROLLBACK], "cop-socialminer": [ROLLBACK]}


def with_invocation(audit: Audit) -> Audit:
    """The lab audit as if run by ``uccx-audit audit`` with a site's own inventory path,
    its plan built for that run."""
    args = ["audit", "--inventory", INVENTORY, "--phase", audit.phase]
    args += ["--target-version", audit.target_version] if audit.phase == "pre" else []
    args += ["--agent-trust", TRUST, "--change-date", audit.change_date, "--ticket", "CHG0042"]
    return planned(replace(audit, invocation=Invocation("audit", tuple(args), INVENTORY),
                           plan=None))


def markdown(scenario: str) -> str:
    return render(with_invocation(lab_audit(scenario)), "md", ReportMeta("CHG0042"))


def md_playbooks(text: str) -> list[str]:
    """The playbook IDs of report.md's plan, in order."""
    return re.findall(r"^\*\*Playbook \d+: .*`([a-z0-9-]+)`$", text, re.M)


def md_steps(text: str, playbook: str, nth: int = 0) -> list[tuple[str, str]]:
    """(node or place, what) of each checklist step of a playbook's ``nth`` item in
    report.md, with the verify ("Verify")."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(f"`{playbook}`", start + 1)
    end = text.find("\n**", start + 1)
    block = text[start:end if end != -1 else len(text)]
    steps = re.findall(r"^- \[ \] \d+\. \*\*(.+?)\*\*: (.*)$", block, re.M)
    return [("Verify" if head.startswith("Verify") else head.split(" (")[0].split(" · ")[0],
             what) for head, what in steps]


def test_every_scenario_has_a_golden_plan() -> None:
    assert set(GOLDEN) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden_plan_of_each_lab_scenario(scenario: str) -> None:
    audit = with_invocation(lab_audit(scenario))
    plan = build_plan(audit)
    assert [(i.playbook, i.nodes, i.restart_order) for i in plan.items] == GOLDEN[scenario]
    assert [i.playbook for i in plan.improvements] == IMPROVEMENTS.get(scenario, [])
    for item in plan.items:
        for step in item.steps:
            if step.kind in ("node", "restart"):
                assert step.node in item.nodes, (item.playbook, step)
                assert step.role == next(n.role for n in audit.nodes if n.host == step.node)
                assert step.where in ("OS Administration", "VOS CLI")
            else:
                assert step.node is None and step.where
            assert step.verified_by == item.verify.number
            assert "on each node" not in step.action.lower()
        restarts = [s for s in item.steps if s.kind == "restart"]
        assert tuple(s.node for s in restarts) == item.restart_order
        if item.changes_certificates and item.part == "after-upgrade":
            # the restart ends the playbook: one node at a time, the publisher first
            assert item.steps[-len(restarts):] == tuple(restarts) and restarts
            for step in restarts:
                assert "utils system restart" in step.action + (step.command or "")
                assert step.where == "VOS CLI" and step.phase == "window"
                # "publisher first" is UCCX wording: a SocialMiner restart never says it
                if step.node == SM:
                    assert "publisher first" not in step.action and "one" in step.action
                else:
                    assert "one node at a time" in step.action
                    assert "publisher first" in step.action
        # the verify step: this audit's own command, and what each node must then show
        assert item.verify.kind == "verify"
        assert f"--inventory {INVENTORY}" in item.verify.command
        assert f"--agent-trust {TRUST}" in item.verify.command
        if item.part == "after-upgrade":
            assert "--phase post" in item.verify.command
            assert all(e.startswith(f"{host} (") for e, host in zip(item.verify.expect,
                                                                   item.nodes, strict=True))
        else:
            assert f"--phase {audit.phase}" in item.verify.command
    if scenario in ALTERNATIVES:
        assert {a.playbook for a in plan.alternatives} == ALTERNATIVES[scenario]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_report_md_shows_the_golden_plan(scenario: str) -> None:
    text = markdown(scenario)
    assert md_playbooks(text) == [p for p, _, _ in GOLDEN[scenario]]
    plan = build_plan(with_invocation(lab_audit(scenario)))
    seen: dict[str, int] = {}
    for item, (playbook, nodes, restart_order) in zip(plan.items, GOLDEN[scenario], strict=True):
        steps = md_steps(text, playbook, seen.get(playbook, 0))
        seen[playbook] = seen.get(playbook, 0) + 1
        hosts = [where for where, _ in steps if where in ALL]
        assert hosts == [s.node for s in item.steps if s.kind in ("node", "restart")]
        assert set(hosts) <= set(nodes)
        restarts = [(where, do) for where, do in steps if "Restart " in do]
        assert tuple(w for w, _ in restarts) == restart_order
        for where, do in restarts:
            if where == SM:
                assert "publisher first" not in do
            else:
                assert "one node at a time" in do and "publisher first" in do
        verify = [do for where, do in steps if where == "Verify"]
        assert len(verify) == 1
    if plan.items:
        assert f"--inventory {INVENTORY}" in text


def test_row2_recommends_the_socialminer_cop_first() -> None:
    text = markdown("row2-rsa-signed-ecdsa")
    assert md_playbooks(text)[0] == SM_COP
    assert "the quick fix for broken chat" in text


def test_row1_recommends_the_self_signed_guidance_first() -> None:
    text = markdown("row1-self-signed")
    assert md_playbooks(text)[0] in (PUSH, ACCEPT)
    # accepting once is the other self-signed route, offered with its condition
    assert re.search(r"Have each agent accept the certificate warnings once `agents-accept-once`"
                     r" — when to use: With self-signed certificates", text)


def test_mixed_cluster_only_the_subscriber_generates_uploads_and_restarts() -> None:
    text = markdown("mixed-cluster")
    steps = md_steps(text, SIGN)
    on_nodes = [(w, do) for w, do in steps if w in ALL]
    assert on_nodes and {w for w, _ in on_nodes} == {SUB}
    doing = " ".join(do for _, do in on_nodes)
    assert "Generate CSR" in doing and "Upload Certificate" in doing
    assert "Restart 1 of 1" in doing and "Type: `utils system restart`" in text
    ca = next(do for w, do in steps if w == "the certificate authority")
    assert f"tomcat-ECDSA for {SUB}" in ca.replace("\\", "")
    assert PUB not in ca.replace("\\", "") and SM not in ca.replace("\\", "")
    assert "on each node" not in text.lower()


def test_the_ca_step_lists_the_certificates_actually_needed() -> None:
    plan = build_plan(lab_audit("row4-upgrade-trap"))
    ca = next(s for s in plan.items[0].steps if s.where == "the certificate authority")
    assert all(f"tomcat-ECDSA for {h}" in ca.action for h in ALL)
    # the publisher's tomcat-trust upload replicates to the subscriber: no upload there
    trust = [s.node for s in plan.items[0].steps if "as tomcat-trust" in s.action]
    assert trust == [PUB, SM]


def test_a_knock_on_finding_points_to_its_cause_and_adds_no_playbook() -> None:
    audit = lab_audit("hygiene-expired")
    knock_on = [f for f in audit.findings if f.rule_id == "ca-signed-certificate-not-accepted"]
    assert knock_on and all(f.caused_by and not f.remediation for f in knock_on)
    assert all(c.rule_id == "certificate-expired" and c.subject.scope == "certificate"
               and c.subject.kind == "tomcat" for f in knock_on for c in f.caused_by)
    plan = build_plan(audit)
    assert [i.playbook for i in plan.items] == ["renew-certificate"]
    assert not plan.alternatives
    text = markdown("hygiene-expired")
    assert "fix-certificate-chain" not in text and "Complete the certificate chain" not in text
    assert "caused by A certificate has expired" in text or "caused by" in text
    assert "Renew a certificate that has expired or ends soon" in text


def test_alternatives_keep_their_conditions_in_markdown_and_html() -> None:
    audit = with_invocation(lab_audit("row4-upgrade-trap"))
    md, html = render(audit, "md"), render(audit, "html")
    condition = "while waiting for an EC-signed tomcat-ECDSA, to keep Live Data working"
    assert condition in md and condition in html
    accept_once = "It does not help where accepting fails"
    assert accept_once in md and accept_once in html


def test_firefox_exceptions_list_every_port_agents_meet() -> None:
    plan = build_plan(lab_audit("row1-self-signed"))
    audit = lab_audit("row1-self-signed")
    ports = {(n.host, e.service): e.port for n in audit.facts.nodes for e in n.endpoints}
    firefox = next(s.action for s in plan.items[0].steps if "Firefox" in s.action)
    for host in (PUB, SUB):
        for service in ("finesse", "notification", "live_data", "cuic", "platform"):
            assert f"{host}:{ports[(host, service)]}" in firefox
    for service in ("web", "notification"):
        assert f"{SM}:{ports[(SM, service)]}" in firefox
    text = " ".join(s.action for s in plan.items[0].steps)
    assert "group policy" in text and "subject alternative names" in text
    assert "Chrome 58" in text


def test_a_site_playbook_with_a_condition_and_a_priority_outranks_a_built_in_one(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "playbooks").mkdir(parents=True)
    (site / "playbooks" / "site-ecdsa-via-change-board.yaml").write_text("""\
id: site-ecdsa-via-change-board
title: Our way, the PKI team signs tomcat-ECDSA through the change board
roles: [uccx-publisher, uccx-subscriber]
order: 52
changes_certificates: true
when_to_use: >
  Our enterprise CA signs EC certificates only through a change-board request.
remedies:
  - rule: live-data-prompt-cannot-be-accepted
    when: {fact: node.tomcat.state, equals: rsa_ca_signed}
    priority: 95
  - rule: self-signed-tomcat-prompts-agents
    when: {fact: node.tomcat.state, equals: rsa_ca_signed}
    priority: 99
steps:
  - on: every-node
    do: On {node}, raise a change-board request for its tomcat-ECDSA CSR.
  - on: restart
    do: >
      In the maintenance window, one node at a time, publisher first: run utils system
      restart on {node} and wait for its services.
verify:
  on: audit-host
  do: uccx-audit must then report Live Data working.
citations:
  - source: Site PKI runbook
""")
    rules = load_ruleset([site])
    facts = lab_audit("row4-upgrade-trap").facts
    settings = make_settings(facts.version, facts.observed_at, phase="post",
                             target_version=None, change_date=None, expiry_window_days=30)
    evaluation = evaluate(rules, facts, settings)
    live = [f for f in evaluation.findings if f.rule_id == "live-data-prompt-cannot-be-accepted"]
    assert live and all(f.remediation[0] == "site-ecdsa-via-change-board" for f in live)
    assert all(SIGN in f.remediation for f in live)  # the built-in one stays an alternative
    from auditor.evaluate.engine import build_audit
    audit = with_invocation(build_audit(evaluation, facts, rules, settings))
    plan = build_plan(audit)
    assert [i.playbook for i in plan.items] == ["site-ecdsa-via-change-board", SIGN]
    assert plan.items[0].nodes == (PUB, SUB) and plan.items[1].nodes == (SM,)
    assert SIGN in {a.playbook for a in plan.alternatives} or plan.items[1].playbook == SIGN
    # where its condition does not hold, the site playbook is not offered at all
    row1 = lab_audit("row1-self-signed").facts
    findings = evaluate(rules, row1, make_settings(
        row1.version, row1.observed_at, phase="post", target_version=None,
        change_date=None, expiry_window_days=30)).findings
    assert not any("site-ecdsa-via-change-board" in f.remediation for f in findings)


def test_the_audit_command_records_its_invocation_for_the_verify_step(tmp_path) -> None:
    out = tmp_path / "out"
    with Lab("mixed-cluster") as lab:
        inventory = tmp_path / "my site" / "east.yaml"
        inventory.parent.mkdir()
        shutil.copy(lab.inventory_path, inventory)
        done = subprocess.run(
            [sys.executable, "-m", "auditor", "audit", "--inventory", str(inventory),
             "--phase", "post", "--agent-trust", str(lab.agent_trust_path),
             "--handshake-timeout", "4", "--out", str(out)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    text = (out / "report.md").read_text()
    verify = [do for where, do in md_steps(text, SIGN) if where == "Verify"]
    assert len(verify) == 1
    expected = (f"uccx-audit audit --inventory '{inventory}' --phase post --agent-trust "
                f"{lab.agent_trust_path} --handshake-timeout 4")
    # the command as one code block, exactly as typed (nothing escaped), without --out
    assert f"\n```\n{expected}\n```\n" in text
