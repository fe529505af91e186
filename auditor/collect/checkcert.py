"""Before anyone uploads what the CA returned: will this certificate work?

Two parts. The upload checks are what VOS and the CSR decide before a certificate is in
place (its key, the CSR's SANs, serverAuth, the chain to put in tomcat-trust): they are
not rules, because an audit never sees a certificate before its upload. Everything else
is a certificate problem the audit judges too, so check-cert does not judge it here: it
declares one node holding the certificate (:func:`certificate_case`) and the rule files
judge those facts exactly as they judge a cluster's (:mod:`auditor.pipeline.check_cert`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from auditor.collect.certs import analyse, fingerprint, signature_verifies
from auditor.collect.offline import Keystore, chain_for, keystore_facts
from auditor.collect.trust import TRUSTED, AgentTrust, check_chain
from auditor.common.errors import InputError
from auditor.common.inputs import read_input
from auditor.model.certificate import UNIT_KEY_TYPES, parse_time
from auditor.model.cluster import Inventory, Node, default_ports, role_family, roles
from auditor.model.facts import Facts
from auditor.model.presentation import ecdsa_ports

PURPOSES = ("tomcat", "tomcat-ECDSA")
#: An upload check's status. ``unknown``: the inputs cannot decide it (the outcome is then
#: "cannot tell", never OK).
PASS, WARN, FAIL, UNKNOWN = "pass", "warn", "fail", "unknown"
#: The message VOS gives when a signed certificate's SANs differ from its CSR's [118855].
VOS_SAN_MISMATCH = "CSR SAN and Certificate SAN does not match"
#: The version check-cert judges a certificate on: the one the upgrade goes to.
TARGET_VERSION = "11.5(1)"


def _san_names(ext_owner: x509.Certificate | x509.CertificateSigningRequest) -> set[str]:
    try:
        san = ext_owner.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {f"DNS:{n.lower()}" for n in san.get_values_for_type(x509.DNSName)}
    return names | {f"IP:{a}" for a in san.get_values_for_type(x509.IPAddress)}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    message: str


@dataclass(frozen=True)
class CertificateCase:
    """One certificate as check-cert sees it: the upload checks, what to put in
    tomcat-trust first, and facts of one node that holds it (declared, as an offline
    audit declares a downloaded keystore)."""

    checks: tuple[Check, ...]
    tomcat_trust: tuple[str, ...]
    facts: Facts
    host: str
    fingerprint: str
    #: the services that present it
    services: tuple[str, ...]
    #: every service of the node check-cert declares (those of both purposes)
    node_services: tuple[str, ...] = ()
    #: the node's certificate of the other purpose was given (``--tomcat`` /
    #: ``--tomcat-ecdsa``); without it what depends on that certificate is unknown
    other_given: bool = False
    #: ``tomcat`` or ``tomcat-ECDSA``
    purpose: str = "tomcat"


def read_csr(path: str) -> x509.CertificateSigningRequest:
    """A PEM or DER certificate signing request, or a clear error."""

    data = read_input(path, "pem")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError:
        raise InputError("not a certificate signing request", path=path,
                         expected="the CSR downloaded from OS Administration (PEM or DER)"
                         ) from None


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def purpose_services(family: str, purpose: str) -> tuple[str, ...]:
    """The ports that present ``purpose`` to browsers on 11.5 (model/presentation.py)."""
    if purpose == "tomcat-ECDSA":
        return ecdsa_ports(family)
    return tuple(s for s in default_ports(family) if s not in ecdsa_ports(family))


def other_purpose(purpose: str) -> str:
    """The node's other identity certificate: ``tomcat`` beside ``tomcat-ECDSA``."""
    return next(p for p in PURPOSES if p != purpose)


def check_other(other: Sequence[x509.Certificate], purpose: str, *,
                path: str | None = None) -> None:
    """Refuse, as an input error, a certificate given as the node's other one (``--tomcat``
    beside a ``tomcat-ECDSA``, ``--tomcat-ecdsa`` beside a ``tomcat``) whose key does not
    fit that purpose."""
    if not other:
        return
    kind = other_purpose(purpose)
    got = analyse(other[0]).key_type
    if got != UNIT_KEY_TYPES[kind]:
        raise InputError(f"not a {kind} certificate (its key is {got.upper()})", path=path,
                         field=f"--{kind.lower()}",
                         expected=f"the node's {kind} certificate "
                         f"({'an EC' if UNIT_KEY_TYPES[kind] == 'ec' else 'an RSA'} key), "
                         "as OS Administration > Certificate Management downloads it")


def _issuer_of(cert: x509.Certificate,
               candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    return next((c for c in candidates if c.subject == cert.issuer
                 and signature_verifies(cert, c)), None)


def _anchor(top: x509.Certificate, pool: Sequence[x509.Certificate],
            trusted: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """Where the chain ending in ``top`` (as :func:`chain_for` built it) is anchored: ``top``
    itself when it is a root, the root in ``pool`` that issued it, or a certificate of the
    agents' trust that issued it; None when no certificate at hand issued it."""
    if top.issuer == top.subject:
        return top
    found = _issuer_of(top, [c for c in pool if c.issuer == c.subject])
    return found if found is not None else _issuer_of(top, trusted)


def certificate_case(signed: Sequence[x509.Certificate], purpose: str, *,
                     other: Sequence[x509.Certificate] = (),
                     csr: x509.CertificateSigningRequest | None = None,
                     chain: Sequence[x509.Certificate] = (), host: str | None = None,
                     role: str | None = None, trust: AgentTrust | None = None,
                     at: dt.datetime | None = None) -> CertificateCase:
    """The upload checks of a signed ``tomcat`` / ``tomcat-ECDSA`` certificate, and the
    facts of one node of ``role`` holding it, and ``other`` (the node's certificate of the
    other purpose, then its chain; empty: not known), presenting each where 11.5 does."""
    if purpose not in PURPOSES:
        raise InputError(f"{purpose!r} is not a certificate purpose",
                         field="--purpose", expected="tomcat or tomcat-ECDSA")
    check_other(other, purpose)
    other_leaf = other[0] if other else None
    role = role if role is not None else roles()[0]
    if role not in roles():
        raise InputError(f"{role!r} is not a role", field="--role",
                         expected=", ".join(roles()))
    at = at or dt.datetime.now(dt.timezone.utc)
    leaf, *extra = signed
    facts = analyse(leaf)
    checks: list[Check] = []

    if csr is not None:
        if not csr.is_signature_valid:
            checks.append(Check("csr", FAIL, "the CSR's own signature does not verify"))
        elif _spki(csr.public_key()) == _spki(leaf.public_key()):
            checks.append(Check("csr", PASS, "the certificate carries the CSR's key"))
        else:
            checks.append(Check("csr", FAIL, "the certificate is for another key than the "
                                "CSR: upload fails (it does not match the node's private key)"))
        wanted, got = _san_names(csr), _san_names(leaf)
        if wanted != got:
            differ = "; ".join(part for part in (
                "missing " + ", ".join(sorted(wanted - got)) if wanted - got else "",
                "added " + ", ".join(sorted(got - wanted)) if got - wanted else "") if part)
            checks.append(Check("csr-san", FAIL, f"VOS refuses the upload: \"{VOS_SAN_MISMATCH}"
                                f"\" (the CA changed the subject alternative names: {differ}); "
                                "have it signed again keeping the CSR's SANs"))
        else:
            checks.append(Check("csr-san", PASS, "the subject alternative names are the CSR's"))

    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        checks.append(Check("eku", PASS, "no extended key usage: not limited"))
    else:
        if x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usages:
            checks.append(Check("eku", PASS, "extended key usage includes serverAuth"))
        else:
            names = ", ".join(getattr(u, "_name", u.dotted_string) for u in usages)
            checks.append(Check("eku", FAIL, f"extended key usage ({names or 'empty'}) lacks "
                                "serverAuth (TLS Web Server Authentication): browsers refuse "
                                "it for a web server; ask the CA for a web server template"))

    checks += [Check("x509", WARN, note) for note in facts.parse_warnings]

    want = UNIT_KEY_TYPES[purpose]
    key = f"{facts.key_type.upper()} {facts.curve or facts.key_size}"
    if facts.key_type != want:
        checks.append(Check("key", FAIL, f"{key} key: {purpose} needs an "
                            f"{'EC (P-256 or P-384)' if want == 'ec' else 'RSA'} key"))
    elif want == "ec" and facts.curve not in ("secp256r1", "secp384r1"):
        checks.append(Check("key", WARN, f"{key}: VOS generates P-256 or P-384 keys"))
    else:
        checks.append(Check("key", PASS, f"{key} key fits {purpose}"))

    if facts.self_issued and not facts.self_signed:
        checks.append(Check("signer", FAIL, "self-issued, but its own key does not verify "
                            "its signature: neither what a CA returns nor what VOS makes "
                            "(damaged or forged)"))
    elif purpose == "tomcat-ECDSA":
        if facts.self_signed:
            checks.append(Check("signer", WARN, "self-signed, not what the CA returned"))
        else:
            signer = "ECDSA" if facts.signer_key_type == "ec" else facts.signer_key_type.upper()
            # what an RSA signature means for the gadgets, the rules say (FAQ row 2)
            checks.append(Check("signer", PASS if signer == "ECDSA" else WARN,
                                f"signed with {signer} ({facts.signature_algorithm})"))

    pool = [*extra, *chain, *other[1:]]
    trusted = trust.anchors if trust is not None else ()
    full = chain_for(leaf, pool)
    top = full[-1]
    root = _anchor(top, pool, trusted)
    upload = []
    if root is None and not (extra or chain):
        # nothing about the CA was given: its issuer may be a root (nothing is missing) or
        # an intermediate (then it is); neither is known, so neither is said
        checks.append(Check("chain", UNKNOWN, f"issued by {top.issuer.rfc4514_string()}, "
                            "whose certificate was not given: whether that is a root (the "
                            "chain is complete) or an intermediate (it and its root go into "
                            "tomcat-trust) cannot be told; give the CA's certificates with "
                            "--chain"))
    elif root is None:
        checks.append(Check("chain", FAIL, f"the chain stops at {top.issuer.rfc4514_string()}"
                            ": its certificate is missing (add it with --chain)"))
    else:
        names = [c for c in (root, *reversed(full[1:])) if c is not leaf]
        upload = [f"{c.subject.rfc4514_string()} ({'root' if c is root else 'intermediate'},"
                  f" SHA-256 {fingerprint(c)[:16]})" for c in names]
        checks.append(Check("chain", PASS, f"the chain reaches the root "
                            f"{root.subject.rfc4514_string()}" if upload else "self-signed"))

    if at < parse_time(facts.not_before):
        checks.append(Check("validity", FAIL, f"not valid before {facts.not_before}"))
    if root is not None:
        # judged as browsers judge it with the root trusted: what no trust store can fix
        # (a key usage Chromium refuses is a network error there, not a prompt to accept)
        intrinsic = check_chain(full, AgentTrust("assumed", (root,)),
                                host or next(iter((*facts.san_dns, *facts.san_ip)), ""), at)
        if intrinsic.trust != TRUSTED:
            checks.append(Check("browsers", FAIL, "browsers refuse this chain even where "
                                f"its root is trusted: {intrinsic.reason}"))

    if trust is None:
        # assume the agents' browsers trust the CAs' roots at hand; never a self-signed
        # certificate itself, which no browser trusts before someone puts it there
        roots = [r for r in (root, *_other_root(other_leaf, pool))
                 if r is not None and r is not leaf and r is not other_leaf]
        trust = AgentTrust("assumed", tuple({fingerprint(r): r for r in roots}.values()))
    name = host or next(iter((*facts.san_dns, *facts.san_ip)), facts.subject_cn) or "node"
    family = role_family(role)
    services = purpose_services(family, purpose)
    both = tuple(s for s in default_ports(family, all_ports=True)
                 if s in services or s in purpose_services(family, other_purpose(purpose)))
    node = Node(name, role, ports={s: default_ports(family, all_ports=True)[s] for s in both},
                only_listed_ports=True)
    inventory = Inventory("check-cert", TARGET_VERSION, (node,))
    mine, theirs = (leaf, other_leaf)
    rsa, ec = (mine, theirs) if purpose == "tomcat" else (theirs, mine)
    store = Keystore(rsa, ec, tuple(pool))
    declared = keystore_facts(inventory, {name: store}, trust=trust, at=at)
    return CertificateCase(tuple(checks), tuple(upload), declared, name, fingerprint(leaf),
                           services, both, other_leaf is not None, purpose)


def _other_root(other_leaf: x509.Certificate | None,
                pool: Sequence[x509.Certificate]) -> tuple[x509.Certificate | None, ...]:
    """The root at hand of the other certificate's chain (none for a self-signed one)."""
    if other_leaf is None:
        return ()
    return (_anchor(chain_for(other_leaf, pool)[-1], pool, ()),)
