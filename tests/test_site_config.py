"""Per-site defaults: uccx-audit.toml (or --config) and UCCX_AUDIT_* variables.

Precedence is command line > environment > file > built-in for every setting and every
kind of value; what came from a file or the environment is recorded in audit.json and the
manifest (never the password); a bad file is one line with exit 2 naming file, line, key.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import typer
from cli_runner import invoke
from hypothesis import given, settings
from hypothesis import strategies as st
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.cli.app import app
from auditor.cli.config import (
    CONFIG_FILE,
    OTHER_VARIABLES,
    REFUSED_SETTINGS,
    SITE_SETTINGS,
    settings_used,
    site_env,
)

ROOT = Path(__file__).resolve().parent.parent

#: per kind of value: (what the command line says, the variable, the file) and the value each
#: gives the option, and the built-in value
LEVELS = {
    "text": (("cli", "env", "file"), None),
    "path": (("/c/x.pem", "/e/x.pem", "f/x.pem"), None),
    "paths": ((["/c/a"], ["/e/a", "/e/b"], ["f/a"]), ()),
    "seconds": ((1.5, 2.5, 3.5), None),
    "count": ((2, 3, 5), None),
    "flag": ((True, False, True), False),
}
BUILT_IN = {"connect-timeout": 5.0, "handshake-timeout": 5.0, "cli-timeout": 60.0,
            "cli-user": "admin", "concurrency": 64, "per-host": 4}


def _argv(key: str, value) -> list[str]:
    if isinstance(value, bool):
        return [f"--{key}"] if value else []
    if isinstance(value, list):
        return [a for v in value for a in (f"--{key}", v)]
    return [f"--{key}", str(value)]


def _env(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return os.pathsep.join(value)
    return str(value)


def _toml(value) -> str:
    return json.dumps(value)  # a TOML string, number, boolean or array here


def _normal(value):
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value) if isinstance(value, os.PathLike) else value


def _parse(args: list[str], env: dict[str, str], cwd: Path):
    """The audit command's options as click resolves them (nothing is probed)."""
    command = typer.main.get_command(app).commands["audit"]  # type: ignore[attr-defined]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UCCX_AUDIT_")}
    here = os.getcwd()
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        os.chdir(cwd)
        try:
            ctx = command.make_context("audit", ["--inventory", "x.yaml", "--phase", "post",
                                                 *args])
        finally:
            os.chdir(here)
    return ctx


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(sorted(SITE_SETTINGS)),
       levels=st.sets(st.sampled_from(["cli", "env", "file"])),
       named=st.booleans())
def test_the_command_line_wins_then_the_environment_then_the_file(key: str, levels: set,
                                                                 named: bool) -> None:
    kind = SITE_SETTINGS[key]
    (cli, env, file), builtin = LEVELS[kind]
    builtin = BUILT_IN.get(key, builtin)
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        config = where / ("site.toml" if named else CONFIG_FILE)
        args, variables = [], {}
        if "file" in levels:
            config.write_text(f"# site\n{key} = {_toml(file)}\n")
        if named:
            args += ["--config", str(config)] if "file" in levels else []
        if "env" in levels:
            variables[site_env(key)] = _env(env)
        if "cli" in levels:
            args += _argv(key, cli)
        ctx = _parse(args, variables, where)
        got = _normal(ctx.params[key.replace("-", "_")])
        sources = {s.option: s for s in settings_used(ctx)}
    if "cli" in levels and cli is not False:
        expected, source = cli, None
    elif "env" in levels:
        expected, source = env, ("environment", site_env(key))
    elif "file" in levels:
        shown = config if named else Path(CONFIG_FILE)  # found in the current folder
        resolved = ([str(shown.parent / v) for v in file] if kind == "paths"
                    else str(shown.parent / file) if kind == "path" else file)
        expected, source = resolved, ("file", str(shown))
    else:
        expected, source = builtin, None
    assert got == _normal(expected)
    recorded = sources.get(f"--{key}")
    assert (None if recorded is None else (recorded.source, recorded.origin)) == source


def test_what_came_from_file_and_environment_is_recorded_never_the_password(
        tmp_path: Path) -> None:
    folder = downloads("row2-rsa-signed-ecdsa", tmp_path / "downloads")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    site = tmp_path / "site"
    site.mkdir()
    (site / "trust.pem").write_bytes((LAB / "agent-trust.pem").read_bytes())
    (site / CONFIG_FILE).write_text('ticket = "CHG-FILE"\nagent-trust = "trust.pem"\n'
                                    'operator = "file-op"\nconnect-timeout = 3\n')
    env = {**os.environ, "UCCX_AUDIT_TICKET": "CHG-ENV",
           "UCCX_AUDIT_CLI_PASSWORD": "s3cret-Pa55"}
    done = invoke("audit", "--inventory", inventory, "--from-pem", folder, "--phase", "post",
                  "--connect-timeout", "2", "--out", tmp_path / "out", cwd=site, env=env)
    assert done.returncode in (0, 1), done.stderr
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    expected = [{"option": "--agent-trust", "source": "file", "origin": CONFIG_FILE},
                {"option": "--ticket", "source": "environment", "origin": "UCCX_AUDIT_TICKET"},
                {"option": "--operator", "source": "file", "origin": CONFIG_FILE}]
    key = sorted  # order of the options in the command
    assert key(audit["invocation"]["settings"], key=str) == key(expected, key=str)
    assert key(manifest["settings"], key=str) == key(expected, key=str)
    assert manifest["ticket"] == "CHG-ENV" and manifest["operator"] == "file-op"
    args = audit["invocation"]["args"]
    assert args[args.index("--ticket") + 1] == "CHG-ENV"
    assert args[args.index("--connect-timeout") + 1] == "2"
    # relative to the file's folder (here the current one)
    assert args[args.index("--agent-trust") + 1] == "trust.pem"
    assert manifest["inputs"]["agent_trust"]["path"] == "trust.pem"
    for name in ("audit.json", "manifest.json", "report.html", "report.md"):
        text = (tmp_path / "out" / name).read_text()
        assert "s3cret-Pa55" not in text and "CLI_PASSWORD" not in text


@pytest.mark.parametrize(("content", "line", "key", "says"), [
    ('ticket = "CHG1"\n\nticket_x = 3\n', 3, "ticket_x", "unknown setting"),
    ('ticket = "CHG1"\n  tickt = "x"\n', 2, "tickt", "did you mean 'ticket'"),
    ('operator = "me"\nconnect-timeout = "fast"\n', 2, "connect-timeout", "number of seconds"),
    # the range as the installed typer words it: click's "range", typer 0.29's own
    ('per-host = 0\n', 1, "per-host", ("range", "greater than or equal to 1")),
    ('per-host = 2.5\n', 1, "per-host", "whole number"),
    ('pdf = "yes"\n', 1, "pdf", "true or false"),
    ('rules = [1, 2]\n', 1, "rules", "list of paths"),
    ('ticket = "a"\nphase = "post"\n', 2, "phase", "what this run judges"),
    ('"target-version" = "11.5(1)"\n', 1, "target-version", "command line"),
    ('cli-password = "x"\n', 1, "cli-password", "UCCX_AUDIT_CLI_PASSWORD"),
    ('[audit]\nticket = "x"\n', 1, "audit", "unknown setting"),
    ('ticket = "CHG1"\nticket = "CHG2"\n', 2, None, "not valid TOML"),
    ('ticket = "CHG1\n', 1, None, "not valid TOML"),
])
def test_a_bad_config_file_is_one_line_naming_file_line_and_key(
        tmp_path: Path, content: str, line: int, key: str | None,
        says: str | tuple[str, ...]) -> None:
    (tmp_path / CONFIG_FILE).write_text(content)
    done = invoke("probe", "127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: {CONFIG_FILE}:{line}: "
                                  + (f"{key}: " if key else "")), done.stderr
    assert any(words in done.stderr for words in ((says,) if isinstance(says, str) else says))
    assert "Traceback" not in done.stderr and not (tmp_path / "error.log").exists()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_as_config_file_run_or_stop_in_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "any.toml"
        config.write_bytes(data)
        done = invoke("rules", "--format", "json", "--config", config, cwd=folder)
        assert done.returncode in (0, 2), done.stderr
        if done.returncode == 2:
            assert done.stderr.count("\n") == 1 and done.stderr.startswith(
                f"error: {config}"), done.stderr


def test_a_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    done = invoke("rules", "--config", tmp_path / "nope.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"error: {tmp_path / 'nope.toml'}: file not found\n"


@pytest.mark.parametrize(("name", "hint"), [
    ("UCCX_AUDIT_TICKETT", "did you mean UCCX_AUDIT_TICKET?"),
    ("UCCX_AUDIT_AGENT_TRST", "did you mean UCCX_AUDIT_AGENT_TRUST?"),
    ("UCCX_AUDIT_PHASE", "--phase is not taken from the environment"),
    ("UCCX_AUDIT_CHANGE_DATE", "--change-date is not taken from the environment"),
])
def test_a_variable_that_is_no_setting_is_named_in_one_warning(tmp_path: Path, name: str,
                                                               hint: str) -> None:
    done = invoke("rules", "--format", "json", cwd=tmp_path,
                  env={**os.environ, name: "CHG1"})
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {name} ignored: " + warnings[0].split(": ", 2)[2]]
    assert hint in warnings[0]


def test_a_bad_value_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    done = invoke("probe", "127.0.0.1:9", cwd=tmp_path,
                  env={**os.environ, "UCCX_AUDIT_CONNECT_TIMEOUT": "soon"})
    assert done.returncode == 2
    assert "UCCX_AUDIT_CONNECT_TIMEOUT" in done.stderr


def test_every_variable_the_tool_reads_is_known_to_the_typo_check() -> None:
    """A variable added elsewhere in the tool must not be called a typo."""
    used = set()
    for path in (ROOT / "auditor").rglob("*.py"):
        used |= set(re.findall(r"\bUCCX_AUDIT_[A-Z_]+\b", path.read_text()))
    known = {site_env(k) for k in SITE_SETTINGS} | {site_env("config"), *OTHER_VARIABLES}
    assert used - known == set()
    assert not set(SITE_SETTINGS) & set(REFUSED_SETTINGS)
