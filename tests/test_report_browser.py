"""Every lab scenario's HTML report, opened in real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audits import all_lab_audits, hostile_audit
from cdp import Browser

from auditor.render import ReportMeta, render

pytestmark = [pytest.mark.browser, pytest.mark.slow]

META = ReportMeta("CHG0042", "test operator", "2026-11-27T00:00:00Z")


@pytest.fixture(scope="module")
def browser():
    with Browser() as running:
        yield running


def _open(browser: Browser, path: Path, shot: Path) -> dict:
    session = browser.session()
    for domain in ("Page", "Network", "Runtime", "Log"):
        browser.send(f"{domain}.enable", {}, session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": path.as_uri()}, session)
    browser.wait_event("Page.loadEventFired", session)
    browser.screenshot(session, str(shot))

    def js(expression: str):
        return browser.send("Runtime.evaluate", {"expression": expression,
                                                 "returnByValue": True}, session)[
            "result"].get("value")

    page = {
        "verdict": js("document.querySelector('#verdict .verdict-word')?.textContent"),
        "grid_cells": js("document.querySelectorAll('#gadgets td.outcome').length"),
        "grid_rows": js("document.querySelectorAll('#gadgets tbody tr').length"),
        "scripts": js("document.scripts.length"),
        "pwned": js("typeof window.__pwned"),
        "text": js("document.body.innerText"),
    }
    mine = [e for e in browser.events if e.get("sessionId") == session]
    page["requests"] = [e["params"]["request"]["url"] for e in mine
                        if e["method"] == "Network.requestWillBeSent"]
    page["errors"] = [e for e in mine if e["method"] == "Runtime.exceptionThrown"
                      or (e["method"] == "Runtime.consoleAPICalled"
                          and e["params"]["type"] in ("error", "warning"))
                      or (e["method"] == "Log.entryAdded"
                          and e["params"]["entry"]["level"] in ("error", "warning"))]
    browser.events.clear()
    return page


@pytest.mark.timeout(300)
def test_every_scenario_report_renders_offline_in_chromium(browser, tmp_path) -> None:
    words = {"go": "go", "go_with_actions": "go with actions", "no_go": "no-go"}
    for name, audit in all_lab_audits().items():
        path = tmp_path / f"{name}.html"
        path.write_text(render(audit, "html", META))
        shot = tmp_path / f"{name}.png"
        page = _open(browser, path, shot)
        assert page["errors"] == [], (name, json.dumps(page["errors"])[:500])
        assert page["requests"] == [path.as_uri()], (name, page["requests"])
        assert page["verdict"] == words[audit.verdict], name
        assert page["grid_rows"] == len(audit.nodes), name
        assert page["grid_cells"] == sum(len(n.gadgets) for n in audit.nodes), name
        assert page["scripts"] == 0
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_hostile_certificate_subject_is_text_not_script(browser, tmp_path) -> None:
    audit = hostile_audit()
    path = tmp_path / "hostile.html"
    path.write_text(render(audit, "html", META))
    page = _open(browser, path, tmp_path / "hostile.png")
    assert page["pwned"] == "undefined"
    assert page["scripts"] == 0
    # shown as text (RFC 4514 puts a backslash before < > and ")
    assert r"\<script\>window.__pwned=1\</script\>" in page["text"]
    assert r'onerror=\"window.__pwned=2\"' in page["text"]
    assert page["errors"] == [] and page["requests"] == [path.as_uri()]
