"""``uccx-audit evaluate``: judge recorded facts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.argv import recorded_args
from auditor.cli.config import settings_used
from auditor.cli.console import Voice
from auditor.cli.options import (
    Commands,
    ConfigFile,
    ExpiryWindow,
    NoColor,
    Phase,
    Quiet,
    SiteRules,
    TableFormat,
    TargetVersion,
    Waivers,
    say,
    use_site_map,
)
from auditor.common.errors import InputError
from auditor.model.audit import Invocation, audit_to_json, save_audit
from auditor.model.facts import load_facts
from auditor.model.verdicts import exit_code

commands = Commands()


@commands.command("evaluate", epilog="\b\nExamples:\n"
             "  uccx-audit evaluate facts.json --phase post\n"
             "  uccx-audit evaluate facts.json --phase pre --target-version '11.5(1)' "
             "--change-date 2026-03-14\n"
             "  uccx-audit evaluate facts.json --phase post --rules site-rules/ --format json")
def evaluate_command(
    ctx: typer.Context,
    facts_file: Annotated[Path, typer.Argument(
        metavar="FACTS", help="Facts JSON written by probe or demo.", show_default=False)],
    phase: Annotated[Phase, typer.Option(
        "--phase", help="pre: before the change window (predicts the upgrade); post: after it.",
        show_default=False)],
    target_version: TargetVersion = None,
    change_date: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--change-date", metavar="YYYY-MM-DD",
        help="Day of the change, for expiry checks (default: when the facts were recorded).",
    )] = None,
    expiry_window: ExpiryWindow = 30,
    rules: SiteRules = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Also write the audit JSON here.")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.table,
    waivers: Waivers = None,
    config: ConfigFile = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Judge recorded facts: findings, the verdict, and each agent gadget's outcome per node."""
    from auditor.collect.recorded import check_recorded_certificates
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.pipeline.run import judge, load_waiver_files, recorded_request
    from auditor.render.audit_text import audit_body, cluster_line, scope_text, verdict_line

    if out is not None:
        from auditor.pipeline.outdir import check_out_file

        check_out_file(out)
    use_site_map(rules)
    ruleset = load_ruleset(rules or [])
    facts = load_facts(facts_file)
    check_recorded_certificates(facts, str(facts_file))
    settings = settings_used(ctx)
    args = recorded_args(ctx, settings)  # as typed: no secret, no --out
    request = recorded_request(
        facts, phase.value, out.parent if out is not None else Path.cwd(),
        target_version=target_version, change_date=change_date,
        expiry_window_days=expiry_window, rule_dirs=tuple(rules or ()),
        waiver_files=tuple(waivers or ()), invocation=Invocation("evaluate", args,
                                                                    settings=settings))
    try:
        audit = judge(request, ruleset, load_waiver_files(request.waiver_files, ruleset,
                                                          request.inventory), facts)
    except InputError as exc:
        if exc.path is not None or exc.field is None or exc.field.startswith("--"):
            raise
        # a field of the facts (no node, a version that is none): name their file
        raise InputError(exc.message, path=str(facts_file), field=exc.field,
                         expected=exc.expected) from None
    for notice in audit.waiver_notices:
        say(f"notice: {notice}")
    voice = Voice(quiet=quiet, no_color=no_color)
    if out is not None:
        save_audit(audit, out)
        voice.say(f"audit written to {out}", err=True)
    if fmt is TableFormat.json:  # the data itself: --quiet does not shorten it
        typer.echo(audit_to_json(audit), nl=False)
    else:
        voice.say(cluster_line(audit))
        voice.verdict(verdict_line(audit), audit.verdict)
        voice.say(scope_text(audit))
        voice.say("\n" + audit_body(audit))
    raise typer.Exit(exit_code(audit.verdict))
