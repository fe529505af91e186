"""For every lab scenario: the exact leaf each profile received on each port, and the
derived tomcat / tomcat-ECDSA state of every node."""

from __future__ import annotations

import pytest

from auditor.collect.certs import fingerprint
from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.lab import SCENARIOS, Lab
from auditor.model.facts import PROFILES, Facts


def _probe(lab: Lab) -> Facts:
    return probe_inventory(load_inventory(lab.inventory_path),
                           trust=load_agent_trust(str(lab.agent_trust_path)),
                           options=ProbeOptions(connect_timeout=3, handshake_timeout=3))


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def probed(request: pytest.FixtureRequest):
    with Lab(request.param, all_ports=True) as lab:
        inventory = load_inventory(lab.inventory_path)
        facts = probe_inventory(inventory, trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3),
                                all_ports=True)
        yield lab, facts


def test_each_profile_receives_the_leaf_the_scenario_presents(probed) -> None:
    lab, facts = probed
    assert len(lab.endpoints) == sum(len(n.endpoints) for n in facts.nodes)
    for expected in lab.endpoints:
        endpoint = next(e for e in facts.node(expected.host).endpoints
                        if e.port == expected.port)
        assert endpoint.service == expected.service
        for profile in PROFILES:
            hs = endpoint.handshake(profile)
            want = expected.expected_leaf(profile)
            if want is None:
                assert not hs.ok and hs.error.kind == "tls_alert", (expected.service, profile)
            else:
                assert hs.ok, (expected.service, profile, hs.error)
                assert hs.chain[0] == want, (expected.host, expected.service, profile)


def test_derived_states_of_every_node(probed) -> None:
    lab, facts = probed
    got = {n.host: {"tomcat": n.tomcat.state, "tomcat_ecdsa": n.tomcat_ecdsa.state}
           for n in facts.nodes}
    assert got == lab.expected_states()


def test_chain_as_sent_is_recorded_in_order(probed) -> None:
    lab, facts = probed
    for expected in lab.endpoints:
        endpoint = next(e for e in facts.node(expected.host).endpoints
                        if e.port == expected.port)
        rsa = endpoint.handshake("rsa_only")
        sent = [fingerprint(expected.rsa.cert), *(fingerprint(c)
                                                  for c in expected.rsa_sent_chain)]
        assert list(rsa.chain) == sent


# The four FAQ rows spelled out, independent of the lab's own model of docs/domain.md's table.
ROWS = {
    "row1-self-signed": ("self_signed", "self_signed", "self_signed"),
    "row2-rsa-signed-ecdsa": ("rsa_ca_signed", "not_presented", "rsa_ca_signed"),
    "row3-ec-signed-ecdsa": ("rsa_ca_signed", "ec_ca_signed", "ec_ca_signed"),
    "row4-upgrade-trap": ("rsa_ca_signed", "self_signed", "self_signed"),
}


@pytest.mark.parametrize("scenario", sorted(ROWS))
def test_faq_rows_as_domain_md_states_them(scenario: str) -> None:
    tomcat, uccx_ecdsa, sm_ecdsa = ROWS[scenario]
    with Lab(scenario) as lab:
        facts = _probe(lab)
    for node in facts.nodes:
        assert node.tomcat.state == tomcat
        want = sm_ecdsa if node.role == "socialminer" else uccx_ecdsa
        assert node.tomcat_ecdsa.state == want, node.host
        browser_leaf = facts.certificate(
            node.endpoint("live_data" if node.role != "socialminer" else "notification")
            .handshake("browser").leaf)
        # the browser gets the ECDSA certificate wherever the server offers one
        assert browser_leaf.key_type == ("ec" if want != "not_presented" else "rsa")
        assert node.endpoint("finesse" if node.role != "socialminer" else "web") \
            .handshake("browser").leaf == node.tomcat.leaf


def test_rsa_signed_ecdsa_on_socialminer_shows_an_ec_key_signed_with_rsa() -> None:
    with Lab("row2-rsa-signed-ecdsa") as lab:
        facts = _probe(lab)
    sm = next(n for n in facts.nodes if n.role == "socialminer")
    leaf = facts.certificate(sm.tomcat_ecdsa.leaf)
    assert (leaf.key_type, leaf.signer_key_type, leaf.self_signed) == ("ec", "rsa", False)


@pytest.mark.parametrize("max_tls", ["1.2", "1.3"])
def test_tls12_only_servers_are_steered_by_cipher_suites(max_tls: str) -> None:
    with Lab("mixed-cluster", max_tls=max_tls) as lab:
        facts = _probe(lab)
        for expected in lab.endpoints:
            endpoint = next(e for e in facts.node(expected.host).endpoints
                            if e.port == expected.port)
            for profile in PROFILES:
                hs = endpoint.handshake(profile)
                assert hs.leaf == expected.expected_leaf(profile)
                if hs.ok:
                    assert hs.tls_version == f"TLSv{max_tls}"


def test_fallback_method_without_sigalgs_sees_both_certificates(monkeypatch) -> None:
    from auditor.collect import prober
    monkeypatch.setattr(prober, "sigalgs_supported", lambda: False)
    with Lab("row4-upgrade-trap") as lab:
        facts = _probe(lab)
        live = next(e for e in lab.endpoints if e.service == "live_data")
        endpoint = next(e for e in facts.node(live.host).endpoints if e.port == live.port)
    assert {h.method for h in endpoint.handshakes} == {"tls12_ciphers"}
    assert endpoint.handshake("ecdsa_only").leaf == live.expected_leaf("ecdsa_only")
    assert endpoint.handshake("rsa_only").leaf == live.expected_leaf("rsa_only")
    assert endpoint.handshake("rsa_only").tls_version == "TLSv1.2"
    assert facts.settings.sigalgs_method == "tls12_ciphers"


def test_unreachable_node_has_unknown_states_not_not_presented(tmp_path) -> None:
    inventory = tmp_path / "inv.yaml"
    from servers import free_port
    port = free_port()
    inventory.write_text(
        'cluster: x\nversion: "11.5(1)"\nnodes:\n  - host: gone.example\n'
        f"    address: 127.0.0.1\n    role: uccx-publisher\n"
        f"    ports: {{finesse: {port}, live_data: {port}, notification: {port}}}\n")
    facts = probe_inventory(load_inventory(inventory), trust=load_agent_trust(None),
                            options=ProbeOptions(connect_timeout=1, handshake_timeout=1))
    node = facts.nodes[0]
    assert (node.tomcat.state, node.tomcat_ecdsa.state) == ("unknown", "unknown")
    assert all(e.error.kind == "refused" for e in node.endpoints)


def test_declared_state_fills_what_the_network_cannot_show(tmp_path) -> None:
    with Lab("row2-rsa-signed-ecdsa") as lab:
        text = lab.inventory_path.read_text().replace(
            "role: uccx-publisher", "role: uccx-publisher\n    declared: "
            "{tomcat_ecdsa: rsa_ca_signed}")
        inventory = tmp_path / "inv.yaml"
        inventory.write_text(text)
        facts = probe_inventory(load_inventory(inventory),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions())
    pub = facts.nodes[0]
    assert (pub.tomcat_ecdsa.state, pub.tomcat_ecdsa.source) == ("rsa_ca_signed", "declared")
    sub = facts.nodes[1]
    assert (sub.tomcat_ecdsa.state, sub.tomcat_ecdsa.source) == ("not_presented", "observed")
