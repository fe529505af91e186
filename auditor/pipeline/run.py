"""One audit from inventory to reports: probe (or read the downloaded certificates), save
the facts, evaluate, write every report. The facts are never lost."""

from __future__ import annotations

import datetime as dt
import errno
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.collect.handshake import Handshake, Target
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import AgentTrust
from auditor.common.errors import AuditorError, InputError, ToolFailure
from auditor.common.fileio import crash_log
from auditor.evaluate.engine import build_audit
from auditor.model.audit import Audit, Invocation, save_audit
from auditor.model.cluster import Inventory, Node
from auditor.model.facts import Facts, save_facts
from auditor.pipeline.manifest import MANIFEST_FILE, Provenance, bundle_name
from auditor.pipeline.outdir import OutputSet
from auditor.render import ReportMeta, write_report

if TYPE_CHECKING:
    from auditor.collect.sources import Source
    from auditor.collect.vos_cli import CliRequest
    from auditor.evaluate.ruleset import RuleSet
    from auditor.evaluate.waivers import WaiverSet

#: The files an audit writes into its folder, by report format.
REPORT_FILES = {"html": "report.html", "md": "report.md", "json": "audit.json",
                "junit": "junit.xml"}
FACTS_FILE = "facts.json"
PDF_FILE = "report.pdf"
#: Every name a single audit's or the demo's set has at the top of its folder (its error log
#: and the demo's lab included): a portfolio's cluster folder is never given one of them
#: (pipeline/portfolio.rollup_name, which adds the portfolio's own files).
SET_NAMES = frozenset({*REPORT_FILES.values(), FACTS_FILE, PDF_FILE, MANIFEST_FILE,
                       "error.log", "lab"})


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
    #: also read each node's installed certificates over its VOS CLI
    cli: CliRequest | None = None
    #: a source read in place of the VOS CLI over SSH (the demo lab's own CLI)
    shell: Source | None = None
    meta: ReportMeta = field(default_factory=ReportMeta)
    provenance: Provenance = field(default_factory=Provenance)
    pdf: bool = False
    bundle: bool = False
    #: How the user ran it, for the plan's verify step (None: not recorded).
    invocation: Invocation | None = None
    #: waivers files (accepted risks), checked against the rule set and the inventory
    waiver_files: Sequence[Path] = ()



@dataclass(frozen=True)
class AuditResult:
    audit: Audit
    facts_path: Path
    reports: dict[str, Path]
    manifest: Path | None = None
    bundle: Path | None = None
    notes: tuple[str, ...] = ()


def default_out_dir(cluster: str, phase: str) -> Path:
    """A new dated folder in the current directory."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in cluster) or "cluster"
    return Path(f"uccx-audit-{safe}-{phase}-{stamp}")


def sources(request: AuditRequest,
            progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
            cli_for: Callable[[Inventory], CliRequest | None] | None = None,
            ) -> list[Source]:
    """Where a run's facts come from: the PEM folders (``pem_dir``, ``--from-pem``), the
    VOS CLI (``cli_for``: each inventory's request; default: the request's own) and the
    network. :func:`auditor.collect.gather.gather` decides which gives the facts."""
    from auditor.collect.sources.network import NetworkSource
    from auditor.collect.sources.pem import PemSource
    from auditor.collect.sources.vos_cli import VosCliSource

    return [PemSource(request.trust, request.from_pem, request.all_ports),
            request.shell or VosCliSource(cli_for or (lambda _inventory: request.cli)),
            NetworkSource(request.trust, request.options, request.all_ports, progress)]


def collect(request: AuditRequest,
            progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None) -> Facts:
    """The request's facts (:func:`auditor.collect.gather.gather` over :func:`sources`)."""
    from auditor.collect.gather import gather

    return gather(request.inventory, sources(request, progress))


def run_audit(request: AuditRequest,
              progress: Callable[[Target, tuple[Handshake, ...]], None] | None = None,
              output: OutputSet | None = None) -> AuditResult:
    """Probe, save the facts, evaluate and write the four reports into ``out_dir``, all at
    once (:mod:`auditor.pipeline.outdir`): ``output`` is the folder's staging, claimed by
    the caller (the demo serves its lab from it), or claimed here."""
    from auditor.evaluate.projection import make_settings
    from auditor.evaluate.ruleset import load_ruleset

    # Everything that can be checked before touching the network is checked first.
    ruleset = load_ruleset(list(request.rule_dirs))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    make_settings(request.inventory.version, now, phase=request.phase,
                  target_version=request.target_version, change_date=request.change_date,
                  expiry_window_days=request.expiry_window_days)
    waivers = load_waiver_files(request.waiver_files, ruleset, request.inventory)
    if output is None:
        with OutputSet(request.out_dir) as claimed:
            return _run_into(request, progress, ruleset, waivers, claimed)
    return _run_into(request, progress, ruleset, waivers, output)


def _run_into(request: AuditRequest, progress: Callable[..., None] | None, ruleset: RuleSet,
              waivers: Sequence[WaiverSet], output: OutputSet) -> AuditResult:
    output.claim(set_names(request))  # a file of the user's by one of those names: stop now
    staged = replace(request, out_dir=output.stage)
    try:
        facts = collect(staged, progress)
    except (AuditorError, KeyboardInterrupt):
        raise
    except Exception as exc:
        # the prober turns what a server can cause into findings; anything else is a bug,
        # and no report may claim anything about the cluster
        raise _tool_failure(output.log_place(), "probing", exc, None) from exc
    facts_path = keep_facts(output, {FACTS_FILE: facts}, FACTS_FILE)[0]
    result = judge_and_write(staged, ruleset, waivers, facts, facts_path,
                             kept=output.kept / FACTS_FILE,
                             log_dir=output.kept, shown_dir=output.out,
                             unattested=output.unhashed_files())
    try:
        output.commit()
    except OSError as exc:
        raise output_error(exc, output.out, output.kept / FACTS_FILE) from None
    return final_result(result, output)


def set_names(request: AuditRequest) -> list[str]:
    """The names an audit writes into its folder (the reports, facts, manifest, bundle)."""
    return [*REPORT_FILES.values(), FACTS_FILE, MANIFEST_FILE,
            *([PDF_FILE] if request.pdf else []),
            *([bundle_name(request.inventory.cluster, request.phase)] if request.bundle
              else [])]


def keep_facts(output: OutputSet, facts: dict[str, Facts], *names: str) -> list[Path]:
    """Save the probed facts into the stage (``name`` -> facts, a path relative to it) and
    beside the folder (``<out>.unfinished/``) until the set is in place; the stage paths,
    for ``names``. A disk that cannot take them is one line that says so."""
    try:
        paths = {name: save_facts(each, output.stage / name) for name, each in facts.items()}
        # a portfolio's <cluster>/facts.json is kept as <cluster>.json (a folder of facts
        # files is what `uccx-audit portfolio` reads)
        output.keep_facts({name if name == FACTS_FILE else f"{Path(name).parent.name}.json":
                           path for name, path in paths.items()})
    except OSError as exc:
        if not is_place_error(exc):
            raise
        raise output_error(exc, output.out, _facts_elsewhere(facts)) from None
    return [paths[n] for n in names]


def _facts_elsewhere(facts: dict[str, Facts]) -> Path | None:
    """The disk beside the folder is full: save the probed facts in the system's temporary
    folder rather than lose them (None if that fails too)."""

    try:
        folder = Path(tempfile.mkdtemp(prefix="uccx-audit-facts-"))
        for name, each in facts.items():
            save_facts(each, folder / (name if name == FACTS_FILE
                                       else f"{Path(name).parent.name}.json"))
    except OSError:
        return None
    return folder / FACTS_FILE if FACTS_FILE in facts else folder


def final_result(result: AuditResult, output: OutputSet) -> AuditResult:
    """``result`` with its paths where the files are once the set is in place."""
    def moved(path: Path | None) -> Path | None:
        return output.final(path) if path is not None else None

    return replace(result, facts_path=output.final(result.facts_path),
                   reports={k: output.final(v) for k, v in result.reports.items()},
                   manifest=moved(result.manifest), bundle=moved(result.bundle))


#: errno values that say the place, not the tool, is at fault.
_PLACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.EIO, errno.EFBIG, errno.ENAMETOOLONG})


def is_place_error(exc: BaseException) -> bool:
    """An OSError that a full disk, a read-only mount or permissions cause."""
    return isinstance(exc, OSError) and exc.errno in _PLACE_ERRNOS


def output_error(exc: OSError, folder: Path, kept: Path | None) -> InputError:
    """One line: what could not be written where, and where the probed facts are."""
    where = (f"; the probed facts are in {kept}" if kept is not None and kept.exists()
             else "; the probed facts could not be saved anywhere")
    return InputError(f"cannot write the reports into {folder}: "
                      f"{exc.strerror or exc}{where}", field="--out",
                      expected="a folder with free space you can write into")


def load_waiver_files(paths: Sequence[Path], ruleset: RuleSet,
                      inventory: Inventory | None = None) -> tuple[WaiverSet, ...]:
    """Every waivers file, checked against the rules and the inventory's hosts."""
    from auditor.evaluate.waivers import load_waivers

    hosts = [n.host for n in inventory.nodes] if inventory is not None else None
    return tuple(load_waivers(path, ruleset, hosts) for path in paths)


def recorded_request(facts: Facts, phase: str, out_dir: Path, **judging: Any
                     ) -> AuditRequest:
    """The request that judges recorded facts again (``uccx-audit evaluate``): the
    inventory the facts were recorded from and the trust they name. Nothing is probed and
    no chain is verified again (the facts hold each chain's verdict), so the trust carries
    no anchors. ``judging``: the other :class:`AuditRequest` fields (versions, dates, rules,
    waivers, invocation)."""
    inventory = Inventory(facts.cluster, facts.version, tuple(
        Node(n.host, n.role, n.address, {e.service: e.port for e in n.endpoints},
             dict(n.declared)) for n in facts.nodes))
    return AuditRequest(inventory=inventory, phase=phase,
                        trust=AgentTrust(facts.agent_trust.source, ()), out_dir=out_dir,
                        **judging)


def judge(request: AuditRequest, ruleset: RuleSet, waivers: Sequence[WaiverSet],
          facts: Facts) -> Audit:
    """Evaluate facts with the request's settings and apply the waivers; writes nothing."""
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.projection import settings_for
    from auditor.evaluate.waivers import apply_waivers

    settings = settings_for(facts, phase=request.phase, target_version=request.target_version,
                            change_date=request.change_date,
                            expiry_window_days=request.expiry_window_days)
    audit = build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings,
                        request.invocation)
    return apply_waivers(audit, waivers) if waivers else audit


def judge_and_write(request: AuditRequest, ruleset: RuleSet, waivers: Sequence[WaiverSet],
                    facts: Facts, facts_path: Path, *, kept: Path | None = None,
                    log_dir: Path | None = None, shown_dir: Path | None = None,
                    unattested: Sequence[Path] = ()) -> AuditResult:
    """Evaluate saved facts, apply the waivers and write every report into ``out_dir``
    (``kept``: where the facts stay if this fails; ``log_dir``: where error.log goes;
    ``shown_dir``: the folder the messages name, when ``out_dir`` is its staging;
    ``unattested``: files of the folder the manifest names without hashing)."""
    reports: dict[str, Path] = {}
    try:
        audit = judge(request, ruleset, waivers, facts)
        for fmt, name in REPORT_FILES.items():
            path = request.out_dir / name
            # the facts file is written beside audit.json and sealed in the same manifest:
            # audit.json names it with its SHA-256 rather than holding a second copy
            reports[fmt] = save_audit(audit, path, facts_file=facts_path if
                                      facts_path.parent == path.parent else None
                                      ) if fmt == "json" else write_report(
                audit, fmt, path, request.meta)
        notes = []
        if request.pdf:
            pdf = write_pdf(reports["html"], request.out_dir / PDF_FILE)
            if isinstance(pdf, Path):
                reports["pdf"] = pdf
            else:
                notes.append(pdf)
        manifest, bundle = seal_folder(request, audit, [facts_path, *reports.values()],
                                       shown_dir, unattested)
    except AuditorError as exc:
        _remove(reports.values())
        raise AuditorError(f"{exc}; the probed facts are saved in {kept or facts_path}"
                           ) from exc
    except OSError as exc:
        _remove(reports.values())
        if not is_place_error(exc):
            raise _tool_failure(log_dir or request.out_dir, "writing the reports", exc,
                                kept or facts_path) from exc
        raise output_error(exc, shown_dir or request.out_dir, kept or facts_path) from None
    except Exception as exc:
        _remove(reports.values())
        raise _tool_failure(log_dir or request.out_dir, "evaluating or writing the reports",
                            exc, kept or facts_path) from exc
    return AuditResult(audit, facts_path, reports, manifest, bundle, tuple(notes))


def _remove(paths: object) -> None:
    """Reports written before a failure claim something the run did not finish: remove."""
    for path in paths:  # type: ignore[attr-defined]
        Path(path).unlink(missing_ok=True)


def _tool_failure(folder: Path, what: str, exc: BaseException,
                  facts_path: Path | None) -> ToolFailure:
    try:  # beside the run's outputs, or else a new temporary file
        log = crash_log(traceback.format_exc(), folder)
    except OSError as error:
        return ToolFailure(f"internal error while {what} ({type(exc).__name__}: {exc}); no "
                           f"report was written; the details could not be written either "
                           f"({error.strerror})", "")
    kept = f"; the probed facts are saved in {facts_path}" if facts_path else ""
    return ToolFailure(f"internal error while {what} ({type(exc).__name__}: {exc}); no report "
                       f"was written{kept}; details in {log}", str(log))


def write_pdf(html: Path, out: Path) -> Path | str:
    """Print the HTML report to ``out``; without an engine, the one line that says how to
    get PDF instead (an audit's other reports and exit code do not depend on it)."""
    from auditor.render.pdf import PdfUnavailable, html_to_pdf

    try:
        return html_to_pdf(html.read_text(encoding="utf-8"), out)
    except PdfUnavailable as exc:
        return str(exc)


def rule_set_entry(audit: Audit, request: AuditRequest) -> dict[str, Any]:
    """The manifest's record of the rule set an audit was judged with."""
    return {"sha256": audit.rule_set.sha256, "rules": audit.rule_set.rules,
            "playbooks": audit.rule_set.playbooks,
            "site_rules": list(audit.rule_set.site_rules),
            "site_dirs": [str(d) for d in request.rule_dirs],
            "site_policy": [{"path": p.path, "sha256": p.sha256, "overrides": [
                {"rule": o.rule, "reason": o.reason,
                 **({"disabled": True} if o.disabled else {"severity": o.severity,
                                                           "was": o.was})}
                for o in p.overrides]} for p in audit.site_policy]}


def seal_folder(request: AuditRequest, audit: Audit, files: Sequence[Path],
                shown_dir: Path | None = None, unattested: Sequence[Path] = ()
                ) -> tuple[Path, Path | None]:
    """Write the folder's manifest last (and the bundle after it, if asked for). Inputs
    inside the staging folder (the demo's lab) are recorded where they will be;
    ``unattested``: files the manifest names without hashing them."""
    stage = request.out_dir

    def shown(path: Path) -> str:
        if shown_dir is None:
            return str(path)
        try:
            return str(shown_dir / Path(path).relative_to(stage))
        except ValueError:
            return str(path)

    from auditor.pipeline.manifest import bundle_name, write_bundle, write_manifest

    name = bundle_name(audit.cluster, audit.phase) if request.bundle else None
    manifest = write_manifest(request.out_dir, files, provenance=request.provenance,
                              rule_set=rule_set_entry(audit, request), trust=request.trust,
                              ticket=request.meta.ticket, operator=request.meta.operator,
                              bundle=name, shown=shown, unattested=unattested)
    return manifest, write_bundle(request.out_dir, name) if name else None
