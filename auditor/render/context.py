"""Everything a report shows, computed once from the audit (templates only lay it out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.evaluate.gadgets import (
    ALL_GADGETS,
    GADGET_TITLES,
    OUTCOME_WORDS,
    ROLE_TITLES,
    gadgets_of,
    gadgets_served,
)
from auditor.evaluate.gadgets import service_title as _service_title
from auditor.evaluate.plan import plan_of
from auditor.model.audit import Audit
from auditor.model.certificate import CertificateFacts
from auditor.model.facts import EndpointFacts, HandshakeFacts, state_words
from auditor.model.findings import Finding, NodeResult, rules_that_checked
from auditor.model.scope import not_checked, scope_line, scope_of
from auditor.model.verdicts import VERDICT_WORDS
from auditor.render.audit_text import finding_place
from auditor.render.faq import cluster_row, faq_rows, node_rows
from auditor.render.provenance import offline_words, state_origin
from auditor.render.terminal import refused_for_key_type

PROFILE_TITLES = {"browser": "browser (what agents get)", "ecdsa_only": "ECDSA-only client",
                  "rsa_only": "RSA-only client"}
#: The client profiles as the certificate index names them, beside a place.
_PROFILE_NAMES = {"browser": "browser", "ecdsa_only": "ECDSA-only client",
                  "rsa_only": "RSA-only client"}


@dataclass(frozen=True)
class ReportMeta:
    """What the engineer adds for the change ticket; not part of the audit itself."""

    ticket: str | None = None
    operator: str | None = None
    generated_at: str | None = None
    #: whether the HTML report (and the PDF printed from it) carries each certificate's
    #: PEM block (``--no-pem``: fingerprints and fields only)
    pem: bool = True

    @staticmethod
    def now(ticket: str | None = None, operator: str | None = None, *,
            pem: bool = True) -> ReportMeta:
        stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        return ReportMeta(ticket, operator, stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), pem)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _short(host: str) -> str:
    return host.split(".")[0]


def verdict_reason(audit: Audit) -> str:
    """The verdict in one sentence an approver can read."""
    errors = [f for f in audit.findings if f.severity == "error"]
    warnings = [f for f in audit.findings if f.severity == "warning"]
    if errors:
        first = errors[0]
        nodes = sorted({_short(f.node) for f in errors if f.rule_id == first.rule_id})
        more = len(errors) - sum(1 for f in errors if f.rule_id == first.rule_id)
        tail = f", and {_plural(more, 'other error')}" if more else ""
        return (f"{_plural(len(errors), 'error finding')}: {first.title} "
                f"({', '.join(nodes)}){tail}.")
    if warnings:
        accepted = (f" ({_plural(len(audit.accepted_risks), 'accepted risk')})"
                    if audit.accepted_risks else "")
        return (f"No errors{accepted}; {_plural(len(warnings), 'warning')} to act on: "
                f"{warnings[0].title}.")
    accepted = len(audit.accepted_risks)
    if accepted:
        return (f"No errors or warnings left; {_plural(accepted, 'accepted risk')} "
                "(waived, see Accepted risks).")
    bad = [g for n in audit.nodes for g in n.gadgets.values() if g.outcome != "works"]
    if bad:
        return "No errors or warnings, but not every gadget is known to work."
    return "No errors or warnings: every agent gadget works."


def finding_gadgets(audit: Audit, finding: Finding) -> tuple[str, ...]:
    """The gadgets a finding concerns: those it gives an outcome, else those served by the
    endpoint it is about or by the endpoints that present the certificate it is about, else
    (a node finding) every gadget of the node."""
    if finding.gadgets:
        return tuple(finding.gadgets)
    node = audit.facts.node(finding.node)
    if node is None:
        return ()
    subject = finding.subject
    if subject.scope == "node":
        return gadgets_of(node.role)
    services: list[str] = []
    if subject.scope == "certificate":
        services = [e.service for e in node.endpoints
                    if (b := e.handshake("browser")) is not None and b.leaf
                    and b.leaf.startswith(subject.key)]
    else:
        services = [subject.key]
    return tuple(dict.fromkeys(g for s in services for g in gadgets_served(node.role, s)))


def _cert_row(cert: CertificateFacts | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    key = f"{cert.key_type.upper()} {cert.curve or cert.key_size or ''}".strip()
    if cert.self_signed:
        signer = "self-signed"
    elif cert.self_issued:
        signer = "self-issued, but its signature does not verify with its own key"
    else:
        signer = f"{cert.issuer} ({cert.signer_key_type.upper()}"
        signer += f", {cert.signature_hash.upper()})" if cert.signature_hash else ")"
    return {"subject": cert.subject, "issuer": cert.issuer, "key": key, "signer": signer,
            "not_before": cert.not_before, "not_after": cert.not_after,
            "san": ", ".join([*cert.san_dns, *cert.san_ip]) or "(none)",
            "fingerprint": cert.fingerprint_sha256, "serial": cert.serial,
            "signature": cert.signature_algorithm, "pem": cert.pem,
            "self_signed": cert.self_signed, "wildcard": cert.wildcard,
            "notes": "; ".join(cert.parse_warnings)}


#: Where a certificate was read from, in the words of the certificate index.
_HANDSHAKE_SOURCE = {"observed": "network", "declared": "PEM folder (declared)"}
_INSTALLED_SOURCE = {"vos_cli": "VOS CLI"}


def certificate_index(audit: Audit) -> list[dict[str, Any]]:
    """Each distinct certificate of the nodes once, by SHA-256 fingerprint, in the order
    the report first meets it, numbered, with every place it was seen: each endpoint that
    sent it (node, service, port, its position in the chain, the client profiles that got
    it and the source) and what the VOS CLI read of each node (installed as tomcat,
    tomcat-ECDSA or ipsec, or in a tomcat-trust entry). A fingerprint the facts hold no
    certificate for is left out (the evidence tables say what is missing)."""
    facts = audit.facts
    found: dict[str, dict[str, Any]] = {}

    def seen(fp: str, place: dict[str, Any]) -> None:
        cert = facts.certificate(fp)
        if cert is None:
            return
        entry = found.get(fp)
        if entry is None:
            entry = found[fp] = {"number": len(found) + 1, **(_cert_row(cert) or {}),
                                 "places": []}
        for known in entry["places"]:
            if all(known[k] == place[k] for k in ("node", "where", "position", "source")):
                known["profiles"] += [p for p in place["profiles"]
                                      if p not in known["profiles"]]
                return
        entry["places"].append(place)

    handshake_source = _HANDSHAKE_SOURCE.get(facts.source, facts.source)
    for node in facts.nodes:
        for endpoint in node.endpoints:
            where = f"{_service_title(node.role, endpoint.service)}, port {endpoint.port}"
            for hs in endpoint.handshakes:
                if not hs.ok:
                    continue
                for index, fp in enumerate(hs.chain):
                    seen(fp, {"node": node.host, "where": where,
                              "position": "leaf" if index == 0 else f"chain {index + 1}",
                              "profiles": [_PROFILE_NAMES.get(hs.profile, hs.profile)],
                              "source": handshake_source})
        installed = node.installed
        if installed is None:
            continue
        source = _INSTALLED_SOURCE.get(installed.source, installed.source)
        for kind, held in (("tomcat", installed.tomcat),
                           ("tomcat-ECDSA", installed.tomcat_ecdsa), ("ipsec", installed.ipsec)):
            if held:
                seen(held, {"node": node.host, "where": f"installed as {kind}",
                            "position": "", "profiles": [], "source": source})
        for trusted in installed.trust:
            for anchor in trusted.certificates:
                seen(anchor, {"node": node.host, "where": f"tomcat-trust entry {trusted.name}",
                              "position": "", "profiles": [], "source": source})
    return list(found.values())


def _handshake_row(audit: Audit, endpoint: EndpointFacts, hs: HandshakeFacts) -> dict[str, Any]:
    facts = audit.facts
    row: dict[str, Any] = {"profile": hs.profile, "title": PROFILE_TITLES.get(hs.profile,
                                                                              hs.profile),
                           "ok": hs.ok, "tls": hs.tls_version, "cipher": hs.cipher,
                           "method": hs.method, "elapsed_ms": hs.elapsed_ms}
    if not hs.ok:
        error = hs.error
        row["error"] = (refused_for_key_type(endpoint, hs)
                        or (f"{error.kind}: {error.detail}" if error else "failed"))
        return row
    row["leaf"] = _cert_row(facts.certificate(hs.chain[0]))
    row["chain"] = [_cert_row(facts.certificate(fp)) for fp in hs.chain]
    check = hs.chain_check
    # facts may hold a completed handshake whose chain was not judged (null chain_check)
    row.update(trust="not judged", trusted=False, order_ok=None, missing_intermediate=None)
    if check is not None:
        trust = check.trust.replace("_", " ")
        row["trust"] = trust + (f": {check.reason}" if check.reason else "")
        row["trusted"] = check.trust == "trusted"
        row["order_ok"] = check.order_ok
        row["missing_intermediate"] = check.missing_intermediate
        leaf = facts.certificate(hs.chain[0])
        if check.leaf_signature_fails and row["leaf"] and leaf and not leaf.self_issued:
            row["leaf"] = {**row["leaf"], "signer": row["leaf"]["signer"]
                           + "; that CA's key does not verify its signature"}
    row["name_covered"] = hs.name_covered
    return row


def _endpoint_row(audit: Audit, role: str, endpoint: EndpointFacts) -> dict[str, Any]:
    return {"service": endpoint.service, "title": _service_title(role, endpoint.service),
            "port": endpoint.port, "peer": endpoint.peer, "reachable": endpoint.reachable,
            "handshakes": [_handshake_row(audit, endpoint, h) for h in endpoint.handshakes]}


def _finding_row(f: Finding) -> dict[str, Any]:
    return {"rule_id": f.rule_id, "severity": f.severity, "node": f.node,
            "short": _short(f.node), "subject": f.subject.text, "title": f.title,
            "message": f.message, "remediation": list(f.remediation),
            "citations": list(f.citations), "basis": f.basis,
            "gadgets": {GADGET_TITLES.get(g, g): OUTCOME_WORDS.get(o, o)
                        for g, o in sorted(f.gadgets.items())}}


def _checked(node: NodeResult, checked: Mapping[tuple[str, str], tuple[str, ...]]
             ) -> dict[str, list[str]]:
    """Each working gadget's title -> the rules that checked it (the audit's checks; an
    audit of schema 3, whose checks name no gadgets, kept them in the gadget's result)."""
    out = {}
    for gadget, result in node.gadgets.items():
        if result.outcome == "works":
            rules = sorted({*checked.get((node.host, gadget), ()), *result.rules})
            if rules:
                out[GADGET_TITLES[gadget]] = rules
    return out


def build_context(audit: Audit, meta: ReportMeta) -> dict[str, Any]:
    """The data every report template uses; deterministic for the same audit and meta."""
    nodes = []
    facts_nodes = {n.host: n for n in audit.facts.nodes}
    checked = rules_that_checked(audit.checks)
    for node in audit.nodes:
        gadgets = []
        for gadget in ALL_GADGETS:
            result = node.gadgets.get(gadget)
            if result is None:
                gadgets.append(None)
                continue
            # every error and warning about this gadget sits in its cell: a green
            # "works" never stands beside an unmarked finding
            marks = [{"rule_id": f.rule_id, "title": f.title, "severity": f.severity}
                     for f in audit.findings
                     if f.severity in ("error", "warning") and f.node == node.host
                     and gadget in finding_gadgets(audit, f)]
            gadgets.append({"name": gadget, "title": GADGET_TITLES[gadget],
                            "outcome": result.outcome, "words": OUTCOME_WORDS[result.outcome],
                            # the rules behind a problem; those that checked a working
                            # gadget are evidence, not news (node "checked")
                            "rules": list(result.rules) if result.outcome != "works" else [],
                            "marks": marks,
                            "has_error": any(m["severity"] == "error" for m in marks),
                            "has_warning": any(m["severity"] == "warning" for m in marks)})
        facts_node = facts_nodes.get(node.host)
        predicted = node.predicted
        nodes.append({
            "host": node.host, "short": _short(node.host), "role": node.role,
            "role_title": ROLE_TITLES.get(node.role, node.role),
            "tomcat": state_words(node.tomcat), "tomcat_ecdsa": state_words(node.tomcat_ecdsa),
            "predicted": {"tomcat": state_words(predicted.tomcat),
                          "tomcat_ecdsa": state_words(predicted.tomcat_ecdsa)}
            if predicted else None,
            "declared": dict(facts_node.declared) if facts_node else {},
            # where each state came from (network, VOS CLI, PEM folder, declared)
            "origin": {which: state_origin(audit, node.host, which)
                       for which in ("tomcat", "tomcat_ecdsa")},
            "gadgets": gadgets, "faq_rows": list(node_rows(node)),
            "checked": _checked(node, checked),
            "endpoints": [_endpoint_row(audit, node.role, e)
                          for e in (facts_node.endpoints if facts_node else ())],
        })
    row = cluster_row(audit.nodes)
    certificates = certificate_index(audit)
    findings = [_finding_row(f) for f in audit.findings]
    accepted = [{**_finding_row(a.finding), "waiver": a.waiver} for a in audit.accepted_risks]
    unknowns = [{"node": u.node, "gadget": GADGET_TITLES.get(u.gadget, u.gadget),
                 "reasons": list(u.reasons), "settle": list(u.settle)} for u in audit.unknowns]
    errors = [f for f in audit.findings if f.severity == "error"]

    def named(f: Finding) -> str:
        # the rule, its node and, for an endpoint or certificate, where it fired
        place = finding_place(audit, f)
        return f"{f.title} ({_short(f.node)}{': ' + place if place else ''}, {f.rule_id})"

    if errors:
        deciding = [named(f) for f in errors]
    elif unknowns:
        deciding = [f"{u['gadget']} on {_short(u['node'])} is unknown" for u in unknowns]
    else:
        deciding = [named(f) for f in audit.findings if f.severity == "warning"]
    return {
        "audit": audit, "meta": meta, "unknowns": unknowns, "deciding": deciding,
        "verdict": {"code": audit.verdict, "words": VERDICT_WORDS[audit.verdict],
                    "reason": verdict_reason(audit)},
        "summary": {s: audit.summary.get(s, 0) for s in ("error", "warning", "notice")},
        "gadget_titles": [GADGET_TITLES[g] for g in ALL_GADGETS],
        "nodes": nodes, "faq": {"rows": faq_rows(), "matched": row,
                                "predicted": audit.phase == "pre"},
        "plan": plan_of(audit), "findings": findings, "accepted": accepted,
        "waiver_notices": list(audit.waiver_notices),
        "site_policy": [{"heading": p.heading, "path": p.path, "sha256": p.sha256,
                         "overrides": [{"rule": o.rule, "text": o.text, "reason": o.reason}
                                       for o in p.overrides]}
                        for p in audit.site_policy],
        "source": audit.facts.source,
        "offline": offline_words(audit),
        "scope": scope_context(audit),
        "certificates": certificates,
        "certificate_number": {c["fingerprint"]: c["number"] for c in certificates},
    }


def scope_context(audit: Audit) -> dict[str, Any]:
    """The scope line and what was not checked (each with what would check it)."""
    scope = audit.scope if audit.scope is not None else scope_of(audit.facts)
    return {"line": scope_line(scope), "not_checked": list(not_checked(scope))}
