"""The scope line with the nodes' VOS CLI really read (a real sshd running the fake VOS
CLI): the same lab audited without the CLI says the servers' trust stores were not read and
what would read them; audited with ``--cli`` (every node's ``cli:`` pointing at the test
sshd), it says they were read, in every format (issue 22, item 5)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.collect.inventory import inventory_to_yaml
from auditor.lab import Lab
from auditor.model.cluster import CliAccess
from tests.cli_runner import invoke
from tests.sshd import Sshd, hold_lab_keystores, running_sshd

pytestmark = pytest.mark.ssh

ADDRESSES = ("127.0.0.41", "127.0.0.42", "127.0.0.43")


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(ADDRESSES) as server:
        yield server


def _audit(lab: Lab, sshd: Sshd, folder: Path, *, cli: bool) -> tuple[str, Path]:
    inventory = lab.inventory()
    if cli:
        inventory = replace(inventory, nodes=tuple(
            replace(n, cli=CliAccess(sshd.user, sshd.port)) for n in inventory.nodes))
    path = folder / "cluster.yaml"
    path.write_text(inventory_to_yaml(inventory))
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["UCCX_AUDIT_CLI_PASSWORD"] = sshd.password
    known = folder / "known_hosts"
    known.write_text("".join(sshd.known_hosts_line(n.host) for n in inventory.nodes))
    extra = ["--cli", "--cli-user", sshd.user, "--cli-known-hosts", str(known),
             "--cli-timeout", "10"] if cli else []
    out = folder / "out"
    done = invoke("audit", "--inventory", path, "--agent-trust", lab.agent_trust_path,
                  "--phase", "post", "--out", out, "--connect-timeout", "2",
                  "--handshake-timeout", "3", *extra, env=env)
    assert done.returncode in (0, 1, 3), done.stderr
    return done.stdout, out


def test_cli_turns_the_trust_line_to_read_in_every_format(sshd: Sshd, tmp_path: Path
                                                          ) -> None:
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab", first_address=41) as lab:
        hold_lab_keystores(sshd, lab, ADDRESSES)
        (tmp_path / "without").mkdir()
        (tmp_path / "with").mkdir()
        plain, plain_out = _audit(lab, sshd, tmp_path / "without", cli=False)
        read, read_out = _audit(lab, sshd, tmp_path / "with", cli=True)
    hosts = [n.host for n in lab.inventory().nodes]
    assert "Server-to-server trust: not read — add --cli" in plain
    assert "Server-to-server trust: read (VOS CLI) on " + ", ".join(hosts) in read
    for name in ("report.md", "report.html", "junit.xml"):
        assert "not read — add --cli" in (plain_out / name).read_text(), name
        text = (read_out / name).read_text()
        assert "Server-to-server trust: read (VOS CLI)" in text, name
        assert "not read" not in text.split("Server-to-server trust:", 1)[1][:200], name
    before = json.loads((plain_out / "audit.json").read_text())["scope"]["server_trust"]
    after = json.loads((read_out / "audit.json").read_text())["scope"]["server_trust"]
    assert {t["node"]: t["read"] for t in before} == dict.fromkeys(hosts, False)
    assert {t["node"]: t["read"] for t in after} == dict.fromkeys(hosts, True)
