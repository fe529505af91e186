"""TLS handshakes as three kinds of client, one endpoint at a time, many at once.

Each handshake is driven through pyOpenSSL memory BIOs over a plain socket, so the
prober owns every byte and every deadline: a server that never answers, drips bytes
or sends megabytes costs at most the configured timeouts and never hangs the run.

A :class:`Prober` owns its SSL contexts (built on first use, not at import) and its cancel
event, so two probes never stop each other; it holds at most ``per_host`` handshakes with
one host at a time, as sslyze does, so a small VOS virtual machine never takes ten at once.
"""

from __future__ import annotations

import errno
import functools
import os
import queue
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from cryptography import x509
from OpenSSL import SSL

from auditor.collect.certs import unreadable_in_chain
from auditor.collect.openssl_private import can_set_sigalgs, set_sigalgs
from auditor.model.facts import PROFILES, ProbeError

# What current Chrome offers (TLS 1.2 suites in its order, then its signature algorithms).
_CHROME_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "AES128-SHA:AES256-SHA"
)
_CHROME_SIGALGS = (
    "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp384r1_sha384:"
    "rsa_pss_rsae_sha384:rsa_pkcs1_sha384:rsa_pss_rsae_sha512:rsa_pkcs1_sha512"
)
_ECDSA_SIGALGS = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1"
_RSA_SIGALGS = (
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1"
)

#: What each profile offers: (signature algorithms, TLS 1.2 cipher string).
OFFERS: dict[str, tuple[str, str]] = {
    "browser": (_CHROME_SIGALGS, _CHROME_CIPHERS),
    "ecdsa_only": (_ECDSA_SIGALGS, "aECDSA"),
    "rsa_only": (_RSA_SIGALGS, "aRSA"),
}

#: How the ``ecdsa_only`` / ``rsa_only`` profiles steer the server's choice.
METHOD_SIGALGS = "tls13_sigalgs"
METHOD_CIPHERS = "tls12_ciphers"

#: Kinds that say nothing answered TLS at all: no point trying the other profiles.
TRANSPORT_KINDS = frozenset({"dns", "refused", "timeout", "not_tls"})

#: A server flight larger than this is hostile; browsers stop far earlier.
MAX_HANDSHAKE_BYTES = 4 * 1024 * 1024

Resolver = Callable[[str, int], Sequence[tuple[int, tuple]]]


@dataclass(frozen=True)
class Handshake:
    """One client profile's handshake with one endpoint."""

    profile: str
    method: str
    ok: bool
    elapsed_ms: float
    tls_version: str | None = None
    cipher: str | None = None
    chain: tuple[x509.Certificate, ...] = ()
    error: ProbeError | None = None
    peer: str | None = None


@dataclass(frozen=True)
class Target:
    """Where to connect and which name to send as SNI."""

    host: str
    port: int
    address: str | None = None
    profiles: tuple[str, ...] = PROFILES


#: Handshakes with one host at a time, unless told otherwise (sslyze holds five).
DEFAULT_PER_HOST = 4


@dataclass(frozen=True)
class ProbeOptions:
    connect_timeout: float = 5.0
    handshake_timeout: float = 5.0
    concurrency: int = 64
    resolver: Resolver | None = field(default=None, compare=False)
    #: At most this many handshakes with one host (its address, or its name) at once.
    per_host: int = DEFAULT_PER_HOST

    def __post_init__(self) -> None:
        if self.per_host < 1:
            raise ValueError(f"per_host must be at least 1, not {self.per_host}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")


class _Failure(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@functools.cache
def sigalgs_supported() -> bool:
    """Can this OpenSSL binding restrict TLS 1.3 signature algorithms? (A fact about the
    library, asked once per process, on first use.)"""
    if not can_set_sigalgs():
        return False
    try:
        _context(_ECDSA_SIGALGS, "aECDSA", SSL.TLS1_3_VERSION)
    except (SSL.Error, ValueError):
        return False
    return True


def _context(sigalgs: str | None, ciphers: str, max_version: int) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(max_version)
    ctx.set_verify(SSL.VERIFY_NONE)
    # Security level 0: an auditor must still see SHA-1 and small keys to report them.
    ctx.set_cipher_list(f"{ciphers}:@SECLEVEL=0".encode())
    ctx.set_options(SSL.OP_NO_TICKET)
    if sigalgs is not None and not set_sigalgs(ctx, sigalgs):
        raise ValueError(f"OpenSSL refused signature algorithms {sigalgs}")
    return ctx


def profile_context(profile: str, use_sigalgs: bool) -> tuple[SSL.Context, str]:
    """A new client context for a profile and the method it steers with."""
    if profile not in OFFERS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    sigalgs, ciphers = OFFERS[profile]
    if use_sigalgs:
        # TLS 1.3 steered by signature_algorithms; TLS 1.2 (where the server has no
        # 1.3) steered by the suites and the same signature algorithms.
        return _context(sigalgs, ciphers, SSL.TLS1_3_VERSION), METHOD_SIGALGS
    if profile == "browser":
        return _context(None, ciphers, SSL.TLS1_3_VERSION), METHOD_CIPHERS
    return _context(None, ciphers, SSL.TLS1_2_VERSION), METHOD_CIPHERS


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


def _nothing_answers(first: Handshake) -> bool:
    """The first handshake shows that nothing speaks TLS there: no point trying again."""
    return not first.ok and first.error is not None and first.error.kind in TRANSPORT_KINDS


def _same_failure(first: Handshake, profile: str) -> Handshake:
    return Handshake(profile, first.method, False, 0.0, error=first.error, peer=first.peer)


class Prober:
    """Probes endpoints with its own SSL contexts and cancel event.

    At most ``options.concurrency`` handshakes run at once, and at most
    ``options.per_host`` with one host (its address if the inventory gives one, else its
    name): many clusters can go through one prober without any host taking more.
    """

    def __init__(self, options: ProbeOptions | None = None, *,
                 use_sigalgs: bool | None = None) -> None:
        self.options = options or ProbeOptions()
        self._use_sigalgs = use_sigalgs
        self._contexts: dict[str, tuple[SSL.Context, str]] = {}
        self._contexts_lock = threading.Lock()
        self._cancel = threading.Event()

    @property
    def per_host(self) -> int:
        """Handshakes with one host at a time."""
        return self.options.per_host

    def cancel(self) -> None:
        """Stop every handshake of this prober within a slice (others are not touched)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def context(self, profile: str) -> tuple[SSL.Context, str]:
        """The client context for a profile and the method it steers with, built once."""
        with self._contexts_lock:
            if profile not in self._contexts:
                if self._use_sigalgs is None:
                    self._use_sigalgs = sigalgs_supported()
                self._contexts[profile] = profile_context(profile, self._use_sigalgs)
            return self._contexts[profile]

    def handshake(self, target: Target, profile: str) -> Handshake:
        """One handshake as ``profile``; never raises."""
        start = time.monotonic()
        method = METHOD_SIGALGS
        sock: socket.socket | None = None
        peer: str | None = None
        try:
            ctx, method = self.context(profile)
            addresses = _resolve(target, self.options.resolver or default_resolver)
            sock = _connect(addresses, self.options.connect_timeout, self._cancel)
            peer = sock.getpeername()[0]
            deadline = time.monotonic() + self.options.handshake_timeout
            conn, _ = _handshake(sock, ctx, target.host, deadline, self._cancel)
            chain = tuple(conn.get_peer_cert_chain(as_cryptography=True) or ())
            version = conn.get_protocol_version_name()
            cipher = conn.get_cipher_name()
            try:
                conn.shutdown()
                _flush(sock, conn, deadline, self._cancel)
            except (SSL.Error, _Failure):
                pass
            if not chain:
                return Handshake(profile, method, False, _ms(start), version, cipher,
                                 error=ProbeError("other", "the server sent no certificate"),
                                 peer=peer)
            unreadable = unreadable_in_chain(chain)
            if unreadable is not None:
                return Handshake(profile, method, False, _ms(start), version, cipher,
                                 error=ProbeError("other", f"the server sent a certificate that "
                                                  f"the X.509 layer cannot read: {unreadable}"),
                                 peer=peer)
            return Handshake(profile, method, True, _ms(start), version, cipher, chain, peer=peer)
        except _Failure as failure:
            return Handshake(profile, method, False, _ms(start),
                             error=ProbeError(failure.kind, failure.detail), peer=peer)
        except (SSL.Error, OSError, ValueError) as exc:
            # what a broken or hostile server can cause: a TLS or socket error, or a
            # certificate that does not parse; anything else is a bug and stops the run
            return Handshake(profile, method, False, _ms(start),
                             error=ProbeError("other", f"{type(exc).__name__}: {exc}"), peer=peer)
        finally:
            if sock is not None:
                sock.close()

    def probe_target(self, target: Target) -> tuple[Handshake, ...]:
        """All profiles against one endpoint, in order. If the first handshake shows that
        nothing speaks TLS there, the others record the same error without another wait."""
        results: list[Handshake] = []
        for profile in target.profiles:
            if results and _nothing_answers(results[0]):
                results.append(_same_failure(results[0], profile))
                continue
            results.append(self.handshake(target, profile))
        return tuple(results)

    def probe_all(self, targets: Iterable[Target],
                  progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
                  ) -> list[tuple[Handshake, ...]]:
        """Probe every target through a bounded pool of handshakes; results in input order.

        An endpoint's first profile goes alone: if nothing answers TLS there, the other
        profiles record the same error, and the endpoint held one slot for one timeout.
        Once it answered, its other profiles run at once, so the probe costs two rounds of
        handshakes, not three (a cluster far away pays its round trips once less). New
        endpoints are started as earlier ones answer, so endpoints complete (and
        ``progress`` hears of them) steadily. A host already holding ``per_host``
        handshakes gets its next one when one of them ends.
        """
        targets = list(targets)
        if not targets:
            return []
        workers = max(1, min(self.options.concurrency,
                             sum(len(t.profiles) for t in targets)))
        got: list[dict[int, Handshake]] = [{} for _ in targets]
        pending: dict[Future[Handshake], tuple[int, int]] = {}
        busy: dict[str, int] = {}  # handshakes in flight per host
        waiting: dict[str, deque[tuple[int, int]]] = {}  # per host, beyond its limit
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")

        # Finished handshakes queue up here: waiting on the queue costs nothing per
        # handshake still in flight (concurrent.futures.wait installs and removes a waiter
        # on every pending future at each call: 300 handshakes spent ~0.1 s of the GIL).
        done: queue.SimpleQueue[Future[Handshake]] = queue.SimpleQueue()

        def submit(index: int, which: int) -> None:
            target = targets[index]
            busy[_host_key(target)] = busy.get(_host_key(target), 0) + 1
            future = pool.submit(self.handshake, target, target.profiles[which])
            pending[future] = (index, which)
            future.add_done_callback(done.put)

        def start(index: int, which: int) -> bool:
            """Submit now if the host has room, else queue it for the host (False)."""
            host = _host_key(targets[index])
            if busy.get(host, 0) < self.options.per_host:
                submit(index, which)
                return True
            queued = waiting.setdefault(host, deque())
            # an answered endpoint's other profiles go before the host's new endpoints
            if which == 0:
                queued.append((index, which))
            else:
                queued.appendleft((index, which))
            return False

        def ended(index: int) -> None:
            host = _host_key(targets[index])
            busy[host] -= 1
            queued = waiting.get(host)
            if queued:
                submit(*queued.popleft())

        def results(index: int) -> tuple[Handshake, ...]:
            return tuple(got[index][which] for which in range(len(targets[index].profiles)))

        def finished(index: int) -> None:
            if progress is not None:
                progress(targets[index], results(index))

        upcoming = iter(range(len(targets)))

        def start_next() -> None:
            """Start the next endpoint whose host has room (queueing those whose host has
            none on the way), so that a free worker gets work."""
            for index in upcoming:
                if not targets[index].profiles:
                    finished(index)
                elif start(index, 0):
                    return

        try:
            for _ in range(workers):
                start_next()
            while pending:
                try:
                    future = done.get(timeout=_SLICE)  # a slice at a time: Ctrl-C is heard
                except queue.Empty:
                    continue
                index, which = pending.pop(future)
                result = got[index][which] = future.result()
                ended(index)
                if which == 0:
                    profiles = targets[index].profiles
                    for other in range(1, len(profiles)):
                        if _nothing_answers(result):
                            got[index][other] = _same_failure(result, profiles[other])
                        else:
                            start(index, other)
                    start_next()
                if len(got[index]) == len(targets[index].profiles):
                    finished(index)
        except BaseException:
            # Ctrl-C (or a failing progress callback): stop every handshake within a slice
            self.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [results(index) for index in range(len(targets))]


def _host_key(target: Target) -> str:
    """Which host a handshake loads: the address connected to, else the name."""
    return (target.address or target.host).rstrip(".").lower()


def handshake(target: Target, profile: str, options: ProbeOptions) -> Handshake:
    """One handshake as ``profile`` by a prober of its own; never raises."""
    return Prober(options).handshake(target, profile)


def probe_target(target: Target, options: ProbeOptions) -> tuple[Handshake, ...]:
    """All profiles against one endpoint (:meth:`Prober.probe_target`)."""
    return Prober(options).probe_target(target)


def probe_all(targets: Iterable[Target], options: ProbeOptions,
              progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
              ) -> list[tuple[Handshake, ...]]:
    """Every target through a new :class:`Prober` (:meth:`Prober.probe_all`)."""
    return Prober(options).probe_all(targets, progress)
