"""Offline audit: facts declared from certificates downloaded from OS Administration.

Where the auditor cannot reach the servers, an engineer downloads each node's ``tomcat``,
``tomcat-ECDSA`` and ``tomcat-trust`` certificates. This module classifies them and builds
the facts a probe would have recorded, presenting on each port what the table in docs/domain.md
says the server presents, so the same rules judge them. The facts say ``declared``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509

from auditor.collect.certs import analyse, fingerprint, read_certificates, signature_verifies
from auditor.collect.handshake import Handshake
from auditor.collect.installed import InstalledCertificates
from auditor.collect.observed import build_facts
from auditor.collect.trust import AgentTrust
from auditor.common.errors import InputError
from auditor.model.certificate import classify, covers_host
from auditor.model.cluster import Inventory, Node, role_family
from auditor.model.facts import PROFILES, CertState, Facts, NodeFacts, ProbeError, ProbeSettings
from auditor.model.presentation import presents_ecdsa
from auditor.model.versions import Version, uses_ecdsa

METHOD = "declared"
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")


@dataclass(frozen=True)
class Keystore:
    """One node's certificates as downloaded: the two identities and tomcat-trust."""

    tomcat: x509.Certificate | None
    tomcat_ecdsa: x509.Certificate | None
    trust: tuple[x509.Certificate, ...]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def read_keystore(folder: Path, host: str) -> Keystore:
    """Classify every certificate file in ``folder`` by its name and its contents."""
    if not folder.is_dir():
        raise InputError("no such folder", path=str(folder),
                         expected=f"the certificates of {host} downloaded from OS "
                         "Administration (tomcat.pem, tomcat-ECDSA.pem, tomcat-trust ...)")
    identities: dict[str, dict[str, tuple[x509.Certificate, str]]] = {"rsa": {}, "ec": {}}
    trust: dict[str, x509.Certificate] = {}
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in CERT_SUFFIXES)
    if not files:
        raise InputError("no certificate files", path=str(folder),
                         expected="*.pem, *.crt, *.cer or *.der files")
    for path in files:
        stem = path.stem.lower()
        named_identity = stem in ("tomcat", "tomcat-ecdsa") or stem.startswith(
            ("tomcat.", "tomcat-ecdsa."))
        for position, cert in enumerate(read_certificates(str(path))):
            facts = analyse(cert)
            if named_identity:
                # tomcat.pem / tomcat-ECDSA.pem: the certificate first, then its chain
                identity = position == 0
            else:
                identity = "trust" not in stem and not _is_ca(cert) and covers_host(facts,
                                                                                     host)
            if identity and facts.key_type in identities:
                identities[facts.key_type][fingerprint(cert)] = (cert, path.name)
            else:
                trust[fingerprint(cert)] = cert
    for key_type, found in identities.items():
        if len(found) > 1:
            names = ", ".join(sorted(name for _, name in found.values()))
            purpose = "tomcat" if key_type == "rsa" else "tomcat-ECDSA"
            raise InputError(f"more than one {purpose} certificate for {host} ({names})",
                             path=str(folder), expected=f"one {purpose} certificate per node")
    rsa = next(iter(identities["rsa"].values()), (None, ""))[0]
    ec = next(iter(identities["ec"].values()), (None, ""))[0]
    if rsa is None:
        raise InputError(f"no tomcat (RSA) certificate for {host}", path=str(folder),
                         expected="tomcat.pem downloaded from OS Administration > Security > "
                         "Certificate Management")
    return Keystore(rsa, ec, tuple(trust.values()))


def chain_for(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The leaf and the intermediates from ``pool`` above it, as a server sends them."""
    chain = [leaf]
    while len(chain) < 10:
        last = chain[-1]
        if last.issuer == last.subject:
            break
        issuer = next((c for c in pool if c.subject == last.issuer and c not in chain
                       and signature_verifies(last, c)), None)
        if issuer is None or issuer.issuer == issuer.subject:
            break  # roots are not sent
        chain.append(issuer)
    return chain


def node_folder(node: Node, from_pem: Path | None, inventory_dir: Path | None,
                single_node: bool) -> Path:
    """``pem_dir`` from the inventory (relative to it), else ``FROM_PEM/<host>``."""
    if node.pem_dir:
        folder = Path(node.pem_dir)
        return folder if folder.is_absolute() or inventory_dir is None else \
            inventory_dir / folder
    if from_pem is None:
        raise InputError(f"no certificates for {node.host}",
                         expected="--from-pem DIR or pem_dir: in the inventory")
    per_host = from_pem / node.host
    if per_host.is_dir() or not single_node:
        return per_host
    return from_pem


def declared_facts(inventory: Inventory, *, trust: AgentTrust, from_pem: Path | None,
                   all_ports: bool = False, at: dt.datetime | None = None) -> Facts:
    """Facts for every node from its downloaded certificates, as its servers present them."""
    inventory_dir = Path(inventory.path).parent if inventory.path and Path(
        inventory.path).exists() else None
    stores = {node.host: read_keystore(node_folder(node, from_pem, inventory_dir,
                                                   len(inventory.nodes) == 1), node.host)
              for node in inventory.nodes}
    return keystore_facts(inventory, stores, trust=trust, all_ports=all_ports, at=at)


def keystore_facts(inventory: Inventory, stores: Mapping[str, Keystore], *, trust: AgentTrust,
                   all_ports: bool = False, at: dt.datetime | None = None) -> Facts:
    """Facts for every node from its keystore (``stores``, by host), as its servers present
    them; a keystore without ``tomcat`` presents no RSA certificate (check-cert of a
    ``tomcat-ECDSA`` alone)."""
    version = Version(inventory.version)
    endpoints: list[tuple[Node, str, int]] = []
    results: list[tuple[Handshake, ...]] = []
    nodes: list[Node] = []
    for node in inventory.nodes:
        store = stores[node.host]
        pool = [c for c in (store.tomcat, store.tomcat_ecdsa, *store.trust) if c is not None]
        declared = dict(node.declared)
        if store.tomcat is not None:
            declared.setdefault("tomcat", classify(analyse(store.tomcat)))
        ecdsa_state = classify(analyse(store.tomcat_ecdsa)) if store.tomcat_ecdsa else None
        if ecdsa_state is not None:
            declared.setdefault("tomcat_ecdsa", ecdsa_state)
        node = replace(node, declared=declared)
        nodes.append(node)
        family = role_family(node.role)
        rsa_chain = tuple(chain_for(store.tomcat, pool)) if store.tomcat else ()
        ec_chain = tuple(chain_for(store.tomcat_ecdsa, pool)) if store.tomcat_ecdsa else ()
        for service, port in node.endpoints(all_ports).items():
            ecdsa = presents_ecdsa(family, service, ecdsa_state,
                                   cop_installed=bool(declared.get("cop_installed")),
                                   version=version)
            endpoints.append((node, service, port))
            results.append(tuple(_declared_handshake(p, rsa_chain, ec_chain if ecdsa else ())
                                 for p in PROFILES))
    inventory = replace(inventory, nodes=tuple(nodes))
    facts = build_facts(inventory, endpoints, results, trust=trust,
                        settings=ProbeSettings(0.0, 0.0, all_ports, METHOD), observed_at=at)
    declared_nodes = tuple(replace(n, tomcat=replace(n.tomcat, source="declared"),
                                   tomcat_ecdsa=_ecdsa_state(n, stores[n.host], version))
                           for n in facts.nodes)
    return replace(facts, source="declared", nodes=declared_nodes,
                   settings=replace(facts.settings, connect_timeout=1.0, handshake_timeout=1.0))


def _ecdsa_state(node: NodeFacts, store: Keystore, version: Version) -> CertState:
    """The declared ``tomcat-ECDSA`` state: from the keystore or the inventory; where
    neither says and the version holds one on every node, unknown, never "not presented"
    (a certificate not downloaded is not one that does not exist)."""
    state = replace(node.tomcat_ecdsa, source="declared")
    if store.tomcat_ecdsa is not None or "tomcat_ecdsa" in node.declared \
            or not uses_ecdsa(version):
        return state
    return CertState("unknown", "declared", note=(
        f"no tomcat-ECDSA certificate was given for {node.host}, and on {version.text} "
        "every node holds one"))


def installed_from_pem(inventory: Inventory) -> dict[str, InstalledCertificates]:
    """The keystores of the nodes that have a ``pem_dir``, for an audit that also probes
    them: what is installed then refines what is presented (auditor.collect.installed)."""
    inventory_dir = Path(inventory.path).parent if inventory.path and Path(
        inventory.path).exists() else None
    found = {}
    for node in inventory.nodes:
        if node.pem_dir:
            folder = node_folder(node, None, inventory_dir, False)
            store = read_keystore(folder, node.host)
            found[node.host] = InstalledCertificates(f"pem:{node.pem_dir}", store.tomcat,
                                                     store.tomcat_ecdsa)
    return found


def _declared_handshake(profile: str, rsa_chain: tuple[x509.Certificate, ...],
                        ec_chain: tuple[x509.Certificate, ...]) -> Handshake:
    if profile == "rsa_only" or (profile == "browser" and not ec_chain):
        if not rsa_chain:
            return Handshake(profile, METHOD, False, 0.0, error=ProbeError(
                "other", "declared: this port presents no RSA certificate"))
        return Handshake(profile, METHOD, True, 0.0, chain=rsa_chain)
    if ec_chain:
        return Handshake(profile, METHOD, True, 0.0, chain=ec_chain)
    return Handshake(profile, METHOD, False, 0.0, error=ProbeError(
        "other", "declared: this port presents no ECDSA certificate"))
