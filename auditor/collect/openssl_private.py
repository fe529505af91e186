"""Every use of private pyOpenSSL and cryptography API, in one small module.

pyOpenSSL has no public call for ``SSL_CTX_set1_sigalgs_list`` (the TLS 1.3 signature
algorithms a client offers, which is how the ``ecdsa_only`` / ``rsa_only`` profiles steer
a server's choice of certificate) nor for ``SSL_CTX_set1_groups_list`` (the key-exchange
groups a client offers: the ``browser`` profile offers Chromium's), so they are reached
through ``OpenSSL._util.lib`` and ``Context._context`` (cryptography binds the groups call
under its older name, ``SSL_CTX_set1_curves_list``, from 47.0). cryptography names the old
SHA-1-with-RSA alias OID only privately, so it is spelled out here.
``tests/test_openssl_private.py`` checks each against the installed libraries, so an
upgrade that moves them fails one test, not every handshake.
"""

from __future__ import annotations

from cryptography import x509
from OpenSSL import SSL
from OpenSSL._util import lib as _lib

#: sha1WithRSA as OIW spelled it (1.3.14.3.2.29); cryptography: ``SignatureAlgorithmOID.
#: _RSA_WITH_SHA1``. Old CAs still sign with it; it must count as SHA-1.
RSA_WITH_SHA1_OIW = x509.ObjectIdentifier("1.3.14.3.2.29")


def can_set_sigalgs() -> bool:
    """Does this OpenSSL binding expose ``SSL_CTX_set1_sigalgs_list``?"""
    return hasattr(_lib, "SSL_CTX_set1_sigalgs_list")


def set_sigalgs(ctx: SSL.Context, sigalgs: str) -> bool:
    """Restrict the signature algorithms ``ctx`` offers; False when OpenSSL refuses them
    (the context then keeps what it had)."""
    return _accepted(_lib.SSL_CTX_set1_sigalgs_list(ctx._context, sigalgs.encode()))


def can_set_groups() -> bool:
    """Does this OpenSSL binding expose ``SSL_CTX_set1_curves_list`` (= ``_groups_list``)?"""
    return hasattr(_lib, "SSL_CTX_set1_curves_list")


def set_groups(ctx: SSL.Context, groups: str) -> bool:
    """Set the key-exchange groups ``ctx`` offers (OpenSSL's group list syntax); False when
    OpenSSL refuses the list (the context then keeps what it had)."""
    return _accepted(_lib.SSL_CTX_set1_curves_list(ctx._context, groups.encode()))


def _accepted(result: int) -> bool:
    if result == 1:
        return True
    # a refused list leaves its reason on OpenSSL's error queue, where the next pyOpenSSL
    # call of this thread would find it and raise it as its own
    _lib.ERR_clear_error()
    return False
