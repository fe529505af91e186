"""``uccx-audit demo``: audit the built-in lab exactly as a real cluster."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.options import DEFAULT_PER_HOST, Commands, PerHost
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal
from auditor.model.verdicts import EXIT_INTERRUPTED, exit_code

commands = Commands()


def _scenario_names(incomplete: str) -> list[str]:
    from auditor.lab.scenarios import SCENARIOS

    return [name for name in SCENARIOS if name.startswith(incomplete)]


@commands.command(epilog="\b\nExamples:\n  uccx-audit demo\n  uccx-audit demo --list\n"
             "  uccx-audit demo --scenario row2-rsa-signed-ecdsa --out ./demo\n\n"
             "\b\nExit codes: 0 the demo ran (whatever its verdict), 2 usage or input error.")
def demo(
    scenario: Annotated[str, typer.Option(
        "--scenario", "-s", help="Lab scenario (see --list).",
        autocompletion=_scenario_names)] = "row4-upgrade-trap",
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Folder for the results (default: a new dated folder).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios.")] = False,
    ticket: Annotated[Optional[str], typer.Option(help="Change ticket.")] = None,  # noqa: UP045
    operator: Annotated[Optional[str], typer.Option(help="Who ran it.")] = None,  # noqa: UP045
    per_host: PerHost = DEFAULT_PER_HOST,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write report.pdf.")] = False,
    bundle: Annotated[bool, typer.Option("--bundle", help="Also write one zip of it all.")
                      ] = False,
) -> None:
    """Start the built-in lab for a scenario and audit it exactly as a real cluster."""
    from auditor.cli.audit import print_result, provenance
    from auditor.cli.progress import probe_progress
    from auditor.collect.inventory import load_inventory
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.trust import load_agent_trust
    from auditor.lab import SCENARIOS, Lab
    from auditor.pipeline.manifest import utc_now
    from auditor.pipeline.outdir import OutputSet
    from auditor.pipeline.run import AuditRequest, audit_invocation, run_audit
    from auditor.render import ReportMeta

    if list_:
        width = max(len(n) for n in SCENARIOS)
        for name, item in SCENARIOS.items():
            typer.echo(f"{name.ljust(width)}  {item.summary}")
        return
    if scenario not in SCENARIOS:
        import difflib

        close = [n for n in SCENARIOS if n.startswith(scenario)] or difflib.get_close_matches(
            scenario, list(SCENARIOS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown scenario {scenario!r}{hint}", field="--scenario",
                         expected="one of: " + ", ".join(SCENARIOS))
    folder = out or Path(f"uccx-audit-demo-{scenario}-"
                         f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    # a pre-upgrade cluster is audited before its change: predict the upgrade to 11.5
    phase = "pre" if SCENARIOS[scenario].version != "11.5(1)" else "post"
    started_at = utc_now()
    output = OutputSet(folder)  # checked before the lab starts
    typer.echo(f"lab scenario {scenario}: {SCENARIOS[scenario].summary}\n")
    # a Ctrl-C at any point, the lab's shutdown and the printing included, says what is
    # on disk
    try:
        with output, Lab(scenario, output.stage / "lab") as lab:
            output.claim(["lab"])  # before the probe: a folder of the user's by that name
            output.also_wrote(lab.workdir)  # the manifest names its files, unhashed
            inventory = load_inventory(lab.inventory_path)
            request = AuditRequest(
                inventory=inventory, phase=phase,
                trust=load_agent_trust(str(lab.agent_trust_path)), out_dir=output.out,
                target_version="11.5(1)" if phase == "pre" else None,
                options=ProbeOptions(per_host=per_host), meta=ReportMeta.now(ticket, operator),
                invocation=audit_invocation(
                    output.final(lab.inventory_path), phase,
                    target_version="11.5(1)" if phase == "pre" else None,
                    agent_trust=output.final(lab.agent_trust_path), ticket=ticket,
                    options=ProbeOptions(per_host=per_host)),
                pdf=pdf, bundle=bundle,
                provenance=replace(provenance(lab.inventory_path, lab.agent_trust_path),
                                   started_at=started_at))
            total = sum(len(n.endpoints()) for n in inventory.nodes)
            with probe_progress(total) as progress:
                result = run_audit(request, progress, output)
        print_result(result)
        typer.echo(f"open {result.reports['html'].resolve().as_uri()}")
    except KeyboardInterrupt:
        typer.echo(terminal(output.interrupted()), err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    code = exit_code(result.audit.verdict)
    if code:
        typer.echo(f"(the demo ran; `uccx-audit audit` on such a cluster exits {code})",
                   err=True)
