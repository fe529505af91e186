"""One audit from inventory to reports: probe (or read the downloaded certificates), save
the facts, evaluate, write every report. The facts are never lost."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.audit import Audit, build_audit, save_audit
from auditor.errors import AuditorError
from auditor.facts import Facts, save_facts
from auditor.fileio import write_atomic
from auditor.inventory import Inventory
from auditor.prober import Handshake, ProbeOptions, Target
from auditor.report import ReportMeta, write_report
from auditor.trust import AgentTrust

if TYPE_CHECKING:
    from auditor.vos_cli import CliRequest

#: The files an audit writes into its folder, by report format.
REPORT_FILES = {"html": "report.html", "md": "report.md", "json": "audit.json",
                "junit": "junit.xml"}
FACTS_FILE = "facts.json"


@dataclass(frozen=True)
class AuditRequest:
    """Everything one audit needs, as plain values (the CLI builds it from its options)."""

    inventory: Inventory
    phase: str
    trust: AgentTrust
    out_dir: Path
    target_version: str | None = None
    change_date: str | None = None
    expiry_window_days: int = 30
    rule_dirs: Sequence[Path] = ()
    options: ProbeOptions = field(default_factory=ProbeOptions)
    all_ports: bool = False
    from_pem: Path | None = None
    offline: bool = False
    #: also read each node's installed certificates over its VOS CLI
    cli: CliRequest | None = None
    meta: ReportMeta = field(default_factory=ReportMeta)


@dataclass(frozen=True)
class AuditResult:
    audit: Audit
    facts_path: Path
    reports: dict[str, Path]


def default_out_dir(cluster: str, phase: str) -> Path:
    """A new dated folder in the current directory."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in cluster) or "cluster"
    return Path(f"uccx-audit-{safe}-{phase}-{stamp}")


def collect(request: AuditRequest,
            progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None) -> Facts:
    """Probe the cluster (or declare facts from downloaded certificates), then refine them
    with what the VOS CLI read. The CLI is read first: a changed host key stops the audit
    before anything else is done."""
    readings = None
    if request.cli is not None:
        from auditor.vos_cli import read_installed

        readings = read_installed(request.cli)
    if request.offline:
        from auditor.offline import declared_facts

        facts = declared_facts(request.inventory, trust=request.trust,
                               from_pem=request.from_pem, all_ports=request.all_ports)
    else:
        from auditor.collect import probe_inventory

        facts = probe_inventory(request.inventory, trust=request.trust,
                                options=request.options, all_ports=request.all_ports,
                                progress=progress)
    if readings is None:
        return facts
    from auditor.installed import refine

    return refine(facts, readings)


def run_audit(request: AuditRequest,
              progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
              ) -> AuditResult:
    """Probe, save the facts, evaluate and write the four reports into ``out_dir``."""
    from auditor.engine import evaluate
    from auditor.projection import make_settings
    from auditor.ruleset import load_ruleset

    # Everything that can be checked before touching the network is checked first.
    ruleset = load_ruleset(list(request.rule_dirs))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    make_settings(request.inventory.version, now, phase=request.phase,
                  target_version=request.target_version, change_date=request.change_date,
                  expiry_window_days=request.expiry_window_days)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    facts = collect(request, progress)
    facts_path = save_facts(facts, request.out_dir / FACTS_FILE)
    try:
        settings = make_settings(facts.version, facts.observed_at, phase=request.phase,
                                 target_version=request.target_version,
                                 change_date=request.change_date,
                                 expiry_window_days=request.expiry_window_days)
        audit = build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings)
        reports = {}
        for fmt, name in REPORT_FILES.items():
            path = request.out_dir / name
            reports[fmt] = save_audit(audit, path) if fmt == "json" else write_report(
                audit, fmt, path, request.meta)
    except AuditorError as exc:
        raise AuditorError(f"{exc}; the probed facts are saved in {facts_path}") from exc
    except Exception as exc:
        log = request.out_dir / "error.log"
        write_atomic(log, traceback.format_exc())
        raise AuditorError(f"evaluating or writing the reports failed ({type(exc).__name__}: "
                           f"{exc}); the probed facts are saved in {facts_path}, the details "
                           f"in {log}") from exc
    return AuditResult(audit, facts_path, reports)
