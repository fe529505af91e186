"""What one X.509 certificate says, as plain facts (cryptography)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from auditor.collect.openssl_private import RSA_WITH_SHA1_OIW
from auditor.common.errors import InputError
from auditor.common.inputs import read_input
from auditor.model.certificate import CertificateFacts

# Signature algorithm OID -> (hash, key type of the signer)
_SIGNATURES: dict[x509.ObjectIdentifier, tuple[str | None, str]] = {
    SignatureAlgorithmOID.RSA_WITH_MD5: ("md5", "rsa"),
    SignatureAlgorithmOID.RSA_WITH_SHA1: ("sha1", "rsa"),
    RSA_WITH_SHA1_OIW: ("sha1", "rsa"),
    SignatureAlgorithmOID.RSA_WITH_SHA224: ("sha224", "rsa"),
    SignatureAlgorithmOID.RSA_WITH_SHA256: ("sha256", "rsa"),
    SignatureAlgorithmOID.RSA_WITH_SHA384: ("sha384", "rsa"),
    SignatureAlgorithmOID.RSA_WITH_SHA512: ("sha512", "rsa"),
    SignatureAlgorithmOID.RSASSA_PSS: (None, "rsa"),
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: ("sha1", "ec"),
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: ("sha224", "ec"),
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: ("sha256", "ec"),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: ("sha384", "ec"),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: ("sha512", "ec"),
    SignatureAlgorithmOID.DSA_WITH_SHA1: ("sha1", "dsa"),
    SignatureAlgorithmOID.DSA_WITH_SHA256: ("sha256", "dsa"),
    SignatureAlgorithmOID.ED25519: (None, "ed25519"),
    SignatureAlgorithmOID.ED448: (None, "ed448"),
}


def _utc(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` with a four-digit year always (strftime writes year 500
    as ``500``, which the facts schema rightly refuses)."""
    v = value.astimezone(dt.timezone.utc)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}Z")


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER, lower-case hex without separators."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _key_facts(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, None
    return "unknown", None, None


def signature_verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Does ``issuer``'s public key verify ``cert``'s signature?"""
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        pass
    # verify_directly_issued_by also insists on names matching; check the bare signature
    # too, so that a lying issuer name does not hide a real signature relationship.
    try:
        key = issuer.public_key()
        algorithm = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
        return cert.issuer == issuer.subject
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _cn(cert: x509.Certificate) -> str | None:
    try:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return str(names[0].value) if names else None


def dn_text(name: x509.Name) -> str:
    """A distinguished name as RFC 4514 text (or a placeholder when it cannot be shown)."""
    return _name(name)


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return "<unparseable name>"


def signature_hash(cert: x509.Certificate) -> str | None:
    """The hash of the certificate's signature (``sha1``, ``sha256``...), if known."""
    oid = cert.signature_algorithm_oid
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        try:
            pss_hash = cert.signature_hash_algorithm
            return pss_hash.name if pss_hash else None
        except UnsupportedAlgorithm:
            return None
    return _SIGNATURES.get(oid, (None, "unknown"))[0]


def analyse(cert: x509.Certificate) -> CertificateFacts:
    """Turn a parsed certificate into :class:`CertificateFacts`."""
    warnings: list[str] = []
    key_type, key_size, curve = _key_facts(cert)
    oid = cert.signature_algorithm_oid
    signer = _SIGNATURES.get(oid, (None, "unknown"))[1]
    sig_hash = signature_hash(cert)
    sig_name = getattr(oid, "_name", None) or oid.dotted_string
    is_ca = False
    dns: list[str] = []
    ips: list[str] = []
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        pass
    except (ValueError, x509.DuplicateExtension) as exc:
        warnings.append(f"extensions: {exc}")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(v).lower() for v in san.get_values_for_type(x509.DNSName)]
        ips = [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    except (ValueError, x509.DuplicateExtension) as exc:
        warnings.append(f"subjectAltName: {exc}")
    self_issued = cert.issuer == cert.subject
    cn = _cn(cert)
    serial = cert.serial_number
    if serial <= 0:
        warnings.append("serial number: not positive, which RFC 5280 forbids (cryptography "
                        "warns that it will refuse to load such a certificate)")
    return CertificateFacts(
        fingerprint_sha256=fingerprint(cert),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=_name(cert.subject),
        subject_cn=cn,
        issuer=_name(cert.issuer),
        serial=format(serial, "x"),
        not_before=_utc(cert.not_valid_before_utc),
        not_after=_utc(cert.not_valid_after_utc),
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        signature_algorithm=sig_name,
        signature_hash=sig_hash,
        signer_key_type=signer,
        self_issued=self_issued,
        self_signed=self_issued and signature_verifies(cert, cert),
        is_ca=is_ca,
        san_dns=tuple(dns),
        san_ip=tuple(ips),
        wildcard=any(name.startswith("*") for name in dns) or bool(cn and cn.startswith("*")),
        parse_warnings=tuple(warnings),
        key_usage_allows_signing=allows_signing(cert),
        critical_extensions=critical_extensions(cert),
    )


def critical_extensions(cert: x509.Certificate) -> tuple[str, ...] | None:
    """The names of the extensions marked critical (an unknown one by its dotted OID);
    None when the extensions do not parse."""
    try:
        extensions = list(cert.extensions)
    except ValueError:
        return None
    names = []
    for ext in extensions:
        if ext.critical:
            name = getattr(ext.oid, "_name", None)
            names.append(name if isinstance(name, str) and name != "Unknown OID"
                         else ext.oid.dotted_string)
    return tuple(sorted(names))


def allows_signing(cert: x509.Certificate) -> bool:
    """Whether the keyUsage lets the key sign a handshake, as Chromium's TLS stack checks
    it (:func:`auditor.collect.trust._key_usage_refused` says why not): digitalSignature
    present, or no keyUsage (every use allowed); an extension that does not parse does
    not allow it."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    except (ValueError, x509.DuplicateExtension):
        return False
    return bool(usage.digital_signature)


#: The parts of a certificate the tool reads, in the order a reader meets them.
_PARTS: tuple[tuple[str, Callable[[x509.Certificate], object]], ...] = (
    ("serial number", lambda c: c.serial_number),
    ("subject", lambda c: (c.subject.rfc4514_string(), c.subject == c.subject)),
    ("issuer", lambda c: (c.issuer.rfc4514_string(), c.issuer == c.issuer)),
    ("validity", lambda c: (c.not_valid_before_utc, c.not_valid_after_utc)),
    ("signature algorithm", lambda c: (c.signature_algorithm_oid, signature_hash(c))),
    ("extensions", lambda c: [(e.oid, e.critical, e.value) for e in c.extensions]),
)


def unreadable_part(cert: x509.Certificate) -> str | None:
    """Which part of a received certificate the X.509 layer cannot read, and why; ``None``
    when every part the tool reads parses. cryptography parses lazily: a certificate that
    OpenSSL accepted in a handshake may still raise when its subject is first compared."""
    for part, read in _PARTS:
        try:
            read(cert)
        except Exception as exc:  # whatever the parser raises on hostile bytes is data
            return f"its {part} does not parse ({type(exc).__name__}: {_brief(exc)})"
    return None


def _brief(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def unreadable_in_chain(chain: Sequence[x509.Certificate]) -> str | None:
    """The first certificate of a chain (leaf first) that does not parse, said for people."""
    for position, cert in enumerate(chain):
        problem = unreadable_part(cert)
        if problem is not None:
            which = "the leaf certificate" if position == 0 else \
                f"certificate {position + 1} of the chain"
            return f"{which} does not parse: {problem}"
    return None


def load_certificate(pem: str) -> x509.Certificate:
    """Parse one PEM certificate stored in facts."""
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def read_certificates(path: str, *, skip_unreadable: bool = False) -> list[x509.Certificate]:
    """Read every certificate in a PEM bundle or a DER file; raise a clear error otherwise,
    also when a certificate's contents do not parse (``skip_unreadable``: leave those out,
    for the system store)."""
    certs = _read_certificate_file(path)
    readable = []
    for position, cert in enumerate(certs, start=1):
        problem = unreadable_part(cert)
        if problem is None:
            readable.append(cert)
        elif not skip_unreadable:
            raise InputError(f"certificate {position} of {len(certs)} does not parse: "
                             f"{problem}", path=path,
                             expected="well-formed X.509 certificates")
    return readable


def _read_certificate_file(path: str) -> list[x509.Certificate]:

    data = read_input(path, "pem")
    if b"-----BEGIN" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except (ValueError, x509.InvalidVersion) as exc:
            raise InputError(f"not a valid PEM certificate bundle: {exc}", path=path,
                             expected="'-----BEGIN CERTIFICATE-----' blocks") from None
        return certs
    try:
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion):
        raise InputError("neither PEM nor DER certificate data", path=path,
                         expected="a PEM bundle or one DER certificate") from None
