"""Audit schema 4 (structured subjects, the gadgets each check covered, structured causes,
compact checks) written and validated; schema-3 audits that engineers recorded before it
still read by ``report`` and ``diff``; schemas 1 and 2 refused in one line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from audits import lab_audit
from cli_runner import invoke

from auditor.common.errors import InputError
from auditor.common.validation import validate
from auditor.model.audit import (
    SCHEMA_VERSION,
    audit_from_data,
    audit_to_json,
    load_audit,
    save_audit,
)
from auditor.model.findings import FindingRef, RuleCheck, Subject, rules_that_checked
from auditor.model.portfolio import build_portfolio, load_portfolio, portfolio_json
from auditor.render import ReportMeta
from auditor.render.context import build_context
from auditor.render.diff import diff_audits
from auditor.render.formats import render

ROOT = Path(__file__).resolve().parent.parent
V3 = ROOT / "fixtures" / "audits-v3"
V3_PRE = V3 / "pre-upgrade-ca-signed--pre.json"
V3_POST = V3 / "row4-upgrade-trap--post.json"
PUB = "uccx-pub.lab.uccx.example"
META = ReportMeta(generated_at="2026-01-01T00:00:00Z")


def test_schema_4_is_written_validated_and_read_back(tmp_path: Path) -> None:
    audit = lab_audit("hygiene-expired")
    path = save_audit(audit, tmp_path / "audit.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 5
    validate(data, "audit", path=str(path))
    assert load_audit(path) == audit
    finding = next(f for f in data["findings"] if f["caused_by"])
    assert finding["subject"]["scope"] in ("endpoint", "certificate")
    assert finding["caused_by"][0]["subject"]["scope"] == "certificate"
    written = finding["caused_by"][0]["subject"]
    cause = next(f for f in load_audit(path).findings if f.caused_by).caused_by[0]
    assert cause == FindingRef("certificate-expired",
                               Subject("certificate", written["key"], written["kind"]))


def test_checks_are_written_one_line_per_rule_and_node_without_empty_fields() -> None:
    audit = lab_audit("row4-upgrade-trap")
    text = audit_to_json(audit)
    start = text.index('\n  "checks": [\n') + len('\n  "checks": [\n')
    lines = text[start:text.index("\n  ]", start)].split("\n")
    groups = [json.loads(line.rstrip(",")) for line in lines]
    assert len(groups) == len({(c.rule_id, c.node) for c in audit.checks})
    items = [i for g in groups for i in g.get("subjects", ())]
    assert len(items) == sum(1 for c in audit.checks if c.subject is not None)
    assert '"kind":""' not in text and '"key":""' not in text and '"gadgets":[]' not in text
    assert all(set(g) in ({"node", "rule_id", "result"}, {"node", "rule_id", "subjects"})
               for g in groups)


def test_a_check_of_the_wrong_shape_is_refused_on_save(tmp_path: Path) -> None:
    audit = lab_audit("row4-upgrade-trap")
    bad = dataclasses.replace(audit, checks=(
        RuleCheck("endpoint-unreachable", PUB, Subject("endpoint", ""), "passed"),))
    with pytest.raises(InputError) as caught:
        save_audit(bad, tmp_path / "audit.json")
    assert "checks[0]" in str(caught.value)


def test_a_schema_3_audit_is_migrated_on_load() -> None:
    raw = json.loads(V3_POST.read_text())
    assert raw["schema_version"] == 3
    audit = load_audit(V3_POST)
    assert audit.schema_version == SCHEMA_VERSION
    assert all(isinstance(f.subject, Subject) for f in audit.findings)
    assert len(audit.checks) == len(raw["checks"])
    assert all((c.subject is None) == (c.result == "not_applicable") for c in audit.checks)
    # a failed check covers the gadgets its finding gives an outcome; a passed one, none
    failed = [c for c in audit.checks if c.result == "failed"]
    assert failed and all(c.gadgets for c in failed if any(
        f.rule_id == c.rule_id and f.node == c.node and f.gadgets for f in audit.findings))
    assert all(c.gadgets == () for c in audit.checks if c.result == "passed")
    # written again, it is a schema-4 audit that reads back equal
    again = audit_from_data(json.loads(audit_to_json(audit)))
    assert again == audit


def test_the_checked_view_of_a_schema_3_audit_falls_back_to_its_working_gadgets() -> None:
    raw = json.loads(V3_POST.read_text())
    pub = next(n for n in raw["nodes"] if n["host"] == PUB)
    kept = pub["gadgets"]["finesse_desktop"]["rules"]
    assert pub["gadgets"]["finesse_desktop"]["outcome"] == "works" and kept
    context = build_context(load_audit(V3_POST), META)
    node = next(n for n in context["nodes"] if n["host"] == PUB)
    assert node["checked"]["Finesse desktop"] == sorted(kept)


def test_the_checked_view_is_read_from_the_checks() -> None:
    audit = lab_audit("row3-ec-signed-ecdsa")
    checked = rules_that_checked(audit.checks)[(PUB, "finesse_desktop")]
    node = next(n for n in build_context(audit, META)["nodes"] if n["host"] == PUB)
    assert node["checked"]["Finesse desktop"] == list(checked)
    assert all(not r.rules for r in audit.nodes[0].gadgets.values() if r.outcome == "works")
    # take one rule's gadgets out of its checks: the report no longer names it
    gone = checked[0]
    edited = dataclasses.replace(audit, checks=tuple(
        dataclasses.replace(c, gadgets=()) if c.rule_id == gone else c for c in audit.checks))
    node = next(n for n in build_context(edited, META)["nodes"] if n["host"] == PUB)
    assert gone not in node["checked"]["Finesse desktop"]
    html = render(edited, "html", META)
    evidence = html[html.index("Rules that checked the working gadgets"):]
    assert gone not in evidence.split("</p>")[0]
    assert checked[1] in evidence.split("</p>")[0]


def test_junit_test_cases_are_the_rules_the_checks_say_looked(tmp_path: Path) -> None:
    from junitparser import JUnitXml

    audit = lab_audit("row3-ec-signed-ecdsa")

    def cases(a) -> set[str]:
        xml = JUnitXml.fromstring(render(a, "junit", META).encode())
        return {c.name for s in xml for c in s if s.name.endswith(PUB)}

    looked = {c.rule_id for c in audit.checks if c.node == PUB and c.result != "not_applicable"}
    assert cases(audit) == looked
    dropped = sorted(looked)[0]
    edited = dataclasses.replace(audit, checks=tuple(
        RuleCheck(c.rule_id, c.node, None, "not_applicable")
        if (c.rule_id, c.node) == (dropped, PUB) else c for c in audit.checks))
    assert cases(edited) == looked - {dropped}


@pytest.mark.parametrize("fmt", ["html", "md", "json", "junit"])
def test_report_reads_a_schema_3_audit(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    done = invoke("report", str(V3_POST), "--format", fmt, "--out", str(out))
    assert done.returncode == 1, done.stderr  # the row-4 trap is a no-go
    text = out.read_text()
    assert "live-data-prompt-cannot-be-accepted" in text
    if fmt == "json":
        data = json.loads(text)
        assert data["schema_version"] == SCHEMA_VERSION
        validate(data, "audit", path=str(out))
    if fmt == "html":
        assert "Rules that checked the working gadgets" in text


def test_diff_reads_schema_3_audits_and_predictions_still_come_true(tmp_path: Path) -> None:
    done = invoke("diff", str(V3_PRE), str(V3_POST), "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert any("different clusters" in w for w in data["warnings"])
    # the same cluster's pre-change audit of last week (schema 3) against today's after
    before = load_audit(V3_PRE)
    after = dataclasses.replace(lab_audit("row4-upgrade-trap"), cluster=before.cluster)
    diff = diff_audits(before, after)
    came_true = {(r.rule_id, r.node) for r in diff.came_true}
    assert ("live-data-prompt-cannot-be-accepted", PUB) in came_true
    assert ("upgrade-creates-self-signed-tomcat-ecdsa", PUB) in came_true
    assert not any(r.rule_id == "live-data-prompt-cannot-be-accepted" for r in diff.fixed)
    for fmt in ("table", "md", "html"):
        done = invoke("diff", str(V3_POST), str(V3_POST), "--format", fmt)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    same = diff_audits(load_audit(V3_POST), lab_audit("row4-upgrade-trap"))
    assert (same.fixed, same.new, same.no_longer_checked) == ((), (), ())


@pytest.mark.parametrize("version", [1, 2, 6])
def test_other_audit_schemas_are_refused_in_one_line(tmp_path: Path, version: int) -> None:
    data = json.loads(V3_POST.read_text())
    data["schema_version"] = version
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    done = invoke("report", str(path))
    assert done.returncode == 2
    assert "schema_version" in done.stderr and f"{version} is not supported" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2 and "Traceback" not in done.stderr


def test_a_schema_1_portfolio_is_still_read(tmp_path: Path) -> None:
    audit = lab_audit("row4-upgrade-trap")
    portfolio = build_portfolio([("lab-row4", audit)], generated_at="2026-01-01T00:00:00Z")
    data = json.loads(portfolio_json(portfolio))
    assert data["schema_version"] == 2
    assert data["clusters"][0]["blockers"][0]["subject"]["scope"] in ("node", "endpoint",
                                                                      "certificate")
    # schema 1 had no scope line either (a cluster's line then says "not recorded")
    old = {**data, "schema_version": 1, "clusters": [
        {**{k: v for k, v in c.items() if k != "scope"},
         "blockers": [{**b, "subject": Subject(**b["subject"]).text} for b in c["blockers"]]}
        for c in data["clusters"]]}
    (tmp_path / "portfolio.json").write_text(json.dumps(old))
    assert load_portfolio(tmp_path) == dataclasses.replace(portfolio, clusters=tuple(
        dataclasses.replace(c, scope=None) for c in portfolio.clusters))
    (tmp_path / "portfolio.json").write_text(portfolio_json(portfolio))
    assert load_portfolio(tmp_path) == portfolio
