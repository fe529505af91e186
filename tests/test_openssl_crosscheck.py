"""`openssl s_client` with the same offer as each profile sees the same leaf."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from servers import free_port

from auditor.collect.certs import fingerprint
from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.profiles import offered
from auditor.collect.trust import load_agent_trust
from auditor.lab import Lab
from auditor.model.facts import PROFILES

PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _openssl() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (.ci/run installs it)")
    return openssl


@functools.cache
def _s_client_knows(option: str, name: str) -> bool:
    """Does this openssl's s_client accept ``name`` for ``option`` (-sigalgs, -groups)?
    (The system's OpenSSL may be older than the one the prober links: it may not know the
    post-quantum names. It reads its options before connecting to a port nobody serves.)"""
    done = subprocess.run([_openssl(), "s_client", "-connect", f"127.0.0.1:{free_port()}",
                           option, name], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=20)
    return b"SSL_CONF_cmd" not in done.stderr


def _known(option: str, names: str | None) -> list[str]:
    kept = [n for n in (names or "").split(":") if n and _s_client_knows(option, n)]
    return [option, ":".join(kept)] if kept else []


def s_client_leaf(address: str, port: int, host: str, profile: str) -> str | None:
    """The leaf ``openssl s_client`` gets with the profile's offer (what the system's
    OpenSSL knows of it)."""
    offer = offered(profile)
    suites = ["-ciphersuites", offer.tls13_suites] if offer.tls13_suites else []
    done = subprocess.run(
        [_openssl(), "s_client", "-connect", f"{address}:{port}", "-servername", host,
         *_known("-sigalgs", offer.sigalgs), *_known("-groups", offer.groups), *suites,
         "-cipher", f"{offer.ciphers}:@SECLEVEL=0"],
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
