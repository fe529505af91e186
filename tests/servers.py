"""Small misbehaving servers for the tests: loopback only, bounded, stopped by the test."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

Behaviour = Callable[[socket.socket], None]


def silent(conn: socket.socket) -> None:
    """Accept and never say anything (the test's timeout ends it)."""
    conn.recv(65536)
    threading.Event().wait(30)


def plain_http(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def alert(conn: socket.socket) -> None:
    """Answer the ClientHello with a fatal handshake_failure alert record."""
    conn.recv(65536)
    conn.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]))


def close_at_once(conn: socket.socket) -> None:
    conn.recv(65536)


@contextlib.contextmanager
def serve(behaviour: Behaviour, address: str = "127.0.0.1",
          connections: int = 8) -> Iterator[int]:
    """Listen on a free loopback port; serve at most ``connections`` connections."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        served = 0
        while not stop.is_set() and served < connections:
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            served += 1
            conns.append(conn)
            threading.Thread(target=_run, args=(behaviour, conn), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()


def _run(behaviour: Behaviour, conn: socket.socket) -> None:
    conn.settimeout(10)
    with contextlib.suppress(OSError):
        behaviour(conn)
    with contextlib.suppress(OSError):
        conn.close()


@contextlib.contextmanager
def listening_sockets(count: int, address: str = "127.0.0.1") -> Iterator[list[int]]:
    """``count`` listeners whose backlog accepts TCP but nobody ever reads or writes."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((address, 0))
            s.listen(64)
            socks.append(s)
        yield [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(address: str = "127.0.0.1") -> int:
    """A port on which nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]
