"""``uccx-audit check-cert``: judge a signed certificate before it is uploaded."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from auditor.cli.config import site_env
from auditor.cli.console import Voice
from auditor.cli.options import Commands, ConfigFile, ExpiryWindow, NoColor, Quiet, Role
from auditor.common.errors import InputError
from auditor.model.verdicts import EXIT_FINDINGS, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE


class Purpose(str, Enum):
    tomcat = "tomcat"
    tomcat_ecdsa = "tomcat-ECDSA"




commands = Commands()


@commands.command("check-cert", epilog="\b\nExamples:\n"
             "  uccx-audit check-cert uccx1-ecdsa.pem --purpose tomcat-ECDSA --csr uccx1.csr "
             "--chain ec-root.pem --tomcat uccx1-tomcat.pem --host uccx1.example.com\n"
             "  uccx-audit check-cert sm1-ecdsa.pem --purpose tomcat-ECDSA --role socialminer "
             "--tomcat sm1-tomcat.pem --host sm1.example.com\n\n"
             f"\b\nExit codes (the audit's): {EXIT_OK} OK to upload, or OK with warnings; "
             f"{EXIT_FINDINGS} NOT OK (a check failed, an error finding, or a gadget "
             f"predicted broken); {EXIT_INCONCLUSIVE} cannot tell (a gadget it predicts is "
             f"unknown, or the inputs cannot decide a check); {EXIT_USAGE} usage or input "
             "error.")
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
    tomcat: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--tomcat", metavar="TOMCAT.pem",
        help="With --purpose tomcat-ECDSA: the node's tomcat certificate, as it will be "
        "beside this one (OS Administration > Certificate Management > tomcat > Download; "
        "a bundle may carry its chain). Without it, what depends on tomcat is unknown.")
    ] = None,
    tomcat_ecdsa: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--tomcat-ecdsa", metavar="TOMCAT-ECDSA.pem",
        help="With --purpose tomcat: the node's tomcat-ECDSA certificate, as it will be "
        "beside this one. Without it, what depends on tomcat-ECDSA is unknown.")] = None,
    role: Annotated[Role, typer.Option(help="The node's role.")] = Role.publisher,
    agent_trust: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--agent-trust", envvar=site_env("agent-trust"),
        help="What the agents' browsers trust (default: assume they trust the CA roots "
        "given, never a self-signed certificate).")] = None,
    expiry_window: ExpiryWindow = 30,
    config: ConfigFile = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Will this signed tomcat / tomcat-ECDSA certificate work once uploaded?"""
    from auditor.collect.certs import read_certificates
    from auditor.collect.checkcert import check_other, other_purpose, read_csr
    from auditor.collect.trust import load_agent_trust
    from auditor.pipeline.check_cert import check_cert as run_check
    from auditor.render.checkcert import OTHER_OPTIONS, check_cert_text

    given = {"tomcat": tomcat, "tomcat-ECDSA": tomcat_ecdsa}
    if given[purpose.value] is not None:

        raise InputError(f"this is for the node's other certificate; the one checked is "
                         f"its {purpose.value}", path=str(given[purpose.value]),
                         field=OTHER_OPTIONS[purpose.value],
                         expected=f"{OTHER_OPTIONS[other_purpose(purpose.value)]} FILE (the "
                         "node's certificate of the other purpose)")
    other_file = given[other_purpose(purpose.value)]
    other = read_certificates(str(other_file)) if other_file else ()
    check_other(other, purpose.value, path=str(other_file))
    result = run_check(
        read_certificates(str(signed)), purpose.value, other=other,
        csr=read_csr(str(csr)) if csr else None,
        chain=read_certificates(str(chain)) if chain else (), host=host, role=role.value,
        trust=load_agent_trust(str(agent_trust)) if agent_trust else None,
        expiry_window_days=expiry_window)
    title = (f"{signed.name} as {purpose.value} on a {role.value}"
             + (f" ({host})" if host else ""))
    text = check_cert_text(title, result.case.checks, result.findings, result.gadgets,
                           result.case.tomcat_trust, role=role.value,
                           outcome=result.outcome, other=other_purpose(purpose.value),
                           wants_other=result.wants_other)
    # the last line is the outcome: OK to upload, OK with warnings, NOT OK or cannot tell
    body, _, last = text.rstrip("\n").rpartition("\n")
    voice = Voice(quiet=quiet, no_color=no_color)
    voice.say(body)
    voice.verdict(last, result.outcome)
    raise typer.Exit(result.exit_code)
