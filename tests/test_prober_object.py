"""A Prober owns its SSL contexts and its cancel event, and holds at most ``per_host``
handshakes with one host at a time."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from servers import listening_sockets, tls_server

from auditor.cli.options import DEFAULT_PER_HOST as CLI_DEFAULT_PER_HOST
from auditor.collect.handshake import Target
from auditor.collect.prober import DEFAULT_PER_HOST, ProbeOptions, Prober
from auditor.model.facts import PROFILES

pytestmark = pytest.mark.slow

FAST = ProbeOptions(connect_timeout=2.0, handshake_timeout=2.0)


def test_importing_the_prober_builds_no_ssl_context() -> None:
    code = ("from OpenSSL import SSL\n"
            "made = []\n"
            "real = SSL.Context.__init__\n"
            "def init(self, *args, **kwargs):\n"
            "    made.append(args)\n"
            "    real(self, *args, **kwargs)\n"
            "SSL.Context.__init__ = init\n"
            "import auditor.collect.prober, auditor.model.facts, auditor.collect.collect\n"
            "assert not made, made\n"
            "auditor.collect.prober.Prober().context('browser')\n"
            "assert made\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_new_probe_does_not_clear_another_probers_cancel() -> None:
    cancelled, other = Prober(FAST), Prober(FAST)
    cancelled.cancel()
    with tls_server(lambda ctx: None) as port:
        results = other.probe_all([Target("ok.example", port, "127.0.0.1")])
    by_profile = {h.profile: h for h in results[0]}
    assert by_profile["browser"].ok and by_profile["rsa_only"].ok  # an RSA-only server
    assert by_profile["ecdsa_only"].error.kind == "tls_alert"      # ran, was refused
    with listening_sockets(1) as ports:
        stopped = cancelled.handshake(Target("silent.example", ports[0], "127.0.0.1"),
                                      "browser")
    assert (stopped.error.kind, stopped.error.detail) == ("other", "interrupted")


def test_cancelling_one_prober_leaves_another_probe_running() -> None:
    first, second = Prober(ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0)), \
        Prober(FAST)
    results: list = []
    with listening_sockets(1) as ports:
        worker = threading.Thread(target=lambda: results.extend(first.probe_all(
            [Target("silent.example", ports[0], "127.0.0.1")])))
        worker.start()
        second.cancel()
        worker.join(30)
    assert not worker.is_alive()
    assert results[0][0].error.kind == "timeout"  # ran to its own timeout, not interrupted


def test_per_host_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="per_host"):
        ProbeOptions(per_host=0)
    assert ProbeOptions().per_host == DEFAULT_PER_HOST == CLI_DEFAULT_PER_HOST == 4
    assert Prober(ProbeOptions(per_host=2)).per_host == 2


class _CountingHosts:
    """Listeners on several loopback addresses that count the connections each address
    holds at once. Each connection is held a moment, counted out, then closed by the
    server, so a client's next handshake starts only after the count went down."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = 0

    def hold(self, conn: socket.socket, address: str) -> None:
        with self.lock:
            self.now[address] = self.now.get(address, 0) + 1
            self.peak[address] = max(self.peak.get(address, 0), self.now[address])
            self.total += 1
        try:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            threading.Event().wait(0.2)
        finally:
            with self.lock:
                self.now[address] -= 1
            conn.close()

    @contextlib.contextmanager
    def serve(self, addresses: list[str], ports_each: int, per_port: int
              ) -> Iterator[list[tuple[str, int]]]:
        stop = threading.Event()
        listeners, threads = [], []

        def accept(listener: socket.socket, address: str) -> None:
            served = 0
            while not stop.is_set() and served < per_port:
                try:
                    conn, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                served += 1
                holder = threading.Thread(target=self.hold, args=(conn, address), daemon=True)
                holder.start()
                threads.append(holder)

        try:
            for address in addresses:
                for _ in range(ports_each):
                    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    listener.bind((address, 0))
                    listener.listen(64)
                    listener.settimeout(0.2)
                    listeners.append((listener, address))
            for listener, address in listeners:
                thread = threading.Thread(target=accept, args=(listener, address), daemon=True)
                thread.start()
                threads.append(thread)
            yield [(address, listener.getsockname()[1]) for listener, address in listeners]
        finally:
            stop.set()
            for thread in list(threads):
                thread.join(5)
            for listener, _ in listeners:
                listener.close()


@pytest.mark.parametrize("per_host", [1, 2, 4])
def test_no_host_ever_holds_more_than_per_host_handshakes(per_host: int) -> None:
    hosts = _CountingHosts()
    addresses = ["127.0.0.1", "127.0.0.2"]
    with hosts.serve(addresses, ports_each=6, per_port=len(PROFILES)) as endpoints:
        targets = [Target(f"node{address[-1]}.example", port, address)
                   for address, port in endpoints]
        prober = Prober(ProbeOptions(connect_timeout=2.0, handshake_timeout=2.0,
                                     concurrency=64, per_host=per_host))
        results = prober.probe_all(targets)
    # every endpoint answered, then closed: all three profiles were tried on each
    assert hosts.total == len(targets) * len(PROFILES)
    assert all(h.error is not None and h.error.kind == "reset" for r in results for h in r)
    assert set(hosts.peak) == set(addresses)
    assert all(peak <= per_host for peak in hosts.peak.values()), hosts.peak
    # the bound is per host: with room in the pool, each host gets up to its limit
    assert all(peak == per_host for peak in hosts.peak.values()), hosts.peak
