"""Every endpoint an agent meets (issue 22, items 1-3): CUIC 8444 and UCCX web services 443
are probed by default; a gadget is judged from every endpoint it needs (chat/email from
UCCX 443 too); an endpoint it needs that gave no browser a certificate makes it unknown; a
Tomcat instance still presenting the previous tomcat is a restart pending."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from audits import audit_facts, audit_json, lab_audit
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.lab import Lab
from auditor.lab.scenarios import EC_CA, RSA_CA, Scenario, lab_cluster
from auditor.model.facts import load_facts
from auditor.model.solution import builtin

ROOT = Path(__file__).resolve().parent.parent
PUB, SUB, SM = (f"{n}.lab.uccx.example" for n in ("uccx-pub", "uccx-sub", "sm"))


def _outcomes(audit) -> dict[tuple[str, str], str]:
    return {(n.host, g): r.outcome for n in audit.nodes for g, r in n.gadgets.items()}


def test_uccx_nodes_are_probed_on_8444_and_443_by_default() -> None:
    audit = lab_audit("row3-ec-signed-ecdsa")
    for node in audit.facts.nodes:
        if node.role.startswith("uccx"):
            ports = {e.service: e.port for e in node.endpoints}
            assert {"cuic", "platform"} <= set(ports), ports
    assert builtin().default_ports("uccx")["cuic"] == 8444
    assert builtin().default_ports("uccx")["platform"] == 443
    assert "os_admin" not in builtin().default_ports("uccx")


def test_an_expired_cuic_certificate_breaks_live_data_through_8444_alone() -> None:
    audit = lab_audit("live-data-broken-by-cuic")
    out = _outcomes(audit)
    assert out[(PUB, "live_data")] == "broken"
    assert out[(PUB, "finesse_desktop")] == "works"
    assert out[(SUB, "live_data")] == "works"
    expired = [f for f in audit.findings if f.rule_id == "certificate-expired"]
    assert expired and all(f.node == PUB for f in expired)
    assert audit.verdict == "no_go"


def test_8444_on_the_previous_certificate_is_a_restart_pending() -> None:
    audit = lab_audit("restart-pending")
    pending = [f for f in audit.findings if f.rule_id == "tomcat-restart-pending"]
    assert [(f.node, f.subject.key) for f in pending] == [(PUB, "cuic")]
    assert "(CUIC)" in pending[0].message
    assert "Cisco Unified Intelligence Center Reporting Service" in pending[0].message
    assert "unverified" in pending[0].message
    out = _outcomes(audit)
    # a rule resting on an inference never yields works
    assert out[(PUB, "live_data")] == "unknown"
    assert audit.verdict == "no_go"


def test_each_new_scenario_names_its_endpoint_and_rule_in_every_format(tmp_path) -> None:
    for scenario, rule, outcome in (("live-data-broken-by-cuic", "certificate-expired",
                                     "BROKEN"),
                                    ("restart-pending", "tomcat-restart-pending", "unknown")):
        out = tmp_path / scenario
        result = invoke("demo", "--scenario", scenario, "--out", out, "--no-color")
        assert result.returncode == 0, result.stderr
        assert outcome in result.stdout
        # the terminal names the rule that decides the gadget and the endpoint it fired on
        decided = result.stdout.split("Decided by", 1)[-1]
        assert rule in decided and "(CUIC)" in decided, result.stdout
        data = audit_json(out / "audit.json")  # with the facts.json it names
        # the port CUIC listens on (the lab's own, not the default 8444)
        port = next(str(e["port"]) for n in data["facts"]["nodes"] if n["host"] == PUB
                    for e in n["endpoints"] if e["service"] == "cuic")
        for name in ("report.html", "report.md", "audit.json", "junit.xml"):
            text = (out / name).read_text(encoding="utf-8")
            assert rule in text, (scenario, name)
            assert "(CUIC)" in text or "on cuic" in text, (scenario, name)
            if name != "junit.xml":  # a certificate finding's case names the certificate
                assert port in text, (scenario, name)
        assert any(f["rule_id"] == rule for f in data["findings"])


def test_facts_recorded_before_8444_and_443_leave_their_gadgets_unknown() -> None:
    """An old facts file lacks CUIC and UCCX 443: Live Data and chat/email are unknown (never
    works); the Finesse desktop and the SocialMiner page are judged as before."""
    facts = load_facts(ROOT / "fixtures/facts/row3-recorded-before-8444-443.json")
    out = _outcomes(audit_facts(facts, "post"))
    for host in (PUB, SUB):
        assert out[(host, "finesse_desktop")] == "works"
        assert out[(host, "live_data")] == "unknown"
    assert out[(SM, "chat_email")] == "unknown"
    assert out[(SM, "socialminer_web")] == "works"


def _every_endpoint() -> list[tuple[str, str]]:
    facts = lab_audit("row3-ec-signed-ecdsa").facts
    return [(n.host, e.service) for n in facts.nodes for e in n.endpoints]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_removing_or_failing_any_endpoint_never_moves_a_gadget_towards_works(data) -> None:
    """From a cluster where every gadget works, drop or fail (handshakes removed) any set
    of endpoints: each gadget that needs one of them, on its own node or (chat/email and
    UCCX 443) on another, is no longer works."""
    base = lab_audit("row3-ec-signed-ecdsa")
    assert set(_outcomes(base).values()) == {"works"}
    chosen = data.draw(st.sets(st.sampled_from(_every_endpoint()), min_size=1))
    fail = data.draw(st.booleans())
    nodes = []
    for node in base.facts.nodes:
        kept = []
        for e in node.endpoints:
            if (node.host, e.service) not in chosen:
                kept.append(e)
            elif fail:
                kept.append(replace(e, handshakes=()))
        nodes.append(replace(node, endpoints=tuple(kept)))
    out = _outcomes(audit_facts(replace(base.facts, nodes=tuple(nodes)), "post"))
    solution = builtin()
    roles = {n.host: n.role for n in base.facts.nodes}
    for (host, gadget), outcome in out.items():
        needs = solution.gadgets[gadget].every_need()
        hit = any((solution.family_of(roles[h]), s) in needs
                  and (h == host or solution.family_of(roles[h]) != solution.gadgets[
                      gadget].family) for h, s in chosen)
        if hit:
            assert outcome != "works", (host, gadget, chosen, fail)



_INSTANCES = [(node, service) for node in (0, 1) for service in ("finesse", "cuic", "platform")]


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sets(st.sampled_from(_INSTANCES), min_size=1).filter(
    lambda chosen: all(sum(n == node for n, _ in chosen) < 3 for node in (0, 1))))
def test_any_tomcat_instance_left_on_the_previous_certificate_is_found_and_never_works(
        chosen) -> None:
    """Any set of Tomcat instances of either UCCX node still on the previous tomcat (each
    node keeping one instance on the new one): the rule names exactly those (node, service),
    and every gadget that needs one of them, on that node or (UCCX 443) on SocialMiner, is
    not works."""
    base = lab_cluster(RSA_CA, EC_CA)
    nodes = tuple(replace(spec, instances=tuple((s, "previous") for n, s in sorted(chosen)
                                                if n == index))
                  if index < 2 else spec for index, spec in enumerate(base))
    scenario = Scenario("restart-pending-any", "property", "11.5(1)", nodes)
    with Lab(scenario) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3))
    audit = audit_facts(facts, "post")
    hosts = (PUB, SUB)
    pending = {(f.node, f.subject.key) for f in audit.findings
               if f.rule_id == "tomcat-restart-pending"}
    assert pending == {(hosts[n], s) for n, s in chosen}
    out = _outcomes(audit)
    solution = builtin()
    for n, service in chosen:
        for gadget in solution.gadgets_needing("uccx", service):
            served_on = [hosts[n]] if solution.gadgets[gadget].family == "uccx" else [SM]
            for host in served_on:
                assert out[(host, gadget)] != "works", (host, gadget, chosen)
    assert audit.verdict == "no_go"


def _on_tomcat_instances(audit) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.node, f.subject.key) for f in audit.findings
            if f.subject.scope == "endpoint" and f.subject.key in ("cuic", "platform")}


def test_the_pre_phase_projects_8444_and_443_presenting_tomcat_in_every_state() -> None:
    """Before the 11.5 upgrade, CUIC and UCCX web services are projected as what they are,
    Tomcat instances presenting tomcat whatever tomcat-ECDSA becomes: the pre audit of a
    cluster that becomes row 4 (row 1) gives row 4's (row 1's) outcomes, and the same
    findings on 8444 and 443 as the audit after the upgrade."""
    for before, after in (("pre-upgrade-ca-signed", "row4-upgrade-trap"),
                          ("pre-upgrade-self-signed", "row1-self-signed")):
        pre, post = lab_audit(before), lab_audit(after)
        assert pre.phase == "pre"
        assert _outcomes(pre) == _outcomes(post), before
        assert _on_tomcat_instances(pre) == _on_tomcat_instances(post), before
    # a self-signed tomcat prompts on every instance, CUIC and 443 too, before as after
    assert {("self-signed-tomcat-prompts-agents", host, service) for host in (PUB, SUB)
            for service in ("cuic", "platform")} <= _on_tomcat_instances(
                lab_audit("pre-upgrade-self-signed"))
