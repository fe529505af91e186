"""What the plan's steps say, against docs/DOMAIN's remedies and the CA-signed procedure:
the COP rollback done after the certificates are signed and inside one window, step wording
that holds for the node's role, the steps of each phase, the complete (unverified) list of
service-level restarts, the CSR's Parent Domain tip, row 4's inferred agent-trust push and
the agents' endpoints in the Firefox exceptions.

The tests reach the plan through :func:`plan_of` only, and read words and commands, not
Markdown."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

from audits import lab_audit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.resources import rules_dir
from auditor.evaluate.ruleset import load_ruleset
from auditor.lab.scenarios import DOMAIN
from auditor.model.audit import Audit, AuditPlaybook
from auditor.model.solution import current

PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
ROLLBACK, PUSH, SIGN = "roll-back-cop", "add-certificates-to-agent-trust-stores", \
    "sign-tomcat-ecdsa-with-ec-ca"
#: Wording that only means something on a UCCX node (DOMAIN.md, the CA-signed procedure).
UCCX_ONLY = ("publisher first", "replicates to the subscriber")


def plan_of(audit: Audit) -> Any:
    """The remediation plan of an audit (the one place that knows where it is built)."""
    from auditor.evaluate.plan import build_plan

    return build_plan(audit)


def text_of(step: Any, plan: Any = None) -> str:
    """A step's words: a plan step's action, command and note (kept once in the plan), or
    a playbook step's text, command and note."""
    if plan is None:
        return f"{step.do} {step.command or ''} {step.note or ''}"
    note = plan.notes[step.note - 1] if step.note else ""
    return f"{step.action} {step.command or ''} {note}"


@cache
def audit_of(scenario: str) -> Audit:
    return lab_audit(scenario)


@cache
def playbook_roles() -> dict[str, tuple[str, ...]]:
    return {key: p.roles for key, p in load_ruleset([]).playbooks.items()}


@cache
def playbooks() -> dict[str, AuditPlaybook]:
    rules = load_ruleset([])
    return {key: AuditPlaybook(p.title, p.when_to_use, p.steps, p.verify,
                               tuple(c.text for c in p.citations), p.order,
                               p.changes_certificates,
                               dict(p.outcome) if p.outcome else None)
            for key, p in rules.playbooks.items()}


def with_playbook(key: str, hosts: tuple[str, ...]) -> Audit:
    """The three-node row-4 audit with one finding per host in ``hosts``, each remedied by
    the playbook ``key`` alone: the plan then resolves every step of it onto those nodes."""
    audit = audit_of("row4-upgrade-trap")
    roles = {n.host: n.role for n in audit.nodes}
    findings = []
    for host in (h for h in hosts if roles[h] in playbook_roles()[key]):
        finding = next(f for f in audit.findings if f.node == host)
        findings.append(replace(finding, remediation=(key,), caused_by=()))
    return replace(audit, findings=tuple(findings), playbooks={key: playbooks()[key]})


def item_of(plan: Any, key: str) -> Any:
    return next(i for i in plan.items if i.playbook == key)


def test_cop_and_working_the_ca_signs_before_the_rollback_in_one_window() -> None:
    # with everything working the rollback is only an optional improvement (no steps); the
    # playbook's own order is what an admin follows once a finding asks for it
    assert ROLLBACK in [i.playbook for i in plan_of(audit_of("cop-uccx")).improvements]
    plan = plan_of(with_playbook(ROLLBACK, (PUB, SUB)))
    item = item_of(plan, ROLLBACK)
    steps = list(item.steps)

    def first(pattern: str) -> int:
        return next(i for i, s in enumerate(steps) if re.search(pattern, s.action, re.I))

    rollback = first(r"install the rollback")
    assert first(r"Generate CSR") < rollback  # the CSR is made with the COP still in place
    assert first(r"have the CSRs signed") < rollback  # and signed before the window
    # rollback, upload and restart: all in the window, the restart last
    for index, step in enumerate(steps):
        if re.search(r"install the rollback|Upload Certificate", step.action) \
                or step.kind == "restart":
            assert step.phase == "window", step
            assert index >= rollback or "tomcat-trust" in step.action, step
    assert steps[-1].kind == "restart"
    # whether the CSR can be made with the COP in place is unverified, and where it cannot,
    # Live Data is at risk (row 4 re-opens) from the rollback to the upload
    csr = " ".join(text_of(s, plan) for s in steps if "Generate CSR" in s.action)
    assert re.search(r"COP is installed is\s+unverified", csr)
    assert "Live Data is at risk" in csr and "row 4" in csr and "one window" in csr
    assert "one maintenance window" in item.when_to_use
    # the seed's order is named, and why this plan does the signing first
    assert "rollback" in item.when_to_use and "row 4" in item.when_to_use


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(playbooks())),
       hosts=st.sets(st.sampled_from((PUB, SUB, SM)), min_size=1))
def test_no_uccx_wording_reaches_a_socialminer_step(key: str, hosts: set[str]) -> None:
    """Every playbook, on every set of nodes: a step done on a SocialMiner node never says
    "publisher first", nor that an upload there replicates (only a step that sends the
    admin to the UCCX publisher may say so)."""
    ordered = tuple(h for h in (PUB, SUB, SM) if h in hosts)
    plan = plan_of(with_playbook(key, ordered))
    for item in plan.items:
        for step in item.steps:
            if step.node != SM:
                continue
            said = text_of(step, plan)
            assert "publisher first" not in said, (key, step)
            if "replicates to the subscriber" in said:
                # only where the step sends the admin to the UCCX publisher itself
                assert "on the UCCX publisher" in said.replace(
                    "An upload on the UCCX publisher", ""), (key, step)


def test_socialminer_restart_has_its_own_wording_and_uccx_keeps_its_own() -> None:
    """The row-4 plan restarts all three nodes in one count: the UCCX nodes publisher
    first, SocialMiner without UCCX wording."""
    plan = plan_of(audit_of("row4-upgrade-trap"))
    restarts = [s for s in item_of(plan, SIGN).steps if s.kind == "restart"]
    assert [s.node for s in restarts] == [PUB, SUB, SM]
    assert all("publisher first" in s.action for s in restarts[:2])
    assert [s.action.split(":")[0] for s in restarts] == [
        "Restart 1 of 3", "Restart 2 of 3", "Restart 3 of 3"]
    assert not any(w in text_of(restarts[2], plan) for w in UCCX_ONLY)
    assert "SocialMiner" in restarts[2].action


def test_pre_upgrade_plans_split_before_and_after_the_upgrade() -> None:
    for scenario in ("pre-upgrade-ca-signed", "pre-upgrade-self-signed"):
        plan = plan_of(audit_of(scenario))
        steps = [s for i in plan.items for s in i.steps]
        before = " ".join(text_of(s, plan) for s in steps if s.phase == "before-upgrade")
        # what can be done before: confirm the CA, download the COPs and their rollbacks,
        # prepare the agents' trust
        assert re.search(r"sign EC certificates with ECDSA", before)
        assert "COPs" in before and "rollbacks" in before
        assert "agents" in before and "trust" in before
        # what cannot: the tomcat-ECDSA CSR, the Firefox exceptions for its port, uploads
        for step in steps:
            if step.phase == "before-upgrade":
                assert not re.search(r"Generate CSR|Download CSR|Firefox|Upload Certificate"
                                     r"|download its self-signed", step.action), (scenario, step)
        assert any(s.phase == "after-upgrade" and "Firefox" in s.action for s in steps) \
            or scenario == "pre-upgrade-ca-signed"
        assert any(s.phase == "after-upgrade" for s in steps)


def test_every_playbook_step_is_in_a_phase_it_can_be_done_in() -> None:
    """No step that needs the upgrade's tomcat-ECDSA is marked before the upgrade; every
    restart, rollback and upload is in the window."""
    from auditor.evaluate.plan import step_phase

    for key, playbook in playbooks().items():
        for step in playbook.steps:
            phase = step_phase(step)
            said = text_of(step)
            if step.on == "restart" or re.search(r"install the rollback|Upload Certificate",
                                                 step.do):
                assert phase == "window", (key, step)
            if re.search(r"Generate CSR|Download CSR|Upload Certificate|download its self-signed",
                         step.do):
                assert phase != "before-upgrade" or "tomcat-ECDSA" not in step.do, (key, step)
            if phase == "before-upgrade":
                assert "Firefox" not in said, (key, step)


def test_row4_agent_trust_push_is_marked_inferred() -> None:
    plan = plan_of(audit_of("row4-upgrade-trap"))
    push = next(a for a in plan.alternatives if a.playbook == PUSH)
    said = push.when_to_use
    assert re.search(r"row 4.*Cisco names only.*inferred", said), said


def test_every_restart_lists_every_service_level_restart_as_unverified() -> None:
    """Over every playbook that changes certificates: on a UCCX node the restart's command
    is the system restart, and its note names every VOS service of the node's endpoints in
    the map, marked unverified; on SocialMiner, whose service names are unverified, the
    system restart alone."""
    uccx = [s.vos_service for s in current().families["uccx"].services.values()
            if s.vos_service]
    assert {"Cisco Finesse Tomcat", "Cisco Unified Intelligence Center Reporting Service",
            "Cisco Tomcat", "Cisco Unified CCX Socket.IO Service",
            "Cisco Unified CCX Notification Service"} <= set(uccx)
    keys = [k for k, p in playbooks().items()
            if p.changes_certificates and "socialminer" in playbook_roles()[k]]
    assert keys
    for key in keys:
        plan = plan_of(with_playbook(key, (PUB, SUB, SM)))
        for item in plan.items:
            restarts = [s for s in item.steps if s.kind == "restart"]
            assert restarts, key
            for step in restarts:
                assert step.command == "utils system restart", (key, step)
                note = plan.notes[step.note - 1] if step.note else ""
                assert "unverified" in note, (key, step)
                if step.node == SM:
                    assert "utils service restart" not in note, (key, step)
                    continue
                for name in uccx:
                    assert f"utils service restart {name}" in note, (key, name, step)
                assert "210528" in note, (key, step)


def test_every_csr_step_says_to_leave_parent_domain_empty() -> None:
    seen = 0
    for key, playbook in playbooks().items():
        for step in playbook.steps:
            if "Generate CSR" in step.do:
                seen += 1
                assert re.search(r"Parent Domain field empty", step.note or ""), (key, step)
                assert "CSR SAN and Certificate SAN does not match" in (step.note or "")
    assert seen >= 5


def test_firefox_exceptions_name_every_agent_endpoint_with_8444_and_443() -> None:
    """The exceptions come from the map's agents' endpoints: on UCCX CUIC (8444) and the UCCX
    web services (443) too, not only 8445, 7443 and 12015."""
    audit = audit_of("row1-self-signed")
    step = next(s for s in item_of(plan_of(audit), PUSH).steps if "Firefox" in s.action)
    solution = current()
    for node in audit.facts.nodes:
        family = solution.families[solution.roles[node.role].family]
        ports = {e.service: e.port for e in node.endpoints}
        for service in family.agents:
            assert f"{node.host}:{ports.get(service, family.services[service].port)}" \
                in step.action, (node.host, service)
    uccx = solution.families["uccx"]
    assert {"cuic", "platform"} <= set(uccx.agents)
    assert {uccx.services["cuic"].port, uccx.services["platform"].port} == {8444, 443}
    # the reachability check names the same endpoints (from the map), 8444 and 443 too
    probe = item_of(plan_of(with_playbook("check-endpoint-reachability", (PUB, SUB, SM))),
                    "check-endpoint-reachability").steps[0]
    for node in audit_of("row4-upgrade-trap").facts.nodes:
        ports = {e.service: e.port for e in node.endpoints}
        for service in ("cuic", "platform") if node.role != "socialminer" else ("web",):
            assert f"{node.host}:{ports[service]}" in probe.action, (node.host, service)
    # no playbook spells a port list of its own for what the agents meet
    for path in sorted((rules_dir() / "playbooks").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b8445, 12015\b|\(port 12015\)", text), path.name
