"""A whole audit against servers that fight back: each is a typed finding for its endpoint,
the rest of the audit completes, the report renders, and the time stays bounded."""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import sys
import time
import warnings

import pytest
from servers import (
    Counted,
    close_mid_handshake,
    drip,
    garbage_after_server_hello,
    huge_certificate,
    invalid_email_certificate,
    listening_sockets,
    long_chain,
    plain_http,
    random_bytes,
    refuse_the_name,
    serve,
    tls_server,
    unparseable_certificate,
)

from auditor.lab import Lab

pytestmark = pytest.mark.slow

CONNECT, HANDSHAKE = 2.0, 2.0


def _tls10(ctx: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1


def _client_cert_12(ctx: ssl.SSLContext) -> None:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_default_certs()


#: case -> (how to serve it, the error kind each endpoint must show; None: a certificate)
CASES = {
    "silent": ("listen", "timeout"),
    "plain-http": (plain_http, "not_tls"),
    "random-bytes": (random_bytes, "not_tls"),
    "close-mid-handshake": (close_mid_handshake, "reset"),
    "drip": (drip, "timeout"),
    "unparseable-certificate": (unparseable_certificate, "other"),
    "tls10-only": (("tls", _tls10, None), "tls_alert"),
    "client-cert-tls12": (("tls", _client_cert_12, None), "tls_alert"),
    # the server spoke TLS, then broke it: every profile tries (see TRIED)
    "garbage-after-server-hello": (garbage_after_server_hello, "tls_error"),
    "unrecognized-name": (("tls", refuse_the_name, None), "tls_alert"),
    "chain-of-200": (("tls", lambda ctx: None, "long"), None),
    "one-megabyte-certificate": (("tls", lambda ctx: None, "huge"), "other"),
    # OpenSSL completes the handshake; cryptography cannot read the subject
    "invalid-email-in-subject": (("tls", lambda ctx: None, None, "invalid-email"), "other"),
}
#: what the error detail must name, for the cases where the X.509 layer cannot read
DETAILS = {"invalid-email-in-subject": "its subject does not parse",
           "unrecognized-name": "unrecognized_name",
           "garbage-after-server-hello": "the server began a TLS handshake, then broke"}
#: the finding of the cases whose server answered and refused what browsers offer (the
#: others cannot be reached: endpoint-unreachable)
REFUSED = {"tls10-only": "browsers-cannot-connect", "client-cert-tls12": "browsers-cannot-connect"}
#: cases whose server counts its connections: (connections expected per endpoint)
TRIED = {"garbage-after-server-hello": 3, "plain-http": 1}


@pytest.mark.timeout(180)
def test_hostile_endpoints_are_findings_and_the_audit_completes(tmp_path) -> None:
    chains = {"long": long_chain(200), "huge": [huge_certificate()], None: None}
    leaves = {"invalid-email": invalid_email_certificate()}
    counted = {name: Counted(CASES[name][0]) for name in TRIED}
    with contextlib.ExitStack() as stack, Lab("row3-ec-signed-ecdsa") as lab:
        ports = {}
        for name, (how, _kind) in CASES.items():
            if how == "listen":
                ports[name] = stack.enter_context(listening_sockets(1))[0]
            elif isinstance(how, tuple):
                leaf = leaves[how[3]] if len(how) > 3 else None
                ports[name] = stack.enter_context(tls_server(how[1], chains[how[2]], leaf))
            else:
                ports[name] = stack.enter_context(serve(counted.get(name, how),
                                                        connections=16))
        inventory = tmp_path / "cluster.yaml"
        text = lab.inventory_path.read_text()
        for name, port in ports.items():
            text += (f"  - host: {name}.hostile.example\n    address: 127.0.0.1\n"
                     f"    role: socialminer\n    ports: {{web: {port}, notification: {port}}}\n")
        inventory.write_text(text)
        out = tmp_path / "out"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "auditor", "audit", "--inventory", str(inventory),
             "--agent-trust", str(lab.agent_trust_path), "--phase", "post", "--out", str(out),
             "--connect-timeout", str(CONNECT), "--handshake-timeout", str(HANDSHAKE)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    facts = json.loads((out / "facts.json").read_text())
    audit = json.loads((out / "audit.json").read_text())
    html = (out / "report.html").read_text()
    nodes = {n["host"]: n for n in facts["nodes"]}
    budget_ms = (CONNECT + HANDSHAKE + 1.0) * 1000
    for name, (_how, kind) in CASES.items():
        host = f"{name}.hostile.example"
        assert host in html
        for endpoint in nodes[host]["endpoints"]:
            browser = endpoint["handshakes"][0]
            if kind is None:
                assert browser["ok"], (name, browser["error"])
            else:
                assert not browser["ok"] and browser["error"]["kind"] == kind, (
                    name, browser["error"])
                assert DETAILS.get(name, "") in browser["error"]["detail"], browser["error"]
            assert all(h["elapsed_ms"] <= budget_ms for h in endpoint["handshakes"]), name
        findings = {f["rule_id"] for f in audit["findings"] if f["node"] == host}
        if kind is not None:
            assert REFUSED.get(name, "endpoint-unreachable") in findings, (name, findings)
    # the web and notification endpoints share the port: each endpoint's profiles connect
    # once when nothing speaks TLS, once each when the server did
    for name, per_endpoint in TRIED.items():
        assert counted[name].count == 2 * per_endpoint, (name, counted[name].count)
    # the real cluster beside them was audited as usual
    lab_nodes = [n for n in audit["nodes"] if n["host"].endswith(".lab.uccx.example")]
    assert {g["outcome"] for n in lab_nodes for g in n["gadgets"].values()} == {"works"}
    # every endpoint is probed at once: the whole run is bounded by one set of timeouts
    # (plus interpreter start, the lab, evaluation and reports), not by their sum
    assert elapsed < 4 * (CONNECT + HANDSHAKE), elapsed
