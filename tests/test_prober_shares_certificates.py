"""A prober keeps each distinct certificate it receives once (issue 25: a portfolio's
thousands of handshakes held a parsed copy of every chain per handshake, most of the run's
memory). Equal certificates are one object across handshakes, profiles and servers;
different ones stay apart. Structure is asserted, not bytes."""

from __future__ import annotations

import contextlib

from servers import tls_server

from auditor.collect.handshake import Target
from auditor.collect.prober import ProbeOptions, Prober
from auditor.lab import pki

FAST = ProbeOptions(connect_timeout=5.0, handshake_timeout=5.0)


def test_equal_certificates_from_many_handshakes_are_one_object_and_others_stay_apart(
        ) -> None:
    ca = pki.hierarchies()
    shared_leaf = pki.issue("shared.example", pki.key("shared", "rsa"), issuer=ca.rsa_issuing)
    other_leaf = pki.issue("other.example", pki.key("other", "rsa"), issuer=ca.rsa_issuing)
    intermediate = [ca.rsa_issuing.cert]
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(tls_server(lambda ctx: None, intermediate, leaf))
                 for leaf in (shared_leaf, shared_leaf, other_leaf)]
        results = Prober(FAST).probe_all(
            [Target(name, port, "127.0.0.1") for name, port in
             zip(("shared.example", "shared.example", "other.example"), ports, strict=True)])
    chains = [h.chain for handshakes in results for h in handshakes if h.ok]
    assert len(chains) >= 6  # every profile of three servers that answer them
    by_der: dict[bytes, set[int]] = {}
    for chain in chains:
        for cert in chain:
            by_der.setdefault(cert.tbs_certificate_bytes + cert.signature, set()).add(id(cert))
    # three distinct certificates (two leaves, one intermediate), each one object
    assert len(by_der) == 3
    assert all(len(objects) == 1 for objects in by_der.values())
    leaves = {id(chain[0]) for chain in chains}
    assert len(leaves) == 2
