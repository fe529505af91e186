"""A real OpenSSH server for the VOS CLI tests (Debian ``openssh-server``).

Started as root with its own ``sshd_config``, host key and folder, ``-D -e``, on one port
of several loopback addresses (one per lab node). A test user made for the session logs
in with a random password (or a key) and gets :mod:`fake_vos_cli` as its ForceCommand,
which plays the node whose address was dialled. Everything is removed afterwards: the
server is stopped, the user deleted, the folder removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SSHD = "/usr/sbin/sshd"
FAKE_CLI = Path(__file__).with_name("fake_vos_cli.py")
START_TIMEOUT = 10.0


@dataclass
class Sshd:
    folder: Path
    port: int
    user: str
    password: str
    host_key_pub: str
    client_key: Path

    def node(self, address: str, **config: object) -> Path:
        """Configure the node played on ``address``; returns its folder."""
        folder = self.folder / "nodes" / address
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "config.json").chmod(0o644)
        log = folder / "commands.log"
        log.write_text("")
        log.chmod(0o666)
        return folder

    def commands(self, address: str) -> list[str]:
        return (self.folder / "nodes" / address / "commands.log").read_text().splitlines()

    def known_hosts_line(self, host: str) -> str:
        return f"[{host}]:{self.port} {self.host_key_pub}\n"


def _need(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(f"the VOS CLI tests need {what} (run: sh scripts/test-deps.sh as root)")


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _admin(tool: str) -> str:
    """An administration tool (useradd, chpasswd, userdel) where Debian keeps it: in
    /usr/sbin, which a user's PATH (PATH=/usr/bin:/bin) does not name."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(tool, path=path) or tool


def _run(args: Sequence[str], **kwargs: object) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=30, **kwargs)


@contextlib.contextmanager
def running_sshd(addresses: Sequence[str], first: str = "",
                 port: int | None = None) -> Iterator[Sshd]:
    """``first``: sshd_config lines put first (sshd takes a keyword's first value);
    ``{folder}`` in them is the server's folder. ``port``: the port to listen on (default:
    a free one; 22 for a run that reads nodes with no ``cli:`` in the inventory)."""
    _need(os.path.exists(SSHD), "OpenSSH's sshd (Debian package openssh-server)")
    _need(os.geteuid() == 0, "root (sshd and a test user)")
    _need(os.path.exists("/usr/bin/python3"), "/usr/bin/python3 for the fake VOS CLI")
    folder = Path(tempfile.mkdtemp(prefix="uccx-sshd-"))
    folder.chmod(0o755)
    user = f"uccxvos{secrets.token_hex(3)}"
    password = "Pw-" + secrets.token_urlsafe(18)
    process = None
    made_user = False
    try:
        shutil.copy(FAKE_CLI, folder / "fake_vos_cli.py")
        (folder / "fake_vos_cli.py").chmod(0o644)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key")])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "client_key")])
        shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
        (folder / "authorized_keys").chmod(0o644)
        _run([_admin("useradd"), "--no-create-home", "--home-dir", str(folder), "--shell",
              "/bin/sh", "--comment", "uccx-cert-auditor test (remove me)", user])
        made_user = True
        _run([_admin("chpasswd")], input=f"{user}:{password}\n".encode())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        port = port or _free_port(addresses[0])
        listen = "\n".join(f"ListenAddress {a}:{port}" for a in addresses)
        extra = first.replace("{folder}", str(folder))
        config = folder / "sshd_config"
        config.write_text(f"""{extra}{listen}
HostKey {folder}/host_key
PidFile {folder}/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {folder}/authorized_keys
StrictModes no
PermitRootLogin no
AllowUsers {user}
AllowTcpForwarding no
X11Forwarding no
PermitTTY yes
PrintMotd no
MaxAuthTries 10
LoginGraceTime 30
ForceCommand /usr/bin/python3 {folder}/fake_vos_cli.py {folder}/nodes
""")
        (folder / "nodes").mkdir()
        (folder / "nodes").chmod(0o755)
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(OSError), socket.create_connection(
                    (addresses[0], port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"sshd did not start within {START_TIMEOUT:g} s: {err[:500]}")
            time.sleep(0.05)
        host_key_pub = " ".join((folder / "host_key.pub").read_text().split()[:2])
        yield Sshd(folder, port, user, password, host_key_pub, folder / "client_key")
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stderr:
                process.stderr.close()
        if made_user:
            # sessions end with their connections; a lingering one only delays the removal
            for _attempt in range(20):
                if subprocess.run([_admin("userdel"), user], capture_output=True,
                                  timeout=30).returncode in (0, 6):
                    break
                time.sleep(0.25)
            else:
                subprocess.run([_admin("userdel"), "--force", user], capture_output=True,
                               timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def hold_lab_keystores(server: Sshd, lab: Any, addresses: Sequence[str],
                       **per_node: dict) -> None:
    """Each node of ``lab`` (an ``auditor.lab.Lab``), played on its address in
    ``addresses``, holds what the lab node's VOS CLI shows (``Lab.vos_cli_holdings``: its
    keystore, its ipsec, its tomcat-trust: the lab roots, less what the scenario leaves
    out); ``per_node``: what a host's CLI holds or does otherwise (fake_vos_cli's config)."""
    holdings = lab.vos_cli_holdings()
    for address, node in zip(addresses, lab.inventory().nodes, strict=True):
        config = {**holdings[node.host], "page_lines": 8, "prompt_delay": 0.3}
        config.update(per_node.get(node.host, {}))
        server.node(address, **config)
