"""The facts file: schema-valid, lossless, deterministic, atomic, and clear when broken."""

from __future__ import annotations

import json
import os

import jsonschema_rs
import pytest

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.resources import schema_path
from auditor.lab import Lab
from auditor.model.facts import facts_to_json, load_facts, save_facts


@pytest.fixture(scope="module")
def facts():
    with Lab("mixed-cluster", all_ports=True) as lab:
        yield probe_inventory(load_inventory(lab.inventory_path),
                              trust=load_agent_trust(str(lab.agent_trust_path)),
                              options=ProbeOptions(), all_ports=True)


def test_facts_validate_against_the_committed_schema(facts) -> None:
    schema = json.loads(schema_path("facts").read_text())
    jsonschema_rs.meta.validate(schema)
    jsonschema_rs.validate(schema, json.loads(facts_to_json(facts)))


def test_round_trip_is_lossless(facts, tmp_path) -> None:
    path = save_facts(facts, tmp_path / "facts.json")
    assert load_facts(path) == facts
    assert facts_to_json(load_facts(path)) == path.read_text()


def test_every_certificate_seen_is_inside_with_its_pem(facts) -> None:
    seen = {fp for n in facts.nodes for e in n.endpoints for h in e.handshakes
            for fp in h.chain}
    assert seen <= set(facts.certificates)
    for fp in seen:
        assert facts.certificates[fp].pem.startswith("-----BEGIN CERTIFICATE-----")
    # the agents' trust anchors given as a file travel with the facts too
    assert set(facts.agent_trust.anchors) <= set(facts.certificates)


def test_output_is_deterministic(facts) -> None:
    text = facts_to_json(facts)
    assert text == facts_to_json(facts)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["certificates"]) == sorted(data["certificates"])
    for node in data["nodes"]:
        ports = [e["port"] for e in node["endpoints"]]
        assert ports == sorted(ports)
        for endpoint in node["endpoints"]:
            assert [h["profile"] for h in endpoint["handshakes"]] == [
                "browser", "ecdsa_only", "rsa_only"]


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "facts.json"
    target.write_text("old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["facts.json"]


def test_broken_json_names_the_line(tmp_path) -> None:
    path = tmp_path / "facts.json"
    path.write_text('{\n  "schema_version": 1,\n  oops\n}\n')
    with pytest.raises(InputError, match=r"facts\.json:3: invalid JSON"):
        load_facts(path)


def test_schema_violation_names_the_field(facts, tmp_path) -> None:
    data = json.loads(facts_to_json(facts))
    data["nodes"][1]["tomcat_ecdsa"]["state"] = "signed-somehow"
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_facts(path)
    assert "nodes[1].tomcat_ecdsa.state: 'signed-somehow' is not allowed" in str(caught.value)
    assert "ec_ca_signed" in str(caught.value)


def test_future_schema_version_is_refused_clearly(facts, tmp_path) -> None:
    data = json.loads(facts_to_json(facts))
    data["schema_version"] = 99
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="schema_version: 99 is not supported"):
        load_facts(path)


def test_each_chain_is_checked_once_per_host_with_the_verdict_of_a_fresh_check(
        monkeypatch) -> None:
    from auditor.collect import observed as facts_module
    from auditor.collect.certs import fingerprint, load_certificate
    from auditor.collect.trust import check_chain
    from auditor.model.certificate import parse_time

    calls = []

    def counting(chain, trust, host, at, **kwargs):
        calls.append((tuple(fingerprint(c) for c in chain), host))
        return check_chain(chain, trust, host, at, **kwargs)

    monkeypatch.setattr(facts_module, "check_chain", counting)
    with Lab("row3-ec-signed-ecdsa", all_ports=True) as lab:
        trust = load_agent_trust(str(lab.agent_trust_path))
        probed = probe_inventory(load_inventory(lab.inventory_path), trust=trust,
                                 options=ProbeOptions(), all_ports=True)
    handshakes = [(n.host, h) for n in probed.nodes for e in n.endpoints for h in e.handshakes
                  if h.ok]
    assert len(calls) == len(set(calls)) < len(handshakes)
    at = parse_time(probed.observed_at)
    for host, handshake in handshakes:
        chain = [load_certificate(probed.certificates[fp].pem) for fp in handshake.chain]
        fresh = check_chain(chain, trust, host, at)
        assert handshake.chain_check == fresh
