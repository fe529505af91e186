"""A read-only collector over the VOS command line: what each node has **installed**.

The network shows what a server presents; the VOS CLI (SSH, user ``admin``) shows what
the node holds: ``tomcat``, ``tomcat-ECDSA``, ``tomcat-trust`` and the installed software
options (COP files). Per node, one SSH session with an interactive shell: wait for the
``admin:`` prompt, turn paging off, then send exactly :data:`COMMANDS` and one
``show cert trust tomcat-trust/<name>`` per trust entry (at most :data:`MAX_TRUST`).
Nothing else is ever typed: a pager or a ``(y/n)`` question is answered by closing the
session, never by a key press, and becomes a typed error for that node.

Certificates are taken only from the PEM blocks in the output; the text around them is
kept verbatim as evidence. SSH is paramiko: pure Python, maintained for two decades,
with known_hosts parsing (hashed entries too), agent and key support, and a plain
channel to drive an interactive shell with our own timeouts.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # paramiko before 3.5 names TripleDES where cryptography 45 deprecated it: a warning
    # about paramiko's own code, which would garble the one-line errors on stderr
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import paramiko

from auditor.collect.handshake import ResolveError, resolve_within
from auditor.common.errors import AuditorError, InputError
from auditor.model.cluster import CliAccess, Inventory
from auditor.model.facts import CliError, CommandOutput

#: Where the password comes from (never an option value, never written anywhere).
PASSWORD_ENV = "UCCX_AUDIT_CLI_PASSWORD"
PROMPT = "admin:"
#: The commands sent, in order, before the per-entry ``show cert trust``.
COMMANDS = ("set cli pagination off", "show version active", "show cert own tomcat",
            "show cert own tomcat-ECDSA", "show cert list trust")
TRUST_UNIT = "tomcat-trust"
#: At most this many ``show cert trust`` commands per node.
MAX_TRUST = 50
#: More output than this from one command is not a VOS CLI talking.
MAX_OUTPUT = 1 << 20

ERROR_KINDS = ("dns", "refused", "timeout", "auth", "host_key_unknown", "host_key_changed",
               "ssh", "no_prompt", "command_timeout", "pager", "question", "garbage",
               "closed")

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]{1,65536}?"
                  r"-----END CERTIFICATE-----")
_TRUST_NAME = re.compile(rf"(?<![\w./-]){TRUST_UNIT}/([A-Za-z0-9][A-Za-z0-9._-]{{0,127}})")
_PAGER = re.compile(r"press\s*<?(enter|space)>?|--\s*more\s*--|<q> to quit", re.I)
_QUESTION = re.compile(r"\(\s*y(es)?\s*/\s*n(o)?\s*\)\s*\??\s*:?\s*$", re.I)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class CliTarget:
    """One node to read: the name its host key is filed under, where to connect, who."""

    host: str
    address: str
    port: int = 22
    user: str = "admin"
    key_file: str | None = None


@dataclass(frozen=True)
class CliOptions:
    connect_timeout: float = 10.0
    prompt_timeout: float = 60.0
    command_timeout: float = 60.0
    known_hosts: Path | None = None
    accept_new_host_keys: bool = False
    concurrency: int = 8


@dataclass(frozen=True)
class CliReading:
    """What one session read from one node; ``error`` says why it stopped early."""

    host: str
    user: str
    outputs: tuple[CommandOutput, ...] = ()
    error: CliError | None = None
    sent: tuple[str, ...] = field(default=())

    def output(self, command: str) -> str | None:
        return next((o.output for o in self.outputs if o.command == command), None)


class _Stop(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# -- parsing: only PEM blocks and two documented markers --------------------------------

def pem_blocks(text: str) -> list[str]:
    """Every certificate PEM block in free text, normalised to 64-column lines."""
    blocks = []
    for match in _PEM.finditer(text):
        body = re.sub(r"\s+", "", match.group(0)[len("-----BEGIN CERTIFICATE-----"):
                                                  -len("-----END CERTIFICATE-----")])
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        blocks.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines)
                      + "\n-----END CERTIFICATE-----\n")
    return blocks


def trust_names(listing: str) -> list[str]:
    """The ``tomcat-trust/<name>`` entries named in ``show cert list trust``, in order,
    each once. Only names of safe characters are taken: they are typed back into the CLI."""
    names: list[str] = []
    for match in _TRUST_NAME.finditer(listing):
        name = match.group(1).rstrip(".:")
        if name and name not in names:
            names.append(name)
    return names


def software_options(version_output: str) -> tuple[str, ...]:
    """The lines under "Installed Software Options" in ``show version active``, verbatim."""
    lines = version_output.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "installed software options" in line.lower()), None)
    if start is None:
        return ()
    options = []
    for line in lines[start + 1:]:
        text = line.strip()
        if not text:
            if options:
                break
            continue
        if text.endswith(":") and not options:
            continue
        options.append(text)
    return tuple(options)


# -- credentials and host keys ------------------------------------------------------------

def cli_password(*, interactive: bool | None = None) -> str | None:
    """The password from :data:`PASSWORD_ENV`, else asked on the terminal (only when stdin
    is one), else None: keys and the agent only."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        return getpass.getpass("VOS CLI password (input hidden): ") or None
    return None


class _HostKeys(paramiko.MissingHostKeyPolicy):
    """Reject unknown host keys, or accept and remember them (first contact)."""

    def __init__(self, accept_new: bool, known_hosts: Path, lock: threading.Lock) -> None:
        self.accept_new = accept_new
        self.known_hosts = known_hosts
        self.lock = lock

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if not self.accept_new:
            raise _Stop("host_key_unknown", f"{hostname}: host key {key.get_name()} "
                        f"{key.fingerprint} is not in {self.known_hosts}; check it, then run "
                        "once with --cli-accept-new-host-keys")
        with self.lock:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with open(self.known_hosts, "a", encoding="ascii") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


# -- one session ---------------------------------------------------------------------------

class _Shell:
    """An interactive shell read with deadlines; output kept as text."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.buffer = ""

    def read_until_prompt(self, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.buffer.replace("\r", "")
            tail = text.rsplit("\n", 1)[-1]
            if tail.strip() == PROMPT:
                self.buffer = ""
                return text[: len(text) - len(tail)]
            if _PAGER.search(tail):
                raise _Stop("pager", f"{what}: the CLI shows a pager ({tail.strip()[:80]!r}) "
                            "although paging was turned off; nothing was answered")
            if _QUESTION.search(tail):
                raise _Stop("question", f"{what}: the CLI asks {tail.strip()[:80]!r}; a "
                            "read-only audit answers nothing, so the session was closed")
            if len(self.buffer) > MAX_OUTPUT:
                raise _Stop("garbage", f"{what}: more than {MAX_OUTPUT} bytes of output")
            left = deadline - time.monotonic()
            if left <= 0:
                kind = "no_prompt" if what == "login" else "command_timeout"
                raise _Stop(kind, f"{what}: no {PROMPT!r} prompt within {timeout:g} s")
            self.channel.settimeout(min(left, 0.5))
            try:
                data = self.channel.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise _Stop("closed", f"{what}: the CLI closed the session")
            try:
                self.buffer += _ANSI.sub("", data.decode("utf-8"))
            except UnicodeDecodeError:
                self.buffer += _ANSI.sub("", data.decode("utf-8", "replace"))
                if self.buffer.count("\ufffd") > 64:
                    raise _Stop("garbage", f"{what}: the output is not text") from None

    def run(self, command: str, timeout: float) -> str:
        self.channel.sendall((command + "\n").encode("ascii"))
        text = self.read_until_prompt(timeout, command)
        first, _, rest = text.partition("\n")
        return rest if first.strip() == command else text


def _connect(target: CliTarget, password: str | None, options: CliOptions,
             policy: _HostKeys) -> paramiko.SSHClient:
    try:
        # name resolution is bounded like the prober's, then the connection itself
        _family, sockaddr = resolve_within(target.address, target.port,
                                           options.connect_timeout)[0]
        sock = socket.create_connection((sockaddr[0], sockaddr[1]),
                                        timeout=options.connect_timeout)
    except ResolveError as exc:
        raise _Stop("dns", exc.detail) from None
    except socket.gaierror as exc:
        raise _Stop("dns", f"{target.address}: {exc.strerror or exc}") from None
    except ConnectionRefusedError:
        raise _Stop("refused", f"{target.address}:{target.port} refused the connection") \
            from None
    except TimeoutError:
        raise _Stop("timeout", f"{target.address}:{target.port}: no connection within "
                    f"{options.connect_timeout:g} s") from None
    except OSError as exc:
        raise _Stop("refused", f"{target.address}:{target.port}: {exc.strerror or exc}") \
            from None
    client = paramiko.SSHClient()
    if policy.known_hosts.exists():
        client.load_host_keys(str(policy.known_hosts))
    client.set_missing_host_key_policy(policy)
    try:
        client.connect(target.host, port=target.port, username=target.user,
                       password=password, key_filename=target.key_file, sock=sock,
                       timeout=options.connect_timeout,
                       banner_timeout=options.prompt_timeout,
                       auth_timeout=options.prompt_timeout,
                       channel_timeout=options.prompt_timeout,
                       allow_agent=True, look_for_keys=target.key_file is None)
    except _Stop:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise _Stop("host_key_changed", f"{target.host}: the host key CHANGED: the server "
                    f"sent {exc.key.get_name()} {exc.key.fingerprint}, {policy.known_hosts} "
                    f"holds {exc.expected_key.fingerprint}; someone may be intercepting the "
                    "connection. Check with the node's administrator before trusting it") \
            from None
    except paramiko.AuthenticationException:
        client.close()
        raise _Stop("auth", f"{target.user}@{target.host}: the login was rejected") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        client.close()
        if "authentication" in str(exc).lower():
            raise _Stop("auth", f"{target.user}@{target.host}: no way to log in (no "
                        f"password in {PASSWORD_ENV}, no key accepted)") from None
        kind = "timeout" if isinstance(exc, TimeoutError) else "ssh"
        raise _Stop(kind, f"{target.host}: SSH failed ({type(exc).__name__}: "
                    f"{str(exc)[:200]})") from None
    return client


def read_node(target: CliTarget, password: str | None, options: CliOptions,
              policy: _HostKeys) -> CliReading:
    """One SSH session: the fixed commands, then ``show cert trust`` per entry."""
    outputs: list[CommandOutput] = []
    sent: list[str] = []
    client: paramiko.SSHClient | None = None
    try:
        client = _connect(target, password, options, policy)
        channel = client.invoke_shell(width=200, height=24)
        shell = _Shell(channel)
        shell.read_until_prompt(options.prompt_timeout, "login")
        queue = list(COMMANDS)
        while queue:
            command = queue.pop(0)
            sent.append(command)
            output = shell.run(command, options.command_timeout)
            outputs.append(CommandOutput(command, output))
            if command == "show cert list trust":
                queue.extend(f"show cert trust {TRUST_UNIT}/{name}"
                             for name in trust_names(output)[:MAX_TRUST])
        return CliReading(target.host, target.user, tuple(outputs), None, tuple(sent))
    except _Stop as stop:
        return CliReading(target.host, target.user, tuple(outputs),
                          CliError(stop.kind, stop.detail), tuple(sent))
    except (paramiko.SSHException, EOFError, OSError) as exc:
        return CliReading(target.host, target.user, tuple(outputs), CliError(
            "ssh", f"{target.host}: SSH failed ({type(exc).__name__}: {str(exc)[:200]})"),
            tuple(sent))
    finally:
        if client is not None:
            client.close()


def default_known_hosts() -> Path:
    return Path(os.path.expanduser("~/.ssh/known_hosts"))


def read_nodes(targets: Sequence[CliTarget], password: str | None, options: CliOptions,
               progress: Callable[[CliReading], None] | None = None) -> list[CliReading]:
    """Read every node, at most ``options.concurrency`` sessions at once, one per node."""
    if len({t.host for t in targets}) != len(targets):
        raise InputError("a node is listed twice for the VOS CLI", expected="one session "
                         "per node")
    known_hosts = options.known_hosts or default_known_hosts()
    if known_hosts.exists() and not known_hosts.is_file():
        raise InputError("not a file", path=str(known_hosts), expected="a known_hosts file")
    policy = _HostKeys(options.accept_new_host_keys, known_hosts, threading.Lock())
    if not targets:
        return []

    def one(target: CliTarget) -> CliReading:
        reading = read_node(target, password, options, policy)
        if progress is not None:
            progress(reading)
        return reading

    with ThreadPoolExecutor(max_workers=max(1, min(options.concurrency, len(targets))),
                            thread_name_prefix="vos-cli") as pool:
        return list(pool.map(one, targets))


@dataclass(frozen=True)
class CliRequest:
    """Which nodes to read and how; the password is never shown (``repr=False``)."""

    targets: tuple[CliTarget, ...]
    options: CliOptions
    password: str | None = field(default=None, repr=False)


def cli_targets(inventory: Inventory, *, all_nodes: bool, user: str = "admin",
                ) -> tuple[CliTarget, ...]:
    """The nodes that opted in (``cli:`` in the inventory), or every node (``--cli``)."""
    targets = []
    for node in inventory.nodes:
        access = node.cli or (CliAccess(user) if all_nodes else None)
        if access is not None:
            targets.append(CliTarget(node.host, node.address or node.host, access.port,
                                     access.user, access.key_file))
    return tuple(targets)


def read_installed(request: CliRequest,
                   progress: Callable[[CliReading], None] | None = None) -> list[CliReading]:
    """Read every requested node. A changed host key stops the audit with one error naming
    the host (after the other sessions ended): it may be someone in the middle."""
    readings = read_nodes(request.targets, request.password, request.options, progress)
    changed = [r for r in readings if r.error and r.error.kind == "host_key_changed"]
    if changed:
        raise AuditorError("; ".join(r.error.detail for r in changed if r.error))
    return readings
