"""Agent gadgets, the endpoints that serve them (as the solution map states them), and the
outcome vocabulary (docs/domain.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditor.model.cluster import role_family
from auditor.model.findings import Outcome
from auditor.model.solution import current

OUTCOME_WORDS: dict[Outcome, str] = {
    "works": "works",
    "prompt_accept_works": "prompt, accepting works",
    "unknown": "unknown",
    "prompt_accept_fails": "prompt, accepting FAILS",
    "broken": "BROKEN",
}

def gadgets_by_family() -> dict[str, tuple[str, ...]]:
    """The gadgets agents use, per role family (the solution map's ``gadgets``)."""
    solution = current()
    return {f: solution.gadgets_of_family(f) for f in solution.families}


def all_gadgets() -> tuple[str, ...]:
    return tuple(current().gadgets)


def served_by(gadget: str) -> tuple[str, ...]:
    """The endpoints (services) a gadget is judged from."""
    return current().gadgets[gadget].needs


def gadget_title(gadget: str) -> str:
    found = current().gadgets.get(gadget)
    return found.title if found else gadget


def gadget_titles() -> dict[str, str]:
    return {g: spec.title for g, spec in current().gadgets.items()}


def narrow_titles() -> dict[str, str]:
    """Gadget titles for a narrow table column."""
    return {g: spec.narrow_title for g, spec in current().gadgets.items()}


def role_title(role: str) -> str:
    found = current().roles.get(role)
    return found.title if found else role


def role_titles() -> dict[str, str]:
    return {r: spec.title for r, spec in current().roles.items()}


def gadgets_of(role: str) -> tuple[str, ...]:
    """The gadgets a node of this role serves."""
    return current().gadgets_of_family(role_family(role))


def gadgets_served(role: str, service: str) -> tuple[str, ...]:
    """The gadgets of a node that need this endpoint."""
    return tuple(g for g in gadgets_of(role) if service in served_by(g))


def remote_gadgets(role: str, service: str) -> tuple[str, ...]:
    """The gadgets of other nodes (of another family) that need this endpoint of a node:
    the map's ``needs_elsewhere``, e.g. the chat/email gadget and UCCX 443."""
    family = role_family(role)
    return tuple(g for g in current().gadgets_needing(family, service)
                 if current().gadgets[g].family != family)


def expected_services(role: str) -> tuple[str, ...]:
    """The services every node of this role is expected to have probed."""
    return tuple(current().default_ports(role_family(role)))


def services_of(role: str) -> tuple[str, ...]:
    """Every service a node of this role can have, in the map's order."""
    return tuple(current().services(role_family(role)))


def service_title(role: str, service: str) -> str:
    family = role_family(role)
    found = current().services(family).get(service) if family in current().families else None
    return found.title if found else service


def __getattr__(name: str) -> Any:
    # the tables this module held before the solution map, for callers that still import them
    tables: dict[str, Callable[[], Any]] = {
        "GADGETS": gadgets_by_family, "ALL_GADGETS": all_gadgets,
        "SERVED_BY": lambda: {g: s.needs for g, s in current().gadgets.items()},
        "GADGET_TITLES": gadget_titles, "ROLE_TITLES": role_titles}
    if name in tables:
        return tables[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def phrase(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
