"""A folder where a file is expected, or a file where a folder is: every path that any
command takes gets both, and each answer is a verdict or one line with exit 2 that names
the path; never exit 4, never a traceback, never an error.log in the working folder.

The path options and arguments are read from the command-line application itself, so an
option added later is covered without touching this file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_runner import invoke
from test_output_sets import offline_cluster

from auditor.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "fixtures" / "lab"
FACTS = ROOT / "fixtures" / "facts" / "row4-upgrade-trap.json"
QUICK = ("--connect-timeout", "0.2", "--handshake-timeout", "0.2")


def path_parameters() -> list[tuple[str, Any]]:
    """(command, parameter) for every parameter of every command that takes a path."""
    group = typer.main.get_command(app)
    return [(name, param) for name, command in sorted(group.commands.items())
            for param in command.params if _takes_path(param)]


def _takes_path(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)  # typer 0.29 and later
    if descriptor is not None:
        return bool(descriptor.is_path)
    return hasattr(param.type, "dir_okay")


PATHS = path_parameters()


def base_arguments(command: str, place: Path) -> dict[str, list[str]]:
    """Valid arguments of ``command``, keyed by parameter name ("" for what belongs to
    none); the parameter under test replaces its own entry."""
    audit = place / "audit"
    if command == "audit":
        return {"inventory": ["--inventory", str(offline_cluster(place))],
                "agent_trust": ["--agent-trust", str(LAB / "agent-trust.pem")],
                "": ["--phase", "post", *QUICK]}
    if command == "probe":
        return {"targets|inventory": ["127.0.0.1:9"], "": ["--format", "json", *QUICK]}
    if command == "demo":
        return {"": ["--scenario", "row4-upgrade-trap"]}
    if command == "evaluate":
        return {"facts_file": [str(FACTS)], "": ["--phase", "post"]}
    if command == "portfolio":
        return {"facts": [str(FACTS)], "out": ["--out", str(place / "portfolio")],
                "": ["--phase", "post"]}
    if command in ("report", "diff", "verify"):
        made = invoke("evaluate", str(FACTS), "--phase", "post", "--format", "json",
                      "--out", str(audit))
        assert made.returncode in (0, 1, 3), made.stderr
        file = audit if audit.is_file() else audit / "audit.json"
        if command == "report":
            return {"audit_file": [str(file)], "": ["--format", "md"]}
        if command == "diff":
            return {"before": [str(file)], "after": [str(file)]}
        return {"target": [str(place)]}
    if command == "check-cert":
        return {"signed": [str(LAB / "row4-upgrade-trap" / "uccx-pub-tomcat.pem")],
                "": ["--purpose", "tomcat"]}
    if command == "rules":
        return {"": []}
    if command == "init":
        return {"out": ["--out", str(place / "start")], "": []}
    raise AssertionError(f"no valid arguments known for the command {command!r}: add them")


def arguments(param: Any, given: Path, base: dict[str, list[str]]) -> list[str]:
    """``base`` with the parameter under test given ``given`` (in its own place, so that
    arguments keep their order); ``targets|inventory`` names two that exclude each other."""
    name = param.name or ""
    if getattr(param, "param_type_name", "") == "option":
        own = [param.opts[0], str(given)]
        if name == "cli_known_hosts":
            own += ["--cli", "--cli-user", "auditor"]
    else:
        own = [str(given)]
    parts = [own if name in key.split("|") else value for key, value in base.items()]
    if not any(name in key.split("|") for key in base):
        parts.append(own)
    return [a for part in parts for a in part]


@pytest.mark.parametrize(("command", "param"), PATHS,
                         ids=[f"{c}-{p.name}" for c, p in PATHS])
@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_path_of_the_wrong_kind_is_one_line_and_exit_2(command, param, kind,
                                                         tmp_path) -> None:
    place = tmp_path / "inputs"
    place.mkdir()
    base = base_arguments(command, place)
    given = tmp_path / "given"
    if kind == "folder":
        given.mkdir()
        (given / "notes.txt").write_text("not what was asked for\n")
    else:
        given.write_text("not what was asked for\n")
    work = tmp_path / "work"
    work.mkdir()
    done = invoke(command, *arguments(param, given, base), cwd=work)
    assert done.returncode != 4, done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "error.log").exists(), (work / "error.log").read_text()
    if done.returncode == 2:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, done.stderr
        assert str(given) in lines[0] or "given" in lines[0], lines[0]
    else:  # a path of this kind is accepted here: it must then be used, not half-read
        assert done.returncode in (0, 1, 3), done.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)

