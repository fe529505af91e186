"""Waivers: an accepted risk leaves the verdict and is shown in every format; an expired
waiver counts for nothing; unknowns cannot be waived; bad files are input errors."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from junitparser import JUnitXml, Skipped

from auditor.common.errors import InputError
from auditor.evaluate.ruleset import load_ruleset
from auditor.evaluate.waivers import load_waivers
from auditor.lab import Lab

ROW4_RULE = "live-data-prompt-cannot-be-accepted"


def run(*args: str, timeout: float = 120) -> Result:
    return invoke(*args)


def waiver_file(path: Path, *, expires: dt.date, rule: str = ROW4_RULE, node: str = '"*"',
                service: str = "live_data") -> Path:
    path.write_text(
        "waivers:\n"
        f"  - rule: {rule}   # a rule ID\n"
        f"    node: {node}\n"
        f"    service: {service}\n"
        "    reason: lab site, signed certificate <ordered>\n"
        "    approved_by: CAB 2026-12-01\n"
        "    ticket: CHG0042\n"
        f'    expires: "{expires.isoformat()}"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def row4(tmp_path_factory):
    with Lab("row4-upgrade-trap", tmp_path_factory.mktemp("lab")) as lab:
        yield lab


def audit(lab: Lab, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run("audit", "--inventory", str(lab.inventory_path), "--phase", "post",
               "--agent-trust", str(lab.agent_trust_path), "--out", str(out), *extra)


def test_a_waiver_in_force_moves_the_row4_finding_to_accepted_risks(row4, tmp_path) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    waivers = waiver_file(tmp_path / "waivers.yaml", expires=tomorrow)
    out = tmp_path / "out"
    result = audit(row4, out, "--waivers", str(waivers))
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "audit.json").read_text())
    assert data["verdict"] != "no_go"
    assert data["summary"]["error"] == 0
    assert ROW4_RULE not in {f["rule_id"] for f in data["findings"]}
    accepted = data["accepted_risks"]
    assert {(a["finding"]["rule_id"], a["finding"]["node"]) for a in accepted} == {
        (ROW4_RULE, "uccx-pub.lab.uccx.example"), (ROW4_RULE, "uccx-sub.lab.uccx.example")}
    assert accepted[0]["waiver"]["ticket"] == "CHG0042"
    html = (out / "report.html").read_text()
    assert "<h2>Accepted risks</h2>" in html
    assert "signed certificate &lt;ordered&gt;" in html  # the reason is text, escaped
    md = (out / "report.md").read_text()
    assert "**Accepted risks**" in md and ROW4_RULE in md.split("**Accepted risks**")[1]
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    skipped = [(case.name, result.message) for suite in xml for case in suite
               for result in case.result if isinstance(result, Skipped)]
    assert len(skipped) == 2
    assert all(name == ROW4_RULE and "signed certificate <ordered>" in message
               for name, message in skipped)
    assert "1 accepted risk" not in result.stdout and "2 accepted risks" in result.stdout


def test_an_expired_waiver_changes_nothing_but_a_notice(row4, tmp_path) -> None:
    yesterday = dt.date.today() - dt.timedelta(days=1)
    waivers = waiver_file(tmp_path / "waivers.yaml", expires=yesterday)
    out = tmp_path / "out"
    result = audit(row4, out, "--waivers", str(waivers))
    assert result.returncode == 1, result.stderr
    data = json.loads((out / "audit.json").read_text())
    assert data["verdict"] == "no_go"
    assert data["accepted_risks"] == []
    assert any("expired" in n and ROW4_RULE in n for n in data["waiver_notices"])
    assert "expired" in result.stderr
    assert "Accepted risks" in (out / "report.html").read_text()  # the notice is shown


def test_a_waiver_that_matches_nothing_is_a_notice(row4, tmp_path) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    waivers = waiver_file(tmp_path / "waivers.yaml", expires=tomorrow, service="12345")
    out = tmp_path / "out"
    result = audit(row4, out, "--waivers", str(waivers))
    assert result.returncode == 1
    data = json.loads((out / "audit.json").read_text())
    assert data["verdict"] == "no_go"
    assert any("matches no finding" in n for n in data["waiver_notices"])


def test_a_waiver_by_port_and_node_matches_that_endpoint_only(row4, tmp_path) -> None:
    port = next(e.port for e in row4.endpoints
                if e.host.startswith("uccx-pub") and e.service == "live_data")
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    waivers = waiver_file(tmp_path / "waivers.yaml", expires=tomorrow,
                          node="uccx-pub.lab.uccx.example", service=str(port))
    out = tmp_path / "out"
    result = audit(row4, out, "--waivers", str(waivers))
    assert result.returncode == 1  # the subscriber's finding still counts
    data = json.loads((out / "audit.json").read_text())
    assert [a["finding"]["node"] for a in data["accepted_risks"]] == [
        "uccx-pub.lab.uccx.example"]


def test_summary_json_of_a_single_audit(row4, tmp_path) -> None:
    out = tmp_path / "out"
    result = audit(row4, out, "--summary-json")
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    summary = json.loads(line)
    assert summary["clusters"] == 1 and summary["verdicts"]["no_go"] == 1
    assert summary["exit_code"] == 1 and summary["folder"] == str(out)
    assert "Verdict: NO-GO" in result.stderr


def test_evaluate_takes_waivers_too(row4, tmp_path) -> None:
    out = tmp_path / "out"
    assert audit(row4, out).returncode == 1
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    waivers = waiver_file(tmp_path / "waivers.yaml", expires=tomorrow)
    result = run("evaluate", str(out / "facts.json"), "--phase", "post", "--format", "json",
                 "--waivers", str(waivers))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["accepted_risks"]) == 2


@pytest.mark.parametrize("rule", ["endpoint-unreachable", "endpoint-not-probed",
                                  "live-data-prompt-outcome-unknown"])
def test_a_waiver_for_an_unknown_is_refused(rule: str, tmp_path) -> None:
    path = waiver_file(tmp_path / "w.yaml", expires=dt.date(2099, 1, 1), rule=rule)
    with pytest.raises(InputError) as caught:
        load_waivers(path, load_ruleset([]))
    message = str(caught.value)
    assert f"{path}:2: waivers[0].rule:" in message
    assert "cannot be waived" in message and "unknown" in message


@pytest.mark.parametrize(("text", "where"), [
    ("waivers:\n  - rule: no-such-rule\n    node: '*'\n    reason: r\n    approved_by: a\n"
     "    ticket: t\n    expires: '2099-01-01'\n", ":2: waivers[0].rule: no rule"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: '*'\n    reason: r\n    approved_by: a\n"
     "    ticket: t\n", ":2: waivers[0].expires: is required"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: '*'\n    reason: r\n    approved_by: a\n"
     "    ticket: t\n    expires: '2099-02-30'\n", ":7: waivers[0].expires:"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: nowhere.example\n    reason: r\n"
     "    approved_by: a\n    ticket: t\n    expires: 2099-01-01\n",
     ":3: waivers[0].node: 'nowhere.example' is not a node of the inventory"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: '*'\n    service: ftp\n    reason: r\n"
     "    approved_by: a\n    ticket: t\n    expires: 2099-01-01\n",
     ":4: waivers[0].service: no service 'ftp'"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: '*'\n    reason: r\n    approved_by: a\n"
     "    ticket: t\n    expires: 2099-01-01\n    owner: me\n", ":8: waivers[0].owner: unknown"),
    (f"waivers:\n  - rule: {ROW4_RULE}\n    node: '*'\n    reason: \"ok\\x1b[2Jno\"\n"
     "    approved_by: a\n    ticket: t\n    expires: 2099-01-01\n",
     ":4: waivers[0].reason: 'ok\\x1b[2Jno' has the wrong form (expected one line of text"),
    ("waivers: [\n", "invalid YAML"),
])
def test_bad_waiver_files_exit_2_naming_file_line_and_field(row4, tmp_path, text: str,
                                                            where: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = audit(row4, out, "--waivers", str(path))
    assert result.returncode == 2
    assert f"{path}" in result.stderr and where in result.stderr, result.stderr
    assert not out.exists()  # checked before the network: nothing probed, nothing written
