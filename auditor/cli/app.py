"""The ``uccx-audit`` command line (typer): the app, its entry point, and the commands
(one module each under :mod:`auditor.cli`), registered here and only here."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Optional

import typer

from auditor import __version__
from auditor.cli.argv import keep
from auditor.common.errors import AuditorError, ToolFailure
from auditor.common.fileio import crash_log
from auditor.common.libraries import heard, kept_quiet
from auditor.common.textsafe import terminal
from auditor.model.solution import restored
from auditor.model.verdicts import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TOOL_FAILED,
    EXIT_USAGE,
    exit_code,
    exit_code_help,
)

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "exit_code",
    "main",
    "run",
]

_APP_OPTIONS: dict = dict(
    name="uccx-audit",
    help=(
        "Audit the tomcat and tomcat-ECDSA certificates of a Cisco UCCX 11.5 cluster: "
        "will agents' Finesse desktop, Live Data and chat/email gadgets work, prompt, "
        "or break?\n\n"
        "\b\nExamples:\n"
        "  uccx-audit demo            # the built-in lab, no servers needed\n"
        "  uccx-audit init            # a commented inventory.yaml and waivers.yaml\n"
        "  uccx-audit audit --inventory cluster.yaml --phase pre --target-version '11.5(1)'\n"
        "  uccx-audit audit --inventory cluster.yaml --phase post --ticket CHG0042\n"
        "  uccx-audit diff before/audit.json after/audit.json --format html -o diff.html\n"
        "  uccx-audit check-cert signed.pem --purpose tomcat-ECDSA --csr node.csr\n"
        "  uccx-audit probe uccx1.example.com:12015 sm1.example.com:7443@socialminer\n\n"
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


def _root(
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 - typer needs Optional
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """uccx-audit: UCCX 11.5 certificate auditor."""


#: the whole command line: every command, as --help and shell completion list them
app = typer.Typer(**_APP_OPTIONS)
app.callback()(_root)


def run(args: Sequence[str] | None = None) -> int:
    """Run ``uccx-audit`` with ``args`` (default: the command line) and return its exit
    code: people get one-line errors, never a traceback.

    Click (inside typer) handles usage errors itself (exit 2); the project's own errors
    about files and arguments come out here as one line, also with exit 2. What libraries
    say meanwhile (Python warnings, log records) never reaches stderr
    (:mod:`auditor.common.libraries`); the traceback file of an internal error lists it.
    """
    with kept_quiet():
        return _run(args)


def _run(args: Sequence[str] | None) -> int:
    try:
        argv = list(args) if args is not None else sys.argv[1:]
        keep(argv)  # what a judging command records for the plan's verify step

        with restored():  # a site's map (--rules) is in force for this command only
            app(args=argv, prog_name="uccx-audit")
    except SystemExit as exc:
        # typer turns a Ctrl-C that no command caught into a silent exit 130: say it
        if exc.code == EXIT_INTERRUPTED and isinstance(
                getattr(exc.__context__, "__cause__", None), KeyboardInterrupt):
            typer.echo("interrupted: nothing was written", err=True)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ToolFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        return EXIT_TOOL_FAILED
    except AuditorError as exc:
        typer.echo(terminal(f"error: {exc}"), err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from auditor.pipeline.run import is_place_error

        if is_place_error(exc):  # a full disk, a read-only mount: the place, not the tool
            assert isinstance(exc, OSError)
            typer.echo(terminal(f"error: cannot write {exc.filename or 'a file'}: "
                                f"{exc.strerror}"), err=True)
            return EXIT_USAGE
        # a bug: one line for people, the traceback in a new temporary file (never in the
        # working folder, which is the user's), never a report


        said = "".join(f"  {line}\n" for line in heard())
        report = traceback.format_exc() + (f"\nWhat the libraries said:\n{said}" if said else "")
        try:
            where = f"details in {crash_log(report)}"
        except OSError as error:
            where = f"the details could not be written either ({error.strerror})"
        typer.echo(terminal(f"error: internal error ({type(exc).__name__}: {exc}); no report "
                            f"was written; {where}"), err=True)
        return EXIT_TOOL_FAILED
    return EXIT_OK


def main() -> None:
    """Console entry point."""
    sys.exit(run())


# Explicit registration, in the order --help lists the commands.
from auditor.cli import (  # noqa: E402
    audit,
    checkcert,
    demo,
    diff,
    evaluate,
    init,
    portfolio,
    probe,
    report,
    rules,
    verify,
)

COMMAND_MODULES = (init, probe, demo, evaluate, rules, audit, checkcert, portfolio, report, diff,
                   verify)
for _module in COMMAND_MODULES:
    _module.commands.register(app)
