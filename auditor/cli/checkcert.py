"""``uccx-audit check-cert``: judge a signed certificate before it is uploaded."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.config import site_env
from auditor.cli.console import Voice
from auditor.cli.options import Commands, ConfigFile, ExpiryWindow, NoColor, Quiet, Role
from auditor.model.cluster import cluster_roles
from auditor.model.verdicts import EXIT_FINDINGS, EXIT_OK


class Purpose(str, Enum):
    tomcat = "tomcat"
    tomcat_ecdsa = "tomcat-ECDSA"




commands = Commands()


@commands.command("check-cert", epilog="\b\nExamples:\n"
             "  uccx-audit check-cert uccx1-ecdsa.pem --purpose tomcat-ECDSA --csr uccx1.csr "
             "--chain ec-root.pem --host uccx1.example.com\n"
             "  uccx-audit check-cert sm1-ecdsa.pem --purpose tomcat-ECDSA --role socialminer "
             "--host sm1.example.com\n\n"
             "\b\nExit codes: 0 it will work, 1 a check failed, 2 usage or input error.")
def check_cert(
    signed: Annotated[Path, typer.Argument(metavar="SIGNED.pem",
                                           help="What the CA returned (PEM or DER; a "
                                           "bundle may carry the chain after the leaf).")],
    purpose: Annotated[Purpose, typer.Option(help="The certificate purpose in OS "
                                             "Administration (any case).",
                                             show_default=False, case_sensitive=False)],
    csr: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        metavar="REQUEST.csr", help="The CSR it was issued for.")] = None,
    chain: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        metavar="CHAIN.pem", help="The CA's root and intermediates.")] = None,
    host: Annotated[Optional[str], typer.Option(  # noqa: UP045
        metavar="FQDN", help="The node's FQDN, as agents reach it.")] = None,
    role: Annotated[Role, typer.Option(help="The node's role.")] = Role.publisher,
    agent_trust: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--agent-trust", envvar=site_env("agent-trust"),
        help="What the agents' browsers trust (default: assume they trust the root).")] = None,
    expiry_window: ExpiryWindow = 30,
    config: ConfigFile = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Will this signed tomcat / tomcat-ECDSA certificate work once uploaded?"""
    from auditor.collect.certs import read_certificates
    from auditor.collect.checkcert import read_csr
    from auditor.collect.trust import load_agent_trust
    from auditor.pipeline.check_cert import check_cert as run_check
    from auditor.render.checkcert import check_cert_text

    result = run_check(
        read_certificates(str(signed)), purpose.value,
        csr=read_csr(str(csr)) if csr else None,
        chain=read_certificates(str(chain)) if chain else (), host=host, role=role.value,
        trust=load_agent_trust(str(agent_trust)) if agent_trust else None,
        expiry_window_days=expiry_window)
    title = (f"{signed.name} as {purpose.value} on a {role.value}"
             + (f" ({host})" if host else ""))
    text = check_cert_text(title, result.case.checks, result.findings, result.gadgets,
                           result.case.tomcat_trust, socialminer=not _is_cluster_role(role.value),
                           ok=result.ok)
    # the last line is the verdict: "OK: it will work" or "NOT OK: ..."
    body, _, last = text.rstrip("\n").rpartition("\n")
    voice = Voice(quiet=quiet, no_color=no_color)
    voice.say(body)
    voice.verdict(last, "go" if result.ok else "no_go")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _is_cluster_role(role: str) -> bool:
    """A role of the UCCX cluster (publisher, subscriber), not a SocialMiner."""

    return role in cluster_roles()
