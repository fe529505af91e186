"""Agent gadgets, the endpoints that serve them, and the outcome vocabulary (docs/domain.md)."""

from __future__ import annotations

from auditor.model.cluster import DEFAULT_PORTS, SERVICES_BY_ROLE, role_family
from auditor.model.findings import Outcome

OUTCOME_WORDS: dict[Outcome, str] = {
    "works": "works",
    "prompt_accept_works": "prompt, accepting works",
    "unknown": "unknown",
    "prompt_accept_fails": "prompt, accepting FAILS",
    "broken": "BROKEN",
}

#: The gadgets agents use, per role family.
GADGETS: dict[str, tuple[str, ...]] = {
    "uccx": ("finesse_desktop", "live_data"),
    "socialminer": ("chat_email", "socialminer_web"),
}
ALL_GADGETS = tuple(g for family in GADGETS.values() for g in family)

#: The endpoints (services) each gadget needs, from the table in docs/domain.md, "Who presents
#: which certificate":
#: the desktop loads from Tomcat 8445 and gets its events from Openfire 7443; Live Data
#: comes from Socket.IO 12015; the chat/email gadget loads from SocialMiner's Tomcat 443
#: and gets its events from SocialMiner's Openfire 7443.
SERVED_BY: dict[str, tuple[str, ...]] = {
    "finesse_desktop": ("finesse", "notification"),
    "live_data": ("live_data",),
    "chat_email": ("web", "notification"),
    "socialminer_web": ("web",),
}

GADGET_TITLES = {
    "finesse_desktop": "Finesse desktop",
    "live_data": "Live Data gadget",
    "chat_email": "chat/email gadget",
    "socialminer_web": "SocialMiner web page",
}


_SERVICE_TITLES = {
    ("uccx", "finesse"): "Finesse",
    ("uccx", "live_data"): "Live Data",
    ("uccx", "notification"): "notification service",
    ("uccx", "cuic"): "CUIC",
    ("uccx", "os_admin"): "OS Administration",
    ("socialminer", "web"): "SocialMiner web server",
    ("socialminer", "notification"): "SocialMiner notification service",
}

ROLE_TITLES = {
    "uccx-publisher": "UCCX publisher",
    "uccx-subscriber": "UCCX subscriber",
    "socialminer": "SocialMiner",
}


def gadgets_of(role: str) -> tuple[str, ...]:
    """The gadgets a node of this role serves."""
    return GADGETS[role_family(role)]


def gadgets_served(role: str, service: str) -> tuple[str, ...]:
    """The gadgets of a node that need this endpoint."""
    return tuple(g for g in gadgets_of(role) if service in SERVED_BY[g])


def expected_services(role: str) -> tuple[str, ...]:
    """The services every node of this role is expected to have probed."""
    return tuple(DEFAULT_PORTS[role_family(role)])


def services_of(role: str) -> tuple[str, ...]:
    """Every service a node of this role can have, in the canonical order."""
    return SERVICES_BY_ROLE[role_family(role)]


def service_title(role: str, service: str) -> str:
    return _SERVICE_TITLES.get((role_family(role), service), service)


def phrase(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
