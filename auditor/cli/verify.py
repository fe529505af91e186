"""``uccx-audit verify``: an audit folder against its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.options import Commands
from auditor.common.textsafe import terminal
from auditor.model.verdicts import EXIT_FINDINGS, EXIT_OK

commands = Commands()


def _grouped(names: tuple[str, ...]) -> dict[str, int]:
    """Unlisted files, a sub-folder as one line (e.g. the demo's ``lab/``)."""
    groups: dict[str, int] = {}
    for name in names:
        head, sep, _ = name.partition("/")
        key = head + "/" if sep else name
        groups[key] = groups.get(key, 0) + 1
    return groups


@commands.command(epilog="\b\nExamples:\n"
             "  uccx-audit verify after/\n"
             "  uccx-audit verify after/evidence-east-post.zip\n"
             "  uccx-audit verify after/ --strict   # files the manifest does not list fail too"
             "\n\n\b\nExit codes: 0 every file the manifest lists is intact, 1 a file changed "
             "or is missing, an entry is refused (a second entry for one file, a symbolic "
             "link, a path outside the folder) or (--strict / in a zip) a file is not listed, "
             "2 no manifest or an unreadable one, or a zip that does not read one way only "
             "(bytes outside its entries, overlapping entries).")
def verify(
    target: Annotated[Path, typer.Argument(metavar="FOLDER|ZIP",
                                           help="An audit folder or its evidence zip.")],
    strict: Annotated[bool, typer.Option(help="Fail on files in the folder that the manifest "
                                         "does not list.")] = False,
) -> None:
    """Check an audit folder (or its zip) against its manifest.json: recompute the SHA-256
    of every file it lists and name each one that changed, is missing, is refused or is not
    listed. Every read is bounded by the size the manifest records."""
    from auditor.pipeline.manifest import verify as verify_folder

    result = verify_folder(target)

    def line(state: str, name: str) -> str:
        why = f" ({result.why[name]})" if name in result.why else ""
        return terminal(f"{state:8} {name}{why}")

    for name in result.checked:
        state = ("CHANGED" if name in result.changed else "MISSING" if name in result.missing
                 else "REFUSED" if name in result.refused else "ok")
        typer.echo(line(state, name))
    for name in result.refused:
        if name not in result.checked:
            typer.echo(line("REFUSED", name))
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
    named = sorted({*result.changed, *result.missing, *result.refused}) + (
        list(result.unlisted) if unlisted_fails else [])
    typer.echo(terminal(f"NOT intact: {', '.join(named)}"), err=True)
    raise typer.Exit(EXIT_FINDINGS)
