"""A certificate is self-signed only when its own key verifies it, and CA-signed only when
no key at hand contradicts the CA it names: a signature that does not verify is a state of
its own ("signature does not verify"), an error, and never a working gadget."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from audits import OPTIONS, audit_facts, serve_issued
from cli_runner import invoke
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.certs import analyse
from auditor.collect.collect import probe_inventory
from auditor.collect.observed import classify
from auditor.collect.trust import UNTRUSTED, AgentTrust, check_chain
from auditor.lab import pki
from auditor.model.cluster import Inventory, Node

HOST = "uccx-pub.sig.example"
NOW = dt.datetime.now(dt.timezone.utc)
#: what a certificate whose signature fails may never give a gadget it serves
NEVER = {"works", "prompt_accept_works"}


def _self_issued(kind: str, signer_kind: str | None) -> pki.Issued:
    """A self-issued certificate of ``kind``; ``signer_kind``: signed by another key of
    that kind instead of its own (None: its own, self-signed)."""
    own = pki.issue(HOST, pki.key(f"sig-own-{kind}", kind))
    if signer_kind is None:
        return own
    return pki.signed_by_another_key(own, pki.key(f"sig-other-{signer_kind}", signer_kind))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["rsa", "ec"]),
       signer=st.sampled_from([None, "rsa", "ec"]))
def test_a_self_issued_certificate_is_self_signed_only_when_its_own_key_verifies_it(
        kind: str, signer: str | None) -> None:
    """Whatever key signed a self-issued certificate, and whatever its signature algorithm
    says about that key, it is self-signed when its own key verifies it and
    ``signature_invalid`` otherwise, never RSA- or EC-CA-signed."""
    facts = analyse(_self_issued(kind, signer).cert)
    assert facts.self_issued
    assert classify(facts) == ("self_signed" if signer is None else "signature_invalid")


def test_a_certificate_its_named_ca_did_not_sign_is_found_by_the_chain_check() -> None:
    """A leaf that names the lab's issuing CA, sent with that CA, but signed by another key:
    untrusted, its signature named as the cause (not a missing intermediate); and so for an
    intermediate its root did not sign."""
    ca = pki.hierarchies()
    trust = AgentTrust("test", (ca.rsa_root2.cert,))
    issued = pki.issue(HOST, pki.key("sig-leaf", "rsa"), issuer=ca.rsa_issuing)
    forged = pki.signed_by_another_key(issued, pki.key("sig-forger", "rsa"))
    check = check_chain([forged.cert, *forged.chain], trust, HOST, NOW)
    assert (check.trust, check.missing_intermediate) == (UNTRUSTED, False)
    assert check.leaf_signature_fails and "Lab RSA Issuing CA" in check.reason
    alone = check_chain([forged.cert], trust, HOST, NOW)  # the CA is not sent: not known
    assert not alone.leaf_signature_fails and alone.trust == UNTRUSTED
    bad_ca = pki.signed_by_another_key(ca.rsa_issuing, pki.key("sig-forger", "rsa"))
    under = check_chain([issued.cert, bad_ca.cert], trust, HOST, NOW)
    assert under.trust == UNTRUSTED and not under.leaf_signature_fails
    assert under.bad_signature and under.bad_signature.startswith("certificate 2")
    assert check_chain([issued.cert, *issued.chain], trust, HOST, NOW).bad_signature is None


def _served_audit(tomcat: pki.Issued, ecdsa: pki.Issued, anchors: tuple) -> tuple:
    """Probe one UCCX publisher whose Finesse and notification ports present ``tomcat`` and
    whose Live Data port presents ``ecdsa``, and audit it (post, 11.5)."""
    with serve_issued(tomcat) as rsa_port, serve_issued(ecdsa) as ec_port:
        inventory = Inventory("signatures", "11.5(1)", (Node(
            HOST, "uccx-publisher", "127.0.0.1",
            {"finesse": rsa_port, "notification": rsa_port, "live_data": ec_port},
            only_listed_ports=True),))
        facts = probe_inventory(inventory, trust=AgentTrust("file:agents.pem", anchors),
                                options=OPTIONS)
    return facts, audit_facts(facts, "post")


@pytest.mark.parametrize("trusted_itself", [False, True])
@pytest.mark.parametrize("signer", ["ec", "rsa"])
def test_a_self_issued_tomcat_ecdsa_its_key_does_not_verify_is_never_a_working_prompt(
        signer: str, trusted_itself: bool) -> None:
    """FAQ row 4's shape, but tomcat-ECDSA is self-issued and another key signed it: not
    self-signed (so no "accepting works" row applies) and not CA-signed (an RSA signature
    algorithm made it "RSA-CA-signed" before). Even when the agents trust that very
    certificate, the gadgets it serves are not known to work."""
    ca = pki.hierarchies()
    tomcat = pki.issue(HOST, pki.key("sig-tomcat", "rsa"), issuer=ca.rsa_issuing)
    ecdsa = _self_issued("ec", signer)
    anchors = (ca.rsa_root2.cert, *((ecdsa.cert,) if trusted_itself else ()))
    facts, audit = _served_audit(tomcat, ecdsa, anchors)
    node = facts.nodes[0]
    assert (node.tomcat.state, node.tomcat_ecdsa.state) == ("rsa_ca_signed",
                                                            "signature_invalid")
    errors = {f.rule_id for f in audit.findings if f.severity == "error"}
    assert "certificate-signature-does-not-verify" in errors, audit.findings
    assert audit.nodes[0].gadgets["live_data"].outcome not in NEVER
    assert audit.verdict == "no_go"


def test_a_tomcat_its_named_ca_did_not_sign_is_an_error_not_a_prompt() -> None:
    """A tomcat certificate that names the issuing CA it is sent with, but another key
    signed: "signature does not verify", an error; Finesse is not "prompt, accepting
    works" as for a CA-signed certificate the agents lack the root of."""
    ca = pki.hierarchies()
    issued = pki.issue(HOST, pki.key("sig-tomcat", "rsa"), issuer=ca.rsa_issuing)
    forged = pki.signed_by_another_key(issued, pki.key("sig-forger", "rsa"))
    ecdsa = pki.issue(HOST, pki.key("sig-ecdsa", "ec"), issuer=ca.ec_root)
    facts, audit = _served_audit(forged, ecdsa, tuple(r.cert for r in ca.roots))
    assert facts.nodes[0].tomcat.state == "signature_invalid"
    fired = {f.rule_id: f for f in audit.findings}
    assert fired["certificate-signature-does-not-verify"].severity == "error"
    assert "ca-signed-certificate-not-accepted" not in fired
    assert audit.nodes[0].gadgets["finesse_desktop"].outcome not in NEVER
    assert audit.verdict == "no_go"


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_a_downloaded_tomcat_ecdsa_its_key_does_not_verify_stops_the_offline_audit(
        tmp_path) -> None:
    """Offline, no port is known to present such a certificate: the keystore itself is the
    finding, and no gadget tomcat-ECDSA decides (Live Data) is known to work; the Finesse
    desktop, whose endpoints present tomcat, is judged from tomcat."""
    ca = pki.hierarchies()
    folder = tmp_path / "downloads" / HOST
    folder.mkdir(parents=True)
    tomcat = pki.issue(HOST, pki.key("sig-tomcat", "rsa"), issuer=ca.rsa_issuing)
    (folder / "tomcat.pem").write_bytes(_pem(tomcat.cert))
    (folder / "tomcat-ECDSA.pem").write_bytes(_pem(_self_issued("ec", "rsa").cert))
    (folder / "tomcat-trust-issuing.pem").write_bytes(_pem(ca.rsa_issuing.cert))
    (tmp_path / "agents.pem").write_bytes(_pem(*(r.cert for r in ca.roots)))
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(f'cluster: sig\nversion: "11.5(1)"\nnodes:\n'
                         f'  - host: {HOST}\n    role: uccx-publisher\n')
    out = tmp_path / "out"
    done = invoke("audit", "--inventory", inventory, "--from-pem", tmp_path / "downloads",
                  "--phase", "post", "--agent-trust", tmp_path / "agents.pem", "--out", out)
    assert done.returncode == 1, done.stderr
    audit = json.loads((out / "audit.json").read_text())
    assert audit["verdict"] == "no_go"
    assert audit["nodes"][0]["tomcat_ecdsa"] == "signature_invalid"
    assert "keystore-certificate-signature-does-not-verify" in {
        f["rule_id"] for f in audit["findings"] if f["severity"] == "error"}
    assert audit["nodes"][0]["gadgets"]["live_data"]["outcome"] not in NEVER


def test_check_cert_does_not_pass_a_self_issued_certificate_its_key_does_not_verify(
        tmp_path) -> None:
    path = tmp_path / "returned.pem"
    path.write_bytes(_pem(_self_issued("ec", "ec").cert))
    done = invoke("check-cert", path, "--purpose", "tomcat-ECDSA", "--host", HOST)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "signature" in done.stdout and "OK: it will work" not in done.stdout
