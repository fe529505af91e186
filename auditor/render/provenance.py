"""Where each fact of an audit came from, in every format: the network, the node's VOS CLI, a
folder of downloaded PEMs, or the inventory's word; and whether the audit probed the
network at all (an offline audit did not)."""

from __future__ import annotations

from auditor.model.audit import Audit

__all__ = ["ORIGIN_LEGEND", "is_offline", "offline_words", "state_origin"]

#: What each origin word in a report's grid means.
ORIGIN_LEGEND = ("state origin: network = presented to the audit's handshakes; VOS CLI = "
                 "the node's keystore read over SSH; PEM folder = the certificates downloaded "
                 "into its pem_dir; declared = the inventory's word, not observed")


def is_offline(audit: Audit) -> bool:
    """An offline audit judged declared certificates (PEM folders, the inventory): it
    probed no endpoint on the network."""
    return audit.facts.source == "declared"


def offline_words(audit: Audit) -> str | None:
    """What every verdict line of an offline audit says; None for an audit that probed."""
    if not is_offline(audit):
        return None
    return "offline: no network probe, judged from declared certificates"


def state_origin(audit: Audit, host: str, which: str) -> str | None:
    """Where the recorded state of ``which`` (``tomcat`` or ``tomcat_ecdsa``) on ``host``
    came from: ``network``, ``VOS CLI``, ``PEM folder`` or ``declared``; None where the
    facts hold no record of it (an unknown state nothing was given for)."""
    node = audit.facts.node(host)
    if node is None:
        return None
    state = getattr(node, which)
    if state.source == "observed":
        return "network" if state.leaf or state.state != "unknown" else None
    if state.source == "installed":
        where = state.installed_from or ""
        return "PEM folder" if where.startswith("pem:") else "VOS CLI"
    if state.source == "declared":
        if state.leaf:
            return "PEM folder"
        return None if state.state == "unknown" else "declared"
    return None
