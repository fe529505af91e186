"""The rough edges a newcomer met: the grid in a 100-column terminal, an empty inventory,
close scenario names, --purpose in any case, help texts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_runner import Result, invoke, terminal_run

from auditor.model.audit import audit_from_data
from auditor.render.audit_text import gadget_table

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"


def run(*args: str, **env: str) -> Result:
    return invoke(*args, env={**os.environ, **env})


def in_terminal(*args: str, columns: int = 100) -> str:
    """What the command shows in a terminal of ``columns`` columns (a pseudo-terminal)."""
    return terminal_run(*args, columns=columns).stdout


@pytest.mark.parametrize("facts, phase", [("pre-upgrade-ca-signed", "pre"),
                                          ("mixed-cluster", "post"),
                                          ("multi-server-san-with-socialminer", "post")])
def test_the_grid_fits_a_100_column_terminal(facts, phase) -> None:
    shown = in_terminal("evaluate", str(FACTS / f"{facts}.json"), "--phase", phase)
    grid = shown.split("\n\n")[1]
    assert grid.startswith("node") and max(map(len, grid.splitlines())) <= 100, grid
    assert max(map(len, grid.splitlines())) > 60
    # piped: the plain one-line-per-node table, for scripts
    plain = run("evaluate", str(FACTS / f"{facts}.json"), "--phase", phase,
                COLUMNS="100").stdout.split("\n\n")[1]
    assert "role" in plain.splitlines()[0]


def test_the_narrow_grid_keeps_every_outcome_and_a_long_host_whole() -> None:
    done = run("evaluate", str(FACTS / "row4-system-trust.json"), "--phase", "post",
               "--format", "json")
    audit = audit_from_data(__import__("json").loads(done.stdout))
    wide = gadget_table(audit)
    narrow = gadget_table(audit, width=100)
    assert max(map(len, narrow.splitlines())) <= 100 < max(map(len, wide.splitlines()))
    joined = narrow.replace("\n", " ")
    for node in audit.nodes:
        assert all(part in narrow for part in node.host.split("."))
        for result in node.gadgets.values():
            assert result.outcome.split("_")[0] in joined.lower()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_inventory_says_so(tmp_path, text) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    done = run("audit", "--inventory", str(path), "--phase", "post")
    assert done.returncode == 2
    assert "the file is empty" in done.stderr and "None" not in done.stderr


def test_demo_suggests_close_scenario_names(tmp_path) -> None:
    done = run("demo", "--scenario", "row4", "--out", str(tmp_path / "demo"))
    assert done.returncode == 2 and "did you mean row4-upgrade-trap?" in done.stderr
    done = run("demo", "--scenario", "hygine-sha1", "--out", str(tmp_path / "demo"))
    assert "did you mean hygiene-sha1" in done.stderr
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("purpose", ["tomcat-ecdsa", "TOMCAT-ECDSA", "Tomcat"])
def test_check_cert_purpose_in_any_case(purpose) -> None:
    pem = ROOT / "fixtures" / "lab" / "row3-ec-signed-ecdsa" / "uccx-pub-tomcat-ecdsa.pem"
    done = run("check-cert", str(pem), "--purpose", purpose)
    assert done.returncode in (0, 1, 3), done.stderr
    assert "Invalid value" not in done.stderr


@pytest.mark.parametrize("command, option", [("audit", "--expiry-window"),
                                             ("portfolio", "--expiry-window"),
                                             ("diff", "--format"), ("diff", "--out"),
                                             ("diff", "BEFORE"), ("diff", "AFTER")])
def test_every_option_has_help(command, option) -> None:
    done = run(command, "--help", COLUMNS="200")
    line = next(line for line in done.stdout.splitlines()
                if line.startswith("  ") and option in line)
    assert len(line.split(option, 1)[1].split()) > 2, line
