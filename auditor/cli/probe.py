"""``uccx-audit probe``: record what each endpoint presents, as facts."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.options import (
    DEFAULT_PER_HOST,
    AgentTrust,
    AllPorts,
    CliAcceptNew,
    CliAll,
    CliKnownHosts,
    CliTimeout,
    CliUser,
    Commands,
    Concurrency,
    ConfigFile,
    ConnectTimeout,
    FromPem,
    HandshakeTimeout,
    PerHost,
    Role,
    SiteRules,
    TableFormat,
    cli_request,
    say,
    use_site_map,
)
from auditor.common.errors import InputError
from auditor.common.textsafe import terminal
from auditor.model.cluster import default_ports, role_family, services_of_family
from auditor.model.facts import facts_to_json, save_facts
from auditor.model.verdicts import EXIT_INTERRUPTED

commands = Commands()


def _quick_inventory(targets: list[str], role: str, version: str):
    from auditor.collect.inventory import parse_inventory

    nodes: dict[str, dict] = {}
    for given in targets:
        text, role_here = _role_of(given, role)
        if text.startswith("[") and "]" in text:  # [::1] or [::1]:8445, as in a URL
            inside, _, rest = text[1:].partition("]")
            host, port_text = f"[{inside}]", rest[1:] if rest.startswith(":") else rest
            if rest and not rest.startswith(":"):
                raise InputError(f"{text!r}: expected a port after the address",
                                 expected="HOST, HOST:PORT or [IPv6]:PORT")
        else:
            host, _, port_text = (text.rpartition(":") if text.count(":") == 1
                                  else (text, "", ""))
        if not host:
            host, port_text = text, ""
        entry = nodes.setdefault(host, {"host": host, "role": role_here, "ports": {}})
        if entry["role"] != role_here:
            raise InputError(f"{given!r}: {host} was given as a {entry['role']} already",
                             expected="one role per host")
        if port_text:
            try:
                port = int(port_text) if port_text.isascii() and port_text.isdigit() else -1
                if not 0 < port < 65536:
                    raise ValueError(port_text)
            except ValueError:
                raise InputError(f"{text!r}: port {port_text!r} is not a port number",
                                 expected="HOST or HOST:PORT, a port from 1 to 65535"
                                 ) from None
            family = role_family(role_here)
            service = next((s for s, p in default_ports(family).items() if p == port), None)
            if service is None:
                spare = [s for s in services_of_family(family) if s not in entry["ports"]]
                if not spare:
                    raise InputError(f"{given!r}: too many ports for one {role_here}")
                service = spare[0]
            entry["ports"][service] = port
    data = {"cluster": "quick-look", "version": version, "nodes": list(nodes.values())}
    inventory = parse_inventory(data, path="<command line>")
    # a node named with ports is probed on those ports only
    fixed = tuple(replace(n, only_listed_ports=bool(n.ports)) for n in inventory.nodes)
    return replace(inventory, nodes=fixed)


def _role_of(text: str, default: str) -> tuple[str, str]:
    """``HOST[:PORT]@ROLE`` split into the target and its role (``default`` without one)."""
    target, at, named = text.rpartition("@")
    if not at:
        return text, default
    roles = [r.value for r in Role]
    if named not in roles or not target:
        raise InputError(f"{text!r}: {named!r} is not a role" if target
                         else f"{text!r}: no host before the role",
                         expected="HOST[:PORT]@ROLE, ROLE one of " + ", ".join(roles))
    return target, named


@commands.command(epilog="\b\nExamples:\n"
             "  uccx-audit probe --inventory cluster.yaml --out facts.json\n"
             "  uccx-audit probe --inventory cluster.yaml --all-ports --agent-trust cas.pem\n"
             "  uccx-audit probe --inventory cluster.yaml --from-pem downloads/ --out f.json\n"
             "  uccx-audit probe uccx1.example.com:12015 --format json\n"
             "  uccx-audit probe uccx1.example.com:12015 sm1.example.com:7443@socialminer\n"
             "  uccx-audit probe [2001:db8::15]:8445@uccx-subscriber")
def probe(
    targets: Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
        help="HOST[:PORT][@ROLE] for a quick look (without --inventory); without @ROLE, "
        "--role.", show_default=False)] = None,
    inventory: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--inventory", "-i", help="Cluster inventory (YAML).")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Write the facts JSON here.")] = None,
    all_ports: AllPorts = False,
    agent_trust: AgentTrust = None,
    from_pem: FromPem = None,
    role: Annotated[Role, typer.Option(help="Role of quick-look hosts without @ROLE.")
                    ] = Role.publisher,
    version: Annotated[str, typer.Option(help="UCCX version of quick-look hosts.")] = "11.5(1)",
    connect_timeout: ConnectTimeout = 5.0,
    handshake_timeout: HandshakeTimeout = 5.0,
    concurrency: Concurrency = 64,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.table,
    per_host: PerHost = DEFAULT_PER_HOST,
    cli: CliAll = False,
    cli_user: CliUser = "admin",
    cli_known_hosts: CliKnownHosts = None,
    cli_accept_new_host_keys: CliAcceptNew = False,
    cli_timeout: CliTimeout = 60.0,
    rules: SiteRules = None,
    config: ConfigFile = None,
) -> None:
    """Record what every endpoint presents to a browser, an ECDSA-only and an RSA-only client."""
    from auditor.cli.progress import probe_progress
    from auditor.collect.gather import gather, probed
    from auditor.collect.inventory import load_inventory
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.sources.network import NetworkSource
    from auditor.collect.sources.pem import PemSource
    from auditor.collect.sources.vos_cli import VosCliSource
    from auditor.collect.trust import load_agent_trust
    from auditor.render.terminal import endpoint_table, node_table

    if inventory is not None and targets:
        raise InputError("give either --inventory or HOST[:PORT] targets, not both")
    use_site_map(rules)  # a site's own services are probed too
    if out is not None:
        from auditor.pipeline.outdir import check_out_file

        check_out_file(out)  # before anything is probed: a folder here loses the probe
    if inventory is not None:
        inv = load_inventory(inventory)
    elif targets:
        inv = _quick_inventory(targets, role.value, version)
    else:
        raise InputError("nothing to probe", expected="--inventory FILE or HOST[:PORT] ...")
    trust = load_agent_trust(str(agent_trust) if agent_trust else None)
    options = ProbeOptions(connect_timeout, handshake_timeout, concurrency, per_host=per_host)
    request = cli_request(inv, all_nodes=cli, user=cli_user, known_hosts=cli_known_hosts,
                          accept_new=cli_accept_new_host_keys, timeout=cli_timeout,
                          connect_timeout=connect_timeout, concurrency=concurrency)
    started = time.monotonic()
    try:
        # the same sources, and so the same facts, as ``audit`` (auditor.pipeline.run)
        sources = [PemSource(trust, from_pem, all_ports),
                   VosCliSource(lambda _inventory: request),
                   NetworkSource(trust, options, all_ports)]
        online = probed([inv], sources)
        total = sum(len(n.endpoints(all_ports)) for i in online for n in i.nodes)
        with probe_progress(total) as progress:
            sources[-1] = NetworkSource(trust, options, all_ports, progress)
            facts = gather(inv, sources)
    except KeyboardInterrupt:
        say("interrupted before the probe finished: nothing was written"
            + (f" ({out} is as it was)" if out is not None else ""))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if out is not None:
        _save_probe(facts, out)
    if fmt is TableFormat.json:
        typer.echo(facts_to_json(facts), nl=False)
    else:
        typer.echo(terminal(endpoint_table(facts)))
        typer.echo("")
        typer.echo(terminal(node_table(facts)))
    done = (f"probed {total} endpoints" if online
            else f"read the certificates of {len(inv.nodes)} nodes")
    say(f"{done} in {time.monotonic() - started:.2f} s"
         + (f"; facts written to {out}" if out else ""))


def _save_probe(facts, out: Path) -> None:
    """Write the facts; a disk that cannot take them still shows them on standard output."""
    from auditor.pipeline.run import is_place_error

    try:
        save_facts(facts, out)
    except OSError as exc:
        if not is_place_error(exc):
            raise
        sys.stdout.write(facts_to_json(facts))
        raise InputError(f"cannot write the facts to {out}: {exc.strerror}; they were "
                         "printed on standard output instead", field="--out") from None
