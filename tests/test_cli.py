"""The uccx-audit command as a user meets it (run as a real process)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from cli_runner import Result, invoke

from auditor import __version__
from auditor.lab import Lab
from auditor.model.verdicts import EXIT_MEANINGS


def run(*args: str, cwd=None) -> Result:
    return invoke(*args, cwd=cwd)


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"uccx-audit {__version__}"


def test_help_shows_examples_and_exit_codes() -> None:
    done = run("--help")
    assert done.returncode == 0
    assert "uccx-audit audit --inventory cluster.yaml --phase post" in done.stdout
    for code, meaning in EXIT_MEANINGS:  # the one table of exit codes
        assert re.search(rf"^\s+{code}\s+{re.escape(meaning.split()[0])}", done.stdout,
                         re.M), code
    assert "inconclusive" in done.stdout
    assert "uccx-audit probe uccx1.example.com:12015" in run("probe", "--help").stdout


@pytest.fixture(scope="module")
def lab():
    with Lab("row4-upgrade-trap") as running:
        yield running


def test_probe_inventory_writes_facts_and_prints_tables(lab, tmp_path) -> None:
    out = tmp_path / "facts.json"
    done = run("probe", "--inventory", str(lab.inventory_path), "--agent-trust",
               str(lab.agent_trust_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    facts = json.loads(out.read_text())
    assert [n["tomcat_ecdsa"]["state"] for n in facts["nodes"]] == ["self_signed"] * 3
    assert "browser gets" in done.stdout and "tomcat-ECDSA" in done.stdout
    assert "EC self-signed" in done.stdout
    assert "probed 12 endpoints" in done.stderr


def test_quick_look_at_host_and_port(lab) -> None:
    live = next(e for e in lab.endpoints if e.service == "live_data")
    # no address for a quick look: the host name must resolve, so use the loopback address
    done = run("probe", f"{live.address}:{live.port}", "--format", "json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    (node,) = facts["nodes"]
    (endpoint,) = node["endpoints"]
    assert endpoint["port"] == live.port
    leaf = endpoint["handshakes"][0]["chain"][0]
    assert facts["certificates"][leaf]["key_type"] == "ec"


def test_bad_inventory_is_a_one_line_error_with_exit_2(tmp_path) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text('cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n    role: x\n')
    done = run("probe", "--inventory", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cluster.yaml:5: nodes[0].role: 'x' is not allowed" in done.stderr
    assert "Traceback" not in done.stderr


def test_nothing_to_probe_is_a_usage_error() -> None:
    done = run("probe")
    assert done.returncode == 2 and "nothing to probe" in done.stderr


def test_unknown_option_is_a_usage_error() -> None:
    assert run("probe", "--no-such-option").returncode == 2


def test_demo_lists_scenarios() -> None:
    done = run("demo", "--list")
    assert done.returncode == 0
    assert "row4-upgrade-trap" in done.stdout and "hygiene-wildcard" in done.stdout


def test_demo_runs_the_lab_and_writes_facts(tmp_path) -> None:
    done = run("demo", "--scenario", "row2-rsa-signed-ecdsa", "--out", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    facts = json.loads((tmp_path / "d" / "facts.json").read_text())
    states = {n["role"]: n["tomcat_ecdsa"]["state"] for n in facts["nodes"]}
    assert states == {"uccx-publisher": "not_presented", "uccx-subscriber": "not_presented",
                      "socialminer": "rsa_ca_signed"}


def test_demo_of_socialminers_chain_missing_from_uccx_trust_reads_the_labs_vos_cli(
        tmp_path) -> None:
    """The demo reads the lab's own VOS CLI for this scenario: the facts carry each node's
    tomcat-trust, and chat/email is broken by the stated edge's rule, named in every
    report."""
    done = run("demo", "--scenario", "trust-socialminer-chain-missing",
               "--out", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    facts = json.loads((tmp_path / "d" / "facts.json").read_text())
    assert all(n["installed"]["trust"] for n in facts["nodes"])
    audit = json.loads((tmp_path / "d" / "audit.json").read_text())
    sm = next(n for n in audit["nodes"] if n["role"] == "socialminer")
    assert sm["gadgets"]["chat_email"]["outcome"] == "broken"
    assert {f["rule_id"] for f in audit["findings"]} == {"uccx-trust-lacks-socialminer-chain"}
    for name in ("report.html", "report.md", "junit.xml"):
        assert "uccx-trust-lacks-socialminer-chain" in (tmp_path / "d" / name).read_text()


def _complete(words: str, cword: int) -> list[str]:
    import os

    env = {**os.environ, "_UCCX_AUDIT_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    done = subprocess.run([sys.executable, "-c", "from auditor.cli.app import main; main()"],
                          capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)
    return done.stdout.split()


def test_shell_completion_of_commands_options_and_scenarios() -> None:
    assert _complete("uccx-audit che", 1) == ["check-cert"]
    assert _complete("uccx-audit demo --scen", 2) == ["--scenario"]
    assert _complete("uccx-audit demo --scenario row", 3) == [
        "row1-self-signed", "row2-rsa-signed-ecdsa", "row3-ec-signed-ecdsa",
        "row4-upgrade-trap"]
