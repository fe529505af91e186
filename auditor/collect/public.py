"""Public trust: the chains that customers' browsers on the internet meet, judged against
the public roots when the facts are collected, so that the rules judge them offline.

A node that declares ``external_chat`` (a SocialMiner that customers chat through from the
internet) must present a chain that leads to a public root (Cisco 118855). The public
roots are the audit host's system trust store (:func:`auditor.collect.trust.load_agent_trust`
without a path, which honours ``SSL_CERT_FILE``), whatever the agents' trust is. Which of
the node's endpoints matters is the rules' business: every endpoint of such a node whose
browser handshake gave a chain is judged here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from auditor.collect.trust import AgentTrust, check_chain
from auditor.model.certificate import parse_time
from auditor.model.facts import EndpointFacts, Facts, NodeFacts

#: What cryptography raises on bytes it cannot read: the chain is then not judged.
_UNREADABLE = (ValueError, x509.InvalidVersion, UnsupportedAlgorithm)


def wants_public_trust(facts: Facts) -> bool:
    """Does any node of the facts declare external chat?"""
    return any(n.declared.get("external_chat") is True for n in facts.nodes)


def judge_publicly(facts: Facts, public: AgentTrust) -> Facts:
    """The facts with each endpoint of every node that declares ``external_chat`` carrying
    :attr:`~auditor.model.facts.EndpointFacts.public_trust`: its browser chain judged
    against ``public`` as of when the facts were observed. An endpoint without a chain (not
    reached), or whose chain names certificates the facts do not hold or cannot read, is
    left without: the rules then cannot say it is fine."""
    if not wants_public_trust(facts):
        return facts
    at = parse_time(facts.observed_at)
    nodes = tuple(_node(facts, node, public, at)
                  if node.declared.get("external_chat") is True else node
                  for node in facts.nodes)
    return replace(facts, nodes=nodes)


def _node(facts: Facts, node: NodeFacts, public: AgentTrust, at: dt.datetime) -> NodeFacts:
    return replace(node, endpoints=tuple(_endpoint(facts, node.host, e, public, at)
                                         for e in node.endpoints))


def _endpoint(facts: Facts, host: str, endpoint: EndpointFacts, public: AgentTrust,
              at: dt.datetime) -> EndpointFacts:
    handshake = endpoint.handshake("browser")
    if handshake is None or not handshake.ok or not handshake.chain:
        return replace(endpoint, public_trust=None)
    held = [facts.certificate(fp) for fp in handshake.chain]
    if any(cert is None for cert in held):
        return replace(endpoint, public_trust=None)
    try:
        chain = [x509.load_pem_x509_certificate(cert.pem.encode("ascii"))
                 for cert in held if cert is not None]
        check = check_chain(chain, public, host, at, leaf=held[0])
    except (*_UNREADABLE, UnicodeEncodeError):
        return replace(endpoint, public_trust=None)
    return replace(endpoint, public_trust=check)
