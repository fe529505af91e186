"""A portfolio: every lab scenario audited in one run, each with the verdict it gets alone,
the exit code of the worst, and the expiry digest across clusters."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import shutil

import pytest
from cli_runner import Result, invoke

from auditor.lab import SCENARIOS, Lab
from auditor.model.audit import load_audit
from auditor.model.portfolio import build_portfolio
from auditor.render.portfolio import portfolio_csv, portfolio_html

pytestmark = pytest.mark.slow

HOSTILE = '=HYPERLINK("http://x")<script>alert(1)</script>\x1b[2J'


def run(*args: str, timeout: float = 300) -> Result:
    return invoke(*args)


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    """Every lab scenario at once, each on its own three loopback addresses."""
    base = tmp_path_factory.mktemp("labs")
    inventories = base / "inventories"
    inventories.mkdir()
    with contextlib.ExitStack() as stack:
        running = {}
        for index, name in enumerate(SCENARIOS):
            lab = stack.enter_context(Lab(name, base / name, first_address=11 + 3 * index))
            shutil.copy(lab.inventory_path, inventories / f"{name}.yaml")
            running[name] = lab
        yield inventories, running


@pytest.fixture(scope="module")
def portfolio_run(labs, tmp_path_factory):
    inventories, running = labs
    out = tmp_path_factory.mktemp("portfolio") / "all"
    trust = next(iter(running.values())).agent_trust_path
    result = run("audit", "--inventory", str(inventories), "--phase", "post",
                 "--agent-trust", str(trust), "--out", str(out), "--summary-json")
    return out, result


def test_each_cluster_gets_the_verdict_it_gets_alone(labs, portfolio_run, tmp_path) -> None:
    inventories, running = labs
    out, result = portfolio_run
    with (out / "portfolio.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(SCENARIOS)
    in_portfolio = {row["cluster"]: row["verdict"] for row in rows}
    alone = {}
    codes = []
    for name, lab in running.items():
        single = tmp_path / name
        done = run("audit", "--inventory", str(inventories / f"{name}.yaml"), "--phase", "post",
                   "--agent-trust", str(lab.agent_trust_path), "--out", str(single))
        codes.append(done.returncode)
        alone[f"lab-{name}"] = json.loads((single / "audit.json").read_text())["verdict"]
    assert in_portfolio == alone
    assert set(alone.values()) >= {"go", "go_with_actions", "no_go"}  # the test can fail
    assert result.returncode == max(codes) == 1, result.stderr[-2000:]
    for row in rows:
        assert (out / row["folder"] / "report.html").is_file()
        assert (out / row["folder"] / "facts.json").is_file()


def test_summary_json_is_one_line_on_stdout(portfolio_run) -> None:
    out, result = portfolio_run
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    summary = json.loads(lines[0])
    assert summary["folder"] == str(out)
    assert summary["exit_code"] == 1 and summary["worst_verdict"] == "no_go"
    assert sum(summary["verdicts"].values()) == summary["clusters"] == len(SCENARIOS)


def test_the_expiry_digest_lists_the_expired_hygiene_certificate(portfolio_run) -> None:
    out, _ = portfolio_run
    data = json.loads((out / "portfolio.json").read_text())
    expired = [e for e in data["expiring"] if e["expired"]]
    # the expired tomcat of hygiene-expired, and the expired one CUIC alone presents
    assert sorted(e["cluster"] for e in expired) == ["lab-hygiene-expired",
                                                    "lab-live-data-broken-by-cuic"]
    assert all(e["nodes"] == ["uccx-pub.lab.uccx.example"] for e in expired)
    html = (out / "portfolio.html").read_text()
    assert "lab-hygiene-expired" in html.split('id="expiry"')[1]
    assert "lab-live-data-broken-by-cuic" in html.split('id="expiry"')[1]


def test_a_portfolio_from_fetched_facts_lists_soon_expiring_certificates(portfolio_run,
                                                                         tmp_path) -> None:
    out, _ = portfolio_run
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    for name in ("hygiene-expired", "hygiene-sha1", "row3-ec-signed-ecdsa"):
        shutil.copy(out / f"lab-{name}" / "facts.json", fetched / f"{name}.json")
    again = tmp_path / "again"
    # the lab's leaves are valid for two years: a 800-day window makes them all expire soon
    result = run("portfolio", str(fetched), "--phase", "post", "--out", str(again),
                 "--expiry-window", "800", "--summary-json")
    assert result.returncode == 1, result.stderr
    data = json.loads((again / "portfolio.json").read_text())
    expiring = data["expiring"]
    assert {e["cluster"] for e in expiring} == {"lab-hygiene-expired", "lab-hygiene-sha1",
                                                "lab-row3-ec-signed-ecdsa"}
    assert expiring[0]["expired"] and not any(e["expired"] for e in expiring[1:])
    assert [e["not_after"] for e in expiring] == sorted(e["not_after"] for e in expiring)
    assert all(not e["expired"] and 0 < e["days_left"] <= 800 for e in expiring[1:])


def test_diff_of_two_portfolio_folders(portfolio_run, tmp_path) -> None:
    out, _ = portfolio_run
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    shutil.copy(out / "lab-row4-upgrade-trap" / "facts.json", fetched / "row4.json")
    later = tmp_path / "later"
    assert run("portfolio", str(fetched), "--phase", "post", "--out", str(later)
               ).returncode == 1
    result = run("diff", str(out), str(later), "--format", "md")
    assert result.returncode == 1, result.stderr
    assert "| lab-row4-upgrade-trap | no-go | no-go | 0 | 0 | 0 | 0 |" in result.stdout
    assert "no longer checked (not a fix)" in result.stdout
    assert "| lab-row3-ec-signed-ecdsa | go | — |" in result.stdout
    bad = run("diff", str(out), str(tmp_path))
    assert bad.returncode == 2 and "not a portfolio folder" in bad.stderr


def test_hostile_cluster_names_stay_text_in_csv_and_html(portfolio_run) -> None:
    out, _ = portfolio_run
    audit = load_audit(out / "lab-row4-upgrade-trap" / "audit.json")
    hostile = dataclasses.replace(audit, cluster=HOSTILE)
    portfolio = build_portfolio([("row4", hostile)])
    row = next(csv.DictReader(portfolio_csv(portfolio).splitlines()))
    assert row["cluster"].startswith("'=HYPERLINK")  # a spreadsheet shows it, not runs it
    assert "\x1b" not in row["cluster"]
    html = portfolio_html(portfolio)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_bad_inventory_in_the_folder_stops_the_run_before_probing(labs, tmp_path) -> None:
    inventories, running = labs
    folder = tmp_path / "inventories"
    shutil.copytree(inventories, folder)
    (folder / "zz-broken.yaml").write_text("cluster: x\nversion: '11.5(1)'\nnodes: []\n")
    out = tmp_path / "out"
    trust = next(iter(running.values())).agent_trust_path
    result = run("audit", "--inventory", str(folder), "--phase", "post", "--agent-trust",
                 str(trust), "--out", str(out))
    assert result.returncode == 2
    assert "zz-broken.yaml:3: nodes:" in result.stderr
    assert not out.exists()


def test_a_waiver_in_a_portfolio_applies_to_the_clusters_it_names(labs, tmp_path) -> None:
    inventories, running = labs
    waivers = tmp_path / "waivers.yaml"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    waivers.write_text("waivers:\n  - rule: live-data-prompt-cannot-be-accepted\n"
                       "    node: '*'\n    reason: lab\n    approved_by: CAB\n"
                       f"    ticket: CHG1\n    expires: '{tomorrow}'\n")
    out = tmp_path / "out"
    trust = next(iter(running.values())).agent_trust_path
    result = run("audit", "--inventory", str(inventories / "row4-upgrade-trap.yaml"),
                 "--inventory", str(inventories / "row3-ec-signed-ecdsa.yaml"), "--phase",
                 "post", "--agent-trust", str(trust), "--out", str(out),
                 "--waivers", str(waivers))
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "portfolio.json").read_text())
    verdicts = {c["cluster"]: (c["verdict"], c["accepted_risks"]) for c in data["clusters"]}
    assert verdicts == {"lab-row4-upgrade-trap": ("go_with_actions", 2),
                        "lab-row3-ec-signed-ecdsa": ("go", 0)}
