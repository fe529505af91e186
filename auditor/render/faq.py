"""Cisco's FAQ matrix (document 210528; docs/domain.md, "The FAQ matrix") and which row a cluster
matches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.model.findings import NodeResult


@dataclass(frozen=True)
class FaqRow:
    number: int
    tomcat: str
    tomcat_ecdsa: str
    finesse_desktop: str
    live_data: str
    chat_email: str
    socialminer_web: str
    #: Cells no source states (docs/domain.md): the report marks them as our inference.
    inferred: tuple[str, ...] = ()
    #: What a report must say beside the row (a conflicting source).
    note: str | None = None


#: The matrix as docs/domain.md states it (agents trust the CA of the CA-signed certificates).
FAQ_ROWS: tuple[FaqRow, ...] = (
    FaqRow(1, "self_signed", "self_signed", "agent must accept (as before 11.5)",
           "extra certificate prompt; accepting works", "extra prompt; accepting works",
           "agent must accept", ("finesse_desktop", "socialminer_web"),
           "Cisco 200651 says instead that with self-signed certificates both tomcat and "
           "tomcat-ECDSA must be CA-signed for Live Data gadgets to connect; the two "
           "documents conflict, and this row follows 210528."),
    FaqRow(2, "rsa_ca_signed", "rsa_ca_signed", "works",
           "works (ECDSA not presented by UCCX)", "broken (CSCvb58580)", "does not load",
           ("finesse_desktop",)),
    FaqRow(3, "rsa_ca_signed", "ec_ca_signed", "works", "works", "works", "works",
           ("finesse_desktop", "socialminer_web")),
    FaqRow(4, "rsa_ca_signed", "self_signed", "works", "extra prompt; accepting fails",
           "extra prompt; accepting works", "works", ("finesse_desktop", "socialminer_web"),
           "The Live Data defect behind this row is CSCvb46250."),
)


def _states(node: NodeResult) -> tuple[str, str]:
    if node.predicted is not None:
        return node.predicted.tomcat, node.predicted.tomcat_ecdsa
    return node.tomcat, node.tomcat_ecdsa


def node_fits(node: NodeResult, row: FaqRow) -> bool:
    """Does this node's (predicted, in a pre-upgrade audit) state fit the row?

    UCCX never presents an RSA-signed tomcat-ECDSA, so a UCCX node whose tomcat-ECDSA is
    not presented fits row 2 as well as it fits nothing else.
    """
    tomcat, ecdsa = _states(node)
    if tomcat != row.tomcat:
        return False
    if ecdsa == row.tomcat_ecdsa:
        return True
    return row.number == 2 and node.role != "socialminer" and ecdsa == "not_presented"


def node_rows(node: NodeResult) -> tuple[int, ...]:
    return tuple(row.number for row in FAQ_ROWS if node_fits(node, row))


def cluster_row(nodes: Sequence[NodeResult]) -> int | None:
    """The one row every node fits, or None (a mixed cluster, a COP, or after 11.5)."""
    candidates = [row.number for row in FAQ_ROWS if nodes and all(node_fits(n, row)
                                                                  for n in nodes)]
    return candidates[0] if len(candidates) == 1 else None
