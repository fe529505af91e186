"""A real browser as the client: for every lab scenario, headless Chromium receives the
certificate the prober's ``browser`` profile reported (the ECDSA one wherever the server
offers both), read from the DevTools protocol's security details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browsing import check_browser_against_prober, fingerprint_der
from cdp import Browser, host_resolver_rules
from servers import free_port

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import load_agent_trust
from auditor.lab import SCENARIOS, Lab
from auditor.lab.server import presents_ecdsa
from auditor.model.versions import Version

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Lab node i listens on 127.0.0.(FIRST_ADDRESS + i); the browser maps each FQDN there.
FIRST_ADDRESS = 31
CASES = [(name, "1.3") for name in sorted(SCENARIOS)] + [("mixed-cluster", "1.2"),
                                                         ("row4-upgrade-trap", "1.2")]


def _node_addresses() -> dict[str, str]:
    addresses: dict[str, str] = {}
    for scenario in SCENARIOS.values():
        for index, node in enumerate(scenario.nodes):
            address = f"127.0.0.{FIRST_ADDRESS + index}"
            assert addresses.setdefault(node.host, address) == address, (
                f"{node.host} is node {index} of {scenario.name} but not of every scenario")
    return addresses


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(extra_flags=(host_resolver_rules(_node_addresses()),)) as running:
        yield running


@pytest.mark.parametrize(("scenario", "max_tls"), CASES,
                         ids=[f"{name}-tls{tls}" for name, tls in CASES])
def test_chromium_receives_the_leaf_the_browser_profile_reported(
        browser: Browser, scenario: str, max_tls: str) -> None:
    with Lab(scenario, max_tls=max_tls, first_address=FIRST_ADDRESS) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3))
        dual = check_browser_against_prober(browser, lab.endpoints, facts, max_tls)
    version = Version(lab.scenario.version)
    assert dual == sum(presents_ecdsa(lab.node_spec(e.host), e.service, version)
                       for e in lab.endpoints)


def test_the_browser_resolves_no_name_but_the_mapped_ones(browser: Browser) -> None:
    # localhost, which stays on loopback even if the rules failed (then: connection refused)
    port = free_port(f"127.0.0.{FIRST_ADDRESS}")
    with pytest.raises(RuntimeError, match="ERR_NAME_NOT_RESOLVED"):
        browser.received_certificates([f"https://localhost:{port}/"], timeout=10)
    with pytest.raises(RuntimeError, match="ERR_CONNECTION_REFUSED"):
        browser.received_certificates([f"https://uccx-pub.lab.uccx.example:{port}/"],
                                      timeout=10)


def test_host_resolver_rules_refuse_an_address_off_loopback() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        host_resolver_rules({"uccx-pub.lab.uccx.example": "192.0.2.10"})


def test_a_page_loaded_again_is_loaded_in_a_fresh_browser_context(
        browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[str] = []
    post = browser.post

    def spy(method: str, params: dict | None = None, session: str | None = None) -> int:
        posted.append(method)
        return post(method, params, session)

    monkeypatch.setattr(browser, "post", spy)
    with Lab("row4-upgrade-trap", first_address=FIRST_ADDRESS) as lab:
        live_data = next(e for e in lab.endpoints if e.service == "live_data")
        url = f"https://{live_data.host}:{live_data.port}/"
        first = browser.received_certificates([url])[url]
        assert "Target.createBrowserContext" not in posted
        again = browser.received_certificates([url])[url]
    assert posted.count("Target.createBrowserContext") == 1
    assert posted.count("Target.disposeBrowserContext") == 1
    assert first.chain == again.chain
    assert fingerprint_der(again.chain[0]) == live_data.expected_leaf("browser")
