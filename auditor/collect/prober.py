"""TLS handshakes as three kinds of client, one endpoint at a time, many at once.

Each handshake is driven through pyOpenSSL memory BIOs over a plain socket, so the
prober owns every byte and every deadline: a server that never answers, drips bytes
or sends megabytes costs at most the configured timeouts and never hangs the run.

A :class:`Prober` owns its SSL contexts (built on first use, not at import) and its cancel
event, so two probes never stop each other; it holds at most ``per_host`` handshakes with
one host at a time, as sslyze does, so a small VOS virtual machine never takes ten at once.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from OpenSSL import SSL

from auditor.collect.certs import unreadable_in_chain
from auditor.collect.handshake import (
    _SLICE,
    Handshake,
    Resolver,
    Target,
    _connect,
    _Failure,
    _flush,
    _handshake,
    _ms,
    _resolve,
    default_resolver,
    nothing_answers,
)
from auditor.collect.profiles import METHOD_SIGALGS, profile_context, sigalgs_supported
from auditor.model.facts import ProbeError

if TYPE_CHECKING:
    from cryptography import x509

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


def _same_failure(first: Handshake, profile: str) -> Handshake:
    return Handshake(profile, first.method, False, 0.0, error=first.error, peer=first.peer,
                     received=first.received)


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
        #: every certificate received, once: equal certificates (the same DER) are one
        #: object, however many handshakes, ports and clusters present them
        self._certificates: dict[x509.Certificate, x509.Certificate] = {}
        self._certificates_lock = threading.Lock()

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
            addresses = _resolve(target, self.options.resolver or default_resolver,
                                 self.options.connect_timeout, self._cancel)
            sock = _connect(addresses, self.options.connect_timeout, self._cancel)
            peer = sock.getpeername()[0]
            deadline = time.monotonic() + self.options.handshake_timeout
            conn, received = _handshake(sock, ctx, target.host, deadline, self._cancel)
            chain = self._shared(conn.get_peer_cert_chain(as_cryptography=True) or ())
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
                                 peer=peer, received=len(received))
            unreadable = unreadable_in_chain(chain)
            if unreadable is not None:
                return Handshake(profile, method, False, _ms(start), version, cipher,
                                 error=ProbeError("other", f"the server sent a certificate that "
                                                  f"the X.509 layer cannot read: {unreadable}"),
                                 peer=peer, received=len(received))
            return Handshake(profile, method, True, _ms(start), version, cipher, chain=chain,
                             peer=peer, received=len(received))
        except _Failure as failure:
            return Handshake(profile, method, False, _ms(start),
                             error=ProbeError(failure.kind, failure.detail), peer=peer,
                             received=failure.received)
        except (SSL.Error, OSError, ValueError) as exc:
            # what a broken or hostile server can cause: a TLS or socket error, or a
            # certificate that does not parse; anything else is a bug and stops the run
            return Handshake(profile, method, False, _ms(start),
                             error=ProbeError("other", f"{type(exc).__name__}: {exc}"), peer=peer)
        finally:
            if sock is not None:
                sock.close()

    def _shared(self, chain: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
        """``chain`` with each certificate this prober has received before (equal DER)
        replaced by the one object kept for it: a portfolio's thousands of handshakes hold
        each distinct certificate once, not a parsed copy per handshake."""
        with self._certificates_lock:
            return tuple(self._certificates.setdefault(cert, cert) for cert in chain)

    def probe_target(self, target: Target) -> tuple[Handshake, ...]:
        """All profiles against one endpoint, in order. If the first handshake shows that
        nothing speaks TLS there, the others record the same error without another wait."""
        results: list[Handshake] = []
        for profile in target.profiles:
            if results and nothing_answers(results[0]):
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
                        if nothing_answers(result):
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
