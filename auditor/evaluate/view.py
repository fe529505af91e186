"""What the rules see: plain views of the facts per cluster, node, endpoint and certificate.

Every field a rule may name is listed in ``FIELDS`` with its meaning; the loader rejects
any other path. In the ``pre`` phase the endpoint views are the prediction of
:mod:`auditor.evaluate.projection`, so the same rules judge today's cluster and tomorrow's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from auditor.common.errors import InputError
from auditor.evaluate.conditions import TEXT_PREFIX as TEXT
from auditor.evaluate.gadgets import (
    expected_services,
    gadget_title,
    gadgets_served,
    phrase,
    remote_gadgets,
    role_title,
    service_title,
    services_of,
)
from auditor.evaluate.projection import Settings, predicted_browser, predicted_states
from auditor.model.certificate import (
    CertificateFacts,
    classify,
    covers_host,
    names_exactly,
    parse_time,
)
from auditor.model.certificate import cn_only as names_only_in_cn
from auditor.model.cluster import cluster_roles, role_family
from auditor.model.cluster import roles as all_roles
from auditor.model.facts import (
    STATES,
    CertState,
    ChainFacts,
    Facts,
    HandshakeFacts,
    NodeFacts,
    judged_version,
    state_words,
)
from auditor.model.presentation import ecdsa_ports
from auditor.model.solution import builtin, current
from auditor.model.versions import Version, uses_ecdsa

SCOPES = ("node", "endpoint", "certificate")

_ENDPOINT = {
    "service": "the service name: finesse, live_data, notification, cuic, platform, "
               "os_admin or web",
    "service_title": "the service in words, e.g. 'Live Data'",
    "port": "the TCP port probed (or the default port when it was not probed)",
    "gadgets": "the gadgets of this node that need this endpoint",
    "gadget_titles": "those gadgets in words, e.g. 'Finesse desktop'",
    "remote_gadgets": "the gadgets of other nodes that need this endpoint too (chat/email "
                      "and UCCX 443)",
    "tomcat_stale": "post phase, on an instance of the node's Tomcat (the map's units): it "
                    "presents another tomcat than the node's reference (the installed one "
                    "where the VOS CLI or the node's PEMs were read, else the newest one its "
                    "instances present): a restart is pending; null when there is nothing "
                    "to compare",
    "tomcat_reference": "what tomcat_stale compared with: installed or newest (null when "
                        "nothing)",
    "restart_words": "the restart that makes this instance load the tomcat certificate, "
                     "its service name marked unverified where the map says so",
    "stale_words": "what the node's other Tomcat instances (or its keystore) hold instead",
    "probed": "the facts hold this endpoint",
    "records": "how many records of this endpoint the facts hold (0 when not probed; more "
               "than one contradicts itself, and the endpoint counts as not seen)",
    "reachable": "a browser-like client completed a TLS handshake",
    "predicted": "pre phase: the browser view is the prediction for after the upgrade",
    "error_kind": "why the browser handshake failed: dns, refused, timeout, reset, "
                  "tls_alert (the server's alert), tls_version (the server chose a "
                  "protocol version older than TLS 1.2), tls_error, not_tls, other",
    "error_detail": "the error in words",
    "tls_alert": "with error_kind tls_alert, the alert's name as the TLS registry spells "
                 "it (handshake_failure, protocol_version, ...); null otherwise",
    "public_trust": "the chain a browser got here, judged against the public roots (the "
                    "system trust store of the audit host) when the facts were collected: "
                    "trusted or untrusted; null where it was not judged (recorded only on "
                    "nodes that declare external_chat, and not in older facts) or predicted",
    "public_trust_words": "what the public roots make of that chain, in words",
    "browser.fingerprint": "SHA-256 of the leaf a browser gets (null when predicted)",
    "browser.kind": "tomcat (RSA key), tomcat_ecdsa (EC key) or other",
    "browser.kind_title": "tomcat or tomcat-ECDSA",
    "browser.key_type": "rsa, ec, ...",
    "browser.self_signed": "the leaf is self-signed (self-issued, and its own key verifies "
                           "its signature)",
    "browser.ca_signed": "the leaf is issued by a CA (issuer and subject differ) and no key "
                         "at hand contradicts its signature",
    "browser.signature_fails": "the signature of the leaf, or of a certificate sent with it, "
                               "does not verify with its issuer's key (its own, for a "
                               "self-issued one): neither self-signed nor CA-signed",
    "browser.signature_problem": "which signature does not verify, in words (null when none)",
    "browser.signer_key_type": "key type of whoever signed the leaf: rsa or ec",
    "browser.signature_hash": "sha1, sha256, ...",
    "browser.subject_cn": "the leaf's common name",
    "browser.trust": ("trusted or untrusted, as browsers judge it by the agents' trust "
                      "(older facts: strict_verifier_rejects)"),
    "browser.trust_reason": "why the chain is not trusted",
    "browser.name_covered": "the leaf's subject alternative names name the node: its FQDN "
                            "in a DNS SAN, or its IP address in an IP SAN",
    "browser.cn_only": "the FQDN is only in the common name (Chrome 58+ rejects this)",
    "browser.order_ok": "the chain was sent in order",
    "browser.missing_intermediate": "the chain lacks an intermediate the agents do not have",
    "browser.untrusted_root": "the CA a complete chain leads to when the trust in use lacks "
                              "it (null otherwise)",
    "browser.accepted": "agents' browsers accept it without a prompt: trusted (or only a "
                        "strict RFC 5280 verifier objects) and the FQDN is in the SAN",
    "browser.rejection": "why browsers do not accept it, in words",
    "browser.key_usage_refused": ("the leaf's keyUsage forbids signing the handshake: "
                                  "Chromium fails with ERR_SSL_KEY_USAGE_INCOMPATIBLE, a "
                                  "hard error agents cannot click through (null in facts "
                                  "recorded before the tool read the key usage)"),
    "browser.description": "the leaf in words, e.g. 'a self-signed EC certificate "
                           "(tomcat-ECDSA)'",
}

_STATE = {
    "state": "not_presented, self_signed, rsa_ca_signed, ec_ca_signed, signature_invalid "
             "(its signature does not verify: self-issued but not by its own key, or not by "
             "the CA it names) or unknown",
    "state_words": "the state in words, e.g. 'RSA-CA-signed'",
    "source": "observed (presented on the network), installed (read over the VOS CLI), "
              "declared (inventory or downloaded PEMs) or predicted (pre phase)",
    "source_words": "where the state comes from, in words, e.g. 'installed (read over the "
                    "VOS CLI), not presented on the network'",
    "presented": "browsers get this certificate on at least one endpoint of the node",
    "declared": "the state the inventory declares (null when it declares none)",
    "note": "what the facts say about how the state was found; for an unknown state, why "
            "(not collected, or contradicted by the facts' own evidence)",
}

_SOURCE_WORDS = {
    "observed": "presented on the network",
    "declared": "declared, not observed",
    "predicted": "predicted for after the change",
}

_CERTIFICATE = {
    "fingerprint": "SHA-256 of the certificate",
    "short_fingerprint": "its first 16 hex digits",
    "kind": "tomcat (RSA key), tomcat_ecdsa (EC key) or other",
    "kind_title": "tomcat or tomcat-ECDSA",
    "key_type": "rsa, ec, ...",
    "key_size": "key size in bits",
    "curve": "EC curve name",
    "signature_hash": "sha1, sha256, ...",
    "signer_key_type": "key type of the signer",
    "self_signed": "self-signed (self-issued, and its own key verifies its signature)",
    "ca_signed": "issued by a CA (issuer and subject differ) and no key at hand contradicts "
                 "its signature",
    "signature_fails": "its signature, or that of a certificate some endpoint sends with it, "
                       "does not verify with the issuer's key (its own, for a self-issued "
                       "one)",
    "signature_problem": "which signature does not verify, in words (null when none)",
    "self_issued": "issuer and subject are the same name (self-signed when its own key "
                   "verifies it)",
    "wildcard": "a SAN or the CN starts with '*'",
    "subject": "subject DN",
    "subject_cn": "common name",
    "issuer": "issuer DN",
    "san_dns": "the DNS names in the subject alternative names",
    "san_ip": "the IP addresses in the subject alternative names",
    "san_names": "every name in the subject alternative names, in words ('none' without "
                 "any)",
    "named_hosts": "the cluster's hosts a SAN entry names exactly: a DNS SAN equal to the "
                   "FQDN, or an IP SAN equal to the address (wildcards are not expanded)",
    "not_after": "end of validity (UTC timestamp)",
    "not_after_date": "end of validity (YYYY-MM-DD)",
    "expired": "expired when the facts were recorded",
    "critical_extensions": "the extensions marked critical, by name (keyUsage, "
                           "basicConstraints, ...; null when not recorded)",
    "not_yet_valid": "its validity had not begun when the facts were recorded",
    "ends_by_change_date": "not expired when the facts were recorded, but it ends before "
                           "the change date is over (browsers refuse it from then on)",
    "days_after_change": "whole days from the change date to the end of validity "
                         "(negative: it ends before the change date)",
    "expiry_phrase": "e.g. '12 days after the change date (2026-12-01)'",
    "services": "the services that presented it (to any client profile)",
    "ports": "their ports",
    "name_covered": "the SAN names the node: its FQDN in a DNS SAN, or its IP address in "
                    "an IP SAN (an address is never matched against a DNS SAN or the CN)",
    "cn_only": "the FQDN is only in the common name (never for a node given by address)",
    "chain_missing_intermediate": "some endpoint sends it without an intermediate the "
                                  "agents lack",
    "chain_out_of_order": "some endpoint sends its chain out of order",
    "untrusted_root": "the CA its complete chain leads to, when the trust in use lacks it "
                      "(null otherwise)",
    "description": "the certificate in words",
}

_EDGE = {
    "judged": "the edge could be judged: the truster's tomcat-trust was read and the "
              "trusted certificate is known (on the truster's side: its own store; on the "
              "trusted side: every truster whose store was read)",
    "needed": "the trusted side has the certificate the edge is about (for tomcat_ecdsa: "
              "it presents one); null when unknown",
    "held": "every store judged holds the trusted certificate or a CA of its chain (null "
            "when not judged)",
    "missing": "where it is missing, each as 'truster lacks trusted' (null when held)",
}

#: Every field a rule may read or put into its message, with its meaning.
FIELDS: dict[str, str] = {
    "cluster.name": "the cluster name from the inventory",
    "cluster.phase": "pre (before the change) or post (after it)",
    "cluster.version": "the version the audit is about: the target version in the pre "
                       "phase, the running version in the post phase",
    "cluster.current_version": "the version the nodes ran when the facts were recorded: "
                               "what their VOS CLI printed where it was read (the observed "
                               "source wins), else what the inventory declares",
    "cluster.declared_version": "the version the inventory declares (facts.version)",
    "cluster.version_source": "where cluster.current_version comes from, in words",
    "cluster.target_version": "the version after the change (the running one in post)",
    "cluster.uses_ecdsa": "cluster.version presents tomcat-ECDSA (11.5(x) only)",
    "cluster.upgrade_creates_tomcat_ecdsa": "pre phase, upgrade to 11.5 from a version "
                                            "without tomcat-ECDSA: it creates one, self-signed",
    "cluster.upgrade_ends_ecdsa": "pre phase, upgrade from 11.5 to 11.6 or later, which "
                                  "no longer uses ECDSA",
    "cluster.change_date": "the change date, YYYY-MM-DD",
    "cluster.expiry_window_days": "how many days after the change date a certificate must "
                                  "stay valid (--expiry-window, default 30)",
    "cluster.roles": "the roles the facts hold a node of, each once",
    "cluster.repeated_roles": "the roles the facts hold more than one node of (null when "
                              "none)",
    "cluster.node_gaps": "where the facts' nodes and the roster the facts were recorded "
                         "with disagree: a listed node without its record, a record the "
                         "roster does not list or lists with another role, a host recorded "
                         "twice (null when they agree, or the facts have no roster)",
    "cluster.uccx_hosts": "the FQDNs of the UCCX nodes",
    "cluster.socialminer_hosts": "the FQDNs of the SocialMiner nodes",
    "cluster.agent_trust": "what the agents' trust was taken from",
    "cluster.agent_trust_given": "the agents' trust was given (--agent-trust), not the audit "
                                 "host's system store",
    "node.host": "the node's FQDN",
    "node.role": "uccx-publisher, uccx-subscriber or socialminer",
    "node.role_title": "the role in words",
    "node.family": "uccx or socialminer",
    "node.cop_installed": "the COP is installed: declared in the inventory, or true when the "
                          "VOS CLI lists an option recognised by name as the ECDSA COP",
    "node.cop_basis": "why node.cop_installed holds, in words",
    "node.external_chat": "the inventory declares that customers chat from the internet "
                          "through this node (declared: {external_chat: true})",
    "node.state_conflicts": "each certificate whose state the inventory declares otherwise "
                            "than the node shows it (presented, or installed where its "
                            "keystore was read), naming both (null when none)",
    "node.cli.read": "the node's VOS CLI was read completely",
    "node.cli.error_kind": "why reading the VOS CLI stopped: dns, refused, timeout, auth, "
                           "host_key_unknown, ssh, no_prompt, command_timeout, pager, question, "
                           "garbage, closed",
    "node.cli.error_detail": "that in words",
    "node.cli.version": "the active version show version active printed on this node, e.g. "
                        "11.5.1.10000-61 (null when the CLI was not read or printed none)",
    "node.cli.version_agrees": "that version is the release the inventory declares and the "
                               "release the cluster is judged at (null without one)",
    **{f"node.{which}.{k}": f"{which}: {v}" for which in ("tomcat", "tomcat_ecdsa")
       for k, v in _STATE.items()},
    "node.ecdsa_services": "the services where browsers get an EC certificate",
    "node.ecdsa_endpoints": "where 11.5 presents tomcat-ECDSA on this role, in words",
    "node.peer.host": "the other UCCX node (publisher for a subscriber and back)",
    "node.peer.role_title": "its role in words",
    **{f"node.peer.{which}.{k}": f"the other UCCX node's {which}: {_STATE[k]}"
       for which in ("tomcat", "tomcat_ecdsa") for k in ("state", "state_words")},
    "node.trust.read": "the node's tomcat-trust was read over its VOS CLI (an entry listed "
                       "but not read leaves a missing chain unjudged)",
    "node.trust.expired": "the tomcat-trust entries whose certificate has expired by the "
                          "change date, each as 'name (expired YYYY-MM-DD)' (null when none "
                          "or not read)",
    "node.ipsec.read": "the node's ipsec certificate was read over its VOS CLI",
    "node.ipsec.expired": "that certificate has expired by the change date (null when not "
                          "read)",
    "node.ipsec.not_after": "its last day of validity, YYYY-MM-DD (null when not read)",
    **{f"node.trust.{edge.id}.{k}": f"trust edge {edge.id} ({edge.what}; {edge.basis}, "
       f"{edge.source}): {v}" for edge in builtin().trust if edge.id
       for k, v in _EDGE.items()},
    **{f"node.services.{service}.{k}": f"the node's {service} endpoint: {v}"
       for service in builtin().all_services()
       for k, v in _ENDPOINT.items()},
    **{f"endpoint.{k}": v for k, v in _ENDPOINT.items()},
    **{f"certificate.{k}": v for k, v in _CERTIFICATE.items()},
}


#: The fields that are prose for messages, not facts: a condition never names them, and a
#: message names them under ``text.`` (``{text.endpoint.browser.description}``). They are
#: the leaf names below, whatever the path leads to them.
_PROSE_LEAVES = frozenset({
    "service_title", "gadget_titles", "error_detail", "kind_title", "signature_problem",
    "trust_reason", "rejection", "description", "state_words", "source_words", "note",
    "san_names", "expiry_phrase", "version_source", "role_title", "cop_basis",
    "ecdsa_endpoints", "public_trust_words", "restart_words", "stale_words",
})


def is_prose(path: str) -> bool:
    """Is the field words for a message (``endpoint.browser.description``) rather than a fact?"""
    return path.rsplit(".", 1)[-1] in _PROSE_LEAVES


#: The facts: every field a condition may test (and a message may name).
FACTS: dict[str, str] = {k: v for k, v in FIELDS.items() if not is_prose(k)}
#: The prose, each under ``text.``: what only a message may name.
TEXTS: dict[str, str] = {f"{TEXT}.{k}": v for k, v in FIELDS.items() if is_prose(k)}

#: The value of a certificate state the facts do not know (not collected, or contradicted).
UNKNOWN = "unknown"
#: What an unknown state could be.
KNOWN_STATES = tuple(s for s in STATES if s != UNKNOWN)


def is_state(path: str) -> bool:
    """Is the field a certificate state (``node.tomcat.state``, ``node.peer.tomcat_ecdsa.
    state``), whose ``unknown`` means the evidence is missing rather than a value?"""
    return path.endswith((".tomcat.state", ".tomcat_ecdsa.state"))


def fields_for(scope: str) -> list[str]:
    """The facts a rule of this scope can test: cluster and node, plus its subject."""
    return list(_fields_for(scope))


@cache
def _fields_for(scope: str) -> tuple[str, ...]:
    roots = {"cluster", "node", scope}
    return tuple(sorted(f for f in FACTS if f.split(".")[0] in roots))


def texts_for(scope: str) -> list[str]:
    """The prose (``text.…``) a message of a rule of this scope can name."""
    roots = {"cluster", "node", scope}
    return sorted(f for f in TEXTS if f.split(".")[1] in roots)


# -- what a rule requires: the evidence it cannot answer without -----------------------------

_STATE_EVIDENCE = ("node.tomcat.state", "node.tomcat_ecdsa.state", "node.peer.tomcat.state",
                   "node.peer.tomcat_ecdsa.state")


def evidence_for(scope: str) -> dict[str, str]:
    """What a rule of this scope may name in ``requires:``, with its meaning: an endpoint
    that must have given a browser a certificate, or a certificate state that must be
    known (or not matter). The endpoints are every service of the map in force."""
    out = {}
    if scope == "endpoint":
        out["endpoint.browser"] = ("the endpoint the rule judges gave a browser a "
                                   "certificate (observed, declared or predicted)")
    out.update({f"node.services.{s}.browser": f"the node's {s} endpoint gave a browser a "
                "certificate" for s in current().all_services()})
    out.update({p: f"{p.rsplit('.', 1)[0]} is known, or the rule would answer the same "
                "whatever it is" for p in _STATE_EVIDENCE})
    out["node.trust"] = "the node's tomcat-trust was read over its VOS CLI"
    out["node.ipsec"] = "the node's ipsec certificate was read over its VOS CLI"
    out.update({f"node.trust.{e.id}": f"trust edge {e.id} could be judged (both sides known)"
                for e in current().trust if e.id})
    return out


#: Evidence that only the VOS CLI gives. A rule that could not look for want of it did
#: not judge, but leaves no gadget blind: the FAQ outcomes do not rest on the servers'
#: trust stores, so an audit without --cli judges the gadgets as before.
CLI_EVIDENCE = ("node.trust", "node.ipsec")


def blinds(name: str) -> bool:
    """Does a rule that lacks this evidence leave the gadgets it affects unjudged?"""
    return name.split(".")[:2] != ["node", "trust"] and name not in CLI_EVIDENCE


def evidence_read(path: str) -> str | None:
    """The evidence a fact belongs to, when the facts may lack it: an endpoint's fields
    belong to its browser view, a certificate state is its own; None for other facts."""
    if is_state(path):
        return path
    parts = path.split(".")
    if parts[0] == "endpoint":
        return "endpoint.browser"
    if parts[:2] == ["node", "services"] and len(parts) > 3:
        return f"node.services.{parts[2]}.browser"
    if parts[:2] == ["node", "trust"]:
        return f"node.trust.{parts[2]}" if len(parts) > 3 else "node.trust"
    if parts[:2] == ["node", "ipsec"]:
        return "node.ipsec"
    return None


def evidence_seen(view: Mapping[str, Any], name: str) -> bool:
    """Did the audit see an endpoint the rule requires (``….browser``): it gave a browser
    a certificate? (States are judged by the engine: known, or not mattering.)"""
    if name.split(".")[:2] in (["node", "trust"], ["node", "ipsec"]):
        part: Any = view
        for key in name.split("."):
            part = part.get(key) if isinstance(part, Mapping) else None
        return isinstance(part, Mapping) and part.get(
            "read" if name in CLI_EVIDENCE else "judged") is True
    endpoint: Any = view
    for part in name.split(".")[:-1]:
        endpoint = endpoint.get(part) if isinstance(endpoint, Mapping) else None
    return isinstance(endpoint, Mapping) and endpoint.get("reachable") is True


@dataclass(frozen=True)
class NodeView:
    """One node's views; ``endpoints`` and ``certificates`` are the subjects of rules."""

    index: int
    host: str
    role: str
    node: Mapping[str, Any]
    endpoints: tuple[Mapping[str, Any], ...]
    certificates: tuple[Mapping[str, Any], ...]
    #: the states the rules judge: in the pre phase, those predicted for after the change
    tomcat: str
    tomcat_ecdsa: str
    #: the states of the recorded certificates, as their evidence bears them out
    #: (:func:`checked_state`)
    recorded: tuple[str, str] = ("unknown", "unknown")


@dataclass(frozen=True)
class ClusterView:
    cluster: Mapping[str, Any]
    nodes: tuple[NodeView, ...]


def _kind(cert: CertificateFacts) -> str:
    return {"rsa": "tomcat", "ec": "tomcat_ecdsa"}.get(cert.key_type, "other")


def _kind_title(kind: str) -> str:
    return {"tomcat": "tomcat", "tomcat_ecdsa": "tomcat-ECDSA"}.get(kind, "other")


def describe(cert: CertificateFacts, *, forged: bool = False) -> str:
    """The certificate in words; ``forged``: the key of the CA it names does not verify
    its signature (a self-issued one that its own key does not verify is said so always)."""
    key = {"rsa": "RSA", "ec": "EC"}.get(cert.key_type, cert.key_type.upper())
    kind = _kind_title(_kind(cert))
    if cert.self_issued and not cert.self_signed:
        return (f"a self-issued {key} certificate ({kind}) whose signature does not verify "
                "with its own key")
    if forged:
        return (f"{'an' if key[0] in 'AEFHILMNORSX' else 'a'} {key} certificate ({kind}) "
                "whose signature does not verify with the key of the CA it names")
    signer = ("self-signed" if cert.self_signed
              else f"{cert.signer_key_type.upper()}-CA-signed")
    article = "an" if signer[0] in "AEFHILMNORSX" else "a"
    return f"{article} {signer} {key} certificate ({kind})"


def _own_signature_fails(cert: CertificateFacts) -> str | None:
    if cert.self_issued and not cert.self_signed:
        return ("it is self-issued (issuer = subject), and its signature does not verify "
                "with its own key")
    return None


def _browser(facts: Facts, hs: HandshakeFacts | None, host: str) -> dict[str, Any]:
    view: dict[str, Any] = {k.split(".", 1)[1]: None for k in _ENDPOINT if "." in k}
    leaf = facts.certificate(hs.leaf) if hs is not None else None
    if hs is None or leaf is None:  # no handshake, or one naming a certificate not held
        return view
    check = hs.chain_check
    trust = check.trust if check else None
    reasons = []
    if trust == "strict_verifier_rejects":
        reasons.append("a strict verifier refused its chain when it was recorded"
                       + (f" ({check.reason})" if check and check.reason else ""))
    if trust == "untrusted":
        reasons.append("the agents' browsers do not trust its chain"
                       + (f" ({check.reason})" if check and check.reason else ""))
    if hs.name_covered is False:
        reasons.append(f"it names {host} only in the common name, which Chrome 58+ rejects"
                       if hs.cn_only else f"it does not name {host}")
    problem = (check.bad_signature if check else None) or _own_signature_fails(leaf)
    forged = check is not None and check.leaf_signature_fails
    view.update(
        fingerprint=leaf.fingerprint_sha256, kind=_kind(leaf),
        kind_title=_kind_title(_kind(leaf)), key_type=leaf.key_type,
        self_signed=leaf.self_signed, signer_key_type=leaf.signer_key_type,
        ca_signed=not leaf.self_issued and problem is None,
        signature_fails=problem is not None, signature_problem=problem,
        signature_hash=leaf.signature_hash, subject_cn=leaf.subject_cn, trust=trust,
        trust_reason=check.reason if check else None, name_covered=hs.name_covered,
        cn_only=hs.cn_only, order_ok=check.order_ok if check else None,
        missing_intermediate=check.missing_intermediate if check else None,
        untrusted_root=check.untrusted_root if check else None,
        accepted=trust == "trusted" and hs.name_covered is True,
        rejection="; ".join(reasons) or None, description=describe(leaf, forged=forged),
        key_usage_refused=key_usage_refused(leaf))
    return view


def key_usage_refused(cert: CertificateFacts) -> bool | None:
    """Whether the leaf's keyUsage makes Chromium's TLS stack refuse the handshake (as
    :func:`auditor.collect.certs.allows_signing` recorded it); None for facts recorded
    before the tool read it."""
    if cert.key_usage_allows_signing is None:
        return None
    return not cert.key_usage_allows_signing


def _endpoint(facts: Facts, node: NodeFacts, service: str,
              settings: Settings) -> dict[str, Any]:
    family = role_family(node.role)
    records = [e for e in node.endpoints if e.service == service]
    endpoint = records[0] if records else None
    gadgets = gadgets_served(node.role, service)
    default_port = current().port_of(family, service)
    observed = endpoint.handshake("browser") if endpoint else None
    predicted = predicted_browser(endpoint, family, service, settings)
    browser_hs = predicted.handshake if predicted else observed
    browser = predicted.view if predicted and predicted.view else _browser(
        facts, browser_hs, node.host)
    error = browser_hs.error if browser_hs is not None and not browser_hs.ok else None
    error_kind, error_detail = (error.kind, error.detail) if error else (None, None)
    if browser_hs is not None and browser_hs.leaf and facts.certificate(browser_hs.leaf) is None:
        error_kind, error_detail = "other", (f"the facts name a certificate they do not hold "
                                             f"({browser_hs.leaf[:16]})")
    if len(records) > 1:
        # two records of one endpoint contradict each other: neither is taken, whatever
        # their order
        browser = _browser(facts, None, node.host)
        error_kind, error_detail = "other", (
            f"the facts hold {len(records)} records of this endpoint (ports "
            + ", ".join(str(e.port) for e in records) + ")")
    public = (endpoint.public_trust if endpoint is not None and len(records) == 1
              and predicted is None else None)
    return {
        "service": service, "service_title": service_title(node.role, service),
        "port": endpoint.port if endpoint else default_port, "gadgets": list(gadgets),
        "remote_gadgets": list(remote_gadgets(node.role, service)),
        "gadget_titles": phrase([gadget_title(g)
                                 for g in (*gadgets, *remote_gadgets(node.role, service))])
        or None,
        "probed": endpoint is not None, "records": len(records),
        "reachable": browser["kind"] is not None,
        "predicted": predicted is not None and len(records) <= 1,
        "error_kind": error_kind, "error_detail": error_detail,
        "tls_alert": error_detail if error_kind == "tls_alert" else None,
        "browser": browser,
        "public_trust": public.trust if public is not None else None,
        "public_trust_words": _public_words(facts, public),
        "tomcat_stale": None, "tomcat_reference": None, "restart_words": None,
        "stale_words": None,
    }


def _public_words(facts: Facts, check: ChainFacts | None) -> str:
    """What the public roots made of an endpoint's chain, for a message."""
    if check is None:
        return ("was not judged against the public roots when the facts were collected "
                "(collect them again with external_chat declared)")
    if check.trust == "trusted":
        anchor = facts.certificate(check.anchor)
        return "leads to a public root" + (f" ({anchor.subject_cn})" if anchor else "")
    why = check.reason or (f"it leads to {check.untrusted_root}, which no public root is"
                           if check.untrusted_root else None)
    return "does not lead to a public root" + (f": {why}" if why else "")


def _installed_tomcat(node: NodeFacts) -> tuple[str, str] | None:
    """The fingerprint of the tomcat the node's keystore holds, and where it was read."""
    if node.installed is not None and node.installed.tomcat:
        return node.installed.tomcat, "read over the VOS CLI"
    if node.tomcat.source == "installed" and node.tomcat.leaf:
        return node.tomcat.leaf, f"read from {node.tomcat.installed_from or 'its keystore'}"
    return None


def _mark_instances(facts: Facts, node: NodeFacts, endpoints: dict[str, dict[str, Any]],
                    settings: Settings) -> None:
    """Restart pending (DOMAIN.md, inferred): the Tomcat instances of a node each load the
    tomcat certificate when they start. After a change, an instance that presents another
    tomcat than the keystore holds (or, the keystore unread, than the newest one its
    instances present) was not restarted."""
    if settings.phase != "post":
        return
    family = role_family(node.role)
    for unit in current().units(family).values():
        reached = {s: e["browser"]["fingerprint"] for s, e in endpoints.items()
                   if s in unit.instances and e["reachable"] and not e["predicted"]
                   and e["browser"]["kind"] == unit.name}
        installed = _installed_tomcat(node)
        if installed is not None:
            reference, basis = installed[0], "installed"
            where = f"the installed {unit.name} ({installed[1]}) is {reference[:16]}"
        elif len(set(reached.values())) > 1:
            presented = list(reached.values())
            reference = max(dict.fromkeys(presented), key=lambda fp: (
                getattr(facts.certificate(fp), "not_before", ""), presented.count(fp)))
            basis = "newest"
            holders = [f"port {endpoints[s]['port']} ({endpoints[s]['service_title']})"
                       for s, f in reached.items() if f == reference]
            where = (f"{phrase(holders)} present{'s' if len(holders) == 1 else ''} the newest "
                     f"{unit.name} of the node, {reference[:16]}")
        else:
            reference, basis, where = None, None, None
        for service, fingerprint in reached.items():
            instance = unit.instances[service]
            marked = (" (this service name is unverified)"
                      if instance.restart_basis != "stated" else "")
            endpoints[service].update(
                tomcat_stale=None if reference is None else fingerprint != reference,
                tomcat_reference=basis,
                restart_words=f"restart {instance.restart}{marked}",
                stale_words=where)


def _certificates(facts: Facts, node: NodeFacts, settings: Settings) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    observed_at = parse_time(facts.observed_at)
    change = dt.datetime.combine(settings.change_date, dt.time(), dt.timezone.utc)
    order = services_of(node.role)
    day_over = change + dt.timedelta(days=1)
    for endpoint in sorted(node.endpoints, key=lambda e: (order.index(e.service)
                                                          if e.service in order else 99)):
        for hs in endpoint.handshakes:
            cert = facts.certificate(hs.leaf)
            if cert is None:
                continue
            view = seen.get(cert.fingerprint_sha256)
            if view is None:
                not_after = parse_time(cert.not_after)
                expired = not_after <= observed_at
                days = (not_after - change).days
                when = "after" if days >= 0 else "before"
                view = seen[cert.fingerprint_sha256] = {
                    "fingerprint": cert.fingerprint_sha256,
                    "short_fingerprint": cert.fingerprint_sha256[:16],
                    "kind": _kind(cert), "kind_title": _kind_title(_kind(cert)),
                    "key_type": cert.key_type, "key_size": cert.key_size, "curve": cert.curve,
                    "signature_hash": cert.signature_hash,
                    "signer_key_type": cert.signer_key_type, "self_signed": cert.self_signed,
                    "signature_problem": _own_signature_fails(cert),
                    "self_issued": cert.self_issued,
                    "wildcard": cert.wildcard, "subject": cert.subject,
                    "subject_cn": cert.subject_cn, "issuer": cert.issuer,
                    "san_dns": list(cert.san_dns), "san_ip": list(cert.san_ip),
                    "san_names": ", ".join([*cert.san_dns, *cert.san_ip]) or "none",
                    "named_hosts": [n.host for n in facts.nodes if names_exactly(cert, n.host)],
                    "not_after": cert.not_after,
                    "not_after_date": cert.not_after[:10],
                    "expired": expired,
                    "critical_extensions": (list(cert.critical_extensions)
                                            if cert.critical_extensions is not None else None),
                    "not_yet_valid": parse_time(cert.not_before) > observed_at,
                    "ends_by_change_date": not expired and not_after < day_over,
                    "days_after_change": days,
                    "expiry_phrase": f"{abs(days)} days {when} the change date "
                                     f"({settings.change_date.isoformat()})",
                    "services": [], "ports": [],
                    "name_covered": covers_host(cert, node.host),
                    "cn_only": names_only_in_cn(cert, node.host),
                    "chain_missing_intermediate": False, "chain_out_of_order": False,
                    "untrusted_root": None,
                    "description": describe(cert),
                }
            if endpoint.service not in view["services"]:
                view["services"].append(endpoint.service)
                view["ports"].append(endpoint.port)
            if hs.chain_check is not None:
                view["chain_missing_intermediate"] |= hs.chain_check.missing_intermediate
                view["chain_out_of_order"] |= not hs.chain_check.order_ok
                view["untrusted_root"] = (view["untrusted_root"]
                                          or hs.chain_check.untrusted_root)
                view["signature_problem"] = (view["signature_problem"]
                                             or hs.chain_check.bad_signature)
                if hs.chain_check.leaf_signature_fails:
                    view["description"] = describe(cert, forged=True)
    for view in seen.values():
        view["signature_fails"] = view["signature_problem"] is not None
        view["ca_signed"] = not view["self_issued"] and not view["signature_fails"]
    return sorted(seen.values(), key=lambda c: (c["kind"], c["fingerprint"]))


def _state(state: str, source: str, presented: bool, declared: str | None,
           note: str | None) -> dict[str, Any]:
    words = _SOURCE_WORDS.get(source, source)
    if source == "installed":
        words = ("installed (read over the VOS CLI), "
                 + ("also presented on the network" if presented
                    else "not presented on the network"))
    return {"state": state, "state_words": state_words(state), "source": source,
            "source_words": words, "presented": presented, "declared": declared,
            "note": note}


def _state_conflicts(states: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """Each certificate the node shows (presented or installed) in another state than the
    inventory declares, both named; None when there is none."""
    conflicts = []
    for which, title in (("tomcat", "tomcat"), ("tomcat_ecdsa", "tomcat-ECDSA")):
        view = states[which]
        declared = view["declared"]
        if declared and view["source"] in ("observed", "installed") and declared != view["state"]:
            conflicts.append(f"{title}: the inventory declares {state_words(declared)}, "
                             f"{view['source_words']}: {view['state_words']}")
    return conflicts or None


_UNIT = {"tomcat": ("tomcat", "rsa"), "tomcat_ecdsa": ("tomcat-ECDSA", "ec")}
#: Where a recorded state may come from (``predicted`` is the pre phase's, never recorded).
_RECORDED_SOURCES = ("observed", "declared", "installed")


def _holds_ecdsa(facts: Facts) -> bool:
    """Does every node of the version the facts were recorded on hold a ``tomcat-ECDSA``?
    (An unreadable version: assume it does, so nothing rests on its absence.)"""
    try:
        return uses_ecdsa(Version(facts.version))
    except InputError:
        return True


def checked_state(facts: Facts, node: NodeFacts, which: str) -> CertState:
    """The node's recorded state of ``tomcat`` or ``tomcat_ecdsa`` when the facts' own
    evidence bears it out: the certificate it names is held, has its unit's key type and
    is signed as the state says (and, observed, is presented); a state with no certificate
    is a declaration the node's ``declared`` says, or ``not_presented``, and holds only
    where no endpoint presents a certificate of that key type. Otherwise the state is ``unknown``,
    its note naming the contradiction: what disagrees with itself is not evidence."""
    state: CertState = getattr(node, which)
    if state.state == "unknown":
        return state
    title, key_type = _UNIT[which]
    presented = [cert.fingerprint_sha256 for e in node.endpoints for hs in e.handshakes
                 if (cert := facts.certificate(hs.leaf)) is not None
                 and cert.key_type == key_type]
    problems = []
    if state.source not in _RECORDED_SOURCES:
        problems.append(f"its source {state.source!r} is none a recording has")
    if state.leaf is not None:
        cert = facts.certificate(state.leaf)
        if cert is None:
            problems.append(f"the certificate it names ({state.leaf[:16]}) is not in them")
        elif cert.key_type != key_type:
            problems.append(f"the certificate it names has a {cert.key_type} key")
        # a chain check may find a CA-signed leaf's signature forged: that recorded state is
        # worse than classify() alone says, and never moves a verdict towards GO
        elif classify(cert) != state.state and state.state != "signature_invalid":
            problems.append(f"the certificate it names is {state_words(classify(cert))}")
        if state.source == "observed" and state.leaf not in presented:
            problems.append("no endpoint presents the certificate it names")
    elif state.source == "declared":
        # a declared state without a certificate is what the inventory declares, or that
        # there is none: a keystore without tomcat (check-cert of a tomcat-ECDSA alone), or
        # without tomcat-ECDSA on a version that has none at all
        said = node.declared.get(which)
        if said is not None and said != state.state:
            problems.append(f"the inventory declares it {state_words(said)}")
        elif said is None and not (state.state == "not_presented" and (
                which == "tomcat" or not _holds_ecdsa(facts))):
            problems.append("neither a certificate nor a declaration stands behind it")
    elif state.state != "not_presented":
        problems.append("neither a certificate nor a declaration stands behind it")
    if state.leaf is None and presented and (state.state == "not_presented"
                                             or state.source == "declared"):
        problems.append(f"an endpoint presents one ({presented[0][:16]}) it does not name")
    if not problems:
        return state
    return CertState("unknown", state.source, None, (), (
        f"the facts say {title} is {state_words(state.state)} ({state.source}), but "
        + "; ".join(problems)))


def _cop(node: NodeFacts) -> tuple[bool | None, str | None]:
    installed = node.installed
    if installed is not None and installed.cop_installed:
        return True, installed.cop_basis
    declared = node.declared.get("cop_installed")
    if declared is not None:
        return declared, "declared in the inventory"
    return None, installed.cop_basis if installed is not None else None


def _cli(node: NodeFacts, declared: Version, judged: Version) -> dict[str, Any]:
    installed = node.installed
    error = installed.error if installed is not None else None
    version = installed.version if installed is not None else None
    agrees = None
    if version is not None:
        printed = Version(version)
        agrees = printed.same_release(declared) and printed.same_release(judged)
    return {"read": installed is not None and error is None,
            "error_kind": error.kind if error else None,
            "error_detail": error.detail if error else None,
            "version": version, "version_agrees": agrees}


def _expired(facts: Facts, fp: str, settings: Settings) -> str | None:
    """'YYYY-MM-DD' when the certificate has expired by the change date; None when valid
    then or not held in the facts."""
    cert = facts.certificates.get(fp)
    if cert is None:
        return None
    try:
        end = parse_time(cert.not_after)
    except ValueError:
        return None
    return end.date().isoformat() if end.date() < settings.change_date else None


def _store(node: NodeFacts) -> tuple[str, ...] | None:
    """The fingerprints in the node's tomcat-trust, None when it was not read."""
    installed = node.installed
    if installed is None or installed.error is not None:
        return None
    return tuple(fp for entry in installed.trust for fp in entry.certificates)


def _store_whole(node: NodeFacts) -> bool:
    """Was every entry the listing named read? (Otherwise what is missing may be there.)"""
    return node.installed is not None and not node.installed.trust_unread


def _chain(facts: Facts, node: NodeFacts, unit: str) -> tuple[bool | None, tuple[str, ...]]:
    """(needed, chain): whether the node has its ``unit`` certificate (for tomcat-ECDSA:
    presents one), and that certificate's chain as the node sends it (leaf first; the leaf
    alone when it was only read from the keystore). None, () when unknown."""
    state: CertState = getattr(node, unit)
    leaf = state.leaf
    sent = next((h.chain for e in node.endpoints for h in e.handshakes
                 if h.ok and h.chain and h.chain[0] == leaf), None) if leaf else None
    if unit == "tomcat_ecdsa":
        if state.state == "not_presented" and state.source == "observed":
            return False, ()
        if sent is None:
            return None, ()
        return True, tuple(sent)
    if leaf is None:
        return None, ()
    return True, tuple(sent) if sent else (leaf,)


def _holds(facts: Facts, store: tuple[str, ...], chain: tuple[str, ...]) -> bool | None:
    """Does the store hold the certificate or a CA of its chain? A CA the chain names but
    does not send counts when the store holds a CA certificate of that subject. None when
    the chain's top or an entry of the store is not in the facts."""
    if set(chain) & set(store):
        return True
    top = facts.certificates.get(chain[-1]) if chain else None
    if top is None or any(fp not in facts.certificates for fp in store):
        # an entry whose certificate the facts do not hold (facts recorded before the
        # entries travelled with them) may be the CA: not judged, never missing
        return None
    return not top.self_issued and any(
        (c := facts.certificates.get(fp)) is not None and c.is_ca
        and c.subject == top.issuer for fp in store)


def _edge(facts: Facts, node: NodeFacts, edge: Any) -> dict[str, Any]:
    """The view of one judged trust edge from ``node``'s side of it: as truster, its own
    store against every trusted node; as the trusted side, every truster's store that was
    read against its own certificate (a store not read is not judged, never missing)."""
    family = role_family(node.role)
    others = [o for o in facts.nodes if o is not node]
    if family == edge.truster:
        pairs = [(node, o) for o in others if role_family(o.role) == edge.trusts]
    elif family == edge.trusts:
        pairs = [(o, node) for o in others if role_family(o.role) == edge.truster]
    else:
        pairs = []
    results: list[str | None] = []
    missing = []
    for truster, trusted in pairs:
        store = _store(truster)
        if store is None:
            if truster is node:
                results.append(None)
            continue
        needed, chain = _chain(facts, trusted, edge.unit)
        if needed is None:
            results.append(None)
        elif not needed:
            results.append("not_needed")
        else:
            held = _holds(facts, store, chain)
            if held is False and not _store_whole(truster):
                held = None
            results.append(None if held is None else "held" if held else "missing")
            if held is False:
                missing.append(f"{truster.host} lacks {trusted.host}")
    judged = bool(results) and (None not in results or "missing" in results)
    needed_any = (True if {"held", "missing"} & set(results)
                  else False if results and set(results) == {"not_needed"} else None)
    return {"judged": judged, "needed": needed_any,
            "held": ("missing" not in results) if judged else None,
            "missing": missing or None}


def _trust(facts: Facts, node: NodeFacts, settings: Settings) -> dict[str, Any]:
    store = _store(node)
    expired = None
    if store is not None and node.installed is not None:
        expired = [f"{entry.name} (expired {day})" for entry in node.installed.trust
                   for fp in entry.certificates
                   if (day := _expired(facts, fp, settings)) is not None] or None
    view: dict[str, Any] = {"read": store is not None, "expired": expired}
    for edge in current().trust:
        if edge.id:
            view[edge.id] = _edge(facts, node, edge)
    return view


def _ipsec(facts: Facts, node: NodeFacts, settings: Settings) -> dict[str, Any]:
    fp = node.installed.ipsec if node.installed is not None else None
    cert = facts.certificates.get(fp) if fp else None
    if cert is None:
        return {"read": False, "expired": None, "not_after": None}
    try:
        day = parse_time(cert.not_after).date()
    except ValueError:
        return {"read": False, "expired": None, "not_after": None}
    return {"read": True, "expired": day < settings.change_date,
            "not_after": day.isoformat()}


_VERSION_SOURCES = {
    "vos_cli": "what the UCCX nodes' VOS CLI printed (show version active)",
    "declared": "the inventory (the UCCX nodes' VOS CLI did not report one release)",
}


def node_gaps(facts: Facts) -> list[str]:
    """Where the facts' node records and their roster disagree, in words: each listed node
    needs one record with its role, and each record a place in the roster. Facts without a
    roster (recorded before it was written) can only show a host recorded twice."""
    hosts = [n.host for n in facts.nodes]
    gaps = [f"{host} is recorded {hosts.count(host)} times"
            for host in dict.fromkeys(hosts) if hosts.count(host) > 1]
    if facts.roster is None:
        return gaps
    recorded = {(n.host, n.role) for n in facts.nodes}
    listed = {(m.host, m.role) for m in facts.roster}
    gaps += [f"{host} ({role}) is listed but has no record" for host, role in
             dict.fromkeys((m.host, m.role) for m in facts.roster)
             if (host, role) not in recorded]
    gaps += [f"{n.host} ({n.role}) has a record but is not listed" for n in facts.nodes
             if (n.host, n.role) not in listed]
    return gaps


def build_views(facts: Facts, settings: Settings) -> ClusterView:
    """The views of every node, in the facts' node order. Pure: no I/O."""
    uccx_roles = cluster_roles()
    uccx_hosts = [n.host for n in facts.nodes if n.role in uccx_roles]
    roles = [n.role for n in facts.nodes]
    cluster = {
        "roles": [r for r in all_roles() if r in roles],
        "repeated_roles": [r for r in all_roles() if roles.count(r) > 1] or None,
        "node_gaps": node_gaps(facts) or None,
        "name": facts.cluster, "phase": settings.phase, "version": settings.version.text,
        "current_version": settings.current_version.text,
        "declared_version": facts.version,
        "version_source": _VERSION_SOURCES[judged_version(facts)[1]],
        "target_version": settings.target_version.text, "uses_ecdsa": settings.uses_ecdsa,
        "upgrade_creates_tomcat_ecdsa": settings.creates_ecdsa,
        "upgrade_ends_ecdsa": settings.ends_ecdsa,
        "change_date": settings.change_date.isoformat(),
        "expiry_window_days": settings.expiry_window_days, "uccx_hosts": uccx_hosts,
        "socialminer_hosts": [n.host for n in facts.nodes if n.host not in uccx_hosts
                              and current().roles[n.role].listed_under is None],
        "agent_trust": facts.agent_trust.source,
        "agent_trust_given": facts.agent_trust.source != "system",
    }
    declared = Version(facts.version)
    partial = []
    for node in facts.nodes:
        probed = [e.service for e in node.endpoints]
        services = [s for s in services_of(node.role)
                    if s in expected_services(node.role) or s in probed]
        endpoints = {s: _endpoint(facts, node, s, settings) for s in services}
        _mark_instances(facts, node, endpoints, settings)
        checked = replace(node, tomcat=checked_state(facts, node, "tomcat"),
                          tomcat_ecdsa=checked_state(facts, node, "tomcat_ecdsa"))
        tomcat, tomcat_ecdsa = predicted_states(checked, settings)
        kinds = {e["browser"]["kind"] for e in endpoints.values()}
        family = role_family(node.role)
        cop_installed, cop_basis = _cop(node)
        node_view: dict[str, Any] = {
            "host": node.host, "role": node.role, "role_title": role_title(node.role),
            "family": family, "cop_installed": cop_installed, "cop_basis": cop_basis,
            "external_chat": node.declared.get("external_chat") is True,
            "cli": _cli(node, declared, settings.current_version),
            "trust": _trust(facts, node, settings),
            "ipsec": _ipsec(facts, node, settings),
            "tomcat": _state(*tomcat, "tomcat" in kinds, node.declared.get("tomcat"),
                             checked.tomcat.note),
            "tomcat_ecdsa": _state(*tomcat_ecdsa, "tomcat_ecdsa" in kinds,
                                   node.declared.get("tomcat_ecdsa"), checked.tomcat_ecdsa.note),
            "ecdsa_services": [s for s, e in endpoints.items()
                               if e["browser"]["key_type"] == "ec"],
            "ecdsa_endpoints": phrase([
                f"port {endpoints[s]['port'] if s in endpoints else current().port_of(family, s)}"
                f" ({service_title(node.role, s)})" for s in ecdsa_ports(family)]),
            "services": {s: endpoints.get(s) for s in services_of(node.role)},
        }
        node_view["state_conflicts"] = _state_conflicts(node_view)
        partial.append((checked, node_view, endpoints))
    nodes = []
    for index, (node, node_view, endpoints) in enumerate(partial):
        peer = next((v for n, v, _ in partial
                     if n.role in uccx_roles and node.role in uccx_roles and n is not node),
                    None)
        node_view["peer"] = {
            "host": peer["host"] if peer else None,
            "role_title": peer["role_title"] if peer else None,
            **{which: {k: peer[which][k] if peer else None for k in ("state", "state_words")}
               for which in ("tomcat", "tomcat_ecdsa")},
        }
        nodes.append(NodeView(index, node.host, node.role, node_view,
                              tuple(endpoints.values()),
                              tuple(_certificates(facts, node, settings)),
                              node_view["tomcat"]["state"], node_view["tomcat_ecdsa"]["state"],
                              (node.tomcat.state, node.tomcat_ecdsa.state)))
    return ClusterView(cluster, tuple(nodes))
