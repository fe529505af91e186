"""``uccx-audit init``: a commented inventory and waivers file (and, if asked, a
uccx-audit.toml) to start a first real cluster from."""

from __future__ import annotations

import os
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.config import CONFIG_FILE
from auditor.cli.options import Commands, say
from auditor.common.errors import InputError
from auditor.common.fileio import _current_umask

commands = Commands()

#: The starter files, as ``auditor/starter`` holds them.
STARTERS = ("inventory.yaml", "waivers.yaml")


def _write_new_file(target: Path, data: bytes) -> None:
    """Write ``target`` whole or not at all, and never over a file that is there (even one
    that appeared since it was checked): a temporary file, linked to its name."""
    handle, temporary = tempfile.mkstemp(prefix=".uccx-audit-init-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o666 & ~_current_umask())  # as open() would make it
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise InputError("is there already; it was left as it is", path=str(target),
                             expected="a folder without it, or --out DIR") from None
    finally:
        os.unlink(temporary)


@commands.command(epilog="\b\nExamples:\n"
                  "  uccx-audit init\n"
                  "  uccx-audit init --out site/ --with-config")
def init(
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Folder to write them into (it is created if "
        "it does not exist).")] = Path("."),
    config: Annotated[bool, typer.Option(
        "--with-config", help=f"Also write a commented {CONFIG_FILE} (per-site defaults).")
    ] = False,
) -> None:
    """Write a commented inventory.yaml and waivers.yaml to start from (never over a file)."""
    names = [*STARTERS, *([CONFIG_FILE] if config else [])]
    if out.exists() and not out.is_dir():
        raise InputError("is not a folder", path=str(out), expected="--out DIR")
    for name in names:
        if os.path.lexists(out / name):
            raise InputError("is there already; nothing was written", path=str(out / name),
                             expected="a folder without it, or --out DIR")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror}", path=str(out)) from None
    starter = files("auditor.starter")
    for name in names:
        _write_new_file(out / name, starter.joinpath(name).read_bytes())
        say(f"written: {out / name}")
    say(f"next: put your nodes' FQDNs in {out / 'inventory.yaml'}, then "
        f"uccx-audit audit --inventory {out / 'inventory.yaml'} --phase pre")
