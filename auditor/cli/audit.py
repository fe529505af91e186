"""``uccx-audit audit``: from an inventory to the four reports, the night of the change."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from auditor.cli.argv import recorded_args
from auditor.cli.config import settings_used
from auditor.cli.console import Voice
from auditor.cli.options import (
    DEFAULT_PER_HOST,
    AgentTrust,
    AllPorts,
    Bundle,
    ChangeDate,
    CliAcceptNew,
    CliAll,
    CliKnownHosts,
    CliTimeout,
    CliUser,
    Commands,
    Concurrency,
    ConfigFile,
    ConnectTimeout,
    ExpiryWindow,
    FromPem,
    HandshakeTimeout,
    NoColor,
    NoPem,
    Operator,
    Pdf,
    PerHost,
    Phase,
    Quiet,
    SiteRules,
    TargetVersion,
    Ticket,
    Waivers,
    cli_request,
    use_site_map,
)
from auditor.cli.portfolio import audit_portfolio
from auditor.common.textsafe import terminal
from auditor.model.audit import Invocation
from auditor.model.verdicts import EXIT_INTERRUPTED, exit_code

if TYPE_CHECKING:
    from auditor.model.audit import Setting
    from auditor.pipeline.manifest import Provenance


def print_result(result, *, err: bool = False, voice: Voice | None = None) -> None:
    """The gadget grid and the verdict as a terminal table, and where the reports are
    (on standard error with ``err``); with a quiet ``voice``, the verdict line only."""
    from auditor.render.audit_text import (
        cluster_line,
        deciding_text,
        faq_text,
        gadget_table,
        plan_text,
        scope_text,
        site_policy_text,
        terminal_width,
        unknowns_text,
        verdict_line,
    )

    voice = voice or Voice()
    for notice in result.audit.waiver_notices:
        typer.echo(terminal(f"notice: {notice}"), err=True)
    voice.say(cluster_line(result.audit), err=err)
    voice.verdict(verdict_line(result.audit), result.audit.verdict, err=err)
    voice.say(scope_text(result.audit), err=err)
    voice.say("", err=err)
    width = terminal_width(sys.stderr if err else sys.stdout)
    voice.say(gadget_table(result.audit, width=width), err=err)
    voice.say(faq_text(result.audit, width), err=err)
    voice.say("", err=err)
    decided = deciding_text(result.audit)
    if decided:
        voice.say(decided, err=err)
        voice.say("", err=err)
    if result.audit.unknowns:
        voice.say(unknowns_text(result.audit), err=err)
        voice.say("", err=err)
    if result.audit.site_policy:
        voice.say(site_policy_text(result.audit), err=err)
        voice.say("", err=err)
    plan = plan_text(result.audit, width)
    if plan:
        voice.say(plan, err=err)
        voice.say("", err=err)
    folder = result.facts_path.parent
    written = [*(p.name for p in result.reports.values()), result.facts_path.name]
    if result.manifest is not None:
        written.append(result.manifest.name)
    voice.say(f"reports in {folder}/: " + ", ".join(written), err=err)
    if result.manifest is not None:
        from auditor.pipeline.manifest import sha256_file

        voice.say(f"manifest sha256:{sha256_file(result.manifest)} (record it in the "
                  f"ticket; `uccx-audit verify {folder}` checks the files)", err=err)
    if result.bundle is not None:
        voice.say(f"evidence bundle: {result.bundle}", err=err)
    for note in result.notes:
        typer.echo(terminal(note), err=True)


def _portfolio_cli(*, cli: bool, user: str, known_hosts: Path | None, accept_new: bool,
                   timeout: float, connect_timeout: float, concurrency: int):
    """Each cluster's VOS CLI request, asking for the password at most once."""

    @cache
    def password() -> str | None:
        from auditor.collect.vos_cli import cli_password

        return cli_password()

    def cli_for(inventory):
        return cli_request(inventory, all_nodes=cli, user=user, known_hosts=known_hosts,
                           accept_new=accept_new, timeout=timeout,
                           connect_timeout=connect_timeout, concurrency=concurrency,
                           password=password)
    return cli_for


def provenance(inventory: Path | None, agent_trust: Path | None,
               settings: tuple[Setting, ...] = ()) -> Provenance:
    """The command line, the settings from a file or the environment, and the start time
    for the manifest."""

    from auditor.pipeline.manifest import Provenance

    return Provenance(command_line=("uccx-audit", *sys.argv[1:]), inventory=inventory,
                      agent_trust=agent_trust, settings=settings)


commands = Commands()


@commands.command(epilog="\b\nExamples:\n"
             "  uccx-audit audit --inventory cluster.yaml --phase pre --target-version '11.5(1)'"
             " --change-date 2026-12-05 --ticket CHG0042\n"
             "  uccx-audit audit --inventory cluster.yaml --phase post --agent-trust cas.pem "
             "--out after/\n"
             "  uccx-audit audit --inventory cluster.yaml --phase post --from-pem downloads/\n"
             "  uccx-audit audit --inventory customers/ --phase post --out portfolio/ "
             "--summary-json\n"
             "  uccx-audit audit --inventory cluster.yaml --phase post --waivers waivers.yaml\n"
             "  UCCX_AUDIT_CLI_PASSWORD=... uccx-audit audit --inventory cluster.yaml "
             "--phase post --cli\n\n"
             "\b\nWrites report.html, report.md, audit.json, junit.xml, facts.json and "
             "manifest.json into the folder (--pdf: also report.pdf; --bundle: also one zip of "
             "them all); with several inventories (or a folder of them), one such folder per "
             "cluster and portfolio.html, portfolio.csv, portfolio.json beside them.\n"
             "\b\nExit codes: 0 go or go with actions, 1 no-go, 2 usage or input error, "
             "3 inconclusive, 4 the tool failed, 130 interrupted; a portfolio exits with its "
             "worst cluster's code.")
def audit(
    ctx: typer.Context,
    inventory: Annotated[list[Path], typer.Option(
        "--inventory", "-i", help="Cluster inventory; repeat it, or name a folder (every "
        "*.yaml in it), to audit a portfolio of clusters in one run.")],
    phase: Annotated[Phase, typer.Option(help="pre: before the change window (predicts the "
                                         "upgrade); post: after it.", show_default=False)],
    target_version: TargetVersion = None,
    change_date: ChangeDate = None,
    expiry_window: ExpiryWindow = 30,
    agent_trust: AgentTrust = None,
    ticket: Ticket = None,
    operator: Operator = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Folder for the reports (default: a new dated folder).")] = None,
    rules: SiteRules = None,
    from_pem: FromPem = None,
    all_ports: AllPorts = False,
    connect_timeout: ConnectTimeout = 5.0,
    handshake_timeout: HandshakeTimeout = 5.0,
    concurrency: Concurrency = 64,
    per_host: PerHost = DEFAULT_PER_HOST,
    pdf: Pdf = False,
    no_pem: NoPem = False,
    bundle: Bundle = False,
    waivers: Waivers = None,
    summary_json: Annotated[bool, typer.Option(
        "--summary-json", help="Print one JSON line on standard output (verdict counts, "
        "worst exit code, folder) for CI and AWX set_stats; the tables go to standard "
        "error.")] = False,
    cli: CliAll = False,
    cli_user: CliUser = "admin",
    cli_known_hosts: CliKnownHosts = None,
    cli_accept_new_host_keys: CliAcceptNew = False,
    cli_timeout: CliTimeout = 60.0,
    config: ConfigFile = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Probe the cluster (or read downloaded certificates), judge it, write the reports."""
    from auditor.cli.progress import plan_of, probe_progress
    from auditor.collect.gather import probed
    from auditor.collect.inventory import load_inventory
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.trust import load_agent_trust
    from auditor.pipeline.outdir import OutputSet, check_out_dir
    from auditor.pipeline.run import (
        AuditRequest,
        default_out_dir,
        run_audit,
        sources,
    )
    from auditor.render import ReportMeta

    voice = Voice(quiet=quiet, no_color=no_color)
    use_site_map(rules)  # a site's services: in the inventory, the probe and the reports
    if out is not None:
        check_out_dir(out)  # before anything is read or probed
    settings = settings_used(ctx)
    started = provenance(inventory[0] if len(inventory) == 1 else None, agent_trust,
                         settings)
    options = ProbeOptions(connect_timeout, handshake_timeout, concurrency, per_host=per_host)
    # the verify step runs the audit again as typed: every option, no secret, no --out
    invocation = Invocation("audit", recorded_args(ctx, settings), str(inventory[0]),
                            settings)
    if len(inventory) > 1 or inventory[0].is_dir():

        audit_portfolio(
            inventory, phase=phase.value, target_version=target_version,
            change_date=change_date, expiry_window=expiry_window, agent_trust=agent_trust,
            ticket=ticket, operator=operator, out=out, rules=rules, from_pem=from_pem,
            all_ports=all_ports, options=options, waivers=waivers, summary_json=summary_json,
            provenance=started, invocation=invocation, pdf=pdf, no_pem=no_pem, bundle=bundle,
            cli_for=_portfolio_cli(cli=cli, user=cli_user, known_hosts=cli_known_hosts,
                                   accept_new=cli_accept_new_host_keys, timeout=cli_timeout,
                                   connect_timeout=connect_timeout, concurrency=concurrency),
            voice=voice)
        return
    inv = load_inventory(inventory[0])
    request = AuditRequest(
        inventory=inv, phase=phase.value,
        trust=load_agent_trust(str(agent_trust) if agent_trust else None),
        out_dir=out or default_out_dir(inv.cluster, phase.value),
        target_version=target_version, change_date=change_date,
        expiry_window_days=expiry_window, rule_dirs=tuple(rules or ()),
        options=options, all_ports=all_ports, from_pem=from_pem,
        cli=cli_request(inv, all_nodes=cli, user=cli_user, known_hosts=cli_known_hosts,
                        accept_new=cli_accept_new_host_keys, timeout=cli_timeout,
                        connect_timeout=connect_timeout, concurrency=concurrency),
        meta=ReportMeta.now(ticket, operator, pem=not no_pem), invocation=invocation,
        provenance=started, pdf=pdf, bundle=bundle, waiver_files=tuple(waivers or ()))
    # the clusters gather probes (none where the PEM folders hold every keystore)
    online = probed([inv], sources(request))
    total = sum(len(n.endpoints(all_ports)) for i in online for n in i.nodes)
    output = OutputSet(request.out_dir)
    try:
        with output, probe_progress(total, plan=plan_of(online, all_ports),
                                    quiet=quiet) as progress:
            result = run_audit(request, progress if online else None, output)
        # a Ctrl-C while the result is printed still says what is on disk: the whole set
        print_result(result, err=summary_json, voice=voice)
        if summary_json:
            from auditor.model.portfolio import build_portfolio
            from auditor.render.portfolio import summary_line

            typer.echo(summary_line(build_portfolio([(request.out_dir.name, result.audit)]),
                                    request.out_dir))
    except KeyboardInterrupt:
        typer.echo(terminal(output.interrupted()), err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(exit_code(result.audit.verdict))
