"""`uccx-audit check-cert`: what the CA returned, judged before anyone uploads it."""

from __future__ import annotations

import pytest
from cli_runner import Result, invoke
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from auditor.collect.checkcert import FAIL, PASS
from auditor.lab import pki
from auditor.pipeline.check_cert import check_cert as check_certificate

HOST = "uccx1.example.com"


def _csr(key) -> x509.CertificateSigningRequest:
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256()))


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory):
    ca = pki.hierarchies()
    folder = tmp_path_factory.mktemp("certs")
    ec_key = pki.key("checkcert-node", "ec")
    other_key = pki.key("checkcert-other", "ec")

    def write(name: str, *certs) -> str:
        path = folder / name
        path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        return str(path)

    csr = folder / "node.csr"
    csr.write_bytes(_csr(ec_key).public_bytes(serialization.Encoding.PEM))
    ec_signed = pki.issue(HOST, ec_key, issuer=ca.ec_root)
    rsa_signed = pki.issue(HOST, ec_key, issuer=ca.rsa_issuing)
    other = pki.issue(HOST, other_key, issuer=ca.ec_root)
    wrong_name = pki.issue("uccx9.example.com", ec_key, issuer=ca.ec_root)
    tomcat = pki.issue(HOST, pki.key("checkcert-rsa", "rsa"), issuer=ca.rsa_root2)
    return {
        "tomcat": write("tomcat.pem", tomcat.cert, ca.rsa_root2.cert),
        "csr": str(csr),
        "ec_root": write("ec-root.pem", ca.ec_root.cert),
        "rsa_root": write("rsa-root.pem", ca.rsa_root2.cert),
        "ec_signed": write("ec-signed.pem", ec_signed.cert),
        "rsa_signed": write("rsa-signed.pem", rsa_signed.cert, ca.rsa_issuing.cert),
        "rsa_signed_alone": write("rsa-signed-alone.pem", rsa_signed.cert),
        "other": write("other.pem", other.cert),
        "wrong_name": write("wrong-name.pem", wrong_name.cert),
    }


def check(*args: str) -> Result:
    return invoke("check-cert", *args)


def test_ec_signed_certificate_for_the_right_csr_passes(pem_files) -> None:
    done = check(pem_files["ec_signed"], "--purpose", "tomcat-ECDSA", "--csr",
                 pem_files["csr"], "--chain", pem_files["ec_root"], "--host", HOST,
                 "--tomcat", pem_files["tomcat"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and done.stdout.rstrip().endswith("OK to upload")
    assert "PASS  csr" in done.stdout and "PASS  signer    signed with ECDSA" in done.stdout
    assert "Lab EC Root CA" in done.stdout and "(root," in done.stdout
    assert "Live Data gadget: works" in done.stdout


def test_rsa_signed_ecdsa_certificate_fails_with_its_reason(pem_files) -> None:
    done = check(pem_files["rsa_signed"], "--purpose", "tomcat-ECDSA", "--csr",
                 pem_files["csr"], "--chain", pem_files["rsa_root"], "--host", HOST,
                 "--tomcat", pem_files["tomcat"])
    # UCCX does not present it (FAQ row 2): the rule is a notice, so check-cert's too;
    # the upload check warns that it is not what Cisco recommends
    assert done.returncode == 0, done.stdout
    assert done.stdout.rstrip().endswith("OK with warnings: it will work; read the warnings "
                                         "above")
    assert "WARN  signer    signed with RSA" in done.stdout
    assert "NOTE  " in done.stdout and "UCCX does not present such a certificate" in done.stdout
    assert "(rule uccx-does-not-present-rsa-signed-tomcat-ecdsa)" in done.stdout
    assert "Lab RSA Issuing CA" in done.stdout and "(intermediate," in done.stdout
    on_sm = check(pem_files["rsa_signed"], "--purpose", "tomcat-ECDSA", "--chain",
                  pem_files["rsa_root"], "--host", HOST, "--role", "socialminer")
    assert on_sm.returncode == 1
    assert "CSCvb58580" in on_sm.stdout
    assert "(rule rsa-signed-tomcat-ecdsa-breaks-socialminer)" in on_sm.stdout
    assert "chat/email gadget: BROKEN" in on_sm.stdout


def test_certificate_for_another_key_fails(pem_files) -> None:
    done = check(pem_files["other"], "--purpose", "tomcat-ECDSA", "--csr", pem_files["csr"],
                 "--chain", pem_files["ec_root"], "--host", HOST)
    assert done.returncode == 1
    assert "FAIL  csr       the certificate is for another key than the CSR" in done.stdout


def test_missing_intermediate_fails(pem_files) -> None:
    done = check(pem_files["rsa_signed_alone"], "--purpose", "tomcat-ECDSA", "--chain",
                 pem_files["rsa_root"], "--host", HOST)
    assert done.returncode == 1
    assert "FAIL  chain     the chain stops at CN=Lab RSA Issuing CA" in done.stdout


def test_san_mismatch_fails(pem_files) -> None:
    done = check(pem_files["wrong_name"], "--purpose", "tomcat-ECDSA", "--chain",
                 pem_files["ec_root"], "--host", HOST)
    assert done.returncode == 1
    assert "FAIL  " in done.stdout and "(rule certificate-does-not-name-node)" in done.stdout


def test_wrong_key_type_for_the_purpose_fails(pem_files) -> None:
    done = check(pem_files["ec_signed"], "--purpose", "tomcat", "--chain",
                 pem_files["ec_root"], "--host", HOST)
    assert done.returncode == 1 and "tomcat needs an RSA key" in done.stdout


def test_sha1_and_expiry_are_checked() -> None:
    import datetime as dt

    ca = pki.hierarchies()
    now = dt.datetime.now(dt.timezone.utc)
    old = pki.issue(HOST, pki.key("checkcert-rsa", "rsa"), issuer=ca.rsa_root,
                    hash_name="sha1", not_before=now - dt.timedelta(days=100),
                    not_after=now + dt.timedelta(days=10))
    verdict = check_certificate([old.cert], "tomcat", chain=[ca.rsa_root.cert], host=HOST)
    assert _status(verdict, "certificate-sha1-signature") == FAIL
    assert _status(verdict, "certificate-expires-soon") == "warn"
    assert _status(verdict, "key") == PASS
    assert not verdict.ok


def test_bad_input_files_are_clear_errors(tmp_path, pem_files) -> None:
    junk = tmp_path / "junk.csr"
    junk.write_text("hello")
    done = check(pem_files["ec_signed"], "--purpose", "tomcat-ECDSA", "--csr", str(junk))
    assert done.returncode == 2 and "junk.csr: not a certificate signing request" in done.stderr
    done = check(str(tmp_path / "missing.pem"), "--purpose", "tomcat-ECDSA")
    assert done.returncode == 2 and "missing.pem: file not found" in done.stderr
    assert check(pem_files["ec_signed"], "--purpose", "tomcat-RSA").returncode == 2


# --- the upload checks VOS makes, and the same severities as the rule files -------------

def _signed(key, issuer, *, san: tuple[str, ...] | None = None, eku=None,
            hash_name: str = "sha256", self_signed: bool = False) -> x509.Certificate:
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    signer = key if self_signed else issuer.key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(name if self_signed else issuer.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=365))
               .add_extension(x509.SubjectAlternativeName(
                   [x509.DNSName(n) for n in (san or (HOST,))]), critical=False))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    # cryptography no longer signs with SHA-1: the lab re-signs through pyOpenSSL
    return pki._resign_sha1(cert, signer) if hash_name == "sha1" else cert


def _status(verdict, name: str) -> str | None:
    """An upload check's status by its name, or a rule's by its id (error: fail,
    warning: warn, notice: note); None: no such check, or the rule did not fire."""
    marks = {"error": FAIL, "warning": "warn", "notice": "note"}
    return next((c.status for c in verdict.case.checks if c.name == name),
                next((marks[f.severity] for f in verdict.findings if f.rule_id == name), None))


def test_a_certificate_whose_sans_differ_from_the_csr_fails_with_the_vos_message() -> None:
    from auditor.collect.checkcert import VOS_SAN_MISMATCH
    ca = pki.hierarchies()
    key = pki.key("checkcert-node", "ec")
    cert = _signed(key, ca.ec_root, san=(HOST, "extra.example.com"))
    verdict = check_certificate([cert], "tomcat-ECDSA", csr=_csr(key), chain=[ca.ec_root.cert],
                                host=HOST)
    check = next(c for c in verdict.case.checks if c.name == "csr-san")
    assert check.status == FAIL and not verdict.ok
    assert VOS_SAN_MISMATCH == "CSR SAN and Certificate SAN does not match"
    assert VOS_SAN_MISMATCH in check.message and "extra.example.com" in check.message
    same = check_certificate([_signed(key, ca.ec_root)], "tomcat-ECDSA", csr=_csr(key),
                             chain=[ca.ec_root.cert], host=HOST)
    assert _status(same, "csr-san") == PASS


def test_the_cli_refuses_a_san_mismatch_with_the_vos_message(tmp_path) -> None:
    ca = pki.hierarchies()
    key = pki.key("checkcert-node", "ec")
    cert = tmp_path / "signed.pem"
    cert.write_bytes(_signed(key, ca.ec_root, san=("uccx9.example.com", HOST))
                     .public_bytes(serialization.Encoding.PEM))
    csr = tmp_path / "node.csr"
    csr.write_bytes(_csr(key).public_bytes(serialization.Encoding.PEM))
    root = tmp_path / "root.pem"
    root.write_bytes(ca.ec_root.cert.public_bytes(serialization.Encoding.PEM))
    done = check(str(cert), "--purpose", "tomcat-ECDSA", "--csr", str(csr), "--chain",
                 str(root), "--host", HOST)
    assert done.returncode == 1
    assert "CSR SAN and Certificate SAN does not match" in done.stdout


def test_a_certificate_without_server_auth_in_its_extended_key_usage_fails() -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID
    ca = pki.hierarchies()
    key = pki.key("checkcert-node", "ec")
    client_only = _signed(key, ca.ec_root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    verdict = check_certificate([client_only], "tomcat-ECDSA", chain=[ca.ec_root.cert],
                                host=HOST)
    assert _status(verdict, "eku") == FAIL and not verdict.ok
    assert "serverAuth" in next(c.message for c in verdict.case.checks if c.name == "eku")
    server = _signed(key, ca.ec_root, eku=[ExtendedKeyUsageOID.SERVER_AUTH,
                                           ExtendedKeyUsageOID.CLIENT_AUTH])
    assert _status(check_certificate([server], "tomcat-ECDSA", chain=[ca.ec_root.cert],
                                     host=HOST), "eku") == PASS


@pytest.mark.parametrize("role", ["uccx-publisher", "socialminer"])
def test_check_cert_takes_the_severity_and_scope_of_the_rule_files(role: str) -> None:
    """RSA below 2048, SHA-1 on a CA-signed (not a self-signed) certificate, wildcard on
    Finesse: the rule files judge them, so check-cert says fail where the rule is an
    error, warn where it is a warning, and nothing where the rule does not apply."""
    from auditor.collect.checkcert import WARN
    from auditor.evaluate.ruleset import load_ruleset
    rules = load_ruleset()
    status_of = {"error": FAIL, "warning": WARN}
    ca = pki.hierarchies()

    def expected(rule_id: str, purpose: str) -> str | None:
        rule = rules.rule(rule_id)
        services = {"tomcat": {"uccx-publisher": {"finesse", "notification"},
                               "socialminer": {"web"}},
                    "tomcat-ECDSA": {"uccx-publisher": {"live_data"},
                                     "socialminer": {"notification"}}}[purpose][role]
        if role not in rule.roles or (rule.services and not services & set(rule.services)):
            return None
        return status_of[rule.severity]

    # a 1024-bit RSA tomcat
    from cryptography.hazmat.primitives.asymmetric import rsa
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    verdict = check_certificate([_signed(small, ca.rsa_root2)], "tomcat",
                                chain=[ca.rsa_root2.cert], host=HOST, role=role)
    size = "certificate-rsa-key-below-2048"
    assert _status(verdict, size) == expected(size, "tomcat") == WARN
    # SHA-1 on a CA-signed certificate; a self-signed one's own signature is not judged
    rsa_key = pki.key("checkcert-rsa", "rsa")
    verdict = check_certificate([_signed(rsa_key, ca.rsa_root2, hash_name="sha1")], "tomcat",
                                chain=[ca.rsa_root2.cert], host=HOST, role=role)
    sha1 = "certificate-sha1-signature"
    assert _status(verdict, sha1) == expected(sha1, "tomcat") == FAIL
    self_sha1 = check_certificate([_signed(rsa_key, None, hash_name="sha1",
                                           self_signed=True)], "tomcat", host=HOST, role=role)
    assert _status(self_sha1, sha1) is None
    # a wildcard: a warning on Finesse's tomcat (unverified), nothing elsewhere
    wildcard = "wildcard-certificate-on-finesse"
    for purpose, key in (("tomcat", rsa_key), ("tomcat-ECDSA", pki.key("checkcert-node",
                                                                        "ec"))):
        issuer = ca.rsa_root2 if purpose == "tomcat" else ca.ec_root
        cert = _signed(key, issuer, san=("*.example.com",))
        verdict = check_certificate([cert], purpose, chain=[issuer.cert], role=role)
        assert _status(verdict, wildcard) == expected(wildcard, purpose)
    assert expected(wildcard, "tomcat") == (WARN if role == "uccx-publisher" else None)


@pytest.mark.parametrize("usage", ["key_cert_sign", "key_encipherment"])
def test_a_key_usage_browsers_refuse_is_not_ok(tmp_path, usage: str) -> None:
    """Chromium refuses an RSA leaf whose keyUsage lacks digitalSignature
    (ERR_SSL_KEY_USAGE_INCOMPATIBLE; tests/test_trust_corpus.py), so check-cert does."""
    from trust_corpus import intermediate, leaf, root

    anchor = root()
    issuing = intermediate(anchor)
    signed = leaf(issuing, usage=(usage,))
    path, chain = tmp_path / "signed.pem", tmp_path / "chain.pem"
    path.write_bytes(signed.cert.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                               for c in (issuing.cert, anchor.cert)))
    done = check(str(path), "--purpose", "tomcat", "--chain", str(chain),
                 "--host", "node.corpus.example")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  browsers" in done.stdout and "digitalSignature" in done.stdout
    assert "NOT OK" in done.stdout and "OK: it will work" not in done.stdout
