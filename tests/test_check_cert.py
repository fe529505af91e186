"""`uccx-audit check-cert`: what the CA returned, judged before anyone uploads it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from auditor.checkcert import FAIL, PASS, check_certificate
from auditor.lab import pki

HOST = "uccx1.example.com"


def _csr(key) -> x509.CertificateSigningRequest:
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
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
    return {
        "csr": str(csr),
        "ec_root": write("ec-root.pem", ca.ec_root.cert),
        "rsa_root": write("rsa-root.pem", ca.rsa_root2.cert),
        "ec_signed": write("ec-signed.pem", ec_signed.cert),
        "rsa_signed": write("rsa-signed.pem", rsa_signed.cert, ca.rsa_issuing.cert),
        "rsa_signed_alone": write("rsa-signed-alone.pem", rsa_signed.cert),
        "other": write("other.pem", other.cert),
        "wrong_name": write("wrong-name.pem", wrong_name.cert),
    }


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", "check-cert", *args],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_ec_signed_certificate_for_the_right_csr_passes(pem_files) -> None:
    done = check(pem_files["ec_signed"], "--purpose", "tomcat-ECDSA", "--csr",
                 pem_files["csr"], "--chain", pem_files["ec_root"], "--host", HOST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert "PASS  csr" in done.stdout and "PASS  signer    signed with ECDSA" in done.stdout
    assert "Lab EC Root CA" in done.stdout and "(root," in done.stdout
    assert "Live Data gadget: works" in done.stdout


def test_rsa_signed_ecdsa_certificate_fails_with_its_reason(pem_files) -> None:
    done = check(pem_files["rsa_signed"], "--purpose", "tomcat-ECDSA", "--csr",
                 pem_files["csr"], "--chain", pem_files["rsa_root"], "--host", HOST)
    assert done.returncode == 1
    assert "FAIL  signer    signed with RSA" in done.stdout
    assert "UCCX will not present it" in done.stdout and "CSCvb58580" in done.stdout
    assert "Lab RSA Issuing CA" in done.stdout and "(intermediate," in done.stdout
    on_sm = check(pem_files["rsa_signed"], "--purpose", "tomcat-ECDSA", "--chain",
                  pem_files["rsa_root"], "--host", HOST, "--role", "socialminer")
    assert on_sm.returncode == 1
    assert "chat/email gadget: broken" in on_sm.stdout


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
    assert f"FAIL  san       no subject alternative name covers {HOST}" in done.stdout


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
    status = {c.name: c.status for c in verdict.checks}
    assert status["hash"] == FAIL and status["validity"] == "warn" and status["key"] == PASS
    assert not verdict.ok


def test_bad_input_files_are_clear_errors(tmp_path, pem_files) -> None:
    junk = tmp_path / "junk.csr"
    junk.write_text("hello")
    done = check(pem_files["ec_signed"], "--purpose", "tomcat-ECDSA", "--csr", str(junk))
    assert done.returncode == 2 and "junk.csr: not a certificate signing request" in done.stderr
    done = check(str(tmp_path / "missing.pem"), "--purpose", "tomcat-ECDSA")
    assert done.returncode == 2 and "missing.pem: file not found" in done.stderr
    assert check(pem_files["ec_signed"], "--purpose", "tomcat-RSA").returncode == 2


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
