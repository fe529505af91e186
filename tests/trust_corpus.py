"""Chain shapes that browsers accept or refuse, built with cryptography: the trust corpus.

Every shape is one server's identity (leaf, key, the chain it sends) under roots that the
agents (and the test's Chromium) trust; a shape with :class:`Limits` is a server that
accepts only some protocol versions, cipher suites, key-exchange groups or signature
algorithms. ``test_trust_corpus.py`` serves each on loopback and compares the auditor's
judgement with what headless Chromium does.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from auditor.lab import pki

HOST = "node.corpus.example"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)
SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class Identity:
    cert: x509.Certificate
    key: pki.PrivateKey
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class Limits:
    """What a server accepts beyond its certificates, in OpenSSL's names; None: OpenSSL's
    default (every version from TLS 1.0 up, at security level 0)."""

    groups: str | None = None
    #: TLS 1.2 and older: an OpenSSL cipher string
    ciphers: str | None = None
    tls13_suites: str | None = None
    #: the lowest and the highest protocol version: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3
    versions: tuple[str, str] | None = None
    sigalgs: str | None = None


@dataclass(frozen=True)
class Shape:
    name: str
    #: the server's identities (two: a dual-certificate port, the RSA one first)
    identities: tuple[Identity, ...]
    #: the roots the agents trust for this shape
    roots: tuple[x509.Certificate, ...]
    host: str = HOST
    #: what the server accepts, where the shape is about that rather than the chain
    limits: Limits | None = None


def _usage(*names: str) -> x509.KeyUsage:
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                           "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                           "encipher_only", "decipher_only"), False)
    flags.update(dict.fromkeys(names, True))
    return x509.KeyUsage(**flags)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trust corpus"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(cn: str, key: pki.PrivateKey, *, issuer: Identity | None = None,
                ca: bool | None = False, path_length: int | None = None,
                usage: tuple[str, ...] | None = None, eku: tuple | None = (SERVER,),
                san: tuple[str | x509.GeneralName, ...] | None = (),
                not_before: dt.datetime | None = None,
                not_after: dt.datetime | None = None,
                extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
                key_identifiers: bool = True) -> Identity:
    """One certificate; ``ca=None`` leaves basicConstraints out, ``usage=None`` keyUsage,
    ``eku=None`` extendedKeyUsage; ``san=()`` names no SAN (CAs), a leaf passes its own (a
    text is a DNS name, anything else a general name as given: ``x509.IPAddress``);
    ``key_identifiers=False`` leaves out the subject and authority key identifiers."""
    subject = _name(cn)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY)
               .not_valid_after(not_after or NOW + 300 * DAY))
    if key_identifiers:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if issuer is not None and key_identifiers:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.key.public_key()), critical=False)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length),
                                        critical=True)
    if usage is not None:
        builder = builder.add_extension(_usage(*usage), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) if isinstance(n, str) else n
                                         for n in san]), critical=False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    signer = issuer.key if issuer else key
    cert = builder.sign(signer, hashes.SHA384() if isinstance(signer, ec.EllipticCurvePrivateKey)
                        else hashes.SHA256())
    chain = () if issuer is None else tuple(
        c for c in (issuer.cert, *issuer.chain) if c.issuer != c.subject)
    return Identity(cert, key, chain)


def _key(label: str, kind: str = "rsa") -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    return pki.key(f"corpus-{label}", kind)


CA_USAGE = ("digital_signature", "key_cert_sign", "crl_sign")
RSA_LEAF = ("digital_signature", "key_encipherment")
EC_LEAF = ("digital_signature",)


def root(label: str = "root", **kw) -> Identity:
    kw.setdefault("ca", True)
    kw.setdefault("usage", CA_USAGE)
    kw.setdefault("eku", None)
    return certificate(f"Corpus {label} CA", _key(label), **kw)


def intermediate(issuer: Identity, label: str = "issuing", **kw) -> Identity:
    kw.setdefault("ca", True)
    kw.setdefault("usage", CA_USAGE)
    kw.setdefault("eku", None)
    return certificate(f"Corpus {label} CA", _key(label), issuer=issuer, **kw)


def leaf(issuer: Identity, kind: str = "rsa", host: str = HOST, **kw) -> Identity:
    kw.setdefault("usage", RSA_LEAF if kind == "rsa" else EC_LEAF)
    kw.setdefault("san", (host,))
    return certificate(host, _key(f"leaf-{kind}", kind), issuer=issuer, **kw)


@functools.cache
def shapes() -> dict[str, Shape]:
    anchor = root()
    issuing = intermediate(anchor)
    ec_issuing = intermediate(anchor, "ec issuing")
    made = [
        Shape("valid-rsa", (leaf(issuing),), (anchor.cert,)),
        Shape("valid-ec", (leaf(ec_issuing, "ec"),), (anchor.cert,)),
        Shape("valid-rsa-without-key-usage", (leaf(issuing, usage=None),), (anchor.cert,)),
        Shape("valid-leaf-under-root", (leaf(anchor),), (anchor.cert,)),
        Shape("intermediate-eku-client-auth-only",
              (leaf(intermediate(anchor, "client only", eku=(CLIENT,))),), (anchor.cert,)),
        Shape("intermediate-eku-server-auth",
              (leaf(intermediate(anchor, "server eku", eku=(SERVER,))),), (anchor.cert,)),
        Shape("rsa-leaf-key-cert-sign-only", (leaf(issuing, usage=("key_cert_sign",)),),
              (anchor.cert,)),
        Shape("rsa-leaf-key-encipherment-only", (leaf(issuing, usage=("key_encipherment",)),),
              (anchor.cert,)),
        Shape("ec-leaf-key-encipherment-only",
              (leaf(ec_issuing, "ec", usage=("key_encipherment",)),), (anchor.cert,)),
        Shape("ec-leaf-key-agreement-only",
              (leaf(ec_issuing, "ec", usage=("key_agreement",)),), (anchor.cert,)),
        Shape("ec-leaf-key-encipherment-only-beside-valid-rsa",
              (leaf(issuing), leaf(ec_issuing, "ec", usage=("key_encipherment",))),
              (anchor.cert,)),
        Shape("leaf-eku-client-auth-only", (leaf(issuing, eku=(CLIENT,)),), (anchor.cert,)),
        Shape("expired-leaf", (leaf(issuing, not_after=NOW - DAY,
                                    not_before=NOW - 30 * DAY),), (anchor.cert,)),
        Shape("expired-intermediate",
              (leaf(intermediate(anchor, "expired", not_before=NOW - 60 * DAY,
                                 not_after=NOW - DAY)),), (anchor.cert,)),
        Shape("intermediate-ca-false", (leaf(intermediate(anchor, "not a", ca=False)),),
              (anchor.cert,)),
        Shape("intermediate-without-basic-constraints",
              (leaf(intermediate(anchor, "no bc", ca=None)),), (anchor.cert,)),
        Shape("intermediate-without-key-usage",
              (leaf(intermediate(anchor, "no ku", usage=None)),), (anchor.cert,)),
        Shape("name-constraints-exclude-host",
              (leaf(intermediate(anchor, "constrained", extra=((x509.NameConstraints(
                  permitted_subtrees=None,
                  excluded_subtrees=[x509.DNSName("corpus.example")]), True),))),),
              (anchor.cert,)),
        Shape("name-constraints-permit-host",
              (leaf(intermediate(anchor, "permitted", extra=((x509.NameConstraints(
                  permitted_subtrees=[x509.DNSName("corpus.example")],
                  excluded_subtrees=None), True),))),),
              (anchor.cert,)),
        Shape("path-length-exceeded",
              (leaf(intermediate(intermediate(anchor, "pathlen zero", path_length=0),
                                 "below pathlen")),), (anchor.cert,)),
        Shape("unknown-critical-extension",
              (leaf(issuing, extra=((x509.UnrecognizedExtension(
                  x509.ObjectIdentifier("1.3.6.1.4.1.55555.7"), b"\x05\x00"), True),)),),
              (anchor.cert,)),
        Shape("unknown-non-critical-extension",
              (leaf(issuing, extra=((x509.UnrecognizedExtension(
                  x509.ObjectIdentifier("1.3.6.1.4.1.55555.8"), b"\x05\x00"), False),)),),
              (anchor.cert,)),
        Shape("wrong-host", (leaf(issuing, host="other.corpus.example"),), (anchor.cert,)),
        Shape("leaf-ca-true", (leaf(issuing, ca=True),), (anchor.cert,)),
        Shape("leaf-without-san", (leaf(issuing, san=()),), (anchor.cert,)),
        Shape("leaf-without-key-identifiers", (leaf(issuing, key_identifiers=False),),
              (anchor.cert,)),
        Shape("intermediate-without-key-identifiers",
              (leaf(intermediate(anchor, "no kid", key_identifiers=False)),), (anchor.cert,)),
        Shape("intermediate-key-usage-without-cert-sign",
              (leaf(intermediate(anchor, "no certsign", usage=("digital_signature",
                                                               "crl_sign"))),), (anchor.cert,)),
        Shape("rsa-leaf-digital-signature-only", (leaf(issuing, usage=("digital_signature",)),),
              (anchor.cert,)),
        Shape("ec-leaf-digital-signature-and-cert-sign",
              (leaf(ec_issuing, "ec", usage=("digital_signature", "key_cert_sign")),),
              (anchor.cert,)),
        Shape("untrusted-root", (leaf(intermediate(root("stranger"), "stranger issuing")),),
              (anchor.cert,)),
    ]
    expired_root = root("expired root", not_before=NOW - 60 * DAY, not_after=NOW - DAY)
    made.append(Shape("expired-root", (leaf(intermediate(expired_root, "under expired")),),
                      (expired_root.cert,)))
    made += offer_shapes(leaf(issuing), leaf(ec_issuing, "ec"), ec_issuing, anchor.cert)
    return {shape.name: shape for shape in made}


TLS12, TLS13 = ("TLSv1.2", "TLSv1.2"), ("TLSv1.3", "TLSv1.3")


def offer_shapes(rsa_leaf: Identity, ec_leaf: Identity, ec_issuing: Identity,
                 anchor: x509.Certificate) -> list[Shape]:
    """Servers whose valid chain does not matter: what they negotiate does. Which of them
    Chromium refuses was checked against it, not assumed: groups (X448, ffdhe2048, P-521:
    refused; P-384, the hybrid X25519MLKEM768: accepted), protocol versions (TLS 1.0, 1.1:
    refused), TLS 1.2 suites (DHE-RSA, CBC with SHA-256, ECDHE-ECDSA with CBC-SHA: refused;
    ECDHE-RSA with CBC-SHA and RSA key exchange with AES-GCM: accepted; P-521 beside
    RSA key exchange: accepted through RSA key exchange), TLS 1.3 AES-CCM: refused, SHA-1
    signatures only, an EC leaf on P-521: refused."""
    p521 = certificate(HOST, _p521_key(), issuer=ec_issuing, usage=EC_LEAF, san=(HOST,))

    def limited(name: str, identity: Identity = rsa_leaf, **limits) -> Shape:
        return Shape(name, (identity,), (anchor,), limits=Limits(**limits))

    return [
        limited("offer-group-x448-only", groups="X448"),
        limited("offer-group-ffdhe2048-only", groups="ffdhe2048"),
        limited("offer-group-p521-only", groups="P-521"),
        limited("offer-group-p521-only-tls12-ecdhe", groups="P-521", ciphers="ECDHE",
                versions=TLS12),
        limited("offer-group-p521-beside-rsa-key-exchange", groups="P-521", versions=TLS12),
        limited("offer-group-p384-only", groups="P-384"),
        limited("offer-group-x25519mlkem768-only", groups="X25519MLKEM768", versions=TLS13),
        limited("offer-tls10-only", versions=("TLSv1", "TLSv1")),
        limited("offer-tls11-only", versions=("TLSv1.1", "TLSv1.1")),
        limited("offer-tls12-dhe-rsa-only", ciphers="DHE-RSA-AES128-GCM-SHA256",
                versions=TLS12),
        limited("offer-tls12-ecdhe-cbc-sha256-only", ciphers="ECDHE-RSA-AES128-SHA256",
                versions=TLS12),
        limited("offer-tls12-rsa-cbc-sha256-only", ciphers="AES128-SHA256", versions=TLS12),
        limited("offer-tls12-ecdhe-ecdsa-cbc-sha-only", ec_leaf,
                ciphers="ECDHE-ECDSA-AES128-SHA", versions=TLS12),
        limited("offer-tls12-ecdhe-rsa-cbc-sha-only", ciphers="ECDHE-RSA-AES128-SHA",
                versions=TLS12),
        limited("offer-tls12-rsa-key-exchange-gcm-only", ciphers="AES128-GCM-SHA256",
                versions=TLS12),
        limited("offer-tls13-aes-ccm-only", tls13_suites="TLS_AES_128_CCM_SHA256",
                versions=TLS13),
        limited("offer-tls12-sha1-signatures-only", sigalgs="RSA+SHA1", versions=TLS12),
        Shape("offer-ec-leaf-on-p521", (p521,), (anchor,)),
    ]


@functools.cache
def _p521_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())
@functools.cache
def address_shapes() -> dict[str, Shape]:
    """Servers reached by address (the URL's host is 127.0.0.1 or [::1], as an inventory may
    give a node): browsers match an address against the certificate's IP address entries
    only, in canonical form, never against a DNS name entry or the common name."""
    anchor = root("address root")
    issuing = intermediate(anchor, "address issuing")
    v4, v6 = x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(
        ipaddress.ip_address("::1"))

    def at(name: str, host: str, san: tuple[str | x509.GeneralName, ...],
           cn: str | None = None) -> Shape:
        return Shape(name, (leaf(issuing, host=cn or host, san=san),), (anchor.cert,), host)

    made = [
        at("ipv4-in-ip-san", "127.0.0.1", (v4,)),
        at("ipv4-in-ip-san-beside-a-dns-name", "127.0.0.1", (HOST, v4)),
        at("ipv4-written-short-in-ip-san", "127.1", (v4,)),
        at("ipv6-in-ip-san", "::1", (v6,)),
        at("ipv6-written-in-full-in-ip-san", "0:0:0:0:0:0:0:1", (v6,)),
        at("ipv4-only-in-a-dns-name-entry", "127.0.0.1", ("127.0.0.1",)),
        at("ipv4-only-in-the-common-name", "127.0.0.1", ()),
        at("ipv4-only-in-the-common-name-beside-a-dns-name", "127.0.0.1", (HOST,)),
        at("ipv4-not-in-ip-san", "127.0.0.1",
           (x509.IPAddress(ipaddress.ip_address("127.0.0.2")),)),
        at("ipv4-as-ipv4-mapped-ipv6-in-ip-san", "127.0.0.1",
           (x509.IPAddress(ipaddress.ip_address("::ffff:127.0.0.1")),)),
        at("ipv6-only-in-the-common-name", "::1", (), cn="::1"),
        at("dns-name-with-only-its-address-in-ip-san", HOST, (v4,)),
    ]
    return {shape.name: shape for shape in made}
