#!/usr/bin/env python3
"""Write the lab's certificates for every scenario under fixtures/lab/, repeatably.

Each PEM block is preceded by its human-readable dump (``openssl x509 -text -noout``),
as zlint keeps its test certificates. Re-run after changing the lab:

    python3 scripts/make_fixtures.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.common.fileio import write_atomic  # noqa: E402
from auditor.lab import SCENARIOS, Lab, pki  # noqa: E402


def dump(cert: x509.Certificate) -> str:
    pem = cert.public_bytes(serialization.Encoding.PEM)
    text = subprocess.run(["openssl", "x509", "-text", "-noout"], input=pem,
                          capture_output=True, check=True).stdout.decode()
    return text + pem.decode()


def bundle(title: str, certs: list[x509.Certificate]) -> str:
    return f"# {title}\n" + "".join(dump(c) for c in certs)


def main() -> None:
    if shutil.which("openssl") is None:
        sys.exit("openssl is needed for the text dumps (apt-get install openssl)")
    out = ROOT / "fixtures" / "lab"
    shutil.rmtree(out, ignore_errors=True)
    ca = pki.hierarchies()
    write_atomic(out / "agent-trust.pem", bundle(
        "the lab's roots: what the agents' browsers trust", [r.cert for r in ca.roots]))
    write_atomic(out / "rsa-issuing-ca.pem", bundle(
        "Lab RSA Issuing CA (intermediate under Lab RSA Root CA 2)", [ca.rsa_issuing.cert]))
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as work, Lab(scenario, work) as lab:
            for spec in scenario.nodes:
                certs = lab.certificates[spec.host]
                short = spec.name
                write_atomic(out / name / f"{short}-tomcat.pem", bundle(
                    f"{name}: {spec.host} tomcat, leaf then the chain the server sends",
                    [certs.tomcat.cert, *certs.tomcat_sent_chain]))
                if certs.tomcat_ecdsa is not None:
                    write_atomic(out / name / f"{short}-tomcat-ecdsa.pem", bundle(
                        f"{name}: {spec.host} tomcat-ECDSA, leaf then the chain",
                        [certs.tomcat_ecdsa.cert, *certs.tomcat_ecdsa.chain]))
        print(f"fixtures/lab/{name}")


if __name__ == "__main__":
    main()
