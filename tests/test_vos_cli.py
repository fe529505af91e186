"""The VOS CLI collector against a real OpenSSH server whose login runs a VOS-like CLI.

The lab serves the TLS endpoints (what the nodes present); tests/sshd.py serves each
node's CLI on the same loopback address (what the nodes hold). The audit runs as a user
runs it, as a process, with the password in the environment only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from audits import check_rows
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sshd import Sshd, hold_lab_keystores, running_sshd

from auditor.collect.installed import installed_facts
from auditor.collect.inventory import inventory_to_yaml
from auditor.collect.vos_cli import (
    COMMANDS,
    MAX_NOT_TEXT,
    MAX_OUTPUT,
    CliOptions,
    CliTarget,
    Reply,
    _Stop,
    clean_output,
    new_marker,
    read_nodes,
)
from auditor.lab import Lab, pki
from auditor.model.cluster import CliAccess

pytestmark = [pytest.mark.ssh, pytest.mark.slow]

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
    hold_lab_keystores(sshd, lab, ADDRESSES, **per_node)


def _inventory(sshd: Sshd, lab: Lab, folder: Path, version: str | None = None,
               key_file: Path | None = None) -> Path:
    """The lab's inventory without its declarations, every node with ``cli:`` (``version``:
    what it declares instead of the lab's version)."""
    inventory = lab.inventory()
    key = str(key_file) if key_file else None
    nodes = tuple(replace(n, declared={}, cli=CliAccess(sshd.user, sshd.port, key))
                  for n in inventory.nodes)
    path = folder / "inventory.yaml"
    path.write_text(inventory_to_yaml(replace(inventory, nodes=nodes,
                                              version=version or inventory.version)))
    return path


def _audit(sshd: Sshd, lab: Lab, folder: Path, *extra: str,
           password: str | bytes | None = None, known_hosts: str | None = None,
           key_file: Path | None = None, stdin: int = subprocess.DEVNULL,
           version: str | None = None, phase: str = "post",
           ) -> subprocess.CompletedProcess:
    """The audit as a process started in ``folder`` (an error.log would land there), with
    the password in the environment only (as bytes: whatever the bytes are)."""
    known = folder / "known_hosts"
    known.write_text(known_hosts if known_hosts is not None else "".join(
        sshd.known_hosts_line(h) for h in (PUB, SUB, SM)))
    env: dict[str, str | bytes] = {k: v for k, v in os.environ.items()
                                   if k != "SSH_AUTH_SOCK"}
    env["PYTHONPATH"] = str(ROOT)
    env["UCCX_AUDIT_CLI_PASSWORD"] = sshd.password if password is None else password
    return subprocess.run(
        [sys.executable, "-m", "auditor", "audit", "--inventory",
         str(_inventory(sshd, lab, folder, version, key_file)), "--phase", phase,
         "--agent-trust",
         str(lab.agent_trust_path), "--cli-known-hosts", str(known), "--cli-timeout", "10",
         "--out", str(folder / "out"), *extra],
        capture_output=True, text=True, timeout=120, env=env, stdin=stdin, cwd=folder)


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


#: The end marker the collector types after each command (auditor.collect.vos_cli.Reply).
MARKER = re.compile(r"uccx-audit-end-[0-9a-f]{32}")


def _commands(sshd: Sshd, address: str) -> list[str]:
    """The commands the CLI read, once each end marker is checked and left out: one marker
    at login, then exactly one after each command that returned, every nonce fresh."""
    lines = sshd.commands(address)
    markers, commands = lines[0::2], lines[1::2]
    assert all(MARKER.fullmatch(m) for m in markers), lines
    assert len(set(markers)) == len(markers), lines
    assert not any(MARKER.fullmatch(c) for c in commands), lines
    return commands


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
        assert _commands(sshd, address) == _expected_commands(roots)
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
    assert _commands(sshd, "127.0.0.13") == sent
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



def test_probe_reads_the_vos_cli_into_its_facts(sshd: Sshd, tmp_path: Path) -> None:
    """``probe`` reads the nodes with ``cli:`` as ``audit`` does, into the facts it writes."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        known = tmp_path / "known_hosts"
        known.write_text("".join(sshd.known_hosts_line(h) for h in (PUB, SUB, SM)))
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        env.update(PYTHONPATH=str(ROOT), UCCX_AUDIT_CLI_PASSWORD=sshd.password)
        result = subprocess.run(
            [sys.executable, "-m", "auditor", "probe", "--inventory",
             str(_inventory(sshd, lab, tmp_path)), "--cli-known-hosts", str(known),
             "--cli-timeout", "10", "--out", str(tmp_path / "facts.json")],
            capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    facts = json.loads((tmp_path / "facts.json").read_text())
    sm = next(n for n in facts["nodes"] if n["host"] == SM)
    assert sm["installed"]["error"] is None
    assert sm["tomcat_ecdsa"]["source"] == "installed"
    assert sm["tomcat_ecdsa"]["state"] == "rsa_ca_signed"


# -- logging in: one way, chosen up front; the server's text kept, never shown -----------

#: A server that wants keyboard-interactive (PAM asks for the password) after the key, and
#: shows a banner with control sequences in it.
SECOND_FACTOR = """UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive
Banner {folder}/banner
"""
BANNER = "\x1b[2J\x1b[31mAUTHORISED USE ONLY\x1b[0m\n"


@pytest.fixture(scope="module")
def sshd_second_factor() -> Iterator[Sshd]:
    with running_sshd(ADDRESSES, SECOND_FACTOR) as server:
        (server.folder / "banner").write_text(BANNER)
        yield server


@pytest.fixture(scope="module")
def sshd_unknown_kex() -> Iterator[Sshd]:
    """A server whose only key exchange the SSH client does not have: paramiko fails in its
    own thread, and logs the failure with its traceback."""
    with running_sshd(ADDRESSES, "KexAlgorithms sntrup761x25519-sha512@openssh.com\n") as server:
        yield server


def _facts_nodes(folder: Path) -> dict[str, dict]:
    facts = json.loads((folder / "out" / "facts.json").read_text())
    return {n["host"]: n for n in facts["nodes"]}


def test_a_key_without_a_password_never_falls_back_to_keyboard_interactive(
        sshd_second_factor: Sshd, tmp_path: Path) -> None:
    """The server takes the key, then asks for keyboard-interactive (a second factor).
    The audit answers no prompt: it reads nothing from its stdin (which holds the password,
    and would log in if sent), shows none of the server's text (prompt, banner), and
    files the refusal and the banner, neutralised, as the node's evidence."""
    sshd = sshd_second_factor
    read, write = os.pipe()
    os.write(write, sshd.password.encode() + b"\n")
    os.close(write)
    try:
        with Lab("cop-socialminer", tmp_path / "lab") as lab:
            _configure(sshd, lab)
            result = _audit(sshd, lab, tmp_path, password="", key_file=sshd.client_key,
                            stdin=read)
        os.set_blocking(read, False)
        left = os.read(read, 4096)
    finally:
        os.close(read)
    assert left == sshd.password.encode() + b"\n", "the audit read its standard input"
    assert result.returncode == 3, result.stdout + result.stderr
    for shown in (result.stdout, result.stderr):
        assert "\x1b" not in shown and "AUTHORISED" not in shown and "Password" not in shown
    for address in ADDRESSES:
        assert sshd.commands(address) == []
    nodes = _facts_nodes(tmp_path)
    for host in (PUB, SUB, SM):
        installed = nodes[host]["installed"]
        assert installed["error"]["kind"] == "auth"
        detail = installed["error"]["detail"]
        assert f"{sshd.user}@{host}:{sshd.port}" in detail and "keyboard-interactive" in detail
        assert "\n" not in detail
        banner = [line for line in installed["ssh_log"] if line.startswith("banner:")]
        assert banner == ["banner: \\x1b[2J\\x1b[31mAUTHORISED USE ONLY\\x1b[0m"], banner
        assert not any("\x1b" in line for line in installed["ssh_log"])
        assert ("vos-cli-not-read", host) in _findings(tmp_path)


def test_a_password_is_sent_as_a_password_never_to_a_keyboard_interactive_prompt(
        sshd_second_factor: Sshd, tmp_path: Path) -> None:
    """A server that takes no password (only the key, then keyboard-interactive) gets no
    password at all: paramiko's fallback would type it into whatever the server asks."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd_second_factor, lab)
    readings = _read(sshd_second_factor, tmp_path, password=sshd_second_factor.password)
    for reading in readings.values():
        assert reading.error is not None and reading.error.kind == "auth"
        assert "does not take a password" in reading.error.detail
    assert all(sshd_second_factor.commands(a) == [] for a in ADDRESSES)


@pytest.mark.parametrize("kind", ["not-a-key", "fifo", "passphrase"])
def test_a_key_file_that_cannot_be_used_is_a_one_line_error_naming_it(
        sshd: Sshd, tmp_path: Path, kind: str) -> None:
    """The key named is the only way in for its node: a file that is no key, a FIFO (never
    read, never waited on) or a key behind a passphrase stops the run before any login."""
    key = tmp_path / "node_key"
    if kind == "not-a-key":
        key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n"
                       "-----END OPENSSH PRIVATE KEY-----\n")
    elif kind == "fifo":
        os.mkfifo(key)
    else:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f",
                        str(key)], check=True, capture_output=True, timeout=30)
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, key_file=key)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(key) in lines[0] and "key" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
    assert all(sshd.commands(a) == [] for a in ADDRESSES)


def test_paramikos_failures_and_tracebacks_go_to_the_nodes_evidence_not_to_stderr(
        sshd_unknown_kex: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd_unknown_kex, lab)
        result = _audit(sshd_unknown_kex, lab, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    for shown in (result.stdout.replace(str(tmp_path), ""), result.stderr):
        assert "Traceback" not in shown and "paramiko" not in shown.lower(), shown
        assert "Incompatible" not in shown and "Exception" not in shown, shown
    nodes = _facts_nodes(tmp_path)
    for host in (PUB, SUB, SM):
        installed = nodes[host]["installed"]
        assert installed["error"]["kind"] == "ssh"
        detail = installed["error"]["detail"]
        assert f"@{host}:{sshd_unknown_kex.port}" in detail and "\n" not in detail
        log = "\n".join(installed["ssh_log"])
        assert "Incompatible ssh peer" in log and "Traceback (most recent call last)" in log


def test_a_password_that_is_not_utf8_is_a_one_line_error_that_shows_nothing_of_it(
        sshd: Sshd, tmp_path: Path) -> None:
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path, password=b"Pw-\xff\xfe-s3cret")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "UCCX_AUDIT_CLI_PASSWORD" in lines[0], result.stderr
    for shown in (result.stdout, result.stderr):
        for secret in ("Pw-", "s3cret", "xff", "0xff", "\ufffd", "position", "byte"):
            assert secret not in shown, (secret, shown)
    assert not any(p.name == "error.log" for p in tmp_path.rglob("*")), "error.log written"
    assert not (tmp_path / "out").exists()
    assert all(sshd.commands(a) == [] for a in ADDRESSES)


def test_a_password_typed_at_the_prompt_that_is_not_utf8_shows_nothing_of_it(
        sshd: Sshd, tmp_path: Path) -> None:
    """No password in the environment: the audit asks on its terminal (a pseudo-terminal
    here), and gets bytes that are not UTF-8."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        inventory = _inventory(sshd, lab, tmp_path)
    known = tmp_path / "known_hosts"
    known.write_text("".join(sshd.known_hosts_line(h) for h in (PUB, SUB, SM)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSH_AUTH_SOCK", "UCCX_AUDIT_CLI_PASSWORD")}
    env["PYTHONPATH"] = str(ROOT)
    import fcntl  # Linux only, as the pty is: never at a module's top

    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "audit", "--inventory", str(inventory), "--phase",
         "post", "--cli-known-hosts", str(known), "--out", str(tmp_path / "out")],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(terminal)
    shown = b""
    try:
        deadline = time.monotonic() + 60
        while b"password" not in shown.lower():
            assert time.monotonic() < deadline, shown
            if select.select([main], [], [], 1)[0]:
                shown += os.read(main, 4096)
        os.write(main, b"Pw-\xff\xfe-s3cret\n")
        while time.monotonic() < deadline:
            if select.select([main], [], [], 1)[0]:
                try:
                    data = os.read(main, 4096)
                except OSError:  # the terminal closed with the process
                    break
                if not data:
                    break
                shown += data
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(main)
    after = shown.split(b"(input hidden): ", 1)[-1].decode("utf-8", "replace")
    assert code == 2, shown
    lines = [line for line in after.splitlines() if line.strip()]
    assert len(lines) == 1 and "password" in lines[0], after
    for secret in ("Pw-", "s3cret", "xff", "\ufffd", "position", "byte"):
        assert secret not in after, (secret, after)
    assert not any(p.name == "error.log" for p in tmp_path.rglob("*")), "error.log written"
    assert all(sshd.commands(a) == [] for a in ADDRESSES)


# -- what the CLI printed: each certificate the key of its unit, each output its command's

@pytest.mark.parametrize(("unit", "other"), [("tomcat-ECDSA", "tomcat"),
                                             ("tomcat", "tomcat-ECDSA")])
def test_a_certificate_with_another_units_key_type_is_garbage_and_not_installed(
        sshd: Sshd, tmp_path: Path, unit: str, other: str) -> None:
    """SocialMiner's CLI prints, for ``unit``, the certificate of ``other`` (RSA for
    tomcat-ECDSA, EC for tomcat)."""
    key = {"tomcat": "tomcat", "tomcat-ECDSA": "tomcat_ecdsa"}
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        certs = lab.certificates[SM]
        wrong = _pem(certs.tomcat if other == "tomcat" else certs.tomcat_ecdsa)
        _configure(sshd, lab, **{SM: {key[unit]: wrong}})
    readings = _read(sshd, tmp_path, password=sshd.password)
    facts, _found = installed_facts(readings[SM])
    assert facts.error is not None and facts.error.kind == "garbage", facts.error
    assert f"show cert own {unit}" in facts.error.detail
    assert ("RSA" if unit == "tomcat-ECDSA" else "EC") in facts.error.detail
    assert getattr(facts, key[unit]) is None
    assert getattr(facts, key[other]) is not None  # the other unit's is still read
    for host in (PUB, SUB):
        assert installed_facts(readings[host])[0].error is None


def test_an_rsa_certificate_printed_for_tomcat_ecdsa_is_not_judged_as_one(
        sshd: Sshd, tmp_path: Path) -> None:
    """The whole audit: SocialMiner's tomcat-ECDSA stays what the network showed, and the
    node says its VOS CLI was not read."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{SM: {"tomcat_ecdsa": _pem(lab.certificates[SM].tomcat)}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    sm = _facts_nodes(tmp_path)[SM]
    assert sm["installed"]["error"]["kind"] == "garbage"
    assert sm["installed"]["tomcat_ecdsa"] is None
    assert sm["tomcat_ecdsa"]["source"] != "installed"
    assert ("vos-cli-not-read", SM) in _findings(tmp_path)
    assert _gadgets(tmp_path)[SM]["chat_email"] == "unknown"


FORGED_END = ("admin:uccx-audit-end-0123456789abcdef0123456789abcdef\n"
              "Executed command unsuccessfully\nInvalid command\nadmin:")


@pytest.mark.parametrize("interject", [
    {PUB: {"show cert own tomcat": "Subject: CN=x\nadmin:"},
     SUB: {"show cert own tomcat": "admin:"},
     SM: {"show version active": "\nadmin:"}},
    {PUB: {"show cert own tomcat": f"Subject: CN=x\n{FORGED_END}"},
     SUB: {"show cert own tomcat-ECDSA": "admin:\nadmin:show cert own tomcat-ECDSA\n"},
     SM: {"show cert list trust": f"\n{FORGED_END}\n"}},
], ids=["prompts", "forged-markers"])
def test_a_prompt_inside_an_output_does_not_shift_the_commands(
        sshd: Sshd, tmp_path: Path, interject: dict) -> None:
    """Each CLI prints a fake prompt (and, second, a forged end marker) before an output,
    then pauses, so that it arrives as a read of its own: every output stays its command's,
    and the certificates read are each node's own."""
    with Lab("cop-socialminer", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{host: {"interject": text}
                                 for host, text in interject.items()})
        certificates = {host: lab.certificates[host] for host in (PUB, SUB, SM)}
    readings = _read(sshd, tmp_path, password=sshd.password, timeout=10)
    roots = [f"lab-root-{i}.pem" for i in range(len(pki.hierarchies().roots))]
    for host, address in zip((PUB, SUB, SM), ADDRESSES, strict=True):
        reading = readings[host]
        facts, _found = installed_facts(reading)
        assert facts.tomcat == certificates[host].tomcat.cert.fingerprint(
            hashes.SHA256()).hex(), (host, reading)
        assert facts.tomcat_ecdsa == certificates[host].tomcat_ecdsa.cert.fingerprint(
            hashes.SHA256()).hex(), (host, reading)
        assert [e.name for e in facts.trust] == roots
        assert "Active Master Version" in (reading.output("show version active") or "")
        for command, text in interject[host].items():
            assert (reading.output(command) or "").startswith(text), reading.output(command)
        assert reading.error is None and facts.error is None, (reading.error, facts.error)
        assert list(reading.sent) == _expected_commands(roots)
        assert _commands(sshd, address) == _expected_commands(roots)


# -- where an output ends: the parser, fed as the CLI prints -------------------------------

#: What a VOS-like CLI prints for a word it does not know (tests/fake_vos_cli.py).
UNKNOWN = b"Executed command unsuccessfully\r\nInvalid command\r\n"
WELCOME = b"\r\nCommand Line Interface is starting up, please wait ...\r\n\r\nWelcome\r\n\r\n"


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut where ``sizes`` say (the rest in one piece)."""
    pieces, at = [], 0
    for size in sizes:
        if at >= len(data):
            break
        pieces.append(data[at:at + size])
        at += size
    return [*pieces, data[at:]] if at < len(data) else pieces


def _learn_answer() -> tuple[str, ...]:
    login = Reply("", new_marker(), None)
    login.feed(WELCOME + b"admin:")
    assert login.wants_marker
    login.marker_sent()
    login.feed(login.marker.encode() + b"\r\n" + UNKNOWN + b"admin:")
    answer = login.answer()
    assert answer == ("Executed command unsuccessfully", "Invalid command")
    return answer


def _converse(output: bytes, sizes: list[int], *, echo_on_read: bool) -> Reply:
    """One command against a CLI that prints ``output`` in reads of ``sizes``, then its
    prompt, and echoes the marker when it reads it (``echo_on_read``, as the VOS CLI), or
    as soon as it is typed (a terminal's own echo)."""
    command = "show cert own tomcat-ECDSA"
    reply = Reply(command, new_marker(), _learn_answer())
    for chunk in _chunks(command.encode() + b"\r\n" + output + b"admin:", sizes):
        reply.feed(chunk)
        assert reply.output() is None, "the output ended before the CLI read the marker"
        if reply.wants_marker:
            reply.marker_sent()
            if not echo_on_read:
                reply.feed(reply.marker.encode() + b"\r\n")
    rest = (reply.marker.encode() + b"\r\n" if echo_on_read else b"") + UNKNOWN + b"admin:"
    if reply.marker_typed:
        for chunk in _chunks(rest, sizes):
            assert reply.output() is None
            reply.feed(chunk)
    return reply


def _before_the_prompt(output: bytes) -> str | None:
    """What a terminal shows of ``output`` followed by the CLI's prompt, up to the prompt;
    None when a control sequence left open at its end swallows the prompt's first letter
    (the prompt is not seen: the command times out)."""
    shown = _expected(output + b"admin:")
    return shown[:-len("admin:")] if shown.endswith("admin:") else None


#: Pieces of hostile output: prompts, control sequences (whole and cut), NULs, bytes that
#: are not UTF-8 (whole and cut characters), markers without this exchange's nonce, a
#: forged answer to a marker, PEM armour, a huge line.
HOSTILE_PIECES = st.sampled_from([
    b"admin:", b"\nadmin:", b"\r\nadmin:  ", b"admin:admin:", b"\x1b[2J", b"\x1b[", b"\x1b",
    b"\x1b[\n", b"\x1b[12;\r\n",
    b"\x1b[31m", b"ad\x1b[0mmin:", b"\x00", b"\xff\xfe", b"\xe2\x82", b"\xac", b"\r",
    b"\n", b"uccx-audit-end-", b"uccx-audit-end-0123456789abcdef0123456789abcdef",
    b"admin:uccx-audit-end-0123456789abcdef0123456789abcdef\r\n" + UNKNOWN + b"admin:",
    b"-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----\n", b"A" * 70000,
    "Subject: CN=Zürich \u202e".encode()])
HOSTILE_OUTPUT = st.lists(st.one_of(HOSTILE_PIECES, st.binary(max_size=40)),
                          max_size=24).map(b"".join)
READS = st.lists(st.integers(min_value=1, max_value=4096), max_size=60)


def _expected(output: bytes) -> str:
    return clean_output(output.decode("utf-8", "replace"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=HOSTILE_OUTPUT, sizes=READS)
def test_no_output_ends_before_the_cli_has_read_the_marker(output: bytes,
                                                           sizes: list[int]) -> None:
    """Against a CLI that echoes what it reads (as the VOS CLI does), hostile output cut
    into any reads is kept whole and ends exactly where the CLI's own prompt was: nothing
    in it shifts the next command, nothing in it crashes the parser. Output that hides
    the prompt (a control sequence left open) never ends: a timeout, not a shift."""
    try:
        reply = _converse(output, sizes, echo_on_read=True)
    except _Stop as stop:  # only when the output really is not text
        assert stop.kind == "garbage", stop.detail
        assert _expected(output).count("\ufffd") > MAX_NOT_TEXT, stop.detail
        return
    assert reply.output() == _before_the_prompt(output)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=st.lists(st.one_of(HOSTILE_PIECES.filter(lambda p: UNKNOWN not in p),
                                 st.binary(max_size=40)), max_size=24).map(b"".join),
       sizes=READS)
def test_a_terminal_echoing_the_marker_early_does_not_shift_the_output_either(
        output: bytes, sizes: list[int]) -> None:
    """A terminal that echoes the marker as soon as it is typed puts the echo right after
    a prompt inside the output: the output still ends at the CLI's answer to the marker,
    never before. (An echo typed into a control sequence left open is eaten by it, as a
    terminal would: the end is then not seen, a timeout, never a shift.)"""
    try:
        reply = _converse(output, sizes, echo_on_read=False)
    except _Stop as stop:
        assert stop.kind == "garbage", stop.detail
        assert _expected(output).count("\ufffd") > MAX_NOT_TEXT, stop.detail
        return
    shown, got = _before_the_prompt(output), reply.output()
    if got is not None:  # an echo typed into a control sequence leaves its pieces
        assert shown is not None and clean_output(got) == clean_output(shown)
    else:  # the echo went into a control sequence left open: the end is not seen
        assert shown is None or b"\x1b" in output


def test_output_beyond_the_bound_is_a_garbage_error_not_a_crash() -> None:
    reply = Reply("show cert list trust", new_marker(), _learn_answer())
    with pytest.raises(_Stop) as stop:
        for _ in range(MAX_OUTPUT // 65536 + 2):
            reply.feed(b"tomcat-trust/x.pem: admin:\n" * 2427)
    assert stop.value.kind == "garbage"


# -- the servers' trust stores, read over the VOS CLI (issue 22 item 4) --------------------

TRUST_RULES = ("uccx-trust-lacks-socialminer-chain", "uccx-trust-lacks-socialminer-ec-chain",
               "socialminer-trust-lacks-uccx-tomcat", "trust-store-holds-expired-certificate",
               "ipsec-certificate-expired")


def _expired_ca_pem() -> str:
    """A CA certificate that expired ten days ago."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return _pem(pki.issue("retired lab CA", pki.key("tests/retired-ca", "rsa"), ca=True,
                          not_before=now - dt.timedelta(days=3000),
                          not_after=now - dt.timedelta(days=10)))


def _ipsec_pem(host: str, *, expired: bool = False) -> str:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(days=800 if expired else 10)
    return _pem(pki.issue(host, pki.key(f"tests/ipsec-{host}", "rsa"), san=(host,),
                          not_before=start, not_after=start + dt.timedelta(days=790)))


def _checks(folder: Path, rule: str) -> dict[str, str]:
    """What ``rule`` answered per node (passed, failed, not_seen, not_applicable)."""
    audit = json.loads((folder / "out" / "audit.json").read_text())
    results: dict[str, set[str]] = {}
    for check in check_rows(audit):
        if check["rule_id"] == rule:
            results.setdefault(check["node"], set()).add(check["result"])
    return {node: ",".join(sorted(answers)) for node, answers in results.items()}


def test_trust_stores_holding_every_chain_give_no_trust_finding_and_every_check_passes(
        sshd: Sshd, tmp_path: Path) -> None:
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{h: {"ipsec": _ipsec_pem(h)} for h in (PUB, SUB, SM)})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not {r for r, _ in _findings(tmp_path)} & set(TRUST_RULES)
    assert _gadgets(tmp_path)[SM]["chat_email"] == "works"
    assert _checks(tmp_path, "uccx-trust-lacks-socialminer-chain")[SM] == "passed"
    assert _checks(tmp_path, "socialminer-trust-lacks-uccx-tomcat")[SM] == "passed"
    assert set(_checks(tmp_path, "ipsec-certificate-expired").values()) == {"passed"}
    assert set(_checks(tmp_path, "trust-store-holds-expired-certificate").values()) == {
        "passed"}


def test_a_uccx_trust_list_without_socialminers_chain_breaks_chat_email_naming_the_rule(
        sshd: Sshd, tmp_path: Path) -> None:
    """The UCCX nodes' tomcat-trust holds only an unrelated CA: the stated edge is known to
    be missing, chat/email is broken, the rule is named in every format; the EC chain's
    absence is a warning that says it is inferred."""
    unrelated = {"other-ca.pem": _pem(pki.issue("unrelated CA", pki.key("tests/other-ca", "rsa"),
                                                ca=True))}
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{PUB: {"trust": unrelated}, SUB: {"trust": unrelated}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # NO-GO
    findings = _findings(tmp_path)
    assert ("uccx-trust-lacks-socialminer-chain", SM) in findings
    assert ("uccx-trust-lacks-socialminer-ec-chain", SM) in findings
    assert _gadgets(tmp_path)[SM]["chat_email"] == "broken"
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    ec = next(f for f in audit["findings"]
              if f["rule_id"] == "uccx-trust-lacks-socialminer-ec-chain")
    assert ec["severity"] == "warning" and "Inferred" in ec["message"]
    assert f"{PUB} lacks {SM}" in next(
        f["message"] for f in audit["findings"]
        if f["rule_id"] == "uccx-trust-lacks-socialminer-chain")
    for name in ("report.html", "report.md", "junit.xml"):
        assert "uccx-trust-lacks-socialminer-chain" in (tmp_path / "out" / name).read_text()
    # the terminal: evaluate prints each finding with its rule
    shown = subprocess.run(
        [sys.executable, "-m", "auditor", "evaluate", str(tmp_path / "out" / "facts.json"),
         "--phase", "post"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert "uccx-trust-lacks-socialminer-chain" in shown.stdout, shown.stdout + shown.stderr


def test_an_expired_ca_in_a_trust_store_and_an_expired_ipsec_are_warnings(
        sshd: Sshd, tmp_path: Path) -> None:
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab") as lab:
        roots = {f"lab-root-{i}.pem": _pem(r) for i, r in enumerate(pki.hierarchies().roots)}
        _configure(sshd, lab, **{
            SM: {"trust": {**roots, "retired.pem": _expired_ca_pem()}},
            PUB: {"ipsec": _ipsec_pem(PUB, expired=True)}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert audit["verdict"] == "go_with_actions"
    got = {(f["rule_id"], f["node"], f["severity"]) for f in audit["findings"]}
    assert ("trust-store-holds-expired-certificate", SM, "warning") in got
    assert ("ipsec-certificate-expired", PUB, "warning") in got
    assert "retired.pem (expired " in next(f["message"] for f in audit["findings"]
                                           if f["rule_id"] == "trust-store-holds-expired-"
                                           "certificate")
    assert _gadgets(tmp_path)[SM]["chat_email"] == "works"


@pytest.mark.parametrize("hostile", ["huge", "garbled", "control"])
def test_hostile_trust_listings_stay_data(sshd: Sshd, tmp_path: Path, hostile: str) -> None:
    """A trust list of a hundred entries, PEM blocks that are not certificates, names with
    control characters: the audit ends with a verdict, never a traceback, and a store it
    could not read completely is not judged (chat/email not broken by it)."""
    roots = {f"lab-root-{i}.pem": _pem(r) for i, r in enumerate(pki.hierarchies().roots)}
    if hostile == "huge":
        store = {**{f"entry-{i}.pem": roots["lab-root-0.pem"] for i in range(100)}, **roots}
    elif hostile == "garbled":
        store = {"bad.pem": "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydA==\n"
                            "-----END CERTIFICATE-----", "worse.pem": "\x00\xff" * 50}
    else:
        store = {"evil\x1b[31m\r\n.pem": roots["lab-root-0.pem"], "a\x07b.pem": "x"}
    with Lab("row3-ec-signed-ecdsa", tmp_path / "lab") as lab:
        _configure(sshd, lab, **{SM: {"trust": store}, PUB: {"trust": store}})
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / "audit.json").exists()
    # what could not be read is not judged: never "missing", and chat/email not broken
    assert _checks(tmp_path, "uccx-trust-lacks-socialminer-chain")[SM] != "failed"
    assert _checks(tmp_path, "socialminer-trust-lacks-uccx-tomcat")[SM] != "failed"
    assert _gadgets(tmp_path)[SM]["chat_email"] != "broken"


def test_the_lab_scenario_without_socialminers_chain_read_through_the_fake_vos_cli(
        sshd: Sshd, tmp_path: Path) -> None:
    """The lab's trust-socialminer-chain-missing scenario, its CLI played by the fake VOS CLI
    over a real sshd: the UCCX nodes' tomcat-trust lacks the CA of SocialMiner's chain, so
    chat/email is broken by the stated edge's rule and nothing else."""
    with Lab("trust-socialminer-chain-missing", tmp_path / "lab") as lab:
        _configure(sshd, lab)
        result = _audit(sshd, lab, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _findings(tmp_path) == {("uccx-trust-lacks-socialminer-chain", SM)}
    gadgets = _gadgets(tmp_path)
    assert gadgets[SM] == {"chat_email": "broken", "socialminer_web": "works"}
    assert all(gadgets[h] == {"finesse_desktop": "works", "live_data": "works"}
               for h in (PUB, SUB))
