"""Per-site defaults: ``uccx-audit.toml`` (or ``--config FILE``) and ``UCCX_AUDIT_*``
variables, so that the ticket, the operator, the agents' trust, the timeouts, the CLI user,
the site rules and the waivers are not retyped on every run.

Click does the merging: each setting is an option with an environment variable
(:data:`auditor.cli.options.SITE_SETTINGS`), and the file becomes the command's
``default_map``, so the command line wins over a variable, which wins over the file, which
wins over the built-in default. The file itself is read here, strictly: a key that is not a
setting, a value of the wrong kind or out of range is a one-line error naming the file, the
line and the key. Paths in the file are relative to the file's folder. What a run took from
the file or the environment is recorded (:func:`settings_used`) in audit.json and the
manifest; the password variable is never a setting and never recorded.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from auditor.common.errors import InputError
from auditor.common.inputs import read_input
from auditor.common.textsafe import terminal
from auditor.model.audit import Setting

#: The options a config file or a ``UCCX_AUDIT_*`` variable may set, by key (the long
#: option without its dashes), and the kind of value each takes. Only per-site defaults:
#: what is judged in a run (the phase, the versions, the change date, the expiry window,
#: the inventory, where the reports go, trusting new host keys) is typed on its command
#: line, so that no file left from another change decides it unseen (REFUSED_SETTINGS).
SITE_SETTINGS: dict[str, str] = {
    "ticket": "text", "operator": "text", "agent-trust": "path", "rules": "paths",
    "waivers": "paths", "connect-timeout": "seconds", "handshake-timeout": "seconds",
    "cli-timeout": "seconds", "cli-user": "text", "cli-known-hosts": "path",
    "concurrency": "count", "per-host": "count", "all-ports": "flag", "pdf": "flag",
    "no-pem": "flag", "bundle": "flag",
}

#: Options that must come from the command line, and why a file or a variable may not set
#: them (the one-line error says it).
REFUSED_SETTINGS: dict[str, str] = {
    "phase": "pre or post is what this run judges",
    "target-version": "the version of this change is judged with it",
    "change-date": "the day of this change decides the expiry checks",
    "expiry-window": "it decides which certificates count as expiring",
    "inventory": "which cluster is audited is chosen per run",
    "out": "each run writes into a folder of its own",
    "from-pem": "which certificates are judged is chosen per run",
    "cli-accept-new-host-keys": "trusting a new host key is a decision for this run",
    "cli": "reading the VOS CLI asks for a password: a decision for this run",
    "cli-password": "a password is never kept in a file: use UCCX_AUDIT_CLI_PASSWORD or "
                    "the prompt",
}

ENV_PREFIX = "UCCX_AUDIT_"


def site_env(key: str) -> str:
    """The environment variable of a per-site setting: ``UCCX_AUDIT_CLI_USER`` for
    ``cli-user``."""
    assert key in SITE_SETTINGS or key == "config", key
    return ENV_PREFIX + key.upper().replace("-", "_")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The file read from the current folder when no --config is given.
CONFIG_FILE = "uccx-audit.toml"
#: Other variables of the tool, which are not settings (the password is read where the VOS
#: CLI is, the browser where a PDF is printed).
OTHER_VARIABLES = ("UCCX_AUDIT_CLI_PASSWORD", "UCCX_AUDIT_BROWSER")
_META = "uccx_audit.config"

_KINDS = {
    "text": "a string",
    "path": "a path (a string)",
    "paths": "a list of paths (strings)",
    "seconds": "a number of seconds",
    "count": "a whole number",
    "flag": "true or false",
}


@dataclass(frozen=True)
class SiteConfig:
    """A config file as read: its path, and each setting's value and line."""

    path: Path
    values: dict[str, Any]
    lines: dict[str, int]


def _line_of(text: str, key: str) -> int | None:
    """The line that sets ``key`` at the top of the file, or opens it as a table (bare or
    quoted)."""
    quoted = re.escape(key)
    name = rf"(?:{quoted}|\"{quoted}\"|'{quoted}')"
    pattern = rf"^[ \t]*(?:{name}[ \t]*[=.]|\[\[?[ \t]*{name}[ \t]*[\].])"
    match = re.search(pattern, text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _kind_ok(kind: str, value: Any) -> bool:
    if kind in ("text", "path"):
        return isinstance(value, str) and value != "" and "\0" not in value
    if kind == "paths":
        return (isinstance(value, list) and all(_kind_ok("path", v) for v in value))
    if kind == "seconds":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool)


def read_config(path: Path) -> SiteConfig:
    """Read and check a config file; any problem is an :class:`InputError` naming the file,
    the line and the key."""
    name = str(path)
    raw = read_input(path, "toml")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=name) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column \d+\)$", message)
        line = int(where[1]) if where else None
        if where:
            message = message[:where.start()].rstrip()
        raise InputError(f"not valid TOML: {message}", path=name, line=line,
                         expected="key = value lines, e.g. ticket = \"CHG0042\"") from None
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key, value in data.items():
        line = _line_of(text, key)
        if key in REFUSED_SETTINGS:
            raise InputError(f"cannot be set in a file ({REFUSED_SETTINGS[key]})",
                             path=name, line=line, field=key,
                             expected=f"--{key} on the command line")
        kind = SITE_SETTINGS.get(key)
        if kind is None:
            close = difflib.get_close_matches(key, SITE_SETTINGS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown setting {key!r}{hint}", path=name, line=line,
                             field=key, expected="one of " + ", ".join(SITE_SETTINGS))
        if kind == "paths" and isinstance(value, str):  # one path: a list of one
            value = [value]
        if not _kind_ok(kind, value):
            raise InputError(f"{_shown(value)} is not {_KINDS[kind]}", path=name, line=line,
                             field=key, expected=_KINDS[kind])
        if kind == "path":
            value = str(path.parent / Path(value).expanduser())
        elif kind == "paths":
            value = [str(path.parent / Path(v).expanduser()) for v in value]
        values[key] = value
        if line is not None:
            lines[key] = line
    return SiteConfig(path, values, lines)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _warn_unknown_variables(environ: dict[str, str] | os._Environ[str]) -> None:
    """One line per ``UCCX_AUDIT_*`` variable that is no setting: a typo is noticed, not
    silently ignored (it still does not stop the run: other tools may share the prefix)."""
    known = {site_env(key) for key in SITE_SETTINGS} | {site_env("config"),
                                                        *OTHER_VARIABLES}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        key = name[len(ENV_PREFIX):].lower().replace("_", "-")
        if key in REFUSED_SETTINGS:
            why = f"--{key} is not taken from the environment ({REFUSED_SETTINGS[key]})"
        else:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            why = ("not a uccx-audit variable" + (f"; did you mean {close[0]}?" if close
                                                  else ""))
        typer.echo(terminal(f"warning: {name} ignored: {why}"), err=True)


def _cast(param: Any, ctx: typer.Context, value: Any) -> Any:
    """``value`` as the option itself turns it into its type, or :class:`typer.BadParameter`:
    typer from 0.29 coerces with a runtime parameter of its own, earlier ones through
    click's ``type_cast_value``."""
    runtime = getattr(param, "get_runtime_param", None)
    if runtime is not None:
        return runtime().coerce(value, param=param, ctx=ctx)
    return param.type_cast_value(ctx, value)


def _check_variables(ctx: typer.Context) -> None:
    """Check each ``UCCX_AUDIT_*`` value this command takes as its option would, so that a
    bad one is a one-line error naming the variable (click names it only from 8.2 on)."""
    for param in ctx.command.params:
        if not isinstance(param.envvar, str) or param.is_eager or param.name is None:
            continue
        raw = param.value_from_envvar(ctx)
        if raw is None:
            continue
        try:
            _cast(param, ctx, raw)
        except typer.BadParameter as exc:
            raise InputError(exc.message, field=param.envvar,
                             expected=f"a value {param.opts[-1]} takes") from None


def apply_config(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--config``'s callback: read the file (the named one, else ./uccx-audit.toml if
    there is one) and make it the command's defaults; check each value as the option
    itself would, so that a bad one names the file, line and key."""
    if ctx.resilient_parsing:  # shell completion
        return value
    _warn_unknown_variables(os.environ)
    _check_variables(ctx)
    if value is not None:
        path = Path(value)
    elif os.path.lexists(CONFIG_FILE):
        path = Path(CONFIG_FILE)
    else:
        return None
    config = read_config(path)
    options = {p.envvar: p for p in ctx.command.params if isinstance(p.envvar, str)}
    defaults: dict[str, Any] = {}
    for key, setting in config.values.items():
        param = options.get(site_env(key))
        if param is None or param.name is None:  # a setting of other commands
            continue
        try:
            _cast(param, ctx, setting)
        except typer.BadParameter as exc:
            raise InputError(exc.message, path=str(path),
                             line=config.lines.get(key), field=key) from None
        defaults[param.name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta[_META] = config
    return value


def settings_used(ctx: typer.Context) -> tuple[Setting, ...]:
    """The options of this run that came from a config file or the environment, and from
    where (never a value: they are in the arguments and the reports, and no setting is a
    secret)."""
    config: SiteConfig | None = ctx.meta.get(_META)
    found = []
    for param in ctx.command.params:
        if param.name is None or param.param_type_name != "option":
            continue
        source = ctx.get_parameter_source(param.name)
        option = max(param.opts, key=len)
        # compared by name: typer brings its own copy of click's enum from 0.28 on
        if getattr(source, "name", None) == "ENVIRONMENT" and isinstance(param.envvar, str):
            found.append(Setting(option, "environment", param.envvar))
        elif getattr(source, "name", None) == "DEFAULT_MAP" and config is not None:
            found.append(Setting(option, "file", str(config.path)))
    return tuple(found)
