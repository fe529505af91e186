"""Terminal summaries of facts (tabulate), and the colours of a verdict on a terminal."""

from __future__ import annotations

import os
from collections.abc import Mapping

from auditor.model.facts import EndpointFacts, Facts, HandshakeFacts, state_words
from auditor.render.tables import tabulate


def refused_for_key_type(endpoint: EndpointFacts, hs: HandshakeFacts) -> str | None:
    """A restricted profile the server turned away while another profile got a certificate:
    the port holds no certificate of that key type. Servers say so differently (OpenSSL
    with a handshake_failure alert, Tomcat's JSSE under TLS 1.3 by closing the connection)."""
    if hs.ok or hs.profile not in ("ecdsa_only", "rsa_only") or not endpoint.reachable:
        return None
    if hs.error is None or hs.error.kind not in ("tls_alert", "reset"):
        return None
    kind = "ECDSA" if hs.profile == "ecdsa_only" else "RSA"
    return f"no {kind} certificate on this port (the server answered: {hs.error.kind})"


def _cell(facts: Facts, endpoint: EndpointFacts, hs: HandshakeFacts | None) -> str:
    if hs is None:
        return "-"
    if not hs.ok:
        if refused_for_key_type(endpoint, hs):
            return f"(no {'ECDSA' if hs.profile == 'ecdsa_only' else 'RSA'} cert)"
        error = hs.error
        return f"ERROR {error.kind}" if error else "ERROR"
    leaf = facts.certificates[hs.chain[0]]
    kind = "EC" if leaf.key_type == "ec" else leaf.key_type.upper()
    if (leaf.self_issued and not leaf.self_signed) or (
            hs.chain_check is not None and hs.chain_check.leaf_signature_fails):
        signer = "bad-signature"
    else:
        signer = "self-signed" if leaf.self_signed else f"{leaf.signer_key_type.upper()}-signed"
    return f"{kind} {signer} {leaf.fingerprint_sha256[:8]}"


def endpoint_table(facts: Facts, fmt: str = "simple") -> str:
    """One row per endpoint: what each client profile received."""
    rows = []
    for node in facts.nodes:
        for endpoint in node.endpoints:
            browser = endpoint.handshake("browser")
            trust = "-"
            if browser is not None and browser.ok and browser.chain_check is not None:
                trust = browser.chain_check.trust
                if browser.name_covered is False:
                    trust += ", name not in SAN"
            version = next((h.tls_version for h in endpoint.handshakes if h.ok), None)
            rows.append([node.host, endpoint.service, endpoint.port,
                         _cell(facts, endpoint, browser),
                         _cell(facts, endpoint, endpoint.handshake("ecdsa_only")),
                         _cell(facts, endpoint, endpoint.handshake("rsa_only")),
                         version or "-", trust])
    return tabulate(rows, headers=["node", "service", "port", "browser gets", "ecdsa_only",
                                   "rsa_only", "TLS", "browser trust"], tablefmt=fmt)


def node_table(facts: Facts, fmt: str = "simple") -> str:
    """One row per node: the derived tomcat / tomcat-ECDSA states."""
    rows = []
    for node in facts.nodes:
        def show(state: object) -> str:
            text = state_words(state.state)  # type: ignore[attr-defined]
            if state.source == "declared":  # type: ignore[attr-defined]
                text += " (declared)"
            return text
        notes = "; ".join(n for n in (node.tomcat.note, node.tomcat_ecdsa.note) if n)
        cop = node.declared.get("cop_installed")
        rows.append([node.host, node.role, show(node.tomcat), show(node.tomcat_ecdsa),
                     {True: "yes", False: "no"}.get(cop, "?"), notes])
    return tabulate(rows, headers=["node", "role", "tomcat", "tomcat-ECDSA", "COP", "notes"],
                    tablefmt=fmt)


#: How a verdict line looks on a colour terminal (rich style names): the usual traffic
#: lights, and magenta for "the audit cannot say" so that it reads as neither go nor no-go.
VERDICT_STYLES = {"go": "bold green", "go_with_actions": "bold yellow",
                  "no_go": "bold red", "inconclusive": "bold magenta"}


def colour_wanted(stream: object, *, no_color: bool = False,
                  environ: Mapping[str, str] | None = None) -> bool:
    """Whether text written to ``stream`` may carry colours: never with ``--no-color`` or
    a non-empty ``NO_COLOR`` (no-color.org); always with a non-empty ``FORCE_COLOR``
    (force-color.org), for a CI log that shows them; otherwise only on a terminal that is
    not ``TERM=dumb``."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (OSError, ValueError):  # a closed stream
        return False


def paint(line: str, verdict: str) -> str:
    """``line`` (already made terminal-safe) in the colours of ``verdict``: one SGR
    sequence before it and a reset after it, nothing inside it."""
    from rich.color import ColorSystem
    from rich.style import Style

    return Style.parse(VERDICT_STYLES[verdict]).render(line, color_system=ColorSystem.STANDARD)
