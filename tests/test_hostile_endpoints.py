"""Servers that fight back: each becomes a typed error within the configured timeouts."""

from __future__ import annotations

import ssl
import time
import warnings

import pytest
from cryptography.hazmat.primitives import serialization
from servers import (
    Counted,
    alert_number,
    close_mid_handshake,
    drip,
    garbage_after_server_hello,
    huge_certificate,
    long_chain,
    plain_http,
    random_bytes,
    refuse_the_name,
    serve,
    stall_after_certificate,
    tls_server,
    truncated_after_server_hello,
    unparseable_certificate,
)

from auditor.collect.handshake import ALERTS, Target, _alert_in_reason
from auditor.collect.prober import ProbeOptions, handshake, probe_target
from auditor.lab import pki
from auditor.model.facts import PROFILES

pytestmark = pytest.mark.slow

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


@pytest.mark.parametrize("behaviour, words", [
    (garbage_after_server_hello, "wrong version number"),
    (truncated_after_server_hello, "length mismatch"),
], ids=["garbage-record", "lengths-that-do-not-add-up"])
def test_a_broken_record_after_a_server_hello_is_a_tls_error_and_every_profile_tries(
        behaviour, words) -> None:
    """The server spoke TLS: not ``not_tls``, and another profile may fare better, so each
    one connects (three connections, three typed errors)."""
    counted = Counted(behaviour)
    with serve(counted, connections=16) as port:
        results = probe_target(Target("hostile.example", port, "127.0.0.1"), OPTIONS)
    assert counted.count == len(PROFILES)
    for result in results:
        assert result.error.kind == "tls_error", result.error
        assert result.error.detail.startswith("the server began a TLS handshake, then broke "
                                              "the protocol: ")
        assert result.elapsed_ms > 0
    # the restricted profiles may stop earlier (the hello names a suite they did not offer)
    assert words in results[0].error.detail


def test_the_first_bytes_not_tls_still_spare_the_other_profiles() -> None:
    counted = Counted(plain_http)
    with serve(counted, connections=16) as port:
        results = probe_target(Target("http.example", port, "127.0.0.1"), OPTIONS)
    assert counted.count == 1
    assert [r.error.kind for r in results] == ["not_tls"] * len(PROFILES)


def test_a_stall_after_the_server_spoke_tls_lets_every_profile_try() -> None:
    """A timeout after some bytes is not "nothing answers": each profile gets its turn."""
    counted = Counted(stall_after_certificate)
    with serve(counted, connections=16) as port:
        results = probe_target(Target("stall.example", port, "127.0.0.1"),
                               ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0))
    assert counted.count == len(PROFILES)
    assert results[0].error.kind == "timeout" and "stopped after" in results[0].error.detail
    assert all(not r.ok and r.elapsed_ms > 0 for r in results)


@pytest.mark.parametrize("max_tls", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_server_that_does_not_know_the_name_sends_unrecognized_name(max_tls) -> None:
    """A real TLS server whose SNI callback refuses the name: a tls_alert by its name."""
    def configure(ctx: ssl.SSLContext) -> None:
        refuse_the_name(ctx)
        ctx.maximum_version = max_tls

    with tls_server(configure) as port:
        results = probe_target(Target("unknown-site.example", port, "127.0.0.1"), OPTIONS)
    assert [(r.error.kind, r.error.detail) for r in results] == (
        [("tls_alert", "unrecognized_name")] * len(PROFILES))
    assert all(r.elapsed_ms > 0 for r in results)  # each profile asked for itself


def test_an_alert_openssl_has_no_words_for_is_named_from_its_record() -> None:
    with serve(alert_number(200)) as port:
        result, _ = _timed(port)
    assert (result.error.kind, result.error.detail) == ("tls_alert", "alert_200")


#: Every reason OpenSSL 3 gives for an alert it received (libssl's error strings).
OPENSSL_ALERT_REASONS = """
sslv3 alert bad certificate|sslv3 alert bad record mac|sslv3 alert certificate expired|
sslv3 alert certificate revoked|sslv3 alert certificate unknown|
sslv3 alert decompression failure|sslv3 alert handshake failure|
sslv3 alert illegal parameter|sslv3 alert no certificate|sslv3 alert unexpected message|
sslv3 alert unsupported certificate|tlsv1 alert access denied|tlsv1 alert decode error|
tlsv1 alert decrypt error|tlsv1 alert decryption failed|tlsv1 alert export restriction|
tlsv1 alert inappropriate fallback|tlsv1 alert insufficient security|
tlsv1 alert internal error|tlsv1 alert no application protocol|
tlsv1 alert no renegotiation|tlsv1 alert protocol version|tlsv1 alert record overflow|
tlsv1 alert unknown ca|tlsv1 alert unknown psk identity|tlsv1 alert user cancelled|
tlsv1 bad certificate hash value|tlsv1 bad certificate status response|
tlsv1 certificate unobtainable|tlsv1 unrecognized name|tlsv1 unsupported extension|
tlsv13 alert certificate required|tlsv13 alert missing extension
""".replace("\n", "").split("|")


@pytest.mark.parametrize("reason", OPENSSL_ALERT_REASONS)
def test_every_openssl_alert_reason_is_named_as_the_registry_names_it(reason: str) -> None:
    assert _alert_in_reason(reason) in ALERTS.values()


@pytest.mark.parametrize("reason", ["unknown alert type", "invalid alert",
                                    "too many warn alerts", "wrong version number",
                                    "tlsv1 something new", "record layer failure"])
def test_reasons_that_are_not_a_received_alert_are_not_alerts(reason: str) -> None:
    assert _alert_in_reason(reason) is None
