"""A portfolio's roll-up: each cluster's verdict, blockers and unknowns, and the
certificates across all clusters that expire soonest; ``portfolio.json`` read and written."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor import __version__
from auditor.common.errors import InputError
from auditor.common.serde import from_jsonable, to_jsonable
from auditor.common.validation import load_json, validate, validate_versioned
from auditor.model.audit import Audit, audit_scope_line, subject_data
from auditor.model.certificate import parse_time
from auditor.model.cluster import Node
from auditor.model.facts import Facts
from auditor.model.findings import Subject
from auditor.model.verdicts import VERDICTS, Verdict, exit_code, worst_exit, worst_verdict

#: 2: a blocker's subject as an object (scope, key, kind); schema 1 is still read.
SCHEMA_VERSION = 2


PORTFOLIO_FILES = {"json": "portfolio.json", "csv": "portfolio.csv", "html": "portfolio.html"}


@dataclass(frozen=True)
class Blocker:
    """An error finding: what stands between the cluster and a GO."""

    rule_id: str
    node: str
    subject: Subject
    title: str


@dataclass(frozen=True)
class Unknown:
    """A gadget whose outcome the audit could not see, and the rules that said so."""

    node: str
    gadget: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ClusterEntry:
    cluster: str
    folder: str
    phase: str
    verdict: Verdict
    exit_code: int
    observed_at: str
    errors: int
    warnings: int
    notices: int
    accepted_risks: int
    blockers: tuple[Blocker, ...]
    unknowns: tuple[Unknown, ...]
    #: the cluster audit's scope line (what it judged, whether the servers' trust stores
    #: were read); None in portfolios written before it was kept ("not recorded")
    scope: str | None = None


@dataclass(frozen=True)
class ExpiringCertificate:
    """A certificate some endpoint presents that expires within the window (or has)."""

    cluster: str
    folder: str
    nodes: tuple[str, ...]
    services: tuple[str, ...]
    subject: str
    issuer: str
    not_after: str
    days_left: int
    expired: bool
    fingerprint: str


@dataclass(frozen=True)
class Portfolio:
    schema_version: int
    tool_version: str
    generated_at: str
    clusters: tuple[ClusterEntry, ...]
    verdict_counts: dict[str, int]
    worst_verdict: Verdict | None
    exit_code: int
    expiring: tuple[ExpiringCertificate, ...]


def _nodes(facts: Facts) -> list[Node]:
    return [Node(host=n.host, role=n.role) for n in facts.nodes]


def cluster_entry(audit: Audit, folder: str) -> ClusterEntry:
    blockers = tuple(Blocker(f.rule_id, f.node, f.subject, f.title)
                     for f in audit.findings if f.severity == "error")
    unknowns = tuple(Unknown(n.host, gadget, result.rules)
                     for n in audit.nodes for gadget, result in n.gadgets.items()
                     if result.outcome == "unknown")
    return ClusterEntry(audit.cluster, folder, audit.phase, audit.verdict,
                        exit_code(audit.verdict), audit.facts.observed_at,
                        audit.summary.get("error", 0), audit.summary.get("warning", 0),
                        audit.summary.get("notice", 0), len(audit.accepted_risks),
                        blockers, unknowns, audit_scope_line(audit))


def expiring_certificates(audit: Audit, folder: str) -> list[ExpiringCertificate]:
    """Every certificate the cluster's endpoints present (leaves and chains) that expires
    within the audit's expiry window after its change date, or has expired."""
    change = dt.datetime.combine(dt.date.fromisoformat(audit.change_date), dt.time(),
                                 dt.timezone.utc)
    limit = change + dt.timedelta(days=audit.expiry_window_days)
    observed = parse_time(audit.facts.observed_at)
    where: dict[str, tuple[list[str], list[str]]] = {}
    for node in audit.facts.nodes:
        for endpoint in node.endpoints:
            for hs in endpoint.handshakes:
                for fp in hs.chain if hs.ok else ():
                    nodes, services = where.setdefault(fp, ([], []))
                    if node.host not in nodes:
                        nodes.append(node.host)
                    place = f"{node.host.split('.')[0]}:{endpoint.port}"
                    if place not in services:
                        services.append(place)
    found = []
    for fp, (nodes, services) in where.items():
        cert = audit.facts.certificates[fp]
        not_after = parse_time(cert.not_after)
        if not_after > limit:
            continue
        found.append(ExpiringCertificate(
            audit.cluster, folder, tuple(nodes), tuple(services), cert.subject, cert.issuer,
            cert.not_after, (not_after - change).days, not_after <= observed, fp))
    return found


@dataclass(frozen=True)
class ClusterRollUp:
    """All the roll-up needs of one cluster's audit: its line and its expiring
    certificates. A portfolio keeps this, not the audit, once the cluster is written."""

    entry: ClusterEntry
    expiring: tuple[ExpiringCertificate, ...]


def cluster_roll_up(audit: Audit, folder: str) -> ClusterRollUp:
    """What the portfolio keeps of ``audit`` (written into ``folder``)."""
    return ClusterRollUp(cluster_entry(audit, folder),
                         tuple(expiring_certificates(audit, folder)))


def build_portfolio(audits: Sequence[tuple[str, Audit]],
                    generated_at: str | None = None) -> Portfolio:
    """The roll-up of ``(folder, audit)`` pairs, in the order given."""
    return roll_up([cluster_roll_up(audit, folder) for folder, audit in audits], generated_at)


def roll_up(parts: Sequence[ClusterRollUp], generated_at: str | None = None) -> Portfolio:
    """The portfolio of each cluster's :class:`ClusterRollUp`, in the order given."""
    clusters = tuple(part.entry for part in parts)
    expiring = sorted((c for part in parts for c in part.expiring),
                      key=lambda c: (c.not_after, c.cluster, c.fingerprint))
    counts: dict[str, int] = {v: sum(1 for c in clusters if c.verdict == v) for v in VERDICTS}
    stamp = generated_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Portfolio(SCHEMA_VERSION, __version__, stamp, clusters, counts,
                     worst_verdict(c.verdict for c in clusters),
                     worst_exit(c.exit_code for c in clusters), tuple(expiring))


def portfolio_json(portfolio: Portfolio) -> str:
    return json.dumps(to_jsonable(portfolio), indent=2, sort_keys=True,
                      ensure_ascii=False, allow_nan=False) + "\n"


def is_portfolio(folder: Path) -> bool:
    return folder.is_dir() and (folder / PORTFOLIO_FILES["json"]).is_file()


def load_portfolio(folder: Path) -> Portfolio:
    """Read ``portfolio.json`` from a portfolio folder, checked against its schema."""
    path = folder / PORTFOLIO_FILES["json"]
    data = load_json(path)
    if isinstance(data, dict) and data.get("schema_version") == 1:
        validate(data, "portfolio-v1", path=str(path))
        data = _from_v1(data)
    validate_versioned(data, "portfolio", SCHEMA_VERSION, path=str(path))
    portfolio: Portfolio = from_jsonable(Portfolio, data)
    check_roll_up(portfolio, path=str(path))
    return portfolio


def check_roll_up(portfolio: Portfolio, *, path: str) -> None:
    """The roll-up of a portfolio file is derived again from its clusters' verdicts, not
    believed: each cluster's exit code, the verdict counts, the worst verdict and the exit
    code must be what those verdicts give, or an :class:`InputError` names the field."""
    def refuse(field: str, stored: object, derived: object) -> InputError:
        return InputError(f"{stored!r} does not follow from the clusters' verdicts; the file "
                          "was edited or is damaged", path=path, field=field,
                          expected=repr(derived))

    for index, entry in enumerate(portfolio.clusters):
        if entry.exit_code != exit_code(entry.verdict):
            raise refuse(f"clusters[{index}].exit_code", entry.exit_code,
                         exit_code(entry.verdict))
    counts = {v: sum(1 for c in portfolio.clusters if c.verdict == v) for v in VERDICTS}
    derived = {"verdict_counts": counts,
               "worst_verdict": worst_verdict(c.verdict for c in portfolio.clusters),
               "exit_code": worst_exit(c.exit_code for c in portfolio.clusters)}
    for field, value in derived.items():
        if getattr(portfolio, field) != value:
            raise refuse(field, getattr(portfolio, field), value)


def check_entry(entry: ClusterEntry, audit: Audit, *, path: str, field: str) -> None:
    """A portfolio's line for one cluster says what that cluster's audit (itself judged
    again on load) says, or an :class:`InputError` names the field that does not."""
    derived = cluster_entry(audit, entry.folder)
    names = ["cluster", "phase", "verdict", "exit_code", "errors", "warnings", "notices",
             "accepted_risks"]
    if entry.scope is not None:  # portfolios written before it: "not recorded"
        names.append("scope")
    for name in names:
        if getattr(entry, name) != getattr(derived, name):
            raise InputError(f"{getattr(entry, name)!r} is not what the cluster's audit.json "
                             f"says; the portfolio was edited or is damaged", path=path,
                             field=f"{field}.{name}", expected=repr(getattr(derived, name)))


def _from_v1(data: dict) -> dict:
    """A portfolio of schema 1 (validated): its blockers' subjects were one string."""
    clusters = [{**c, "blockers": [{**b, "subject": subject_data(Subject.from_text(
        b["subject"]))} for b in c["blockers"]]} for c in data["clusters"]]
    return {**data, "schema_version": SCHEMA_VERSION, "clusters": clusters}
