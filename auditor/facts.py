"""The facts file: what every endpoint presented, to which client, and what follows.

Facts are frozen, versioned and JSON round-trippable: ``load(save(x)) == x``. The PEM of
every certificate is inside, so a facts file alone can be evaluated again years later.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from auditor import __version__
from auditor.certs import (
    CertificateFacts,
    analyse,
    cn_only,
    covers_host,
    fingerprint,
    unreadable_in_chain,
)
from auditor.errors import InputError
from auditor.fileio import write_atomic
from auditor.inventory import Inventory, Node, role_family
from auditor.presentation import ECDSA_PORTS
from auditor.prober import PROFILES, Handshake, ProbeError
from auditor.serde import from_jsonable, to_jsonable
from auditor.trust import AgentTrust, check_chain
from auditor.validation import load_json, validate_versioned

#: What cryptography raises on received bytes it cannot read; anything else is a bug.
_UNREADABLE = (ValueError, x509.InvalidVersion, UnsupportedAlgorithm)

SCHEMA_VERSION = 1

#: Derived certificate states of a node.
STATES = ("not_presented", "self_signed", "rsa_ca_signed", "ec_ca_signed", "unknown")

#: Where each certificate is looked for first, per role family (DOMAIN.md's table).
_PREFERRED = {
    ("uccx", "tomcat"): ("finesse", "notification", "live_data", "cuic", "os_admin"),
    ("uccx", "tomcat_ecdsa"): ("live_data", "notification", "finesse", "cuic", "os_admin"),
    ("socialminer", "tomcat"): ("web", "notification"),
    ("socialminer", "tomcat_ecdsa"): ("notification", "web"),
}

#: Why a handshake produced no certificate: the prober's own record, stored as it is.
ErrorFacts = ProbeError


@dataclass(frozen=True)
class ChainFacts:
    """A browser's view of one chain: order, completeness, trust by the agents' trust."""

    order_ok: bool
    missing_intermediate: bool
    trust: str
    reason: str | None
    anchor: str | None
    #: The CA a complete chain leads to when the trust in use lacks it (trust.ChainCheck).
    untrusted_root: str | None = None


@dataclass(frozen=True)
class HandshakeFacts:
    """One client profile's handshake with one endpoint."""

    profile: str
    method: str
    ok: bool
    elapsed_ms: float
    tls_version: str | None = None
    cipher: str | None = None
    chain: tuple[str, ...] = ()
    error: ErrorFacts | None = None
    chain_check: ChainFacts | None = None
    name_covered: bool | None = None
    cn_only: bool | None = None

    @property
    def leaf(self) -> str | None:
        return self.chain[0] if self.ok and self.chain else None


@dataclass(frozen=True)
class EndpointFacts:
    """One port of one node and what each client profile got there."""

    service: str
    port: int
    peer: str | None
    handshakes: tuple[HandshakeFacts, ...]

    @property
    def reachable(self) -> bool:
        return any(h.ok for h in self.handshakes)

    def handshake(self, profile: str) -> HandshakeFacts | None:
        return next((h for h in self.handshakes if h.profile == profile), None)

    @property
    def error(self) -> ErrorFacts | None:
        """The error that kept every profile from a certificate, if none got one."""
        if self.reachable:
            return None
        return next((h.error for h in self.handshakes if h.error), None)


@dataclass(frozen=True)
class CertState:
    """The derived state of ``tomcat`` or ``tomcat-ECDSA`` on one node."""

    state: str
    source: str
    leaf: str | None = None
    seen_on: tuple[str, ...] = ()
    note: str | None = None
    #: With ``source == "installed"``: where the keystore was read, and what the network
    #: showed of the same certificate (auditor.installed).
    installed_from: str | None = None
    presented: str | None = None


@dataclass(frozen=True)
class CommandOutput:
    """One VOS CLI command and everything it printed up to the next prompt, verbatim."""

    command: str
    output: str


@dataclass(frozen=True)
class CliError:
    """Why the VOS CLI session of a node stopped early (``auditor.vos_cli.ERROR_KINDS``)."""

    kind: str
    detail: str


@dataclass(frozen=True)
class TrustEntry:
    """One ``tomcat-trust`` entry read over the VOS CLI: its name and certificates."""

    name: str
    certificates: tuple[str, ...]


@dataclass(frozen=True)
class InstalledFacts:
    """What a node holds, read over its VOS CLI (``source``: ``vos_cli``): the installed
    ``tomcat`` and ``tomcat-ECDSA`` (fingerprints), ``tomcat-trust``, the installed software
    options verbatim, whether a COP was recognised by name, and the transcript."""

    source: str
    user: str
    error: CliError | None
    tomcat: str | None
    tomcat_ecdsa: str | None
    trust: tuple[TrustEntry, ...]
    options: tuple[str, ...]
    cop_installed: bool | None
    cop_basis: str | None
    transcript: tuple[CommandOutput, ...]


@dataclass(frozen=True)
class NodeFacts:
    host: str
    role: str
    address: str | None
    declared: Mapping[str, Any]
    endpoints: tuple[EndpointFacts, ...]
    tomcat: CertState
    tomcat_ecdsa: CertState
    #: read over the VOS CLI; None when the CLI was not asked
    installed: InstalledFacts | None = None

    def endpoint(self, service: str) -> EndpointFacts | None:
        return next((e for e in self.endpoints if e.service == service), None)


@dataclass(frozen=True)
class TrustFacts:
    """Which agents' trust the chains were judged against."""

    source: str
    anchors: tuple[str, ...]


@dataclass(frozen=True)
class ProbeSettings:
    connect_timeout: float
    handshake_timeout: float
    all_ports: bool
    sigalgs_method: str


@dataclass(frozen=True)
class Facts:
    """Everything observed (or declared) about one cluster at one time."""

    schema_version: int
    tool_version: str
    observed_at: str
    cluster: str
    version: str
    source: str
    settings: ProbeSettings
    agent_trust: TrustFacts
    certificates: Mapping[str, CertificateFacts]
    nodes: tuple[NodeFacts, ...] = field(default=())

    def certificate(self, fp: str | None) -> CertificateFacts | None:
        return self.certificates.get(fp) if fp else None

    def node(self, host: str) -> NodeFacts | None:
        return next((n for n in self.nodes if n.host == host), None)


# -- building facts from probe results ---------------------------------------------------

def _handshake_facts(result: Handshake, host: str, trust: AgentTrust, at: dt.datetime,
                     certificates: dict[str, CertificateFacts],
                     checked: dict[tuple[tuple[str, ...], str], ChainFacts]) -> HandshakeFacts:
    if not result.ok:
        return HandshakeFacts(result.profile, result.method, False, result.elapsed_ms,
                              result.tls_version, result.cipher, error=result.error)
    try:
        chain_fps, chain_facts = _judge_received(result.chain, host, trust, at, certificates,
                                                 checked)
    except _UNREADABLE as exc:  # received bytes the X.509 layer cannot read are a finding
        problem = unreadable_in_chain(result.chain) or f"{type(exc).__name__}: {exc}"
        return HandshakeFacts(result.profile, result.method, False, result.elapsed_ms,
                              result.tls_version, result.cipher, error=ProbeError(
                                  "other", "the X.509 layer cannot read a certificate "
                                  f"received: {problem}"))
    leaf = certificates[chain_fps[0]]
    return HandshakeFacts(
        result.profile, result.method, True, result.elapsed_ms, result.tls_version,
        result.cipher, tuple(chain_fps), None, chain_facts,
        covers_host(leaf, host), cn_only(leaf, host))


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
        check = check_chain(chain, trust, host, at, leaf=leaf)
        chain_facts = ChainFacts(check.order_ok, check.missing_intermediate, check.trust,
                                 check.reason, check.anchor, check.untrusted_root)
    checked[key] = chain_facts
    certificates.update(found)
    return chain_fps, chain_facts


def classify(cert: CertificateFacts) -> str:
    """``self_signed``, ``rsa_ca_signed`` or ``ec_ca_signed``, by the signer's key type."""
    if cert.self_signed:
        return "self_signed"
    if cert.signer_key_type == "ec":
        return "ec_ca_signed"
    if cert.signer_key_type == "rsa":
        return "rsa_ca_signed"
    return "unknown"


def derive_state(node: Node, family: str, which: str, endpoints: Sequence[EndpointFacts],
                 certificates: Mapping[str, CertificateFacts]) -> CertState:
    """The state of one certificate on one node, from what was presented plus declarations."""
    key_type = "rsa" if which == "tomcat" else "ec"
    order = _PREFERRED[(family, which)]
    ranked = sorted(endpoints, key=lambda e: order.index(e.service) if e.service in order
                    else len(order))
    found: dict[str, list[str]] = {}
    for endpoint in ranked:
        for hs in endpoint.handshakes:
            leaf = certificates.get(hs.leaf or "")
            if leaf is not None and leaf.key_type == key_type:
                found.setdefault(leaf.fingerprint_sha256, [])
                if endpoint.service not in found[leaf.fingerprint_sha256]:
                    found[leaf.fingerprint_sha256].append(endpoint.service)
    declared = node.declared.get(which)
    if found:
        leaf_fp, seen_on = next(iter(found.items()))
        state = classify(certificates[leaf_fp])
        notes = []
        if len(found) > 1:
            notes.append(f"{len(found)} different {key_type.upper()} certificates on this node")
        if declared and declared != state:
            notes.append(f"declared {declared}, but the server presents {state}")
        return CertState(state, "observed", leaf_fp, tuple(seen_on),
                         "; ".join(notes) or None)
    if which == "tomcat":
        relevant = endpoints
    else:
        relevant = [e for e in endpoints if e.service in ECDSA_PORTS[family]] or endpoints
    if declared:
        return CertState(declared, "declared", note="declared in the inventory; the servers "
                         "presented no such certificate")
    if relevant and all(e.reachable for e in relevant):
        return CertState("not_presented", "observed")
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
        certificates=dict(sorted(certificates.items())), nodes=tuple(nodes))


# -- files ---------------------------------------------------------------------------------

def facts_to_json(facts: Facts) -> str:
    """Deterministic JSON: sorted keys, lists in their meaningful order, a final newline.
    A node the VOS CLI was not asked about has no ``installed`` key, as before it existed."""
    data = to_jsonable(facts)
    for node in data["nodes"]:
        if node.get("installed") is None:
            node.pop("installed", None)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def facts_from_data(data: Any, *, path: str = "<facts>") -> Facts:
    """Validate plain data against the facts schema and rebuild :class:`Facts`."""
    if isinstance(data, dict) and {"verdict", "findings", "facts"} <= data.keys():
        raise InputError("this is an audit file (already judged), not a facts file", path=path,
                         expected=f"a facts.json; render this one with uccx-audit report "
                         f"{path}")
    validate_versioned(data, "facts", SCHEMA_VERSION, path=path)
    check_timestamps(data, path=path)
    return from_jsonable(Facts, data)


def check_timestamps(data: Any, *, path: str, prefix: str = "") -> None:
    """Every date in schema-valid facts is a real one (the schema's pattern lets 2026-02-30
    through): an :class:`InputError` naming the field otherwise."""
    from auditor.certs import parse_time

    fields = [("observed_at", data.get("observed_at"))]
    for fp, cert in (data.get("certificates") or {}).items():
        fields += [(f"certificates.{fp}.{key}", cert.get(key))
                   for key in ("not_before", "not_after")]
    for field_name, value in fields:
        if not isinstance(value, str):
            continue
        try:
            parse_time(value)
        except ValueError:
            raise InputError(f"{value!r} is not a real date and time", path=path,
                             field=prefix + field_name,
                             expected="YYYY-MM-DDTHH:MM:SSZ in years 0001 to 9999") from None


def save_facts(facts: Facts, path: str | Path) -> Path:
    """Write atomically. What :func:`build_facts` makes is proven schema-valid by the tests
    (every lab scenario, hostile endpoints, property tests), so it is not validated again
    here, which took longer than the probe on a thousand endpoints; every facts file is
    validated when it is read."""
    return write_atomic(path, facts_to_json(facts))


def load_facts(path: str | Path) -> Facts:
    """Read a facts file written by any version of this tool with the same schema."""
    return facts_from_data(load_json(path), path=str(path))


def profiles_in(facts: Facts) -> Iterable[str]:
    """The client profiles present in the facts, in the canonical order."""
    seen = {h.profile for n in facts.nodes for e in n.endpoints for h in e.handshakes}
    return [p for p in PROFILES if p in seen]
