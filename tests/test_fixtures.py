"""fixtures/lab/ holds every scenario's certificates, each PEM under its text dump."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography import x509

from auditor.collect.certs import analyse
from auditor.lab import SCENARIOS
from auditor.model.certificate import covers_host

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "lab"
BLOCK = re.compile(r"(Certificate:\n.*?)(-----BEGIN CERTIFICATE-----\n.*?"
                   r"-----END CERTIFICATE-----\n)", re.S)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_has_its_certificates_with_text_dumps(name: str) -> None:
    scenario = SCENARIOS[name]
    folder = LAB / name
    for spec in scenario.nodes:
        files = [folder / f"{spec.name}-tomcat.pem"]
        if spec.tomcat_ecdsa != "not_created":
            files.append(folder / f"{spec.name}-tomcat-ecdsa.pem")
        for path in files:
            text = path.read_text()
            blocks = BLOCK.findall(text)
            assert blocks, path
            assert text.count("-----BEGIN CERTIFICATE-----") == len(blocks)
            for dump, pem in blocks:
                cert = x509.load_pem_x509_certificate(pem.encode())
                cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
                assert f"CN = {cn}" in dump, path
            leaf = analyse(x509.load_pem_x509_certificate(blocks[0][1].encode()))
            assert covers_host(leaf, spec.host) or spec.defect, path
            assert leaf.key_type == ("ec" if path.name.endswith("-ecdsa.pem") else "rsa")
