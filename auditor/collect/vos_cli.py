"""A read-only collector over the VOS command line: what each node has **installed**.

The network shows what a server presents; the VOS CLI (SSH, user ``admin``) shows what
the node holds: ``tomcat``, ``tomcat-ECDSA``, ``ipsec`` (for its expiry), ``tomcat-trust``
and the installed software options (COP files). Per node, one SSH session with an
interactive shell: wait for the ``admin:`` prompt, turn paging off, then send exactly
:data:`COMMANDS` and one ``show cert trust tomcat-trust/<name>`` per trust entry (at most
:data:`MAX_TRUST`).
Nothing else is ever typed but the end marker (below): a pager or a ``(y/n)`` question is
answered by closing the session, never by a key press, and becomes a typed error for that
node.

**Where an output ends.** A prompt printed by the CLI cannot be told from an ``admin:``
inside the output (a certificate's subject, a read that happens to end there). So after
each command the collector types one marker: a word the CLI does not know, carrying a
fresh random nonce (:class:`Reply`). The CLI echoes what it reads when it reads it, after
the command's output and its prompt, and answers with its error for an unknown command
and a new prompt. The output ends at the prompt right before the marker's echo, and the
exchange once the CLI's answer to the marker (learnt at login from a first marker) and a
prompt follow it. Nothing in the output can carry a nonce it has not seen yet.

**Logging in** is chosen up front from what the user gave, and only that is tried: a
node's ``key_file`` (that key only), else the password (password authentication only),
else the keys in the SSH agent. Keyboard-interactive is never used, so no prompt of the
server's is ever shown or answered, and nothing is read from standard input. paramiko's
own log (the server's banner, its errors and their tracebacks) is captured into the
node's evidence, neutralised, never printed.

Certificates are taken only from the PEM blocks in the output; the text around them is
kept verbatim as evidence. SSH is paramiko: pure Python, maintained for two decades,
with known_hosts parsing (hashed entries too), agent and key support, and a plain
channel to drive an interactive shell with our own timeouts.
"""

from __future__ import annotations

import codecs
import getpass
import io
import itertools
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # paramiko before 3.5 names TripleDES where cryptography 45 deprecated it: a warning
    # about paramiko's own code, which would garble the one-line errors on stderr
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import paramiko
    from paramiko.auth_strategy import AuthStrategy

from auditor.collect.handshake import ResolveError, resolve_within
from auditor.common.errors import AuditorError, InputError
from auditor.common.inputs import read_input
from auditor.common.textsafe import visible
from auditor.model.cluster import CliAccess, Inventory
from auditor.model.facts import CliError, CommandOutput

#: Where the password comes from (never an option value, never written anywhere).
PASSWORD_ENV = "UCCX_AUDIT_CLI_PASSWORD"
PROMPT = "admin:"
#: The commands sent, in order, before the per-entry ``show cert trust``.
COMMANDS = ("set cli pagination off", "show version active", "show cert own tomcat",
            "show cert own tomcat-ECDSA", "show cert own ipsec", "show cert list trust")
TRUST_UNIT = "tomcat-trust"
#: At most this many ``show cert trust`` commands per node.
MAX_TRUST = 50
#: More output than this from one command is not a VOS CLI talking.
MAX_OUTPUT = 1 << 20
#: More undecodable bytes than this in one output: it is not text.
MAX_NOT_TEXT = 64
#: The end marker typed after each command: no VOS CLI command starts so, and the nonce
#: after it is fresh for every command (:class:`Reply`).
MARKER_PREFIX = "uccx-audit-end-"
#: paramiko's log kept per node: at most this many lines of at most this many characters.
MAX_LOG_LINES = 200
MAX_LOG_LINE = 400

ERROR_KINDS = ("dns", "refused", "timeout", "auth", "host_key_unknown", "host_key_changed",
               "ssh", "no_prompt", "command_timeout", "pager", "question", "garbage",
               "closed")

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]{1,65536}?"
                  r"-----END CERTIFICATE-----")
_TRUST_NAME = re.compile(rf"(?<![\w./-]){TRUST_UNIT}/([A-Za-z0-9][A-Za-z0-9._-]{{0,127}})")
_PAGER = re.compile(r"press\s*<?(enter|space)>?|--\s*more\s*--|<q> to quit", re.I)
_QUESTION = re.compile(r"\(\s*y(es)?\s*/\s*n(o)?\s*\)\s*\??\s*:?\s*$", re.I)
#: A terminal control sequence (CSI), dropped from the output; bounded so that what may
#: still be one at the end of a read (:data:`_ANSI_START`) is bounded too.
_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]")
_ANSI_START = re.compile(r"\x1b(\[[0-9;?]{0,32})?\Z")


@dataclass(frozen=True)
class CliTarget:
    """One node to read: the name its host key is filed under, where to connect, who."""

    host: str
    address: str
    port: int = 22
    user: str = "admin"
    key_file: str | None = None

    @property
    def where(self) -> str:
        """``user@host:port``, as errors name the session."""
        return f"{self.user}@{self.host}:{self.port}"


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
    """What one session read from one node; ``error`` says why it stopped early; ``log``
    is what the SSH library said about the session (the server's banner and errors
    included), neutralised."""

    host: str
    user: str
    outputs: tuple[CommandOutput, ...] = ()
    error: CliError | None = None
    sent: tuple[str, ...] = field(default=())
    log: tuple[str, ...] = ()

    def output(self, command: str) -> str | None:
        return next((o.output for o in self.outputs if o.command == command), None)


class _Stop(Exception):
    """Why a session ends early: an :data:`ERROR_KINDS` word and one line about it."""

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


def clean_output(text: str) -> str:
    """Output as the collector keeps it: control sequences dropped, carriage returns too."""
    return _ANSI.sub("", text).replace("\r", "")


def new_marker() -> str:
    """An end marker with a fresh nonce."""
    return MARKER_PREFIX + secrets.token_hex(16)


class Reply:
    """What the CLI prints after one command (``""``: the login), fed as it arrives, and
    where it ends (the module's docstring says why).

    :meth:`feed` takes bytes as read; :attr:`wants_marker` turns true at the first prompt
    (perhaps one inside the output): the caller then types ``marker`` and calls
    :meth:`marker_sent`; :meth:`output` is the command's output once the exchange is over.
    ``answer``: the CLI's answer to a marker, as :meth:`answer` gave it at login; ``None``
    at login, where it is learnt.
    """

    def __init__(self, command: str, marker: str, answer: tuple[str, ...] | None) -> None:
        self.command = command
        self.marker = marker
        self.expected_answer = answer
        self.text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""
        self._not_text = 0
        self._sent_at: int | None = None
        self._searched = 0
        self._echo: int | None = None
        self._done: tuple[str, tuple[str, ...]] | None = None

    def feed(self, data: bytes) -> None:
        piece = self._decoder.decode(data)
        self._not_text += piece.count("\ufffd")
        piece = self._held + piece
        start = _ANSI_START.search(piece)
        self._held = start.group() if start else ""
        self.text += clean_output(piece[:start.start()] if start else piece)
        what = self.command or "login"
        if len(self.text) > MAX_OUTPUT:
            raise _Stop("garbage", f"{what}: more than {MAX_OUTPUT} characters of output")
        if self._not_text > MAX_NOT_TEXT:
            raise _Stop("garbage", f"{what}: the output is not text")
        if self._sent_at is not None and self._done is None:
            self._done = self._finish()
        if self._done is None:
            tail = self.text[-256:].rsplit("\n", 1)[-1]
            if _PAGER.search(tail):
                raise _Stop("pager", f"{what}: the CLI shows a pager "
                            f"({visible(tail.strip()[:80])!r}) although paging was turned "
                            "off; nothing was answered")
            if _QUESTION.search(tail):
                raise _Stop("question", f"{what}: the CLI asks {visible(tail.strip()[:80])!r};"
                            " a read-only audit answers nothing, so the session was closed")

    @property
    def wants_marker(self) -> bool:
        return self._sent_at is None and self.text.rstrip(" ").endswith(PROMPT)

    def marker_sent(self) -> None:
        self._sent_at = len(self.text)

    @property
    def marker_typed(self) -> bool:
        return self._sent_at is not None

    def _finish(self) -> tuple[str, tuple[str, ...]] | None:
        """(output, answer) once the marker's echo, the answer and a prompt have come.

        The answer is the text between the last prompt before the final one and the final
        one. That prompt comes right before the echo when the CLI echoes what it reads (the
        VOS CLI), or after it when a terminal echoed the marker as it was typed, perhaps
        right after a prompt inside the output; either way the output is all the rest."""
        assert self._sent_at is not None
        if self._echo is None:
            # the echo comes after the marker was typed: never inside the output before it
            found = self.text.find(self.marker, max(self._sent_at, self._searched))
            if found < 0:
                self._searched = max(self._sent_at, len(self.text) - len(self.marker))
                return None
            self._echo = found
        end = self.text.rstrip(" ")
        if not end.endswith(PROMPT):
            return None
        last = len(end) - len(PROMPT)
        after = self._echo + len(self.marker)
        after += self.text.startswith("\n", after)
        if last < after:
            return None
        before = self.text.rfind(PROMPT, after, last)
        if before >= 0:
            output = self.text[:self._echo] + self.text[after:before]
            answer_text = self.text[before + len(PROMPT):last]
        elif self.text.endswith(PROMPT, 0, self._echo):
            output = self.text[:self._echo - len(PROMPT)]
            answer_text = self.text[after:last]
        else:
            return None
        answer = tuple(line.strip().replace(self.marker, "{marker}")
                       for line in answer_text.split("\n") if line.strip())
        if self.expected_answer is not None and answer != self.expected_answer:
            return None  # the output went on past a prompt in it: the answer comes later
        return output, answer

    def output(self) -> str | None:
        """The command's output (its echo left out) once the exchange is over, else None."""
        if self._done is None:
            return None
        text = self._done[0]
        first, _, rest = text.partition("\n")
        return rest if self.command and first.strip() == self.command else text

    def answer(self) -> tuple[str, ...] | None:
        """The CLI's answer to the marker (``{marker}`` where it repeated it), once over."""
        return self._done[1] if self._done is not None else None


# -- credentials and host keys ------------------------------------------------------------

def _not_utf8(where: str) -> InputError:
    """The one line for a password that is not UTF-8: it says where the password came
    from and nothing of the password (not a byte, not a position)."""
    return InputError("the password is not UTF-8 text (nothing of it is shown here)",
                      field=where, expected="the VOS CLI password as UTF-8 text")


def checked_password(value: str, where: str) -> str:
    """``value`` if it can be sent (UTF-8 text: bytes that were not UTF-8 come from the
    environment as lone surrogates), else :func:`_not_utf8`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _not_utf8(where) from None
    return value


def cli_password(*, interactive: bool | None = None) -> str | None:
    """The password from :data:`PASSWORD_ENV`, else asked on the terminal (only when stdin
    is one), else None: keys and the agent only."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return checked_password(value, f"${PASSWORD_ENV}")
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        where = "the password typed at the prompt"
        try:
            typed = getpass.getpass("VOS CLI password (input hidden): ")
        except UnicodeDecodeError:
            raise _not_utf8(where) from None
        return checked_password(typed, where) or None
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


def load_key(path: str) -> paramiko.PKey:
    """The private key in ``path`` (a node's ``key_file``), or a one-line
    :class:`InputError` naming the file; nothing of the key is ever shown."""
    text = read_input(path, "pem").decode("ascii", "replace")
    for kind in (paramiko.RSAKey, paramiko.ECDSAKey, paramiko.Ed25519Key):
        try:
            return kind.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise InputError("the key is protected by a passphrase", path=path,
                             field="key_file", expected="a key without a passphrase, or "
                             "the key loaded into the SSH agent (ssh-add) and no key_file")\
                from None
        except Exception:  # whatever a file that is no such key makes the parser raise
            continue
    raise InputError("not a private key the SSH client can use", path=path,
                     field="key_file", expected="an RSA, ECDSA or Ed25519 private key")


# -- what paramiko logs goes to the node's evidence, never to stderr ---------------------

class _SessionLogs(logging.Handler):
    """Every record of paramiko's loggers, filed under the session it belongs to: by the
    logger's name (each session's transport logs under its own) or by the thread that
    logged it (authentication runs in the session's thread). Records of no session are
    dropped. Nothing here ever writes to a stream."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._lock = threading.Lock()
        self._names: dict[str, list[str]] = {}
        self._threads: dict[int, list[str]] = {}

    @contextmanager
    def session(self, name: str) -> Iterator[list[str]]:
        lines: list[str] = []
        thread = threading.get_ident()
        with self._lock:
            self._names[name] = lines
            self._threads[thread] = lines
        try:
            yield lines
        finally:
            with self._lock:
                self._names.pop(name, None)
                self._threads.pop(thread, None)

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            lines = next((kept for name, kept in self._names.items()
                          if record.name == name or record.name.startswith(name + ".")),
                         None)
            if lines is None:
                lines = self._threads.get(record.thread or 0)
            if lines is None or len(lines) > MAX_LOG_LINES:
                return
            if len(lines) == MAX_LOG_LINES:
                lines.append("[more lines were dropped]")
                return
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is not worth more than its template
                message = str(record.msg)
            text = visible(f"{record.levelname}: {message}")
            lines.append(text if len(text) <= MAX_LOG_LINE else text[:MAX_LOG_LINE] + "…")

    def handleError(self, record: logging.LogRecord) -> None:
        """Never print (logging's default writes a traceback to stderr)."""


_LOGS = _SessionLogs()
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(_LOGS)
_PARAMIKO_LOG.propagate = False  # not to the root logger, nor logging's last resort: stderr
_PARAMIKO_LOG.setLevel(logging.INFO)
_SESSIONS = itertools.count(1)


# -- logging in: one way, chosen up front -------------------------------------------------

@dataclass(frozen=True)
class Login:
    """How a node is logged in to: a key, else a password, else the agent's keys."""

    key: paramiko.PKey | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return "key" if self.key is not None else "password" if self.password is not None \
            else "agent"


class _OneWay(AuthStrategy):
    """paramiko's authentication, limited to the one way chosen (:class:`Login`). A server
    that wants more after it (keyboard-interactive, a second factor) is refused: no prompt
    of the server's is shown or answered."""

    def __init__(self, target: CliTarget, login: Login) -> None:
        super().__init__(ssh_config=None)
        self.target = target
        self.login = login

    def _more(self, allowed: Sequence[str], after: str) -> _Stop:
        return _Stop("auth", f"{self.target.where}: after the {after} the server asks for "
                     f"more ({visible(', '.join(allowed))[:120]}); the audit logs in with a "
                     "password, a key or the SSH agent alone and answers no prompt")

    def authenticate(self, transport: paramiko.Transport) -> list[str]:
        user = self.target.user
        if self.login.key is not None or self.login.password is not None:
            try:
                if self.login.key is not None:
                    allowed = transport.auth_publickey(user, self.login.key)
                else:
                    allowed = transport.auth_password(user, self.login.password,
                                                      fallback=False)
            except paramiko.BadAuthenticationType as exc:
                raise _Stop("auth", f"{self.target.where}: the server does not take a "
                            f"{self.login.method} (it allows "
                            f"{visible(', '.join(exc.allowed_types))[:120]})") from None
            except paramiko.AuthenticationException:
                raise _Stop("auth", f"{self.target.where}: the login with the "
                            f"{self.login.method} was rejected") from None
            if allowed:
                raise self._more(allowed, self.login.method)
            return []
        agent = paramiko.Agent()
        try:
            keys = agent.get_keys()
            if not keys:
                raise _Stop("auth", f"{self.target.where}: nothing to log in with: no password "
                            f"in ${PASSWORD_ENV}, no key_file for the node, no key in the SSH "
                            "agent")
            for key in keys:
                try:
                    allowed = transport.auth_publickey(user, key)
                except paramiko.BadAuthenticationType as exc:
                    raise _Stop("auth", f"{self.target.where}: the server does not take a key "
                                f"(it allows {visible(', '.join(exc.allowed_types))[:120]})") \
                        from None
                except paramiko.AuthenticationException:
                    continue
                if allowed:
                    raise self._more(allowed, "agent's key")
                return []
            raise _Stop("auth", f"{self.target.where}: the login was rejected for each of the "
                        f"{len(keys)} keys in the SSH agent")
        finally:
            agent.close()


# -- one session ---------------------------------------------------------------------------

class _Shell:
    """An interactive shell read with deadlines, one :class:`Reply` per command."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.answer: tuple[str, ...] | None = None

    def _exchange(self, command: str, timeout: float) -> Reply:
        what = command or "login"
        reply = Reply(command, new_marker(), self.answer)
        if command:
            self.channel.sendall((command + "\n").encode("ascii"))
        deadline = time.monotonic() + timeout
        while reply.output() is None:
            if reply.wants_marker:
                self.channel.sendall((reply.marker + "\n").encode("ascii"))
                reply.marker_sent()
            left = deadline - time.monotonic()
            if left <= 0:
                kind = "no_prompt" if not command else "command_timeout"
                end = ("no end of the output (the CLI's answer to the end marker)"
                       if reply.marker_typed else f"no {PROMPT!r} prompt")
                raise _Stop(kind, f"{what}: {end} within {timeout:g} s")
            self.channel.settimeout(min(left, 0.5))
            try:
                data = self.channel.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise _Stop("closed", f"{what}: the CLI closed the session")
            reply.feed(data)
        return reply

    def login(self, timeout: float) -> None:
        """Wait for the first prompt and learn the CLI's answer to a marker."""
        self.answer = self._exchange("", timeout).answer()

    def run(self, command: str, timeout: float) -> str:
        output = self._exchange(command, timeout).output()
        assert output is not None
        return output


def _connect(client: paramiko.SSHClient, target: CliTarget, login: Login,
             options: CliOptions, policy: _HostKeys) -> None:
    """Connect ``client`` and log in; every failure is a :class:`_Stop` (the caller closes
    the client, once it has taken the banner)."""
    where = f"{target.address}:{target.port}"
    try:
        # name resolution is bounded like the prober's, then the connection itself
        _family, sockaddr = resolve_within(target.address, target.port,
                                           options.connect_timeout)[0]
        sock = socket.create_connection((sockaddr[0], sockaddr[1]),
                                        timeout=options.connect_timeout)
    except ResolveError as exc:
        raise _Stop("dns", exc.detail) from None
    except socket.gaierror as exc:
        raise _Stop("dns", f"{where}: {exc.strerror or exc}") from None
    except ConnectionRefusedError:
        raise _Stop("refused", f"{where} refused the connection") from None
    except TimeoutError:
        raise _Stop("timeout", f"{where}: no connection within "
                    f"{options.connect_timeout:g} s") from None
    except OSError as exc:
        raise _Stop("refused", f"{where}: {exc.strerror or exc}") from None
    if policy.known_hosts.exists():
        client.load_host_keys(str(policy.known_hosts))
    client.set_missing_host_key_policy(policy)
    try:
        client.connect(target.host, port=target.port, username=target.user, sock=sock,
                       timeout=options.connect_timeout,
                       banner_timeout=options.prompt_timeout,
                       auth_timeout=options.prompt_timeout,
                       channel_timeout=options.prompt_timeout,
                       auth_strategy=_OneWay(target, login))
    except paramiko.BadHostKeyException as exc:
        raise _Stop("host_key_changed", f"{target.host}: the host key CHANGED: the server "
                    f"sent {exc.key.get_name()} {exc.key.fingerprint}, {policy.known_hosts} "
                    f"holds {exc.expected_key.fingerprint}; someone may be intercepting the "
                    "connection. Check with the node's administrator before trusting it") \
            from None
    except paramiko.AuthenticationException:
        raise _Stop("auth", f"{target.where}: the login was rejected") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        kind = "timeout" if isinstance(exc, TimeoutError) else "ssh"
        raise _Stop(kind, _failed(target, exc)) from None


def _failed(target: CliTarget, exc: BaseException) -> str:
    """One line for an SSH failure; what the server said in it is neutralised."""
    return (f"{target.where}: SSH failed ({type(exc).__name__}: "
            f"{visible(str(exc))[:200]}); paramiko's log is in the node's evidence")


def _banner(client: paramiko.SSHClient) -> list[str]:
    """The server's pre-login banner, neutralised, one evidence line per line."""
    transport = client.get_transport()
    banner = transport.get_banner() if transport is not None else None
    if not banner:
        return []
    text = banner.decode("utf-8", "replace") if isinstance(banner, bytes) else str(banner)
    return [f"banner: {visible(line)[:MAX_LOG_LINE]}"
            for line in text.splitlines()[:MAX_LOG_LINES // 4]]


def read_node(target: CliTarget, login: Login, options: CliOptions,
              policy: _HostKeys) -> CliReading:
    """One SSH session: the fixed commands, then ``show cert trust`` per entry."""
    outputs: list[CommandOutput] = []
    sent: list[str] = []
    error: CliError | None = None
    name = f"paramiko.vos.{next(_SESSIONS)}"
    client = paramiko.SSHClient()
    client.set_log_channel(name)
    with _LOGS.session(name) as log:
        try:
            _connect(client, target, login, options, policy)
            channel = client.invoke_shell(width=200, height=24)
            shell = _Shell(channel)
            shell.login(options.prompt_timeout)
            queue = list(COMMANDS)
            while queue:
                command = queue.pop(0)
                sent.append(command)
                output = shell.run(command, options.command_timeout)
                outputs.append(CommandOutput(command, output))
                if command == "show cert list trust":
                    queue.extend(f"show cert trust {TRUST_UNIT}/{name}"
                                 for name in trust_names(output)[:MAX_TRUST])
        except _Stop as stop:
            error = CliError(stop.kind, stop.detail)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            error = CliError("ssh", _failed(target, exc))
        finally:
            banner = _banner(client)
            client.close()
        lines = tuple(banner + log)
    return CliReading(target.host, target.user, tuple(outputs), error, tuple(sent), lines)


def default_known_hosts() -> Path:
    return Path(os.path.expanduser("~/.ssh/known_hosts"))


def load_keys(targets: Sequence[CliTarget]) -> dict[str, paramiko.PKey]:
    """Each ``key_file`` of ``targets``, loaded once (:func:`load_key`)."""
    return {path: load_key(path) for path in sorted({t.key_file for t in targets
                                                     if t.key_file})}


def read_nodes(targets: Sequence[CliTarget], password: str | None, options: CliOptions,
               progress: Callable[[CliReading], None] | None = None,
               keys: Mapping[str, paramiko.PKey] | None = None) -> list[CliReading]:
    """Read every node, at most ``options.concurrency`` sessions at once, one per node.
    A node with a ``key_file`` logs in with that key, the others with ``password``, or
    with the SSH agent's keys when there is none (:class:`Login`)."""
    if not targets:
        return []
    if len({t.host for t in targets}) != len(targets):
        raise InputError("a node is listed twice for the VOS CLI", expected="one session "
                         "per node")
    known_hosts = options.known_hosts or default_known_hosts()
    if known_hosts.exists() and not known_hosts.is_file():
        raise InputError("not a file", path=str(known_hosts), expected="a known_hosts file")
    policy = _HostKeys(options.accept_new_host_keys, known_hosts, threading.Lock())
    if password is not None:
        checked_password(password, f"${PASSWORD_ENV}")
    if keys is None:
        keys = load_keys(targets)

    def one(target: CliTarget) -> CliReading:
        login = Login(key=keys[target.key_file]) if target.key_file and keys else Login(
            password=password)
        reading = read_node(target, login, options, policy)
        if progress is not None:
            progress(reading)
        return reading

    with ThreadPoolExecutor(max_workers=max(1, min(options.concurrency, len(targets))),
                            thread_name_prefix="vos-cli") as pool:
        return list(pool.map(one, targets))


@dataclass(frozen=True)
class CliRequest:
    """Which nodes to read and how; the password and the keys (by ``key_file``, loaded
    before anything is read: a bad file stops the run at once) are never shown."""

    targets: tuple[CliTarget, ...]
    options: CliOptions
    password: str | None = field(default=None, repr=False)
    keys: Mapping[str, paramiko.PKey] = field(default_factory=dict, repr=False)


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
    readings = read_nodes(request.targets, request.password, request.options, progress,
                          request.keys or None)
    changed = [r for r in readings if r.error and r.error.kind == "host_key_changed"]
    if changed:
        raise AuditorError("; ".join(r.error.detail for r in changed if r.error))
    return readings
