"""The table in docs/domain.md ("Who presents which certificate") as code: which certificate each
UCCX / SocialMiner port presents."""

from __future__ import annotations

from auditor.model.versions import Version, uses_ecdsa

#: tomcat-ECDSA states under which a server presents it at all.
_PRESENTED_BY = {
    "uccx": ("self_signed", "ec_ca_signed"),  # UCCX never presents an RSA-signed one
    "socialminer": ("self_signed", "ec_ca_signed", "rsa_ca_signed"),  # CSCvb58580
}
#: The ports that hold both certificates on 11.5.
ECDSA_PORTS = {"uccx": ("live_data",), "socialminer": ("notification",)}


def presents_ecdsa(family: str, service: str, tomcat_ecdsa: str | None, *,
                   cop_installed: bool, version: Version) -> bool:
    """Does this port present ``tomcat-ECDSA`` (besides ``tomcat``) to a client that
    offers ECDSA? ``family`` is ``uccx`` or ``socialminer``; ``tomcat_ecdsa`` the state of
    the certificate in the keystore (None: there is none)."""
    if tomcat_ecdsa is None or cop_installed or not uses_ecdsa(version):
        return False
    return service in ECDSA_PORTS[family] and tomcat_ecdsa in _PRESENTED_BY[family]
