"""Which certificate each endpoint presents (docs/domain.md, "Who presents which
certificate"), as the solution map states it: ``tomcat`` always, ``tomcat-ECDSA`` on the
endpoints and in the states the map lists for them."""

from __future__ import annotations

from typing import Any

from auditor.model.solution import current
from auditor.model.versions import Version, uses_ecdsa


def ecdsa_ports(family: str) -> tuple[str, ...]:
    """The services of a family that hold both certificates on 11.5."""
    return current().ecdsa_services(family)


def presents_ecdsa(family: str, service: str, tomcat_ecdsa: str | None, *,
                   cop_installed: bool, version: Version) -> bool:
    """Does this port present ``tomcat-ECDSA`` (besides ``tomcat``) to a client that
    offers ECDSA? ``family`` is a role family of the map; ``tomcat_ecdsa`` the state of
    the certificate in the keystore (None: there is none)."""
    if tomcat_ecdsa is None or cop_installed or not uses_ecdsa(version):
        return False
    found = current().services(family).get(service)
    return found is not None and tomcat_ecdsa in found.ecdsa_states


def never_presented(family: str, tomcat_ecdsa: str) -> bool:
    """A ``tomcat-ECDSA`` in this state is presented by no endpoint of the family (UCCX and
    an RSA-signed one): 'not presented' is then what the family shows of it."""
    return not any(tomcat_ecdsa in s.ecdsa_states for s in current().services(family).values())


def __getattr__(name: str) -> Any:
    if name == "ECDSA_PORTS":  # the name this table had before the map
        return {f: ecdsa_ports(f) for f in current().families}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
