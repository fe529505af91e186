"""The facts file: what every endpoint presented, to which client, and what follows.

Facts are frozen, versioned and JSON round-trippable: ``load(save(x)) == x``. The PEM of
every certificate is inside, so a facts file alone can be evaluated again years later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.serde import from_jsonable, to_jsonable
from auditor.common.validation import load_json, validate_versioned
from auditor.model.certificate import CertificateFacts, parse_time
from auditor.model.cluster import cluster_roles
from auditor.model.solution import current
from auditor.model.versions import Version

SCHEMA_VERSION = 1

PROFILES = ("browser", "ecdsa_only", "rsa_only")


@dataclass(frozen=True)
class ProbeError:
    """Why a handshake produced no certificate."""

    kind: str
    detail: str

_STATE_WORDS = {
    "not_presented": "not presented",
    "self_signed": "self-signed",
    "rsa_ca_signed": "RSA-CA-signed",
    "ec_ca_signed": "EC-CA-signed",
    "signature_invalid": "signature does not verify",
    "unknown": "unknown",
}


def state_words(state: str) -> str:
    return _STATE_WORDS.get(state, state)

#: Derived certificate states of a node. ``signature_invalid``: its signature does not
#: verify (self-issued, but not with its own key; or not with the key of the CA it names):
#: neither self-signed nor CA-signed, whatever its names say.
State = Literal["not_presented", "self_signed", "rsa_ca_signed", "ec_ca_signed",
                "signature_invalid", "unknown"]
STATES: tuple[State, ...] = ("not_presented", "self_signed", "rsa_ca_signed", "ec_ca_signed",
                             "signature_invalid", "unknown")


#: Why a handshake produced no certificate: the prober's own record, stored as it is.
ErrorFacts = ProbeError


#: How :attr:`ChainFacts.bad_signature` names the leaf: its first words.
LEAF_WORDS = "the leaf"


@dataclass(frozen=True)
class ChainFacts:
    """What a browser makes of one chain as the server sent it: order, completeness and
    trust by the agents' trust (made by ``auditor.collect.trust.check_chain``)."""

    order_ok: bool
    missing_intermediate: bool
    #: ``trusted`` or ``untrusted`` (``strict_verifier_rejects`` in facts of old versions)
    trust: str
    reason: str | None
    #: fingerprint of the trusted CA the chain leads to, if any
    anchor: str | None
    #: The CA (distinguished name) the chain as sent leads to, when the chain is complete
    #: but that CA is not in the trust in use: "root not in the trust", not "intermediate
    #: not sent".
    untrusted_root: str | None = None
    #: A certificate of the chain as sent whose signature the key of its issuer (itself,
    #: for a self-issued one) does not verify, in words; None when every signature whose
    #: issuer was at hand verifies, and in facts recorded before the tool checked it.
    bad_signature: str | None = None

    @property
    def leaf_signature_fails(self) -> bool:
        """The certificate whose signature does not verify is the leaf itself."""
        return (self.bad_signature or "").startswith(LEAF_WORDS)


@dataclass(frozen=True)
class HandshakeOutcome:
    """What every record of one client profile's handshake with one endpoint says. The
    prober's record (``auditor.collect.handshake.Handshake``) adds the parsed chain and the
    peer address; the facts' record (:class:`HandshakeFacts`) adds the chain's fingerprints
    and what browsers make of it."""

    profile: str
    method: str
    ok: bool
    elapsed_ms: float
    tls_version: str | None = None
    cipher: str | None = None
    error: ErrorFacts | None = None


def outcome_fields(record: HandshakeOutcome) -> dict[str, Any]:
    """The fields every handshake record shares, to build one record from another."""
    return {f.name: getattr(record, f.name) for f in fields(HandshakeOutcome)}


@dataclass(frozen=True, kw_only=True)
class HandshakeFacts(HandshakeOutcome):
    """One client profile's handshake with one endpoint, as the facts file keeps it."""

    #: fingerprints, leaf first, as sent
    chain: tuple[str, ...] = ()
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
    #: The chain the browser profile received, judged against the public roots (the
    #: system trust store) when it was collected: recorded only where the node declares
    #: ``external_chat`` (customers' browsers on the internet meet it), so that the rules
    #: judge it offline; None where not recorded, and in facts recorded before it was.
    public_trust: ChainFacts | None = None

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

    state: State
    source: str
    leaf: str | None = None
    seen_on: tuple[str, ...] = ()
    note: str | None = None
    #: With ``source == "installed"``: where the keystore was read, and what the network
    #: showed of the same certificate (auditor.collect.installed).
    installed_from: str | None = None
    presented: str | None = None


@dataclass(frozen=True)
class CommandOutput:
    """One VOS CLI command and everything it printed up to the next prompt, verbatim."""

    command: str
    output: str


@dataclass(frozen=True)
class CliError:
    """Why the VOS CLI session of a node stopped early (``auditor.collect.vos_cli.ERROR_KINDS``)."""

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
    options verbatim, whether a COP was recognised by name, the transcript, the version
    the node runs, and the SSH library's log of the session."""

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
    #: the active version ``show version active`` printed (``11.5.1.10000-61``); None when
    #: it printed none, or in facts recorded before the tool read it
    version: str | None = None
    #: what the SSH library said about the session (the server's banner, its errors),
    #: neutralised; empty in facts recorded before it was kept
    ssh_log: tuple[str, ...] = ()
    #: the installed ``ipsec`` certificate (``show cert own ipsec``), by fingerprint; None
    #: when it printed none, or in facts recorded before the tool read it
    ipsec: str | None = None
    #: the tomcat-trust entries ``show cert list trust`` named whose certificate was not
    #: read (beyond the collector's cap, or their output held none): the store is known
    #: only in part
    trust_unread: tuple[str, ...] = ()


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
class Member:
    """One node of the cluster as the inventory listed it when the facts were recorded."""

    host: str
    role: str


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
    #: The cluster's nodes (host and role) as the inventory listed them, written beside
    #: the nodes' records so that a record missing from the file shows; None in facts
    #: recorded before the tool wrote it.
    roster: tuple[Member, ...] | None = None

    def certificate(self, fp: str | None) -> CertificateFacts | None:
        return self.certificates.get(fp) if fp else None

    def node(self, host: str) -> NodeFacts | None:
        return next((n for n in self.nodes if n.host == host), None)


def judged_version(facts: Facts) -> tuple[str, str]:
    """The version the cluster is judged at, and its source. What the nodes report of
    themselves outranks what the inventory declares: when every UCCX node whose VOS CLI
    printed its active version (``show version active``) names the same release, that
    version (the publisher's, else the first one read) and ``vos_cli``; otherwise the
    version the facts declare and ``declared`` (no CLI read, or UCCX nodes that contradict
    each other: the rules then name the contradiction)."""
    uccx_roles = cluster_roles()
    printed = [n.installed.version for n in sorted(facts.nodes,
                                                  key=lambda n: uccx_roles.index(n.role)
                                                  if n.role in uccx_roles else len(uccx_roles))
               if n.role in uccx_roles and n.installed is not None and n.installed.version]
    versions = [Version(text) for text in printed]
    if versions and all(v.same_release(versions[0]) for v in versions):
        return printed[0], "vos_cli"
    return facts.version, "declared"


# -- building facts from probe results ---------------------------------------------------


# -- files ---------------------------------------------------------------------------------

def facts_to_json(facts: Facts) -> str:
    """Deterministic JSON: sorted keys, lists in their meaningful order, a final newline.
    A node the VOS CLI was not asked about has no ``installed`` key, one whose CLI printed
    no version no ``installed.version`` (no ipsec no ``installed.ipsec``), a reading with
    no SSH log no ``ssh_log``, a chain whose signatures all verify no ``bad_signature`` key,
    an endpoint not judged against the public roots no ``public_trust``, and facts without
    a roster no
    ``roster`` key, as before they existed."""
    data = to_jsonable(facts)
    for cert in data["certificates"].values():
        if cert.get("critical_extensions") is None:  # as before the tool read them
            cert.pop("critical_extensions", None)
    if data.get("roster") is None:
        data.pop("roster", None)
    for node in data["nodes"]:
        if node.get("installed") is None:
            node.pop("installed", None)
        else:
            if node["installed"].get("version") is None:  # as before it was read
                node["installed"].pop("version", None)
            if not node["installed"].get("ssh_log"):
                node["installed"].pop("ssh_log", None)
            if node["installed"].get("ipsec") is None:  # as before it was read
                node["installed"].pop("ipsec", None)
            if not node["installed"].get("trust_unread"):
                node["installed"].pop("trust_unread", None)
        for endpoint in node["endpoints"]:
            if endpoint.get("public_trust") is None:
                endpoint.pop("public_trust", None)  # as before it was recorded
            for handshake in endpoint["handshakes"]:
                check = handshake.get("chain_check")
                if check is not None and check.get("bad_signature") is None:
                    check.pop("bad_signature", None)  # as before the tool checked it
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def facts_from_data(data: Any, *, path: str = "<facts>") -> Facts:
    """Validate plain data against the facts schema and rebuild :class:`Facts`."""
    if isinstance(data, dict) and {"verdict", "findings", "facts"} <= data.keys():
        raise InputError("this is an audit file (already judged), not a facts file", path=path,
                         expected=f"a facts.json; render this one with uccx-audit report "
                         f"{path}")
    validate_versioned(data, "facts", SCHEMA_VERSION, path=path)
    check_timestamps(data, path=path)
    check_meaning(data, path=path)
    return from_jsonable(Facts, data)


def check_meaning(data: Any, *, path: str, prefix: str = "") -> None:
    """What the schema cannot say about schema-valid facts: each node once, each service
    once per node and each client profile once per endpoint (a second copy would be judged
    or ignored by its order in the file), and every certificate a handshake, a node's
    state, its keystore or the agents' trust file refers to is in ``certificates``, filed under
    its own fingerprint. An :class:`InputError` naming the first field that is not."""
    certificates = data["certificates"]

    def refuse(field: str, message: str, expected: str) -> InputError:
        return InputError(message, path=path, field=prefix + field, expected=expected)

    def resolves(fp: str | None, field: str) -> None:
        if fp is not None and fp not in certificates:
            raise refuse(field, f"refers to certificate {fp[:16]}..., which is not in the "
                         "file's certificates", "the fingerprint of a certificate under "
                         "certificates")

    for fp, cert in certificates.items():
        if cert["fingerprint_sha256"] != fp:
            raise refuse(f"certificates.{fp}", "is filed under another fingerprint "
                         f"than its own ({cert['fingerprint_sha256'][:16]}...)",
                         "each certificate under its SHA-256 fingerprint")
    # the roots of a trust file travel with the facts; the system store's (a hundred and
    # more) are named by fingerprint only
    if data["agent_trust"]["source"] != "system":
        for index, fp in enumerate(data["agent_trust"]["anchors"]):
            resolves(fp, f"agent_trust.anchors[{index}]")
    hosts: dict[str, int] = {}
    solution = current()
    roster = data.get("roster")
    for n, entry in enumerate(roster if isinstance(roster, list) else []):
        if isinstance(entry, dict) and entry.get("role") not in solution.roles:
            raise refuse(f"roster[{n}].role", f"{entry.get('role')!r} is not allowed",
                         "a role of the solution map, one of: " + ", ".join(solution.roles))
    for n, node in enumerate(data["nodes"]):
        if node["role"] not in solution.roles:
            raise refuse(f"nodes[{n}].role", f"{node['role']!r} is not allowed",
                         "a role of the solution map, one of: " + ", ".join(solution.roles))
        known = solution.services(solution.family_of(node["role"]))
        host = node["host"].rstrip(".").lower()
        if host in hosts:
            raise refuse(f"nodes[{n}].host", f"{node['host']!r} is listed twice (first as "
                         f"nodes[{hosts[host]}])", "each node once")
        hosts[host] = n
        for which in ("tomcat", "tomcat_ecdsa"):
            resolves(node[which].get("leaf"), f"nodes[{n}].{which}.leaf")
            installed = node.get("installed")
            if installed is not None:
                resolves(installed[which], f"nodes[{n}].installed.{which}")
        installed = node.get("installed")
        if installed is not None:
            resolves(installed.get("ipsec"), f"nodes[{n}].installed.ipsec")
            for t, entry in enumerate(installed["trust"]):
                for c, fp in enumerate(entry["certificates"]):
                    resolves(fp, f"nodes[{n}].installed.trust[{t}].certificates[{c}]")
        services: dict[str, int] = {}
        for e, endpoint in enumerate(node["endpoints"]):
            where = f"nodes[{n}].endpoints[{e}]"
            service = endpoint["service"]
            if service not in known:
                raise refuse(f"{where}.service", f"{service!r} is not allowed on a "
                             f"{node['role']}", "a service of the solution map, one of: "
                             + ", ".join(known))
            if service in services:
                raise refuse(f"{where}.service", f"{service!r} is listed twice on "
                             f"{node['host']} (first as endpoints[{services[service]}])",
                             "each service of a node once")
            services[service] = e
            profiles: dict[str, int] = {}
            for h, handshake in enumerate(endpoint["handshakes"]):
                field = f"{where}.handshakes[{h}]"
                if handshake["profile"] in profiles:
                    raise refuse(f"{field}.profile", f"{handshake['profile']!r} is listed "
                                 f"twice on this endpoint (first as handshakes"
                                 f"[{profiles[handshake['profile']]}])",
                                 "each client profile once per endpoint")
                profiles[handshake["profile"]] = h
                if handshake["ok"] and not handshake["chain"]:
                    raise refuse(f"{field}.chain", "a completed handshake without a "
                                 "certificate", "the chain the server sent, leaf first")
                for c, fp in enumerate(handshake["chain"]):
                    resolves(fp, f"{field}.chain[{c}]")


def check_timestamps(data: Any, *, path: str, prefix: str = "") -> None:
    """Every date in schema-valid facts is a real one (the schema's pattern lets 2026-02-30
    through): an :class:`InputError` naming the field otherwise."""
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


