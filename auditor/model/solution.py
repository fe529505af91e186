"""The solution map (``rules/solution.yaml``): roles, their services and default ports, what
each endpoint presents, which gadgets need which endpoints, the trust edges, the restart
order and Cisco's FAQ rows, read from one schema-checked file. Nothing else in the package
spells these facts; everything asks the map.

A site rule folder may hold its own ``solution.yaml`` that adds services to a role family
(:func:`with_site`); the map in force is :func:`current`, which a run switches with
:func:`using`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.resources import rules_dir
from auditor.common.validation import MAP_NAMES, Locator, field_name, load_yaml_validated

#: The map's file name, in the built-in rules folder and in a site rule folder.
SOLUTION_FILE = "solution.yaml"
#: Where a playbook step may be done besides a role of the map and the places
#: (:data:`PLACES`): the plan resolves each to nodes.
STEP_TARGETS = ("every-node", "uccx-nodes", "trust-store", "restart")
#: Where a playbook step happens off the cluster (``Step.on``), in words; the plan and the
#: rule catalogue both say it so.
PLACES = {
    "agent-desktops": "agents' PCs",
    "certificate-authority": "the certificate authority",
    "cisco-software-download": "Cisco Software Download",
    "audit-host": "the audit host",
}



@dataclass(frozen=True)
class Service:
    """One endpoint of a role family."""

    name: str
    family: str
    port: int
    title: str
    #: probed on every audit (False: only with --all-ports)
    default: bool
    #: the tomcat-ECDSA states under which it presents tomcat-ECDSA (11.5, no COP)
    ecdsa_states: tuple[str, ...] = ()
    presents_inferred: bool = False
    vos_service: str | None = None
    #: added by a site's solution.yaml
    site: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    family: str
    title: str
    short: str
    steps_on: str
    replicates_trust_to: str | None = None
    at_most_one: bool = False
    #: servers of this role are listed under this inventory key, not among the nodes
    listed_under: str | None = None


@dataclass(frozen=True)
class Instance:
    """One web-server instance of a node that presents a certificate unit."""

    service: str
    #: the service whose restart makes it load the unit again
    restart: str
    #: stated | inferred | unverified: what a source says of that service name
    restart_basis: str


@dataclass(frozen=True)
class Unit:
    """A certificate unit several instances of a node present, each loading it when it
    starts."""

    name: str
    title: str
    basis: str
    instances: Mapping[str, Instance]


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    services: Mapping[str, Service]
    agents: tuple[str, ...] = ()
    look_first: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    restart: str | None = None
    cluster: bool = False
    units: Mapping[str, Unit] = field(default_factory=dict)


@dataclass(frozen=True)
class Gadget:
    name: str
    title: str
    narrow_title: str
    family: str
    needs: tuple[str, ...]
    #: services of other families the gadget needs, on every node of that family
    needs_elsewhere: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def every_need(self) -> tuple[tuple[str, str], ...]:
        """(family, service) of every endpoint the gadget is judged from."""
        return (*((self.family, s) for s in self.needs),
                *((f, s) for f, services in self.needs_elsewhere.items() for s in services))


@dataclass(frozen=True)
class TrustEdge:
    truster: str
    trusts: str
    what: str
    store: str
    basis: str
    source: str
    #: an edge the rules judge (``node.trust.<id>``): truster and trusts are families
    id: str | None = None
    #: with ``id``: the trusted side's certificate whose chain the store must hold
    unit: str | None = None


@dataclass(frozen=True)
class FaqRow:
    """One row of Cisco 210528's FAQ matrix."""

    number: int
    tomcat: str
    tomcat_ecdsa: str
    cells: Mapping[str, str]
    outcomes: Mapping[str, str]
    #: Cells no source states: the report marks them as our inference.
    inferred: tuple[str, ...] = ()
    #: What a report must say beside the row (a conflicting source).
    note: str | None = None

    def __getattr__(self, name: str) -> str:
        # row.live_data: the article's words for that gadget (the templates read them so)
        cells = self.__dict__.get("cells") or {}
        if name in cells:
            return cells[name]
        raise AttributeError(name)


@dataclass(frozen=True)
class Source:
    """A source a citation may name: as citations spell it, and the words by which the
    domain brief's Sources section names it."""

    source: str
    named: str
    note: str | None = None


@dataclass(frozen=True)
class Solution:
    roles: Mapping[str, Role]
    families: Mapping[str, Family]
    gadgets: Mapping[str, Gadget]
    trust: tuple[TrustEdge, ...]
    faq: tuple[FaqRow, ...]
    #: the files the map was read from, built-in first
    paths: tuple[str, ...] = ()
    #: the sources a built-in rule's or playbook's citation may name
    sources: tuple[Source, ...] = ()

    # -- roles -----------------------------------------------------------------------------
    def role(self, role: str) -> Role:
        return self.roles[role]

    def family_of(self, role: str) -> str:
        return self.roles[role].family

    # -- services --------------------------------------------------------------------------
    def services(self, family: str) -> Mapping[str, Service]:
        return self.families[family].services

    def default_ports(self, family: str, *, all_ports: bool = False) -> dict[str, int]:
        """Service name to port of what is probed by default (and with --all-ports)."""
        return {s.name: s.port for s in self.families[family].services.values()
                if s.default or all_ports}

    def port_of(self, family: str, service: str) -> int | None:
        found = self.families[family].services.get(service) if family in self.families else None
        return found.port if found else None

    def ecdsa_services(self, family: str) -> tuple[str, ...]:
        """The services of a family that can present ``tomcat-ECDSA``."""
        return tuple(s.name for s in self.families[family].services.values() if s.ecdsa_states)

    def all_services(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for f in self.families.values() for s in f.services))

    def all_ports(self) -> frozenset[int]:
        return frozenset(s.port for f in self.families.values() for s in f.services.values())

    def site_services(self) -> tuple[Service, ...]:
        return tuple(s for f in self.families.values() for s in f.services.values() if s.site)

    # -- gadgets ---------------------------------------------------------------------------
    def gadgets_of_family(self, family: str) -> tuple[str, ...]:
        return tuple(g for g, spec in self.gadgets.items() if spec.family == family)

    def gadgets_needing(self, family: str, service: str) -> tuple[str, ...]:
        """Every gadget that needs this endpoint of a node of ``family``, of whichever
        family the gadget is."""
        return tuple(g for g, spec in self.gadgets.items()
                     if (family, service) in spec.every_need())

    # -- units -----------------------------------------------------------------------------
    def units(self, family: str) -> Mapping[str, Unit]:
        return self.families[family].units if family in self.families else {}


# ------------------------------------------------------------------------------ loading


def _error(path: str, locate: Locator, where: Sequence[Any], message: str,
           expected: str | None = None) -> InputError:
    return InputError(message, path=path, line=locate(list(where)),
                      field=field_name(where), expected=expected)


def _known(path: str, locate: Locator, where: Sequence[Any], what: str, name: str,
           allowed: Iterable[str]) -> None:
    """Refuse ``name`` where the map has no such ``what`` (a service, family, role, gadget)."""
    allowed = tuple(allowed)
    if name not in allowed:
        raise _error(path, locate, where, f"unknown {what} {name!r}",
                     "one of: " + ", ".join(allowed))


def _service(name: str, family: str, raw: Mapping[str, Any], site: str | None) -> Service:
    return Service(name, family, raw["port"], raw["title"], raw["probe"] == "default",
                   tuple((raw.get("presents") or {}).get("tomcat_ecdsa", ())),
                   bool(raw.get("presents_inferred")), raw.get("vos_service"), site)


def _check_ports(path: str, locate: Locator, family: str,
                 services: Mapping[str, Service], where: Sequence[Any]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        other = seen.get(service.port)
        if other is not None:
            raise _error(path, locate, [*where, name, "port"],
                         f"port {service.port} is already the port of {other} on {family}",
                         "a port no other service of the family uses")
        seen[service.port] = name


def _parse(data: Mapping[str, Any], path: str, locate: Locator) -> Solution:
    for key in ("roles", "families", "gadgets", "faq"):
        if not data.get(key):
            raise _error(path, locate, [key], "is required but missing",
                         f"the {key} of the solution")
    families: dict[str, Family] = {}
    for fam, raw in data["families"].items():
        services = {name: _service(name, fam, spec, None)
                    for name, spec in (raw.get("services") or {}).items()}
        if not services:
            raise _error(path, locate, ["families", fam, "services"], "no services",
                         "at least one service")
        _check_ports(path, locate, fam, services, ["families", fam, "services"])
        for i, name in enumerate(raw.get("agents", ())):
            _known(path, locate, ["families", fam, "agents", i], "service", name, services)
        for unit, names in (raw.get("look_first") or {}).items():
            for i, name in enumerate(names):
                _known(path, locate, ["families", fam, "look_first", unit, i], "service",
                       name, services)
        units: dict[str, Unit] = {}
        for unit, spec in (raw.get("units") or {}).items():
            instances = {}
            for name, inst in spec["instances"].items():
                _known(path, locate, ["families", fam, "units", unit, "instances", name],
                       "service", name, services)
                instances[name] = Instance(name, inst["restart"], inst["restart_basis"])
            units[unit] = Unit(unit, spec["title"], spec["basis"], instances)
        families[fam] = Family(fam, raw.get("title", fam), services,
                               tuple(raw.get("agents", ())),
                               {u: tuple(v) for u, v in (raw.get("look_first") or {}).items()},
                               raw.get("restart"), bool(raw.get("cluster")), units)
    roles: dict[str, Role] = {}
    for name, raw in data["roles"].items():
        _known(path, locate, ["roles", name, "family"], "family", raw["family"], families)
        roles[name] = Role(name, raw["family"], raw["title"], raw["short"], raw["steps_on"],
                           raw.get("replicates_trust_to"), bool(raw.get("at_most_one")),
                           raw.get("listed_under"))
    for name, role in roles.items():
        if role.replicates_trust_to is not None:
            _known(path, locate, ["roles", name, "replicates_trust_to"], "role",
                   role.replicates_trust_to, roles)
    shorts = [r.short for r in roles.values()]
    for name, role in roles.items():
        if shorts.count(role.short) > 1:
            raise _error(path, locate, ["roles", name, "short"],
                         f"{role.short!r} is the short name of another role too",
                         "a short name of its own")
    gadgets: dict[str, Gadget] = {}
    for name, raw in data["gadgets"].items():
        fam = raw["family"]
        _known(path, locate, ["gadgets", name, "family"], "family", fam, families)
        for i, service in enumerate(raw["needs"]):
            if service not in families[fam].services:
                raise _error(path, locate, ["gadgets", name, "needs", i],
                             f"{service!r} is not a service of the {fam} family",
                             "one of: " + ", ".join(families[fam].services))
        elsewhere: dict[str, tuple[str, ...]] = {}
        for other, services in (raw.get("needs_elsewhere") or {}).items():
            if other not in families or other == fam:
                raise _error(path, locate, ["gadgets", name, "needs_elsewhere", other],
                             f"{other!r} is not another family",
                             "one of: " + ", ".join(f for f in families if f != fam))
            for i, service in enumerate(services):
                if service not in families[other].services:
                    raise _error(path, locate, ["gadgets", name, "needs_elsewhere", other, i],
                                 f"{service!r} is not a service of the {other} family",
                                 "one of: " + ", ".join(families[other].services))
            elsewhere[other] = tuple(services)
        gadgets[name] = Gadget(name, raw["title"], raw.get("narrow_title", raw["title"]), fam,
                               tuple(raw["needs"]), elsewhere)
    rows: list[FaqRow] = []
    for i, raw in enumerate(data["faq"]):
        for key in ("cells", "outcomes"):
            for gadget in raw[key]:
                _known(path, locate, ["faq", i, key, gadget], "gadget", gadget, gadgets)
            missing = [g for g in gadgets if g not in raw[key]]
            if missing:
                raise _error(path, locate, ["faq", i, key], "no cell for "
                             + ", ".join(missing), "one entry per gadget")
        for j, gadget in enumerate(raw.get("inferred", ())):
            _known(path, locate, ["faq", i, "inferred", j], "gadget", gadget, gadgets)
        if raw["row"] in [r.number for r in rows]:
            raise _error(path, locate, ["faq", i, "row"], f"row {raw['row']} is listed twice",
                         "each row once")
        rows.append(FaqRow(raw["row"], raw["tomcat"], raw["tomcat_ecdsa"],
                           {g: " ".join(raw["cells"][g].split()) for g in gadgets},
                           {g: raw["outcomes"][g] for g in gadgets},
                           tuple(raw.get("inferred", ())),
                           " ".join(raw["note"].split()) if raw.get("note") else None))
    trust = tuple(TrustEdge(**{k: " ".join(str(v).split()) for k, v in edge.items()})
                  for edge in data.get("trust", ()))
    seen_ids: set[str] = set()
    for index, edge in enumerate(trust):
        if edge.id is None:
            continue
        for side in ("truster", "trusts"):
            if getattr(edge, side) not in families:
                raise _error(path, locate, ["trust", index, side],
                             f"a judged edge (id {edge.id!r}) names families; "
                             f"{getattr(edge, side)!r} is none")
        if edge.unit is None or edge.id in seen_ids:
            raise _error(path, locate, ["trust", index, "id"],
                         f"edge {edge.id!r} is named twice or has no unit")
        seen_ids.add(edge.id)
    sources: list[Source] = []
    for i, raw in enumerate(data.get("sources", ())):
        if raw["source"] in [s.source for s in sources]:
            raise _error(path, locate, ["sources", i, "source"],
                         f"source {raw['source']!r} is listed twice", "each source once")
        sources.append(Source(raw["source"], raw["named"], raw.get("note")))
    return Solution(roles, families, gadgets, trust, tuple(rows), (path,), tuple(sources))


def load_solution(path: str | Path) -> Solution:
    """Read and check a whole solution map (the built-in one)."""
    data, locate = load_yaml_validated(path, "solution")
    return _parse(data, str(path), locate)


def with_site(base: Solution, path: str | Path) -> Solution:
    """``base`` plus what a site's ``solution.yaml`` adds: services of its own (a port of its
    own) on a role family. Nothing built in may be removed or redefined."""
    name = str(path)
    data, locate = load_yaml_validated(path, "solution")
    for key in data:
        if key != "families":
            raise _error(name, locate, [key], "a site map may only add services",
                         "families: {FAMILY: {services: {NAME: {port, title, probe}}}}")
    families = dict(base.families)
    agents: dict[str, list[str]] = {}
    for fam, raw in (data.get("families") or {}).items():
        _known(name, locate, ["families", fam], "family", fam, families)
        extra = [k for k in raw if k != "services"]
        if extra:
            raise _error(name, locate, ["families", fam, extra[0]],
                         "a site map may only add services to a family", "services")
        services = dict(families[fam].services)
        for service, spec in (raw.get("services") or {}).items():
            if service in services:
                where = ("built-in" if services[service].site is None
                         else f"defined in {services[service].site}")
                raise _error(name, locate, ["families", fam, "services", service],
                             f"{service!r} is already a service of {fam} ({where}); a site "
                             "map cannot redefine it", "a new service name")
            if spec.get("presents"):
                raise _error(name, locate, ["families", fam, "services", service, "presents"],
                             "a site service cannot present tomcat-ECDSA by the map's word",
                             "no presents: (tomcat only)")
            services[service] = _service(service, fam, spec, name)
            if spec.get("agents"):
                agents.setdefault(fam, list(families[fam].agents)).append(service)
        _check_ports(name, locate, fam, services, ["families", fam, "services"])
        families[fam] = replace(families[fam], services=services,
                                agents=tuple(agents.get(fam, families[fam].agents)))
    return replace(base, families=families, paths=(*base.paths, name))


def builtin_path() -> Path:
    return rules_dir() / SOLUTION_FILE


@lru_cache(maxsize=1)
def builtin() -> Solution:
    """The map that ships with the tool."""
    return load_solution(builtin_path())


_ACTIVE: list[Solution] = []


def current() -> Solution:
    """The map in force: a site's (inside :func:`using`) or the built-in one."""
    return _ACTIVE[-1] if _ACTIVE else builtin()


def put_in_force(solution: Solution) -> Callable[[], None]:
    """Put ``solution`` in force until the function returned is called."""
    _ACTIVE.append(solution)
    token = len(_ACTIVE) - 1

    def restore() -> None:
        if len(_ACTIVE) > token and _ACTIVE[token] is solution:
            del _ACTIVE[token:]

    return restore


@contextmanager
def using(solution: Solution | None) -> Iterator[Solution]:
    """Put ``solution`` in force for the block (None: leave the map as it is)."""
    if solution is None:
        yield current()
        return
    restore = put_in_force(solution)
    try:
        yield solution
    finally:
        restore()


@contextmanager
def restored() -> Iterator[None]:
    """Whatever is put in force inside the block is out of force after it (one command)."""
    depth = len(_ACTIVE)
    try:
        yield
    finally:
        del _ACTIVE[depth:]


def site_solution(folders: Sequence[str | Path]) -> Solution:
    """The built-in map plus the ``solution.yaml`` of each site folder that has one."""
    solution = builtin()
    for folder in folders:
        candidate = Path(folder) / SOLUTION_FILE
        if candidate.is_file():
            solution = with_site(solution, candidate)
    return solution


def _names(kind: str) -> tuple[str, ...]:
    """The names a schema's ``mapNames`` field allows, from the map in force."""
    solution = current()
    if kind == "role":
        return tuple(solution.roles)
    if kind == "cluster_role":  # a node of the cluster: not a role the inventory lists apart
        return tuple(r for r, role in solution.roles.items() if role.listed_under is None)
    if kind == "service":
        return solution.all_services()
    if kind == "gadget":
        return tuple(solution.gadgets)
    if kind == "step_target":
        return (*solution.roles, *STEP_TARGETS, *PLACES)
    return ()


MAP_NAMES.append(_names)
