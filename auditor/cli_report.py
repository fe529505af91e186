"""``uccx-audit report`` and ``uccx-audit diff``: registered on the main typer app."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli import EXIT_FINDINGS, EXIT_OK, app, exit_code
from auditor.errors import InputError
from auditor.textsafe import terminal


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    json = "json"
    junit = "junit"
    pdf = "pdf"


class DiffFormat(str, Enum):
    table = "table"
    html = "html"
    md = "md"


def _checked_out(out: Path | None) -> Path | None:
    """``--out`` checked before any work: None (or ``-``) is standard output; a folder, a
    device or a FIFO is an input error (replacing /dev/stdout with a file is never meant)."""
    from auditor.outdir import check_out_file

    if out is None or str(out) == "-":
        return None
    return check_out_file(out)


def _emit(text: str, out: Path | None) -> None:
    from auditor.fileio import write_atomic
    from auditor.pipeline import is_place_error

    if out is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(out, text)
    except OSError as exc:
        if not is_place_error(exc):
            raise
        raise InputError(f"cannot write {out}: {exc.strerror}", field="--out") from None
    typer.echo(terminal(f"written: {out}"), err=True)


@app.command(epilog="\b\nExamples:\n"
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
    ticket: Annotated[Optional[str], typer.Option(help="Change ticket, e.g. CHG0042.")] = None,  # noqa: UP045
    operator: Annotated[Optional[str], typer.Option(help="Who ran the audit.")] = None,  # noqa: UP045
) -> None:
    """Render an audit as a self-contained HTML report, Markdown, JSON, JUnit XML or PDF."""
    from auditor.audit import load_audit
    from auditor.report import ReportMeta, render

    out = _checked_out(out)
    if fmt is ReportFormat.pdf and out is None:
        raise InputError("a PDF is not written to standard output", field="--out",
                         expected="--out FILE.pdf")
    audit = load_audit(audit_file)
    meta = ReportMeta.now(ticket, operator)
    if fmt is ReportFormat.pdf:
        from auditor.pdf import html_to_pdf

        html_to_pdf(render(audit, "html", meta), out)
        typer.echo(terminal(f"written: {out}"), err=True)
    else:
        _emit(render(audit, fmt.value, meta), out)
    raise typer.Exit(exit_code(audit.verdict))


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit diff before/audit.json after/audit.json\n"
             "  uccx-audit diff before/audit.json after/audit.json --format html --out diff.html"
             "\n\n\b\nExit codes (of the after-audit's verdict): 0 go or go with actions, "
             "1 no-go, 3 inconclusive, 2 usage or input error.")
def diff(
    before: Annotated[Path, typer.Argument(metavar="BEFORE",
                                           help="An audit.json, or a portfolio folder.")],
    after: Annotated[Path, typer.Argument(metavar="AFTER",
                                          help="An audit.json, or a portfolio folder.")],
    fmt: Annotated[DiffFormat, typer.Option(
        "--format", "-f", help="table for the terminal; html or md to attach to the "
        "ticket.")] = DiffFormat.table,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Write here (atomically) instead of standard output ('-': "
        "standard output).")] = None,
) -> None:
    """What changed between the pre-change and the post-change audit: certificates
    replaced, gadget outcomes changed, findings fixed and new. Given two portfolio folders:
    each cluster's verdict before and after, findings fixed and new."""
    out = _checked_out(out)
    if before.is_dir() or after.is_dir():
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
    raise typer.Exit(exit_code(new.verdict))


def _grouped(names: tuple[str, ...]) -> dict[str, int]:
    """Unlisted files, a sub-folder as one line (e.g. the demo's ``lab/``)."""
    groups: dict[str, int] = {}
    for name in names:
        head, sep, _ = name.partition("/")
        key = head + "/" if sep else name
        groups[key] = groups.get(key, 0) + 1
    return groups


@app.command(epilog="\b\nExamples:\n"
             "  uccx-audit verify after/\n"
             "  uccx-audit verify after/evidence-east-post.zip\n"
             "  uccx-audit verify after/ --strict   # files the manifest does not list fail too"
             "\n\n\b\nExit codes: 0 every file the manifest lists is intact, 1 a file changed "
             "or is missing (or, --strict / in a zip, a file is not listed), 2 no manifest or "
             "an unreadable one.")
def verify(
    target: Annotated[Path, typer.Argument(metavar="FOLDER|ZIP",
                                           help="An audit folder or its evidence zip.")],
    strict: Annotated[bool, typer.Option(help="Fail on files in the folder that the manifest "
                                         "does not list.")] = False,
) -> None:
    """Check an audit folder (or its zip) against its manifest.json: recompute the SHA-256
    of every file it lists and name each one that changed, is missing or is not listed."""
    from auditor.manifest import verify as verify_folder

    result = verify_folder(target)
    bad = set(result.changed) | set(result.missing)
    for name in result.checked:
        state = ("CHANGED" if name in result.changed else "MISSING" if name in result.missing
                 else "ok")
        typer.echo(terminal(f"{state:8} {name}"))
    unlisted_fails = strict or result.bundle
    for name, count in _grouped(result.unlisted).items():
        what = f"{name} ({count} files)" if count > 1 else name
        typer.echo(terminal(f"{'EXTRA' if unlisted_fails else 'unlisted':8} {what} (not in "
                            f"the manifest, not attested)"))
    ok = result.ok(strict)
    typer.echo(f"manifest sha256:{result.manifest_sha256}")
    if ok:
        typer.echo(f"intact: {len(result.checked)} files match the manifest", err=True)
        raise typer.Exit(EXIT_OK)
    named = sorted(bad) + (list(result.unlisted) if unlisted_fails else [])
    typer.echo(terminal(f"NOT intact: {', '.join(named)}"), err=True)
    raise typer.Exit(EXIT_FINDINGS)
