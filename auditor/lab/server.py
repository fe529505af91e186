"""Serve a lab scenario: one loopback TLS endpoint per node and port, as docs/domain.md says."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import shutil
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from auditor.collect.certs import fingerprint
from auditor.collect.inventory import inventory_to_yaml
from auditor.common.fileio import write_atomic
from auditor.lab import pki
from auditor.lab.scenarios import (
    DOMAIN,
    EC_CA,
    NOT_CREATED,
    RSA_CA,
    SELF_SIGNED,
    NodeSpec,
    Scenario,
    get_scenario,
)
from auditor.model.cluster import Inventory, Node, default_ports, role_family
from auditor.model.facts import CommandOutput
from auditor.model.presentation import ecdsa_ports
from auditor.model.presentation import presents_ecdsa as _presents_ecdsa
from auditor.model.solution import current
from auditor.model.versions import Version


@dataclass(frozen=True)
class NodeCertificates:
    """The certificates a lab node holds in its keystore."""

    tomcat: pki.Issued
    tomcat_ecdsa: pki.Issued | None
    #: the chain the server sends after the tomcat leaf (a defect may drop the intermediate)
    tomcat_sent_chain: tuple[Any, ...]
    #: the Tomcat instances (services) that present another tomcat certificate than the
    #: keystore's: the certificate and the chain each sends
    instances: Mapping[str, tuple[pki.Issued, tuple[Any, ...]]] = field(default_factory=dict)

    def tomcat_of(self, service: str) -> tuple[pki.Issued, tuple[Any, ...]]:
        """The tomcat certificate and chain an endpoint of the node presents."""
        return self.instances.get(service, (self.tomcat, self.tomcat_sent_chain))


@dataclass(frozen=True)
class LabEndpoint:
    """One listening lab endpoint and what it presents."""

    host: str
    role: str
    service: str
    address: str
    port: int
    rsa: pki.Issued
    rsa_sent_chain: tuple[Any, ...]
    ecdsa: pki.Issued | None

    def expected_leaf(self, profile: str) -> str | None:
        """The leaf fingerprint each client profile must receive (None: no handshake)."""
        rsa_fp = fingerprint(self.rsa.cert)
        ec_fp = fingerprint(self.ecdsa.cert) if self.ecdsa else None
        return {"browser": ec_fp or rsa_fp, "ecdsa_only": ec_fp, "rsa_only": rsa_fp}[profile]


def _make_tomcat(spec: NodeSpec, defect: str | None = None,
                 label: str = "tomcat") -> tuple[pki.Issued, tuple[Any, ...]]:
    ca = pki.hierarchies()
    rsa_key = pki.key(f"{spec.host}/{label}", "rsa")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cn, san, hash_name = spec.host, None, "sha256"
    not_before = not_after = None
    defect = spec.defect if defect is None else defect
    if defect == "expired":
        not_before, not_after = now - dt.timedelta(days=400), now - dt.timedelta(days=10)
    elif defect == "sha1":
        hash_name = "sha1"
    elif defect == "cn_without_san":
        san = ()
    elif defect == "wrong_host":
        cn = f"uccx-old.{DOMAIN}"
    elif defect == "wildcard":
        cn = f"*.{DOMAIN}"
    elif defect == "previous":
        # the certificate the node held before the last upload: same name, older key
        not_before = now - dt.timedelta(days=200)
    issuer = None if spec.tomcat == SELF_SIGNED else ca.rsa_issuing
    issued = pki.issue(cn, rsa_key, issuer=issuer, san=san, hash_name=hash_name,
                       not_before=not_before, not_after=not_after)
    sent = () if defect == "missing_intermediate" else issued.chain
    return issued, sent


def _make_tomcat_ecdsa(spec: NodeSpec) -> pki.Issued | None:
    if spec.tomcat_ecdsa == NOT_CREATED:
        return None
    ca = pki.hierarchies()
    ec_key = pki.key(f"{spec.host}/tomcat-ecdsa", "ec")
    issuer = {SELF_SIGNED: None, RSA_CA: ca.rsa_issuing, EC_CA: ca.ec_root}[spec.tomcat_ecdsa]
    common_name = f"{spec.host.split('.')[0]}-EC.{DOMAIN}" if issuer is None else spec.host
    return pki.issue(common_name, ec_key, issuer=issuer, san=(spec.host,))


def scenario_certificates(scenario: Scenario | str) -> dict[str, NodeCertificates]:
    """Each node's keystore for a scenario, by host, made as :class:`Lab` makes it.

    Nothing is started: another server (a real Tomcat in the tests) can present the same
    certificates, and a :class:`Lab` given them presents exactly the same leaves.
    """
    scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
    certificates = {}
    for spec in scenario.nodes:
        tomcat, sent = _make_tomcat(spec)
        instances = {service: _make_tomcat(spec, defect, f"tomcat-{service}-{defect}")
                     for service, defect in spec.instances}
        certificates[spec.host] = NodeCertificates(tomcat, _make_tomcat_ecdsa(spec), sent,
                                                   instances)
    return certificates


def agent_trust_pem() -> bytes:
    """The lab's roots as one PEM bundle: what the lab's agents' browsers trust."""
    return b"".join(r.cert.public_bytes(serialization.Encoding.PEM)
                    for r in pki.hierarchies().roots)


def presents_ecdsa(spec: NodeSpec, service: str, version: Version) -> bool:
    """The table in docs/domain.md, "Who presents which certificate"
    (``auditor.model.presentation``): who presents ``tomcat-ECDSA`` where."""
    return _presents_ecdsa(role_family(spec.role), service,
                           None if spec.tomcat_ecdsa == NOT_CREATED else spec.tomcat_ecdsa,
                           cop_installed=spec.cop_installed, version=version)


def expected_state(spec: NodeSpec, version: Version, which: str) -> str:
    """The derived ``tomcat`` / ``tomcat_ecdsa`` state the prober must report."""
    if which == "tomcat":
        return spec.tomcat
    if not any(presents_ecdsa(spec, s, version) for s in ecdsa_ports(role_family(spec.role))):
        return "not_presented"
    return spec.tomcat_ecdsa


class Lab:
    """A running lab scenario. Use as a context manager; everything stays on loopback."""

    def __init__(self, scenario: Scenario | str, workdir: str | Path | None = None, *,
                 all_ports: bool = False, max_tls: str = "1.3",
                 first_address: int = 11,
                 certificates: Mapping[str, NodeCertificates] | None = None,
                 cluster: str | None = None) -> None:
        """``certificates`` (from :func:`scenario_certificates`): present these rather than
        new ones made at start; ``cluster``: the inventory's cluster name (default
        ``lab-<scenario>``), as one cluster's labs before and after a change share."""
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.version = Version(self.scenario.version)
        self.all_ports = all_ports
        self.max_tls = max_tls
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="uccx-lab-"))
        self._first_address = first_address
        self.cluster = cluster or f"lab-{self.scenario.name}"
        self.endpoints: list[LabEndpoint] = []
        self.certificates: dict[str, NodeCertificates] = dict(certificates or {})
        hosts = {n.host for n in self.scenario.nodes}
        if certificates is not None and set(self.certificates) != hosts:
            raise ValueError(f"certificates for {sorted(self.certificates)}, but scenario "
                             f"{self.scenario.name} has nodes {sorted(hosts)}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.base_events.Server] = []

    # -- paths written for the prober -------------------------------------------------
    @property
    def inventory_path(self) -> Path:
        return self.workdir / "inventory.yaml"

    @property
    def agent_trust_path(self) -> Path:
        return self.workdir / "agent-trust.pem"

    def node_spec(self, host: str) -> NodeSpec:
        return next(n for n in self.scenario.nodes if n.host == host)

    def expected_states(self) -> dict[str, dict[str, str]]:
        return {n.host: {"tomcat": expected_state(n, self.version, "tomcat"),
                         "tomcat_ecdsa": expected_state(n, self.version, "tomcat_ecdsa")}
                for n in self.scenario.nodes}

    # -- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Make the certificates, bind every endpoint, write inventory and agent trust."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "keys").mkdir(exist_ok=True)
        if not self.certificates:
            self.certificates = scenario_certificates(self.scenario)
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(lambda loop, context: None)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(ready.set)
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="uccx-lab", daemon=True)
        self._thread.start()
        ready.wait(10)
        try:
            asyncio.run_coroutine_threadsafe(self._bind_all(), self._loop).result(30)
        except BaseException:
            self.stop()
            raise
        self._write_inventory()
        write_atomic(self.agent_trust_path, agent_trust_pem())

    def stop(self) -> None:
        """Close every listener and the event loop; remove a temporary work folder."""
        if self._loop is not None and self._thread is not None:
            async def close() -> None:
                for server in self._servers:
                    server.close()
                for server in self._servers:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(server.wait_closed(), 2)
                # connections still open (a browser's spare socket) end before the loop does
                for _ in range(3):
                    await asyncio.sleep(0)
                    sessions = asyncio.all_tasks() - {asyncio.current_task()}
                    if not sessions:
                        break
                    for session in sessions:
                        session.cancel()
                    await asyncio.wait(sessions, timeout=2)
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._loop = self._thread = None
            self._servers = []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- internals --------------------------------------------------------------------
    def _services(self, spec: NodeSpec) -> list[str]:
        return list(default_ports(role_family(spec.role), all_ports=self.all_ports))

    def _context(self, spec: NodeSpec, certs: NodeCertificates, ecdsa: bool,
                 service: str = "") -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = (ssl.TLSVersion.TLSv1_3 if self.max_tls == "1.3"
                               else ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # the hygiene cases include SHA-1
        ctx.options |= ssl.OP_NO_TICKET
        # The client's order decides between the two certificates (TLS 1.3 signature
        # algorithms, TLS 1.2 suites), as on Tomcat, whose honorCipherOrder is off by default.
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        keys = self.workdir / "keys"
        name = spec.host.split(".")[0]
        own = service in certs.instances
        tomcat, sent_chain = certs.tomcat_of(service)
        stem = f"{name}-{service}-tomcat" if own else f"{name}-tomcat"
        rsa_chain = keys / f"{stem}.pem"
        rsa_key = keys / f"{stem}.key"
        if not rsa_chain.exists():
            write_atomic(rsa_chain, b"".join(
                c.public_bytes(serialization.Encoding.PEM)
                for c in (tomcat.cert, *sent_chain)))
            write_atomic(rsa_key, tomcat.key_pem())
        ctx.load_cert_chain(rsa_chain, rsa_key)
        if ecdsa and certs.tomcat_ecdsa is not None:
            ec_chain = keys / f"{name}-tomcat-ecdsa.pem"
            ec_key = keys / f"{name}-tomcat-ecdsa.key"
            if not ec_chain.exists():
                write_atomic(ec_chain, certs.tomcat_ecdsa.chain_pem())
                write_atomic(ec_key, certs.tomcat_ecdsa.key_pem())
            ctx.load_cert_chain(ec_chain, ec_key)
        return ctx

    async def _bind_all(self) -> None:
        for index, spec in enumerate(self.scenario.nodes):
            address = f"127.0.0.{self._first_address + index}"
            certs = self.certificates[spec.host]
            for service in self._services(spec):
                ecdsa = presents_ecdsa(spec, service, self.version)
                ctx = self._context(spec, certs, ecdsa, service)
                server = await asyncio.start_server(
                    functools.partial(tls_session, ctx), address, 0)
                self._servers.append(server)
                port = server.sockets[0].getsockname()[1]
                self.endpoints.append(LabEndpoint(
                    spec.host, spec.role, service, address, port,
                    *certs.tomcat_of(service), certs.tomcat_ecdsa if ecdsa else None))

    def vos_cli_holdings(self) -> dict[str, dict[str, Any]]:
        """What each node's VOS CLI shows, per host: ``tomcat``, ``tomcat_ecdsa`` and
        ``ipsec`` (PEM or None) and ``trust`` (entry name -> PEM): every lab root, less, for
        each edge the scenario names in ``trust_missing``, the roots that anchor the
        trusted side's chain in the truster's store. The same dictionary configures the
        tests' fake VOS CLI."""

        def pem(cert: Any) -> str:
            return cert.public_bytes(serialization.Encoding.PEM).decode()

        roots = {f"lab-root-{i}.pem": issued.cert
                 for i, issued in enumerate(pki.hierarchies().roots)}
        edges = {e.id: e for e in current().trust if e.id}
        out = {}
        for spec in self.scenario.nodes:
            certs = self.certificates[spec.host]
            store = dict(roots)
            for edge_id in self.scenario.trust_missing:
                edge = edges[edge_id]
                if role_family(spec.role) != edge.truster:
                    continue
                for other in self.scenario.nodes:
                    if role_family(other.role) != edge.trusts:
                        continue
                    theirs = self.certificates[other.host]
                    held = theirs.tomcat if edge.unit == "tomcat" else theirs.tomcat_ecdsa
                    if held is None:
                        continue
                    issuers = {c.issuer for c in (held.cert, *held.chain)}
                    store = {n: c for n, c in store.items() if c.subject not in issuers}
            ipsec = pki.issue(spec.host, pki.key(f"lab/ipsec-{spec.host}", "rsa"),
                              san=(spec.host,))
            out[spec.host] = {
                "tomcat": pem(certs.tomcat.cert),
                "tomcat_ecdsa": pem(certs.tomcat_ecdsa.cert) if certs.tomcat_ecdsa else None,
                "ipsec": pem(ipsec.cert),
                "trust": {name: pem(cert) for name, cert in store.items()}}
        return out

    def vos_cli_readings(self) -> list[Any]:
        """Each node's VOS CLI session as the collector keeps it (``CliReading``): the
        commands the collector sends and what a VOS CLI prints for
        :meth:`vos_cli_holdings`, PEM blocks inside free text."""
        from auditor.collect.vos_cli import COMMANDS, TRUST_UNIT, CliReading

        def shown(unit: str, text: str | None) -> str:
            if text is None:
                return f"Executed command unsuccessfully\nInvalid unit: {unit}\n"
            return f"[\n  Version: V3\n  Unit: {unit}\n]\n\n{text}"

        readings = []
        for host, held in self.vos_cli_holdings().items():
            answers = {
                "set cli pagination off": "Automatic Pagination is Off\n",
                "show version active": "Active Master Version: "
                f"{_vos_version(self.scenario.version)}\nActive Version Installed Software "
                "Options:\nNo Installed Software Options Found.\n",
                "show cert own tomcat": shown("tomcat", held["tomcat"]),
                "show cert own tomcat-ECDSA": shown("tomcat-ECDSA", held["tomcat_ecdsa"]),
                "show cert own ipsec": shown("ipsec", held["ipsec"]),
                "show cert list trust": "".join(
                    f"{TRUST_UNIT}/{name}: Trust Certificate\n" for name in held["trust"])}
            outputs = [CommandOutput(c, answers[c]) for c in COMMANDS]
            outputs += [CommandOutput(f"show cert trust {TRUST_UNIT}/{name}",
                                      shown(f"{TRUST_UNIT}/{name}", text))
                        for name, text in held["trust"].items()]
            readings.append(CliReading(host, "admin", tuple(outputs)))
        return readings

    def inventory(self) -> Inventory:
        nodes = []
        for index, spec in enumerate(self.scenario.nodes):
            ports = {e.service: e.port for e in self.endpoints if e.host == spec.host}
            declared = {"cop_installed": True} if spec.cop_installed else {}
            nodes.append(Node(host=spec.host, role=spec.role,
                              address=f"127.0.0.{self._first_address + index}",
                              ports=ports, declared=declared))
        return Inventory(cluster=self.cluster, version=self.scenario.version,
                         nodes=tuple(nodes), path=str(self.inventory_path))

    def _write_inventory(self) -> None:
        header = (f"# uccx-cert-auditor lab: {self.scenario.name}\n"
                  f"# {self.scenario.summary}\n")
        write_atomic(self.inventory_path, header + inventory_to_yaml(self.inventory()))


def _vos_version(release: str) -> str:
    """How ``show version active`` prints a release: 11.5(1) as 11.5.1.10000-1."""
    major_minor, _, rest = release.partition("(")
    return f"{major_minor}.{rest.rstrip(')') or '1'}.10000-1"


@dataclass(frozen=True)
class LabCliSource:
    """The lab's own VOS CLI as a source of facts (stage ``SHELL``): what
    :meth:`Lab.vos_cli_readings` shows refines the probed facts exactly as a real reading
    over SSH does (:func:`auditor.collect.installed.refine_from_cli`)."""

    lab: Lab
    name: str = "vos_cli"

    @property
    def stage(self) -> Any:
        from auditor.collect.sources import Stage

        return Stage.SHELL

    def covers(self, inventory: Inventory) -> bool:
        return False

    def read(self, inventories: Any, whole: Any) -> list[Any]:
        from auditor.collect.installed import refine_from_cli
        from auditor.collect.sources import Reading

        readings = self.lab.vos_cli_readings()
        return [Reading(self.name, refine=lambda facts: refine_from_cli(facts, readings))
                for _ in inventories]


_PAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
         b"Content-Length: 43\r\nConnection: close\r\n\r\n"
         b"<!doctype html><title>lab</title><p>lab</p>")
_IDLE = 10.0


async def tls_session(ctx: ssl.SSLContext, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, *, latency: float = 0.0) -> None:
    """TLS over memory BIOs, so that a failed handshake still sends its alert as a real
    server does; after the handshake, answer one HTTP request with a tiny page.
    ``latency``: answer the client's first flight this many seconds late (a far server)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_side=True)

    async def flush() -> None:
        data = outgoing.read()
        if data:
            writer.write(data)
            await writer.drain()

    async def more() -> bool:
        data = await asyncio.wait_for(reader.read(65536), _IDLE)
        if not data:
            return False
        incoming.write(data)
        return True

    try:
        if latency:
            if not await more():
                return
            await asyncio.sleep(latency)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await flush()
                if not await more():
                    return
        await flush()
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 8192:
            try:
                chunk = tls.read(8192)
                if not chunk:
                    return  # close_notify
                request += chunk
            except ssl.SSLWantReadError:
                if not await more():
                    return
        if request.startswith((b"GET", b"HEAD")):
            tls.write(_PAGE)
            await flush()
    except ssl.SSLError:
        with contextlib.suppress(Exception):
            await flush()  # the alert
    except (asyncio.TimeoutError, OSError, EOFError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)
