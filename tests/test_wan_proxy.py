"""The benchmark's delaying proxy (bench/wanproxy.py, issue 25's WAN rows): it forwards
every byte both ways, passes a half-close on, delays what crosses it, listens on 127.0.0.1
only, refuses connections over its bound and ends every connection when it stops.
Nothing here asserts a time: the delay is shown by the order in which bytes arrive."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import pytest
from servers import serve

from bench.wanproxy import DelayProxy

WAIT_S = 30.0  # every wait below is bounded by this, and ends as soon as its event happens


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def _receive_all(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT_S)
    parts = []
    while part := sock.recv(65536):
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize("delay_ms", [0, 20])
def test_bytes_go_both_ways_and_a_half_close_comes_back_as_the_end(delay_ms: float) -> None:
    payload = os.urandom(300_000)
    with serve(echo) as port, DelayProxy([("127.0.0.1", port)], delay_ms=delay_ms) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.ports[0]), timeout=WAIT_S) as sock:
            sender = threading.Thread(target=lambda: (sock.sendall(payload),
                                                      sock.shutdown(socket.SHUT_WR)))
            sender.start()
            echoed = _receive_all(sock)  # ends only when the end of stream came through
            sender.join(WAIT_S)
        assert echoed == payload
        assert proxy.accepted == 1 and proxy.refused == 0


def test_bytes_through_the_proxy_arrive_after_bytes_sent_later_directly() -> None:
    arrived: list[bytes] = []
    both = threading.Event()
    lock = threading.Lock()

    def record(conn: socket.socket) -> None:
        data = conn.recv(64)
        with lock:
            arrived.append(data)
            if len(arrived) == 2:
                both.set()

    with serve(record) as port, DelayProxy([("127.0.0.1", port)], delay_ms=1500) as proxy, \
            socket.create_connection(("127.0.0.1", proxy.ports[0]), timeout=WAIT_S) as far, \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as near:
        far.sendall(b"sent first, through the proxy")
        near.sendall(b"sent second, directly")
        assert both.wait(WAIT_S)
    assert arrived == [b"sent second, directly", b"sent first, through the proxy"]


def test_it_listens_on_127_0_0_1_only_one_port_per_upstream() -> None:
    with serve(echo) as one, serve(echo) as two, \
            DelayProxy([("127.0.0.1", one), ("127.0.0.1", two)], delay_ms=0) as proxy:
        assert len(set(proxy.ports)) == 2
        for port in proxy.ports:
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
                assert sock.getpeername() == ("127.0.0.1", port)
                sock.sendall(b"x")
                sock.shutdown(socket.SHUT_WR)
                assert _receive_all(sock) == b"x"
        assert proxy.accepted == 2


def test_connections_over_the_bound_are_closed_and_stopping_ends_the_rest() -> None:
    with serve(echo) as port:
        proxy = DelayProxy([("127.0.0.1", port)], delay_ms=0, max_connections=2)
        with proxy:
            held = [socket.create_connection(("127.0.0.1", proxy.ports[0]), timeout=WAIT_S)
                    for _ in range(2)]
            for sock in held:  # both are through to the server
                sock.sendall(b"ping")
                assert sock.recv(4) == b"ping"
            with socket.create_connection(("127.0.0.1", proxy.ports[0]),
                                          timeout=WAIT_S) as third:
                third.settimeout(WAIT_S)
                assert third.recv(1) == b""  # closed at once: over the bound
            assert proxy.refused == 1 and proxy.accepted == 2
        # the proxy stopped: the held connections were ended and nobody listens
        for sock in held:
            sock.settimeout(WAIT_S)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
            sock.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.ports[0]), timeout=WAIT_S).close()


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 0 or more"):
        DelayProxy([("127.0.0.1", 1)], delay_ms=-1)
