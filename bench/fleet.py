"""A fleet of lab endpoints for scale: N loopback TLS endpoints served by a few processes.

A :class:`Fleet` lays N endpoints out as one inventory (a publisher and a subscriber, then
as many SocialMiner nodes as it takes, two ports each), gives every node its own
certificates as in FAQ row 3 (``tomcat`` signed by the lab's RSA issuing CA,
``tomcat-ECDSA`` by its EC root), spreads the nodes over 127.x.y.z addresses and serves
them from several server processes, so that on a small machine the lab is not what limits
the client being measured. Endpoints asked to be *silent* accept the TCP connection and
never answer the ClientHello, as a hung service does: a prober pays one handshake timeout.

Everything stays on loopback; every server process ends when its parent closes its
standard input, and after ``max_life`` seconds in any case.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from auditor.collect.certs import fingerprint
from auditor.collect.inventory import inventory_to_yaml
from auditor.common.fileio import write_atomic
from auditor.lab import pki
from auditor.lab.scenarios import DOMAIN, EC_CA, RSA_CA, NodeSpec
from auditor.lab.server import presents_ecdsa, tls_session
from auditor.model.cluster import DEFAULT_PORTS, EXTRA_UCCX_PORTS, Inventory, Node
from auditor.model.versions import Version

VERSION = "11.5(1)"
#: A fleet server never outlives this, whatever its parent does.
MAX_LIFE_S = 3600.0
#: The checkout, where `python -m bench.fleet` finds both packages.
_CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FleetNode:
    """One node of the fleet: its name, role, loopback address and services."""

    host: str
    role: str
    address: str
    services: tuple[str, ...]
    silent: bool = False


@dataclass(frozen=True)
class FleetEndpoint:
    """One listening endpoint of the fleet and the leaves it presents (SHA-256, hex)."""

    host: str
    role: str
    service: str
    address: str
    port: int
    rsa_leaf: str | None
    ec_leaf: str | None
    silent: bool

    @property
    def leaves(self) -> frozenset[str]:
        return frozenset(fp for fp in (self.rsa_leaf, self.ec_leaf) if fp)


def _address(index: int) -> str:
    """Node ``index``'s loopback address: 127.20.0.10, 127.20.0.11, ... (200 per /24)."""
    return f"127.20.{index // 200}.{10 + index % 200}"


def layout(endpoints: int, *, silent: int = 0, all_ports: bool = False) -> list[FleetNode]:
    """The nodes that make ``endpoints`` endpoints, the last ``silent`` of them silent.

    A publisher and a subscriber (the map's default ports each, and OS Administration too
    with ``all_ports``), then SocialMiner nodes of 2 ports each; silent endpoints are whole
    SocialMiner nodes at the end.
    """
    uccx = (*DEFAULT_PORTS["uccx"], *(EXTRA_UCCX_PORTS if all_ports else ()))
    socialminer = tuple(DEFAULT_PORTS["socialminer"])
    rest = endpoints - 2 * len(uccx)
    if rest < 0 or rest % len(socialminer):
        raise ValueError(f"{endpoints} endpoints cannot be laid out as a publisher and a "
                         f"subscriber of {len(uccx)} ports and SocialMiner nodes of "
                         f"{len(socialminer)}: expected {2 * len(uccx)} + an even number")
    if silent < 0 or silent % len(socialminer) or silent > rest:
        raise ValueError(f"{silent} silent endpoints: expected an even number of at most "
                         f"{rest} (whole SocialMiner nodes)")
    nodes = [FleetNode(f"uccx-pub.{DOMAIN}", "uccx-publisher", _address(0), uccx),
             FleetNode(f"uccx-sub.{DOMAIN}", "uccx-subscriber", _address(1), uccx)]
    count = rest // len(socialminer)
    first_silent = count - silent // len(socialminer)
    for i in range(count):
        nodes.append(FleetNode(f"sm{i + 1:04d}.{DOMAIN}", "socialminer", _address(2 + i),
                               socialminer, silent=i >= first_silent))
    return nodes


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: pki.PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Fleet:
    """N lab endpoints on loopback. Use as a context manager."""

    def __init__(self, endpoints: int, workdir: str | Path | None = None, *, silent: int = 0,
                 all_ports: bool = False, processes: int = 2, latency_ms: float = 0.0,
                 max_life: float = MAX_LIFE_S) -> None:
        """``latency_ms``: every server answers a ClientHello that much later, as a server
        far away (or busy) does."""
        self.nodes = layout(endpoints, silent=silent, all_ports=all_ports)
        self.latency_ms = latency_ms
        self.processes = max(1, processes)
        self.max_life = max_life
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="uccx-fleet-"))
        self.endpoints: list[FleetEndpoint] = []
        self._servers: list[subprocess.Popen] = []
        self._silent: list[socket.socket] = []

    @property
    def inventory_path(self) -> Path:
        return self.workdir / "inventory.yaml"

    @property
    def agent_trust_path(self) -> Path:
        return self.workdir / "agent-trust.pem"

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Issue the certificates, start the server processes, write inventory and trust."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        ca = pki.hierarchies()
        rsa_key = pki.key("fleet/tomcat", "rsa")
        ec_key = pki.key("fleet/tomcat-ecdsa", "ec")
        keys = self.workdir / "keys"
        keys.mkdir(exist_ok=True)
        rsa_key_path, ec_key_path = keys / "tomcat.key", keys / "tomcat-ecdsa.key"
        write_atomic(rsa_key_path, _key_pem(rsa_key))
        write_atomic(ec_key_path, _key_pem(ec_key))
        version = Version(VERSION)
        shares: list[list[dict]] = [[] for _ in range(self.processes)]
        planned: list[tuple[FleetNode, str, str | None, str | None]] = []
        for index, node in enumerate(self.nodes):
            if node.silent:
                planned += [(node, service, None, None) for service in node.services]
                continue
            tomcat = pki.issue(node.host, rsa_key, issuer=ca.rsa_issuing)
            ecdsa = pki.issue(node.host, ec_key, issuer=ca.ec_root, san=(node.host,))
            name = node.host.split(".")[0]
            rsa_chain, ec_chain = keys / f"{name}-tomcat.pem", keys / f"{name}-ecdsa.pem"
            write_atomic(rsa_chain, _pem(tomcat.cert, *tomcat.chain))
            write_atomic(ec_chain, _pem(ecdsa.cert, *ecdsa.chain))
            spec = NodeSpec(name, node.role, RSA_CA, EC_CA)
            for service in node.services:
                ec = presents_ecdsa(spec, service, version)
                shares[index % self.processes].append({
                    "address": node.address,
                    "rsa": [str(rsa_chain), str(rsa_key_path)],
                    "ec": [str(ec_chain), str(ec_key_path)] if ec else None})
                planned.append((node, service, fingerprint(tomcat.cert),
                                fingerprint(ecdsa.cert) if ec else None))
        ports = self._serve(shares)
        silent_ports = self._listen_silent([n for n in self.nodes if n.silent])
        cursors = [0] * self.processes
        live_index = {n.host: i for i, n in enumerate(self.nodes)}
        for node, service, rsa_fp, ec_fp in planned:
            if node.silent:
                port = silent_ports.pop(0)
            else:
                share = live_index[node.host] % self.processes
                port = ports[share][cursors[share]]
                cursors[share] += 1
            self.endpoints.append(FleetEndpoint(node.host, node.role, service, node.address,
                                                port, rsa_fp, ec_fp, node.silent))
        write_atomic(self.inventory_path, f"# uccx-cert-auditor fleet: {len(self.endpoints)} "
                     "endpoints\n" + inventory_to_yaml(self.inventory()))
        write_atomic(self.agent_trust_path, _pem(*(r.cert for r in ca.roots)))

    def _serve(self, shares: list[list[dict]]) -> list[list[int]]:
        ports: list[list[int]] = []
        for number, share in enumerate(shares):
            spec = self.workdir / f"server-{number}.json"
            write_atomic(spec, json.dumps(share))
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.fleet", "serve", str(spec),
                 "--max-life", str(self.max_life), "--latency-ms", str(self.latency_ms)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=_CHECKOUT)
            self._servers.append(process)
        for process in self._servers:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                raise RuntimeError("a fleet server process ended before it listened")
            ports.append(json.loads(line))
        return ports

    def _listen_silent(self, nodes: list[FleetNode]) -> list[int]:
        ports = []
        for node in nodes:
            for _service in node.services:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.bind((node.address, 0))
                listener.listen(64)  # the kernel completes connections; nobody accepts
                self._silent.append(listener)
                ports.append(listener.getsockname()[1])
        return ports

    def stop(self) -> None:
        """End the server processes (they also end when their input closes)."""
        for process in self._servers:
            with contextlib.suppress(OSError):
                if process.stdin:
                    process.stdin.close()
        for process in self._servers:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            if process.stdout:
                process.stdout.close()
        self._servers = []
        for listener in self._silent:
            listener.close()
        self._silent = []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def inventory(self) -> Inventory:
        nodes = []
        for node in self.nodes:
            ports = {e.service: e.port for e in self.endpoints if e.host == node.host}
            nodes.append(Node(host=node.host, role=node.role, address=node.address,
                              ports=ports))
        return Inventory(cluster=f"fleet-{len(self.endpoints)}", version=VERSION,
                         nodes=tuple(nodes), path=str(self.inventory_path))


# -- the server process ------------------------------------------------------------------

def _context(rsa: list[str], ec: list[str] | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_TICKET
    # the client's offer picks the certificate, as on Tomcat (honorCipherOrder off)
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(*rsa)
    if ec:
        ctx.load_cert_chain(*ec)
    return ctx


async def _serve(share: list[dict], max_life: float, latency: float) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, _context: None)
    contexts: dict[tuple, ssl.SSLContext] = {}
    servers, ports = [], []
    for endpoint in share:
        key = (tuple(endpoint["rsa"]), tuple(endpoint["ec"] or ()))
        if key not in contexts:
            contexts[key] = _context(endpoint["rsa"], endpoint["ec"])
        handler = functools.partial(tls_session, contexts[key], latency=latency)
        server = await asyncio.start_server(handler, endpoint["address"], 0, backlog=256)
        servers.append(server)
        ports.append(server.sockets[0].getsockname()[1])
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    closed = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_parent() -> None:
        while await reader.read(4096):
            pass
        closed.set()

    watcher = asyncio.ensure_future(watch_parent())
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(closed.wait(), max_life)
    watcher.cancel()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.fleet serve SPEC``: serve one share of a fleet."""
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--max-life", type=float, default=MAX_LIFE_S)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    share = json.loads(args.spec.read_text(encoding="utf-8"))
    started = time.monotonic()
    asyncio.run(_serve(share, max(0.0, args.max_life - (time.monotonic() - started)),
                       max(0.0, args.latency_ms) / 1000))


if __name__ == "__main__":
    main()
