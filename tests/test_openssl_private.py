"""The private pyOpenSSL / cryptography API the prober relies on is still there and works."""

from __future__ import annotations

from cryptography.x509.oid import SignatureAlgorithmOID
from OpenSSL import SSL

from auditor.collect import openssl_private
from auditor.collect.profiles import OFFERS


def test_the_sha1_alias_oid_is_the_one_cryptography_keeps_privately() -> None:
    private = getattr(SignatureAlgorithmOID, "_RSA_WITH_SHA1", None)
    assert private is None or private == openssl_private.RSA_WITH_SHA1_OIW
    assert openssl_private.RSA_WITH_SHA1_OIW.dotted_string == "1.3.14.3.2.29"


def test_signature_algorithms_can_be_restricted_and_bad_ones_are_refused() -> None:
    assert openssl_private.can_set_sigalgs()
    for sigalgs, _ciphers in OFFERS.values():
        assert openssl_private.set_sigalgs(SSL.Context(SSL.TLS_CLIENT_METHOD), sigalgs)
    assert not openssl_private.set_sigalgs(SSL.Context(SSL.TLS_CLIENT_METHOD),
                                           "NOT+AN+ALGORITHM")
