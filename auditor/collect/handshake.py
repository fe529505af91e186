"""One TLS handshake with one endpoint, driven through pyOpenSSL memory BIOs over a plain
socket: the prober owns every byte and every deadline, so a server that never answers,
drips bytes or sends megabytes costs at most the configured timeouts. What it gives is a
:class:`Handshake` (the chain, or why there is none)."""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from OpenSSL import SSL

from auditor.model.facts import PROFILES, HandshakeOutcome

#: Kinds that say nothing answered TLS at all: no point trying the other profiles.
TRANSPORT_KINDS = frozenset({"dns", "refused", "timeout", "not_tls"})


#: A server flight larger than this is hostile; browsers stop far earlier.
MAX_HANDSHAKE_BYTES = 4 * 1024 * 1024


Resolver = Callable[[str, int], Sequence[tuple[int, tuple]]]


@dataclass(frozen=True, kw_only=True)
class Handshake(HandshakeOutcome):
    """One client profile's handshake with one endpoint, as the prober saw it."""

    #: as received, leaf first
    chain: tuple[x509.Certificate, ...] = ()
    peer: str | None = None


@dataclass(frozen=True)
class Target:
    """Where to connect and which name to send as SNI."""

    host: str
    port: int
    address: str | None = None
    profiles: tuple[str, ...] = PROFILES


class _Failure(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def default_resolver(host: str, port: int) -> Sequence[tuple[int, tuple]]:
    """Resolve with the system resolver (TCP only)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(info[0], info[4]) for info in infos]


def _resolve(target: Target, resolver: Resolver) -> Sequence[tuple[int, tuple]]:
    name = target.address or target.host
    try:
        literal = socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        literal = None
    if literal is not None:
        family = socket.AF_INET6 if ":" in name else socket.AF_INET
        return [(family, (name, target.port))]
    try:
        found = list(resolver(name, target.port))
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise _Failure("dns", f"cannot resolve {name}: {exc}") from None
    if not found:
        raise _Failure("dns", f"cannot resolve {name}: no addresses")
    return found


_ERRNO_KINDS = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset",
                errno.ETIMEDOUT: "timeout"}


#: How often a waiting handshake looks at its prober's cancel event.
_SLICE = 0.2


def _wait(sock: socket.socket, *, write: bool, deadline: float,
          cancel: threading.Event) -> bool:
    """Wait until the socket is ready or the deadline passes (False); stop when cancelled."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if cancel.is_set():
            raise _Failure("other", "interrupted")
        readers, writers = ([], [sock]) if write else ([sock], [])
        ready = select.select(readers, writers, [], min(left, _SLICE))
        if ready[0] or ready[1]:
            return True


def _connect(addresses: Sequence[tuple[int, tuple]], timeout: float,
             cancel: threading.Event) -> socket.socket:
    deadline = time.monotonic() + timeout
    last: _Failure | None = None
    for family, sockaddr in addresses:
        if deadline - time.monotonic() <= 0:
            break
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            code = sock.connect_ex(sockaddr)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                if not _wait(sock, write=True, deadline=deadline, cancel=cancel):
                    raise _Failure("timeout",
                                   f"connect to {sockaddr[0]} timed out after {timeout:g} s")
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            kind = _ERRNO_KINDS.get(code, "other")
            words = {"refused": "refused", "reset": "reset", "timeout": "timed out"}
            last = _Failure(kind, f"connection to {sockaddr[0]} "
                            f"{words.get(kind) or os.strerror(code)}")
        except _Failure as failure:
            last = failure
            if failure.detail == "interrupted":
                sock.close()
                raise
        except OSError as exc:
            last = _Failure("other", f"connect to {sockaddr[0]}: {exc.strerror or exc}")
        sock.close()
    raise last or _Failure("timeout", f"connect timed out after {timeout:g} s")


def _classify_ssl_error(exc: SSL.Error, received: bytes) -> _Failure:
    reasons = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(entry, tuple) and len(entry) >= 3:
            reasons.append(str(entry[2]))
    text = "; ".join(reasons) or str(exc)
    lowered = text.lower()
    if "alert" in lowered:
        description = lowered.split("alert", 1)[1].strip().replace(" ", "_") or "unknown"
        for prefix in ("sslv3_", "tlsv1_", "tlsv13_"):
            description = description.removeprefix(prefix)
        return _Failure("tls_alert", description)
    if received and received[0] not in (0x14, 0x15, 0x16, 0x17):
        return _Failure("not_tls", f"the server answered with non-TLS data ({_sample(received)})")
    if "asn1" in lowered or "bad object header" in lowered:
        return _Failure("other", f"the server sent a certificate that does not parse ({text})")
    if "excessive message size" in lowered:
        return _Failure("other", "the server's certificate message is larger than clients "
                        f"accept ({text})")
    if any(word in lowered for word in ("wrong version number", "packet length too long",
                                        "record layer failure", "http request",
                                        "unknown protocol")):
        return _Failure("not_tls", f"{text} ({_sample(received)})")
    return _Failure("other", text)


def _sample(data: bytes) -> str:
    head = data[:16]
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return repr(head.decode("ascii")) if printable and head else head.hex()


def _handshake(sock: socket.socket, ctx: SSL.Context, sni: str, deadline: float,
               cancel: threading.Event) -> tuple[SSL.Connection, bytes]:
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    if sni and not _is_ip(sni):
        conn.set_tlsext_host_name(sni.encode("idna"))
    sock.setblocking(False)
    received = bytearray()
    while True:
        try:
            conn.do_handshake()
            _flush(sock, conn, deadline, cancel)
            return conn, bytes(received)
        except SSL.WantReadError:
            _flush(sock, conn, deadline, cancel)
            chunk = _recv(sock, deadline, received, cancel)
            if not chunk:
                if not received:
                    raise _Failure("reset", "the server closed the connection without "
                                   "answering the TLS ClientHello") from None
                if received[0] not in (0x14, 0x15, 0x16, 0x17):
                    raise _Failure("not_tls", "the server answered with non-TLS data "
                                   f"({_sample(bytes(received))})") from None
                raise _Failure("reset", "the server closed the connection in the middle of "
                               "the handshake") from None
            received += chunk
            if len(received) > MAX_HANDSHAKE_BYTES:
                raise _Failure("other", f"the server sent more than {MAX_HANDSHAKE_BYTES} "
                               "bytes without completing the handshake") from None
            conn.bio_write(chunk)
        except SSL.Error as exc:
            raise _classify_ssl_error(exc, bytes(received)) from None


def _flush(sock: socket.socket, conn: SSL.Connection, deadline: float,
           cancel: threading.Event) -> None:
    while True:
        try:
            data = conn.bio_read(65536)
        except SSL.WantReadError:
            return
        view = memoryview(data)
        while view:
            # send at once; wait for room only when the socket has none (it nearly always
            # has: a select before every send cost a system call and a GIL hand-off each)
            try:
                sent = sock.send(view)
            except BlockingIOError:
                if not _wait(sock, write=True, deadline=deadline, cancel=cancel):
                    raise _Failure("timeout", "the server stopped reading") from None
                continue
            except (ConnectionResetError, BrokenPipeError):
                raise _Failure("reset", "the server reset the connection") from None
            view = view[sent:]


def _recv(sock: socket.socket, deadline: float, received: bytes,
          cancel: threading.Event) -> bytes:
    while True:
        if not _wait(sock, write=False, deadline=deadline, cancel=cancel):
            what = "sent nothing" if not received else f"stopped after {len(received)} bytes"
            raise _Failure("timeout", f"TLS handshake timed out: the server {what}")
        try:
            return sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            raise _Failure("reset", "the server reset the connection") from None
        except OSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE):
                raise _Failure("reset", "the server reset the connection") from None
            raise


def _is_ip(name: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except OSError:
            continue
    return False


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)
