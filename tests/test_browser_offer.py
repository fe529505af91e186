"""The ``browser`` profile offers what Chromium offers, and a server that accepts none of it
is one browsers cannot connect to: ``broken``, never ``works`` and not ``unknown``.

- The ClientHello of the installed Chromium and that of the profile, both recorded by a
  loopback listener, offer the same protocol versions, groups, key shares, cipher suites
  and signature algorithms.
- A server that refuses that offer (an alert, or a ServerHello choosing TLS 1.1 or older)
  is ``browsers-cannot-connect`` for every gadget it serves; one that refuses the TCP
  connection stays ``endpoint-unreachable`` (unknown). The two rules never both fire, and
  one of them always does, whatever a failed browser handshake records.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from cdp import Browser, chromium_path, host_resolver_rules
from cli_runner import invoke
from hypothesis import given, settings
from hypothesis import strategies as st
from OpenSSL import SSL
from rule_cases import FACTS
from servers import free_port, openssl_session, serve

from auditor.collect.handshake import ALERTS, OLDER_VERSIONS, Target
from auditor.collect.openssl_private import set_groups
from auditor.collect.prober import ProbeOptions, handshake
from auditor.collect.profiles import CHROMIUM, left_out
from auditor.common.resources import schema_path
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.lab import pki
from auditor.model.facts import HandshakeFacts, ProbeError, load_facts

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

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


# -- servers that accept none of it -------------------------------------------------------

def _x448_only() -> SSL.Context:
    issued = pki.issue(HOST, pki.key("offer-x448", "rsa"), issuer=pki.hierarchies().rsa_root)
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate(issued.cert)
    ctx.use_privatekey(issued.key)
    assert set_groups(ctx, "X448")
    return ctx


def server_hello(version: int) -> bytes:
    """A ServerHello that chooses ``version`` (and AES128-SHA), as a server that speaks
    nothing newer answers a TLS 1.2 / 1.3 ClientHello."""
    wire = version.to_bytes(2, "big")
    body = wire + bytes(32) + b"\x00" + b"\x00\x2f" + b"\x00" + b"\x00\x05\xff\x01\x00\x01\x00"
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16" + wire + len(message).to_bytes(2, "big") + message


def answer_with(data: bytes):
    def behaviour(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(data)
        threading.Event().wait(2)
    return behaviour


@pytest.mark.parametrize("version", sorted(OLDER_VERSIONS))
def test_a_server_that_chooses_an_older_version_is_refused_by_the_profile(version) -> None:
    with serve(answer_with(server_hello(version))) as port:
        got = handshake(Target(HOST, port, "127.0.0.1"), "browser", OPTIONS)
    assert not got.ok and got.error is not None
    assert got.error.kind == "tls_version", got.error
    assert OLDER_VERSIONS[version] in got.error.detail


def test_chromium_refuses_the_servers_the_audit_calls_broken(tmp_path: Path) -> None:
    """An X448-only publisher and a subscriber that answers with TLS 1.0: Chromium cannot
    load either, and the audit says so (broken, naming host, port and what failed); a
    SocialMiner whose ports refuse the connection stays unknown."""
    closed = free_port()
    with contextlib.ExitStack() as stack:
        x448 = stack.enter_context(serve(openssl_session(_x448_only()), connections=32))
        tls10 = stack.enter_context(serve(answer_with(server_hello(0x0301)), connections=32))
        with Browser(extra_flags=(host_resolver_rules({HOST: "127.0.0.1"}),)) as browser:
            chromium = browser.load_errors([f"https://{HOST}:{x448}/",
                                            f"https://{HOST}:{tls10}/"])
        assert set(chromium.values()) == {"net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH"}, chromium
        inventory = tmp_path / "cluster.yaml"
        inventory.write_text(
            'cluster: refused\nversion: "11.5(1)"\nnodes:\n'
            f"  - {{host: pub.refused.example, address: 127.0.0.1, role: uccx-publisher,\n"
            f"     ports: {{finesse: {x448}, live_data: {x448}, notification: {x448},\n"
            f"             cuic: {x448}, platform: {x448}}}}}\n"
            f"  - {{host: sub.refused.example, address: 127.0.0.1, role: uccx-subscriber,\n"
            f"     ports: {{finesse: {tls10}, live_data: {tls10}, notification: {tls10},\n"
            f"             cuic: {tls10}, platform: {tls10}}}}}\n"
            f"  - {{host: sm.refused.example, address: 127.0.0.1, role: socialminer,\n"
            f"     ports: {{web: {closed}, notification: {closed}}}}}\n")
        out = tmp_path / "out"
        done = invoke("audit", "--inventory", inventory, "--phase", "post", "--out", out,
                      "--connect-timeout", "3", "--handshake-timeout", "3")
    assert done.returncode == 1, done.stderr
    audit = json.loads((out / "audit.json").read_text())
    assert audit["verdict"] == "no_go"
    outcomes = {n["host"]: {g: v["outcome"] for g, v in n["gadgets"].items()}
                for n in audit["nodes"]}
    assert outcomes["pub.refused.example"] == {"finesse_desktop": "broken",
                                               "live_data": "broken"}
    assert outcomes["sub.refused.example"] == {"finesse_desktop": "broken",
                                               "live_data": "broken"}
    # SocialMiner's own ports refuse: its web page is unknown; the chat/email gadget also
    # needs UCCX 443, which browsers cannot connect to: broken
    assert outcomes["sm.refused.example"] == {"chat_email": "broken",
                                              "socialminer_web": "unknown"}
    found = {(f["rule_id"], f["node"]) for f in audit["findings"]}
    assert ("endpoint-unreachable", "sm.refused.example") in found
    assert not {n for rule, n in found if rule == "endpoint-unreachable"} - {
        "sm.refused.example"}
    for host, port, what in (("pub.refused.example", x448, "handshake_failure"),
                             ("sub.refused.example", tls10, "TLS 1.0")):
        messages = [f["message"] for f in audit["findings"]
                    if f["rule_id"] == "browsers-cannot-connect" and f["node"] == host]
        # every default endpoint of a UCCX node: 8445, 7443, 12015, 8444 and 443
        assert len(messages) == 5, messages
        assert all(host in m and f"port {port}" in m and what in m for m in messages)


# -- whatever a failed browser handshake records -------------------------------------------

KINDS = json.loads(schema_path("facts").read_text())["$defs"]["error"][
    "properties"]["kind"]["enum"]
RULES = load_ruleset()
BASE = load_facts(FACTS / "row3-ec-signed-ecdsa.json")
PUBLISHER = next(n for n in BASE.nodes if n.role == "uccx-publisher")
GADGETS = {"live_data"}  # what the publisher's Live Data port serves


def _with_browser_error(kind: str, detail: str, others_ok: bool):
    """The row 3 lab, its publisher's Live Data port failing the browser's handshake."""
    nodes = []
    for node in BASE.nodes:
        if node.host == PUBLISHER.host:
            endpoints = []
            for endpoint in node.endpoints:
                if endpoint.service == "live_data":
                    failed = HandshakeFacts("browser", "tls13_sigalgs", False, 1.0,
                                            error=ProbeError(kind, detail))
                    rest = tuple(h if others_ok else replace(
                        h, ok=False, chain=(), chain_check=None, error=ProbeError(kind, detail))
                        for h in endpoint.handshakes if h.profile != "browser")
                    endpoint = replace(endpoint, handshakes=(failed, *rest))
                endpoints.append(endpoint)
            node = replace(node, endpoints=tuple(endpoints))
        nodes.append(node)
    return replace(BASE, nodes=tuple(nodes))


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS),
       detail=st.one_of(st.sampled_from(sorted(ALERTS.values())), st.text(max_size=40),
                        st.sampled_from(sorted(OLDER_VERSIONS.values()))),
       others_ok=st.booleans())
def test_a_failed_browser_handshake_is_unreachable_or_refused_never_both(
        kind: str, detail: str, others_ok: bool) -> None:
    facts = _with_browser_error(kind, detail, others_ok)
    evaluation = evaluate(RULES, facts, make_settings(
        facts.version, facts.observed_at, phase="post", target_version=None,
        change_date=None, expiry_window_days=30))
    fired = {f.rule_id for f in evaluation.findings
             if f.node == PUBLISHER.host and f.subject.key == "live_data"}
    judged = fired & {"endpoint-unreachable", "browsers-cannot-connect"}
    assert len(judged) == 1, (kind, detail, fired)
    refused = kind == "tls_version" or (kind == "tls_alert" and detail in {
        "handshake_failure", "protocol_version", "insufficient_security"})
    assert judged == {"browsers-cannot-connect" if refused else "endpoint-unreachable"}
    (node,) = [n for n in evaluation.nodes if n.host == PUBLISHER.host]
    for gadget in GADGETS:
        outcome = node.gadgets[gadget].outcome
        assert outcome in (("broken",) if refused else ("unknown", "broken")), outcome
