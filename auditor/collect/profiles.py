"""The three kinds of client the prober plays: what each offers (a browser, an ECDSA-only
and an RSA-only client) and the pyOpenSSL context that offers it."""

from __future__ import annotations

import functools

from OpenSSL import SSL

from auditor.collect.openssl_private import can_set_sigalgs, set_sigalgs
from auditor.model.facts import PROFILES

# What current Chrome offers (TLS 1.2 suites in its order, then its signature algorithms).
_CHROME_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "AES128-SHA:AES256-SHA"
)


_CHROME_SIGALGS = (
    "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp384r1_sha384:"
    "rsa_pss_rsae_sha384:rsa_pkcs1_sha384:rsa_pss_rsae_sha512:rsa_pkcs1_sha512"
)


_ECDSA_SIGALGS = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1"


_RSA_SIGALGS = (
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1"
)


#: What each profile offers: (signature algorithms, TLS 1.2 cipher string).
OFFERS: dict[str, tuple[str, str]] = {
    "browser": (_CHROME_SIGALGS, _CHROME_CIPHERS),
    "ecdsa_only": (_ECDSA_SIGALGS, "aECDSA"),
    "rsa_only": (_RSA_SIGALGS, "aRSA"),
}


#: How the ``ecdsa_only`` / ``rsa_only`` profiles steer the server's choice.
METHOD_SIGALGS = "tls13_sigalgs"


METHOD_CIPHERS = "tls12_ciphers"


@functools.cache
def sigalgs_supported() -> bool:
    """Can this OpenSSL binding restrict TLS 1.3 signature algorithms? (A fact about the
    library, asked once per process, on first use.)"""
    if not can_set_sigalgs():
        return False
    try:
        _context(_ECDSA_SIGALGS, "aECDSA", SSL.TLS1_3_VERSION)
    except (SSL.Error, ValueError):
        return False
    return True


def _context(sigalgs: str | None, ciphers: str, max_version: int) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(max_version)
    ctx.set_verify(SSL.VERIFY_NONE)
    # Security level 0: an auditor must still see SHA-1 and small keys to report them.
    ctx.set_cipher_list(f"{ciphers}:@SECLEVEL=0".encode())
    ctx.set_options(SSL.OP_NO_TICKET)
    if sigalgs is not None and not set_sigalgs(ctx, sigalgs):
        raise ValueError(f"OpenSSL refused signature algorithms {sigalgs}")
    return ctx


def profile_context(profile: str, use_sigalgs: bool) -> tuple[SSL.Context, str]:
    """A new client context for a profile and the method it steers with."""
    if profile not in OFFERS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    sigalgs, ciphers = OFFERS[profile]
    if use_sigalgs:
        # TLS 1.3 steered by signature_algorithms; TLS 1.2 (where the server has no
        # 1.3) steered by the suites and the same signature algorithms.
        return _context(sigalgs, ciphers, SSL.TLS1_3_VERSION), METHOD_SIGALGS
    if profile == "browser":
        return _context(None, ciphers, SSL.TLS1_3_VERSION), METHOD_CIPHERS
    return _context(None, ciphers, SSL.TLS1_2_VERSION), METHOD_CIPHERS
