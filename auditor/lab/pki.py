"""Certificate authorities and certificates for the lab, made with cryptography."""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_KEYS: dict[str, PrivateKey] = {}
_KEYS_LOCK = threading.Lock()


def key(label: str, kind: str) -> PrivateKey:
    """A private key, made once per process and label (RSA 2048 or EC P-256)."""
    with _KEYS_LOCK:
        cache_key = f"{label}/{kind}"
        if cache_key not in _KEYS:
            if kind == "rsa":
                _KEYS[cache_key] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            elif kind == "ec":
                _KEYS[cache_key] = ec.generate_private_key(ec.SECP256R1())
            else:
                raise ValueError(f"unknown key kind {kind!r}")
        return _KEYS[cache_key]


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the chain a server sends after it."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM)
                        for c in (self.cert, *self.chain))

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _resign_sha1(cert: x509.Certificate, signer_key: PrivateKey) -> x509.Certificate:
    """cryptography no longer signs with SHA-1; the hygiene lab needs such a certificate,
    so pyOpenSSL re-signs the same to-be-signed content."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = crypto.X509.from_cryptography(cert)
        legacy.sign(crypto.PKey.from_cryptography_key(signer_key), "sha1")
    return legacy.to_cryptography()


def _name(common_name: str, unit: str = "UCCX lab") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uccx-cert-auditor lab"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


_SERIAL = iter(range(0x1000, 0x7FFFFFFF))
_SERIAL_LOCK = threading.Lock()


def _serial() -> int:
    with _SERIAL_LOCK:
        return next(_SERIAL) * 0x10000 + x509.random_serial_number() % 0x10000


def issue(
    common_name: str,
    subject_key: PrivateKey,
    *,
    issuer: Issued | None = None,
    san: tuple[str | x509.GeneralName, ...] | None = None,
    ca: bool = False,
    path_length: int | None = None,
    hash_name: str = "sha256",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    unit: str = "UCCX lab",
) -> Issued:
    """Issue a certificate; ``issuer=None`` makes it self-signed.

    ``san=None`` puts the common name into the SAN; ``san=()`` leaves the SAN out; a text
    entry is a DNS name, any other a general name as given (``x509.IPAddress``).
    """
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=730)
    subject = _name(common_name, unit)
    signer_key = issuer.key if issuer else subject_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(subject_key.public_key())
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()),
                       critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False), critical=True)
    else:
        is_rsa = isinstance(subject_key, rsa.RSAPrivateKey)
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=is_rsa, data_encipherment=False,
                          key_agreement=not is_rsa, key_cert_sign=issuer is None,
                          crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        names = (common_name,) if san is None else san
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) if isinstance(n, str) else n
                                             for n in names]), critical=False)
    algorithm = {"sha1": hashes.SHA256(), "sha256": hashes.SHA256(),
                 "sha384": hashes.SHA384()}[hash_name]
    cert = builder.sign(signer_key, algorithm)
    if hash_name == "sha1":
        cert = _resign_sha1(cert, signer_key)
    chain: tuple[x509.Certificate, ...] = ()
    if issuer is not None:
        # a server sends its intermediates, not the root itself
        chain = tuple(c for c in (issuer.cert, *issuer.chain) if c.issuer != c.subject)
    return Issued(cert, subject_key, chain)


def signed_by_another_key(issued: Issued, signer_key: PrivateKey) -> Issued:
    """The same certificate (names, key, serial, validity, extensions) signed by
    ``signer_key`` instead of its issuer's key: a signature that does not verify, as a
    damaged or forged certificate carries."""
    cert = issued.cert
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(cert.public_key()).serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    return Issued(builder.sign(signer_key, hashes.SHA256()), issued.key, issued.chain)


@dataclass(frozen=True)
class Hierarchies:
    """The lab's CAs: an RSA root, an EC root, and an RSA root with an issuing CA."""

    rsa_root: Issued
    ec_root: Issued
    rsa_root2: Issued
    rsa_issuing: Issued

    @property
    def roots(self) -> tuple[Issued, ...]:
        return (self.rsa_root, self.ec_root, self.rsa_root2)


_HIERARCHIES: Hierarchies | None = None
_HIERARCHIES_LOCK = threading.Lock()


def hierarchies() -> Hierarchies:
    """The lab CAs, made once per process."""
    global _HIERARCHIES
    with _HIERARCHIES_LOCK:
        if _HIERARCHIES is None:
            _HIERARCHIES = _make_hierarchies()
    return _HIERARCHIES


def _make_hierarchies() -> Hierarchies:
    rsa_root = issue("Lab RSA Root CA", key("rsa-root", "rsa"), ca=True, unit="PKI",
                     not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3650))
    ec_root = issue("Lab EC Root CA", key("ec-root", "ec"), ca=True, unit="PKI",
                    hash_name="sha384",
                    not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3650))
    rsa_root2 = issue("Lab RSA Root CA 2", key("rsa-root2", "rsa"), ca=True, unit="PKI",
                      not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3650))
    rsa_issuing = issue("Lab RSA Issuing CA", key("rsa-issuing", "rsa"), ca=True,
                        path_length=0, issuer=rsa_root2, unit="PKI",
                        not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1825))
    return Hierarchies(rsa_root, ec_root, rsa_root2, rsa_issuing)
