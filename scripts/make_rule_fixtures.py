#!/usr/bin/env python3
"""Record the facts behind the per-rule fixtures: fixtures/facts/<name>.json.

Every file is what the real prober recorded from loopback TLS servers:

- lab scenarios as they are, or with an inventory edit: a node left out, a port that
  refuses connections, an endpoint not probed, a declaration, another running version,
  OS Administration probed too (--all-ports), CUIC and UCCX web services left out as a
  version before they were probed by default recorded them;
- a few clusters the lab has no scenario for, served by this script from certificates
  made with the lab's CAs: a 1024-bit RSA key, multi-server SAN certificates, a chain sent
  out of order, a leaf without an authority key identifier, signatures that do not verify
  (one of them from downloaded certificates, as an offline audit records them), a leaf not
  yet valid;
- an offline audit of a lab scenario from its certificates, one of them not downloaded;
- recorded facts edited afterwards, as a careless or hostile hand would: a node's record
  removed, a certificate state that contradicts its
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
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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
    #: per service, what limits that port's TLS (its protocol versions, suites, groups)
    limits: tuple[tuple[str, Callable[[ssl.SSLContext], None]], ...] = ()


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
                    for limited, limit in node.limits:
                        if limited == service:
                            limit(context)
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


def _only_p521(context: ssl.SSLContext) -> None:
    """ECDHE over P-521 only, a group no browser offers (no RSA key exchange to fall back
    to)."""
    context.set_ciphers("ECDHE:@SECLEVEL=0")
    context.set_ecdh_curve("secp521r1")


def _only_tls11(context: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1


def browsers_refused() -> Facts:
    """A publisher whose Live Data port takes only P-521 and whose notification port only
    TLS 1.1: browsers cannot connect to either; the single-key-type profiles still get
    Live Data's certificates (they take any group OpenSSL has)."""
    node = replace(_node(PUB, "uccx-publisher"),
                   limits=(("live_data", _only_p521), ("notification", _only_tls11)))
    return served_facts("fixture-browsers-refused", "11.5(1)", (node,))
def self_issued_bad_signature() -> Facts:
    """An RSA-CA-signed tomcat beside a self-issued tomcat-ECDSA that another EC key
    signed: its own key does not verify it, so it is neither self-signed nor CA-signed."""
    chain, rsa_key = _rsa_signed(PUB, (PUB,), label=PUB)
    own = pki.issue(PUB, pki.key("fixtures/bad-self-signature", "ec"))
    forged = pki.signed_by_another_key(own, pki.key("fixtures/another-ec-key", "ec"))
    return served_facts("fixture-self-issued-bad-signature", "11.5(1)", (
        Served(PUB, "uccx-publisher", chain, rsa_key, forged),))


def forged_ca_signed() -> Facts:
    """A tomcat that names the lab's RSA issuing CA, sent with that CA, but signed by
    another key: the CA's key does not verify it."""
    ca = pki.hierarchies()
    issued = pki.issue(PUB, pki.key("fixtures/forged-ca-signed", "rsa"), issuer=ca.rsa_issuing)
    forged = pki.signed_by_another_key(issued, pki.key("fixtures/forger", "rsa"))
    return served_facts("fixture-forged-ca-signed", "11.5(1)", (
        Served(PUB, "uccx-publisher", (forged.cert, *forged.chain), forged.key,
               _ec_signed(PUB)),))


def keystore_bad_signature() -> Facts:
    """An offline audit from downloaded certificates: an RSA-CA-signed tomcat, and a
    self-issued tomcat-ECDSA that another EC key signed, which no port is known to
    present."""
    from auditor.collect.offline import Keystore, keystore_facts

    ca = pki.hierarchies()
    chain, _ = _rsa_signed(PUB, (PUB,), label=PUB)
    own = pki.issue(PUB, pki.key("fixtures/bad-self-signature", "ec"))
    forged = pki.signed_by_another_key(own, pki.key("fixtures/another-ec-key", "ec"))
    inventory = Inventory("fixture-keystore-bad-signature", "11.5(1)", (
        Node(PUB, "uccx-publisher", "127.0.0.1", {}, {}),))
    store = Keystore(chain[0], forged.cert, (*chain[1:], *(r.cert for r in ca.roots)))
    return keystore_facts(inventory, {PUB: store}, trust=AgentTrust(
        "file:agent-trust.pem", tuple(r.cert for r in ca.roots)))


def keystore_bad_tomcat_signature() -> Facts:
    """An offline audit from downloaded certificates: a self-issued tomcat that another RSA
    key signed, beside an EC-CA-signed tomcat-ECDSA."""
    from auditor.collect.offline import Keystore, keystore_facts

    ca = pki.hierarchies()
    own = pki.issue(PUB, pki.key("fixtures/bad-tomcat-self-signature", "rsa"))
    forged = pki.signed_by_another_key(own, pki.key("fixtures/another-rsa-key", "rsa"))
    ecdsa = _ec_signed(PUB)
    inventory = Inventory("fixture-keystore-bad-tomcat-signature", "11.5(1)", (
        Node(PUB, "uccx-publisher", "127.0.0.1", {}, {}),))
    store = Keystore(forged.cert, ecdsa.cert, (*ecdsa.chain, *(r.cert for r in ca.roots)))
    return keystore_facts(inventory, {PUB: store}, trust=AgentTrust(
        "file:agent-trust.pem", tuple(r.cert for r in ca.roots)))


def recorded_before_key_usage(facts: Facts) -> Facts:
    """Facts as a version before the key-usage check recorded them: no certificate says
    whether its key usage allows signing the handshake (null here; older files lack the
    field, which reads the same: tests/test_key_usage.py)."""
    return replace(facts, certificates={fp: replace(cert, key_usage_allows_signing=None)
                                        for fp, cert in facts.certificates.items()})


def cli_read(scenario: str, *, version: str, reported: dict[str, str],
             trust: Callable[[str, dict[str, str]], dict[str, str]] | None = None,
             ipsec_expired: tuple[str, ...] = (), cucm: Served | None = None) -> Facts:
    """Probe a lab scenario whose inventory declares ``version``, then refine the facts
    with what each node's VOS CLI prints, as tests/fake_vos_cli.py prints it: the node's
    keystore and a valid ipsec certificate (expired on the hosts in ``ipsec_expired``),
    the lab roots in tomcat-trust (or what ``trust(host, roots)`` gives), and
    ``reported[host]`` (default: that of the publisher) as the active version of show
    version active. ``cucm``: a CUCM server served beside the lab, listed under cucm:."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_vos_cli import _certificate_text

    from auditor.collect.installed import refine_from_cli
    from auditor.collect.vos_cli import CliReading
    from auditor.model.facts import CommandOutput

    def pem(issued: pki.Issued) -> str:
        return issued.cert.public_bytes(serialization.Encoding.PEM).decode()

    roots = {f"lab-root-{i}.pem": pem(issued)
             for i, issued in enumerate(pki.hierarchies().roots)}
    with Lab(scenario) as lab, contextlib.ExitStack() as stack:
        inventory = replace(load_inventory(lab.inventory_path), version=version)
        if cucm is not None:
            served = stack.enter_context(serve((cucm,), version, inventory.cluster))
            inventory = replace(inventory, nodes=(*inventory.nodes, *served.nodes))
        facts = probe(inventory, load_agent_trust(str(lab.agent_trust_path)))
        readings = []
        for node in inventory.nodes:
            if node.host not in lab.certificates:
                continue  # no VOS CLI read there (CUCM)
            certs = lab.certificates[node.host]
            store = trust(node.host, roots) if trust else roots
            ipsec = pem(_ipsec(node.host, expired=node.host in ipsec_expired))
            ecdsa = (_certificate_text("tomcat-ECDSA", pem(certs.tomcat_ecdsa))
                     if certs.tomcat_ecdsa else "Executed command unsuccessfully\n"
                     "Invalid unit: tomcat-ECDSA\n")
            outputs = [
                ("set cli pagination off", "Automatic Pagination is Off\n"),
                ("show version active",
                 f"Active Master Version: {reported.get(node.host, reported[PUB])}\n"
                 "Active Version Installed Software Options:\n"
                 "No Installed Software Options Found.\n"),
                ("show cert own tomcat", _certificate_text("tomcat", pem(certs.tomcat))),
                ("show cert own tomcat-ECDSA", ecdsa),
                ("show cert own ipsec", _certificate_text("ipsec", ipsec)),
                ("show cert list trust", "\n".join(
                    [f"tomcat-trust/{name}: Trust Certificate {name}" for name in store]
                    + ["ipsec-trust/ipsec-node.pem: Trust Certificate"]) + "\n"),
                *((f"show cert trust tomcat-trust/{name}",
                   _certificate_text(f"tomcat-trust/{name}", root))
                  for name, root in store.items())]
            readings.append(CliReading(node.host, "admin", tuple(
                CommandOutput(command, output) for command, output in outputs)))
    return refine_from_cli(facts, readings)
def _ipsec(host: str, *, expired: bool = False) -> pki.Issued:
    """A node's self-signed ipsec certificate, valid for two years, or expired ten days
    before now."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(days=800 if expired else 10)
    return pki.issue(host, pki.key(f"fixtures/ipsec-{host}", "rsa"), san=(host,),
                     not_before=start, not_after=start + dt.timedelta(days=790 if expired
                                                                       else 730))


def _expired_ca() -> str:
    """A CA certificate that expired ten days before now, as PEM."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    issued = pki.issue("UCCX lab retired CA", pki.key("fixtures/retired-ca", "rsa"), ca=True,
                       not_before=now - dt.timedelta(days=3000),
                       not_after=now - dt.timedelta(days=10))
    return issued.cert.public_bytes(serialization.Encoding.PEM).decode()


def _roots_of(kind: str, roots: dict[str, str]) -> dict[str, str]:
    """The lab roots whose key is of ``kind`` (rsa or ec)."""
    want = {"rsa": rsa.RSAPublicKey, "ec": ec.EllipticCurvePublicKey}[kind]
    return {name: text for name, text in roots.items()
            if isinstance(x509.load_pem_x509_certificate(text.encode()).public_key(), want)}


CUCM = f"cucm.{DOMAIN}"


def _cucm(*, critical_eku: bool = False, self_signed: bool = False) -> Served:
    """A CUCM server's tomcat: signed by the lab's RSA issuing CA (or self-signed), with
    an extended key usage marked critical when asked."""
    key = pki.key("fixtures/cucm", "rsa")
    issuer = None if self_signed else pki.hierarchies().rsa_issuing
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CUCM)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=700))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(CUCM)]),
                              critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=critical_eku))
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Served(CUCM, "cucm", (cert, *(() if issuer is None else (issuer.cert,))), key)


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
    "browsers-refused-publisher": browsers_refused,
    "self-issued-bad-signature": self_issued_bad_signature,
    "forged-ca-signed": forged_ca_signed,
    "keystore-bad-signature": keystore_bad_signature,
    "keystore-bad-tomcat-signature": keystore_bad_tomcat_signature,
    "row3-recorded-before-key-usage": lambda: recorded_before_key_usage(
        lab_facts("row3-ec-signed-ecdsa")),
    # what a version before CUIC 8444 and UCCX web services 443 were probed by default
    # recorded: neither endpoint of either UCCX node is in the facts
    "row3-recorded-before-8444-443": lambda: lab_facts(
        "row3-ec-signed-ecdsa", skip=tuple((host, service) for host in (PUB, SUB)
                                           for service in ("cuic", "platform"))),
    # the VOS CLI of every node read: it reports the version the inventory declares, another
    # one than the inventory, or the subscriber another release than the publisher
    "row3-socialminer-declared-rsa-signed-tomcat-ecdsa": lambda: lab_facts(
        "row3-ec-signed-ecdsa", keep=(SM,), declared={SM: {"tomcat_ecdsa": "rsa_ca_signed"}}),
    "row3-cli-reports-11-5": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"}),
    # the servers' trust stores (issue 22 item 4): all the edges held, ipsec valid
    "row3-cli-trust-complete": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"}),
    # the UCCX tomcat-trust holds only an unrelated, expired CA: SocialMiner's chain (RSA
    # and EC) is missing, and an expired entry is held
    "row3-cli-uccx-lacks-socialminer-chain": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"},
        trust=lambda host, roots: roots if host == SM else {"retired-ca.pem": _expired_ca()}),
    # SocialMiner's tomcat-trust holds only the EC root: the UCCX tomcat (RSA) is missing;
    # the publisher's ipsec has expired and its store keeps an expired CA beside the roots
    "row3-cli-socialminer-lacks-uccx-tomcat": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"},
        trust=lambda host, roots: (_roots_of("ec", roots) if host == SM else
                                   {**roots, "retired-ca.pem": _expired_ca()} if host == PUB
                                   else roots),
        ipsec_expired=(PUB,)),
    # a CUCM listed under cucm: whose tomcat marks its extended key usage critical; the
    # UCCX stores hold the lab roots, which anchor its chain
    "row3-cli-cucm-critical-extension": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"},
        cucm=_cucm(critical_eku=True)),
    # a self-signed CUCM tomcat that no UCCX store holds
    "row3-cli-cucm-chain-missing": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)", reported={PUB: "11.5.1.10000-61"},
        cucm=_cucm(self_signed=True)),
    "row3-cli-reports-11-5-inventory-12-5": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="12.5(1)", reported={PUB: "11.5.1.10000-61"}),
    "row3-cli-subscriber-reports-11-0": lambda: cli_read(
        "row3-ec-signed-ecdsa", version="11.5(1)",
        reported={PUB: "11.5.1.10000-61", SUB: "11.0.1.10000-44"}),
    "row3-two-publishers": lambda: lab_facts("row3-ec-signed-ecdsa",
                                             roles={SUB: "uccx-publisher"}),
    "row3-subscriber-record-missing": lambda: without_record(
        lab_facts("row3-ec-signed-ecdsa"), SUB),
    "row3-publisher-tomcat-state-contradicted": lambda: state_contradicted(
        lab_facts("row3-ec-signed-ecdsa", keep=(PUB,)), PUB),
    "row3-offline-socialminer-without-tomcat-ecdsa": lambda: offline_facts(
        "row3-ec-signed-ecdsa", without_ecdsa=(SM,)),
    "not-yet-valid": not_yet_valid,
    # a Tomcat instance of the publisher on another tomcat than its other instances: the
    # previous one (restart pending), an expired one; and the keystore read over the VOS CLI
    "restart-pending": lambda: lab_facts("restart-pending"),
    "restart-pending-cli-read": lambda: cli_read(
        "restart-pending", version="11.5(1)", reported={PUB: "11.5.1.10000-61"}),
    "live-data-broken-by-cuic": lambda: lab_facts("live-data-broken-by-cuic"),
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
