"""What the commands share: option types, choices, the VOS CLI request, messages, and
the small registry each command module fills (:class:`Commands`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from auditor.cli.config import apply_config, site_env
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal
from auditor.model.solution import builtin, put_in_force, site_solution
from auditor.model.versions import DEFAULT_TARGET_VERSION

if TYPE_CHECKING:  # paramiko is imported only when a VOS CLI is to be read
    from auditor.collect.vos_cli import CliRequest
    from auditor.model.cluster import Inventory


# -- Per-site defaults: a config file (auditor/cli/config.py) and UCCX_AUDIT_* variables ---
# Click gives the precedence: the command line, then the option's environment variable, then
# the config file (the context's default_map), then the built-in default.



def _config_callback(ctx: typer.Context, value: Optional[Path]) -> Optional[Path]:  # noqa: UP045
    return apply_config(ctx, value)


#: ``--config FILE`` (default: ./uccx-audit.toml when there is one). Eager: it is read
#: before the other options, whose defaults it sets.
ConfigFile = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--config", metavar="FILE", envvar=site_env("config"), is_eager=True,
    callback=_config_callback, help="Per-site defaults (TOML; default: ./uccx-audit.toml "
    "if there is one). The command line wins over UCCX_AUDIT_* variables, which win over "
    "the file.")]

Ticket = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--ticket", envvar=site_env("ticket"), help="Change ticket, e.g. CHG0042.")]
Operator = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--operator", envvar=site_env("operator"), help="Who ran it.")]
AgentTrust = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--agent-trust", envvar=site_env("agent-trust"), help="PEM bundle of the CAs and "
    "self-signed certificates that agents' browsers trust (default: this machine's system "
    "store).")]
SiteRules = Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
    "--rules", metavar="DIR", envvar=site_env("rules"), help="A folder of site rule files "
    "(and playbooks/) to add to the built-in ones; repeatable.")]


def use_site_map(folders: Sequence[Path] | None) -> None:
    """Put the solution map with the site folders' additions (their ``solution.yaml``) in
    force for this command, so that the inventory, the probe, the rules and the reports all
    see a site's own services; :func:`auditor.cli.app.run` restores the map in force when
    the command ends."""
    if not folders:
        return

    for folder in folders:
        if not folder.is_dir():
            raise InputError("not a folder" if folder.exists() else "folder not found",
                             path=str(folder), field="--rules",
                             expected="a folder of rule files")
    put_in_force(site_solution(list(folders)))


Waivers = Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
    "--waivers", metavar="FILE", envvar=site_env("waivers"), help="Accepted risks (YAML): "
    "waived findings leave the verdict and are listed under Accepted risks; repeatable.")]
ConnectTimeout = Annotated[float, typer.Option(
    "--connect-timeout", min=0.1, metavar="SECONDS", envvar=site_env("connect-timeout"),
    help="TCP connect: seconds.")]
HandshakeTimeout = Annotated[float, typer.Option(
    "--handshake-timeout", min=0.1, metavar="SECONDS", envvar=site_env("handshake-timeout"),
    help="TLS handshake: seconds.")]
Concurrency = Annotated[int, typer.Option(
    "--concurrency", min=1, max=1024, metavar="N", envvar=site_env("concurrency"),
    help="Handshakes at once.")]
FromPem = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--from-pem", metavar="DIR", help="Offline: certificates downloaded from OS "
    "Administration, one folder per node (DIR/<host>/tomcat.pem, tomcat-ECDSA.pem, "
    "tomcat-trust ...).")]
AllPorts = Annotated[bool, typer.Option(
    "--all-ports", envvar=site_env("all-ports"),
    help="Also probe CUIC 8444 and OS Administration 8443.")]
Pdf = Annotated[bool, typer.Option(
    "--pdf", envvar=site_env("pdf"), help="Also print the HTML report to report.pdf (needs "
    "Chrome, Chromium or Edge).")]
NoPem = Annotated[bool, typer.Option(
    "--no-pem", envvar=site_env("no-pem"), help="Leave the certificates' PEM blocks out of "
    "the HTML report and the PDF (each certificate keeps its fingerprint and fields).")]
Bundle = Annotated[bool, typer.Option(
    "--bundle", envvar=site_env("bundle"), help="Also write one zip of the facts, reports "
    "and manifest.")]


def _role_choices() -> dict[str, str]:

    # member names: the last word of each role (publisher, subscriber, socialminer)
    return {name.rsplit("-", 1)[-1]: name for name in builtin().roles}


#: The roles of the solution map, as command-line choices.
Role = Enum("Role", _role_choices(), type=str)  # type: ignore[misc]


class TableFormat(str, Enum):
    table = "table"
    json = "json"


def say(message: str) -> None:
    typer.echo(terminal(message), err=True)


CliAll = Annotated[bool, typer.Option(
    "--cli", help="Also read every node's installed certificates over its VOS CLI (SSH; "
    "without it, only nodes with cli: in the inventory). Login: the node's key_file, else "
    "the password ($UCCX_AUDIT_CLI_PASSWORD or a prompt), else the SSH agent's keys; "
    "never keyboard-interactive.")]


CliUser = Annotated[str, typer.Option("--cli-user", envvar=site_env("cli-user"),
                                       help="VOS CLI user for --cli.")]


CliKnownHosts = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--cli-known-hosts", metavar="FILE", envvar=site_env("cli-known-hosts"),
    help="known_hosts file for the nodes' SSH host keys (default: ~/.ssh/known_hosts).")]


CliAcceptNew = Annotated[bool, typer.Option(
    "--cli-accept-new-host-keys", help="First contact: accept and remember host keys not "
    "yet known (a changed key is still an error).")]


CliTimeout = Annotated[float, typer.Option(
    "--cli-timeout", min=0.1, metavar="SECONDS", envvar=site_env("cli-timeout"),
    help="VOS CLI: the login prompt and each command must come within this.")]


def cli_request(inventory: Inventory, *, all_nodes: bool, user: str,
                known_hosts: Path | None, accept_new: bool, timeout: float,
                connect_timeout: float, concurrency: int,
                password: Callable[[], str | None] | None = None) -> CliRequest | None:
    """The VOS CLI part of a run, or None when no node is to be read. The password comes
    from the environment or a prompt here, and only here (``password``: where a portfolio
    keeps the one it asked for)."""
    if not all_nodes and not any(node.cli for node in inventory.nodes):
        return None  # paramiko is not even imported
    from auditor.collect.vos_cli import (
        CliOptions,
        CliRequest,
        cli_password,
        cli_targets,
        load_keys,
    )

    targets = cli_targets(inventory, all_nodes=all_nodes, user=user)
    if not targets:
        return None
    options = CliOptions(connect_timeout=connect_timeout, prompt_timeout=timeout,
                         command_timeout=timeout, known_hosts=known_hosts,
                         accept_new_host_keys=accept_new, concurrency=min(8, concurrency))
    keys = load_keys(targets)
    return CliRequest(targets, options, (password or cli_password)(), keys)


#: --per-host: at most this many handshakes with one host at once (as sslyze limits).
#: The judging options that audit, evaluate, portfolio and check-cert share.
TargetVersion = Annotated[Optional[str], typer.Option(  # noqa: UP045
    help=f'Version after the change (pre phase: default "{DEFAULT_TARGET_VERSION}", and it '
    'must be newer than the running version; post phase: the running version).')]
ChangeDate = Annotated[Optional[str], typer.Option(  # noqa: UP045
    metavar="YYYY-MM-DD", help="Day of the change, for expiry checks.")]
ExpiryWindow = Annotated[int, typer.Option(
    min=0, max=36500, metavar="DAYS",
    help="A certificate must stay valid this many days after the change date.")]

PerHost = Annotated[int, typer.Option(
    "--per-host", min=1, max=64, metavar="N", envvar=site_env("per-host"),
    help="Handshakes with one host at once; a small VOS virtual machine takes few.")]


DEFAULT_PER_HOST = 4


class Phase(str, Enum):
    pre = "pre"
    post = "post"


class CatalogueFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


class Commands:
    """The commands a module defines, in order; :mod:`auditor.cli.app` adds them to the app
    (explicit registration: a command module never imports the app)."""

    def __init__(self) -> None:
        self._items: list[tuple[tuple, dict, Callable]] = []

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
        def add(function: Callable) -> Callable:
            self._items.append((args, kwargs, function))
            return function
        return add

    def group(self, name: str, group: typer.Typer) -> None:
        """A command with subcommands (``rules`` and ``rules test``): a typer app of its own."""
        self._items.append(((name,), {"group": group}, lambda: None))

    def register(self, app: typer.Typer) -> None:
        for args, kwargs, function in self._items:
            if "group" in kwargs:
                app.add_typer(kwargs["group"], name=args[0])
            else:
                app.command(*args, **kwargs)(function)

    def names(self) -> list[str]:
        """The command names, as typer derives them (``check_cert`` -> ``check-cert``)."""
        return [args[0] if args and isinstance(args[0], str)
                else kwargs.get("name") or function.__name__.replace("_", "-")
                for args, kwargs, function in self._items]


# -- how much a command says, and in what colours (one declaration for every command) -----

Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print the verdict line only (errors still go to standard error; "
    "the exit code is the same).")]
NoColor = Annotated[bool, typer.Option(
    "--no-color", help="No colours, even on a terminal (as NO_COLOR=1 does; FORCE_COLOR=1 "
    "colours a log that is not a terminal).")]
