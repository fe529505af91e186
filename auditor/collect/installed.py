"""What is installed refines what is presented: a node's keystore merged into probed facts.

The network shows what a server presents; it cannot show what sits in the keystore. On
SocialMiner 11.5 that difference decides chat/email: an RSA-signed ``tomcat-ECDSA`` in the
keystore breaks it (CSCvb58580) whatever port 7443 presents (docs/domain.md). Whoever reads a
keystore (downloaded PEMs, or the VOS CLI collector: :func:`refine_from_cli`) hands an
:class:`InstalledCertificates` per host to :func:`refine`, and every certificate state then
says where it came from: ``observed`` (presented), ``declared`` (the inventory) or
``installed`` (the keystore, with ``installed_from`` naming how it was read and
``presented`` what the network showed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from auditor.collect.certs import analyse, fingerprint
from auditor.collect.vos_cli import (
    TRUST_UNIT,
    CliReading,
    pem_blocks,
    software_options,
    trust_names,
)
from auditor.model.certificate import UNIT_KEY_TYPES, CertificateFacts, classify
from auditor.model.facts import (
    CertState,
    CliError,
    CommandOutput,
    Facts,
    InstalledFacts,
    NodeFacts,
    TrustEntry,
    state_words,
)
from auditor.model.versions import vos_form

SOURCE = "vos_cli"
#: Evidence kept per command; a VOS CLI prints a few kilobytes.
MAX_EVIDENCE = 256 * 1024

#: No source gives the names of Cisco's COP files (docs/domain.md), so a COP is recognised by
#: its name only, conservatively: an installed software option that is a COP file
#: (``.cop`` or ``.cop.sgn``) and names ECDSA. A name that also says rollback, revert,
#: undo, restore or enable is the rollback, not the COP.
COP_NAME = re.compile(r"ecdsa.*\.cop(\.sgn)?$", re.I)
ROLLBACK_NAME = re.compile(r"roll[-_ ]?back|revert|undo|restore|enable", re.I)


def cop_from_options(options: Sequence[str]) -> tuple[bool | None, str | None]:
    """(installed, basis): True only for a COP matched by name; None when nothing says."""
    cops = [o for o in options if COP_NAME.search(o)]
    rollbacks = [o for o in cops if ROLLBACK_NAME.search(o)]
    if rollbacks:
        return None, (f"the installed software options list {rollbacks[0]!r}, which looks "
                      "like the rollback of the ECDSA COP by its name; whether the COP is in "
                      "effect cannot be told from the names")
    if cops:
        return True, (f"installed software option {cops[0]!r} matched by name as the ECDSA "
                      "COP (show version active over the VOS CLI; Cisco publishes no file "
                      "names)")
    return None, None


_ACTIVE_VERSION = re.compile(r"^[ \t]*active master version[ \t]*:([^\r\n]*)",
                             re.IGNORECASE | re.MULTILINE)


def active_version(version_output: str, problems: list[str]) -> str | None:
    """The version the node runs, as ``show version active`` prints it on its "Active
    Master Version:" line (``11.5.1.10000-61``); None when there is no such line. A line
    that does not hold a VOS version is a problem of the reading (garbage), not a version."""
    found = [value.strip() for value in _ACTIVE_VERSION.findall(version_output)]
    if not found:
        return None
    text = found[0]
    if len(set(found)) > 1:
        problems.append(f"show version active: {len(set(found))} different active versions")
        return None
    if not vos_form(text):
        shown = text if len(text) <= 40 else text[:30] + "..."
        problems.append(f"show version active: the active version {shown!r} is not a "
                        "version as VOS prints it (such as 11.5.1.10000-61)")
        return None
    return text


def _certificates(text: str | None, problems: list[str], what: str,
                  found: dict[str, CertificateFacts],
                  parsed: dict[str, x509.Certificate], unit: str | None = None) -> list[str]:
    """The fingerprints of the certificates in ``text``; with ``unit``, only those with the
    unit's key type (:data:`UNIT_KEY_TYPES`): any other is a problem, never installed."""
    fps = []
    for pem in pem_blocks(text or ""):
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
            facts = analyse(cert)
        except ValueError as exc:
            problems.append(f"{what}: a PEM block is not a certificate ({str(exc)[:120]})")
            continue
        fp = fingerprint(cert)
        want = UNIT_KEY_TYPES.get(unit or "")
        if want is not None and facts.key_type != want:
            problems.append(f"{what}: certificate {fp[:16]} has a key of type "
                            f"{_key_words(facts.key_type)}, but {unit} holds an "
                            f"{_key_words(want)} key; it is not taken as the installed {unit}")
            continue
        found.setdefault(fp, facts)
        parsed.setdefault(fp, cert)
        fps.append(fp)
    return fps


def _key_words(key_type: str) -> str:
    return {"rsa": "RSA", "ec": "EC"}.get(key_type, key_type.upper())


def installed_facts(reading: CliReading) -> tuple[InstalledFacts, dict[str, x509.Certificate]]:
    """The facts of one reading, and every certificate taken from its PEM blocks (by
    fingerprint)."""
    found: dict[str, CertificateFacts] = {}
    parsed: dict[str, x509.Certificate] = {}
    problems: list[str] = []
    tomcat = _certificates(reading.output("show cert own tomcat"), problems,
                           "show cert own tomcat", found, parsed, "tomcat")
    ecdsa = _certificates(reading.output("show cert own tomcat-ECDSA"), problems,
                          "show cert own tomcat-ECDSA", found, parsed, "tomcat-ECDSA")
    ipsec = _certificates(reading.output("show cert own ipsec"), problems,
                          "show cert own ipsec", found, parsed)
    trust = []
    for out in reading.outputs:
        prefix = f"show cert trust {TRUST_UNIT}/"
        if out.command.startswith(prefix):
            trust.append(TrustEntry(out.command[len(prefix):],
                                    tuple(_certificates(out.output, problems, out.command,
                                                        found, parsed))))
    held = {entry.name for entry in trust if entry.certificates}
    unread = tuple(name for name in trust_names(reading.output("show cert list trust") or "")
                   if name not in held)
    version_text = reading.output("show version active")
    options = software_options(version_text or "")
    cop, basis = cop_from_options(options)
    version = active_version(version_text or "", problems)
    error = reading.error
    if error is None and not tomcat:
        problems.insert(0, "show cert own tomcat printed no certificate")
    if error is None and problems:
        error = CliError("garbage", "; ".join(problems))
    transcript = tuple(CommandOutput(o.command, o.output if len(o.output) <= MAX_EVIDENCE
                                     else o.output[:MAX_EVIDENCE] + "\n[truncated]")
                       for o in reading.outputs)
    return InstalledFacts(
        source=SOURCE, user=reading.user, error=error,
        tomcat=tomcat[0] if tomcat else None, tomcat_ecdsa=ecdsa[0] if ecdsa else None,
        trust=tuple(trust), options=options, cop_installed=cop, cop_basis=basis,
        transcript=transcript, version=version, ssh_log=reading.log,
        ipsec=ipsec[0] if ipsec else None, trust_unread=unread), parsed


@dataclass(frozen=True)
class InstalledCertificates:
    """One node's installed identity certificates and where they were read."""

    origin: str
    tomcat: x509.Certificate | None
    tomcat_ecdsa: x509.Certificate | None


def _refine_state(node: NodeFacts, which: str, cert: x509.Certificate | None,
                  origin: str) -> CertState:
    presented: CertState = getattr(node, which)
    if cert is None:
        return presented
    state = classify(analyse(cert))
    leaf = fingerprint(cert)
    seen = presented.state
    title = "tomcat" if which == "tomcat" else "tomcat-ECDSA"
    notes = []
    if presented.source == "observed" and seen not in (state, "unknown"):
        notes.append(f"installed {title} is {state_words(state)}; the servers present "
                     f"{state_words(seen)}")
    elif presented.source == "observed" and presented.leaf and presented.leaf != leaf:
        notes.append(f"the network presents another {title} certificate "
                     f"({presented.leaf[:16]}) than the installed one; were the services "
                     "restarted after the upload?")
    declared = node.declared.get(which)
    if declared and declared != state:
        notes.append(f"declared {declared}, but the node holds {state}")
    # where the installed certificate itself was presented
    seen_on = tuple(e.service for e in node.endpoints
                    if any(h.ok and h.chain and h.chain[0] == leaf for h in e.handshakes))
    return CertState(state, "installed", leaf, seen_on, "; ".join(notes) or None,
                     installed_from=origin, presented=seen)


def refine_node(node: NodeFacts, installed: InstalledCertificates) -> NodeFacts:
    """The node with its certificate states taken from its keystore."""
    return replace(node,
                   tomcat=_refine_state(node, "tomcat", installed.tomcat, installed.origin),
                   tomcat_ecdsa=_refine_state(node, "tomcat_ecdsa", installed.tomcat_ecdsa,
                                              installed.origin))


def refine(facts: Facts, installed: Mapping[str, InstalledCertificates]) -> Facts:
    """Facts whose nodes named in ``installed`` carry their keystore's states; the installed
    certificates join the facts' certificates so reports can show them."""
    certificates = dict(facts.certificates)
    for item in installed.values():
        for cert in (item.tomcat, item.tomcat_ecdsa):
            if cert is not None:
                certificates.setdefault(fingerprint(cert), analyse(cert))
    nodes = tuple(refine_node(n, installed[n.host]) if n.host in installed else n
                  for n in facts.nodes)
    return replace(facts, nodes=nodes, certificates=dict(sorted(certificates.items())))


def refine_from_cli(facts: Facts, readings: Sequence[CliReading]) -> Facts:
    """Put what the VOS CLI read on the nodes of ``facts``: the reading itself (evidence,
    options, COP) on ``node.installed``, and the keystore's certificates refine the states
    as any installed source does (:func:`refine`)."""
    by_host = {r.host: r for r in readings}
    nodes = []
    held: dict[str, CertificateFacts] = {}
    keystores: dict[str, InstalledCertificates] = {}
    for node in facts.nodes:
        reading = by_host.get(node.host)
        if reading is None:
            nodes.append(node)
            continue
        installed, parsed = installed_facts(reading)
        nodes.append(replace(node, installed=installed))
        # the trust entries and ipsec are judged too (expiry, the servers' trust): their
        # certificates travel with the facts
        for fp in (installed.ipsec, *(c for e in installed.trust for c in e.certificates)):
            if fp is not None and fp in parsed:
                held.setdefault(fp, analyse(parsed[fp]))
        if installed.tomcat or installed.tomcat_ecdsa:
            keystores[node.host] = InstalledCertificates(
                SOURCE, parsed.get(installed.tomcat or ""),
                parsed.get(installed.tomcat_ecdsa or ""))
    certificates = {**held, **facts.certificates}
    return refine(replace(facts, nodes=tuple(nodes),
                          certificates=dict(sorted(certificates.items()))), keystores)
