"""What is installed refines what is presented: a node's keystore merged into probed facts.

The network shows what a server presents; it cannot show what sits in the keystore. On
SocialMiner 11.5 that difference decides chat/email: an RSA-signed ``tomcat-ECDSA`` in the
keystore breaks it (CSCvb58580) whatever port 7443 presents (DOMAIN.md). Whoever reads a
keystore (downloaded PEMs today; a VOS CLI collector later) hands an
:class:`InstalledCertificates` per host to :func:`refine`, and every certificate state then
says where it came from: ``observed`` (presented), ``declared`` (the inventory) or
``installed`` (the keystore, with ``installed_from`` naming how it was read and
``presented`` what the network showed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from cryptography import x509

from auditor.certs import analyse, fingerprint
from auditor.facts import CertState, Facts, NodeFacts, classify
from auditor.summary import state_words


@dataclass(frozen=True)
class InstalledCertificates:
    """One node's installed identity certificates and where they were read."""

    origin: str
    tomcat: x509.Certificate | None
    tomcat_ecdsa: x509.Certificate | None


def _refine_state(presented: CertState, cert: x509.Certificate | None, origin: str,
                  which: str) -> CertState:
    if cert is None:
        return presented
    state = classify(analyse(cert))
    seen = presented.state
    note = None
    if presented.source == "observed" and seen not in (state, "unknown"):
        title = "tomcat" if which == "tomcat" else "tomcat-ECDSA"
        note = (f"installed {title} is {state_words(state)}; the servers present "
                f"{state_words(seen)}")
    return CertState(state, "installed", fingerprint(cert), presented.seen_on, note,
                     installed_from=origin, presented=seen)


def refine_node(node: NodeFacts, installed: InstalledCertificates) -> NodeFacts:
    """The node with its certificate states taken from its keystore."""
    return replace(node,
                   tomcat=_refine_state(node.tomcat, installed.tomcat, installed.origin,
                                        "tomcat"),
                   tomcat_ecdsa=_refine_state(node.tomcat_ecdsa, installed.tomcat_ecdsa,
                                              installed.origin, "tomcat_ecdsa"))


def refine(facts: Facts, installed: Mapping[str, InstalledCertificates]) -> Facts:
    """Facts whose nodes named in ``installed`` carry their keystore's states; the installed
    certificates join the facts' certificates so reports can show them."""
    certificates = dict(facts.certificates)
    for item in installed.values():
        for cert in (item.tomcat, item.tomcat_ecdsa):
            if cert is not None:
                certificates.setdefault(fingerprint(cert), analyse(cert))
    nodes = tuple(refine_node(n, installed[n.host]) if n.host in installed else n
                  for n in facts.nodes)
    return replace(facts, nodes=nodes, certificates=dict(sorted(certificates.items())))
