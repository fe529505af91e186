"""``uccx-audit demo``: audit the built-in lab exactly as a real cluster."""

from __future__ import annotations

import datetime as dt
import difflib
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from auditor.cli.audit import print_result, provenance
from auditor.cli.console import Voice
from auditor.cli.options import DEFAULT_PER_HOST, Commands, NoColor, NoPem, PerHost, Quiet
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal
from auditor.model.audit import Invocation
from auditor.model.verdicts import EXIT_INTERRUPTED, exit_code
from auditor.model.versions import DEFAULT_TARGET_VERSION

if TYPE_CHECKING:
    from auditor.lab import Lab
    from auditor.lab.scenarios import Scenario
    from auditor.lab.server import NodeCertificates

commands = Commands()


def _scenario_names(incomplete: str) -> list[str]:
    from auditor.lab.scenarios import SCENARIOS

    return [name for name in SCENARIOS if name.startswith(incomplete)]


@commands.command(epilog="\b\nExamples:\n  uccx-audit demo\n  uccx-audit demo --list\n"
             "  uccx-audit demo --scenario row2-rsa-signed-ecdsa --out ./demo\n"
             "  uccx-audit demo --serve --scenario row4-upgrade-trap --out ./rehearsal\n\n"
             "\b\n--serve keeps two labs running on loopback until Ctrl-C: the cluster before "
             "the upgrade and after it (--scenario), and prints the inventories, the agent "
             "trust and the audit and diff commands to rehearse pre -> post -> diff.\n"
             "\b\nExit codes: 0 the demo ran (whatever its verdict) or the served lab was "
             "stopped (Ctrl-C, SIGTERM), 2 usage or input error.")
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
    no_pem: NoPem = False,
    bundle: Annotated[bool, typer.Option("--bundle", help="Also write one zip of it all.")
                      ] = False,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Audit nothing: keep the lab running until Ctrl-C, before the "
        "upgrade and after it (--scenario), for a rehearsal of pre -> post -> diff; the "
        "inventories and agent trust go into --out.")] = False,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Start the built-in lab for a scenario and audit it exactly as a real cluster."""
    from auditor.cli.progress import plan_of, probe_progress
    from auditor.collect.inventory import load_inventory
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.trust import load_agent_trust
    from auditor.lab import SCENARIOS, Lab
    from auditor.lab.server import LabCliSource
    from auditor.pipeline.manifest import utc_now
    from auditor.pipeline.outdir import OutputSet
    from auditor.pipeline.run import AuditRequest, run_audit
    from auditor.render import ReportMeta

    if list_:
        width = max(len(n) for n in SCENARIOS)
        for name, item in SCENARIOS.items():
            typer.echo(f"{name.ljust(width)}  {item.summary}")
        return
    if scenario not in SCENARIOS:

        close = [n for n in SCENARIOS if n.startswith(scenario)] or difflib.get_close_matches(
            scenario, list(SCENARIOS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown scenario {scenario!r}{hint}", field="--scenario",
                         expected="one of: " + ", ".join(SCENARIOS))
    if serve:
        serve_rehearsal(SCENARIOS[scenario], out)
        return
    voice = Voice(quiet=quiet, no_color=no_color)
    folder = out or Path(f"uccx-audit-demo-{scenario}-"
                         f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    # a pre-upgrade cluster is audited before its change: predict the upgrade to 11.5
    phase = "pre" if SCENARIOS[scenario].version != "11.5(1)" else "post"
    started_at = utc_now()
    output = OutputSet(folder)  # checked before the lab starts
    voice.say(f"lab scenario {scenario}: {SCENARIOS[scenario].summary}\n")
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
                options=ProbeOptions(per_host=per_host),
                meta=ReportMeta.now(ticket, operator, pem=not no_pem),
                invocation=lab_invocation(output.final(lab.inventory_path), phase,
                                          output.final(lab.agent_trust_path), ticket,
                                          per_host),
                pdf=pdf, bundle=bundle,
                shell=LabCliSource(lab) if lab.scenario.reads_cli else None,
                provenance=replace(provenance(lab.inventory_path, lab.agent_trust_path),
                                   started_at=started_at))
            total = sum(len(n.endpoints()) for n in inventory.nodes)
            with probe_progress(total, plan=plan_of([inventory]), quiet=quiet) as progress:
                result = run_audit(request, progress, output)
        print_result(result, voice=voice)
        voice.say(f"open {result.reports['html'].resolve().as_uri()}")
    except KeyboardInterrupt:
        typer.echo(terminal(output.interrupted()), err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    code = exit_code(result.audit.verdict)
    if code and not quiet:
        typer.echo(f"(the demo ran; `uccx-audit audit` on such a cluster exits {code})",
                   err=True)


def lab_invocation(inventory: Path, phase: str, agent_trust: Path,
                   ticket: str | None, per_host: int = DEFAULT_PER_HOST) -> Invocation:
    """How to audit the demo's lab again while it runs: ``uccx-audit audit`` on the lab's
    inventory and agents' trust, as the demo audited it (the demo's own arguments choose a
    scenario, not how it is judged)."""
    args = ["audit", "--inventory", str(inventory), "--phase", phase]
    args += ["--target-version", "11.5(1)"] if phase == "pre" else []
    args += ["--agent-trust", str(agent_trust)]
    args += ["--ticket", ticket] if ticket else []
    args += ["--per-host", str(per_host)] if per_host != DEFAULT_PER_HOST else []
    return Invocation("audit", tuple(args), str(inventory))


def _kept_tomcat(pre_lab: Lab, after: Scenario) -> dict[str, NodeCertificates]:
    """The keystores after the upgrade: each node keeps the ``tomcat`` certificate it had
    before (an upgrade does not replace it) unless the scenario's defect is in it."""
    from auditor.lab.server import scenario_certificates

    made = scenario_certificates(after)
    specs = {n.host: n for n in after.nodes}
    return {host: certs if specs[host].defect else replace(
                certs, tomcat=pre_lab.certificates[host].tomcat,
                tomcat_sent_chain=pre_lab.certificates[host].tomcat_sent_chain)
            for host, certs in made.items()}


def serve_rehearsal(after: Scenario, out: Path | None) -> None:
    """Serve the cluster before its upgrade and ``after`` it, side by side on loopback
    (one cluster name, the same hosts at other addresses), until SIGINT or SIGTERM; print
    where the inventories and the agent trust are and the commands of the rehearsal, then
    ``ready:`` once every endpoint listens. Ends normally (exit 0) on either signal."""
    import shlex

    from auditor.lab import Lab
    from auditor.lab.scenarios import before_upgrade
    from auditor.pipeline.outdir import check_out_dir

    before = before_upgrade(after)
    if before is None:
        raise InputError(f"scenario {after.name!r} has no cluster before an upgrade to "
                         "rehearse from", field="--scenario",
                         expected="a scenario after the upgrade, such as row4-upgrade-trap")
    folder = out or Path(f"uccx-audit-rehearsal-{after.name}-"
                         f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    check_out_dir(folder)  # a new or empty folder: nothing of the user's is overwritten
    stop = threading.Event()

    def stopping(*_signal: object) -> None:
        stop.set()

    # Ctrl-C and a service manager's SIGTERM end the rehearsal normally
    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    cluster = f"lab-{after.name}"
    try:
        with Lab(before, folder / "lab-pre", cluster=cluster) as pre_lab, \
                Lab(after, folder / "lab-post", cluster=cluster,
                    first_address=11 + len(before.nodes),
                    certificates=_kept_tomcat(pre_lab, after)) as post_lab:
            def q(path: Path) -> str:
                return shlex.quote(str(path.resolve()))

            trust = q(pre_lab.agent_trust_path)
            lines = [
                f"lab for a rehearsal, on loopback until Ctrl-C (cluster {cluster}):",
                f"  before the upgrade: {before.name} ({before.summary})",
                f"    inventory:   {pre_lab.inventory_path.resolve()}",
                f"  after the upgrade:  {after.name} ({after.summary})",
                f"    inventory:   {post_lab.inventory_path.resolve()}",
                f"  agent trust:   {pre_lab.agent_trust_path.resolve()}",
                "",
                "rehearse the change (in another terminal):",
                f"  uccx-audit audit --inventory {q(pre_lab.inventory_path)} --agent-trust "
                f"{trust} --phase pre --target-version '{DEFAULT_TARGET_VERSION}' "
                f"--out {q(folder / 'pre')}",
                f"  uccx-audit audit --inventory {q(post_lab.inventory_path)} --agent-trust "
                f"{trust} --phase post --out {q(folder / 'post')}",
                f"  uccx-audit diff {q(folder / 'pre' / 'audit.json')} "
                f"{q(folder / 'post' / 'audit.json')}",
                "",
                "ready: the lab is listening; Ctrl-C stops it"]
            typer.echo(terminal("\n".join(lines)))
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("lab stopped", err=True)
