"""``uccx-audit report`` and ``uccx-audit diff``: registered on the main typer app."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli import EXIT_FINDINGS, EXIT_OK, app


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    json = "json"
    junit = "junit"


class DiffFormat(str, Enum):
    table = "table"
    html = "html"
    md = "md"


def _emit(text: str, out: Path | None) -> None:
    from auditor.fileio import write_atomic

    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, text)
        typer.echo(f"written: {out}", err=True)


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit report audit.json --format html --out report.html --ticket CHG0042\n"
             "  uccx-audit report audit.json --format md         # paste into the ticket\n"
             "  uccx-audit report audit.json --format junit --out junit.xml\n\n"
             "\b\nExit codes: 0 no error findings, 1 error findings, 2 usage or input error.")
def report(
    audit_file: Annotated[Path, typer.Argument(metavar="AUDIT.json",
                                               help="Audit JSON from `uccx-audit evaluate "
                                               "--format json` or `uccx-audit audit`.")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.html,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
        "--out", "-o", help="Write here (atomically) instead of standard output.")] = None,
    ticket: Annotated[Optional[str], typer.Option(help="Change ticket, e.g. CHG0042.")] = None,  # noqa: UP045
    operator: Annotated[Optional[str], typer.Option(help="Who ran the audit.")] = None,  # noqa: UP045
) -> None:
    """Render an audit as a self-contained HTML report, Markdown, JSON or JUnit XML."""
    from auditor.audit import load_audit
    from auditor.report import ReportMeta, render

    audit = load_audit(audit_file)
    _emit(render(audit, fmt.value, ReportMeta.now(ticket, operator)), out)
    raise typer.Exit(EXIT_FINDINGS if audit.has_errors else EXIT_OK)


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit diff before/audit.json after/audit.json\n"
             "  uccx-audit diff before/audit.json after/audit.json --format html --out diff.html"
             "\n\n\b\nExit codes: 0 the after-audit has no error findings, 1 it has, "
             "2 usage or input error.")
def diff(
    before: Annotated[Path, typer.Argument(metavar="BEFORE",
                                           help="An audit.json, or a portfolio folder.")],
    after: Annotated[Path, typer.Argument(metavar="AFTER",
                                          help="An audit.json, or a portfolio folder.")],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
    out: Annotated[Optional[Path], typer.Option("--out", "-o")] = None,  # noqa: UP045
) -> None:
    """What changed between the pre-change and the post-change audit: certificates
    replaced, gadget outcomes changed, findings fixed and new. Given two portfolio folders:
    each cluster's verdict before and after, findings fixed and new."""
    if before.is_dir() or after.is_dir():
        from auditor.errors import InputError
        from auditor.portfolio import is_portfolio
        from auditor.report.portfolio_diff import diff_portfolios, render_portfolio_diff

        for folder in (before, after):
            if not is_portfolio(folder):
                raise InputError("not a portfolio folder (no portfolio.json)",
                                 path=str(folder), expected="two audit.json files or two "
                                 "portfolio folders")
        changes = diff_portfolios(before, after)
        _emit(render_portfolio_diff(changes, fmt.value), out)
        raise typer.Exit(changes.after_exit_code)
    from auditor.audit import load_audit
    from auditor.report import ReportMeta
    from auditor.report.diff import diff_audits
    from auditor.report.diff_render import render_diff

    old, new = load_audit(before), load_audit(after)
    _emit(render_diff(diff_audits(old, new), fmt.value, ReportMeta.now()), out)
    raise typer.Exit(EXIT_FINDINGS if new.has_errors else EXIT_OK)
