"""Facts from what the prober observed: one :class:`~auditor.model.facts.Facts` per probe
of a cluster, with each chain judged as the agents' browsers judge it and each node's
``tomcat`` / ``tomcat-ECDSA`` state derived from what its ports presented."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from auditor import __version__
from auditor.collect.certs import analyse, fingerprint, unreadable_in_chain
from auditor.collect.handshake import Handshake
from auditor.collect.trust import AgentTrust, check_chain
from auditor.model.certificate import CertificateFacts, classify, cn_only, covers_host
from auditor.model.cluster import Inventory, Node, role_family
from auditor.model.facts import (
    SCHEMA_VERSION,
    CertState,
    ChainFacts,
    EndpointFacts,
    Facts,
    HandshakeFacts,
    Member,
    NodeFacts,
    ProbeError,
    ProbeSettings,
    TrustFacts,
    outcome_fields,
)
from auditor.model.presentation import ecdsa_ports
from auditor.model.solution import current

#: What cryptography raises on received bytes it cannot read; anything else is a bug.
_UNREADABLE = (ValueError, x509.InvalidVersion, UnsupportedAlgorithm)


def _handshake_facts(result: Handshake, host: str, trust: AgentTrust, at: dt.datetime,
                     certificates: dict[str, CertificateFacts],
                     checked: dict[tuple[tuple[str, ...], str], ChainFacts]) -> HandshakeFacts:
    shared = outcome_fields(result)
    if not result.ok:
        return HandshakeFacts(**shared)
    try:
        chain_fps, chain_facts = _judge_received(result.chain, host, trust, at, certificates,
                                                 checked)
    except _UNREADABLE as exc:  # received bytes the X.509 layer cannot read are a finding
        problem = unreadable_in_chain(result.chain) or f"{type(exc).__name__}: {exc}"
        return HandshakeFacts(**{**shared, "ok": False, "error": ProbeError(
            "other", f"the X.509 layer cannot read a certificate received: {problem}")})
    leaf = certificates[chain_fps[0]]
    return HandshakeFacts(**shared, chain=tuple(chain_fps), chain_check=chain_facts,
                          name_covered=covers_host(leaf, host), cn_only=cn_only(leaf, host))


def _judge_received(chain: Sequence[x509.Certificate], host: str, trust: AgentTrust,
                    at: dt.datetime, certificates: dict[str, CertificateFacts],
                    checked: dict[tuple[tuple[str, ...], str], ChainFacts],
                    ) -> tuple[list[str], ChainFacts]:
    """Analyse a received chain (``certificates`` gains only what parsed) and judge it."""
    found: dict[str, CertificateFacts] = {}
    chain_fps = []
    for cert in chain:
        fp = fingerprint(cert)
        if fp not in certificates and fp not in found:
            found[fp] = analyse(cert)
        chain_fps.append(fp)
    leaf = found.get(chain_fps[0]) or certificates[chain_fps[0]]
    # The same chain for the same name, trust and time gets the same verdict: the profiles
    # and ports of one node mostly receive the same few chains, so each is checked once.
    key = (tuple(chain_fps), host)
    chain_facts = checked.get(key)
    if chain_facts is None:
        chain_facts = check_chain(chain, trust, host, at, leaf=leaf)
    checked[key] = chain_facts
    certificates.update(found)
    return chain_fps, chain_facts


def derive_state(node: Node, family: str, which: str, endpoints: Sequence[EndpointFacts],
                 certificates: Mapping[str, CertificateFacts]) -> CertState:
    """The state of one certificate on one node, from what was presented plus declarations."""
    key_type = "rsa" if which == "tomcat" else "ec"
    # where each certificate is looked for first: the solution map's look_first
    order = current().families[family].look_first.get(which, ())
    ranked = sorted(endpoints, key=lambda e: order.index(e.service) if e.service in order
                    else len(order))
    found: dict[str, list[str]] = {}
    forged: set[str] = set()
    for endpoint in ranked:
        for hs in endpoint.handshakes:
            leaf = certificates.get(hs.leaf or "")
            if leaf is not None and leaf.key_type == key_type:
                found.setdefault(leaf.fingerprint_sha256, [])
                if endpoint.service not in found[leaf.fingerprint_sha256]:
                    found[leaf.fingerprint_sha256].append(endpoint.service)
                if hs.chain_check is not None and hs.chain_check.leaf_signature_fails:
                    forged.add(leaf.fingerprint_sha256)
    declared = node.declared.get(which)
    if found:
        leaf_fp, seen_on = next(iter(found.items()))
        # a leaf whose issuer, sent or trusted, does not verify it: not CA-signed
        state = "signature_invalid" if leaf_fp in forged else classify(certificates[leaf_fp])
        notes = []
        if len(found) > 1:
            notes.append(f"{len(found)} different {key_type.upper()} certificates on this node")
        if declared and declared != state:
            notes.append(f"declared {declared}, but the server presents {state}")
        return CertState(state, "observed", leaf_fp, tuple(seen_on),
                         "; ".join(notes) or None)
    if which == "tomcat":
        relevant = endpoints
    else:  # only the ports that present it can show that it is not presented
        relevant = [e for e in endpoints if e.service in ecdsa_ports(family)]
    if declared:
        return CertState(declared, "declared", note="declared in the inventory; the servers "
                         "presented no such certificate")
    if relevant and all(e.reachable for e in relevant):
        return CertState("not_presented", "observed")
    if not relevant:
        return CertState("unknown", "observed",
                         note="the endpoints that would present it were not probed")
    return CertState("unknown", "observed",
                     note="the endpoints that would present it could not be reached")


def build_facts(inventory: Inventory, endpoints: Sequence[tuple[Node, str, int]],
                results: Sequence[Sequence[Handshake]], *, trust: AgentTrust,
                settings: ProbeSettings, observed_at: dt.datetime | None = None) -> Facts:
    """Assemble :class:`Facts` from the probe results of every (node, service, port)."""
    at = (observed_at or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    certificates: dict[str, CertificateFacts] = {}
    checked: dict[tuple[tuple[str, ...], str], ChainFacts] = {}
    if trust.source != "system":
        for anchor in trust.anchors:
            facts = analyse(anchor)
            certificates.setdefault(facts.fingerprint_sha256, facts)
    per_node: dict[str, list[EndpointFacts]] = {n.host: [] for n in inventory.nodes}
    for (node, service, port), handshakes in zip(endpoints, results, strict=True):
        peer = next((h.peer for h in handshakes if h.peer), None)
        per_node[node.host].append(EndpointFacts(service, port, peer, tuple(
            _handshake_facts(h, node.host, trust, at, certificates, checked)
            for h in handshakes)))
    nodes = []
    for node in inventory.nodes:
        eps = tuple(sorted(per_node[node.host], key=lambda e: (e.port, e.service)))
        family = role_family(node.role)
        nodes.append(NodeFacts(
            node.host, node.role, node.address, dict(sorted(node.declared.items())), eps,
            derive_state(node, family, "tomcat", eps, certificates),
            derive_state(node, family, "tomcat_ecdsa", eps, certificates)))
    method = next((h.method for r in results for h in r), "tls13_sigalgs")
    return Facts(
        schema_version=SCHEMA_VERSION, tool_version=__version__,
        observed_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"), cluster=inventory.cluster,
        version=inventory.version, source="observed",
        settings=ProbeSettings(float(settings.connect_timeout),
                               float(settings.handshake_timeout), settings.all_ports, method),
        agent_trust=TrustFacts(trust.source, trust.fingerprints),
        certificates=dict(sorted(certificates.items())), nodes=tuple(nodes),
        roster=tuple(Member(n.host, n.role) for n in inventory.nodes))
