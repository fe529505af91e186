"""``uccx-audit audit``: from an inventory to the four reports, the night of the change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliAcceptNew,
    CliAll,
    CliKnownHosts,
    CliTimeout,
    CliUser,
    Phase,
    app,
    cli_request,
)


def print_result(result) -> None:
    """The gadget grid and the verdict as a terminal table, and where the reports are."""
    from auditor.audit_text import gadget_table, heading

    typer.echo(heading(result.audit))
    typer.echo("")
    typer.echo(gadget_table(result.audit))
    typer.echo("")
    folder = result.facts_path.parent
    typer.echo(f"reports in {folder}/: " + ", ".join(p.name for p in result.reports.values())
               + f", {result.facts_path.name}")


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit audit --inventory cluster.yaml --phase pre --target-version '11.5(1)'"
             " --change-date 2026-12-05 --ticket CHG0042\n"
             "  uccx-audit audit --inventory cluster.yaml --phase post --agent-trust cas.pem "
             "--out after/\n"
             "  uccx-audit audit --inventory cluster.yaml --phase post --from-pem downloads/\n"
             "  UCCX_AUDIT_CLI_PASSWORD=... uccx-audit audit --inventory cluster.yaml "
             "--phase post --cli\n\n"
             "\b\nWrites report.html, report.md, audit.json, junit.xml and facts.json into the "
             "folder.\n\b\nExit codes: 0 no error findings, 1 error findings, "
             "2 usage or input error.")
def audit(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", help="Cluster inventory.")],
    phase: Annotated[Phase, typer.Option(help="pre: before the change window (predicts the "
                                         "upgrade); post: after it.", show_default=False)],
    target_version: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help='Version after the change, e.g. "11.5(1)".')] = None,
    change_date: Annotated[Optional[str], typer.Option(  # noqa: UP045
        metavar="YYYY-MM-DD", help="Day of the change, for expiry checks.")] = None,
    expiry_window: Annotated[int, typer.Option(min=0, metavar="DAYS")] = 30,
    agent_trust: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        help="PEM bundle the agents' browsers trust (default: the system store).")] = None,
    ticket: Annotated[Optional[str], typer.Option(help="Change ticket.")] = None,  # noqa: UP045
    operator: Annotated[Optional[str], typer.Option(help="Who ran it.")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Folder for the reports (default: a new dated folder).")] = None,
    rules: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--rules", metavar="DIR", help="Site rule files to add; repeatable.")] = None,
    from_pem: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--from-pem", metavar="DIR", help="Offline: certificates downloaded from OS "
        "Administration, one folder per node (DIR/<host>/tomcat.pem, tomcat-ECDSA.pem, "
        "tomcat-trust ...).")] = None,
    all_ports: Annotated[bool, typer.Option(help="Also CUIC 8444, OS Admin 8443.")] = False,
    connect_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds.")] = 5.0,
    handshake_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds.")] = 5.0,
    concurrency: Annotated[int, typer.Option(min=1, max=1024)] = 64,
    cli: CliAll = False,
    cli_user: CliUser = "admin",
    cli_known_hosts: CliKnownHosts = None,
    cli_accept_new_host_keys: CliAcceptNew = False,
    cli_timeout: CliTimeout = 60.0,
) -> None:
    """Probe the cluster (or read downloaded certificates), judge it, write the reports."""
    from auditor.inventory import load_inventory
    from auditor.pipeline import AuditRequest, default_out_dir, run_audit
    from auditor.prober import ProbeOptions
    from auditor.progress import probe_progress
    from auditor.report import ReportMeta
    from auditor.trust import load_agent_trust

    inv = load_inventory(inventory)
    offline = from_pem is not None or any(n.pem_dir for n in inv.nodes)
    request = AuditRequest(
        inventory=inv, phase=phase.value,
        trust=load_agent_trust(str(agent_trust) if agent_trust else None),
        out_dir=out or default_out_dir(inv.cluster, phase.value),
        target_version=target_version, change_date=change_date,
        expiry_window_days=expiry_window, rule_dirs=tuple(rules or ()),
        options=ProbeOptions(connect_timeout, handshake_timeout, concurrency),
        all_ports=all_ports, from_pem=from_pem, offline=offline,
        cli=cli_request(inv, all_nodes=cli, user=cli_user, known_hosts=cli_known_hosts,
                        accept_new=cli_accept_new_host_keys, timeout=cli_timeout,
                        connect_timeout=connect_timeout, concurrency=concurrency),
        meta=ReportMeta.now(ticket, operator))
    total = sum(len(n.endpoints(all_ports)) for n in inv.nodes)
    try:
        with probe_progress(total) as progress:
            result = run_audit(request, None if offline else progress)
    except KeyboardInterrupt:
        facts = request.out_dir / "facts.json"
        kept = f"; the probed facts are in {facts}" if facts.exists() else ""
        typer.echo(f"interrupted: no report was written{kept}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_result(result)
    raise typer.Exit(EXIT_FINDINGS if result.audit.has_errors else EXIT_OK)
