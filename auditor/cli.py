"""The ``uccx-audit`` command line (typer). Only this module wires the stages together."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from auditor import __version__
from auditor.errors import AuditorError, InputError, ToolFailure
from auditor.textsafe import terminal
from auditor.verdicts import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TOOL_FAILED,
    EXIT_USAGE,
    exit_code,
    exit_code_help,
)

if TYPE_CHECKING:
    from auditor.inventory import Inventory
    from auditor.vos_cli import CliRequest

__all__ = ["EXIT_FINDINGS", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "app", "exit_code",
           "main"]

app = typer.Typer(
    name="uccx-audit",
    help=(
        "Audit the tomcat and tomcat-ECDSA certificates of a Cisco UCCX 11.5 cluster: "
        "will agents' Finesse desktop, Live Data and chat/email gadgets work, prompt, "
        "or break?\n\n"
        "\b\nExamples:\n"
        "  uccx-audit demo            # the built-in lab, no servers needed\n"
        "  uccx-audit audit --inventory cluster.yaml --phase pre --target-version '11.5(1)'\n"
        "  uccx-audit audit --inventory cluster.yaml --phase post --ticket CHG0042\n"
        "  uccx-audit diff before/audit.json after/audit.json --format html -o diff.html\n"
        "  uccx-audit check-cert signed.pem --purpose tomcat-ECDSA --csr node.csr\n"
        "  uccx-audit probe uccx1.example.com:12015 sm1.example.com:7443\n\n"
        "\b\nExit codes:\n" + exit_code_help()
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uccx-audit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 - typer needs Optional
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """uccx-audit: UCCX 11.5 certificate auditor."""


class Role(str, Enum):
    publisher = "uccx-publisher"
    subscriber = "uccx-subscriber"
    socialminer = "socialminer"


class TableFormat(str, Enum):
    table = "table"
    json = "json"


def _say(message: str) -> None:
    typer.echo(terminal(message), err=True)


CliAll = Annotated[bool, typer.Option(
    "--cli", help="Also read every node's installed certificates over its VOS CLI (SSH; "
    "without it, only nodes with cli: in the inventory). Password: $UCCX_AUDIT_CLI_PASSWORD "
    "or a prompt; keys and the SSH agent work too.")]
CliUser = Annotated[str, typer.Option("--cli-user", help="VOS CLI user for --cli.")]
CliKnownHosts = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--cli-known-hosts", metavar="FILE",
    help="known_hosts file for the nodes' SSH host keys (default: ~/.ssh/known_hosts).")]
CliAcceptNew = Annotated[bool, typer.Option(
    "--cli-accept-new-host-keys", help="First contact: accept and remember host keys not "
    "yet known (a changed key is still an error).")]
CliTimeout = Annotated[float, typer.Option(
    "--cli-timeout", min=0.1, metavar="SECONDS",
    help="VOS CLI: the login prompt and each command must come within this.")]


def cli_request(inventory: Inventory, *, all_nodes: bool, user: str,
                known_hosts: Path | None, accept_new: bool, timeout: float,
                connect_timeout: float, concurrency: int,
                password: Callable[[], str | None] | None = None) -> CliRequest | None:
    """The VOS CLI part of a run, or None when no node is to be read. The password comes
    from the environment or a prompt here, and only here (``password``: where a portfolio
    keeps the one it asked for)."""
    if not all_nodes and not any(node.cli for node in inventory.nodes):
        return None  # paramiko is not even imported
    from auditor.vos_cli import CliOptions, CliRequest, cli_password, cli_targets

    targets = cli_targets(inventory, all_nodes=all_nodes, user=user)
    if not targets:
        return None
    options = CliOptions(connect_timeout=connect_timeout, prompt_timeout=timeout,
                         command_timeout=timeout, known_hosts=known_hosts,
                         accept_new_host_keys=accept_new, concurrency=min(8, concurrency))
    return CliRequest(targets, options, (password or cli_password)())


def _quick_inventory(targets: list[str], role: str, version: str):
    from auditor.inventory import DEFAULT_PORTS, SERVICES_BY_ROLE, parse_inventory, role_family

    nodes: dict[str, dict] = {}
    for text in targets:
        if text.startswith("[") and "]" in text:  # [::1] or [::1]:8445, as in a URL
            inside, _, rest = text[1:].partition("]")
            host, port_text = f"[{inside}]", rest[1:] if rest.startswith(":") else rest
            if rest and not rest.startswith(":"):
                raise InputError(f"{text!r}: expected a port after the address",
                                 expected="HOST, HOST:PORT or [IPv6]:PORT")
        else:
            host, _, port_text = (text.rpartition(":") if text.count(":") == 1
                                  else (text, "", ""))
        if not host:
            host, port_text = text, ""
        entry = nodes.setdefault(host, {"host": host, "role": role, "ports": {}})
        if port_text:
            try:
                port = int(port_text) if port_text.isascii() and port_text.isdigit() else -1
                if not 0 < port < 65536:
                    raise ValueError(port_text)
            except ValueError:
                raise InputError(f"{text!r}: port {port_text!r} is not a port number",
                                 expected="HOST or HOST:PORT, a port from 1 to 65535"
                                 ) from None
            family = role_family(role)
            service = next((s for s, p in DEFAULT_PORTS[family].items() if p == port), None)
            if service is None:
                spare = [s for s in SERVICES_BY_ROLE[family] if s not in entry["ports"]]
                if not spare:
                    raise InputError(f"{text!r}: too many ports for one {role}")
                service = spare[0]
            entry["ports"][service] = port
    data = {"cluster": "quick-look", "version": version, "nodes": list(nodes.values())}
    inventory = parse_inventory(data, path="<command line>")
    # a node named with ports is probed on those ports only
    fixed = tuple(replace(n, only_listed_ports=bool(n.ports)) for n in inventory.nodes)
    return replace(inventory, nodes=fixed)


#: --per-host: at most this many handshakes with one host at once (as sslyze limits).
PerHost = Annotated[int, typer.Option(
    "--per-host", min=1, max=64, metavar="N",
    help="Handshakes with one host at once; a small VOS virtual machine takes few.")]
DEFAULT_PER_HOST = 4


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit probe --inventory cluster.yaml --out facts.json\n"
             "  uccx-audit probe --inventory cluster.yaml --all-ports --agent-trust cas.pem\n"
             "  uccx-audit probe uccx1.example.com:12015 --format json")
def probe(
    targets: Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
        help="HOST[:PORT] for a quick look (without --inventory).", show_default=False)] = None,
    inventory: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--inventory", "-i", help="Cluster inventory (YAML).")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Write the facts JSON here.")] = None,
    all_ports: Annotated[bool, typer.Option(
        "--all-ports", help="Also probe CUIC 8444 and OS Administration 8443.")] = False,
    agent_trust: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--agent-trust", help="PEM bundle of the CAs and self-signed certificates that "
        "agents' browsers trust (default: this machine's system store).")] = None,
    role: Annotated[Role, typer.Option(help="Role of quick-look hosts.")] = Role.publisher,
    version: Annotated[str, typer.Option(help="UCCX version of quick-look hosts.")] = "11.5(1)",
    connect_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds.")] = 5.0,
    handshake_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds.")] = 5.0,
    concurrency: Annotated[int, typer.Option(min=1, max=1024,
                                             help="Handshakes at once.")] = 64,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.table,
    per_host: PerHost = DEFAULT_PER_HOST,
    cli: CliAll = False,
    cli_user: CliUser = "admin",
    cli_known_hosts: CliKnownHosts = None,
    cli_accept_new_host_keys: CliAcceptNew = False,
    cli_timeout: CliTimeout = 60.0,
) -> None:
    """Record what every endpoint presents to a browser, an ECDSA-only and an RSA-only client."""
    from auditor.collect import probe_inventory
    from auditor.facts import facts_to_json
    from auditor.inventory import load_inventory
    from auditor.prober import ProbeOptions
    from auditor.progress import probe_progress
    from auditor.summary import endpoint_table, node_table
    from auditor.trust import load_agent_trust

    if inventory is not None and targets:
        raise InputError("give either --inventory or HOST[:PORT] targets, not both")
    if out is not None:
        from auditor.outdir import check_out_file

        check_out_file(out)  # before anything is probed: a folder here loses the probe
    if inventory is not None:
        inv = load_inventory(inventory)
    elif targets:
        inv = _quick_inventory(targets, role.value, version)
    else:
        raise InputError("nothing to probe", expected="--inventory FILE or HOST[:PORT] ...")
    trust = load_agent_trust(str(agent_trust) if agent_trust else None)
    options = ProbeOptions(connect_timeout, handshake_timeout, concurrency, per_host=per_host)
    request = cli_request(inv, all_nodes=cli, user=cli_user, known_hosts=cli_known_hosts,
                          accept_new=cli_accept_new_host_keys, timeout=cli_timeout,
                          connect_timeout=connect_timeout, concurrency=concurrency)
    total = sum(len(n.endpoints(all_ports)) for n in inv.nodes)
    started = time.monotonic()
    readings = None
    if request is not None:
        from auditor.vos_cli import read_installed

        readings = read_installed(request)
    try:
        with probe_progress(total) as progress:
            facts = probe_inventory(inv, trust=trust, options=options, all_ports=all_ports,
                                    progress=progress)
    except KeyboardInterrupt:
        _say("interrupted before the probe finished: nothing was written"
             + (f" ({out} is as it was)" if out is not None else ""))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if readings is not None:
        from auditor.installed import refine

        facts = refine(facts, readings)
    if out is not None:
        _save_probe(facts, out)
    if fmt is TableFormat.json:
        typer.echo(facts_to_json(facts), nl=False)
    else:
        typer.echo(terminal(endpoint_table(facts)))
        typer.echo("")
        typer.echo(terminal(node_table(facts)))
    _say(f"probed {total} endpoints in {time.monotonic() - started:.2f} s"
         + (f"; facts written to {out}" if out else ""))


def _save_probe(facts, out: Path) -> None:
    """Write the facts; a disk that cannot take them still shows them on standard output."""
    from auditor.facts import facts_to_json, save_facts
    from auditor.pipeline import is_place_error

    try:
        save_facts(facts, out)
    except OSError as exc:
        if not is_place_error(exc):
            raise
        sys.stdout.write(facts_to_json(facts))
        raise InputError(f"cannot write the facts to {out}: {exc.strerror}; they were "
                         "printed on standard output instead", field="--out") from None


def _scenario_names(incomplete: str) -> list[str]:
    from auditor.lab.scenarios import SCENARIOS

    return [name for name in SCENARIOS if name.startswith(incomplete)]


@app.command(epilog="\b\nExamples:\n  uccx-audit demo\n  uccx-audit demo --list\n"
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
    from auditor.cli_audit import print_result, provenance
    from auditor.inventory import load_inventory
    from auditor.lab import SCENARIOS, Lab
    from auditor.manifest import utc_now
    from auditor.outdir import OutputSet
    from auditor.pipeline import AuditRequest, audit_invocation, run_audit
    from auditor.prober import ProbeOptions
    from auditor.progress import probe_progress
    from auditor.report import ReportMeta
    from auditor.trust import load_agent_trust

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
    with output, Lab(scenario, output.stage / "lab") as lab:
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
        try:
            with probe_progress(total) as progress:
                result = run_audit(request, progress, output)
        except KeyboardInterrupt:
            typer.echo(terminal(output.interrupted()), err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    print_result(result)
    typer.echo(f"open {result.reports['html'].resolve().as_uri()}")
    code = exit_code(result.audit.verdict)
    if code:
        typer.echo(f"(the demo ran; `uccx-audit audit` on such a cluster exits {code})",
                   err=True)


class Phase(str, Enum):
    pre = "pre"
    post = "post"


class CatalogueFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


@app.command("evaluate", epilog="\b\nExamples:\n"
             "  uccx-audit evaluate facts.json --phase post\n"
             "  uccx-audit evaluate facts.json --phase pre --target-version '11.5(1)' "
             "--change-date 2026-03-14\n"
             "  uccx-audit evaluate facts.json --phase post --rules site-rules/ --format json")
def evaluate_command(
    facts_file: Annotated[Path, typer.Argument(
        metavar="FACTS", help="Facts JSON written by probe or demo.", show_default=False)],
    phase: Annotated[Phase, typer.Option(
        "--phase", help="pre: before the change window (predicts the upgrade); post: after it.",
        show_default=False)],
    target_version: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--target-version", help='Version after the change, e.g. "11.5(1)" '
        "(pre phase; default: the version in the facts).")] = None,
    change_date: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--change-date", metavar="YYYY-MM-DD",
        help="Day of the change, for expiry checks (default: when the facts were recorded).",
    )] = None,
    expiry_window: Annotated[int, typer.Option(
        "--expiry-window", min=0, max=36500, metavar="DAYS",
        help="A certificate must stay valid this many days after the change date.")] = 30,
    rules: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--rules", metavar="DIR", help="A folder of site rule files (and playbooks/) to add "
        "to the built-in ones; repeatable.")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Also write the audit JSON here.")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.table,
    waivers: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--waivers", metavar="FILE", help="Accepted risks (YAML); repeatable.")] = None,
) -> None:
    """Judge recorded facts: findings, the verdict, and each agent gadget's outcome per node."""
    from auditor.audit import Invocation, audit_to_json, build_audit, save_audit
    from auditor.audit_text import render_audit
    from auditor.engine import evaluate
    from auditor.facts import load_facts
    from auditor.projection import make_settings
    from auditor.ruleset import load_ruleset
    from auditor.waivers import apply_waivers, load_waivers

    if out is not None:
        from auditor.outdir import check_out_file

        check_out_file(out)
    ruleset = load_ruleset(rules or [])
    facts = load_facts(facts_file)
    waiver_sets = [load_waivers(path, ruleset, [n.host for n in facts.nodes])
                   for path in waivers or ()]
    settings = make_settings(facts.version, facts.observed_at, phase=phase.value,
                             target_version=target_version, change_date=change_date,
                             expiry_window_days=expiry_window)
    args = ["evaluate", str(facts_file), "--phase", phase.value]
    args += ["--target-version", target_version] if target_version else []
    args += ["--change-date", change_date] if change_date else []
    args += ["--expiry-window", str(expiry_window)] if expiry_window != 30 else []
    for folder in rules or []:
        args += ["--rules", str(folder)]
    for waivers_file in waivers or []:
        args += ["--waivers", str(waivers_file)]
    audit = build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings,
                        Invocation("evaluate", tuple(args)))
    if waiver_sets:
        audit = apply_waivers(audit, waiver_sets)
        for notice in audit.waiver_notices:
            _say(f"notice: {notice}")
    if out is not None:
        save_audit(audit, out)
        _say(f"audit written to {out}")
    if fmt is TableFormat.json:
        typer.echo(audit_to_json(audit), nl=False)
    else:
        typer.echo(terminal(render_audit(audit)))
    raise typer.Exit(exit_code(audit.verdict))


@app.command("rules", epilog="\b\nExamples:\n  uccx-audit rules\n"
             "  uccx-audit rules --format md > rules/CATALOGUE.md\n"
             "  uccx-audit rules --rules site-rules/ --format json")
def rules_command(
    fmt: Annotated[CatalogueFormat, typer.Option("--format", "-f")] = CatalogueFormat.table,
    rules: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--rules", metavar="DIR", help="A folder of site rule files to add; repeatable.")
    ] = None,
) -> None:
    """List the rule catalogue, generated from the rule and playbook files themselves."""
    from auditor.catalogue import rules_json, rules_markdown, rules_table
    from auditor.ruleset import load_ruleset

    ruleset = load_ruleset(rules or [])
    if fmt is CatalogueFormat.json:
        typer.echo(rules_json(ruleset), nl=False)
    elif fmt is CatalogueFormat.md:
        typer.echo(rules_markdown(ruleset), nl=False)
    else:
        typer.echo(rules_table(ruleset))
        _say(f"{len(ruleset.rules)} rules, {len(ruleset.playbooks)} playbooks; "
             f"rule set sha256 {ruleset.sha256}")


def main() -> None:
    """Console entry point: people get one-line errors, never a traceback.

    Click (inside typer) handles usage errors itself (exit 2); the project's own errors
    about files and arguments come out here as one line, also with exit 2.
    """
    try:
        app(prog_name="uccx-audit")
    except ToolFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_TOOL_FAILED)
    except AuditorError as exc:
        typer.echo(terminal(f"error: {exc}"), err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:
        # typer turns a Ctrl-C that no command caught into a silent exit 130: say it
        if exc.code == EXIT_INTERRUPTED and isinstance(
                getattr(exc.__context__, "__cause__", None), KeyboardInterrupt):
            typer.echo("interrupted: nothing was written", err=True)
        raise
    except Exception as exc:
        from auditor.pipeline import is_place_error

        if is_place_error(exc):  # a full disk, a read-only mount: the place, not the tool
            assert isinstance(exc, OSError)
            typer.echo(terminal(f"error: cannot write {exc.filename or 'a file'}: "
                                f"{exc.strerror}"), err=True)
            sys.exit(EXIT_USAGE)
        # a bug: one line for people, the traceback in error.log, never a report
        import traceback

        from auditor.fileio import write_atomic

        try:
            where = f"details in {write_atomic('error.log', traceback.format_exc())}"
        except OSError as error:
            where = f"error.log could not be written either ({error.strerror})"
        typer.echo(terminal(f"error: internal error ({type(exc).__name__}: {exc}); no report "
                            f"was written; {where}"), err=True)
        sys.exit(EXIT_TOOL_FAILED)


# Commands defined in their own modules register themselves on ``app`` when imported.
from auditor import cli_audit as _cli_audit  # noqa: E402, F401
from auditor import cli_checkcert as _cli_checkcert  # noqa: E402, F401
from auditor import cli_portfolio as _cli_portfolio  # noqa: E402, F401
from auditor import cli_report as _cli_report  # noqa: E402, F401
