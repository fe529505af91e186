"""A certificate the X.509 layer cannot read, given as a file: offline downloads, the
agents' trust and check-cert each stop with exit 2 naming the file and the part that does
not parse (the same certificate from a server is a finding: test_hostile_audit.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from cryptography.hazmat.primitives import serialization
from servers import invalid_email_certificate
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.collect.certs import read_certificates, unreadable_part
from auditor.common.errors import InputError

HOST = "uccx-pub.lab.uccx.example"


@pytest.fixture(scope="module")
def hostile_pem(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.pem"
    path.write_bytes(invalid_email_certificate(HOST).cert.public_bytes(
        serialization.Encoding.PEM))
    return path


def run(*args: str) -> Result:
    return invoke(*args)


def assert_refused(done: Result, name: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{name}: certificate 1 of 1 does not parse: its subject does not parse" in \
        done.stderr, done.stderr


def test_the_certificate_parses_for_openssl_but_not_for_cryptography(hostile_pem) -> None:
    openssl = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(hostile_pem)],
                             capture_output=True, text=True, timeout=30)
    assert openssl.returncode == 0 and HOST in openssl.stdout, openssl.stderr
    assert read_certificates(str(hostile_pem), skip_unreadable=True) == []
    with pytest.raises(InputError, match=r"hostile\.pem: certificate 1 of 1 does not parse"):
        read_certificates(str(hostile_pem))


def test_unreadable_part_names_the_part(hostile_pem) -> None:
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(hostile_pem.read_bytes())
    assert unreadable_part(cert).startswith("its subject does not parse (ValueError")


def test_an_unreadable_download_stops_the_offline_audit_naming_the_file(
        tmp_path, hostile_pem) -> None:
    folder = downloads("row3-ec-signed-ecdsa", tmp_path / "downloads")
    (folder / HOST / "tomcat.pem").write_bytes(hostile_pem.read_bytes())
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    done = run("audit", "--inventory", str(inventory), "--from-pem", str(folder),
               "--phase", "post", "--agent-trust", str(LAB / "agent-trust.pem"),
               "--out", str(tmp_path / "out"))
    assert_refused(done, f"{HOST}/tomcat.pem")


def test_an_unreadable_agent_trust_file_stops_the_audit_naming_it(tmp_path, hostile_pem) -> None:
    folder = downloads("row3-ec-signed-ecdsa", tmp_path / "downloads")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    trust = tmp_path / "agents-trust.pem"
    trust.write_bytes(hostile_pem.read_bytes())
    done = run("audit", "--inventory", str(inventory), "--from-pem", str(folder),
               "--phase", "post", "--agent-trust", str(trust), "--out", str(tmp_path / "out"))
    assert_refused(done, "agents-trust.pem")


@pytest.mark.parametrize("where", ["signed", "--chain", "--agent-trust"])
def test_check_cert_refuses_an_unreadable_certificate_naming_the_file(
        tmp_path, hostile_pem, where: str) -> None:
    good = LAB / "row3-ec-signed-ecdsa" / "uccx-pub-tomcat.pem"
    args = [str(hostile_pem if where == "signed" else good), "--purpose", "tomcat",
            "--host", HOST]
    if where != "signed":
        args += [where, str(hostile_pem)]
    assert_refused(run("check-cert", *args), "hostile.pem")
