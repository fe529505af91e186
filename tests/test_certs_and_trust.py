"""Certificate analysis and the browser-like chain checks."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.certs import analyse, read_certificates
from auditor.collect.trust import TRUSTED, UNTRUSTED, AgentTrust, check_chain
from auditor.common.errors import InputError
from auditor.lab import pki
from auditor.model.certificate import cn_only, covers_host

NOW = dt.datetime.now(dt.timezone.utc)


def test_ec_certificate_signed_by_an_rsa_ca_shows_as_such() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("sm.example", pki.key("t-ec", "ec"), issuer=ca.rsa_issuing)
    facts = analyse(leaf.cert)
    assert (facts.key_type, facts.curve, facts.key_size) == ("ec", "secp256r1", 256)
    assert (facts.signer_key_type, facts.signature_hash) == ("rsa", "sha256")
    assert not facts.self_signed and not facts.is_ca


def test_self_signed_means_the_signature_verifies_with_its_own_key() -> None:
    own = pki.issue("node.example", pki.key("t-self", "ec"))
    assert analyse(own.cert).self_signed
    # same names, but signed by another key: self-issued, not self-signed
    other = pki.key("t-other", "ec")
    name = own.cert.subject
    forged = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
              .public_key(own.key.public_key()).serial_number(7)
              .not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=1))
              .sign(other, hashes.SHA256()))
    facts = analyse(forged)
    assert facts.self_issued and not facts.self_signed


def test_sha1_and_small_rsa_keys_are_reported() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("old.example", pki.key("t-rsa", "rsa"), issuer=ca.rsa_root,
                     hash_name="sha1")
    facts = analyse(leaf.cert)
    assert (facts.key_type, facts.key_size, facts.signature_hash) == ("rsa", 2048, "sha1")


@pytest.mark.parametrize(("san", "host", "covered"), [
    (("uccx1.example.com",), "uccx1.example.com", True),
    (("UCCX1.example.com",), "uccx1.example.com.", True),
    (("*.example.com",), "uccx1.example.com", True),
    (("*.example.com",), "a.b.example.com", False),
    (("*.com",), "example.com", False),
    (("uccx2.example.com",), "uccx1.example.com", False),
])
def test_the_fqdn_must_be_covered_by_a_san(san, host, covered) -> None:
    leaf = pki.issue(san[0], pki.key("t-san", "ec"), san=san)
    assert covers_host(analyse(leaf.cert), host) is covered


def test_cn_without_san_is_not_covered_but_named_in_the_cn() -> None:
    leaf = analyse(pki.issue("uccx1.example.com", pki.key("t-cn", "ec"), san=()).cert)
    assert not covers_host(leaf, "uccx1.example.com")
    assert cn_only(leaf, "uccx1.example.com")
    assert leaf.san_dns == ()


def _trust(*issued: pki.Issued) -> AgentTrust:
    return AgentTrust("test", tuple(i.cert for i in issued))


def test_full_chain_to_a_trusted_root_is_trusted() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("n.example", pki.key("t-leaf", "rsa"), issuer=ca.rsa_issuing)
    check = check_chain([leaf.cert, ca.rsa_issuing.cert], _trust(ca.rsa_root2), "n.example",
                        NOW)
    assert (check.trust, check.order_ok, check.missing_intermediate) == (TRUSTED, True, False)


def test_missing_intermediate_is_detected_and_untrusted() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("n.example", pki.key("t-leaf", "rsa"), issuer=ca.rsa_issuing)
    check = check_chain([leaf.cert], _trust(ca.rsa_root2), "n.example", NOW)
    assert check.missing_intermediate and check.trust == UNTRUSTED
    assert "issuer" in check.reason


def test_chain_out_of_order_is_detected() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("n.example", pki.key("t-leaf", "rsa"), issuer=ca.rsa_issuing)
    check = check_chain([leaf.cert, ca.rsa_root2.cert, ca.rsa_issuing.cert],
                        _trust(ca.rsa_root2), "n.example", NOW)
    assert not check.order_ok and not check.missing_intermediate


def test_self_signed_leaf_is_untrusted_unless_the_agents_trust_holds_it() -> None:
    own = pki.issue("n.example", pki.key("t-self", "ec"))
    assert check_chain([own.cert], _trust(pki.hierarchies().rsa_root), "n.example",
                       NOW).trust == UNTRUSTED
    assert check_chain([own.cert], _trust(own), "n.example", NOW).trust == TRUSTED


def test_expired_leaf_is_untrusted_with_the_reason() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("n.example", pki.key("t-leaf", "rsa"), issuer=ca.rsa_root,
                     not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1))
    check = check_chain([leaf.cert], _trust(ca.rsa_root), "n.example", NOW)
    assert check.trust == UNTRUSTED and "expired" in check.reason


def test_sha1_signed_leaf_is_untrusted_as_browsers_reject_it() -> None:
    ca = pki.hierarchies()
    leaf = pki.issue("n.example", pki.key("t-leaf", "rsa"), issuer=ca.rsa_root,
                     hash_name="sha1")
    check = check_chain([leaf.cert], _trust(ca.rsa_root), "n.example", NOW)
    assert check.trust == UNTRUSTED and "SHA1" in check.reason


def test_a_leaf_without_authority_key_identifier_is_trusted_as_chromium_trusts_it() -> None:
    """The web-PKI profile wants an authorityKeyIdentifier; Chromium does not (the trust
    corpus proves it), so neither does the auditor: trusted, with no reason."""
    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(
        public_exponent=65537, key_size=2048)
    root = (x509.CertificateBuilder().subject_name(name("Root")).issuer_name(name("Root"))
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("n.example")).issuer_name(name("Root"))
            .public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("n.example")]),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    check = check_chain([leaf], AgentTrust("t", (root,)), "n.example", NOW)
    assert (check.trust, check.reason) == (TRUSTED, None)


def test_read_certificates_pem_der_and_garbage(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization

    cert = pki.hierarchies().rsa_root.cert
    pem, der = tmp_path / "a.pem", tmp_path / "a.der"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) * 2)
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    assert len(read_certificates(str(pem))) == 2
    assert read_certificates(str(der)) == [cert]
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(InputError, match=r"bad\.pem: not a valid PEM"):
        read_certificates(str(bad))
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01")
    with pytest.raises(InputError, match=r"junk\.der: neither PEM nor DER"):
        read_certificates(str(junk))


def test_leaf_without_server_auth_usage_is_untrusted_as_browsers_judge_it() -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = pki.hierarchies()
    key = pki.key("t-eku", "rsa")
    leaf = (x509.CertificateBuilder().subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "n.example")]))
        .issuer_name(ca.rsa_root.cert.subject).public_key(key.public_key())
        .serial_number(77).not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("n.example")]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca.rsa_root.key, hashes.SHA256()))
    check = check_chain([leaf], _trust(ca.rsa_root), "n.example", NOW)
    assert check.trust == UNTRUSTED and "server authentication" in check.reason


def test_certificate_with_an_invalid_version_is_a_clear_error(tmp_path) -> None:
    """Found by the property test: cryptography raises InvalidVersion, not ValueError."""
    from cryptography.hazmat.primitives import serialization

    der = bytearray(pki.hierarchies().ec_root.cert.public_bytes(serialization.Encoding.DER))
    marker = der.index(bytes([0xA0, 0x03, 0x02, 0x01, 0x02]))  # [0] EXPLICIT INTEGER 2 (v3)
    der[marker + 4] = 0x01  # v2: no longer valid with extensions
    path = tmp_path / "v2.der"
    path.write_bytes(bytes(der))
    with pytest.raises(InputError, match=r"v2\.der: neither PEM nor DER"):
        read_certificates(str(path))


def _spellings(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """Ways a user or a facts file may write one address: canonical, and the forms a
    browser reads as the same address."""
    if address.version == 6:
        return [str(address), address.exploded, address.exploded.upper(), f"[{address}]"]
    return [str(address), str(int(address)), ".".join(hex(b) for b in address.packed)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=st.ip_addresses(), named=st.booleans(),
       others=st.lists(st.ip_addresses(), max_size=3), spelling=st.integers(0, 3))
def test_an_address_is_named_only_by_an_equal_ip_san(host, named, others, spelling) -> None:
    """A host given by address is matched against the IP address entries of the SAN, in
    canonical form, and never against a DNS name entry or the common name that spell the
    same address; a chain that is trusted stays trusted for it."""
    ca = pki.hierarchies()
    entries = [x509.IPAddress(a) for a in others if a != host]
    entries += [x509.IPAddress(host)] if named else []
    text = _spellings(host)[spelling % len(_spellings(host))]
    leaf = pki.issue(str(host), pki.key("t-address", "ec"), issuer=ca.rsa_root,
                     san=(str(host), host.exploded, "address.example", *entries))
    facts = analyse(leaf.cert)
    assert covers_host(facts, text) is named, (text, facts.san_ip)
    assert not cn_only(facts, text)
    check = check_chain([leaf.cert], _trust(ca.rsa_root), text, NOW, leaf=facts)
    assert check.trust == TRUSTED, check.reason


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "0:0:0:0:0:0:0:1"])
def test_a_node_given_by_its_address_is_trusted_and_named_by_its_ip_san(host) -> None:
    """An inventory may give a node by its address: its certificate, CA-signed for that
    address (an IP address entry in the SAN), is trusted and names the node, so no name
    rule fires and the agents accept it."""
    from audits import OPTIONS, audit_facts, serve_issued

    from auditor.collect.collect import probe_inventory
    from auditor.model.cluster import Inventory, Node

    ca = pki.hierarchies()
    address = ipaddress.ip_address(host)
    leaf = pki.issue(str(address), pki.key("t-by-address", "rsa"), issuer=ca.rsa_issuing,
                     san=(x509.IPAddress(address),))
    with serve_issued(leaf, str(address)) as port:
        inventory = Inventory("by-address", "11.5(1)", (Node(
            host, "uccx-publisher", None,
            {"finesse": port, "notification": port, "cuic": port}, only_listed_ports=True),))
        facts = probe_inventory(inventory, trust=_trust(ca.rsa_root2), options=OPTIONS)
    browser = [h for e in facts.nodes[0].endpoints for h in e.handshakes
               if h.profile == "browser"]
    assert browser and all(h.ok for h in browser)
    assert {(h.chain_check.trust, h.name_covered, h.cn_only) for h in browser} == {
        (TRUSTED, True, False)}, [h.chain_check for h in browser]
    audit = audit_facts(facts, "post")
    fired = {f.rule_id for f in audit.findings}
    assert not fired & {"certificate-does-not-name-node", "fqdn-only-in-common-name",
                        "ca-signed-certificate-not-accepted"}, fired


def test_a_certificate_naming_both_nodes_by_address_is_a_multi_server_san() -> None:
    """The multi-server SAN rules compare the nodes with the SAN the way the name checks
    do: two UCCX nodes given by address, one certificate naming both addresses."""
    from audits import OPTIONS, audit_facts, serve_issued

    from auditor.collect.collect import probe_inventory
    from auditor.model.cluster import Inventory, Node

    ca = pki.hierarchies()
    hosts = ("127.0.0.1", "127.0.0.2")
    leaf = pki.issue("uccx", pki.key("t-two-addresses", "rsa"), issuer=ca.rsa_issuing,
                     san=tuple(x509.IPAddress(ipaddress.ip_address(h)) for h in hosts))
    with serve_issued(leaf, hosts[0]) as first, serve_issued(leaf, hosts[1]) as second:
        inventory = Inventory("two-addresses", "11.5(1)", tuple(
            Node(host, role, None, {"finesse": port}, only_listed_ports=True)
            for host, role, port in zip(hosts, ("uccx-publisher", "uccx-subscriber"),
                                        (first, second), strict=True)))
        facts = probe_inventory(inventory, trust=_trust(ca.rsa_root2), options=OPTIONS)
    fired = {(f.rule_id, f.node) for f in audit_facts(facts, "post").findings}
    assert {("multi-server-san-before-11-6", h) for h in hosts} <= fired, fired
    assert not {r for r, _ in fired} & {"certificate-does-not-name-node",
                                        "fqdn-only-in-common-name"}, fired
