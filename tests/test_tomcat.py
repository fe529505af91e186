"""Apache Tomcat 10 as the target: the FAQ matrix rows served by a real Tomcat, configured
as a VOS node is, audit exactly as the built-in lab does.

One Tomcat (JSSE) serves the four rows twice: with TLS 1.3 and 1.2 as the highest version,
so both ways a server picks between its two certificates are exercised (TLS 1.3: the
client's signature algorithms; TLS 1.2: its cipher suites). Tomcat and the lab present the
same certificate objects, so every leaf, chain, state, finding and gadget outcome can be
compared one for one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from audits import audit_facts
from browsing import check_browser_against_prober
from cdp import Browser, host_resolver_rules
from test_verdict_without_evidence import (
    check_row4_without_agent_trust,
    check_unreachable_audit,
    run_cli,
    unreachable_inventory,
)
from tomcat import INDEX_TITLE, Tomcat, TomcatError, TomcatSite, serving

from auditor.collect.certs import fingerprint
from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import Settings, make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.lab import Lab
from auditor.lab.scenarios import DOMAIN
from auditor.lab.server import expected_state
from auditor.model.facts import PROFILES, Facts
from auditor.model.findings import Evaluation
from auditor.model.versions import Version

pytestmark = [pytest.mark.tomcat, pytest.mark.browser, pytest.mark.slow]

ROWS = ("row1-self-signed", "row2-rsa-signed-ecdsa", "row3-ec-signed-ecdsa",
        "row4-upgrade-trap")
TLS_VERSIONS = ("1.3", "1.2")
SITES = [(row, tls) for row in ROWS for tls in TLS_VERSIONS]
OPTIONS = ProbeOptions(connect_timeout=3, handshake_timeout=3)

PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
WORKS, PROMPT_OK, PROMPT_FAILS, BROKEN = ("works", "prompt_accept_works",
                                          "prompt_accept_fails", "broken")
# The matrix in docs/domain.md, spelled out here so that Tomcat and the lab cannot agree on a
# mistake.
#: row: (tomcat, tomcat-ECDSA on UCCX, tomcat-ECDSA on SocialMiner)
STATES = {
    "row1-self-signed": ("self_signed", "self_signed", "self_signed"),
    "row2-rsa-signed-ecdsa": ("rsa_ca_signed", "not_presented", "rsa_ca_signed"),
    "row3-ec-signed-ecdsa": ("rsa_ca_signed", "ec_ca_signed", "ec_ca_signed"),
    "row4-upgrade-trap": ("rsa_ca_signed", "self_signed", "self_signed"),
}
#: row: (Finesse desktop, Live Data, chat/email gadget, SocialMiner web page)
OUTCOMES = {
    "row1-self-signed": (PROMPT_OK, PROMPT_OK, PROMPT_OK, PROMPT_OK),
    "row2-rsa-signed-ecdsa": (WORKS, WORKS, BROKEN, BROKEN),
    "row3-ec-signed-ecdsa": (WORKS, WORKS, WORKS, WORKS),
    "row4-upgrade-trap": (WORKS, PROMPT_FAILS, PROMPT_OK, WORKS),
}


@pytest.fixture(scope="module")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tomcat]:
    with serving(tmp_path_factory.mktemp("tomcat"), SITES) as running:
        yield running


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


@dataclass(frozen=True)
class Compared:
    """One row at one TLS version, probed on Tomcat and on the lab, and both evaluated."""

    site: TomcatSite
    tomcat: Facts
    lab: Facts
    tomcat_evaluation: Evaluation
    lab_evaluation: Evaluation


def _probe(inventory: Path, agent_trust: Path) -> Facts:
    return probe_inventory(load_inventory(inventory), trust=load_agent_trust(str(agent_trust)),
                           options=OPTIONS)


@pytest.fixture(scope="module", params=SITES, ids=[f"{r}-tls{t}" for r, t in SITES])
def compared(request: pytest.FixtureRequest, tomcat: Tomcat, rules: RuleSet) -> Compared:
    row, tls = request.param
    site = tomcat.site(row, tls)
    on_tomcat = _probe(site.inventory_path, site.agent_trust_path)
    with Lab(row, max_tls=tls, certificates=site.certificates) as lab:
        on_lab = _probe(lab.inventory_path, lab.agent_trust_path)
    # one set of options for both, so only what the servers presented can differ
    settings: Settings = make_settings(on_tomcat.version, on_tomcat.observed_at, phase="post")
    return Compared(site, on_tomcat, on_lab, evaluate(rules, on_tomcat, settings),
                    evaluate(rules, on_lab, settings))


def _endpoint(facts: Facts, host: str, service: str):
    found = facts.node(host).endpoint(service)
    assert found is not None, (host, service)
    return found


# -- Tomcat is configured as a VOS node ---------------------------------------------------
def test_tomcat_loads_both_certificates_only_where_the_node_presents_tomcat_ecdsa(
        tomcat: Tomcat) -> None:
    configured = tomcat.configured_certificates()
    endpoints = [e for site in tomcat.sites.values() for e in site.endpoints]
    assert len(configured) == len(endpoints)
    for endpoint in endpoints:
        implementation, types = configured[(endpoint.address, endpoint.port)]
        assert implementation == "jsse"
        assert types == (["RSA", "EC"] if endpoint.ecdsa else ["RSA"]), (
            endpoint.host, endpoint.service)
    dual = {(s.scenario.name, e.host, e.service) for s in tomcat.sites.values()
            for e in s.endpoints if e.ecdsa and s.max_tls == "1.3"}
    assert dual == {
        *((row, host, "live_data") for row in ("row1-self-signed", "row3-ec-signed-ecdsa",
                                               "row4-upgrade-trap") for host in (PUB, SUB)),
        *((row, SM, "notification") for row in ROWS),
    }


def test_tomcat_listens_on_loopback_only_with_no_shutdown_port(tomcat: Tomcat) -> None:
    server_xml = (tomcat.base / "conf" / "server.xml").read_text()
    assert '<Server port="-1"' in server_xml
    addresses = {e.address for site in tomcat.sites.values() for e in site.endpoints}
    assert all(a.startswith("127.") for a in addresses)
    assert server_xml.count("<Connector ") == sum(len(s.endpoints)
                                                  for s in tomcat.sites.values())
    assert server_xml.count('address="127.') == server_xml.count("<Connector ")


def test_tomcat_starts_within_its_budget(tomcat: Tomcat) -> None:
    assert tomcat.started_in is not None and tomcat.started_in < 30, tomcat.started_in


# -- what each client profile receives -----------------------------------------------------
#: How JSSE refuses a client none of its certificates suits (an ECDSA-only client on an
#: RSA-only port). TLS 1.2: a handshake_failure alert, as OpenSSL does. TLS 1.3: JSSE picks
#: the certificate only after it has sent its ServerHello, then closes the connection
#: without an alert; the prober reports that as ``reset``.
REFUSED = {"1.2": "tls_alert", "1.3": "reset"}


def test_each_profile_receives_the_leaf_domain_md_says(compared: Compared) -> None:
    for expected in compared.site.endpoints:
        endpoint = _endpoint(compared.tomcat, expected.host, expected.service)
        assert endpoint.port == expected.port
        assert endpoint.peer == expected.address
        for profile in PROFILES:
            handshake = endpoint.handshake(profile)
            want = expected.expected_leaf(profile)
            if want is None:
                assert not handshake.ok, (expected.host, expected.service, profile)
                assert handshake.error.kind == REFUSED[compared.site.max_tls], (
                    expected.host, expected.service, profile, handshake.error)
            else:
                assert handshake.ok, (expected.host, expected.service, profile,
                                      handshake.error)
                assert handshake.leaf == want, (expected.host, expected.service, profile)
                assert handshake.tls_version == f"TLSv{compared.site.max_tls}"


def test_tomcat_sends_the_same_chain_as_the_lab_for_every_profile(compared: Compared) -> None:
    for expected in compared.site.endpoints:
        on_tomcat = _endpoint(compared.tomcat, expected.host, expected.service)
        on_lab = _endpoint(compared.lab, expected.host, expected.service)
        for profile in PROFILES:
            mine, theirs = on_tomcat.handshake(profile), on_lab.handshake(profile)
            assert (mine.ok, mine.chain) == (theirs.ok, theirs.chain), (
                expected.host, expected.service, profile)
        sent = [fingerprint(expected.rsa.cert), *map(fingerprint, expected.rsa_sent_chain)]
        assert list(on_tomcat.handshake("rsa_only").chain) == sent


def test_certificate_states_per_node_match_the_lab_and_the_faq(compared: Compared) -> None:
    def states(facts: Facts) -> dict[str, tuple[str, str]]:
        return {n.host: (n.tomcat.state, n.tomcat_ecdsa.state) for n in facts.nodes}

    row = compared.site.scenario
    tomcat_state, uccx_ecdsa, sm_ecdsa = STATES[row.name]
    faq = {PUB: (tomcat_state, uccx_ecdsa), SUB: (tomcat_state, uccx_ecdsa),
           SM: (tomcat_state, sm_ecdsa)}
    lab_model = {n.host: (expected_state(n, Version(row.version), "tomcat"),
                          expected_state(n, Version(row.version), "tomcat_ecdsa"))
                 for n in row.nodes}
    assert states(compared.tomcat) == states(compared.lab) == faq == lab_model


def test_gadget_outcomes_per_node_match_the_lab_and_the_faq(compared: Compared) -> None:
    def outcomes(evaluation: Evaluation) -> dict[str, dict[str, str]]:
        return {n.host: {g: r.outcome for g, r in n.gadgets.items()} for n in evaluation.nodes}

    finesse, live_data, chat_email, web = OUTCOMES[compared.site.scenario.name]
    uccx = {"finesse_desktop": finesse, "live_data": live_data}
    faq = {PUB: uccx, SUB: uccx, SM: {"chat_email": chat_email, "socialminer_web": web}}
    assert outcomes(compared.tomcat_evaluation) == outcomes(compared.lab_evaluation) == faq


def test_findings_and_verdict_match_the_lab(compared: Compared) -> None:
    def findings(evaluation: Evaluation) -> list[tuple[str, ...]]:
        return sorted((f.rule_id, f.node, f.subject, f.severity, f.basis, *sorted(f.gadgets))
                      for f in evaluation.findings)

    mine, theirs = compared.tomcat_evaluation, compared.lab_evaluation
    assert findings(mine) == findings(theirs)
    # row 3 is the clean one; the others must have findings, or equality proves little
    assert bool(findings(mine)) == (compared.site.scenario.name != "row3-ec-signed-ecdsa")
    assert mine.verdict == theirs.verdict
    assert {n.host: {g: r.rules for g, r in n.gadgets.items()} for n in mine.nodes} == \
        {n.host: {g: r.rules for g, r in n.gadgets.items()} for n in theirs.nodes}


# -- a real browser against Tomcat --------------------------------------------------------
@pytest.fixture(scope="module")
def browser(tomcat: Tomcat) -> Iterator[Browser]:
    with Browser(extra_flags=(host_resolver_rules(tomcat.host_addresses()),)) as running:
        yield running


def test_chromium_receives_from_tomcat_the_leaf_the_browser_profile_reported(
        compared: Compared, browser: Browser) -> None:
    dual = check_browser_against_prober(browser, compared.site.endpoints, compared.tomcat,
                                        compared.site.max_tls)
    assert dual == {"row2-rsa-signed-ecdsa": 1}.get(compared.site.scenario.name, 3)


def test_chromium_renders_tomcats_page(tomcat: Tomcat, browser: Browser) -> None:
    site = tomcat.site("row3-ec-signed-ecdsa")
    live_data = next(e for e in site.endpoints if e.host == PUB and e.service == "live_data")
    session = browser.session()
    browser.send("Security.setIgnoreCertificateErrors", {"ignore": True}, session)
    browser.send("Page.enable", {}, session)
    browser.send("Page.navigate", {"url": f"https://{live_data.host}:{live_data.port}/"},
                 session)
    browser.wait_event("Page.loadEventFired", session, 20)
    title = browser.send("Runtime.evaluate", {"expression": "document.title",
                                              "returnByValue": True}, session)
    assert title["result"]["value"] == INDEX_TITLE


# -- the helper itself ----------------------------------------------------------------------
def test_a_connector_tomcat_could_not_open_fails_the_start(tmp_path: Path,
                                                           monkeypatch) -> None:
    broken = serving(tmp_path, [("row4-upgrade-trap", "1.3")])
    write_base = broken._write_base

    def with_a_bad_key() -> None:
        write_base()
        key = next((broken.base / "keys").rglob("tomcat-ecdsa.key"))
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")

    monkeypatch.setattr(broken, "_write_base", with_a_bad_key)
    started = time.monotonic()
    with pytest.raises(TomcatError, match="SEVERE"):
        broken.start()
    assert time.monotonic() - started < 30
    assert "Failed to initialize" in broken.log()
    assert broken.process is None and broken.pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(broken.pid, 0)  # stopped: no process of its group is left


def test_missing_tomcat_says_what_to_install(monkeypatch, tmp_path: Path) -> None:
    import tomcat as helper

    monkeypatch.setattr(helper, "CATALINA_HOME", tmp_path / "no-tomcat")
    with pytest.raises(TomcatError, match=r"sh scripts/test-deps\.sh"):
        helper.catalina_script()



# -- a GO must be earned (issue 10), on the real Tomcat -----------------------------------
def test_tomcat_row4_audited_without_agent_trust_is_no_go(tomcat: Tomcat, tmp_path) -> None:
    site = tomcat.site("row4-upgrade-trap", "1.2")
    code = run_cli("audit", "--inventory", str(site.inventory_path), "--phase", "post",
                   "--out", str(tmp_path / "out"))
    check_row4_without_agent_trust(tmp_path / "out", code)


def test_tomcat_unreachable_inventory_is_inconclusive(tomcat: Tomcat, tmp_path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Tomcat's own nodes on ports its connectors do not hold, beside a node that never
    answers and one that does not resolve."""
    site = tomcat.site("row3-ec-signed-ecdsa", "1.3")
    with unreachable_inventory(site.inventory(), tmp_path) as inventory:
        code = run_cli("audit", "--inventory", str(inventory), "--phase", "post",
                       "--agent-trust", str(site.agent_trust_path), "--connect-timeout", "1",
                       "--handshake-timeout", "1", "--out", str(tmp_path / "out"),
                       monkeypatch=monkeypatch)
    check_unreachable_audit(tmp_path / "out", code)


def test_a_real_tomcat_presenting_another_tomcat_on_8444_than_on_8445_is_a_restart_pending(
        tmp_path) -> None:
    """One Apache Tomcat 10 whose publisher connectors for Finesse (8445) and CUIC (8444)
    hold different tomcat certificates, as a node whose CUIC was not restarted after an
    upload: a post audit finds the restart pending on the CUIC instance alone and names its
    restart."""
    with serving(tmp_path / "tomcat", [("restart-pending", "1.3")]) as tomcat:
        site = tomcat.site("restart-pending")
        facts = _probe(site.inventory_path, site.agent_trust_path)
    publisher = facts.node(PUB)
    leaves = {s: next(h.chain[0] for h in publisher.endpoint(s).handshakes
                      if h.profile == "browser") for s in ("finesse", "cuic", "platform")}
    assert leaves["finesse"] == leaves["platform"] != leaves["cuic"], leaves
    audit = audit_facts(facts, "post")
    pending = [f for f in audit.findings if f.rule_id == "tomcat-restart-pending"]
    assert [(f.node, f.subject.key) for f in pending] == [(PUB, "cuic")]
    assert "Cisco Unified Intelligence Center Reporting Service" in pending[0].message
    assert "unverified" in pending[0].message
    out = {(n.host, g): r.outcome for n in audit.nodes for g, r in n.gadgets.items()}
    assert out[(PUB, "live_data")] == "unknown"
    assert out[(SUB, "live_data")] == "works"
    assert audit.verdict == "no_go"
