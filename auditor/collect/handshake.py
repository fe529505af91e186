"""One TLS handshake with one endpoint, driven through pyOpenSSL memory BIOs over a plain
socket: the prober owns every byte and every deadline, so a server that never answers,
drips bytes or sends megabytes costs at most the configured timeouts. What it gives is a
:class:`Handshake` (the chain, or why there is none)."""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from OpenSSL import SSL

from auditor.model.certificate import host_address
from auditor.model.facts import PROFILES, HandshakeOutcome

#: Kinds that say nothing answered TLS at all: no point trying the other profiles (a
#: ``timeout`` only when the server sent no byte; see :func:`nothing_answers`).
TRANSPORT_KINDS = frozenset({"dns", "refused", "timeout", "not_tls"})


#: Lookups that may run at once in this process, those that outlived their deadline (and
#: still wait for a resolver that never answers) included: beyond it a lookup waits for a
#: slot within its own deadline, so a dead resolver cannot pile up threads without bound.
MAX_LOOKUPS = 64


#: A server flight larger than this is hostile; browsers stop far earlier.
MAX_HANDSHAKE_BYTES = 4 * 1024 * 1024


Resolver = Callable[[str, int], Sequence[tuple[int, tuple]]]


@dataclass(frozen=True, kw_only=True)
class Handshake(HandshakeOutcome):
    """One client profile's handshake with one endpoint, as the prober saw it."""

    #: as received, leaf first
    chain: tuple[x509.Certificate, ...] = ()
    peer: str | None = None
    #: Bytes the server sent during the handshake (0: it said nothing).
    received: int = 0


def nothing_answers(first: Handshake) -> bool:
    """The handshake shows that nothing speaks TLS there, so no other client profile can
    fare better: the name did not resolve, the port refused, nothing came back before the
    timeout, or the first bytes were not TLS. A server that spoke TLS and then failed (an
    alert, a broken record, a stall in the middle) may answer another profile otherwise."""
    if first.ok or first.error is None or first.error.kind not in TRANSPORT_KINDS:
        return False
    return first.error.kind != "timeout" or first.received == 0


@dataclass(frozen=True)
class Target:
    """Where to connect and which name to send as SNI."""

    host: str
    port: int
    address: str | None = None
    profiles: tuple[str, ...] = PROFILES


class _Failure(Exception):
    def __init__(self, kind: str, detail: str, received: int = 0) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.received = received


def default_resolver(host: str, port: int) -> Sequence[tuple[int, tuple]]:
    """Resolve with the system resolver (TCP only)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(info[0], info[4]) for info in infos]


def _resolve(target: Target, resolver: Resolver, timeout: float,
             cancel: threading.Event) -> Sequence[tuple[int, tuple]]:
    """The addresses of the target, asked of ``resolver`` within ``timeout`` seconds."""
    name = target.address or target.host
    try:
        literal = socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        literal = None
    if literal is not None:
        family = socket.AF_INET6 if ":" in name else socket.AF_INET
        return [(family, (name, target.port))]
    found = _lookup(name, target.port, resolver, timeout, cancel)
    if not found:
        raise _Failure("dns", f"cannot resolve {name}: no addresses")
    return found


class ResolveError(Exception):
    """A name that did not resolve within its time (``kind`` is ``dns``, or ``other`` when
    cancelled)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def resolve_within(name: str, port: int, timeout: float,
                   cancel: threading.Event | None = None) -> list[tuple[int, tuple]]:
    """The addresses of ``name`` from the system resolver, within ``timeout`` seconds (for
    collectors other than the prober, e.g. the VOS CLI's SSH connection)."""
    try:
        return list(_resolve(Target(name, port), default_resolver, timeout,
                             cancel or threading.Event()))
    except _Failure as failure:
        raise ResolveError(failure.kind, failure.detail) from None


_LOOKUP_SLOTS = threading.BoundedSemaphore(MAX_LOOKUPS)


class _Answer:
    """What a lookup thread found, or what it raised."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.found: list[tuple[int, tuple]] = []
        self.error: BaseException | None = None


def _lookup(name: str, port: int, resolver: Resolver, timeout: float,
            cancel: threading.Event) -> list[tuple[int, tuple]]:
    """Ask the resolver in a thread of its own and wait at most ``timeout`` seconds, a
    slice at a time so that cancelling the prober is heard. The system resolver cannot be
    interrupted: a lookup that outlives its deadline is left to finish in its (daemon)
    thread, which holds one of the :data:`MAX_LOOKUPS` slots until it does."""
    deadline = time.monotonic() + timeout
    slots = _LOOKUP_SLOTS
    while not slots.acquire(timeout=max(0.0, min(_SLICE, deadline - time.monotonic()))):
        if cancel.is_set():
            raise _Failure("other", "interrupted")
        if time.monotonic() >= deadline:
            raise _Failure("dns", f"name resolution of {name} did not answer within "
                           f"{timeout:g} s ({MAX_LOOKUPS} earlier lookups are still "
                           "waiting for the resolver)")
    answer = _Answer()

    def run() -> None:
        try:
            answer.found = list(resolver(name, port))
        except BaseException as exc:  # handed to the waiting thread, which decides
            answer.error = exc
        finally:
            slots.release()
            answer.done.set()

    try:
        threading.Thread(target=run, name=f"resolve {name[:64]}", daemon=True).start()
    except RuntimeError as exc:  # no thread to be had: the process is at its limit
        slots.release()
        raise _Failure("dns", f"cannot resolve {name}: {exc}") from None
    while not answer.done.wait(max(0.0, min(_SLICE, deadline - time.monotonic()))):
        if cancel.is_set():
            raise _Failure("other", "interrupted")
        if time.monotonic() >= deadline:
            raise _Failure("dns", f"name resolution of {name} did not answer within "
                           f"{timeout:g} s")
    if isinstance(answer.error, (socket.gaierror, UnicodeError, OSError)):
        raise _Failure("dns", f"cannot resolve {name}: {answer.error}") from None
    if answer.error is not None:
        raise answer.error
    return answer.found


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


#: The TLS alerts by number (the IANA registry; "_RESERVED" dropped from the old ones).
ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
    50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}


#: OpenSSL's reason for an alert it received: "sslv3 alert handshake failure",
#: "tlsv1 alert unknown ca", "tlsv13 alert certificate required", but also
#: "tlsv1 unrecognized name" (no "alert": those must name an alert of the registry).
_ALERT_REASON = re.compile(r"(?:sslv3|tlsv1|tlsv13) (alert )?([a-z ]+)")


#: OpenSSL's spelling where it differs from the registry's.
_ALERT_SPELLINGS = {"user_cancelled": "user_canceled"}


def _alert_in_reason(reason: str) -> str | None:
    match = _ALERT_REASON.fullmatch(reason.strip().lower())
    if match is None:
        return None
    name = match.group(2).strip().replace(" ", "_")
    name = _ALERT_SPELLINGS.get(name, name)
    if match.group(1) or name in ALERTS.values():
        return name
    return None


#: Record types: change_cipher_spec, alert, handshake, application_data.
_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)


def _records(received: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The server's records readable in the clear, in order, and the offset where reading
    stopped: at the end, at a record that is not one, or where encryption begins (after a
    change_cipher_spec or at the first application_data record)."""
    records: list[tuple[int, bytes]] = []
    offset = 0
    while offset + 5 <= len(received):
        kind, major = received[offset], received[offset + 1]
        length = int.from_bytes(received[offset + 3:offset + 5], "big")
        if kind not in _RECORD_TYPES or major != 3 or kind == 0x17:
            break
        if offset + 5 + length > len(received):
            break
        records.append((kind, received[offset + 5:offset + 5 + length]))
        offset += 5 + length
        if kind == 0x14:
            break
    return records, offset


def spoke_tls(received: bytes) -> bool:
    """Do the server's first bytes begin a TLS answer to a ClientHello: a handshake record
    opening with a ServerHello (or a HelloRetryRequest), or an alert record? Judged on what
    arrived, a byte at a time: a prefix of such an answer counts."""
    if not received or received[0] not in (0x15, 0x16):
        return False
    if len(received) > 1 and received[1] != 3:
        return False
    return received[0] != 0x16 or len(received) <= 5 or received[5] == 2


def _fatal_alert(received: bytes) -> str | None:
    """The fatal alert the server sent in the clear, if any (by the registry's name)."""
    for kind, body in _records(received)[0]:
        if kind == 0x15 and len(body) == 2 and body[0] == 2:
            return ALERTS.get(body[1], f"alert_{body[1]}")
    return None


#: The protocol versions older than TLS 1.2, by their number on the wire: a server that
#: speaks none newer answers a ClientHello by choosing one of them (a server that knows
#: TLS 1.3 refuses with a protocol_version alert instead).
OLDER_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1"}


def _older_version_chosen(received: bytes) -> str | None:
    """The protocol version the server's ServerHello chose, when it is older than TLS 1.2,
    which no profile offers: the client then refuses it without a word from the server. (A
    TLS 1.3 ServerHello says TLS 1.2 there, and its real version in an extension; any other
    number is no version at all, a broken server.)"""
    for kind, body in _records(received)[0]:
        if kind == 0x16 and len(body) >= 6 and body[0] == 2:
            return OLDER_VERSIONS.get(int.from_bytes(body[4:6], "big"))
    return None


def _classify_ssl_error(exc: SSL.Error, received: bytes) -> _Failure:
    reasons = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(entry, tuple) and len(entry) >= 3 and entry[2]:
            reasons.append(str(entry[2]))
    text = "; ".join(reasons) or str(exc)
    lowered = text.lower()
    alert = next(filter(None, map(_alert_in_reason, reasons)), None) or _fatal_alert(received)
    if alert is not None:
        return _Failure("tls_alert", alert, len(received))
    if received and not spoke_tls(received):
        return _Failure("not_tls", f"the server answered with non-TLS data "
                        f"({_sample(received)})", len(received))
    older = _older_version_chosen(received)
    if older is not None:
        return _Failure("tls_version", f"the server chose {older}; this client offers "
                        "TLS 1.2 and 1.3 only", len(received))
    if "asn1" in lowered or "bad object header" in lowered:
        return _Failure("other", f"the server sent a certificate that does not parse ({text})",
                        len(received))
    if "excessive message size" in lowered:
        return _Failure("other", "the server's certificate message is larger than clients "
                        f"accept ({text})", len(received))
    if received:
        # it began a TLS answer, then broke the protocol without an alert: a garbled,
        # truncated or out-of-place record, a record that does not decrypt, a message
        # that does not decode. Another client profile may still get a certificate.
        _, offset = _records(received)
        where = (f"at byte {offset} of {len(received)}: {_sample(received[offset:])}"
                 if offset < len(received) else f"after {len(received)} bytes")
        return _Failure("tls_error", f"the server began a TLS handshake, then broke the "
                        f"protocol: {text} ({where})", len(received))
    return _Failure("other", text)


def _sample(data: bytes) -> str:
    head = data[:16]
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return repr(head.decode("ascii")) if printable and head else head.hex()


def _handshake(sock: socket.socket, ctx: SSL.Context, sni: str, deadline: float,
               cancel: threading.Event) -> tuple[SSL.Connection, bytes]:
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    if sni and host_address(sni) is None:  # no SNI for an address, as browsers send none
        conn.set_tlsext_host_name(sni.encode("idna"))
    sock.setblocking(False)
    received = bytearray()
    try:
        _drive(sock, conn, deadline, cancel, received)
    except _Failure as failure:
        failure.received = len(received)
        raise
    return conn, bytes(received)


def _drive(sock: socket.socket, conn: SSL.Connection, deadline: float,
           cancel: threading.Event, received: bytearray) -> None:
    """Run the handshake to its end, keeping every byte the server sent in ``received``."""
    while True:
        try:
            conn.do_handshake()
            _flush(sock, conn, deadline, cancel)
            return
        except SSL.WantReadError:
            _flush(sock, conn, deadline, cancel)
            chunk = _recv(sock, deadline, received, cancel)
            if not chunk:
                if not received:
                    raise _Failure("reset", "the server closed the connection without "
                                   "answering the TLS ClientHello") from None
                if not spoke_tls(bytes(received)):
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


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)
