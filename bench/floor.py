"""The handshake floor: the smallest client process that makes the audit's handshakes.

Interpreter start, one import (pyOpenSSL), then every (endpoint, profile) handshake at once
through a thread pool (or, polite, at most ``per_host`` at once to each host), with the very
contexts the prober uses (the offers come in the input file, written by bench/run.py from
``auditor.collect.profiles.offered``). Nothing else: no facts, no analysis, no reports. It
prints the SHA-256 of each leaf received, so that the benchmark can check it did the same
work.

    python3 bench/floor.py INPUT.json
"""

import json
import socket
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

from OpenSSL import SSL
from OpenSSL._util import lib

TIMEOUT = struct.pack("ll", 5, 0)  # 5 s, as struct timeval


def context(offer):
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
    ctx.set_verify(SSL.VERIFY_NONE)
    ctx.set_cipher_list(f"{offer['ciphers']}:@SECLEVEL=0".encode())
    if offer["tls13_suites"]:
        ctx.set_tls13_ciphersuites(offer["tls13_suites"].encode())
    if offer["groups"]:
        shares = (offer["key_shares"] or "").split(":")
        marked = ":".join(f"*{g}" if g in shares else g for g in offer["groups"].split(":"))
        if lib.SSL_CTX_set1_curves_list(ctx._context, marked.encode()) != 1:
            lib.ERR_clear_error()  # an OpenSSL before 3.5: no key-share marks
            lib.SSL_CTX_set1_curves_list(ctx._context, offer["groups"].encode())
    ctx.set_options(SSL.OP_NO_TICKET)
    lib.SSL_CTX_set1_sigalgs_list(ctx._context, offer["sigalgs"].encode())
    return ctx


def handshake(job):
    host, address, port, ctx, limit = job
    with limit:
        return _handshake(host, address, port, ctx)


def _handshake(host, address, port, ctx):
    try:
        sock = socket.create_connection((address, port), timeout=5)
    except OSError:
        return None
    try:
        # pyOpenSSL wants a blocking socket; the kernel's timeouts still bound each wait
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TIMEOUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, TIMEOUT)
        conn = SSL.Connection(ctx, sock)
        conn.set_tlsext_host_name(host.encode("idna"))
        conn.set_connect_state()
        conn.do_handshake()
        chain = conn.get_peer_cert_chain()
        return chain[0].digest("sha256").decode().replace(":", "").lower() if chain else None
    except (SSL.Error, OSError):
        return None
    finally:
        sock.close()


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    contexts = [context(offer) for offer in spec["offers"]]
    # polite: at most per_host handshakes at once to one host (none: as many as the pool)
    per_host = spec.get("per_host")
    limits = {host: threading.BoundedSemaphore(per_host) if per_host else nullcontext()
              for host, _, _ in spec["targets"]}
    jobs = [(host, address, port, ctx, limits[host]) for host, address, port in spec["targets"]
            for ctx in contexts]
    with ThreadPoolExecutor(spec.get("concurrency", 64)) as pool:
        leaves = list(pool.map(handshake, jobs))
    json.dump(leaves, sys.stdout)


main()
