"""What the rules know about one certificate, and the name checks a browser makes on it.

Built from the DER by :func:`auditor.collect.certs.analyse`; plain data from then on.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

#: The key each VOS identity unit holds, by the unit's name as the VOS CLI spells it
#: (docs/domain.md: ``tomcat`` is RSA, ``tomcat-ECDSA`` is EC); ``key_type`` words.
UNIT_KEY_TYPES: Mapping[str, str] = {"tomcat": "rsa", "tomcat-ECDSA": "ec"}


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
    #: The extensions marked critical, by name (keyUsage, basicConstraints, ...; an unknown
    #: one by its OID). None in facts recorded before the tool read them, or when the
    #: extensions do not parse.
    critical_extensions: tuple[str, ...] | None = None


def classify(cert: CertificateFacts) -> str:
    """``self_signed``, ``rsa_ca_signed`` or ``ec_ca_signed``, by the signer's key type
    (``unknown`` for any other signer): the state of a ``tomcat`` or ``tomcat-ECDSA``
    certificate; ``signature_invalid`` for a self-issued certificate its own key does not
    verify (it is not self-signed, and no CA signed it either)."""
    if cert.self_signed:
        return "self_signed"
    if cert.self_issued:
        return "signature_invalid"
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


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _url_number(part: str) -> int | None:
    """One part of an IPv4 host as a URL parser reads it: decimal, ``0x`` hex or octal
    with a leading zero (the WHATWG URL standard, which browsers follow)."""
    base, digits = 10, part
    if part[:2].lower() == "0x":
        base, digits = 16, part[2:]
    elif len(part) > 1 and part.startswith("0"):
        base, digits = 8, part[1:]
    if digits == "":
        return 0 if base == 16 else None
    allowed = "0123456789abcdefABCDEF"[:base if base != 16 else 22]
    if not all(c in allowed for c in digits):
        return None
    return int(digits, base)


def _url_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a browser makes of a host whose last label is a number
    (``127.1``, ``0x7f.0.0.1``, ``127.000.000.001``), or None."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4 or _url_number(parts[-1]) is None:
        return None
    numbers = [_url_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = (n for n in numbers if n is not None)
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for place, number in enumerate(head):
        value += number << (8 * (3 - place))
    return ipaddress.IPv4Address(value)


def host_address(host: str) -> Address | None:
    """The IP address a host names, the way a browser reads the host of a URL (IPv6 with or
    without brackets, its zone dropped; IPv4 also in the short, octal and hex forms), or
    None for a DNS name. Certificates name an address only in an iPAddress SAN."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return _url_ipv4(text)


def san_addresses(facts: CertificateFacts) -> tuple[Address, ...]:
    """The iPAddress SANs as addresses; an entry that is not one (a hand-edited facts
    file) names nothing."""
    found = []
    for text in facts.san_ip:
        try:
            found.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    return tuple(found)


def covers_host(facts: CertificateFacts, host: str) -> bool:
    """Is ``host`` covered by a subject alternative name (as Chrome 58+ requires)? An IP
    address is matched against the iPAddress SANs only, in canonical form (``::1`` is
    ``0:0:0:0:0:0:0:1``), never against a DNS SAN or the common name; a DNS name against
    the DNS SANs only."""
    address = host_address(host)
    if address is None:
        return any(_match_dns(name, host) for name in facts.san_dns)
    return address in san_addresses(facts)


def names_exactly(facts: CertificateFacts, host: str) -> bool:
    """Does a SAN entry name ``host`` itself (no wildcard expanded): a DNS SAN equal to the
    name, or an IP SAN equal to the address? How a certificate that names several nodes
    is told from one that covers a host."""
    address = host_address(host)
    if address is not None:
        return address in san_addresses(facts)
    wanted = host.rstrip(".").lower()
    return any(name.rstrip(".").lower() == wanted for name in facts.san_dns)


def cn_only(facts: CertificateFacts, host: str) -> bool:
    """The common name names the host but no SAN does: Chrome 58+ rejects this. Only a DNS
    name is ever matched against the common name."""
    return (host_address(host) is None and not covers_host(facts, host)
            and facts.subject_cn is not None and _match_dns(facts.subject_cn, host))
