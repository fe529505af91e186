"""``uccx-audit report`` and ``uccx-audit diff``: registered on the main typer app."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.options import Commands, ConfigFile, NoPem, Operator, Ticket
from auditor.common.errors import InputError
from auditor.common.fileio import write_atomic
from auditor.common.textsafe import terminal
from auditor.model.verdicts import exit_code


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    json = "json"
    junit = "junit"
    pdf = "pdf"


def _checked_out(out: Path | None) -> Path | None:
    """``--out`` checked before any work: None (or ``-``) is standard output; a folder, a
    device or a FIFO is an input error (replacing /dev/stdout with a file is never meant)."""
    from auditor.pipeline.outdir import check_out_file

    if out is None or str(out) == "-":
        return None
    return check_out_file(out)


def _emit(text: str, out: Path | None, *, quiet: bool = False) -> None:
    """``text`` on standard output, or written to ``out`` (said on standard error, unless
    ``quiet``)."""
    from auditor.pipeline.run import is_place_error

    if out is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(out, text)
    except OSError as exc:
        if not is_place_error(exc):
            raise
        raise InputError(f"cannot write {out}: {exc.strerror}", field="--out") from None
    if not quiet:
        typer.echo(terminal(f"written: {out}"), err=True)


commands = Commands()


@commands.command(epilog="\b\nExamples:\n"
             "  uccx-audit report audit.json --format html --out report.html --ticket CHG0042\n"
             "  uccx-audit report audit.json --format md         # paste into the ticket\n"
             "  uccx-audit report audit.json --format junit --out junit.xml\n"
             "  uccx-audit report audit.json --format pdf --out report.pdf  # needs Chrome, "
             "Chromium or Edge\n\n"
             "\b\nExit codes: 0 go or go with actions, 1 no-go, 3 inconclusive, 2 usage or "
             "input error (also: PDF asked for and no browser to print it).")
def report(
    audit_file: Annotated[Path, typer.Argument(metavar="AUDIT.json",
                                               help="Audit JSON from `uccx-audit evaluate "
                                               "--format json` or `uccx-audit audit`.")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.html,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
        "--out", "-o", help="Write here (atomically) instead of standard output ('-': "
        "standard output).")] = None,
    ticket: Ticket = None,
    operator: Operator = None,
    no_pem: NoPem = False,
    config: ConfigFile = None,
) -> None:
    """Render an audit as a self-contained HTML report, Markdown, JSON, JUnit XML or PDF."""
    from auditor.evaluate.plan import load_planned
    from auditor.render import ReportMeta, render

    out = _checked_out(out)
    if fmt is ReportFormat.pdf and out is None:
        raise InputError("a PDF is not written to standard output", field="--out",
                         expected="--out FILE.pdf")
    audit = load_planned(audit_file)  # the plan built from the checked findings
    meta = ReportMeta.now(ticket, operator, pem=not no_pem)
    if fmt is ReportFormat.pdf:
        from auditor.render.pdf import html_to_pdf

        html_to_pdf(render(audit, "html", meta), out)
        typer.echo(terminal(f"written: {out}"), err=True)
    else:
        _emit(render(audit, fmt.value, meta), out)
    raise typer.Exit(exit_code(audit.verdict))




