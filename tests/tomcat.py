"""A real Apache Tomcat 10 (Debian ``tomcat10``) presenting lab scenarios' certificates.

One JVM, started with ``catalina.sh run`` from a private ``CATALINA_BASE``, serves any
number of scenarios ("sites"). Each node of a site gets a loopback address and each of its
services one NIO HTTPS connector, configured as a VOS node is: one ``SSLHostConfig`` that
holds the node's ``tomcat`` certificate as ``<Certificate type="RSA">`` and, on the ports
where docs/domain.md says the node presents it, ``tomcat-ECDSA`` as ``<Certificate type="EC">``
(PEM files: certificateFile, certificateKeyFile, certificateChainFile).

The TLS implementation is JSSE, named on every connector. Tomcat's OpenSSL implementation
is not available with Debian 12's packages: Tomcat 10.1 refuses Tomcat Native 1.2.35
("requires at least version [1.3.9]") and its FFM alternative needs Java 22. Tomcat then
still starts, without the connector, so :meth:`Tomcat.start` checks every port and every
``SEVERE`` log line, not only that the JVM came up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from auditor.collect.inventory import inventory_to_yaml
from auditor.lab.scenarios import Scenario, get_scenario
from auditor.lab.server import (
    LabEndpoint,
    NodeCertificates,
    agent_trust_pem,
    presents_ecdsa,
    scenario_certificates,
)
from auditor.model.cluster import Inventory, Node
from auditor.model.versions import Version

CATALINA_HOME = Path("/usr/share/tomcat10")
INSTALL_HINT = "run `sh scripts/test-deps.sh` (it installs the Debian package tomcat10)"
JSSE = "org.apache.tomcat.util.net.jsse.JSSEImplementation"
#: The JVM's options: a small heap, one GC thread, quick start-up (client compiler only).
CATALINA_OPTS = "-Xmx128m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
_POLL = 0.05
_CONFIGURED = re.compile(r"Connector \[https-(\w+)-nio-([\d.]+)-(\d+)\], TLS virtual host "
                         r"\[_default_\], certificate type \[(\w+)\] configured")


class TomcatError(RuntimeError):
    """Tomcat is missing, did not start, or did not open every connector."""


def catalina_script() -> Path:
    """``catalina.sh`` of the Debian package, or a failure that says what to run."""
    script = CATALINA_HOME / "bin" / "catalina.sh"
    if not script.is_file() or not (CATALINA_HOME / "lib" / "catalina.jar").exists():
        raise TomcatError(f"Apache Tomcat 10 is not installed ({script} is missing): "
                          f"{INSTALL_HINT}")
    return script


@dataclass(frozen=True)
class TomcatSite:
    """One scenario as Tomcat serves it, with the files the prober reads."""

    name: str
    scenario: Scenario
    max_tls: str
    certificates: Mapping[str, NodeCertificates]
    endpoints: tuple[LabEndpoint, ...]
    folder: Path

    @property
    def inventory_path(self) -> Path:
        return self.folder / "inventory.yaml"

    @property
    def agent_trust_path(self) -> Path:
        return self.folder / "agent-trust.pem"

    def inventory(self) -> Inventory:
        """The cluster as an inventory: Tomcat's loopback addresses and ports."""
        nodes = []
        for spec in self.scenario.nodes:
            mine = [e for e in self.endpoints if e.host == spec.host]
            declared = {"cop_installed": True} if spec.cop_installed else {}
            nodes.append(Node(host=spec.host, role=spec.role, address=mine[0].address,
                              ports={e.service: e.port for e in mine}, declared=declared))
        return Inventory(cluster=f"tomcat-{self.name}", version=self.scenario.version,
                         nodes=tuple(nodes), path=str(self.inventory_path))


@dataclass
class Tomcat:
    """A Tomcat 10 with one connector per (site, node, service). A context manager.

    Node *i* of every site listens on ``127.0.0.{first_address + i}`` (one free port per
    connector), so a browser can map each FQDN to one address for all sites.
    """

    workdir: Path
    first_address: int = 101
    start_timeout: float = 60.0
    stop_timeout: float = 15.0
    sites: dict[str, TomcatSite] = field(default_factory=dict, init=False)
    process: subprocess.Popen | None = field(default=None, init=False)
    #: the JVM's process id, which is also its process group (kept after stop)
    pid: int | None = field(default=None, init=False)
    #: seconds from ``catalina.sh run`` to every connector accepting
    started_in: float | None = field(default=None, init=False)
    _sockets: list[socket.socket] = field(default_factory=list, init=False, repr=False)

    @property
    def base(self) -> Path:
        return self.workdir / "base"

    @property
    def log_path(self) -> Path:
        return self.base / "logs" / "catalina.out"

    def address(self, node_index: int) -> str:
        return f"127.0.0.{self.first_address + node_index}"

    def host_addresses(self) -> dict[str, str]:
        """Each node FQDN of every site to its loopback address."""
        mapping: dict[str, str] = {}
        for site in self.sites.values():
            for endpoint in site.endpoints:
                if mapping.setdefault(endpoint.host, endpoint.address) != endpoint.address:
                    raise TomcatError(f"{endpoint.host} has two addresses")
        return mapping

    # -- configuration ------------------------------------------------------------------
    def add_site(self, scenario: Scenario | str, *, max_tls: str = "1.3",
                 certificates: Mapping[str, NodeCertificates] | None = None) -> TomcatSite:
        """Serve a scenario (its own certificates unless given); call before :meth:`start`."""
        if self.process is not None:
            raise TomcatError("add sites before starting Tomcat")
        scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        if max_tls not in ("1.2", "1.3"):
            raise ValueError(f"max_tls {max_tls!r}: expected 1.2 or 1.3")
        name = f"{scenario.name}-tls{max_tls}"
        certificates = certificates or scenario_certificates(scenario)
        version = Version(scenario.version)
        endpoints = []
        for index, spec in enumerate(scenario.nodes):
            address = self.address(index)
            certs = certificates[spec.host]
            for service in Node(spec.host, spec.role).endpoints():
                ecdsa = presents_ecdsa(spec, service, version)
                # an instance of the node's Tomcat may present another tomcat than the
                # keystore's (a scenario's restart pending)
                endpoints.append(LabEndpoint(
                    spec.host, spec.role, service, address, self._reserve_port(address),
                    *certs.tomcat_of(service), certs.tomcat_ecdsa if ecdsa else None))
        site = TomcatSite(name, scenario, max_tls, certificates, tuple(endpoints),
                          self.workdir / "sites" / name)
        self.sites[name] = site
        return site

    def site(self, scenario: str, max_tls: str = "1.3") -> TomcatSite:
        return self.sites[f"{scenario}-tls{max_tls}"]

    def _reserve_port(self, address: str) -> int:
        """A free port on ``address``, held until start so no two connectors share one."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((address, 0))
        self._sockets.append(sock)
        return sock.getsockname()[1]

    def _write_base(self) -> None:
        for folder in ("conf", "logs", "webapps/ROOT", "work", "temp", "keys"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)
        (self.base / "conf" / "server.xml").write_text(self._server_xml())
        (self.base / "conf" / "web.xml").write_text(_WEB_XML)
        (self.base / "conf" / "context.xml").write_text(_CONTEXT_XML)
        (self.base / "webapps" / "ROOT" / "index.html").write_text(_INDEX_HTML)
        for site in self.sites.values():
            site.folder.mkdir(parents=True, exist_ok=True)
            site.inventory_path.write_text(
                f"# Apache Tomcat 10 presenting {site.scenario.name} (TLS {site.max_tls} max)\n"
                + inventory_to_yaml(site.inventory()))
            site.agent_trust_path.write_bytes(agent_trust_pem())

    def _server_xml(self) -> str:
        connectors = "".join(self._connector(site, endpoint) for site in self.sites.values()
                             for endpoint in site.endpoints)
        return _SERVER_XML.format(connectors=connectors)

    def _connector(self, site: TomcatSite, endpoint: LabEndpoint) -> str:
        keys = self.base / "keys" / site.name / f"{endpoint.host}-{endpoint.service}"
        keys.mkdir(parents=True, exist_ok=True)
        certificates = [_certificate("RSA", keys / "tomcat", endpoint.rsa.cert,
                                     endpoint.rsa_sent_chain, endpoint.rsa.key_pem())]
        if endpoint.ecdsa is not None:
            certificates.append(_certificate("EC", keys / "tomcat-ecdsa", endpoint.ecdsa.cert,
                                             endpoint.ecdsa.chain, endpoint.ecdsa.key_pem()))
        protocols = "TLSv1.2+TLSv1.3" if site.max_tls == "1.3" else "TLSv1.2"
        return _CONNECTOR.format(
            address=quoteattr(endpoint.address), port=endpoint.port, implementation=JSSE,
            protocols=quoteattr(protocols), certificates="".join(certificates))

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Tomcat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write ``CATALINA_BASE``, run ``catalina.sh run``, and wait (bounded) until Tomcat
        has started and every connector accepts connections."""
        script = catalina_script()
        if not self.sites:
            raise TomcatError("no site to serve")
        self._write_base()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CATALINA_", "JAVA_OPTS", "JPDA_"))}
        env.update(CATALINA_HOME=str(CATALINA_HOME), CATALINA_BASE=str(self.base),
                   CATALINA_TMPDIR=str(self.base / "temp"), CATALINA_OPTS=CATALINA_OPTS,
                   JAVA_OPTS="-Djava.awt.headless=true")
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            # its own process group (stopped as a whole); SIGTERM if this process dies
            self.process = subprocess.Popen(
                [str(script), "run"], cwd=self.base, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_terminate_with_parent)
        self.pid = self.process.pid
        try:
            self._wait_until_serving(started)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started

    def _wait_until_serving(self, started: float) -> None:
        ports = {(e.address, e.port) for site in self.sites.values() for e in site.endpoints}
        deadline = started + self.start_timeout
        for _ in range(int(self.start_timeout / _POLL) + 1):
            assert self.process is not None
            if self.process.poll() is not None:
                raise TomcatError(f"Tomcat exited with code {self.process.returncode} "
                                  f"while starting:\n{self.log_tail()}")
            log = self.log()
            severe = [line for line in log.splitlines() if line.startswith("SEVERE")]
            if severe:
                raise TomcatError("Tomcat reported errors while starting:\n"
                                  + "\n".join(severe[:10]) + f"\n{self.log_tail()}")
            if "Server startup in" in log:
                closed = sorted(p for p in ports if not _accepts(*p))
                if closed:
                    raise TomcatError(f"Tomcat started without connectors {closed}:\n"
                                      f"{self.log_tail()}")
                return
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL)
        raise TomcatError(f"Tomcat did not start within {self.start_timeout:.0f} s:\n"
                          f"{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to Tomcat's process group (a clean shutdown), SIGKILL if it lingers."""
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    # -- what Tomcat says ---------------------------------------------------------------
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def configured_certificates(self) -> dict[tuple[str, int], tuple[str, list[str]]]:
        """From Tomcat's own log: per connector, the TLS implementation and the certificate
        types it loaded, in order (``jsse``, ``["RSA", "EC"]``)."""
        found: dict[tuple[str, int], tuple[str, list[str]]] = {}
        for implementation, address, port, kind in _CONFIGURED.findall(self.log()):
            found.setdefault((address, int(port)), (implementation, []))[1].append(kind)
        return found


def _certificate(kind: str, stem: Path, cert: x509.Certificate,
                 chain: Sequence[x509.Certificate], key_pem: bytes) -> str:
    pem = serialization.Encoding.PEM
    stem.with_suffix(".pem").write_bytes(cert.public_bytes(pem))
    stem.with_suffix(".key").write_bytes(key_pem)
    attributes = (f"type={quoteattr(kind)} certificateFile={quoteattr(str(stem) + '.pem')} "
                  f"certificateKeyFile={quoteattr(str(stem) + '.key')}")
    if chain:
        stem.with_suffix(".chain.pem").write_bytes(b"".join(c.public_bytes(pem) for c in chain))
        attributes += f" certificateChainFile={quoteattr(str(stem) + '.chain.pem')}"
    return f"\n          <Certificate {attributes}/>"


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


_PR_SET_PDEATHSIG = 1


def _terminate_with_parent() -> None:
    """In the child: have the kernel send SIGTERM if the test process dies first."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def serving(workdir: Path, sites: Iterable[tuple[str, str]]) -> Tomcat:
    """A Tomcat (not started) with ``(scenario, max_tls)`` sites; a scenario served at
    several TLS versions presents the same certificates on each."""
    tomcat = Tomcat(workdir)
    made: dict[str, Mapping[str, NodeCertificates]] = {}
    for scenario, max_tls in sites:
        certificates = made.setdefault(scenario, scenario_certificates(scenario))
        tomcat.add_site(scenario, max_tls=max_tls, certificates=certificates)
    return tomcat


_SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by tests/tomcat.py: loopback only, no shutdown port. -->
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Executor name="uccx-pool" namePrefix="uccx-exec-" maxThreads="32" minSpareThreads="2"/>
{connectors}
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
"""

_CONNECTOR = """    <Connector protocol="org.apache.coyote.http11.Http11NioProtocol"
               sslImplementationName="{implementation}" executor="uccx-pool"
               address={address} port="{port}" SSLEnabled="true" scheme="https"
               secure="true" connectionTimeout="5000">
      <SSLHostConfig protocols={protocols}>{certificates}
      </SSLHostConfig>
    </Connector>
"""

# The global web.xml, cut to the default servlet: enough to serve webapps/ROOT/index.html.
_WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <servlet>
    <servlet-name>default</servlet-name>
    <servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class>
    <load-on-startup>1</load-on-startup>
  </servlet>
  <servlet-mapping>
    <servlet-name>default</servlet-name>
    <url-pattern>/</url-pattern>
  </servlet-mapping>
  <mime-mapping>
    <extension>html</extension>
    <mime-type>text/html</mime-type>
  </mime-mapping>
  <welcome-file-list>
    <welcome-file>index.html</welcome-file>
  </welcome-file-list>
</web-app>
"""

# No jar scanning: nothing here uses TLDs or web fragments, and it halves start-up.
_CONTEXT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Context>
  <JarScanner scanClassPath="false" scanManifest="false"/>
</Context>
"""

INDEX_TITLE = "uccx-audit tomcat"
_INDEX_HTML = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{INDEX_TITLE}"
               "</title></head><body><p>Apache Tomcat 10 as a VOS node.</p></body></html>\n")
