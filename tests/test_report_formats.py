"""JSON, JUnit, Markdown and HTML output: valid, deterministic, escaped, offline."""

from __future__ import annotations

import json
import socket

import jsonschema_rs
import pytest
from audits import hostile_audit, lab_audit
from cli_runner import Result, invoke
from junitparser import Failure, JUnitXml

from auditor.common.resources import schema_path
from auditor.model.audit import load_audit, save_audit
from auditor.render import ReportMeta, render
from auditor.render.diff import diff_audits
from auditor.render.diff_render import render_diff
from auditor.render.faq import cluster_row

META = ReportMeta("CHG0042", "operator", "2026-11-27T00:00:00Z")


@pytest.mark.parametrize("scenario", ["row1-self-signed", "row4-upgrade-trap",
                                      "mixed-cluster", "pre-upgrade-self-signed"])
def test_json_validates_against_the_audit_schema(scenario: str) -> None:
    data = json.loads(render(lab_audit(scenario), "json", META))
    jsonschema_rs.validate(json.loads(schema_path("audit").read_text()), data)


@pytest.mark.parametrize("scenario", ["row2-rsa-signed-ecdsa", "row4-upgrade-trap",
                                      "row3-ec-signed-ecdsa", "hygiene-expired"])
def test_junit_parses_and_counts_one_failure_per_rule_and_node_with_errors(
        scenario: str, tmp_path) -> None:
    audit = lab_audit(scenario)
    path = tmp_path / "junit.xml"
    path.write_text(render(audit, "junit", META))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name.split(" / ")[1] for s in suites] == [n.host for n in audit.nodes]
    failing = {(f.rule_id, f.node) for f in audit.findings if f.severity == "error"}
    seen = set()
    for suite in suites:
        host = suite.name.split(" / ")[1]
        names = [case.name for case in suite]
        assert len(names) == len(set(names)), "one test case per rule per node"
        for case in suite:
            if any(isinstance(r, Failure) for r in case.result):
                seen.add((case.name, host))
    assert seen == failing
    assert xml.failures == len(failing)


def test_junit_has_a_case_for_every_rule_that_applies_even_when_it_passes() -> None:
    audit = lab_audit("row3-ec-signed-ecdsa")
    assert audit.verdict == "go"
    xml = JUnitXml.fromstring(render(audit, "junit", META).encode())
    assert xml.failures == 0
    for suite in xml:
        assert suite.tests >= 5


@pytest.mark.parametrize("fmt", ["html", "md", "json", "junit"])
def test_same_input_renders_byte_identical_apart_from_the_generation_time(fmt) -> None:
    audit = lab_audit("mixed-cluster")
    first = render(audit, fmt, META)
    assert render(audit, fmt, META) == first
    later = ReportMeta(META.ticket, META.operator, "2030-01-01T12:34:56Z")
    assert render(audit, fmt, later).replace("2030-01-01T12:34:56Z",
                                             META.generated_at) == first


def test_rendering_makes_no_network_access(monkeypatch) -> None:
    audit = lab_audit("row4-upgrade-trap")

    def refuse(*args, **kwargs):
        raise AssertionError("rendering tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for fmt in ("html", "md", "json", "junit"):
        assert render(audit, fmt, META)


def test_html_is_self_contained() -> None:
    html = render(lab_audit("row4-upgrade-trap"), "html", META)
    lowered = html.lower()
    for needle in ("<script", "<link", "@import", "url(", "src=", "http://", "https://"):
        assert needle not in lowered, needle
    assert "default-src 'none'" in html
    assert "@media print" in html


def test_html_sections_in_the_order_the_board_reads_them() -> None:
    html = render(lab_audit("row4-upgrade-trap"), "html", META)
    # the verdict and the plan lead (the PDF's first pages); the evidence follows
    order = ['id="verdict"', 'id="plan"', 'id="ticket"', 'id="gadgets"', 'id="faq"',
             'id="findings"', 'id="evidence"', 'id="certificates"']
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "CHG0042" in html and "sha256:" in html and "-----BEGIN CERTIFICATE-----" in html


def test_hostile_subject_is_escaped_in_html_and_markdown() -> None:
    audit = hostile_audit()
    html = render(audit, "html", META)
    assert "<script>window" not in html
    assert "\\&lt;script\\&gt;window.__pwned=1" in html
    assert "<img" not in html
    assert "<script" not in render(audit, "md", META)


@pytest.mark.parametrize(("scenario", "row"), [
    ("row1-self-signed", 1), ("row2-rsa-signed-ecdsa", 2), ("row3-ec-signed-ecdsa", 3),
    ("row4-upgrade-trap", 4), ("pre-upgrade-ca-signed", 4), ("pre-upgrade-self-signed", 1),
    ("mixed-cluster", None), ("cop-uccx", None)])
def test_faq_row_matched(scenario: str, row) -> None:
    audit = lab_audit(scenario)
    assert cluster_row(audit.nodes) == row
    html = render(audit, "html", META)
    if row:
        assert f'<tr class="matched">\n  <td>{row} ◀' in html


def test_markdown_summary_for_a_ticket_comment() -> None:
    text = render(lab_audit("row4-upgrade-trap"), "md", META)
    assert text.startswith("**UCCX certificate audit")
    assert "NO-GO" in text and "FAQ row 4" in text
    assert "| uccx-pub.lab.uccx.example | RSA-CA-signed (network) | self-signed (network) | " \
           "works | prompt, accepting FAILS ⛔ Live Data asks agents to accept a certificate, " \
           "and accepting fails (`live-data-prompt-cannot-be-accepted`) |" in text
    assert "tomcat-ECDSA" in text and "Verify on the audit host" in text


def test_remediation_plan_is_numbered_deduplicated_and_per_node() -> None:
    html = render(lab_audit("row4-upgrade-trap"), "html", META)
    plan = html[html.index('id="plan"'):html.index('id="ticket"')]
    assert plan.count("<h3>Playbook") == 1
    assert plan.count("Playbook 1: Sign tomcat-ECDSA with a CA that signs EC certificates") == 1
    assert "Generate CSR" in plan and "tomcat-trust" in plan and "utils system restart" in plan
    # per node: CSR, download, tomcat-trust (the publisher replicates), upload, restart
    assert "uccx-pub.lab.uccx.example</strong>: steps 1, 4, 8, 10, 14" in plan
    assert "uccx-sub.lab.uccx.example</strong>: steps 2, 5, 11, 15" in plan


def test_diff_of_row4_trap_before_and_ec_signed_after() -> None:
    before = lab_audit("pre-upgrade-ca-signed")
    after = lab_audit("row3-ec-signed-ecdsa")
    diff = diff_audits(before, after)
    live = {(o.node, o.before, o.after) for o in diff.outcomes if o.gadget == "live_data"}
    assert live == {("uccx-pub.lab.uccx.example", "prompt_accept_fails", "works"),
                    ("uccx-sub.lab.uccx.example", "prompt_accept_fails", "works")}
    ecdsa = [c for c in diff.certificates if c.certificate == "tomcat-ECDSA"]
    assert {(c.node, c.before_state, c.after_state) for c in ecdsa} == {
        (n.host, "not_presented", "ec_ca_signed") for n in after.nodes}
    assert all(c.after_leaf for c in ecdsa)
    assert any(f.rule_id == "live-data-prompt-cannot-be-accepted" for f in diff.fixed)
    assert diff.new == ()
    for fmt in ("table", "md", "html"):
        text = render_diff(diff, fmt)
        assert "works" in text and "tomcat-ECDSA" in text


def _cli(*args: str, cwd=None) -> Result:
    return invoke(*args, cwd=cwd)


def test_report_and_diff_commands_and_their_exit_codes(tmp_path) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    save_audit(lab_audit("pre-upgrade-ca-signed"), before)
    save_audit(lab_audit("row3-ec-signed-ecdsa"), after)
    assert load_audit(after) == lab_audit("row3-ec-signed-ecdsa")
    done = _cli("report", str(before), "--format", "html", "--out", str(tmp_path / "r.html"),
                "--ticket", "CHG1", "--operator", "me")
    assert done.returncode == 1, done.stderr  # the prediction has error findings
    assert "CHG1" in (tmp_path / "r.html").read_text()
    done = _cli("report", str(after), "--format", "junit")
    assert done.returncode == 0 and done.stdout.startswith("<?xml")
    done = _cli("diff", str(before), str(after), "--format", "md")
    assert done.returncode == 0 and "NO-GO → GO" in done.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    done = _cli("report", str(broken))
    assert done.returncode == 2 and "broken.json" in done.stderr
    assert "Traceback" not in done.stderr
    assert _cli("report", str(after), "--format", "pdf").returncode == 2


def test_a_restricted_profile_turned_away_reads_as_no_certificate_of_that_type() -> None:
    audit = lab_audit("row3-ec-signed-ecdsa")
    html = render(audit, "html", META)
    finesse = html[html.index("Finesse — port"):]
    finesse = finesse[:finesse.index("</table>")]
    assert "no ECDSA certificate on this port (the server answered: tls_alert)" in finesse


def test_audit_json_is_validated_on_write(tmp_path, monkeypatch) -> None:
    from auditor.common.errors import InputError
    from auditor.model import audit as audit_module

    audit = lab_audit("row4-upgrade-trap")
    # the data save_audit writes is the data it validates
    data = {**audit_module._audit_data(audit), "verdict": "maybe"}
    monkeypatch.setattr(audit_module, "_audit_data", lambda *_args: data)
    target = tmp_path / "audit.json"
    with pytest.raises(InputError, match="verdict: 'maybe' is not allowed"):
        save_audit(audit, target)
    assert not target.exists()
