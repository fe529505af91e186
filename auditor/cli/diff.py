"""``uccx-audit diff``: what changed between two audits (or two portfolios)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.console import Voice
from auditor.cli.options import Commands, NoColor, Quiet
from auditor.cli.report import _checked_out, _emit
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal
from auditor.model.audit import load_audit
from auditor.model.verdicts import exit_code

commands = Commands()


class DiffFormat(str, Enum):
    table = "table"
    html = "html"
    md = "md"
    json = "json"


@commands.command(epilog="\b\nExamples:\n"
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
        "--format", "-f", metavar="FORMAT", help="table for the terminal; html or md to "
        "attach to the ticket; json for scripts.")] = DiffFormat.table,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Write here (atomically) instead of standard output ('-': "
        "standard output).")] = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """What changed between the pre-change and the post-change audit: certificates
    replaced, gadget outcomes changed, findings fixed (checked and passed after), no longer
    checked (not evidence of a fix) and new. Given two portfolio folders: each cluster's
    verdict before and after, findings fixed, no longer checked and new."""
    out = _checked_out(out)
    if before.is_dir() or after.is_dir():
        from auditor.model.portfolio import is_portfolio
        from auditor.render.portfolio_diff import diff_portfolios, render_portfolio_diff

        if before.is_dir() != after.is_dir():
            file, folder = (after, before) if before.is_dir() else (before, after)
            raise InputError(f"is a file, and {folder} a folder", path=str(file),
                             expected="two audit.json files or two portfolio folders")
        for folder in (before, after):
            if not is_portfolio(folder):
                raise InputError("not a portfolio folder (no portfolio.json)",
                                 path=str(folder), expected="two audit.json files or two "
                                 "portfolio folders")
        changes = diff_portfolios(before, after)
        _show(render_portfolio_diff(changes, fmt.value), out, fmt, None,
              Voice(quiet=quiet, no_color=no_color))
        raise typer.Exit(changes.after_exit_code)
    from auditor.render import ReportMeta
    from auditor.render.diff import diff_audits
    from auditor.render.diff_render import render_diff

    old, new = load_audit(before), load_audit(after)
    _show(render_diff(diff_audits(old, new), fmt.value, ReportMeta.now()), out, fmt,
          new.verdict, Voice(quiet=quiet, no_color=no_color))
    raise typer.Exit(exit_code(new.verdict))


def _show(text: str, out: Path | None, fmt: DiffFormat, verdict: str | None,
          voice: Voice) -> None:
    """The diff written to ``out``, or shown: as a table its first line (before and after
    verdicts) is the verdict line, coloured as the after audit's verdict and all that
    ``--quiet`` keeps; any other format is data, shown whole."""
    if out is not None or fmt is not DiffFormat.table:
        _emit(text, out, quiet=voice.quiet)
        return
    first, _, rest = text.partition("\n")
    if verdict is None:
        typer.echo(terminal(first))
    else:
        voice.verdict(first, verdict)
    if rest.strip():
        voice.say(rest.removesuffix("\n"))
