"""What a command says on the terminal, and how: ``--quiet`` keeps only the verdict line,
and the verdict line is coloured where colours are wanted
(:func:`auditor.render.terminal.colour_wanted`). Everything passes through
:func:`auditor.common.textsafe.terminal` first; the colours are added after it, so text
from outside can never carry its own."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer

from auditor.common.textsafe import terminal


@dataclass(frozen=True)
class Voice:
    """``quiet``: only the verdict line (and errors) are said; ``no_color``: never paint."""

    quiet: bool = False
    no_color: bool = False

    def say(self, text: str, *, err: bool = False) -> None:
        """A line of the tool's (neutralised), unless quiet."""
        if not self.quiet:
            typer.echo(terminal(text), err=err)

    def verdict(self, line: str, verdict: str, *, err: bool = False) -> None:
        """The verdict line: always said, in the verdict's colours where wanted."""
        from auditor.render.terminal import colour_wanted, paint

        shown = terminal(line)
        if colour_wanted(sys.stderr if err else sys.stdout, no_color=self.no_color):
            # color=True: click would strip the colours from a stream that is not a
            # terminal, which FORCE_COLOR asks to keep
            typer.echo(paint(shown, verdict), err=err, color=True)
        else:
            typer.echo(shown, err=err)
