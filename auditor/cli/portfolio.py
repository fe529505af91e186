"""Portfolios on the command line: ``audit`` over many inventories, and ``uccx-audit
portfolio`` over facts recorded elsewhere (on customers' jump hosts)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.console import Voice
from auditor.cli.options import (
    ChangeDate,
    Commands,
    ConfigFile,
    ExpiryWindow,
    NoColor,
    NoPem,
    Operator,
    Phase,
    Quiet,
    SiteRules,
    TargetVersion,
    Ticket,
    Waivers,
    use_site_map,
)
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal, visible
from auditor.model.cluster import Inventory
from auditor.model.verdicts import EXIT_INTERRUPTED, VERDICT_WORDS

if TYPE_CHECKING:
    from auditor.collect.prober import ProbeOptions
    from auditor.model.audit import Invocation
    from auditor.pipeline.manifest import Provenance


def _default_folder(phase: str) -> Path:
    return Path(f"uccx-audit-portfolio-{phase}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")


def portfolio_verdict_line(portfolio) -> str:
    """The portfolio's verdict line (what ``--quiet`` prints): its worst cluster's verdict
    and how many clusters had each."""

    worst = portfolio.worst_verdict
    counts = ", ".join(f"{n} {VERDICT_WORDS[v]}" for v, n in portfolio.verdict_counts.items()
                       if n)
    return (f"Verdict: {VERDICT_WORDS[worst].upper() if worst else 'NONE'} (the worst of "
            f"{len(portfolio.clusters)} cluster{'' if len(portfolio.clusters) == 1 else 's'}"
            f"{': ' + counts if counts else ''})")


def _finish(portfolio, results, out: Path, summary_json: bool,
            voice: Voice | None = None) -> None:
    """Print one line per cluster (standard error with ``summary_json``) and the verdict
    line, then exit with the worst cluster's code."""
    from auditor.render.portfolio import summary_line
    from auditor.render.terminal import colour_wanted, paint

    voice = voice or Voice()
    names = [visible(c.cluster) for c in portfolio.clusters]  # from files: one line each
    width = max(map(len, names), default=0)
    colour = not voice.quiet and colour_wanted(sys.stderr if summary_json else sys.stdout,
                                               no_color=voice.no_color)
    for result, entry, name in zip(results, portfolio.clusters, names, strict=True):
        for notice in result.waiver_notices:
            typer.echo(terminal(f"notice: {name}: {notice}"), err=True)
        if voice.quiet:
            continue
        verdict = f"{entry.verdict:<15}"
        typer.echo(terminal(f"{name.ljust(width)}  ") + (paint(verdict, entry.verdict)
                                                         if colour else verdict)
                   + terminal(f"  {entry.errors} errors, {entry.warnings} warnings  "
                              f"{entry.folder}/"),
                   err=summary_json, color=colour or None)
        typer.echo(terminal(f"{' ' * width}  {visible(entry.scope or 'scope not recorded')}"),
                   err=summary_json)
    counts = ", ".join(f"{n} {v}" for v, n in portfolio.verdict_counts.items() if n)
    voice.say(f"portfolio of {len(portfolio.clusters)} clusters ({counts}) in {out}/: "
              "portfolio.html, portfolio.csv, portfolio.json", err=summary_json)
    if portfolio.worst_verdict is not None:
        voice.verdict(portfolio_verdict_line(portfolio), portfolio.worst_verdict,
                      err=summary_json)
    if summary_json:
        typer.echo(summary_line(portfolio, out))
    raise typer.Exit(portfolio.exit_code)


def audit_portfolio(inventories: list[Path], *, phase: str, target_version: str | None,
                    change_date: str | None, expiry_window: int, agent_trust: Path | None,
                    ticket: str | None, operator: str | None, out: Path | None,
                    rules: list[Path] | None, from_pem: Path | None, all_ports: bool,
                    options: ProbeOptions, waivers: list[Path] | None,
                    summary_json: bool, provenance: Provenance | None = None,
                    invocation: Invocation | None = None, pdf: bool = False,
                    no_pem: bool = False, bundle: bool = False, cli_for=None,
                    voice: Voice | None = None) -> None:
    """``audit`` with several inventories or a folder of them."""
    from auditor.cli.progress import plan_of, probe_progress
    from auditor.collect.gather import probed
    from auditor.collect.trust import load_agent_trust
    from auditor.pipeline.outdir import OutputSet
    from auditor.pipeline.portfolio import load_inventories, run_portfolio
    from auditor.pipeline.run import AuditRequest, sources
    from auditor.render import ReportMeta

    if from_pem is not None:
        raise InputError("--from-pem names one cluster's certificates; in a portfolio give "
                         "each inventory its nodes' pem_dir", expected="one --inventory")
    loaded = load_inventories(inventories)
    folder = out or _default_folder(phase)
    request = AuditRequest(
        inventory=loaded[0], phase=phase,
        trust=load_agent_trust(str(agent_trust) if agent_trust else None), out_dir=folder,
        target_version=target_version, change_date=change_date,
        expiry_window_days=expiry_window, rule_dirs=tuple(rules or ()), options=options,
        all_ports=all_ports, meta=ReportMeta.now(ticket, operator, pem=not no_pem),
        waiver_files=tuple(waivers or ()), invocation=invocation, pdf=pdf, bundle=bundle,
        **({"provenance": provenance} if provenance is not None else {}))
    output = OutputSet(folder)
    try:
        # the clusters gather probes (none where the PEM folders hold every keystore)
        online = probed(loaded, sources(request))
        total = sum(len(n.endpoints(all_ports)) for inv in online for n in inv.nodes)
        with output, probe_progress(total, plan=plan_of(online, all_ports),
                                    quiet=voice is not None and voice.quiet) as progress:
            portfolio, results = run_portfolio(loaded, request, progress, cli_for=cli_for,
                                               output=output)
        _finish(portfolio, results, folder, summary_json, voice)  # a Ctrl-C here: the set is whole
    except KeyboardInterrupt:
        typer.echo(terminal(output.interrupted()), err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


commands = Commands()


@commands.command(epilog="\b\nExamples:\n"
             "  uccx-audit portfolio fetched/ --phase post --out portfolio/\n"
             "  uccx-audit portfolio a/facts.json b/facts.json --phase pre "
             "--target-version '11.5(1)' --out portfolio/ --summary-json\n\n"
             "\b\nWrites one folder per cluster (facts.json and the four reports) and "
             "portfolio.html, portfolio.csv, portfolio.json.\n"
             "\b\nExit codes: the worst cluster's: 0 go or go with actions, 1 no-go, "
             "3 inconclusive; 2 usage or input error.")
def portfolio(
    facts: Annotated[list[Path], typer.Argument(
        metavar="FACTS...", help="Facts files written by `uccx-audit probe --out`, or "
        "folders of them (every *.json in the folder).", show_default=False)],
    phase: Annotated[Phase, typer.Option(help="pre: before the change window (predicts the "
                                         "upgrade); post: after it.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The portfolio folder.",
                                      show_default=False)],
    target_version: TargetVersion = None,
    change_date: ChangeDate = None,
    expiry_window: ExpiryWindow = 30,
    rules: SiteRules = None,
    waivers: Waivers = None,
    ticket: Ticket = None,
    operator: Operator = None,
    no_pem: NoPem = False,
    summary_json: Annotated[bool, typer.Option(
        "--summary-json", help="Print one JSON line on standard output for CI and AWX "
        "set_stats.")] = False,
    config: ConfigFile = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Judge facts probed elsewhere (one file per cluster) into a portfolio."""
    from auditor.collect.trust import AgentTrust
    from auditor.pipeline.outdir import check_out_dir
    from auditor.pipeline.portfolio import portfolio_from_facts
    from auditor.pipeline.run import AuditRequest
    from auditor.render import ReportMeta

    use_site_map(rules)
    check_out_dir(out)
    request = AuditRequest(
        inventory=Inventory("portfolio", "11.5(1)", ()), phase=phase.value,
        trust=AgentTrust("facts", ()), out_dir=out, target_version=target_version,
        change_date=change_date, expiry_window_days=expiry_window,
        rule_dirs=tuple(rules or ()), meta=ReportMeta.now(ticket, operator, pem=not no_pem),
        waiver_files=tuple(waivers or ()))
    result, results = portfolio_from_facts(facts, request)
    _finish(result, results, out, summary_json, Voice(quiet=quiet, no_color=no_color))
