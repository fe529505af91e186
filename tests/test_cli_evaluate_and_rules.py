"""`uccx-audit evaluate` and `uccx-audit rules` as a user meets them: output, exit codes
(0 no error findings, 1 error findings, 2 input error) and one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_ruleset import write_rule

from auditor.cli.app import main
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.audit import audit_from_data, load_audit

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["uccx-audit", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code or 0, out.out, out.err


@pytest.fixture
def cli(monkeypatch, capsys):
    return lambda *args: run(monkeypatch, capsys, *args)


def facts(name: str) -> str:
    return str(FACTS / f"{name}.json")


def test_a_clean_cluster_exits_0_and_says_go(cli) -> None:
    code, out, _ = cli("evaluate", facts("row3-ec-signed-ecdsa"), "--phase", "post")
    assert code == 0
    assert "Verdict: GO (0 errors, 0 warnings, 0 notices)" in out
    assert "No findings." in out


def test_the_upgrade_trap_exits_1_and_shows_each_nodes_gadgets(cli) -> None:
    code, out, _ = cli("evaluate", facts("row4-upgrade-trap"), "--phase", "post")
    assert code == 1
    assert "Verdict: NO-GO (2 errors, 1 warning, 0 notices)" in out
    row = next(line for line in out.splitlines() if line.startswith("uccx-pub."))
    assert "RSA-CA-signed" in row and "self-signed" in row
    assert "works" in row and "prompt, accepting FAILS" in row
    assert "ERROR    live-data-prompt-cannot-be-accepted  [uccx-pub.lab.uccx.example live_data]" \
        in out
    assert "remediation: sign-tomcat-ecdsa-with-ec-ca, install-uccx-cop" in out


def test_warnings_only_exit_0_with_actions(cli) -> None:
    code, out, _ = cli("evaluate", facts("row1-self-signed"), "--phase", "post")
    assert code == 0 and "Verdict: GO WITH ACTIONS" in out


def test_json_output_is_the_audit_file(cli, tmp_path: Path) -> None:
    out_file = tmp_path / "audit.json"
    code, out, err = cli("evaluate", facts("pre-upgrade-ca-signed"), "--phase", "pre",
                         "--target-version", "11.5(1)", "--format", "json", "--out",
                         str(out_file))
    assert code == 1
    assert out == out_file.read_text(encoding="utf-8")
    audit = audit_from_data(json.loads(out))
    assert audit == load_audit(out_file)
    assert audit.phase == "pre" and audit.target_version == "11.5(1)"
    assert audit.current_version == "11.0(1)"
    assert f"audit written to {out_file}" in err


def test_pre_phase_table_shows_the_states_after_the_upgrade(cli) -> None:
    _, out, _ = cli("evaluate", facts("pre-upgrade-self-signed"), "--phase", "pre",
                    "--target-version", "11.5(1)")
    assert "before the change: 11.0(1) now, 11.5(1) after it" in out
    assert "not presented (network) -> self-signed" in out
    assert "After the upgrade to 11.5(1): " in out


def test_change_date_and_expiry_window_drive_the_expiry_check(cli) -> None:
    observed = json.loads(Path(facts("row3-ec-signed-ecdsa")).read_text())["observed_at"]
    change = dt.date.fromisoformat(observed[:10]) + dt.timedelta(days=700)
    code, out, _ = cli("evaluate", facts("row3-ec-signed-ecdsa"), "--phase", "post",
                       "--change-date", change.isoformat())
    assert code == 0 and "certificate-expires-soon" not in out  # 29-30 days left
    code, out, _ = cli("evaluate", facts("row3-ec-signed-ecdsa"), "--phase", "post",
                       "--change-date", change.isoformat(), "--expiry-window", "60")
    assert code == 0 and out.count("WARNING  certificate-expires-soon") == 6


def test_site_rules_join_the_evaluation(cli, tmp_path: Path) -> None:
    write_rule(tmp_path / "site")
    _, out, _ = cli("evaluate", facts("row3-ec-signed-ecdsa"), "--phase", "post",
                    "--rules", str(tmp_path / "site"), "--format", "json")
    audit = json.loads(out)
    assert audit["rule_set"]["site_rules"] == ["site-live-data-marker"]
    assert {f["rule_id"] for f in audit["findings"]} == {"site-live-data-marker"}
    assert audit["nodes"][0]["gadgets"]["live_data"]["outcome"] == "prompt_accept_works"


@pytest.mark.parametrize(("args", "message"), [
    (("evaluate", "missing.json", "--phase", "post"), "error: missing.json: file not found"),
    (("evaluate", facts("row4-upgrade-trap"), "--phase", "post", "--target-version", "12.5"),
     "error: --target-version: 12.5 differs from the version the facts were recorded on"),
    (("evaluate", facts("row4-upgrade-trap"), "--phase", "pre", "--change-date", "soon"),
     "error: --change-date: 'soon' is not a date (expected YYYY-MM-DD)"),
    (("evaluate", facts("row4-upgrade-trap"), "--phase", "post", "--rules", "no-such-dir"),
     "error: no-such-dir: --rules: folder not found"),
])
def test_input_errors_exit_2_with_one_line(cli, args, message) -> None:
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and err.startswith(message)


def test_a_missing_phase_is_a_usage_error(cli) -> None:
    code, _, err = cli("evaluate", facts("row4-upgrade-trap"))
    assert code == 2 and "Missing option '--phase'" in err


def test_a_broken_site_rule_stops_the_run_with_one_line(cli, tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("equals: true}", "equal: true}"))
    for command in (("rules",), ("evaluate", facts("row3-ec-signed-ecdsa"), "--phase", "post")):
        code, out, err = cli(*command, "--rules", str(tmp_path))
        assert code == 2 and out == "" and "Traceback" not in err
        assert err.startswith(f"error: {path}:") and "unknown operator 'equal'" in err
        assert len(err.strip().splitlines()) == 1


def test_rules_table_lists_every_rule(cli) -> None:
    code, out, err = cli("rules")
    assert code == 0
    for rule in load_ruleset().rules:
        assert rule.id in out
    assert f"rule set sha256 {load_ruleset().sha256}" in err


def test_rules_json_is_the_rule_files_and_playbooks(cli, tmp_path: Path) -> None:
    write_rule(tmp_path)
    code, out, _ = cli("rules", "--format", "json", "--rules", str(tmp_path))
    data = json.loads(out)
    assert code == 0
    origins = {r["id"]: r["origin"] for r in data["rules"]}
    assert origins.pop("site-live-data-marker") == "site"
    assert set(origins.values()) == {"built-in"}
    assert {p["id"] for p in data["playbooks"]} == set(load_ruleset().playbooks)
    assert all(r["citations"] for r in data["rules"])


def test_rules_markdown_is_the_committed_catalogue(cli) -> None:
    code, out, _ = cli("rules", "--format", "md")
    assert code == 0 and out == (ROOT / "rules" / "CATALOGUE.md").read_text(encoding="utf-8")


def test_the_installed_entry_point_exits_1_on_error_findings() -> None:
    done = subprocess.run([sys.executable, "-m", "auditor", "evaluate",
                           facts("row2-rsa-signed-ecdsa"), "--phase", "post"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    assert "rsa-signed-tomcat-ecdsa-breaks-socialminer" in done.stdout
    assert "BROKEN" in done.stdout


def test_evaluate_judges_through_the_audit_request(monkeypatch, capsys, tmp_path) -> None:
    """`evaluate` is the audit's judge step on recorded facts: same request, same answer."""
    from auditor.evaluate.engine import build_audit, evaluate
    from auditor.evaluate.projection import make_settings
    from auditor.model.audit import audit_to_json
    from auditor.model.facts import load_facts
    from auditor.pipeline.run import AuditRequest, judge, recorded_request

    facts = load_facts(FACTS / "row4-upgrade-trap.json")
    request = recorded_request(facts, "post", tmp_path)
    assert isinstance(request, AuditRequest)
    assert [n.host for n in request.inventory.nodes] == [n.host for n in facts.nodes]
    assert request.inventory.nodes[0].ports == {
        e.service: e.port for e in facts.nodes[0].endpoints}
    ruleset = load_ruleset([])
    settings = make_settings(facts.version, facts.observed_at, phase="post")
    direct = build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings)
    assert judge(request, ruleset, (), facts) == direct
    code, out, _ = run(monkeypatch, capsys, "evaluate", str(FACTS / "row4-upgrade-trap.json"),
                       "--phase", "post", "--format", "json")
    assert code == 1
    assert json.loads(out)["findings"] == json.loads(audit_to_json(direct))["findings"]
