"""External chat (issue 22, item 6): a SocialMiner that declares ``external_chat`` must
present on its web server a chain that leads to a public root (Cisco 118855). The chain is
judged against the audit host's system store when the facts are collected (recorded as
``public_trust``), so that evaluation stays offline; the rule
``external-chat-not-publicly-trusted`` reads it. The "system store" here is always one the
test writes (``SSL_CERT_FILE``), never the machine's own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.inventory import inventory_to_yaml
from auditor.collect.public import judge_publicly
from auditor.collect.trust import AgentTrust
from auditor.lab import Lab, pki
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts, facts_to_json, load_facts
from tests.audits import audit_facts, check_rows
from tests.cli_runner import invoke
from tests.servers import free_port

RULE = "external-chat-not-publicly-trusted"
FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
ALL_FACTS = sorted(FACTS.glob("*.json"))
SCENARIO = "row3-ec-signed-ecdsa"  # SocialMiner's tomcat signed by the lab's RSA root


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(SCENARIO, tmp_path_factory.mktemp("lab")) as running:
        yield running


def _declaring(inventory: Inventory, *, web_port: int | None = None) -> Inventory:
    """The inventory with its SocialMiner declaring external chat (and its web server moved
    to ``web_port`` when given)."""
    nodes = []
    for node in inventory.nodes:
        if node.role == "socialminer":
            ports = dict(node.ports) if web_port is None else {**node.ports, "web": web_port}
            node = replace(node, declared={**node.declared, "external_chat": True},
                           ports=ports)
        nodes.append(node)
    return replace(inventory, nodes=tuple(nodes))


def _audit(lab: Lab, tmp_path: Path, system_roots: bytes, *,
           web_port: int | None = None) -> tuple[dict, dict, Path]:
    """Audit the lab with SocialMiner declaring external chat, the "system store" being
    ``system_roots``: audit.json, facts.json and the output folder."""
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(inventory_to_yaml(_declaring(lab.inventory(), web_port=web_port)))
    store = tmp_path / "system-roots.pem"
    store.write_bytes(system_roots)
    out = tmp_path / "out"
    env = {**os.environ, "SSL_CERT_FILE": str(store)}
    done = invoke("audit", "--inventory", inventory, "--agent-trust", lab.agent_trust_path,
                  "--phase", "post", "--out", out, "--connect-timeout", "3",
                  "--handshake-timeout", "3", env=env)
    assert done.returncode in (0, 1, 3), done.stderr
    return (json.loads((out / "audit.json").read_text()),
            json.loads((out / "facts.json").read_text()), out)


def _sm(_audit: dict, lab: Lab) -> str:
    return next(n.host for n in lab.inventory().nodes if n.role == "socialminer")


def _results(audit: dict, host: str) -> set[str]:
    """What the rule answered for the node's subjects, as audit.json records it."""
    return {c["result"] for c in check_rows(audit) if c["rule_id"] == RULE
            and c["node"] == host}


def test_a_lab_chain_no_public_root_holds_is_a_warning_citing_118855(
        lab: Lab, tmp_path: Path) -> None:
    """The agents trust the lab's root, the public roots do not: the audit warns, in every
    format, naming SocialMiner's web server and 118855."""
    stranger = pki.issue("Public Root That Signed Nothing Here", pki.key("public-x", "rsa"),
                         ca=True)
    audit, facts, out = _audit(lab, tmp_path, _pem(stranger.cert))
    sm = _sm(audit, lab)
    web = next(e for n in facts["nodes"] if n["host"] == sm for e in n["endpoints"]
               if e["service"] == "web")
    assert web["public_trust"]["trust"] == "untrusted"
    # recorded only where external chat is declared
    assert all("public_trust" not in e for n in facts["nodes"] if n["host"] != sm
               for e in n["endpoints"])
    found = [f for f in audit["findings"] if f["rule_id"] == RULE]
    assert [(f["node"], f["severity"]) for f in found] == [(sm, "warning")]
    assert "does not lead to a public root" in found[0]["message"]
    assert audit["verdict"] in ("go_with_actions", "no_go")
    for name in ("report.md", "report.html", "junit.xml"):
        text = (out / name).read_text()
        assert RULE in text and "118855" in text, name


def test_a_chain_whose_root_the_system_store_holds_gives_no_warning(
        lab: Lab, tmp_path: Path) -> None:
    roots = pki.hierarchies()
    audit, facts, _ = _audit(lab, tmp_path, _pem(roots.ec_root.cert, roots.rsa_root.cert,
                                                 roots.rsa_root2.cert))
    sm = _sm(audit, lab)
    web = next(e for n in facts["nodes"] if n["host"] == sm for e in n["endpoints"]
               if e["service"] == "web")
    assert web["public_trust"]["trust"] == "trusted"
    assert not [f for f in audit["findings"] if f["rule_id"] == RULE]
    assert _results(audit, sm) == {"passed"}


def test_external_chat_declared_but_web_not_reached_is_not_seen_never_fine(
        lab: Lab, tmp_path: Path) -> None:
    roots = pki.hierarchies()
    audit, _, _ = _audit(lab, tmp_path, _pem(roots.rsa_root.cert), web_port=free_port())
    sm = _sm(audit, lab)
    assert not [f for f in audit["findings"] if f["rule_id"] == RULE]
    assert _results(audit, sm) == {"not_seen"}
    assert audit["verdict"] != "go"


def test_public_trust_round_trips_and_old_facts_save_as_they_were(tmp_path: Path) -> None:
    """Facts recorded before (no ``public_trust``) save byte for byte as they were; facts
    that carry it pass the schema and load back equal."""
    roots = pki.hierarchies()
    for path in ALL_FACTS:
        text = path.read_text()
        assert "public_trust" not in text
        facts = load_facts(path)
        assert facts_to_json(facts) == text, path.name
        judged = judge_publicly(_declared(facts, {n.host for n in facts.nodes}),
                                AgentTrust("public", (roots.rsa_root.cert,)))
        saved = tmp_path / path.name
        saved.write_text(facts_to_json(judged))
        assert load_facts(saved) == judged, path.name
        if any(e.public_trust is not None for n in judged.nodes for e in n.endpoints):
            assert '"public_trust"' in saved.read_text()


def _declared(facts: Facts, hosts: set[str]) -> Facts:
    return replace(facts, nodes=tuple(
        replace(n, declared={**n.declared, "external_chat": True}) if n.host in hosts else n
        for n in facts.nodes))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_FACTS), data=st.data())
def test_the_rule_fires_exactly_where_a_declaring_node_web_chain_is_not_publicly_trusted(
        path: Path, data: st.DataObject) -> None:
    """Over every recorded cluster, any set of nodes declaring external chat, any public
    store drawn from the certificates the facts hold (or none), and the judgement recorded
    or not: on a SocialMiner that declares it, the rule fires exactly when its web server
    gave a browser a chain that was not found publicly trusted (an unjudged one included);
    where the web server gave none, it is not_seen; elsewhere it passes. Never silently
    fine."""
    facts = load_facts(path)
    hosts = set(data.draw(st.lists(st.sampled_from([n.host for n in facts.nodes]),
                                   unique=True), label="declaring"))
    held = sorted(facts.certificates)
    public_fps = data.draw(st.lists(st.sampled_from(held), unique=True, max_size=4),
                           label="public roots")
    from cryptography import x509

    anchors = tuple(x509.load_pem_x509_certificate(facts.certificates[fp].pem.encode())
                    for fp in public_fps)
    declared = _declared(facts, hosts)
    judged = data.draw(st.booleans(), label="judged at collection")
    if judged:
        declared = judge_publicly(declared, AgentTrust("public", anchors))
    audit = audit_facts(declared, "post")
    fired = {f.node for f in audit.findings if f.rule_id == RULE}
    for node in declared.nodes:
        web = node.endpoint("web")
        hs = web.handshake("browser") if web is not None else None
        seen = hs is not None and hs.ok and facts.certificate(hs.leaf) is not None
        outcomes = {c.result for c in audit.checks
                    if c.rule_id == RULE and c.node == node.host}
        if node.role != "socialminer":
            assert node.host not in fired and outcomes <= {"not_applicable"}
            continue
        public = web.public_trust if web is not None else None
        should_fire = (node.host in hosts and seen
                       and (public is None or public.trust != "trusted"))
        assert (node.host in fired) == should_fire, (node.host, public)
        if not seen:
            assert outcomes <= {"not_seen"}, outcomes
        elif not should_fire:
            assert outcomes == {"passed"}, outcomes
