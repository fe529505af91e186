"""Chromium against a lab or Tomcat cluster: what the browser received, and what the
prober's ``browser`` profile reported for the same endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from cdp import Browser
from cryptography import x509

from auditor.collect.certs import fingerprint
from auditor.lab.server import LabEndpoint
from auditor.model.facts import Facts

#: Where a node can present ``tomcat-ECDSA`` (Live Data, SocialMiner's notification
#: service), and the publisher's Finesse desktop (always ``tomcat``) as the control.
BROWSED = frozenset({("uccx-publisher", "live_data"), ("uccx-subscriber", "live_data"),
                     ("socialminer", "notification"), ("uccx-publisher", "finesse")})
#: TLS SignatureScheme codes: ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384, _secp521r1_.
ECDSA_SCHEMES = frozenset({0x0403, 0x0503, 0x0603})


def fingerprint_der(der: bytes) -> str:
    return fingerprint(x509.load_der_x509_certificate(der))


def check_browser_against_prober(browser: Browser, endpoints: Sequence[LabEndpoint],
                                 facts: Facts, max_tls: str) -> int:
    """Load the browsed endpoints in Chromium; assert that each page's leaf and chain are
    the ones the ``browser`` profile reported and the cluster presents. Returns how many
    endpoints held both certificates."""
    pages = {f"https://{e.host}:{e.port}/": e for e in endpoints
             if (e.role, e.service) in BROWSED}
    assert len(pages) == len(BROWSED), sorted(pages)
    received = browser.received_certificates(list(pages))
    for url, expected in pages.items():
        page = received[url]
        where = (expected.host, expected.service, url)
        endpoint = facts.node(expected.host).endpoint(expected.service)
        assert endpoint is not None and endpoint.port == expected.port, where
        reported = endpoint.handshake("browser")
        assert reported is not None and reported.ok, where
        assert page.status == 200, where
        assert page.protocol == f"TLS {max_tls}", (where, page.protocol)
        assert reported.tls_version == f"TLSv{max_tls}", where
        assert fingerprint_der(page.chain[0]) == reported.leaf \
            == expected.expected_leaf("browser"), where
        assert [fingerprint_der(c) for c in page.chain] == list(reported.chain), where
        # the server signed the handshake with the key of the certificate it sent
        assert (page.server_signature_algorithm in ECDSA_SCHEMES) == bool(expected.ecdsa), (
            where, page.server_signature_algorithm)
    return sum(1 for e in pages.values() if e.ecdsa)
