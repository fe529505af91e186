"""The ``browser`` profile offers what Chromium offers: the ClientHello of the installed
Chromium and that of the profile, both recorded by a loopback listener, offer the same
protocol versions, groups, key shares, cipher suites and signature algorithms."""

from __future__ import annotations

import contextlib
import queue
import re
import socket
import subprocess

import pytest
from cdp import Browser, chromium_path, host_resolver_rules
from servers import serve

from auditor.collect.handshake import Target
from auditor.collect.prober import ProbeOptions, handshake
from auditor.collect.profiles import CHROMIUM, left_out

pytestmark = pytest.mark.timeout(180)

HOST = "offer.browser.example"
OPTIONS = ProbeOptions(connect_timeout=5, handshake_timeout=5)


# -- the offer, as it goes on the wire ------------------------------------------------------

def _grease(value: int) -> bool:
    """RFC 8701's reserved values (0x0a0a, 0x1a1a, ... 0xfafa), which Chromium sprinkles."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _u16s(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]


def parse_client_hello(record: bytes) -> dict[str, list[int]]:
    """What a ClientHello offers, GREASE left out: versions, groups, key shares, suites,
    signature algorithms (as their IANA numbers)."""
    body = record[5:5 + int.from_bytes(record[3:5], "big")]
    assert record[0] == 0x16 and body[0] == 1, record[:8].hex()
    at = 4 + 2 + 32
    at += 1 + body[at]  # session id
    size = int.from_bytes(body[at:at + 2], "big")
    suites = _u16s(body[at + 2:at + 2 + size])
    at += 2 + size
    at += 1 + body[at]  # compression methods
    end = at + 2 + int.from_bytes(body[at:at + 2], "big")
    at += 2
    offer: dict[str, list[int]] = {"suites": suites}
    while at < end:
        kind, size = int.from_bytes(body[at:at + 2], "big"), int.from_bytes(
            body[at + 2:at + 4], "big")
        data = body[at + 4:at + 4 + size]
        at += 4 + size
        if kind == 43:
            offer["versions"] = _u16s(data[1:1 + data[0]])
        elif kind == 10:
            offer["groups"] = _u16s(data[2:])
        elif kind == 13:
            offer["sigalgs"] = _u16s(data[2:])
        elif kind == 51:
            shares, inner = [], 2
            while inner < len(data):
                shares.append(int.from_bytes(data[inner:inner + 2], "big"))
                inner += 4 + int.from_bytes(data[inner + 2:inner + 4], "big")
            offer["key_shares"] = shares
    return {name: [v for v in values if not _grease(v)] for name, values in offer.items()}


@contextlib.contextmanager
def recording() -> contextlib.AbstractContextManager:
    """A loopback listener that keeps the first TLS record of each connection and closes."""
    hellos: queue.Queue[bytes] = queue.Queue()

    def keep(conn: socket.socket) -> None:
        data = b""
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        hellos.put(data)

    with serve(keep, connections=16) as port:
        yield port, hellos


@pytest.fixture(scope="module")
def offers() -> dict[str, dict[str, list[int]]]:
    with recording() as (port, hellos):
        with Browser(extra_flags=(host_resolver_rules({HOST: "127.0.0.1"}),)) as browser:
            browser.load_errors([f"https://{HOST}:{port}/"])
        chromium = hellos.get(timeout=30)
        while not hellos.empty():  # Chromium may try again; the first is its offer
            hellos.get_nowait()
        handshake(Target(HOST, port, "127.0.0.1"), "browser", OPTIONS)
        ours = hellos.get(timeout=30)
    return {"chromium": parse_client_hello(chromium), "profile": parse_client_hello(ours)}


def test_the_offer_was_read_from_the_chromium_installed() -> None:
    done = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    installed = re.search(r"(\d+)\.\d+\.\d+\.\d+", done.stdout)
    assert installed, done.stdout
    # the major version: a new Chromium may change its offer; capture it again then
    assert installed.group(1) == CHROMIUM.split(".")[0], (installed.group(0), CHROMIUM)
    assert left_out("browser") == (), "this OpenSSL cannot offer all of Chromium's offer"


def test_the_browser_profile_offers_what_chromium_offers(offers) -> None:
    """Protocol versions, groups (in order), key shares, TLS 1.3 and 1.2 suites (in order)
    and signature algorithms (in order): the same numbers on the wire."""
    chromium, profile = offers["chromium"], dict(offers["profile"])
    # OpenSSL signals secure renegotiation with this suite, Chromium with an extension
    profile["suites"] = [s for s in profile["suites"] if s != 0x00FF]
    parts = ("versions", "groups", "key_shares", "suites", "sigalgs")
    assert {p: [f"{v:04x}" for v in profile[p]] for p in parts} == {
        p: [f"{v:04x}" for v in chromium[p]] for p in parts}
