"""`openssl s_client` with the same offer as each profile sees the same leaf."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from cryptography import x509

from auditor.collect.certs import fingerprint
from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.profiles import OFFERS
from auditor.collect.trust import load_agent_trust
from auditor.lab import Lab
from auditor.model.facts import PROFILES

PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def s_client_leaf(address: str, port: int, host: str, profile: str) -> str | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (.ci/run installs it)")
    sigalgs, ciphers = OFFERS[profile]
    done = subprocess.run(
        [openssl, "s_client", "-connect", f"{address}:{port}", "-servername", host,
         "-sigalgs", sigalgs, "-cipher", f"{ciphers}:@SECLEVEL=0"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    found = PEM.search(done.stdout)
    return fingerprint(x509.load_pem_x509_certificate(found.group(0))) if found else None


@pytest.mark.parametrize("scenario", ["row1-self-signed", "row2-rsa-signed-ecdsa",
                                      "row3-ec-signed-ecdsa", "row4-upgrade-trap",
                                      "mixed-cluster", "cop-socialminer"])
def test_s_client_sees_the_same_leaf_as_each_profile(scenario: str) -> None:
    with Lab(scenario) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions())
        for endpoint in lab.endpoints:
            probed = next(e for e in facts.node(endpoint.host).endpoints
                          if e.port == endpoint.port)
            for profile in PROFILES:
                ours = probed.handshake(profile).leaf
                theirs = s_client_leaf(endpoint.address, endpoint.port, endpoint.host,
                                       profile)
                assert ours == theirs, (endpoint.host, endpoint.service, profile)
