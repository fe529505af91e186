"""The three kinds of client the prober plays: what each offers (a browser, an ECDSA-only
and an RSA-only client) and the pyOpenSSL context that offers it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from OpenSSL import SSL

from auditor.collect.openssl_private import (
    can_set_groups,
    can_set_sigalgs,
    set_groups,
    set_sigalgs,
)
from auditor.model.facts import PROFILES

# What the `browser` profile offers is what Chromium offers, read from its ClientHello.
#
# Captured from Chromium 156.0.8078.129 (the Debian bookworm package, /usr/bin/chromium):
# started headless with --no-sandbox --disable-gpu --disable-quic --no-first-run
# --disable-background-networking --disable-component-update --disable-sync and a
# --host-resolver-rules entry sending a name to a loopback listener that kept the raw
# ClientHello record. Two captures differed only in their GREASE values (0x?a?a, which
# OpenSSL cannot send and no server may choose) and in the order of the extensions, which
# Chromium shuffles. tests/test_browser_offer.py repeats the capture with the Chromium
# installed and compares it with the ClientHello of this profile.
#
#   supported_versions     TLS 1.3, TLS 1.2 (nothing older)
#   supported_groups       X25519MLKEM768 (0x11ec), X25519, P-256, P-384
#   key_share              X25519MLKEM768, X25519
#   cipher_suites          the three TLS 1.3 suites, then twelve TLS 1.2 suites (below)
#   signature_algorithms   ML-DSA-44, -65, -87 (0x0904-0x0906), then eight classical ones
#
# So no X448, no P-521, no finite-field (ffdhe) group, no DHE or CBC-SHA256/SHA384 suite,
# no SHA-1 or P-521 signature, no TLS 1.0 or 1.1: a server limited to any of those is one
# Chromium cannot connect to, and neither can this profile.
#
# What OpenSSL cannot offer is left out, at run time, name by name (see offered()): the
# hybrid X25519MLKEM768 and the ML-DSA signatures need OpenSSL 3.5; cryptography's wheels
# from 47.0 (this project's floor) carry OpenSSL 4.0 and offer them. Built against an older
# OpenSSL, the profile lacks them, and that does not change which servers it reaches among
# those it audits: Chromium offers X25519MLKEM768 beside the classical X25519, P-256 and
# P-384, and the ML-DSA signatures beside the classical ones, so a server must still accept
# a classical group and signature to be reached by it, except one that accepts only the
# post-quantum ones (TLS 1.3 only: UCCX 11.x speaks TLS 1.0-1.2 [Cisco 201000]). Nor are
# GREASE, ALPN, ALPS, ECH GREASE, SCT, OCSP stapling or certificate compression mimicked:
# none of them decides a version, group, suite or signature.

#: Chromium's version the lists below were read from.
CHROMIUM = "156.0.8078.129"


_CHROMIUM_GROUPS = ("X25519MLKEM768", "X25519", "P-256", "P-384")


_CHROMIUM_KEY_SHARES = ("X25519MLKEM768", "X25519")


_CHROMIUM_TLS13_SUITES = (
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")


# (0xc02b c02f c02c c030 cca9 cca8 c013 c014 009c 009d 002f 0035, in its order)
_CHROMIUM_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "AES128-SHA:AES256-SHA"
)


# (0x0904 0905 0906 0403 0804 0401 0503 0805 0501 0806 0601, in its order)
_CHROMIUM_SIGALGS = (
    "mldsa44:mldsa65:mldsa87:"
    "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp384r1_sha384:"
    "rsa_pss_rsae_sha384:rsa_pkcs1_sha384:rsa_pss_rsae_sha512:rsa_pkcs1_sha512"
)


_ECDSA_SIGALGS = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1"


_RSA_SIGALGS = (
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1"
)


@dataclass(frozen=True)
class Offer:
    """What one client profile puts into its ClientHello, in OpenSSL's names (colon
    lists). ``None``: what the linked OpenSSL offers by default."""

    #: signature_algorithms (how ``ecdsa_only`` / ``rsa_only`` steer TLS 1.3)
    sigalgs: str
    #: TLS 1.2 cipher suites, an OpenSSL cipher string (how they steer TLS 1.2)
    ciphers: str
    #: supported_groups, in order
    groups: str | None = None
    #: the groups of ``groups`` that carry a key share in the first ClientHello
    key_shares: str | None = None
    #: TLS 1.3 cipher suites, in order
    tls13_suites: str | None = None


#: What each profile offers. ``ecdsa_only`` and ``rsa_only`` are not browsers: they ask
#: for one key type of certificate and take any group OpenSSL has, so that a server no
#: browser can negotiate with still shows its certificates.
OFFERS: dict[str, Offer] = {
    "browser": Offer(_CHROMIUM_SIGALGS, _CHROMIUM_CIPHERS, ":".join(_CHROMIUM_GROUPS),
                     ":".join(_CHROMIUM_KEY_SHARES), _CHROMIUM_TLS13_SUITES),
    "ecdsa_only": Offer(_ECDSA_SIGALGS, "aECDSA"),
    "rsa_only": Offer(_RSA_SIGALGS, "aRSA"),
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
        _context(OFFERS["ecdsa_only"], SSL.TLS1_3_VERSION, use_sigalgs=True)
    except (SSL.Error, ValueError):
        return False
    return True


def _known(names: str | None, setter: Callable[[SSL.Context, str], bool]) -> str | None:
    """The names of a colon list that the linked OpenSSL accepts, each tried alone, in
    their order (None stays None: the default)."""
    if names is None:
        return None
    kept = [name for name in names.split(":")
            if setter(SSL.Context(SSL.TLS_CLIENT_METHOD), name)]
    return ":".join(kept) or None


@functools.cache
def offered(profile: str) -> Offer:
    """What ``profile`` offers with the linked OpenSSL: its :data:`OFFERS` entry without
    the names this OpenSSL does not know (see the note above :data:`CHROMIUM`)."""
    if profile not in OFFERS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    offer = OFFERS[profile]
    if offer.groups is not None and not can_set_groups():
        # OpenSSL's default groups are not a browser's: better no handshake than one
        # that reaches what browsers cannot
        raise ValueError("this cryptography cannot set the key-exchange groups a client "
                         "offers (cryptography 47 or later can)")
    sigalgs = _known(offer.sigalgs, set_sigalgs) if can_set_sigalgs() else offer.sigalgs
    groups = _known(offer.groups, set_groups)
    shares = offer.key_shares
    if groups is not None and shares is not None:
        shares = ":".join(g for g in shares.split(":") if g in groups.split(":")) or None
    return replace(offer, sigalgs=sigalgs or offer.sigalgs, groups=groups, key_shares=shares)


def left_out(profile: str) -> tuple[str, ...]:
    """The names of ``profile``'s offer that the linked OpenSSL cannot offer."""
    full, usable = OFFERS[profile], offered(profile)
    missing = []
    for field in ("sigalgs", "groups"):
        wanted, kept = getattr(full, field), getattr(usable, field)
        if wanted is not None:
            have = set((kept or "").split(":"))
            missing += [name for name in wanted.split(":") if name not in have]
    return tuple(missing)


def _group_list(offer: Offer) -> str | None:
    """OpenSSL's group list for the offer, its key shares marked with ``*`` (OpenSSL 3.5's
    syntax; an older one sends a key share for the first group only, and the server asks
    for another one it prefers with a HelloRetryRequest, as it would ask Chromium)."""
    if offer.groups is None or offer.key_shares is None:
        return offer.groups
    shares = set(offer.key_shares.split(":"))
    return ":".join(f"*{g}" if g in shares else g for g in offer.groups.split(":"))


def _context(offer: Offer, max_version: int, *, use_sigalgs: bool) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(max_version)
    ctx.set_verify(SSL.VERIFY_NONE)
    # Security level 0: an auditor must still see SHA-1 and small keys to report them.
    ctx.set_cipher_list(f"{offer.ciphers}:@SECLEVEL=0".encode())
    if offer.tls13_suites is not None:
        ctx.set_tls13_ciphersuites(offer.tls13_suites.encode())
    if offer.groups is not None and not set_groups(ctx, _group_list(offer) or "") \
            and not set_groups(ctx, offer.groups):
        raise ValueError(f"OpenSSL refused the groups {offer.groups}")
    ctx.set_options(SSL.OP_NO_TICKET)
    if use_sigalgs and not set_sigalgs(ctx, offer.sigalgs):
        raise ValueError(f"OpenSSL refused signature algorithms {offer.sigalgs}")
    return ctx


def profile_context(profile: str, use_sigalgs: bool) -> tuple[SSL.Context, str]:
    """A new client context for a profile and the method it steers with."""
    offer = offered(profile)
    if use_sigalgs:
        # TLS 1.3 steered by signature_algorithms; TLS 1.2 (where the server has no
        # 1.3) steered by the suites and the same signature algorithms.
        return _context(offer, SSL.TLS1_3_VERSION, use_sigalgs=True), METHOD_SIGALGS
    if profile == "browser":
        return _context(offer, SSL.TLS1_3_VERSION, use_sigalgs=False), METHOD_CIPHERS
    return _context(offer, SSL.TLS1_2_VERSION, use_sigalgs=False), METHOD_CIPHERS
