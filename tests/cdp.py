"""A small Chrome DevTools Protocol client over --remote-debugging-pipe (no extra packages).

Headless Debian Chromium is started with a fresh profile and every background-networking
feature off, so the only traffic is what a test asks for (loopback or file://).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         "--metrics-recording-only", "--mute-audio", "--remote-debugging-pipe")


@dataclass(frozen=True)
class Received:
    """What Chromium's TLS handshake for a page delivered (DevTools' security details)."""

    url: str
    status: int
    protocol: str
    cipher: str
    key_exchange_group: str
    #: the TLS SignatureScheme code the server signed with (0x0403 ecdsa_secp256r1_sha256)
    server_signature_algorithm: int | None
    subject_name: str
    #: DER certificates as Chromium holds them for the origin, the leaf first
    chain: tuple[bytes, ...]


def host_resolver_rules(addresses: Mapping[str, str], literals: Sequence[str] = ()) -> str:
    """``--host-resolver-rules`` value: each FQDN to its loopback address (SNI still carries
    the FQDN), each loopback address in ``literals`` (a URL's host written as an address)
    to itself, and every other name to nothing, so the browser can reach nothing else."""
    for address in (*addresses.values(), *literals):
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"{address} is not a loopback address")
    rules = [f"MAP {host} {address}" for host, address in addresses.items()]
    # Chromium resolves an address in a URL through the rules too; EXCLUDE lets it be
    excluded = [f"EXCLUDE {ipaddress.ip_address(literal)}" for literal in literals]
    return "--host-resolver-rules=" + ", ".join([*rules, "MAP * ~NOTFOUND", *excluded])


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("chromium is not installed: run `sh scripts/test-deps.sh`")


class Browser:
    """One headless Chromium process; ``session()`` opens a page."""

    def __init__(self, extra_flags: tuple[str, ...] = (), timeout: float = 30.0,
                 home: str | None = None) -> None:
        """``home``: the HOME Chromium runs with (its NSS database of trusted roots is
        ``HOME/.pki/nssdb``); default: the caller's."""
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="uccx-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.process = subprocess.Popen(
            [chromium_path(), *FLAGS, f"--user-data-dir={self.profile}", *extra_flags,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=True, pass_fds=(3, 4),
            env=None if home is None else {**os.environ, "HOME": home})
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, dict[str, Any]] = {}
        self._origins: set[str] = set()

    # -- protocol -------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None,
             session: str | None = None) -> dict[str, Any]:
        return self.reply(self.post(method, params, session), method)

    def post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        """Send a command without waiting; :meth:`reply` collects its answer."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        return self._next_id

    def reply(self, command_id: int, method: str = "command") -> dict[str, Any]:
        if command_id in self._replies:
            reply = self._replies.pop(command_id)
        else:
            reply = self._read_until(lambda m: m.get("id") == command_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _read_until(self, matches: Callable[[dict], bool],
                    timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if matches(message):
                    return message
                if "method" in message:
                    self.events.append(message)
                elif "id" in message:
                    self._replies[message["id"]] = message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            readable, _, _ = select.select([self._from_child], [], [], left)
            if readable:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium exited")
                self._buffer += chunk

    def wait_event(self, method: str, session: str | None = None,
                   timeout: float | None = None,
                   where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (for which ``where`` holds)."""
        def wanted(message: dict[str, Any]) -> bool:
            return (message.get("method") == method and message.get("sessionId") == session
                    and (where is None or where(message["params"])))

        for event in self.events:
            if wanted(event):
                self.events.remove(event)
                return event
        return self._read_until(wanted, timeout)

    def session(self) -> str:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        return self.send("Target.attachToTarget", {"targetId": target,
                                                   "flatten": True})["sessionId"]

    def received_certificates(self, urls: Sequence[str],
                              timeout: float | None = None) -> dict[str, Received]:
        """Load every URL at once, each in a new tab, certificate errors ignored; what each
        page's TLS handshake delivered. A page that does not load raises, with Chromium's
        reason.

        Every page makes a full handshake: an origin (host:port) this browser met before
        (a port number the system gave out again) is loaded in a new browser context, with
        no socket or TLS session of its own to reuse.
        """
        urls = list(dict.fromkeys(urls))
        origins = [_origin(url) for url in urls]
        seen = [origin in self._origins for origin in origins]
        self._origins.update(origins)
        contexts = [r["browserContextId"] for r in self._all(
            [("Target.createBrowserContext", {}, None)] * sum(seen))]
        fresh = iter(contexts)
        where = [{"browserContextId": next(fresh)} if again else {} for again in seen]
        targets: list[str] = []
        sessions: list[str] = []
        try:
            targets = [r["targetId"] for r in self._all(
                [("Target.createTarget", {"url": "about:blank", **w}, None) for w in where])]
            sessions = [r["sessionId"] for r in self._all(
                [("Target.attachToTarget", {"targetId": t, "flatten": True}, None)
                 for t in targets])]
            for method, params in (("Network.enable", {}), ("Page.enable", {}),
                                   ("Security.setIgnoreCertificateErrors", {"ignore": True})):
                self._all([(method, params, s) for s in sessions])
            navigations = self._all([("Page.navigate", {"url": u}, s)
                                     for u, s in zip(urls, sessions, strict=True)])
            received = {}
            for url, session, navigation in zip(urls, sessions, navigations, strict=True):
                if navigation.get("errorText"):
                    raise RuntimeError(f"Chromium could not load {url}: "
                                       f"{navigation['errorText']}")
                response = self.wait_event(
                    "Network.responseReceived", session, timeout,
                    where=lambda p: p["type"] == "Document")["params"]["response"]
                details = response.get("securityDetails")
                if details is None:
                    raise RuntimeError(f"{url}: Chromium reports no TLS security details")
                chain = self.send("Network.getCertificate", {"origin": _origin(url)},
                                  session)["tableNames"]
                received[url] = Received(
                    url, response["status"], details["protocol"], details["cipher"],
                    details.get("keyExchangeGroup", ""),
                    details.get("serverSignatureAlgorithm"), details["subjectName"],
                    tuple(base64.b64decode(der) for der in chain))
            return received
        finally:
            with contextlib.suppress(RuntimeError, TimeoutError):
                self._all([("Target.closeTarget", {"targetId": t}, None) for t in targets])
                self._all([("Target.disposeBrowserContext", {"browserContextId": c}, None)
                           for c in contexts])
            self.events = [e for e in self.events if e.get("sessionId") not in sessions]

    def load_errors(self, urls: Sequence[str], timeout: float | None = None,
                    ) -> dict[str, str | None]:
        """Load every URL at once, each in a page of one fresh browser context, certificate
        errors NOT ignored: Chromium's network error per URL (``net::ERR_CERT_INVALID``...),
        or None when the page loaded. Nothing is accepted, and each URL is its own
        host:port, so no page reuses another's connection, TLS session or certificate
        verdict (Chromium keys its verification cache by the whole chain); one context
        instead of one per URL takes a quarter of the time (one renderer, not 32)."""
        urls = list(dict.fromkeys(urls))
        assert len({u.split("/")[2] for u in urls}) == len(urls), "one URL per host:port"
        contexts = [r["browserContextId"] for r in self._all(
            [("Target.createBrowserContext", {}, None)])]
        targets: list[str] = []
        try:
            targets = [r["targetId"] for r in self._all(
                [("Target.createTarget", {"url": "about:blank",
                                          "browserContextId": contexts[0]}, None)
                 for _ in urls])]
            sessions = [r["sessionId"] for r in self._all(
                [("Target.attachToTarget", {"targetId": t, "flatten": True}, None)
                 for t in targets])]
            self._all([("Page.enable", {}, s) for s in sessions])
            navigations = self._all([("Page.navigate", {"url": u}, s)
                                     for u, s in zip(urls, sessions, strict=True)])
            return {url: navigation.get("errorText") or None
                    for url, navigation in zip(urls, navigations, strict=True)}
        finally:
            with contextlib.suppress(RuntimeError, TimeoutError):
                self._all([("Target.closeTarget", {"targetId": t}, None) for t in targets])
                self._all([("Target.disposeBrowserContext", {"browserContextId": c}, None)
                           for c in contexts])

    def _all(self, commands: Sequence[tuple[str, dict, str | None]]) -> list[dict[str, Any]]:
        """Send every command, then collect every answer, in order."""
        posted = [(method, self.post(method, params, session))
                  for method, params, session in commands]
        return [self.reply(command_id, method) for method, command_id in posted]

    def screenshot(self, session: str, path: str) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True}, session)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data["data"]))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
