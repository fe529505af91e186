"""Before anyone uploads what the CA returned: will this certificate work?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from auditor.certs import analyse, cn_only, covers_host, fingerprint, parse_time
from auditor.errors import InputError
from auditor.inventory import role_family
from auditor.offline import chain_for
from auditor.trust import TRUSTED, AgentTrust, check_chain

PURPOSES = ("tomcat", "tomcat-ECDSA")
PASS, WARN, FAIL = "pass", "warn", "fail"
#: The message VOS gives when a signed certificate's SANs differ from its CSR's [118855].
VOS_SAN_MISMATCH = "CSR SAN and Certificate SAN does not match"
#: check-cert checks that a rule also makes, and that rule: the check takes the rule's
#: severity (error: fail, warning: warn) and applies where the rule does (its roles and
#: services), so that check-cert and the audit never disagree.
RULE_OF_CHECK = {"key-size": "certificate-rsa-key-below-2048",
                 "hash": "certificate-sha1-signature",
                 "wildcard": "wildcard-certificate-on-finesse"}
#: The service that presents each purpose to browsers, per node family (DOMAIN.md).
_SERVICES = {("uccx", "tomcat"): ("finesse", "notification"),
             ("uccx", "tomcat-ECDSA"): ("live_data",),
             ("socialminer", "tomcat"): ("web",),
             ("socialminer", "tomcat-ECDSA"): ("notification",)}


def rule_status(check: str, role: str, purpose: str) -> str | None:
    """The status a failed ``check`` has for this role and purpose, from its rule file's
    severity and scope; None where the rule does not apply."""
    from auditor.ruleset import load_ruleset

    rule = load_ruleset().rule(RULE_OF_CHECK[check])
    if role not in rule.roles:
        return None
    services = _SERVICES[(role_family(role), purpose)]
    if rule.services is not None and not set(services) & set(rule.services):
        return None
    return {"error": FAIL, "warning": WARN}.get(rule.severity, PASS)


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
class CertVerdict:
    checks: tuple[Check, ...]
    tomcat_trust: tuple[str, ...]
    expected: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)


def read_csr(path: str) -> x509.CertificateSigningRequest:
    """A PEM or DER certificate signing request, or a clear error."""
    from auditor.inputs import read_input

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


def check_certificate(signed: Sequence[x509.Certificate], purpose: str, *,
                      csr: x509.CertificateSigningRequest | None = None,
                      chain: Sequence[x509.Certificate] = (), host: str | None = None,
                      role: str = "uccx-publisher", trust: AgentTrust | None = None,
                      at: dt.datetime | None = None, expiry_window_days: int = 30,
                      ) -> CertVerdict:
    """Every check a signed ``tomcat`` / ``tomcat-ECDSA`` certificate must pass."""
    if purpose not in PURPOSES:
        raise InputError(f"{purpose!r} is not a certificate purpose",
                         field="--purpose", expected="tomcat or tomcat-ECDSA")
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

    want = "ec" if purpose == "tomcat-ECDSA" else "rsa"
    key = f"{facts.key_type.upper()} {facts.curve or facts.key_size}"
    if facts.key_type != want:
        checks.append(Check("key", FAIL, f"{key} key: {purpose} needs an "
                            f"{'EC (P-256 or P-384)' if want == 'ec' else 'RSA'} key"))
    elif want == "rsa" and (facts.key_size or 0) < 2048 and rule_status(
            "key-size", role, purpose):
        checks.append(Check("key", str(rule_status("key-size", role, purpose)),
                            f"{key}: below 2048 bits; CAs and browsers increasingly refuse "
                            "it (rule certificate-rsa-key-below-2048)"))
    elif want == "ec" and facts.curve not in ("secp256r1", "secp384r1"):
        checks.append(Check("key", WARN, f"{key}: VOS generates P-256 or P-384 keys"))
    else:
        checks.append(Check("key", PASS, f"{key} key fits {purpose}"))

    family = role_family(role)
    if purpose == "tomcat-ECDSA":
        if facts.self_signed:
            checks.append(Check("signer", WARN, "self-signed, not what the CA returned"))
        elif facts.signer_key_type == "ec":
            checks.append(Check("signer", PASS, f"signed with ECDSA ({facts.signature_algorithm})"))
        else:
            effect = ("SocialMiner presents it and chat/email breaks (CSCvb58580)"
                      if family == "socialminer" else
                      "UCCX will not present it: Live Data keeps the RSA tomcat certificate, "
                      "and on SocialMiner the same breaks chat/email (CSCvb58580)")
            checks.append(Check("signer", FAIL, f"signed with {facts.signer_key_type.upper()} "
                                f"({facts.signature_algorithm}): {effect}; have it signed by "
                                "a CA that signs EC certificates with ECDSA"))

    pool = [*extra, *chain]
    full = chain_for(leaf, pool)
    top = full[-1]
    root = next((c for c in pool if c.subject == top.issuer and c.issuer == c.subject), None)
    if top.issuer == top.subject:
        root = top
    upload = []
    if root is None:
        checks.append(Check("chain", FAIL, f"the chain stops at {top.issuer.rfc4514_string()}"
                            ": its certificate is missing (add it with --chain)"))
    else:
        names = [c for c in (root, *reversed(full[1:])) if c is not leaf]
        upload = [f"{c.subject.rfc4514_string()} ({'root' if c is root else 'intermediate'},"
                  f" SHA-256 {fingerprint(c)[:16]})" for c in names]
        checks.append(Check("chain", PASS, f"the chain reaches the root "
                            f"{root.subject.rfc4514_string()}" if upload else "self-signed"))

    if host:
        if covers_host(facts, host):
            checks.append(Check("san", PASS, f"a subject alternative name covers {host}"))
        elif cn_only(facts, host):
            checks.append(Check("san", FAIL, f"{host} is only in the common name: Chrome 58+ "
                                "rejects it (NET::ERR_CERT_COMMON_NAME_INVALID)"))
        else:
            checks.append(Check("san", FAIL, f"no subject alternative name covers {host} "
                                f"(SANs: {', '.join(facts.san_dns) or 'none'})"))
    wildcard = rule_status("wildcard", role, purpose) if facts.wildcard else None
    if wildcard:
        checks.append(Check("wildcard", wildcard, "a wildcard certificate: Finesse does not "
                            "support wildcard certificates (the UCCX administration guide; "
                            "unverified) (rule wildcard-certificate-on-finesse)"))

    not_before, not_after = parse_time(facts.not_before), parse_time(facts.not_after)
    if at < not_before:
        checks.append(Check("validity", FAIL, f"not valid before {facts.not_before}"))
    elif not_after <= at:
        checks.append(Check("validity", FAIL, f"expired on {facts.not_after}"))
    elif not_after - at < dt.timedelta(days=expiry_window_days):
        checks.append(Check("validity", WARN, f"expires {facts.not_after}, within "
                            f"{expiry_window_days} days"))
    else:
        checks.append(Check("validity", PASS, f"valid until {facts.not_after}"))

    weak = rule_status("hash", role, purpose) if facts.signature_hash in ("sha1",
                                                                          "md5") else None
    if weak and not facts.self_signed:
        checks.append(Check("hash", weak, f"signed with {facts.signature_hash.upper()}: "
                            "browsers warn about or block it (rule certificate-sha1-signature)"))
    elif weak:
        checks.append(Check("hash", PASS, f"self-signed with {facts.signature_hash.upper()}: "
                            "a browser that trusts it does not check its own signature"))
    else:
        checks.append(Check("hash", PASS, f"signature hash {facts.signature_hash or 'n/a'}"))

    if root is not None:
        # judged as browsers judge it, with the root trusted: what no trust store can fix
        intrinsic = check_chain(full, AgentTrust("assumed", (root,)),
                                host or (facts.san_dns[0] if facts.san_dns else ""), at)
        if intrinsic.trust != TRUSTED:
            checks.append(Check("browsers", FAIL, "browsers refuse this chain even where "
                                f"its root is trusted: {intrinsic.reason}"))
    assumed = trust is None
    if trust is None:
        trust = AgentTrust("assumed", tuple(c for c in (root,) if c is not None))
    browser = check_chain(full, trust, host or (facts.san_dns[0] if facts.san_dns else ""),
                          at)
    trusted = browser.trust == TRUSTED and (host is None or covers_host(facts, host))
    where = ("if the agents' browsers trust the root" if assumed else
             "by the agents' trust given" if trusted else
             f"the agents' trust does not accept it ({browser.reason or 'name'})")
    return CertVerdict(tuple(checks), tuple(upload),
                       tuple(expected_outcomes(purpose, family, facts.signer_key_type,
                                               facts.self_signed, trusted, where)))


def expected_outcomes(purpose: str, family: str, signer: str, self_signed: bool,
                      trusted: bool, where: str) -> list[str]:
    """What agents will get after the upload, from DOMAIN.md's table and FAQ matrix."""
    if purpose == "tomcat":
        gadget = "Finesse desktop" if family == "uccx" else "SocialMiner web page"
        if trusted:
            return [f"{gadget}: works ({where})"]
        return [f"{gadget}: agents are asked to accept the certificate ({where})"]
    rsa_signed = not self_signed and signer != "ec"
    if family == "uccx":
        if rsa_signed:
            return ["Live Data gadget: works if tomcat is trusted: UCCX does not present an "
                    "RSA-signed tomcat-ECDSA, so Live Data keeps the RSA tomcat certificate "
                    "(FAQ row 2)"]
        if trusted:
            return [f"Live Data gadget: works ({where}; FAQ row 3)"]
        return ["Live Data gadget: an extra certificate prompt; accepting fails where "
                f"Finesse's tomcat certificate is trusted (FAQ row 4) ({where})"]
    if rsa_signed:
        return ["chat/email gadget: broken, and the SocialMiner web page does not load "
                "(CSCvb58580, FAQ row 2)"]
    if trusted:
        return [f"chat/email gadget: works ({where})"]
    return [f"chat/email gadget: an extra certificate prompt; accepting works ({where})"]
