"""The private pyOpenSSL / cryptography API the prober relies on is still there and works."""

from __future__ import annotations

from cryptography.x509.oid import SignatureAlgorithmOID
from OpenSSL import SSL
from OpenSSL._util import lib

from auditor.collect import openssl_private
from auditor.collect.profiles import OFFERS, offered


def test_the_sha1_alias_oid_is_the_one_cryptography_keeps_privately() -> None:
    private = getattr(SignatureAlgorithmOID, "_RSA_WITH_SHA1", None)
    assert private is None or private == openssl_private.RSA_WITH_SHA1_OIW
    assert openssl_private.RSA_WITH_SHA1_OIW.dotted_string == "1.3.14.3.2.29"


def test_signature_algorithms_can_be_restricted_and_bad_ones_are_refused() -> None:
    assert openssl_private.can_set_sigalgs()
    for profile in OFFERS:
        assert openssl_private.set_sigalgs(SSL.Context(SSL.TLS_CLIENT_METHOD),
                                           offered(profile).sigalgs)
    assert not openssl_private.set_sigalgs(SSL.Context(SSL.TLS_CLIENT_METHOD),
                                           "NOT+AN+ALGORITHM")


def test_key_exchange_groups_can_be_set_and_bad_ones_are_refused() -> None:
    """Why the floor is cryptography 47 (and pyOpenSSL 26.1, the first that allows it): a
    client that offers a browser's groups sets them with SSL_CTX_set1_curves_list, which
    cryptography binds from 47 on. Without it OpenSSL offers its default groups (X448,
    P-521, ffdhe...), which reach servers Chromium cannot."""
    assert openssl_private.can_set_groups()
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    assert openssl_private.set_groups(ctx, "X25519:P-256:P-384")
    assert not openssl_private.set_groups(ctx, "X25519:NOT-A-GROUP")
    # a refused list leaves nothing on OpenSSL's error queue for a later call to trip on
    assert lib.ERR_peek_error() == 0
    assert not openssl_private.set_sigalgs(ctx, "NOT+AN+ALGORITHM")
    assert lib.ERR_peek_error() == 0


def test_tls13_suites_can_be_set() -> None:
    """Context.set_tls13_ciphersuites exists from pyOpenSSL 25.2: a client can offer a
    browser's TLS 1.3 suites in the browser's order."""
    SSL.Context(SSL.TLS_CLIENT_METHOD).set_tls13_ciphersuites(
        b"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
