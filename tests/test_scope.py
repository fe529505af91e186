"""The scope line: what an audit judged (endpoints per node and service), what it did not
check and what would check it, and whether the servers' trust stores were read, in every
format and in audit.json (issue 22, item 5)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.model.audit import audit_from_data, audit_to_json, load_audit
from auditor.model.facts import Facts, load_facts
from auditor.model.scope import not_checked, scope_line, scope_of
from auditor.model.solution import current
from tests.audits import audit_facts
from tests.cli_runner import invoke

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
ALL_FACTS = sorted(FACTS.glob("*.json"))
CLI_READ = FACTS / "row3-cli-reports-11-5.json"
NO_CLI = FACTS / "row3-ca-signed-ec.json" if (FACTS / "row3-ca-signed-ec.json").exists() \
    else next(p for p in ALL_FACTS if load_facts(p).nodes[0].installed is None)


def _browser_leaf(endpoint) -> bool:
    hs = endpoint.handshake("browser")
    return hs is not None and bool(hs.leaf)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_FACTS), data=st.data())
def test_scope_counts_what_the_facts_hold_and_names_what_would_check_the_rest(path, data):
    """Whatever endpoints and CLI readings a cluster's facts hold, the scope lists each
    service of each node once (the map's services plus any recorded), calls judged exactly
    those where a browser got a certificate, reads a trust store exactly where the VOS CLI
    read it, and gives everything else a reason and what would check it."""
    facts = load_facts(path)
    nodes = []
    for node in facts.nodes:
        keep = data.draw(st.lists(st.sampled_from(node.endpoints), unique_by=lambda e: e.service)
                         if node.endpoints else st.just([]))
        installed = node.installed if data.draw(st.booleans()) else None
        nodes.append(dataclasses.replace(node, endpoints=tuple(keep), installed=installed))
    facts = dataclasses.replace(facts, nodes=tuple(nodes))
    scope = scope_of(facts)
    solution = current()
    for node in facts.nodes:
        mine = [e for e in scope.endpoints if e.node == node.host]
        services = [e.service for e in mine]
        expected = set(solution.services(solution.family_of(node.role))) | {
            e.service for e in node.endpoints}
        assert sorted(services) == sorted(expected)
        for entry in mine:
            record = node.endpoint(entry.service)
            assert entry.judged == (record is not None and _browser_leaf(record))
            if not entry.judged:
                assert entry.why and entry.check_with
    read = {t.node: t.read for t in scope.server_trust}
    for node in facts.nodes:
        if node.host in read:
            assert read[node.host] == (node.installed is not None
                                       and node.installed.error is None)
    line = scope_line(scope)
    judged = len([e for e in scope.endpoints if e.judged])
    assert (f"Judged: {judged} endpoint" in line) or (judged == 0 and "no endpoint" in line)
    if read and not any(read.values()):
        assert "Server-to-server trust: not read — add --cli" in line
    if read and all(read.values()):
        assert "Server-to-server trust: read" in line and "not read" not in line
    assert len(not_checked(scope)) == (len(scope.not_judged)
                                       + sum(1 for r in read.values() if not r))


def test_the_vos_cli_reading_turns_the_trust_line_to_read():
    with_cli = audit_facts(load_facts(CLI_READ), "post")
    without: Facts = dataclasses.replace(
        with_cli.facts, nodes=tuple(dataclasses.replace(n, installed=None)
                                    for n in with_cli.facts.nodes))
    assert "Server-to-server trust: read" in scope_line(with_cli.scope)
    assert "Server-to-server trust: not read — add --cli" in scope_line(
        audit_facts(without, "post").scope)


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scope") / "audit.json"
    result = invoke("evaluate", str(NO_CLI), "--phase", "post", "--out", str(out))
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Server-to-server trust: not read — add --cli" in result.stdout
    assert "Judged: " in result.stdout
    return out


def test_audit_json_carries_the_scope_and_the_schema_checks_it(audit_file):
    data = json.loads(audit_file.read_text())
    assert data["scope"]["endpoints"] and data["scope"]["derived"] is False
    assert any(not t["read"] for t in data["scope"]["server_trust"])
    bad = json.loads(audit_file.read_text())
    bad["scope"]["endpoints"][0]["colour"] = "green"
    with pytest.raises(InputError, match="scope"):
        audit_from_data(bad, path="bad.json")


@pytest.mark.parametrize("fmt", ["md", "html", "junit", "json"])
def test_every_report_format_says_the_scope(audit_file, fmt):
    result = invoke("report", str(audit_file), "--format", fmt)
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Server-to-server trust: not read" in result.stdout or (
        fmt == "json" and '"server_trust"' in result.stdout)
    assert "Judged: " in result.stdout or fmt == "json"
    if fmt != "json":
        assert "add --all-ports" in result.stdout or "not probed" not in json.dumps(
            json.loads(audit_file.read_text())["scope"])


def test_an_audit_written_before_the_scope_gets_it_from_its_own_facts(audit_file, tmp_path):
    data = json.loads(audit_file.read_text())
    recorded = data.pop("scope")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    audit = load_audit(old)
    assert audit.scope is not None and audit.scope.derived
    assert dataclasses.replace(audit.scope, derived=False) == load_audit(audit_file).scope
    assert json.loads(audit_to_json(audit))["scope"]["endpoints"] == recorded["endpoints"]
    md = invoke("report", str(old), "--format", "md")
    assert "Server-to-server trust: not read" in md.stdout
    assert "did not record a scope" in md.stdout


def test_a_scope_that_claims_more_than_the_facts_hold_is_refused(audit_file, tmp_path):
    data = json.loads(audit_file.read_text())
    data["scope"]["server_trust"][0]["read"] = True
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    result = invoke("report", str(forged), "--format", "md")
    assert result.returncode == 2
    assert "scope.server_trust[0].read" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- portfolio roll-ups ----------------------------------------------------------------------

def _portfolio_of(paths: list[Path]):
    from auditor.model.portfolio import build_portfolio

    return build_portfolio([(p.stem, audit_facts(load_facts(p), "post")) for p in paths],
                           generated_at="2026-01-01T00:00:00Z")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paths=st.lists(st.sampled_from(ALL_FACTS), min_size=1, max_size=4, unique=True))
def test_a_portfolio_shows_each_cluster_scope_beside_its_verdict(paths):
    """Whatever clusters a portfolio rolls up, each line carries that cluster audit's own
    scope line, in portfolio.json, the CSV and the HTML, and the file loads back equal."""
    import csv as csv_module
    import tempfile

    from auditor.model.portfolio import load_portfolio, portfolio_json
    from auditor.render.portfolio import portfolio_csv, portfolio_html

    portfolio = _portfolio_of(paths)
    rows = list(csv_module.DictReader(portfolio_csv(portfolio).splitlines()))
    html = portfolio_html(portfolio)
    for path, entry, row in zip(paths, portfolio.clusters, rows, strict=True):
        line = scope_line(audit_facts(load_facts(path), "post").scope)
        assert entry.scope == line and row["scope"] == line
        assert line.split(" (", 1)[0] in html
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "portfolio.json").write_text(portfolio_json(portfolio))
        assert load_portfolio(Path(folder)) == portfolio


def test_a_portfolio_written_before_the_scope_loads_and_says_not_recorded(tmp_path):
    from auditor.model.portfolio import check_entry, load_portfolio, portfolio_json
    from auditor.render.portfolio import portfolio_csv, portfolio_html

    portfolio = _portfolio_of([NO_CLI])
    data = json.loads(portfolio_json(portfolio))
    for cluster in data["clusters"]:
        del cluster["scope"]
    (tmp_path / "portfolio.json").write_text(json.dumps(data))
    old = load_portfolio(tmp_path)
    assert old.clusters[0].scope is None
    assert "not recorded" in portfolio_csv(old) and "not recorded" in portfolio_html(old)
    audit = audit_facts(load_facts(NO_CLI), "post")
    check_entry(old.clusters[0], audit, path="old", field="clusters[0]")  # nothing to refuse
    forged = dataclasses.replace(portfolio.clusters[0], scope=portfolio.clusters[0].scope
                                 .replace("not read — add --cli", "read (VOS CLI)"))
    with pytest.raises(InputError, match=r"clusters\[0\]\.scope"):
        check_entry(forged, audit, path="forged", field="clusters[0]")


def test_the_portfolio_command_prints_each_cluster_scope(tmp_path):
    folder = tmp_path / "facts"
    folder.mkdir()
    (folder / "one.json").write_text(NO_CLI.read_text())
    (folder / "two.json").write_text(CLI_READ.read_text())
    result = invoke("portfolio", str(folder), "--phase", "post", "--out", str(tmp_path / "out"))
    assert result.returncode in (0, 1, 3), result.stderr
    assert "Server-to-server trust: not read — add --cli" in result.stdout
    assert "Server-to-server trust: read (VOS CLI)" in result.stdout
    assert result.stdout.count("Judged: ") == 2


@pytest.mark.parametrize("fmt", ["table", "md", "html", "json"])
def test_the_diff_says_the_scope_before_and_after(audit_file, tmp_path, fmt):
    """A diff of an old audit (no scope recorded: derived, and said so) with one whose VOS
    CLI was read shows both scope lines, so a change board sees what each side covered."""
    data = json.loads(audit_file.read_text())
    del data["scope"]
    before = tmp_path / "before.json"
    before.write_text(json.dumps(data))
    after = tmp_path / "after.json"
    done = invoke("evaluate", str(CLI_READ), "--phase", "post", "--out", str(after))
    assert done.returncode in (0, 1, 3), done.stderr
    result = invoke("diff", str(before), str(after), "--format", fmt)
    assert result.returncode in (0, 1, 3), result.stderr
    if fmt == "json":
        sides = json.loads(result.stdout)
        assert "not read — add --cli" in sides["before"]["scope"]
        assert "did not record a scope" in sides["before"]["scope"]
        assert "Server-to-server trust: read (VOS CLI)" in sides["after"]["scope"]
    else:
        assert "not read — add --cli" in result.stdout
        assert "did not record a scope" in result.stdout
        assert "Server-to-server trust: read (VOS CLI)" in result.stdout
