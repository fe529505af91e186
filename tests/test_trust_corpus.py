"""Trust judged as browsers judge it: every chain shape of the trust corpus is served on
loopback, loaded by headless Chromium trusting the corpus roots (an NSS database of its
own), and judged by the auditor; the two agree on accepted / refused for every shape. A
server that accepts none of what browsers offer (a protocol version, a suite, a group) is
refused by Chromium, and by the audit's rules: browsers cannot connect there."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from audits import audit_facts
from cdp import Browser, host_resolver_rules
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from servers import openssl_session, serve, serve_tls
from trust_corpus import HOST, Limits, Shape, address_shapes, shapes

from auditor.collect.certs import analyse
from auditor.collect.collect import probe_inventory
from auditor.collect.handshake import Target
from auditor.collect.openssl_private import set_groups, set_sigalgs
from auditor.collect.prober import ProbeOptions, handshake
from auditor.collect.trust import TRUSTED, AgentTrust, check_chain
from auditor.model.certificate import covers_host
from auditor.model.cluster import DEFAULT_PORTS, Inventory, Node

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _nss_home(roots, into: Path) -> Path:
    """A HOME whose NSS database trusts ``roots`` as TLS server CAs (what an enterprise
    pushes to its agents' machines)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil is missing: run `sh scripts/test-deps.sh` (libnss3-tools)")
    db = into / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True, timeout=30)
    for index, cert in enumerate(roots):
        path = into / f"root{index}.pem"
        path.write_bytes(_pem(cert))
        subprocess.run([certutil, "-A", "-d", f"sql:{db}", "-n", f"corpus root {index}",
                        "-t", "C,,", "-i", str(path)], check=True, capture_output=True,
                       timeout=30)
    return into


def _context(shape: Shape, work: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for index, identity in enumerate(shape.identities):
        chain, key = work / f"{shape.name}-{index}.pem", work / f"{shape.name}-{index}.key"
        chain.write_bytes(_pem(identity.cert, *identity.chain))
        key.write_bytes(identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        ctx.load_cert_chain(chain, key)
    return ctx


_VERSIONS = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION,
             "TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}


def _limited_context(shape: Shape, limits: Limits) -> SSL.Context:
    """A pyOpenSSL server context: Python's ssl cannot limit the groups to X448 or ffdhe."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    (identity,) = shape.identities
    ctx.use_certificate(identity.cert)
    for cert in identity.chain:
        ctx.add_extra_chain_cert(cert)
    ctx.use_privatekey(identity.key)
    ctx.set_cipher_list(f"{limits.ciphers or 'DEFAULT'}:@SECLEVEL=0".encode())
    if limits.tls13_suites:
        ctx.set_tls13_ciphersuites(limits.tls13_suites.encode())
    if limits.versions:
        ctx.set_min_proto_version(_VERSIONS[limits.versions[0]])
        ctx.set_max_proto_version(_VERSIONS[limits.versions[1]])
    assert limits.groups is None or set_groups(ctx, limits.groups), limits
    assert limits.sigalgs is None or set_sigalgs(ctx, limits.sigalgs), limits
    return ctx


def _serve(shape: Shape, work: Path) -> contextlib.AbstractContextManager[int]:
    if shape.limits is None:
        return serve_tls(_context(shape, work))
    # Chromium's page and the audit's handshakes: a few dozen at most
    return serve(openssl_session(_limited_context(shape, shape.limits)), connections=64)


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, int]]:
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(_serve(shape, Path(work)))
               for name, shape in shapes().items()}


@pytest.fixture(scope="module")
def chromium_verdicts(served, tmp_path_factory) -> dict[str, str | None]:
    roots = {r.fingerprint(r.signature_hash_algorithm): r
             for shape in shapes().values() for r in shape.roots}
    home = _nss_home(roots.values(), tmp_path_factory.mktemp("home"))
    with Browser(extra_flags=(host_resolver_rules({HOST: "127.0.0.1"}),),
                 home=str(home)) as browser:
        return browser.load_errors([f"https://{HOST}:{port}/" for port in served.values()])


OPTIONS = ProbeOptions(connect_timeout=5, handshake_timeout=5)


def _address(shape: Shape) -> str:
    """Where the shape is served: ::1 for a host written as an IPv6 address, else
    127.0.0.1 (an FQDN, or 127.0.0.1 written one way or another)."""
    return "::1" if ":" in shape.host else "127.0.0.1"


def auditor_verdict(shape: Shape, port: int) -> tuple[bool, str | None]:
    """What the auditor makes of the chain its ``browser`` profile receives there; where
    the handshake fails, what the audit's rules make of the endpoint."""
    got = handshake(Target(shape.host, port, _address(shape)), "browser", OPTIONS)
    if not got.ok:
        assert refused_by_the_rules(shape, port), (shape.name, got.error)
        return False, f"{got.error.kind}: {got.error.detail}" if got.error else None
    trust = AgentTrust("file:corpus", shape.roots)
    check = check_chain(got.chain, trust, shape.host, dt.datetime.now(dt.timezone.utc))
    named = covers_host(analyse(got.chain[0]), shape.host)
    return check.trust == TRUSTED and named, check.reason


def refused_by_the_rules(shape: Shape, port: int) -> bool:
    """An audit of a publisher whose every port is this server says that browsers cannot
    connect: every gadget broken by ``browsers-cannot-connect`` (not unknown because the
    endpoint could not be reached)."""
    node = Node(shape.host, "uccx-publisher", "127.0.0.1",
                dict.fromkeys(DEFAULT_PORTS["uccx"], port), {})
    facts = probe_inventory(Inventory("corpus", "11.5(1)", (node,)),
                            trust=AgentTrust("file:corpus", shape.roots), options=OPTIONS)
    audit = audit_facts(facts, "post")
    (result,) = audit.nodes
    rules = {f.rule_id for f in audit.findings}
    return ({g.outcome for g in result.gadgets.values()} == {"broken"}
            and all(g.rules == ("browsers-cannot-connect",) for g in result.gadgets.values())
            and "endpoint-unreachable" not in rules)


def test_a_server_reached_by_address_is_judged_as_chromium_judges_it(tmp_path) -> None:
    """An inventory may give a node by its IP address. Chromium then matches the address
    against the certificate's IP address entries only, whatever way the address is written
    (127.1, 0:0:0:0:0:0:0:1), and never against a DNS name entry or the common name; the
    auditor must accept and refuse exactly the same servers."""
    made = address_shapes()
    literals = sorted({_address(s) for s in made.values() if s.host != HOST})
    home = _nss_home({s.roots[0] for s in made.values()}, tmp_path / "home")
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        ports = {name: stack.enter_context(serve_tls(_context(shape, Path(work)),
                                                     _address(shape)))
                 for name, shape in made.items()}
        urls = {name: (f"https://[{shape.host}]:{ports[name]}/" if ":" in shape.host
                       else f"https://{shape.host}:{ports[name]}/")
                for name, shape in made.items()}
        with Browser(extra_flags=(host_resolver_rules({HOST: "127.0.0.1"}, literals),),
                     home=str(home)) as browser:
            chromium = browser.load_errors(list(urls.values()))
        verdicts = {name: auditor_verdict(shape, ports[name]) for name, shape in made.items()}
    accepted = {name: chromium[urls[name]] is None for name in made}
    assert accepted["ipv4-in-ip-san"] and not accepted["ipv4-only-in-the-common-name"]
    assert {name: ok for name, (ok, _) in verdicts.items()} == accepted, (chromium, verdicts)


def test_the_corpus_has_the_shapes_the_issue_names() -> None:
    assert len(shapes()) >= 15
    assert {"intermediate-eku-client-auth-only", "rsa-leaf-key-cert-sign-only",
            "ec-leaf-key-encipherment-only-beside-valid-rsa"} <= set(shapes())
    # servers limited to groups, protocol versions and suites Chromium refuses
    assert {"offer-group-x448-only", "offer-group-ffdhe2048-only", "offer-group-p521-only",
            "offer-tls10-only", "offer-tls11-only", "offer-tls12-dhe-rsa-only",
            "offer-tls12-ecdhe-cbc-sha256-only"} <= set(shapes())


@pytest.mark.parametrize("name", sorted(shapes()))
def test_the_auditor_accepts_exactly_what_chromium_accepts(
        name: str, served, chromium_verdicts) -> None:
    url = f"https://{HOST}:{served[name]}/"
    chromium = chromium_verdicts[url]
    accepted, reason = auditor_verdict(shapes()[name], served[name])
    assert accepted == (chromium is None), (name, chromium, reason)


def test_an_ec_leaf_browsers_refuse_beside_a_valid_rsa_one_is_never_works(
        served, tmp_path) -> None:
    """Chromium gets the EC leaf where a port holds both and fails on its key usage,
    though a valid RSA certificate is there too: the gadgets served there are
    ``broken`` (Chromium shows no prompt to accept)."""
    import json
    import sys

    shape = shapes()["ec-leaf-key-encipherment-only-beside-valid-rsa"]
    port = served[shape.name]
    trust = tmp_path / "agents.pem"
    trust.write_bytes(_pem(*shape.roots))
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(f"cluster: corpus\nversion: \"11.5(1)\"\nnodes:\n"
                         f"  - host: {HOST}\n    address: 127.0.0.1\n"
                         f"    role: uccx-publisher\n    ports: {{finesse: {port}, "
                         f"live_data: {port}, notification: {port}, cuic: {port}, "
                         f"platform: {port}}}\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "auditor", "audit", "--inventory",
                           str(inventory), "--agent-trust", str(trust), "--phase", "post",
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    audit = json.loads((out / "audit.json").read_text())
    (node,) = audit["nodes"]
    # a hard error with nothing to click through: broken, never "prompt, accepting works"
    assert {g: v["outcome"] for g, v in node["gadgets"].items()} == {
        "finesse_desktop": "broken", "live_data": "broken"}, node["gadgets"]
    assert audit["verdict"] == "no_go"
    assert done.returncode == 1
    assert "leaf-key-usage-refused-by-browsers" in {f["rule_id"] for f in audit["findings"]}
    facts = json.loads((out / "facts.json").read_text())
    reasons = {h["chain_check"]["reason"] for e in facts["nodes"][0]["endpoints"]
               for h in e["handshakes"] if h["profile"] == "browser"}
    assert all("ERR_SSL_KEY_USAGE_INCOMPATIBLE" in r for r in reasons), reasons
