"""The VOS CLI collector against a real OpenSSH server whose login runs a VOS-like CLI.

The lab serves the TLS endpoints (what the nodes present); tests/sshd.py serves each
node's CLI on the same loopback address (what the nodes hold). The audit runs as a user
runs it, as a process, with the password in the environment only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sshd import Sshd, running_sshd

from auditor.collect.installed import installed_facts
from auditor.collect.inventory import inventory_to_yaml
from auditor.collect.vos_cli import COMMANDS, CliOptions, CliTarget, read_nodes
from auditor.lab import Lab, pki
from auditor.model.cluster import CliAccess

ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
PUB, SUB, SM = "uccx-pub.lab.uccx.example", "uccx-sub.lab.uccx.example", "sm.lab.uccx.example"
ECDSA_COP = "ciscosm.1151.ecdsa-presentation-disable.cop.sgn"


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(ADDRESSES) as server:
        yield server


def _pem(issued) -> str:
    return issued.cert.public_bytes(serialization.Encoding.PEM).decode()


def _configure(sshd: Sshd, lab: Lab, **per_node: dict) -> None:
    """Each lab node's CLI holds the lab node's keystore (its tomcat-trust: the lab roots)."""
    roots = {f"lab-root-{i}.pem": _pem(issued)
             for i, issued in enumerate(pki.hierarchies().roots)}
    for address, node in zip(ADDRESSES, lab.inventory().nodes, strict=True):
        certs = lab.certificates[node.host]
        config = {"tomcat": _pem(certs.tomcat),
                  "tomcat_ecdsa": _pem(certs.tomcat_ecdsa) if certs.tomcat_ecdsa else None,
                  "trust": roots, "page_lines": 8, "prompt_delay": 0.3}
        config.update(per_node.get(node.host, {}))
        sshd.node(address, **config)


def _inventory(sshd: Sshd, lab: Lab, folder: Path, version: str | None = None) -> Path:
    """The lab's inventory without its declarations, every node with ``cli:`` (``version``:
    what it declares instead of the lab's version)."""
    inventory = lab.inventory()
    nodes = tuple(replace(n, declared={}, cli=CliAccess(sshd.user, sshd.port))
                  for n in inventory.nodes)
    path = folder / "inventory.yaml"
    path.write_text(inventory_to_yaml(replace(inventory, nodes=nodes,
                                              version=version or inventory.version)))
    return path


def _audit(sshd: Sshd, lab: Lab, folder: Path, *extra: str, password: str | None = None,
           known_hosts: str | None = None, version: str | None = None,
           phase: str = "post") -> subprocess.CompletedProcess:
    known = folder / "known_hosts"
    known.write_text(known_hosts if known_hosts is not None else "".join(
        sshd.known_hosts_line(h) for h in (PUB, SUB, SM)))
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["PYTHONPATH"] = str(ROOT)
    env["UCCX_AUDIT_CLI_PASSWORD"] = sshd.password if password is None else password
    return subprocess.run(
        [sys.executable, "-m", "auditor", "audit", "--inventory",
         str(_inventory(sshd, lab, folder, version)), "--phase", phase, "--agent-trust",
         str(lab.agent_trust_path), "--cli-known-hosts", str(known), "--cli-timeout", "10",
         "--out", str(folder / "out"), *extra],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def _findings(folder: Path) -> set[tuple[str, str]]:
    audit = json.loads((folder / "out" / "audit.json").read_text())
    return {(f["rule_id"], f["node"]) for f in audit["findings"]}


def _gadgets(folder: Path) -> dict[str, dict[str, str]]:
    audit = json.loads((folder / "out" / "audit.json").read_text())
    return {n["host"]: {g: r["outcome"] for g, r in n["gadgets"].items()}
            for n in audit["nodes"]}


def _assert_password_nowhere(sshd: Sshd, folder: Path, result: subprocess.CompletedProcess):
    assert sshd.password not in result.stdout + result.stderr
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "facts.json" for p in written)
    for path in written:
        assert sshd.password.encode() not in path.read_bytes(), path


def _expected_commands(trust_names: list[str]) -> list[str]:
    return [*COMMANDS, *(f"show cert trust tomcat-trust/{n}" for n in trust_names)]


def test_socialminer_presenting_only_rsa_is_judged_broken_from_its_installed_tomcat_ecdsa(
        sshd: Sshd, tmp_path: Path) -> None:
    """cop-socialminer's certificates (row 2: RSA-signed tomcat-ECDSA everywhere) on a
    SocialMiner that presents only RSA on 7443; its CLI lists no COP: CSCvb58580."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 1, result.stderr
    findings = _findings(tmp_path)
    assert ("rsa-signed-tomcat-ecdsa-breaks-socialminer", SM) in findings
    assert _gadgets(tmp_path)[SM]["chat_email"] == "broken"
    # UCCX's RSA-signed tomcat-ECDSA, which the network never shows: installed, not presented
    for host in (PUB, SUB):
        assert ("uccx-does-not-present-rsa-signed-tomcat-ecdsa", host) in findings
        assert ("tomcat-ecdsa-not-presented-by-uccx", host) not in findings
    for report in ("report.html", "audit.json"):
        text = (tmp_path / "out" / report).read_text()
        assert "installed (read over the VOS CLI), not presented on the network" in text
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    sm = next(n for n in facts["nodes"] if n["host"] == SM)
    assert sm["tomcat_ecdsa"]["source"] == "installed"
    assert sm["tomcat_ecdsa"]["state"] == "rsa_ca_signed"
    assert sm["installed"]["source"] == "vos_cli" and sm["installed"]["error"] is None
    assert sm["installed"]["options"] == ["No Installed Software Options Found."]
    roots = [f"lab-root-{i}.pem" for i in range(len(pki.hierarchies().roots))]
    assert [e["name"] for e in sm["installed"]["trust"]] == roots
    assert "free text the auditor must not parse" in sm["installed"]["transcript"][2]["output"]
    # read-only: exactly the listed commands, nothing else, on every node
    for address in ADDRESSES:
        assert sshd.commands(address) == _expected_commands(roots)
    _assert_password_nowhere(sshd, tmp_path, result)


def test_socialminer_with_an_installed_cop_works_and_the_report_says_matched_by_name(
        sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{SM: {"options": ["ciscosm.1151.es02.cop.sgn", ECDSA_COP]}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = _findings(tmp_path)
    assert ("rsa-signed-tomcat-ecdsa-breaks-socialminer", SM) not in findings
    assert ("cop-installed-ecdsa-not-presented", SM) in findings
    assert _gadgets(tmp_path)[SM]["chat_email"] == "works"
    text = (tmp_path / "out" / "report.html").read_text()
    assert f"installed software option &#39;{ECDSA_COP}&#39; matched by name" in text
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    sm = next(n for n in facts["nodes"] if n["host"] == SM)
    assert sm["installed"]["options"] == ["ciscosm.1151.es02.cop.sgn", ECDSA_COP]
    assert sm["installed"]["cop_installed"] is True
    _assert_password_nowhere(sshd, tmp_path, result)


def test_a_rollback_cop_is_not_taken_for_the_cop(sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{SM: {"options": [
            ECDSA_COP, "ciscosm.1151.ecdsa-presentation-rollback.cop.sgn"]}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 1, result.stderr
    assert _gadgets(tmp_path)[SM]["chat_email"] == "broken"


def test_the_version_the_nodes_report_wins_over_the_inventory(sshd: Sshd,
                                                               tmp_path: Path) -> None:
    """Row 4 (the upgrade trap) on nodes whose VOS CLI reports 11.5.1.10000-61, in an
    inventory that declares 12.5(1): judged as 12.5 it was GO (no ECDSA after 11.6). The
    nodes' own version wins: judged as 11.5 it is NO-GO, and each node's disagreement is a
    finding that names both versions and both sources; what it leaves unjudged is unknown."""
    with Lab("row4-upgrade-trap", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, version="12.5(1)")
        declared = tmp_path / "declared"
        declared.mkdir()
        agreeing = _audit(sshd, lab, declared, version="11.5(1)")
    assert result.returncode == 1, result.stderr
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert audit["current_version"] == "11.5.1.10000-61" and audit["verdict"] == "no_go"
    disagree = [f for f in audit["findings"] if f["rule_id"] == "version-sources-disagree"]
    assert {f["node"] for f in disagree} == {PUB, SUB, SM}
    for finding in disagree:
        assert "inventory declares version 12.5(1)" in finding["message"]
        assert "(show version active) reports 11.5.1.10000-61" in finding["message"]
    gadgets = _gadgets(tmp_path)
    assert gadgets[PUB]["live_data"] == "prompt_accept_fails"
    assert gadgets[PUB]["finesse_desktop"] == "unknown"
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    assert facts["version"] == "12.5(1)"
    assert {n["installed"]["version"] for n in facts["nodes"]} == {"11.5.1.10000-61"}
    # the same nodes under an inventory that names their release: no disagreement
    assert agreeing.returncode == 1, agreeing.stderr
    assert not any(rule == "version-sources-disagree" for rule, _ in _findings(declared))


def test_a_pre_phase_target_is_judged_against_the_version_the_nodes_report(
        sshd: Sshd, tmp_path: Path) -> None:
    """The inventory says 11.0(1), but the nodes already run 11.5: the pre phase's upgrade
    to 11.5(1) is no upgrade, and the run says so in one line, naming both versions."""
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, version="11.0(1)", phase="pre")
    assert result.returncode == 2, result.stdout + result.stderr
    error = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert len(error) == 1 and error[0].startswith("error: --target-version"), result.stderr
    assert "11.5(1)" in error[0] and "11.5.1.10000-61" in error[0]
    assert not (tmp_path / "out" / "audit.json").exists()


def test_a_changed_host_key_is_a_one_line_error_naming_the_host(sshd: Sshd,
                                                                 tmp_path: Path) -> None:
    wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvq0YuQbqv0T1Pfm7cAfi8yWbGRcUXTOpw3yjbzH1Lr"
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        lines = sshd.known_hosts_line(PUB) + sshd.known_hosts_line(SUB) + \
            f"[{SM}]:{sshd.port} {wrong}\n"
        result = _audit(sshd, lab, tmp_path, known_hosts=lines)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and SM in error[0] and "CHANGED" in error[0], result.stderr
    assert not (tmp_path / "out" / "report.html").exists()
    assert sshd.commands("127.0.0.13") == []


def test_wrong_password_and_unknown_host_key_are_typed_findings_and_the_rest_completes(
        sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, known_hosts=sshd.known_hosts_line(PUB))
        # a warning, and SocialMiner is judged from what it presents, as without the CLI:
        # no tomcat-ECDSA presented and no COP known, so chat/email is unknown (inconclusive)
        assert result.returncode == 3, result.stderr
        facts = json.loads((tmp_path / "out" / "facts.json").read_text())
        kinds = {n["host"]: (n["installed"]["error"] or {}).get("kind")
                 for n in facts["nodes"]}
        assert kinds == {PUB: None, SUB: "host_key_unknown", SM: "host_key_unknown"}
        assert ("vos-cli-not-read", SM) in _findings(tmp_path)
        assert "--cli-accept-new-host-keys" in (tmp_path / "out" / "report.html").read_text()
        _assert_password_nowhere(sshd, tmp_path, result)

        wrong = tmp_path / "wrong"
        wrong.mkdir()
        result = _audit(sshd, lab, wrong, password="not-the-password")
        assert result.returncode == 3, result.stderr
        facts = json.loads((wrong / "out" / "facts.json").read_text())
        assert {n["installed"]["error"]["kind"] for n in facts["nodes"]} == {"auth"}
        # judged from what the network showed, as without the CLI: the network cannot tell
        # a working COP from CSCvb58580
        assert _gadgets(wrong)[SM]["chat_email"] == "unknown"
        _assert_password_nowhere(sshd, wrong, result)


def test_first_contact_accepts_and_remembers_new_host_keys(sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, "--cli-accept-new-host-keys", known_hosts="")
        assert result.returncode == 1, result.stderr
        known = (tmp_path / "known_hosts").read_text()
        for host in (PUB, SUB, SM):
            assert f"[{host}]:{sshd.port} {sshd.host_key_pub}" in known
        again = tmp_path / "again"
        again.mkdir()
        (again / "known_hosts").write_text(known)
        result = _audit(sshd, lab, again, known_hosts=known)
    assert result.returncode == 1
    facts = json.loads((again / "out" / "facts.json").read_text())
    assert all(n["installed"]["error"] is None for n in facts["nodes"])


def _read(sshd: Sshd, tmp_path: Path, *, password: str | None, key: Path | None = None,
          timeout: float = 1.5):
    known = tmp_path / "known_hosts"
    known.write_text("".join(sshd.known_hosts_line(h) for h in (PUB, SUB, SM)))
    targets = [CliTarget(host, address, sshd.port, sshd.user, str(key) if key else None)
               for host, address in zip((PUB, SUB, SM), ADDRESSES, strict=True)]
    options = CliOptions(connect_timeout=5, prompt_timeout=timeout, command_timeout=timeout,
                         known_hosts=known)
    return {r.host: r for r in read_nodes(targets, password, options)}


@pytest.mark.parametrize(("config", "kind", "sent"), [
    ({"never_prompt": True}, "no_prompt", []),
    ({"slow": {"show cert own tomcat-ECDSA": 60}}, "command_timeout", list(COMMANDS[:4])),
    ({"question_on": "show cert list trust"}, "question", list(COMMANDS)),
    ({"ignore_pagination_off": True, "options": [f"option-{i}.cop.sgn" for i in range(20)]},
     "pager", list(COMMANDS[:2])),
    ({"garbage": "tomcat"}, "garbage", None),
], ids=["never-prompts", "command-never-returns", "asks-y-n", "pages", "garbage"])
def test_a_misbehaving_cli_is_a_typed_error_for_its_node_and_the_rest_completes(
        sshd: Sshd, tmp_path: Path, config: dict, kind: str, sent: list[str] | None) -> None:
    """``sent``: exactly what the collector sent (None: every command, trust included)."""
    if sent is None:
        sent = _expected_commands([f"lab-root-{i}.pem"
                                   for i in range(len(pki.hierarchies().roots))])
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{SM: config})
    readings = _read(sshd, tmp_path, password=sshd.password)
    facts, _found = installed_facts(readings[SM])
    assert facts.error is not None and facts.error.kind == kind, readings[SM]
    assert list(readings[SM].sent) == sent
    # nothing was answered: the CLI received exactly what the collector sent
    assert sshd.commands("127.0.0.13") == sent
    for host in (PUB, SUB):
        assert readings[host].error is None, readings[host].error
    if kind == "garbage":
        assert facts.tomcat is None and "not a certificate" in facts.error.detail


def test_an_ssh_key_logs_in_without_a_password(sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
    readings = _read(sshd, tmp_path, password=None, key=sshd.client_key, timeout=10)
    assert all(r.error is None for r in readings.values()), readings
    assert readings[SM].output("show cert own tomcat-ECDSA") is not None
