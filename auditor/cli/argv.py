"""The command line as the user typed it, recorded for the plan's verify step.

:func:`auditor.cli.app.run` keeps the arguments of the command it runs; a command that
judges (``audit``, ``evaluate``) records them (:func:`recorded_args`) in the audit, so that
running the verify step repeats the audit with every option that changed the judgement.
What is left out: the secret options (:data:`SECRET_OPTIONS`, with their values, and any
argument that holds the value of a secret variable), and where the run wrote (``--out``),
because the verify run writes a folder of its own. What came from the environment or an
implicit ``uccx-audit.toml`` is added as options, since the verify run may happen elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.model.audit import Setting

#: The options whose value is a secret: never recorded, nor their value.
SECRET_OPTIONS = frozenset({"--cli-password", "--password", "--passphrase",
                            "--key-passphrase"})
#: The variables whose value is a secret: an argument that holds one is never recorded.
SECRET_VARIABLES = ("UCCX_AUDIT_CLI_PASSWORD",)
#: The options that say where this run writes: the verify run writes a folder of its own.
WHERE_WRITTEN = frozenset({"--out", "-o"})
#: What a left-out secret argument is recorded as.
REDACTED = "REDACTED"

_ARGV: ContextVar[tuple[str, ...] | None] = ContextVar("uccx_audit_argv", default=None)


def keep(argv: Sequence[str]) -> None:
    """Remember the arguments of the command being run (after ``uccx-audit``)."""
    _ARGV.set(tuple(argv))


def _takes_value(command: Any) -> dict[str, bool]:
    """Each option of the command (every spelling) and whether it takes a value."""
    out: dict[str, bool] = {}
    for param in command.params:
        if param.param_type_name != "option":
            continue
        for opt in (*param.opts, *param.secondary_opts):
            out[opt] = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
    return out


def _secrets(environ: Any) -> tuple[str, ...]:
    return tuple(v for v in (environ.get(name) for name in SECRET_VARIABLES) if v)


def filter_args(args: Sequence[str], takes_value: dict[str, bool],
                secrets: Iterable[str] = ()) -> list[str]:
    """``args`` without the secret options and ``--out`` (with their values, in every
    spelling: ``--opt VALUE``, ``--opt=VALUE``, ``-oVALUE``), and with any argument that
    holds a secret value replaced by :data:`REDACTED`."""
    secrets = tuple(secrets)
    dropped = SECRET_OPTIONS | WHERE_WRITTEN
    out: list[str] = []
    index = 0
    positional = False
    while index < len(args):
        arg = args[index]
        index += 1
        if positional or not arg.startswith("-") or arg == "-":
            out.append(REDACTED if any(s in arg for s in secrets) else arg)
            continue
        if arg == "--":
            positional = True
            out.append(arg)
            continue
        if arg.startswith("--"):
            name, eq, _value = arg.partition("=")
            attached = bool(eq)
        else:  # a short option, its value maybe attached (-oFOLDER)
            name, attached = arg[:2], len(arg) > 2
        # a secret option this command does not know is taken to carry a value
        value_follows = (takes_value.get(name, name in SECRET_OPTIONS) and not attached
                         and index < len(args))
        if name in dropped:
            index += 1 if value_follows else 0
            continue
        out.append(REDACTED if any(s in arg for s in secrets) else arg)
        if value_follows:
            value = args[index]
            index += 1
            out.append(REDACTED if any(s in value for s in secrets) else value)
    return out


def _setting_args(ctx: Any, settings: Sequence[Setting],
                  argv: Sequence[str]) -> list[str]:
    """The options a config file or the environment gave this run, spelled out: those of
    the environment always, those of a file only where the command line does not name the
    file (``--config``) that a verify run would read again."""
    named_config = any(a == "--config" or a.startswith("--config=") for a in argv)
    params = {max(p.opts, key=len): p for p in ctx.command.params
              if p.param_type_name == "option"}
    out: list[str] = []
    for setting in settings:
        if setting.option in SECRET_OPTIONS or setting.option in WHERE_WRITTEN:
            continue
        if setting.source == "file" and named_config:
            continue
        param = params.get(setting.option)
        if param is None or param.name is None:
            continue
        value = ctx.params.get(param.name)
        if getattr(param, "is_flag", False):
            out += [setting.option] if value else []
            continue
        for one in (value if isinstance(value, (list, tuple)) else [value]):
            if one is not None:
                out += [setting.option, f"{one:g}" if isinstance(one, float) else str(one)]
    return out


def recorded_args(ctx: Any, settings: Sequence[Setting] = (),
                  environ: Any = None) -> tuple[str, ...]:
    """The arguments after ``uccx-audit`` that run this command again as the user ran it
    (the command's name first), secrets and ``--out`` left out, the settings of the
    environment or an implicit config file added (see the module's description)."""
    argv = _ARGV.get()
    name = ctx.info_name or ""
    if argv is None or name not in argv:
        argv = (name,)  # not run through auditor.cli.app.run: only what the settings give
    start = argv.index(name)
    args = filter_args(argv[start + 1:], _takes_value(ctx.command),
                       _secrets(os.environ if environ is None else environ))
    return (name, *args, *_setting_args(ctx, settings, argv))
