"""Small misbehaving servers for the tests: loopback only, bounded, stopped by the test."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import select
import socket
import ssl
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from auditor.lab import pki
from auditor.lab.server import tls_session

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


class Listening(list):
    """The ports of :func:`listening_sockets`, and a way to wait until a client is there."""

    def __init__(self, socks: list[socket.socket]) -> None:
        super().__init__(s.getsockname()[1] for s in socks)
        self._socks = socks
        self.held: list[socket.socket] = []

    def connected(self, timeout: float = 60.0) -> bool:
        """Wait (at most ``timeout`` seconds) until a client has connected to one of them;
        the connection is held open, silent, as the backlog would hold it."""
        ready, _, _ = select.select(self._socks, [], [], timeout)
        for sock in ready:
            self.held.append(sock.accept()[0])
        return bool(ready)


@contextlib.contextmanager
def listening_sockets(count: int, address: str = "127.0.0.1") -> Iterator[Listening]:
    """``count`` listeners whose backlog accepts TCP but nobody ever reads or writes."""
    socks: list[socket.socket] = []
    listening = None
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((address, 0))
            s.listen(64)
            socks.append(s)
        listening = Listening(socks)
        yield listening
    finally:
        for s in [*socks, *(listening.held if listening else [])]:
            s.close()


def free_port(address: str = "127.0.0.1") -> int:
    """A port on which nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def random_bytes(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(bytes(range(7, 256)) * 16)


def drip(conn: socket.socket) -> None:
    """One byte a second of a plausible TLS record header, forever (bounded by the test)."""
    conn.recv(65536)
    for byte in bytes([0x16, 0x03, 0x03, 0x40, 0x00]) + b"\x00" * 60:
        conn.sendall(bytes([byte]))
        threading.Event().wait(1.0)


def tls12_server_hello(certificate_der: bytes) -> bytes:
    """A TLS 1.2 ServerHello and Certificate message carrying ``certificate_der``."""
    def record(handshake_type: int, body: bytes) -> bytes:
        message = bytes([handshake_type]) + len(body).to_bytes(3, "big") + body
        return bytes([0x16, 0x03, 0x03]) + len(message).to_bytes(2, "big") + message

    hello = (b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\xc0\x2f" + b"\x00"
             + b"\x00\x05" + b"\xff\x01\x00\x01\x00")  # renegotiation_info
    cert_entry = len(certificate_der).to_bytes(3, "big") + certificate_der
    certificates = len(cert_entry).to_bytes(3, "big") + cert_entry
    return record(2, hello) + record(11, certificates)


def unparseable_certificate(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(tls12_server_hello(b"\x30\x82\x01\x00" + b"\xde\xad\xbe\xef" * 64))
    threading.Event().wait(2)


def close_mid_handshake(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(tls12_server_hello(b"\x30\x03\x02\x01\x01")[:60])


def _server_hello_then(after: bytes) -> Behaviour:
    """A valid TLS 1.2 ServerHello record, then ``after``; the connection stays open."""
    flight = tls12_server_hello(b"\x30\x03\x02\x01\x01")
    hello = flight[:5 + int.from_bytes(flight[3:5], "big")]

    def behaviour(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(hello + after)
        threading.Event().wait(3)
    return behaviour


#: A ServerHello, then a record whose header is not TLS ("wrong version number").
garbage_after_server_hello = _server_hello_then(b"\xff" * 40)


#: A ServerHello, then a Certificate message whose lengths do not add up.
truncated_after_server_hello = _server_hello_then(
    bytes([0x16, 3, 3, 0, 10, 11, 0, 0, 6, 0, 0, 9, 0, 0, 1]))


#: A ServerHello and a Certificate, then nothing (no ServerHelloDone).
def stall_after_certificate(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(tls12_server_hello(pki.issue(
        "hostile.example", pki.key("hostile", "rsa"),
        issuer=pki.hierarchies().rsa_root).cert.public_bytes(serialization.Encoding.DER)))
    threading.Event().wait(30)


def alert_number(number: int) -> Behaviour:
    """Answer the ClientHello with a fatal alert record of description ``number``."""
    def behaviour(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, number]))
    return behaviour


_PAGE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def openssl_session(ctx: SSL.Context) -> Behaviour:
    """For :func:`serve`: a pyOpenSSL server on each connection, for what Python's ssl
    cannot limit (any key-exchange group, the TLS 1.3 suites, signature algorithms). Over
    memory BIOs, so a refused handshake still sends its alert; then one small page. Every
    wait is bounded by the socket's timeout (set by :func:`serve`)."""
    def behaviour(sock: socket.socket) -> None:
        conn = SSL.Connection(ctx, None)
        conn.set_accept_state()

        def flush() -> None:
            while True:
                try:
                    sock.sendall(conn.bio_read(65536))
                except SSL.WantReadError:
                    return

        def more() -> bool:
            data = sock.recv(65536)
            if data:
                conn.bio_write(data)
            return bool(data)

        try:
            while True:
                try:
                    conn.do_handshake()
                    break
                except SSL.WantReadError:
                    flush()
                    if not more():
                        return
            flush()
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 8192:
                try:
                    request += conn.recv(8192)
                except SSL.WantReadError:
                    if not more():
                        return
            conn.sendall(_PAGE)
            flush()
        except SSL.Error:
            with contextlib.suppress(OSError, SSL.Error):
                flush()  # the alert
    return behaviour


def refuse_the_name(ctx: ssl.SSLContext) -> None:
    """For :func:`tls_server`: a server that knows no site by the name the client sends and
    says so with a fatal ``unrecognized_name`` alert (as a virtual host server does)."""
    ctx.sni_callback = lambda _sock, _name, _ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME


class Counted:
    """A behaviour that counts the connections it served (thread-safe)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, conn: socket.socket) -> None:
        with self._lock:
            self.count += 1
        self.behaviour(conn)


@contextlib.contextmanager
def tls_server(configure, chain: list[x509.Certificate] | None = None,
               leaf: pki.Issued | None = None):
    """A real TLS server (Python's ssl over memory BIOs, as the lab) with a twist."""
    leaf = leaf or pki.issue("hostile.example", pki.key("hostile", "rsa"),
                             issuer=pki.hierarchies().rsa_root)
    with tempfile.TemporaryDirectory() as work:
        chain_file, key_file = Path(work, "chain.pem"), Path(work, "key.pem")
        certs = [leaf.cert, *(chain or [])]
        chain_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                                        for c in certs))
        key_file.write_bytes(leaf.key_pem())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        configure(ctx)
        ctx.load_cert_chain(chain_file, key_file)
        with serve_tls(ctx) as port:
            yield port


@contextlib.contextmanager
def serve_tls(ctx: ssl.SSLContext, address: str = "127.0.0.1") -> Iterator[int]:
    """Serve TLS as the lab does on a free loopback port; on exit every session still
    open is cancelled and awaited before the loop closes (no coroutine left to the GC)."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(asyncio.start_server(
        functools.partial(tls_session, ctx), address, 0), loop).result(10)

    async def close() -> None:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
        sessions = asyncio.all_tasks() - {asyncio.current_task()}
        for session in sessions:
            session.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=2)

    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def long_chain(length: int) -> list[x509.Certificate]:
    """``length`` filler CA certificates under the lab's EC root, to bloat a chain."""
    ca = pki.hierarchies()
    now = dt.datetime.now(dt.timezone.utc)
    return [pki.issue(f"Filler CA {i}", pki.key("filler", "ec"), issuer=ca.ec_root, ca=True,
                      not_after=now + dt.timedelta(days=30)).cert for i in range(length)]


def huge_certificate() -> x509.Certificate:
    """A certificate of more than 1 MB (one unrecognised extension full of 'A')."""
    ca = pki.hierarchies()
    now = dt.datetime.now(dt.timezone.utc)
    key = pki.key("huge", "rsa")
    return (x509.CertificateBuilder().subject_name(ca.rsa_root.cert.subject)
            .issuer_name(ca.rsa_root.cert.subject).public_key(key.public_key())
            .serial_number(99).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x83\x10\x00\x00"
                + b"A" * 0x100000), critical=False)
            .sign(ca.rsa_root.key, hashes.SHA256()))


def resign(der: bytes, signer_key: pki.PrivateKey) -> x509.Certificate:
    """A certificate from edited DER, signed again by ``signer_key`` (pyOpenSSL signs what
    OpenSSL parses; cryptography reads it lazily, so an unreadable part stays unread)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        edited = crypto.X509.from_cryptography(x509.load_der_x509_certificate(der))
        edited.sign(crypto.PKey.from_cryptography_key(signer_key), "sha256")
    return edited.to_cryptography()


def invalid_email_certificate(host: str = "hostile.example") -> pki.Issued:
    """A leaf signed by the lab's RSA root whose subject holds an IA5String emailAddress
    with byte 0xFF: OpenSSL completes the handshake, cryptography raises ValueError as soon
    as the subject is read."""
    ca = pki.hierarchies()
    key = pki.key("invalid-email", "rsa")
    now = dt.datetime.now(dt.timezone.utc)
    placeholder = "PLACEHOLDER@example.com"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                                     x509.NameAttribute(NameOID.EMAIL_ADDRESS, placeholder)]))
            .issuer_name(ca.rsa_root.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca.rsa_root.key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(b"PLACEHOLDER") == 1
    edited = resign(der.replace(b"PLACEHOLDER", b"\xffLACEHOLDER"), ca.rsa_root.key)
    return pki.Issued(edited, key, ())
