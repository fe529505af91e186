"""Installed facts: what the VOS CLI read, joined to what the network showed.

The interface is small on purpose: :func:`installed_facts` turns one CLI reading into
:class:`~auditor.facts.InstalledFacts` plus the certificates it holds, and :func:`refine`
puts them on the nodes of any facts (probed or declared). Installed refines presented:
where the node's keystore was read, the state of ``tomcat`` / ``tomcat-ECDSA`` is the
installed certificate's (source ``installed``); what the endpoints presented stays in the
endpoints, so a rule can tell "installed and not presented" from "presented".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from cryptography import x509

from auditor.certs import CertificateFacts, analyse, fingerprint
from auditor.facts import (
    CertState,
    CliError,
    CommandOutput,
    Facts,
    InstalledFacts,
    NodeFacts,
    TrustEntry,
    classify,
)
from auditor.vos_cli import TRUST_UNIT, CliReading, pem_blocks, software_options

SOURCE = "vos_cli"
#: Evidence kept per command; a VOS CLI prints a few kilobytes.
MAX_EVIDENCE = 256 * 1024

#: No source gives the names of Cisco's COP files (DOMAIN.md), so a COP is recognised by
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


def _certificates(text: str | None, problems: list[str], what: str,
                  found: dict[str, CertificateFacts]) -> list[str]:
    fps = []
    for pem in pem_blocks(text or ""):
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
            facts = analyse(cert)
        except ValueError as exc:
            problems.append(f"{what}: a PEM block is not a certificate ({str(exc)[:120]})")
            continue
        fp = fingerprint(cert)
        found.setdefault(fp, facts)
        fps.append(fp)
    return fps


def installed_facts(reading: CliReading) -> tuple[InstalledFacts, dict[str, CertificateFacts]]:
    """The facts of one reading, and every certificate taken from its PEM blocks."""
    found: dict[str, CertificateFacts] = {}
    problems: list[str] = []
    tomcat = _certificates(reading.output("show cert own tomcat"), problems,
                           "show cert own tomcat", found)
    ecdsa = _certificates(reading.output("show cert own tomcat-ECDSA"), problems,
                          "show cert own tomcat-ECDSA", found)
    trust = []
    for out in reading.outputs:
        prefix = f"show cert trust {TRUST_UNIT}/"
        if out.command.startswith(prefix):
            trust.append(TrustEntry(out.command[len(prefix):],
                                    tuple(_certificates(out.output, problems, out.command,
                                                        found))))
    version_text = reading.output("show version active")
    options = software_options(version_text or "")
    cop, basis = cop_from_options(options)
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
        transcript=transcript), found


def _refined_state(node: NodeFacts, which: str, leaf: str | None,
                   certificates: Mapping[str, CertificateFacts]) -> CertState:
    current: CertState = getattr(node, which)
    if leaf is None:
        return current
    state = classify(certificates[leaf])
    seen_on = tuple(e.service for e in node.endpoints
                    if any(h.ok and h.chain and h.chain[0] == leaf for h in e.handshakes))
    notes = []
    if current.source == "observed" and current.leaf and current.leaf != leaf:
        notes.append(f"the network presents another certificate ({current.leaf[:16]}, "
                     f"{current.state}) than the installed one; were the services restarted "
                     "after the upload?")
    declared = node.declared.get(which)
    if declared and declared != state:
        notes.append(f"declared {declared}, but the node holds {state}")
    return CertState(state, "installed", leaf, seen_on, "; ".join(notes) or None)


def refine(facts: Facts, readings: Sequence[CliReading]) -> Facts:
    """Put what the VOS CLI read on the nodes of ``facts``."""
    by_host = {r.host: r for r in readings}
    certificates = dict(facts.certificates)
    nodes = []
    for node in facts.nodes:
        reading = by_host.get(node.host)
        if reading is None:
            nodes.append(node)
            continue
        installed, found = installed_facts(reading)
        for fp, cert in found.items():
            certificates.setdefault(fp, cert)
        nodes.append(replace(
            node, installed=installed,
            tomcat=_refined_state(node, "tomcat", installed.tomcat, certificates),
            tomcat_ecdsa=_refined_state(node, "tomcat_ecdsa", installed.tomcat_ecdsa,
                                        certificates)))
    return replace(facts, nodes=tuple(nodes), certificates=dict(sorted(certificates.items())))
