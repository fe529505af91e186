"""Cisco's FAQ matrix (document 210528; docs/domain.md, "The FAQ matrix"), as the solution map
holds it, and which row a cluster matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.model.cluster import role_family
from auditor.model.findings import NodeResult
from auditor.model.presentation import never_presented
from auditor.model.solution import FaqRow, current

__all__ = ["FaqRow", "cluster_row", "faq_rows", "node_fits", "node_rows", "reported_rows"]


def faq_rows() -> tuple[FaqRow, ...]:
    """The matrix as the solution map states it (agents trust the CA of the CA-signed
    certificates)."""
    return current().faq


def _states(node: NodeResult) -> tuple[str, str]:
    if node.predicted is not None:
        return node.predicted.tomcat, node.predicted.tomcat_ecdsa
    return node.tomcat, node.tomcat_ecdsa


def node_fits(node: NodeResult, row: FaqRow) -> bool:
    """Does this node's (predicted, in a pre-upgrade audit) state fit the row?

    A node whose family presents a tomcat-ECDSA of the row's state on no endpoint (UCCX and
    an RSA-signed one, by the solution map) shows it as not presented, and so fits the row
    with that too.
    """
    tomcat, ecdsa = _states(node)
    if tomcat != row.tomcat:
        return False
    if ecdsa == row.tomcat_ecdsa:
        return True
    return ecdsa == "not_presented" and never_presented(role_family(node.role),
                                                         row.tomcat_ecdsa)


def node_rows(node: NodeResult) -> tuple[int, ...]:
    return tuple(row.number for row in faq_rows() if node_fits(node, row))


def cluster_row(nodes: Sequence[NodeResult]) -> int | None:
    """The one row every node fits, or None (a mixed cluster, a COP, or after 11.5)."""
    candidates = [row.number for row in faq_rows() if nodes and all(node_fits(n, row)
                                                                  for n in nodes)]
    return candidates[0] if len(candidates) == 1 else None


def reported_rows(nodes: Sequence[NodeResult]) -> tuple[FaqRow, ...]:
    """The rows a report names: the one the whole cluster fits, else each row a node fits
    (in the matrix's order). Each carries its ``note`` (a conflicting source), which every
    format prints wherever it reports the row."""
    matched = cluster_row(nodes)
    numbers = {matched} if matched is not None else {n for node in nodes
                                                     for n in node_rows(node)}
    return tuple(row for row in faq_rows() if row.number in numbers)


def rows_text(nodes: Sequence[NodeResult], *, predicted: bool = False) -> list[str]:
    """The FAQ rows as plain sentences for a text report: which row the cluster (or each
    node) fits, then each reported row's note, word for word from the solution map."""
    matched = cluster_row(nodes)
    if matched is not None:
        lines = [f"Cisco 210528 FAQ: the cluster {'will match' if predicted else 'matches'} "
                 f"row {matched}."]
    else:
        per_node = "; ".join(f"{node.host} row {'/'.join(map(str, node_rows(node)))}"
                             if node_rows(node) else f"{node.host} no row" for node in nodes)
        lines = [f"Cisco 210528 FAQ: the cluster matches no single row: {per_node}."]
    lines += [f"FAQ row {row.number}: {row.note}" for row in reported_rows(nodes) if row.note]
    return lines


def __getattr__(name: str) -> Any:
    if name == "FAQ_ROWS":  # the name of the matrix before the map
        return faq_rows()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
