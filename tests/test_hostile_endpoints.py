"""Servers that fight back: each becomes a typed error within the configured timeouts."""

from __future__ import annotations

import ssl
import time
import warnings

import pytest
from cryptography.hazmat.primitives import serialization
from servers import (
    close_mid_handshake,
    drip,
    huge_certificate,
    long_chain,
    random_bytes,
    serve,
    tls_server,
    unparseable_certificate,
)

from auditor.collect.handshake import Target
from auditor.collect.prober import ProbeOptions, handshake, probe_target
from auditor.lab import pki

OPTIONS = ProbeOptions(connect_timeout=2.0, handshake_timeout=2.0)
BUDGET = OPTIONS.connect_timeout + OPTIONS.handshake_timeout + 1.0


def _timed(port: int, profile: str = "browser"):
    started = time.monotonic()
    result = handshake(Target("hostile.example", port, "127.0.0.1"), profile, OPTIONS)
    return result, time.monotonic() - started


def test_random_bytes_are_not_tls() -> None:
    with serve(random_bytes) as port:
        result, elapsed = _timed(port)
    assert result.error.kind == "not_tls" and elapsed < BUDGET


def test_dripping_one_byte_a_second_ends_at_the_handshake_timeout() -> None:
    with serve(drip) as port:
        result, elapsed = _timed(port)
    assert result.error.kind == "timeout"
    assert "stopped after" in result.error.detail
    assert elapsed < BUDGET


def test_close_in_the_middle_of_the_handshake_is_reset() -> None:
    with serve(close_mid_handshake) as port:
        result, elapsed = _timed(port)
    assert result.error.kind == "reset" and "middle" in result.error.detail
    assert elapsed < BUDGET


def test_certificate_that_does_not_parse_is_an_error_not_a_crash() -> None:
    with serve(unparseable_certificate) as port:
        result, elapsed = _timed(port)
    assert not result.ok and result.error.kind in ("other", "tls_alert")
    assert elapsed < BUDGET


def _tls10_only(ctx: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1


def test_server_that_speaks_only_tls10_answers_with_an_alert() -> None:
    with tls_server(_tls10_only) as port:
        result, elapsed = _timed(port)
    assert result.error.kind == "tls_alert", result.error
    assert result.error.detail == "protocol_version"
    assert elapsed < BUDGET


@pytest.mark.parametrize("max_tls", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_server_that_requires_a_client_certificate(max_tls) -> None:
    def require(ctx: ssl.SSLContext) -> None:
        ctx.maximum_version = max_tls
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=pki.hierarchies().rsa_root.cert.public_bytes(
            serialization.Encoding.PEM).decode())

    with tls_server(require) as port:
        result, elapsed = _timed(port)
    if max_tls is ssl.TLSVersion.TLSv1_3:
        # the server's certificate arrives before it asks for ours: we have the chain
        assert result.ok and result.chain
    else:
        assert result.error.kind == "tls_alert"
    assert elapsed < BUDGET


def test_two_hundred_certificate_chain_is_bounded() -> None:
    with tls_server(lambda ctx: None, long_chain(200)) as port:
        results = probe_target(Target("hostile.example", port, "127.0.0.1"), OPTIONS)
    browser = results[0]
    # either refused as too large (as browsers do) or recorded in full; never a hang
    if browser.ok:
        assert len(browser.chain) == 201
    else:
        assert browser.error.kind in ("other", "tls_alert")
        assert "excessive" in browser.error.detail or browser.error.kind == "tls_alert"


def test_one_megabyte_certificate_is_refused_not_swallowed() -> None:
    huge = huge_certificate()
    assert len(huge.public_bytes(serialization.Encoding.DER)) > 1_000_000
    with tls_server(lambda ctx: None, [huge]) as port:
        result, elapsed = _timed(port)
    assert result.error.kind == "other" and "excessive" in result.error.detail
    assert elapsed < BUDGET
