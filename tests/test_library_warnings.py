"""What libraries say never reaches stderr: a certificate that makes cryptography warn
(a serial number that is not positive) is audited, checked and read as agents' trust with
every warning shown (PYTHONWARNINGS=default), and stderr carries none of it; what the
warning says about the certificate is in the evidence instead."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from audits import serve_issued
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from servers import resign

from auditor.lab import pki

HOST = "neg.lab.example"
#: what Python prints for a warning, and what cryptography says about such a serial
WARNING_TEXT = ("Warning", "serial number which wasn't positive", "RFC 5280")


def _negative_serial(host: str, issuer: pki.Issued | None, label: str,
                     kind: str = "ec") -> pki.Issued:
    """A certificate whose serial number is negative (cryptography's builder refuses one,
    so the DER is edited and signed again)."""
    key = pki.key(label, kind)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    signer = issuer.key if issuer else key
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer.cert.subject if issuer else name).public_key(key.public_key())
            .serial_number(0x5A5B5C5D5E).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(signer, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    serial = bytes.fromhex("02055a5b5c5d5e")
    assert der.count(serial) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test's own reading of it
        edited = resign(der.replace(serial, bytes.fromhex("0205fa5b5c5d5e")), signer)
        assert edited.serial_number < 0
    return pki.Issued(edited, key, issuer.chain if issuer else ())


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh interpreter that shows every warning."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "auditor", *map(str, args)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def _assert_quiet(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    for text in WARNING_TEXT:
        assert text not in done.stderr, done.stderr


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_check_cert_keeps_a_library_warning_off_stderr_and_says_it(tmp_path) -> None:
    path = tmp_path / "returned.pem"
    path.write_bytes(_pem(_negative_serial(HOST, None, "neg-check").cert))
    done = _run("check-cert", path, "--purpose", "tomcat-ECDSA", "--host", HOST, cwd=tmp_path)
    _assert_quiet(done)
    # a self-signed tomcat-ECDSA without the node's tomcat: whether Live Data works cannot
    # be told (FAQ rows 1 and 4)
    assert done.returncode == 3, done.stdout
    assert "serial number: not positive" in done.stdout


def test_an_audit_of_such_certificates_keeps_every_library_warning_off_stderr(
        tmp_path) -> None:
    """A server presents a negative serial under a root with one too, and the agents'
    trust holds that root: the probe, the chain checks, the reports and the PDF-less
    output set are written, stderr carries no warning, and the facts record it."""
    root = _negative_serial("Lab negative root", None, "neg-root")
    root = pki.Issued(root.cert, root.key)
    leaf = _negative_serial(HOST, root, "neg-leaf")
    trust = tmp_path / "agents.pem"
    trust.write_bytes(_pem(root.cert))
    with serve_issued(leaf) as port:
        inventory = tmp_path / "cluster.yaml"
        inventory.write_text(f'cluster: neg\nversion: "11.5(1)"\nnodes:\n'
                             f'  - host: {HOST}\n    address: 127.0.0.1\n'
                             f'    role: uccx-publisher\n'
                             f'    ports: {{finesse: {port}, notification: {port}, '
                             f'live_data: {port}, cuic: {port}, platform: {port}}}\n')
        done = _run("audit", "--inventory", inventory, "--agent-trust", trust, "--phase",
                    "post", "--out", tmp_path / "out", cwd=tmp_path)
    _assert_quiet(done)
    assert done.returncode in (0, 1), done.stderr
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    notes = {n for c in facts["certificates"].values() for n in c["parse_warnings"]}
    assert any("serial number: not positive" in n for n in notes), notes


def test_an_offline_audit_of_such_a_download_keeps_the_warning_off_stderr(tmp_path) -> None:
    ca = pki.hierarchies()
    folder = tmp_path / "downloads" / HOST
    folder.mkdir(parents=True)
    (folder / "tomcat.pem").write_bytes(_pem(_negative_serial(HOST, ca.rsa_root,
                                                              "neg-offline", "rsa").cert))
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(f'cluster: neg\nversion: "11.5(1)"\nnodes:\n'
                         f'  - host: {HOST}\n    role: uccx-publisher\n')
    done = _run("audit", "--inventory", inventory, "--from-pem", tmp_path / "downloads",
                "--phase", "post", "--out", tmp_path / "out", cwd=tmp_path)
    _assert_quiet(done)
    # only tomcat.pem downloaded on 11.5: tomcat-ECDSA is unknown, so inconclusive (exit 3)
    assert done.returncode == 3, done.stderr


def test_a_library_log_record_is_kept_not_printed(capfd) -> None:
    """A library that logs a WARNING with no handler of its own would print it through
    logging's last resort; during a command it is kept for error.log instead."""
    from auditor.common.libraries import heard, kept_quiet

    with kept_quiet():
        logging.getLogger("some.library").warning("server said %s", "\x1b[2Jhello")
        warnings.warn("a library's deprecation", UserWarning, stacklevel=1)
        said = heard()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert any("some.library: warning: server said" in s for s in said), said
    assert any("UserWarning: a library's deprecation" in s for s in said), said


def test_the_warning_filters_still_decide(capfd) -> None:
    """Quiet is not deaf: -W error still raises (as a test suite may run), and afterwards
    warnings are shown as before."""
    from auditor.common.libraries import kept_quiet

    shown = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with kept_quiet(), pytest.raises(UserWarning):
            warnings.warn("raised, not kept", UserWarning, stacklevel=1)
    assert warnings.showwarning is shown
