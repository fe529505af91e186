"""Chain order, completeness, and trust as the agents' browsers would judge it."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from OpenSSL import crypto
from OpenSSL._util import lib as _lib

from auditor.collect.certs import analyse as analyse_certificate
from auditor.collect.certs import (
    dn_text,
    fingerprint,
    read_certificates,
    signature_hash,
    signature_verifies,
    unreadable_part,
)
from auditor.common.errors import InputError
from auditor.common.inputs import read_input
from auditor.model.certificate import CertificateFacts, covers_host, host_address, san_addresses
from auditor.model.facts import LEAF_WORDS, ChainFacts

TRUSTED = "trusted"
UNTRUSTED = "untrusted"
#: Recorded by versions that let OpenSSL's verdict stand when the web-PKI verifier
#: objected; no longer produced (a chain is trusted only when browsers would accept it),
#: but facts files of those versions still carry it.
STRICT_ONLY = "strict_verifier_rejects"
#: OpenSSL's X509_PURPOSE_SSL_SERVER: check the chain for a TLS server, as browsers do.
_PURPOSE_SSL_SERVER = 2
_EKU_REFUSED = ("its extended key usage does not allow TLS server authentication, which "
                "browsers require")
#: Signature hashes that current browsers refuse below the root.
_REJECTED_HASHES = ("md5", "sha1")


@dataclass(frozen=True)
class AgentTrust:
    """The CAs and self-signed certificates that agents' browsers trust."""

    source: str
    anchors: tuple[x509.Certificate, ...]
    #: Files of a trust folder that were left out, each "name: why" (a folder only).
    skipped: tuple[str, ...] = ()

    @cached_property
    def by_fingerprint(self) -> dict[str, x509.Certificate]:
        return {fingerprint(c): c for c in self.anchors}

    @cached_property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_fingerprint))

    @cached_property
    def _stores(self) -> dict[dt.datetime, crypto.X509Store]:
        return {}

    def openssl_store(self, at: dt.datetime) -> crypto.X509Store:
        """An OpenSSL store of the anchors that verifies as of ``at``: made once per time,
        as converting every anchor (a system store has ~150) dominates a verification."""
        when = at.replace(tzinfo=None)
        store = self._stores.get(when)
        if store is None:
            store = crypto.X509Store()
            for anchor in self.anchors:
                try:
                    store.add_cert(crypto.X509.from_cryptography(anchor))
                except crypto.Error:
                    continue  # the same anchor twice
            store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
            _lib.X509_STORE_set_purpose(store._store, _PURPOSE_SSL_SERVER)
            store.set_time(when)
            self._stores[when] = store
        return store


#: A trust folder is read only up to these: entries looked at, and bytes read in all
#: (``/etc/ssl/certs`` holds ~300 entries, ~1 MB read; a store of a few thousand CAs fits).
FOLDER_MAX_ENTRIES = 10_000
FOLDER_MAX_BYTES = 64 << 20


def _shown_name(name: str) -> str:
    """A file name as text that any report can carry (undecodable bytes as escapes)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def load_trust_folder(path: str) -> AgentTrust:
    """The agents' trust from a folder of certificate files (``/etc/ssl/certs``, an export
    of the browsers' roots): every regular file in it, links followed, in name order, each
    a PEM bundle or one DER certificate. Sub-folders, special files and files that hold
    no certificate are left out and listed in :attr:`AgentTrust.skipped`; the same
    certificate under several names (hash links) counts once. Bounded in entries and in
    bytes read; a folder past either bound, or with no certificate, is an input error."""
    try:
        with os.scandir(path) as entries:
            names = []
            for entry in entries:
                names.append(entry.name)
                if len(names) > FOLDER_MAX_ENTRIES:
                    raise InputError(f"holds more than {FOLDER_MAX_ENTRIES} entries", path=path,
                                     expected="a folder of CA certificate files")
    except OSError as exc:
        raise InputError(f"cannot read the folder: {exc.strerror}", path=path) from None
    anchors: dict[str, x509.Certificate] = {}
    skipped: list[str] = []
    total = 0
    for name in sorted(names):
        file = os.path.join(path, name)
        try:
            mode = os.stat(file).st_mode
        except OSError as exc:  # a dangling link, a name that went away
            skipped.append(f"{_shown_name(name)}: {exc.strerror or 'cannot be read'}")
            continue
        if not stat.S_ISREG(mode):
            skipped.append(f"{_shown_name(name)}: not a regular file")
            continue
        try:
            data = read_input(file, "pem")
        except InputError as exc:
            skipped.append(f"{_shown_name(name)}: {exc.message}")
            continue
        total += len(data)
        if total > FOLDER_MAX_BYTES:
            raise InputError(f"its files hold more than {FOLDER_MAX_BYTES >> 20} MB",
                             path=path, expected="a folder of CA certificate files")
        certs = _certificates_in(data)
        if not certs:
            skipped.append(f"{_shown_name(name)}: holds no certificate")
            continue
        for cert in certs:
            anchors.setdefault(fingerprint(cert), cert)
    if not anchors:
        raise InputError("no certificates found in the folder", path=path,
                         expected="CA or self-signed certificates in PEM or DER files")
    return AgentTrust(source=f"folder:{_shown_name(Path(path).name)}",
                      anchors=tuple(anchors[fp] for fp in sorted(anchors)),
                      skipped=tuple(skipped))


def _certificates_in(data: bytes) -> list[x509.Certificate]:
    """The readable certificates of a PEM bundle or a DER file; none for anything else."""
    with warnings.catch_warnings():
        # some distribution roots carry non-positive serials; still roots
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                certs = x509.load_pem_x509_certificates(data)
            else:
                certs = [x509.load_der_x509_certificate(data)]
        except (ValueError, TypeError, x509.InvalidVersion):
            return []
        return [c for c in certs if unreadable_part(c) is None]


def load_agent_trust(path: str | None) -> AgentTrust:
    """The agents' trust from a PEM/DER file or a folder of them, or the system store when
    ``path`` is None."""
    if path is not None and Path(path).is_dir():
        return load_trust_folder(str(path))
    if path is not None:
        certs = read_certificates(path)
        if not certs:
            raise InputError("no certificates found", path=path,
                             expected="CA or self-signed certificates in PEM")
        return AgentTrust(source=f"file:{Path(path).name}", anchors=tuple(certs))
    paths = ssl.get_default_verify_paths()
    candidates = [p for p in (paths.cafile, paths.openssl_cafile) if p]
    for candidate in candidates:
        if Path(candidate).is_file():
            try:
                with warnings.catch_warnings():
                    # some distribution roots carry non-positive serials; still roots
                    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                    anchors = tuple(read_certificates(candidate, skip_unreadable=True))
                return AgentTrust(source="system", anchors=anchors)
            except InputError:
                continue
    return AgentTrust(source="system", anchors=())


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    return cert.issuer == issuer.subject and signature_verifies(cert, issuer)


def _openssl_verify(chain: Sequence[x509.Certificate], trust: AgentTrust,
                    at: dt.datetime) -> tuple[bool, str | None]:
    store = trust.openssl_store(at)
    leaf = crypto.X509.from_cryptography(chain[0])
    rest = [crypto.X509.from_cryptography(c) for c in chain[1:]]
    try:
        crypto.X509StoreContext(store, leaf, rest).verify_certificate()
        return True, None
    except crypto.X509StoreContextError as exc:
        return False, str(exc.args[0] if exc.args else exc)


def _key_usage_refused(leaf: x509.Certificate) -> str | None:
    """Chromium's TLS stack (BoringSSL) checks the leaf's keyUsage against the handshake,
    whatever the trust: current Chromium negotiates only key exchanges that the server signs
    (ECDHE, TLS 1.3; RSA key exchange is no longer offered), so a keyUsage without
    digitalSignature fails with ERR_SSL_KEY_USAGE_INCOMPATIBLE, for RSA as for EC keys.
    No keyUsage at all allows every use."""
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension):
        return "its key usage extension does not parse"
    if usage.digital_signature:
        return None
    return ("its key usage does not include digitalSignature, which a TLS server's "
            "certificate needs to sign the handshake: browsers refuse it "
            "(ERR_SSL_KEY_USAGE_INCOMPATIBLE)")


def _ca_key_usage(_policy: object, _cert: x509.Certificate,
                  usage: x509.KeyUsage | None) -> None:
    """A CA's keyUsage may be absent (Chromium accepts that); if present it must allow
    certificate signing."""
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("a CA's key usage must include keyCertSign")


def _browser_policy(builder: PolicyBuilder) -> PolicyBuilder:
    """cryptography's web-PKI profile (CA/Browser Forum + RFC 5280), relaxed only where
    Chromium is proven laxer by the trust corpus (tests/test_trust_corpus.py): a CA without
    keyUsage, authorityKeyIdentifier or subjectKeyIdentifier, a leaf without
    authorityKeyIdentifier, and a leaf that asserts cA (Chromium does not refuse it).
    The leaf's keyUsage is judged by :func:`_key_usage_refused`, as the TLS stack does."""
    ca_policy = (ExtensionPolicy.webpki_defaults_ca()
                 .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
                 .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
                 .may_be_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None))
    ee_policy = (ExtensionPolicy.webpki_defaults_ee()
                 .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
                 .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
                 .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, None))
    return builder.extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)


def _names_to_verify(leaf: CertificateFacts, host: str) -> list[x509.GeneralName]:
    """The names to verify the chain for, best first: ``host`` itself when the leaf covers
    it (an address as an iPAddress, as browsers match it), else the names the leaf does
    carry, so that a name problem is reported once, by the name checks."""
    if covers_host(leaf, host):
        address = host_address(host)
        return [x509.IPAddress(address) if address is not None else x509.DNSName(host)]
    return [*(x509.DNSName(n.replace("*.", "wildcard.", 1)) for n in leaf.san_dns),
            *(x509.IPAddress(a) for a in san_addresses(leaf))]


def _browser_verify(chain: Sequence[x509.Certificate], trust: AgentTrust, host: str,
                    at: dt.datetime, leaf: CertificateFacts) -> str | None:
    """Why a browser refuses the chain for a TLS server (path building with the server
    purpose, basic and name constraints, path length, validity, EKU on every
    certificate, critical extensions), or None. The host name is checked separately
    (the name checks report it), so a leaf is verified for a name it does carry."""
    names = _names_to_verify(leaf, host)
    if not names:
        return None  # no SAN at all: a name problem, reported by the name checks
    builder = _browser_policy(PolicyBuilder().store(Store(list(trust.anchors))).time(at))
    for name in names:
        try:
            verifier = builder.build_server_verifier(name)
        except ValueError:
            continue  # an entry the verifier takes for no name ("a_b", "::" as a DNS name)
        try:
            verifier.verify(chain[0], list(chain[1:]))
            return None
        except (VerificationError, ValueError) as exc:
            return str(exc)
    return "no name in its subject alternative names is one the chain can be verified for"


def signature_problem(chain: Sequence[x509.Certificate],
                      anchors: Sequence[x509.Certificate] = ()) -> str | None:
    """The first certificate of a chain as sent (leaf first) whose signature the key of its
    issuer does not verify, in words; the issuer found by name: the certificate itself when
    it is self-issued, one sent with it, or one of ``anchors``. None when every certificate
    whose issuer is at hand verifies (an issuer that is nowhere is a completeness problem,
    which the chain checks report)."""
    pool = (*chain, *anchors)
    for position, cert in enumerate(chain):
        issuers = [c for c in pool if c.subject == cert.issuer]
        if not issuers or any(signature_verifies(cert, c) for c in issuers):
            continue
        which = LEAF_WORDS if position == 0 else f"certificate {position + 1} of the chain"
        if cert.issuer == cert.subject:
            return (f"{which} is self-issued (issuer = subject), and its signature does not "
                    "verify with its own key")
        return (f"{which} names {dn_text(cert.issuer)} as its issuer, and that CA's key does "
                "not verify its signature")
    return None


def _serves_tls(leaf: x509.Certificate) -> bool:
    """No extended key usage, or one that names serverAuth (or any purpose)."""
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    except (ValueError, x509.DuplicateExtension):
        return False
    return (x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usages
            or x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages)


def check_chain(chain: Sequence[x509.Certificate], trust: AgentTrust, host: str,
                at: dt.datetime, *, leaf: CertificateFacts | None = None) -> ChainFacts:
    """Order, completeness and trust of a chain as sent, leaf first (``leaf``: the leaf's
    facts, when the caller has them already)."""
    facts = _check_chain(chain, trust, host, at, leaf)
    problem = signature_problem(chain, trust.anchors)
    if problem is None:
        return facts
    # a signature that does not verify is the chain's problem, not a missing certificate;
    # the agents may still trust this very certificate (browsers then never check it)
    trusted_itself = facts.trust == TRUSTED and facts.anchor == fingerprint(chain[0])
    return replace(facts, missing_intermediate=False, untrusted_root=None,
                   trust=TRUSTED if trusted_itself else UNTRUSTED,
                   reason=None if trusted_itself else problem, bad_signature=problem)


def _check_chain(chain: Sequence[x509.Certificate], trust: AgentTrust, host: str,
                 at: dt.datetime, leaf: CertificateFacts | None) -> ChainFacts:
    order_ok = all(chain[i].issuer == chain[i + 1].subject for i in range(len(chain) - 1))
    last = chain[-1]
    anchor = trust.by_fingerprint.get(fingerprint(last))
    if anchor is None:
        anchor = next((a for a in trust.anchors if _issued_by(last, a)), None)
    ends_in_root = last.issuer == last.subject and signature_verifies(last, last)
    # An intermediate was sent when any certificate after the leaf is a CA below a root;
    # then what the trust lacks is the root, not an intermediate.
    sent_intermediate = any(c.issuer != c.subject for c in chain[1:])
    missing = (not ends_in_root and anchor is None and not sent_intermediate
               and not any(_issued_by(last, c) for c in chain[:-1]))
    untrusted_root = None
    if anchor is None and not missing and chain[0].issuer != chain[0].subject:
        top = last if ends_in_root else None
        untrusted_root = dn_text(top.subject if top is not None else last.issuer)
    ok, reason = _openssl_verify(chain, trust, at)
    if not ok and reason == "unsuitable certificate purpose":
        reason = (None if _serves_tls(chain[0]) else _EKU_REFUSED) or _key_usage_refused(
            chain[0])
        reason = reason or ("a CA certificate in the chain does not allow TLS server "
                            "authentication (its extended key usage excludes serverAuth), "
                            "which browsers require")
    weak = next((c for c in chain if c.issuer != c.subject
                 and signature_hash(c) in _REJECTED_HASHES), None)
    if ok and weak is not None:
        ok, reason = False, (f"signed with {(signature_hash(weak) or '').upper()}, "
                             "which browsers reject")
    if ok and not _serves_tls(chain[0]):
        ok, reason = False, _EKU_REFUSED
    if ok:
        refused_usage = _key_usage_refused(chain[0])
        if refused_usage:
            ok, reason = False, refused_usage
    if not ok:
        return ChainFacts(order_ok, missing, UNTRUSTED, reason,
                          fingerprint(anchor) if anchor else None, untrusted_root)
    if fingerprint(chain[0]) in trust.fingerprints:
        # the agents trust this very certificate (a self-signed one put into their trusted
        # roots): browsers accept it; RFC 5280 verifiers refuse a leaf as its own anchor
        return ChainFacts(order_ok, False, TRUSTED, None, fingerprint(chain[0]))
    refused = _browser_verify(chain, trust, host, at, leaf or analyse_certificate(chain[0]))
    return ChainFacts(order_ok, missing, UNTRUSTED if refused else TRUSTED, refused,
                      fingerprint(anchor) if anchor else None)
