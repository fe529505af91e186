"""Lab scenarios: the FAQ matrix rows, the COP variants, pre-upgrade states, and hygiene."""

from __future__ import annotations

from dataclasses import dataclass, replace

from auditor.model.solution import builtin
from auditor.model.versions import Version

#: What a lab node's ``tomcat`` / ``tomcat-ECDSA`` certificate is made as.
SELF_SIGNED = "self_signed"
RSA_CA = "rsa_ca_signed"
EC_CA = "ec_ca_signed"
#: ``tomcat-ECDSA`` does not exist yet (before the 11.5 upgrade).
NOT_CREATED = "not_created"


DOMAIN = "lab.uccx.example"
#: The cluster roles of the solution map, in its order: publisher, subscriber, SocialMiner
#: (the servers the inventory lists apart, such as CUCM, are no lab node).
PUBLISHER, SUBSCRIBER, SOCIALMINER = tuple(r for r, role in builtin().roles.items()
                                         if role.listed_under is None)


@dataclass(frozen=True)
class NodeSpec:
    """One lab node: how its two certificates were made, and whether a COP is installed."""

    name: str
    role: str
    tomcat: str
    tomcat_ecdsa: str
    cop_installed: bool = False
    defect: str | None = None
    #: Tomcat instances (services) that present another tomcat than the keystore's:
    #: (service, how it is made): ``expired`` (an expired certificate of the node's name),
    #: ``previous`` (the one held before the last upload, still loaded: restart pending)
    instances: tuple[tuple[str, str], ...] = ()

    @property
    def host(self) -> str:
        return f"{self.name}.{DOMAIN}"


@dataclass(frozen=True)
class Scenario:
    """A whole lab cluster."""

    name: str
    summary: str
    version: str
    nodes: tuple[NodeSpec, ...]
    faq_row: int | None = None
    #: the servers' trust edges (ids of the solution map's ``trust``) whose truster's
    #: tomcat-trust lacks every CA of the trusted side's chain; a scenario that names any
    #: is read over the lab's VOS CLI too (:meth:`auditor.lab.Lab.vos_cli_holdings`)
    trust_missing: tuple[str, ...] = ()

    @property
    def reads_cli(self) -> bool:
        """Does an audit of this scenario read the nodes' VOS CLI (the lab's own)?"""
        return bool(self.trust_missing)


def lab_cluster(tomcat: str, tomcat_ecdsa: str, *, sm_tomcat_ecdsa: str | None = None,
             uccx_cop: bool = False, sm_cop: bool = False) -> tuple[NodeSpec, ...]:
    return (
        NodeSpec("uccx-pub", PUBLISHER, tomcat, tomcat_ecdsa, cop_installed=uccx_cop),
        NodeSpec("uccx-sub", SUBSCRIBER, tomcat, tomcat_ecdsa, cop_installed=uccx_cop),
        NodeSpec("sm", SOCIALMINER, tomcat, sm_tomcat_ecdsa or tomcat_ecdsa,
                 cop_installed=sm_cop),
    )


def _row(number: int, name: str, summary: str) -> Scenario:
    """A cluster in the certificate states of one row of the FAQ matrix (the solution map's
    ``faq``)."""
    row = next(r for r in builtin().faq if r.number == number)
    return Scenario(name, summary, "11.5(1)", lab_cluster(row.tomcat, row.tomcat_ecdsa),
                    faq_row=number)


def _hygiene(defect: str, summary: str) -> Scenario:
    nodes = lab_cluster(RSA_CA, EC_CA)
    return Scenario(f"hygiene-{defect.replace('_', '-')}", summary, "11.5(1)",
                    (replace(nodes[0], defect=defect), *nodes[1:]), faq_row=3)


def _instance(name: str, service: str, made: str, summary: str) -> Scenario:
    """A row 3 cluster whose publisher presents another tomcat on one Tomcat instance."""
    nodes = lab_cluster(RSA_CA, EC_CA)
    return Scenario(name, summary, "11.5(1)",
                    (replace(nodes[0], instances=((service, made),)), *nodes[1:]))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    _row(1, "row1-self-signed", "FAQ row 1: tomcat and tomcat-ECDSA self-signed everywhere"),
    _row(2, "row2-rsa-signed-ecdsa", "FAQ row 2: tomcat-ECDSA signed by an RSA CA "
         "(CSCvb58580 on SocialMiner)"),
    _row(3, "row3-ec-signed-ecdsa", "FAQ row 3: tomcat RSA-CA-signed, tomcat-ECDSA "
         "EC-CA-signed (recommended)"),
    _row(4, "row4-upgrade-trap", "FAQ row 4: CA-signed tomcat, upgrade left a self-signed "
         "tomcat-ECDSA"),
    Scenario("cop-uccx", "Row 4 certificates with the UCCX COP installed on both UCCX nodes",
             "11.5(1)", lab_cluster(RSA_CA, SELF_SIGNED, uccx_cop=True)),
    Scenario("cop-socialminer", "Row 2 certificates with the SocialMiner COP installed",
             "11.5(1)", lab_cluster(RSA_CA, RSA_CA, sm_cop=True)),
    Scenario("pre-upgrade-ca-signed", "11.0 cluster with CA-signed tomcat, before the "
             "upgrade to 11.5", "11.0(1)", lab_cluster(RSA_CA, NOT_CREATED)),
    Scenario("pre-upgrade-self-signed", "11.0 cluster with self-signed tomcat, before the "
             "upgrade to 11.5", "11.0(1)", lab_cluster(SELF_SIGNED, NOT_CREATED)),
    Scenario("mixed-cluster", "Publisher tomcat-ECDSA EC-CA-signed, subscriber still "
             "self-signed", "11.5(1)", (
                 NodeSpec("uccx-pub", PUBLISHER, RSA_CA, EC_CA),
                 NodeSpec("uccx-sub", SUBSCRIBER, RSA_CA, SELF_SIGNED),
                 NodeSpec("sm", SOCIALMINER, RSA_CA, EC_CA))),
    _hygiene("expired", "Row 3 cluster; the publisher's tomcat certificate has expired"),
    _hygiene("sha1", "Row 3 cluster; the publisher's tomcat certificate is signed with SHA-1"),
    _hygiene("cn_without_san", "Row 3 cluster; the publisher's tomcat names the host only "
             "in the CN, no SAN"),
    _hygiene("wrong_host", "Row 3 cluster; the publisher's tomcat was issued for another "
             "host name"),
    _hygiene("missing_intermediate", "Row 3 cluster; the publisher sends tomcat without its "
             "issuing CA"),
    _hygiene("wildcard", "Row 3 cluster; the publisher's tomcat is a wildcard certificate"),
    _instance("live-data-broken-by-cuic", "cuic", "expired", "Row 3 cluster; CUIC on the "
              "publisher (8444) presents an expired certificate: Live Data is broken through "
              "8444 alone"),
    _instance("restart-pending", "cuic", "previous", "Row 3 cluster after an upload; CUIC on "
              "the publisher (8444) still presents the previous tomcat certificate: a restart "
              "is pending"),
    Scenario("trust-socialminer-chain-missing", "Row 3 cluster; the UCCX tomcat-trust (read "
             "over the VOS CLI) lacks SocialMiner's chain: chat/email broken", "11.5(1)",
             lab_cluster(RSA_CA, EC_CA), faq_row=None,
             trust_missing=("uccx_trusts_socialminer",)),
)}


def before_upgrade(after: Scenario) -> Scenario | None:
    """The scenario a rehearsal serves before the change that ends in ``after``: a cluster
    of an earlier version with the same nodes and the same ``tomcat`` certificates (the
    upgrade makes ``tomcat-ECDSA``); None when there is none."""

    shape = [(n.name, n.role, n.tomcat) for n in after.nodes]
    return next((s for s in SCENARIOS.values() if Version(s.version) < Version(after.version)
                 and [(n.name, n.role, n.tomcat) for n in s.nodes] == shape), None)


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by name, with a helpful error."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; expected one of: "
                       + ", ".join(SCENARIOS)) from None
