#!/usr/bin/env python3
"""Record the facts behind the per-rule fixtures: fixtures/facts/<name>.json.

Every file is what the real prober recorded from loopback TLS servers:

- lab scenarios as they are, or with an inventory edit: a node left out, a port that
  refuses connections, an endpoint not probed, a declaration, another running version,
  CUIC and OS Administration probed too (--all-ports);
- a few clusters the lab has no scenario for, served by this script from certificates
  made with the lab's CAs: a 1024-bit RSA key, multi-server SAN certificates, a chain sent
  out of order, a leaf without an authority key identifier, a leaf not yet valid;
- an offline audit of a lab scenario from its certificates, one of them not downloaded;
- recorded facts edited afterwards, as a careless or hostile hand would: a node's record
  removed, an endpoint recorded twice, a certificate state that contradicts its
  certificate.

The expected findings and outcomes of each (facts, phase, options) (fixtures/expected/, named
by the rule cases in fixtures/rules/<rule-id>/) are written and reviewed by hand; this
script never writes them. Keys, ports and times change on
every run, so after re-running it, run the fixture tests and review what changed:

    python3 scripts/make_rule_fixtures.py            # all
    python3 scripts/make_rule_fixtures.py row4-upgrade-trap weak-rsa-key
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.collect.handshake import Target  # noqa: E402
from auditor.collect.inventory import load_inventory  # noqa: E402
from auditor.collect.observed import build_facts  # noqa: E402
from auditor.collect.offline import Keystore, keystore_facts  # noqa: E402
from auditor.collect.prober import ProbeOptions, probe_all  # noqa: E402
from auditor.collect.trust import AgentTrust, load_agent_trust  # noqa: E402
from auditor.lab import Lab, pki  # noqa: E402
from auditor.lab.scenarios import DOMAIN, get_scenario  # noqa: E402
from auditor.lab.server import scenario_certificates  # noqa: E402
from auditor.model.cluster import DEFAULT_PORTS, Inventory, Node, role_family  # noqa: E402
from auditor.model.facts import Facts, ProbeSettings, save_facts  # noqa: E402
from auditor.model.presentation import presents_ecdsa  # noqa: E402
from auditor.model.versions import Version, uses_ecdsa  # noqa: E402

OUT = ROOT / "fixtures" / "facts"
OPTIONS = ProbeOptions(connect_timeout=3.0, handshake_timeout=3.0)
PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))


def probe(inventory: Inventory, trust: AgentTrust,
          skip: frozenset[tuple[str, str]] = frozenset(), all_ports: bool = False) -> Facts:
    """What ``uccx-audit probe --inventory`` does, optionally leaving (host, service) out."""
    endpoints = [(node, service, port) for node in inventory.nodes
                 for service, port in node.endpoints(all_ports).items()
                 if (node.host, service) not in skip]
    targets = [Target(node.host, port, node.address) for node, _, port in endpoints]
    results = probe_all(targets, OPTIONS)
    settings = ProbeSettings(OPTIONS.connect_timeout, OPTIONS.handshake_timeout, all_ports,
                             "tls13_sigalgs")
    return build_facts(inventory, endpoints, results, trust=trust, settings=settings)


def closed_port(address: str) -> int:
    """A port on ``address`` that nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def lab_facts(scenario: str, *, keep: tuple[str, ...] | None = None,
              refuse: tuple[tuple[str, str], ...] = (), skip: tuple[tuple[str, str], ...] = (),
              declared: dict[str, dict] | None = None, version: str | None = None,
              all_ports: bool = False, undeclare: tuple[tuple[str, str], ...] = (),
              trust: AgentTrust | None = None, roles: dict[str, str] | None = None) -> Facts:
    """Probe a lab scenario after editing its inventory (``trust``: instead of the lab's
    agents' trust, e.g. a system store that lacks the lab's roots; ``roles``: another role
    for a host, which the inventory file itself would refuse)."""
    with Lab(scenario, all_ports=all_ports) as lab:
        inventory = load_inventory(lab.inventory_path)
        nodes = []
        for node in inventory.nodes:
            if keep is not None and node.host not in keep:
                continue
            ports = dict(node.ports)
            for host, service in refuse:
                if host == node.host:
                    ports[service] = closed_port(node.address or "127.0.0.1")
            extra = (declared or {}).get(node.host, {})
            kept = {k: v for k, v in node.declared.items() if (node.host, k) not in undeclare}
            nodes.append(replace(node, ports=ports, declared={**kept, **extra},
                                 role=(roles or {}).get(node.host, node.role)))
        inventory = replace(inventory, nodes=tuple(nodes), version=version or inventory.version)
        return probe(inventory, trust or load_agent_trust(str(lab.agent_trust_path)),
                     frozenset(skip), all_ports)


# -- clusters the lab has no scenario for --------------------------------------------------

@dataclass(frozen=True)
class Served:
    """One node served by this script: its tomcat chain as sent, and its tomcat-ECDSA."""

    host: str
    role: str
    tomcat: tuple[x509.Certificate, ...]
    tomcat_key: pki.PrivateKey
    tomcat_ecdsa: pki.Issued | None = None


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        context: ssl.SSLContext = self.server.context  # type: ignore[attr-defined]
        with contextlib.suppress(ssl.SSLError, OSError), \
                context.wrap_socket(self.request, server_side=True) as tls:
            tls.settimeout(2)
            tls.recv(1)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _pem(certs: tuple[x509.Certificate, ...]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: pki.PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@contextlib.contextmanager
def serve(nodes: tuple[Served, ...], version: str, cluster: str) -> Iterator[Inventory]:
    """Serve every default port of every node on loopback; yield the inventory."""
    servers = []
    inventory_nodes = []
    with tempfile.TemporaryDirectory() as work:
        try:
            for index, node in enumerate(nodes):
                address = f"127.0.0.{21 + index}"
                family = role_family(node.role)
                ports = {}
                for service in DEFAULT_PORTS[family]:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.set_ciphers("DEFAULT:@SECLEVEL=0")
                    chain, key = Path(work, f"{index}-rsa.pem"), Path(work, f"{index}-rsa.key")
                    chain.write_bytes(_pem(node.tomcat))
                    key.write_bytes(_key_pem(node.tomcat_key))
                    context.load_cert_chain(chain, key)
                    # an EC-CA-signed tomcat-ECDSA where the presentation model (the lab's
                    # and the offline audit's) says the port presents it
                    if node.tomcat_ecdsa is not None and presents_ecdsa(
                            family, service, "ec_ca_signed", cop_installed=False,
                            version=Version(version)):
                        ec_chain = Path(work, f"{index}-ec.pem")
                        ec_key = Path(work, f"{index}-ec.key")
                        ec_chain.write_bytes(node.tomcat_ecdsa.chain_pem())
                        ec_key.write_bytes(node.tomcat_ecdsa.key_pem())
                        context.load_cert_chain(ec_chain, ec_key)
                    server = _Server((address, 0), _Handler)
                    server.context = context  # type: ignore[attr-defined]
                    threading.Thread(target=server.serve_forever, daemon=True).start()
                    servers.append(server)
                    ports[service] = server.server_address[1]
                inventory_nodes.append(Node(node.host, node.role, address, ports, {}))
            yield Inventory(cluster, version, tuple(inventory_nodes))
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()


def served_facts(cluster: str, version: str, nodes: tuple[Served, ...]) -> Facts:
    ca = pki.hierarchies()
    trust = AgentTrust("file:agent-trust.pem", tuple(r.cert for r in ca.roots))
    with serve(nodes, version, cluster) as inventory:
        return probe(inventory, trust)


def _rsa_signed(host: str, san: tuple[str, ...], *, label: str) -> tuple[tuple, pki.PrivateKey]:
    issued = pki.issue(host, pki.key(f"fixtures/{label}", "rsa"), issuer=pki.hierarchies()
                       .rsa_issuing, san=san)
    return (issued.cert, *issued.chain), issued.key


def _ec_signed(host: str) -> pki.Issued:
    return pki.issue(host, pki.key(f"fixtures/{host}/ecdsa", "ec"),
                     issuer=pki.hierarchies().ec_root, san=(host,))


def _node(host: str, role: str, *, san: tuple[str, ...] | None = None,
          ecdsa: bool = True, label: str | None = None) -> Served:
    chain, key = _rsa_signed(host, san or (host,), label=label or host)
    return Served(host, role, chain, key, _ec_signed(host) if ecdsa else None)


def weak_rsa_key() -> Facts:
    ca = pki.hierarchies()
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    issued = pki.issue(PUB, key, issuer=ca.rsa_issuing)
    return served_facts("fixture-weak-rsa-key", "11.5(1)", (
        Served(PUB, "uccx-publisher", (issued.cert, *issued.chain), key, _ec_signed(PUB)),))


def multi_server_san(version: str, with_socialminer: bool) -> Callable[[], Facts]:
    def make() -> Facts:
        ecdsa = uses_ecdsa(Version(version))
        san = (PUB, SUB, SM) if with_socialminer else (PUB, SUB)
        shared = _node(PUB, "uccx-publisher", san=san, ecdsa=ecdsa, label="multi-san")
        nodes = [shared, replace(shared, host=SUB, role="uccx-subscriber",
                                 tomcat_ecdsa=_ec_signed(SUB) if ecdsa else None)]
        if with_socialminer:
            nodes.append(_node(SM, "socialminer", ecdsa=ecdsa))
        name = "fixture-multi-server-san" + ("-with-socialminer" if with_socialminer else "")
        return served_facts(name, version, tuple(nodes))
    return make


def chain_out_of_order() -> Facts:
    ca = pki.hierarchies()
    issued = pki.issue(PUB, pki.key("fixtures/out-of-order", "rsa"), issuer=ca.rsa_issuing)
    return served_facts("fixture-chain-out-of-order", "11.5(1)", (
        Served(PUB, "uccx-publisher", (issued.cert, ca.rsa_root2.cert, ca.rsa_issuing.cert),
               issued.key, _ec_signed(PUB)),))


def leaf_without_aki() -> Facts:
    """Browsers build a path for it; an RFC 5280 verifier wants the AKI extension."""
    ca = pki.hierarchies()
    key = pki.key("fixtures/no-aki", "rsa")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUB)]))
            .issuer_name(ca.rsa_issuing.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(PUB)]), critical=False)
            .sign(ca.rsa_issuing.key, hashes.SHA256()))
    return served_facts("fixture-leaf-without-aki", "11.5(1)", (
        Served(PUB, "uccx-publisher", (cert, ca.rsa_issuing.cert), key, _ec_signed(PUB)),))


def ec_leaf_key_usage_refused() -> Facts:
    """A valid CA-signed tomcat beside an EC-signed tomcat-ECDSA whose keyUsage is
    keyEncipherment only: Chromium picks the EC leaf and fails on its key usage."""
    ca = pki.hierarchies()
    key = pki.key("fixtures/ec-key-encipherment-only", "ec")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUB)]))
            .issuer_name(ca.ec_root.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=True, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(PUB)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.ec_root.key.public_key()), critical=False)
            .sign(ca.ec_root.key, hashes.SHA256()))
    chain, rsa_key = _rsa_signed(PUB, (PUB,), label=PUB)
    return served_facts("fixture-ec-leaf-key-usage-refused", "11.5(1)", (
        Served(PUB, "uccx-publisher", chain, rsa_key, pki.Issued(cert, key)),))


def recorded_before_key_usage(facts: Facts) -> Facts:
    """Facts as a version before the key-usage check recorded them: no certificate says
    whether its key usage allows signing the handshake (null here; older files lack the
    field, which reads the same: tests/test_key_usage.py)."""
    return replace(facts, certificates={fp: replace(cert, key_usage_allows_signing=None)
                                        for fp, cert in facts.certificates.items()})


def not_yet_valid() -> Facts:
    """A publisher whose tomcat's validity begins ten days after the probe."""
    ca = pki.hierarchies()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    issued = pki.issue(PUB, pki.key("fixtures/not-yet-valid", "rsa"), issuer=ca.rsa_issuing,
                       san=(PUB,), not_before=now + dt.timedelta(days=10),
                       not_after=now + dt.timedelta(days=740))
    return served_facts("fixture-not-yet-valid", "11.5(1)", (
        Served(PUB, "uccx-publisher", (issued.cert, *issued.chain), issued.key,
               _ec_signed(PUB)),))


def offline_facts(scenario: str, without_ecdsa: tuple[str, ...] = ()) -> Facts:
    """An offline audit of a lab scenario from its nodes' certificates as downloaded (what
    ``--from-pem`` reads), the hosts in ``without_ecdsa`` lacking their tomcat-ECDSA.pem."""
    ca = pki.hierarchies()
    spec = get_scenario(scenario)
    inventory = Inventory(f"lab-{scenario}", spec.version, tuple(
        Node(n.host, n.role, declared={"cop_installed": True} if n.cop_installed else {})
        for n in spec.nodes))
    stores = {}
    for host, held in scenario_certificates(scenario).items():
        ecdsa = None if host in without_ecdsa or held.tomcat_ecdsa is None \
            else held.tomcat_ecdsa
        stores[host] = Keystore(held.tomcat.cert, ecdsa.cert if ecdsa else None,
                                (*held.tomcat_sent_chain, *(ecdsa.chain if ecdsa else ()),
                                 ca.rsa_issuing.cert))
    trust = AgentTrust("file:agent-trust.pem", tuple(r.cert for r in ca.roots))
    return keystore_facts(inventory, stores, trust=trust)


def without_record(facts: Facts, host: str) -> Facts:
    """The facts with one node's record removed and their roster left as it was: a file
    edited after it was written."""
    return replace(facts, nodes=tuple(n for n in facts.nodes if n.host != host))


def recorded_twice(facts: Facts, host: str, service: str) -> Facts:
    """The facts with a second record of one endpoint, holding another endpoint's
    handshakes (two records that disagree)."""
    nodes = []
    for node in facts.nodes:
        if node.host == host:
            first = node.endpoint(service)
            other = next(e for e in node.endpoints if e.service != service)
            node = replace(node, endpoints=(*node.endpoints, replace(
                first, port=first.port + 1, handshakes=other.handshakes)))
        nodes.append(node)
    return replace(facts, nodes=tuple(nodes))


def state_contradicted(facts: Facts, host: str) -> Facts:
    """The facts with one node's recorded tomcat state changed to self-signed while the
    certificate it names (and every port) shows a CA-signed one."""
    return replace(facts, nodes=tuple(
        replace(n, tomcat=replace(n.tomcat, state="self_signed")) if n.host == host else n
        for n in facts.nodes))


RECIPES: dict[str, Callable[[], Facts]] = {
    **{name: (lambda name=name: lab_facts(name)) for name in (
        "row1-self-signed", "row2-rsa-signed-ecdsa", "row3-ec-signed-ecdsa",
        "row4-upgrade-trap", "cop-uccx", "cop-socialminer", "pre-upgrade-ca-signed",
        "pre-upgrade-self-signed", "mixed-cluster")},
    **{f"{name}-publisher": (lambda name=name: lab_facts(name, keep=(PUB,))) for name in (
        "hygiene-expired", "hygiene-sha1", "hygiene-cn-without-san", "hygiene-wrong-host",
        "hygiene-missing-intermediate", "hygiene-wildcard")},
    "row1-publisher-all-ports": lambda: lab_facts("row1-self-signed", keep=(PUB,),
                                                  all_ports=True),
    "row4-publisher-live-data-refused": lambda: lab_facts(
        "row4-upgrade-trap", keep=(PUB,), refuse=((PUB, "live_data"),)),
    "row4-publisher-finesse-refused": lambda: lab_facts(
        "row4-upgrade-trap", keep=(PUB,), refuse=((PUB, "finesse"),)),
    "row3-publisher-live-data-not-probed": lambda: lab_facts(
        "row3-ec-signed-ecdsa", keep=(PUB,), skip=((PUB, "live_data"),)),
    "row2-uccx-declared-rsa-signed-tomcat-ecdsa": lambda: lab_facts(
        "row2-rsa-signed-ecdsa", declared={PUB: {"tomcat_ecdsa": "rsa_ca_signed"},
                                           SUB: {"tomcat_ecdsa": "rsa_ca_signed"}}),
    "row4-socialminer-cop-declared": lambda: lab_facts(
        "row4-upgrade-trap", keep=(SM,), declared={SM: {"cop_installed": True}}),
    "row3-running-12-5": lambda: lab_facts("row3-ec-signed-ecdsa", version="12.5(1)"),
    "row3-running-11-0": lambda: lab_facts("row3-ec-signed-ecdsa", version="11.0(1)"),
    "pre-upgrade-ca-signed-running-12-5": lambda: lab_facts("pre-upgrade-ca-signed",
                                                            version="12.5(1)"),
    "row1-publisher-finesse-refused": lambda: lab_facts(
        "row1-self-signed", keep=(PUB,), refuse=((PUB, "finesse"),)),
    "row4-system-trust": lambda: lab_facts("row4-upgrade-trap",
                                           trust=AgentTrust("system", ())),
    "row3-publisher-trust-without-lab-roots": lambda: lab_facts(
        "row3-ec-signed-ecdsa", keep=(PUB,), trust=AgentTrust("file:other-roots.pem", ())),
    "socialminer-rsa-only-undeclared": lambda: lab_facts(
        "cop-socialminer", keep=(SM,), undeclare=((SM, "cop_installed"),)),
    "weak-rsa-key": weak_rsa_key,
    "multi-server-san": multi_server_san("11.5(1)", with_socialminer=False),
    "multi-server-san-12-5": multi_server_san("12.5(1)", with_socialminer=False),
    "multi-server-san-11-6-1": multi_server_san("11.6(1)", with_socialminer=False),
    "multi-server-san-11-6-2": multi_server_san("11.6(2)", with_socialminer=False),
    "multi-server-san-with-socialminer": multi_server_san("12.5(1)", with_socialminer=True),
    "chain-out-of-order": chain_out_of_order,
    "leaf-without-aki": leaf_without_aki,
    "ec-leaf-key-usage-refused": ec_leaf_key_usage_refused,
    "row3-recorded-before-key-usage": lambda: recorded_before_key_usage(
        lab_facts("row3-ec-signed-ecdsa")),
    "row3-two-publishers": lambda: lab_facts("row3-ec-signed-ecdsa",
                                             roles={SUB: "uccx-publisher"}),
    "row3-subscriber-record-missing": lambda: without_record(
        lab_facts("row3-ec-signed-ecdsa"), SUB),
    "row3-publisher-finesse-recorded-twice": lambda: recorded_twice(
        lab_facts("row3-ec-signed-ecdsa", keep=(PUB,)), PUB, "finesse"),
    "row3-publisher-tomcat-state-contradicted": lambda: state_contradicted(
        lab_facts("row3-ec-signed-ecdsa", keep=(PUB,)), PUB),
    "row3-offline-socialminer-without-tomcat-ecdsa": lambda: offline_facts(
        "row3-ec-signed-ecdsa", without_ecdsa=(SM,)),
    "not-yet-valid": not_yet_valid,
}


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        sys.exit(f"unknown fixture {', '.join(unknown)}; expected: {', '.join(RECIPES)}")
    for name in names or list(RECIPES):
        path = save_facts(RECIPES[name](), OUT / f"{name}.json")
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
