"""A lean audit.json (schema 5): the checks as a table of indexes, and the facts named by
reference (file name and SHA-256) when facts.json is written beside audit.json in the same
folder and manifest. Every reader (report, diff, portfolio folders) reads both forms; a
reference to a missing or changed facts file is one line, exit 2; schema-4 audits migrate
to the same audit in memory."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from audits import as_schema_4, check_rows, lab_audit
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.common.validation import validate
from auditor.evaluate.plan import planned
from auditor.model.audit import (
    Audit,
    Step,
    audit_from_data,
    audit_to_json,
    load_audit,
    save_audit,
)
from auditor.model.facts import save_facts
from auditor.model.findings import RuleCheck, Subject
from auditor.model.solution import builtin

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"
V4 = ROOT / "fixtures" / "audits-v4"


def _one_line_exit_2(done: object, *needles: str) -> None:
    assert done.returncode == 2, done.stderr  # type: ignore[attr-defined]
    err = done.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A portfolio judged from two recorded clusters' facts (no probing)."""
    out = tmp_path_factory.mktemp("lean") / "portfolio"
    done = invoke("portfolio", FACTS / "row1-self-signed.json",
                  FACTS / "hygiene-expired-publisher.json", "--phase", "post", "--out", out)
    assert done.returncode in (0, 1, 3), done.stderr
    return out


def _cluster(portfolio: Path) -> Path:
    return next(p for p in sorted(portfolio.iterdir()) if (p / "audit.json").exists())


def test_an_audit_folder_names_its_facts_by_reference(portfolio: Path) -> None:
    folder = _cluster(portfolio)
    data = json.loads((folder / "audit.json").read_text())
    assert "facts" not in data
    assert data["facts_file"]["name"] == "facts.json"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert data["facts_file"]["sha256"] == manifest["files"]["facts.json"]["sha256"]
    assert "audit.json" in manifest["files"]
    audit = load_audit(folder / "audit.json")
    facts = json.loads((folder / "facts.json").read_text())
    assert audit.facts.cluster == facts["cluster"]
    assert [n.host for n in audit.facts.nodes] == [n["host"] for n in facts["nodes"]]
    # report, diff (of audits and of portfolio folders) and verify read it
    for fmt in ("md", "json", "junit", "html"):
        done = invoke("report", folder / "audit.json", "--format", fmt)
        assert done.returncode in (0, 1, 3) and "Traceback" not in done.stderr, done.stderr
    done = invoke("diff", folder / "audit.json", folder / "audit.json", "--format", "json")
    assert done.returncode in (0, 1, 3), done.stderr
    done = invoke("diff", portfolio, portfolio, "--format", "json")
    assert done.returncode in (0, 1, 3), done.stderr
    assert invoke("verify", folder).returncode == 0


def test_a_self_contained_audit_is_what_report_writes_and_reads_alone(
        portfolio: Path, tmp_path: Path) -> None:
    folder = _cluster(portfolio)
    assert "facts_file" in json.loads((folder / "audit.json").read_text())
    alone = tmp_path / "elsewhere" / "audit.json"
    alone.parent.mkdir()
    done = invoke("report", folder / "audit.json", "--format", "json", "--out", alone)
    assert done.returncode in (0, 1, 3), done.stderr
    data = json.loads(alone.read_text())
    assert "facts_file" not in data and data["facts"]["cluster"]
    validate(data, "audit", path=str(alone))
    assert load_audit(alone) == load_audit(folder / "audit.json")


def test_an_audit_json_copied_without_its_facts_says_so(portfolio: Path,
                                                        tmp_path: Path) -> None:
    copied = tmp_path / "audit.json"
    shutil.copy(_cluster(portfolio) / "audit.json", copied)
    for args in (("report", copied), ("diff", copied, copied)):
        _one_line_exit_2(invoke(*args), str(copied), "facts_file", "facts.json", "missing",
                         "copied without its facts.json")


def test_a_changed_facts_file_is_refused_not_read(portfolio: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(_cluster(portfolio), folder)
    facts = folder / "facts.json"
    facts.write_text(facts.read_text() + " ")  # same facts, other bytes: still not the file
    _one_line_exit_2(invoke("report", folder / "audit.json"), str(folder / "audit.json"),
                     "facts_file.sha256", "SHA-256", "not the facts file")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_the_referenced_facts_is_an_input_error(portfolio: Path,
                                                               data: st.DataObject) -> None:
    original = (_cluster(portfolio) / "facts.json").read_bytes()
    at = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[at]))
    cut = data.draw(st.booleans())
    changed = original[:at] if cut else original[:at] + bytes([byte]) + original[at + 1:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(_cluster(portfolio) / "audit.json", folder / "audit.json")
        (folder / "facts.json").write_bytes(changed)
        with pytest.raises(InputError) as caught:
            load_audit(folder / "audit.json")
    assert caught.value.field == "facts_file.sha256"


@pytest.mark.parametrize("name", ["../facts.json", "/etc/passwd", "sub/facts.json", "..",
                                  ".hidden", "", "facts.json\n"])
def test_a_reference_outside_the_audit_folder_is_refused(portfolio: Path, tmp_path: Path,
                                                         name: str) -> None:
    data = json.loads((_cluster(portfolio) / "audit.json").read_text())
    data["facts_file"]["name"] = name
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(data))
    _one_line_exit_2(invoke("report", path), "facts_file.name")


def test_facts_both_copied_and_referenced_or_neither_is_refused(portfolio: Path,
                                                                tmp_path: Path) -> None:
    data = json.loads((_cluster(portfolio) / "audit.json").read_text())
    both = {**data, "facts": json.loads((_cluster(portfolio) / "facts.json").read_text())}
    neither = {k: v for k, v in data.items() if k != "facts_file"}
    for bad in (both, neither):
        path = tmp_path / "audit.json"
        path.write_text(json.dumps(bad))
        _one_line_exit_2(invoke("report", path), str(path), "facts:",
                         "both" if bad is both else "neither")


# -- the checks table ---------------------------------------------------------------------


def test_the_checks_are_a_table_with_columns_declared_once() -> None:
    audit = lab_audit("row1-self-signed")
    data = json.loads(audit_to_json(audit))
    table = data["checks"]
    assert table["columns"] == ["rule", "node", "subject", "result", "gadgets"]
    assert len(table["rows"]) == len(audit.checks)
    assert all(isinstance(v, int) for row in table["rows"] for v in row[:2])
    for name in ("rules", "nodes", "gadgets"):
        assert len(set(table[name])) == len(table[name])  # each listed once
    assert [(r["rule_id"], r["node"], r["result"], tuple(r["gadgets"]))
            for r in check_rows(data)] == [(c.rule_id, c.node, c.result, c.gadgets)
                                           for c in audit.checks]
    # much smaller than schema 4's groups of objects
    table_text = json.dumps(table, separators=(",", ":"))
    groups_text = json.dumps(as_schema_4(data)["checks"], separators=(",", ":"))
    assert 3 * len(table_text) < len(groups_text)


@pytest.mark.parametrize("row, field", [
    ([999, 0, 0, "passed", []], "checks.rows[0][0]"),
    ([0, 999, 0, "passed", []], "checks.rows[0][1]"),
    ([0, 0, 999, "passed", []], "checks.rows[0][2]"),
    ([0, 0, 0, "passed", [999]], "checks.rows[0][4]"),
    ([0, 0, None, "passed", []], "checks.rows[0]"),
    ([0, 0, 0, "not_applicable", []], "checks.rows[0]"),
    ([0, 0, 0, "passed"], "checks.rows[0]"),
    ([0, -1, 0, "passed", []], "checks.rows[0][1]"),
])
def test_a_row_that_points_nowhere_is_one_line_naming_it(tmp_path: Path, row: list,
                                                         field: str) -> None:
    data = json.loads(audit_to_json(lab_audit("row1-self-signed")))
    data["checks"]["rows"][0] = row
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(data))
    _one_line_exit_2(invoke("report", path), str(path), field)


def _gadget_names() -> list[str]:
    return sorted(builtin().gadgets)


@st.composite
def _audits(draw: st.DrawFn) -> Audit:
    """A lab audit with any checks an engine could write: its failed checks (one per
    finding) kept, and any passed, not-seen and not-applicable checks around them."""
    audit = lab_audit(draw(st.sampled_from(["row1-self-signed", "hygiene-expired",
                                            "row4-upgrade-trap"])))
    reached = [(n.host, e.service) for n in audit.facts.nodes for e in n.endpoints
               if e.reachable]
    hosts = [n.host for n in audit.facts.nodes]
    text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                   max_size=12)
    rule = st.one_of(st.sampled_from(sorted({c.rule_id for c in audit.checks})), text)
    gadgets = st.lists(st.sampled_from(_gadget_names()), max_size=3, unique=True).map(tuple)
    endpoint = st.sampled_from(reached).map(lambda r: (r[0], Subject("endpoint", r[1])))
    node = st.sampled_from(hosts).map(lambda h: (h, Subject("node")))
    cert = st.tuples(st.sampled_from(hosts), text, st.sampled_from(["tomcat",
                                                                      "tomcat_ecdsa"])
                     ).map(lambda t: (t[0], Subject("certificate", t[1], t[2])))
    looked = st.builds(lambda rule_id, place, result, g: RuleCheck(
        rule_id, place[0], place[1], result, g), rule, st.one_of(endpoint, node, cert),
        st.sampled_from(["passed", "not_seen"]), gadgets)
    skipped = st.builds(lambda rule_id, host: RuleCheck(rule_id, host, None,
                                                        "not_applicable"),
                        rule, st.one_of(st.sampled_from(hosts), text))
    failed = [c for c in audit.checks if c.result == "failed"]
    others = draw(st.lists(st.one_of(looked, skipped), max_size=40))
    order = draw(st.permutations(failed + others))
    return dataclasses.replace(audit, checks=tuple(order))


def _step_of_4(step: Step) -> Step:
    return replace(step, phase=None, command=None, via=None, roles=())


@settings(max_examples=40, deadline=None)
@given(audit=_audits())
def test_any_audit_round_trips_in_both_forms_and_from_schema_4(audit: Audit) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        facts = save_facts(audit.facts, folder / "facts.json")
        alone = save_audit(audit, folder / "alone.json")
        referring = save_audit(audit, folder / "audit.json", facts_file=facts)
        assert load_audit(alone) == audit
        assert load_audit(referring) == audit
        assert "facts_file" in json.loads(referring.read_text())
        v4 = as_schema_4(json.loads(alone.read_text()))
        validate(v4, "audit-v4", path="v4")
        # schema 4 held no plan (it is built from the findings when shown), nor the step
        # fields schema 5 added to playbooks
        assert planned(audit_from_data(v4)) == planned(replace(
            audit, plan=None, playbooks={key: replace(
                playbook, steps=tuple(map(_step_of_4, playbook.steps)),
                verify=_step_of_4(playbook.verify))
                for key, playbook in audit.playbooks.items()}))


@pytest.mark.parametrize("path", sorted(V4.glob("*.json")), ids=lambda p: p.name)
def test_schema_4_audits_written_by_the_last_version_read_and_migrate(
        path: Path, tmp_path: Path) -> None:
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 4
    audit = load_audit(path)
    assert audit.schema_version == 5
    # the checks as schema 4 grouped them, read here on their own
    written = [(g["rule_id"], g["node"], None, "not_applicable", ()) if "subjects" not in g
               else None for g in raw["checks"]]
    expanded = []
    for group, entry in zip(raw["checks"], written, strict=True):
        if entry is not None:
            expanded.append(entry)
            continue
        for item in group["subjects"]:
            s = item["subject"]
            expanded.append((group["rule_id"], group["node"],
                             Subject(s["scope"], s.get("key", ""), s.get("kind", "")),
                             item["result"], tuple(item.get("gadgets", ()))))
    assert [(c.rule_id, c.node, c.subject, c.result, c.gadgets) for c in audit.checks
            ] == expanded
    again = save_audit(audit, tmp_path / "audit.json")
    assert load_audit(again) == audit
    assert again.stat().st_size < path.stat().st_size
    for args in (("report", path, "--format", "md"), ("diff", path, again)):
        done = invoke(*args)
        assert done.returncode in (0, 1, 3) and "Traceback" not in done.stderr, done.stderr


def test_each_junit_suite_says_its_own_nodes_scope_not_the_whole_clusters() -> None:
    """A suite per node carried the whole cluster's scope line: on a thousand endpoints,
    every endpoint was named in each of 500 suites (52 MB of XML, 450 MB to build it)."""
    import xml.etree.ElementTree as ET

    from auditor.render import ReportMeta
    from auditor.render.formats import render

    audit = lab_audit("row1-self-signed")
    root = ET.fromstring(render(audit, "junit", ReportMeta(generated_at="2026-01-01T00:00:00Z")))
    hosts = [n.host for n in audit.nodes]
    assert len(hosts) > 1
    for suite in root.iter("testsuite"):
        host = suite.get("hostname")
        said = " ".join(p.get("value", "") for p in suite.iter("property")
                        if p.get("name") in ("scope", "not checked"))
        assert "Judged: " in said and host in said
        assert not [other for other in hosts if other != host and other in said], said
