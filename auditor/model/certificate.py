"""What the rules know about one certificate, and the name checks a browser makes on it.

Built from the DER by :func:`auditor.collect.certs.analyse`; plain data from then on.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class CertificateFacts:
    """Everything the rules need to know about one certificate, plus its PEM."""

    fingerprint_sha256: str
    pem: str
    subject: str
    subject_cn: str | None
    issuer: str
    serial: str
    not_before: str
    not_after: str
    key_type: str
    key_size: int | None
    curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    signer_key_type: str
    self_issued: bool
    self_signed: bool
    is_ca: bool
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    wildcard: bool
    parse_warnings: tuple[str, ...] = ()
    #: Whether the keyUsage lets the key sign a TLS handshake (digitalSignature, or no
    #: keyUsage at all); False also when the extension does not parse. None in facts
    #: recorded before the tool read it.
    key_usage_allows_signing: bool | None = None


def classify(cert: CertificateFacts) -> str:
    """``self_signed``, ``rsa_ca_signed`` or ``ec_ca_signed``, by the signer's key type
    (``unknown`` for any other signer): the state of a ``tomcat`` or ``tomcat-ECDSA``
    certificate."""
    if cert.self_signed:
        return "self_signed"
    if cert.signer_key_type == "ec":
        return "ec_ca_signed"
    if cert.signer_key_type == "rsa":
        return "rsa_ca_signed"
    return "unknown"


def parse_time(text: str) -> dt.datetime:
    """The inverse of the timestamps stored in facts."""
    if len(text) != 20:  # strptime takes "500-01-01..." and a final newline
        raise ValueError(f"not a timestamp: {text!r}")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def _match_dns(pattern: str, host: str) -> bool:
    pattern, host = pattern.rstrip(".").lower(), host.rstrip(".").lower()
    if pattern == host:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:] and rest.count(".") >= 1
    return False


def covers_host(facts: CertificateFacts, host: str) -> bool:
    """Is ``host`` covered by a subject alternative name (as Chrome 58+ requires)?"""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(_match_dns(name, host) for name in facts.san_dns)
    return any(ipaddress.ip_address(ip) == address for ip in facts.san_ip)


def cn_only(facts: CertificateFacts, host: str) -> bool:
    """The common name names the host but no SAN does: Chrome 58+ rejects this."""
    return (not covers_host(facts, host) and facts.subject_cn is not None
            and _match_dns(facts.subject_cn, host))
