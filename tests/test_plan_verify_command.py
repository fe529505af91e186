"""The plan's verify command is the run the user typed (issue 23, acceptance): after
``audit --cli --cli-user U --waivers W`` it holds those options and no password, and
running it reproduces the verdict. End to end: the lab on loopback, its nodes' VOS CLI
played by the fake VOS CLI behind a real sshd (tests/sshd.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from audits import audit_json
from sshd import hold_lab_keystores, running_sshd

from auditor.collect.inventory import inventory_to_yaml
from auditor.lab import Lab

pytestmark = [pytest.mark.ssh, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")


def _run(args: list[str], cwd: Path, password: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update(PYTHONPATH=str(ROOT), UCCX_AUDIT_CLI_PASSWORD=password)
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True,
                          text=True, timeout=180, env=env, stdin=subprocess.DEVNULL, cwd=cwd)


def _judged(folder: Path) -> tuple[str, set[tuple[str, str]], set[tuple[str, str]]]:
    data = json.loads((folder / "audit.json").read_text())
    return (data["verdict"], {(f["rule_id"], f["node"]) for f in data["findings"]},
            {(a["finding"]["rule_id"], a["finding"]["node"]) for a in data["accepted_risks"]})


def test_the_verify_command_repeats_cli_user_and_waivers_and_reproduces_the_verdict(
        tmp_path: Path) -> None:
    # --cli reads every node on the SSH port, 22: the nodes have no cli: of their own
    with running_sshd(ADDRESSES, port=22) as sshd, Lab("trust-socialminer-chain-missing",
                                               tmp_path / "lab") as lab:
        hold_lab_keystores(sshd, lab, ADDRESSES)
        inventory = lab.inventory()
        # no cli: in the inventory: --cli reads every node, as the user --cli-user says
        nodes = tuple(replace(n, declared={}, cli=None) for n in inventory.nodes)
        site = tmp_path / "site"
        site.mkdir()
        (site / "inventory.yaml").write_text(inventory_to_yaml(replace(inventory,
                                                                       nodes=nodes)))
        (site / "known_hosts").write_text("".join(f"{n.host} {sshd.host_key_pub}\n"
                                                  for n in inventory.nodes))
        tomorrow = dt.date.today() + dt.timedelta(days=1)
        (site / "waivers.yaml").write_text(
            "waivers:\n  - rule: uccx-trust-lacks-socialminer-chain\n    node: '*'\n"
            "    reason: lab\n    approved_by: CAB\n    ticket: CHG1\n"
            f'    expires: "{tomorrow.isoformat()}"\n', encoding="utf-8")
        first = _run(["audit", "--inventory", "inventory.yaml", "--phase", "post",
                      "--agent-trust", str(lab.agent_trust_path), "--cli", "--cli-user",
                      sshd.user, "--cli-known-hosts", "known_hosts", "--waivers",
                      "waivers.yaml", "--out", "first"], site, sshd.password)
        assert first.returncode in (0, 1, 3), first.stderr
        audit = audit_json(site / "first" / "audit.json")  # with the facts.json it names
        # the CLI was read: the recorded facts hold what each node's VOS CLI showed
        assert all(n.get("installed") for n in audit["facts"]["nodes"]), audit["facts"]
        command = audit["plan"]["verify_command"]
        args = shlex.split(command)
        assert args[:2] == ["uccx-audit", "audit"]
        for option in ("--cli", "--cli-known-hosts", "--agent-trust"):
            assert option in args
        assert args[args.index("--cli-user") + 1] == sshd.user
        assert args[args.index("--waivers") + 1] == "waivers.yaml"
        assert "--out" not in args and "first" not in args
        assert sshd.password not in command
        for path in (site / "first").rglob("*"):
            if path.is_file():
                assert sshd.password.encode() not in path.read_bytes(), path
        # running it (into a folder of its own) judges the same
        again = _run([*args[1:], "--out", "again"], site, sshd.password)
        assert again.returncode == first.returncode, again.stderr
        assert _judged(site / "again") == _judged(site / "first")
        # the waiver took part in the verdict the command reproduces
        assert _judged(site / "first")[2], _judged(site / "first")
        # the same run without what the verify command carries judges differently: the
        # options it keeps are the ones that matter
        bare = _run(["audit", "--inventory", "inventory.yaml", "--phase", "post",
                     "--agent-trust", str(lab.agent_trust_path), "--out", "bare"], site,
                    sshd.password)
        assert _judged(site / "bare") != _judged(site / "first"), bare.stderr
