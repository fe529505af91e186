"""A GO must be earned (issue 10): what the audit did not see is never a verdict of GO.

Shared helpers here are used by test_tomcat.py for the same checks on a real Tomcat.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from audits import audit_json, lab_audit
from cryptography.hazmat.primitives import serialization
from junitparser import JUnitXml
from servers import free_port, serve, silent

from auditor.cli import app as cli
from auditor.collect import prober
from auditor.collect.inventory import inventory_to_yaml, load_inventory
from auditor.collect.trust import load_agent_trust
from auditor.lab import Lab
from auditor.lab.scenarios import DOMAIN
from auditor.model.cluster import Inventory, Node
from auditor.model.verdicts import EXIT_INCONCLUSIVE, VERDICTS, decide, exit_code
from auditor.pipeline.run import AuditRequest, run_audit
from auditor.render import render
from auditor.render.context import ReportMeta
from auditor.render.diff import diff_audits
from auditor.render.diff_render import render_diff

PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
UNRESOLVABLE = "nowhere.unresolvable.invalid"


def run_cli(*args: str, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    """``uccx-audit`` in this process (so a test can stand in for DNS); its exit code."""
    if monkeypatch is not None:
        real = prober.default_resolver

        def resolver(name: str, port: int):
            if name == UNRESOLVABLE:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real(name, port)

        monkeypatch.setattr(prober, "default_resolver", resolver)
    old = sys.argv
    sys.argv = ["uccx-audit", *args]
    try:
        cli.main()
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        sys.argv = old
    return 0


@contextlib.contextmanager
def unreachable_inventory(base: Inventory, folder: Path) -> Iterator[Path]:
    """``base``'s three nodes on ports nothing listens on (refused), one node that accepts
    TCP and never answers, and one whose name does not resolve."""
    refused = tuple(dataclasses.replace(
        n, ports={s: free_port(n.address or "127.0.0.1") for s in n.ports}, declared={})
        for n in base.nodes)
    with serve(silent, connections=32) as port:
        quiet = Node("quiet.unreachable.example", "socialminer", "127.0.0.1",
                     {"web": port, "notification": port})
        missing = Node(UNRESOLVABLE, "socialminer", None)
        inventory = Inventory(f"{base.cluster}-unreachable", base.version,
                              (*refused, quiet, missing))
        path = folder / "unreachable.yaml"
        path.write_text(inventory_to_yaml(inventory))
        yield path


def check_unreachable_audit(out: Path, code: int) -> None:
    """Inconclusive, exit 3, JUnit with errors, a banner naming each unseen endpoint."""
    assert code == EXIT_INCONCLUSIVE
    audit = audit_json(out / "audit.json")
    assert audit["verdict"] == "inconclusive"
    assert all(g["outcome"] == "unknown" for n in audit["nodes"] for g in n["gadgets"].values())
    assert len(audit["unknowns"]) == sum(len(n["gadgets"]) for n in audit["nodes"])
    assert all(u["settle"] and u["reasons"] for u in audit["unknowns"])
    junit = JUnitXml.fromfile(str(out / "junit.xml"))
    assert junit.errors == len(audit["unknowns"]) and junit.failures == 0
    html = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    banner = html.split('id="not-seen"', 1)[1].split("</section>", 1)[0]
    assert 'class="banner verdict-inconclusive"' in html
    for node in audit["facts"]["nodes"]:
        for endpoint in node["endpoints"]:
            seen = f"{node['host']} port {endpoint['port']}"
            assert seen in banner and seen in markdown, seen


# -- 1. the fourth verdict -------------------------------------------------------------------

def test_verdict_order_and_exit_codes_live_in_one_place() -> None:
    assert VERDICTS == ("go", "go_with_actions", "inconclusive", "no_go")
    assert decide(["warning"], 1) == "inconclusive"
    assert decide(["error"], 3) == "no_go"
    assert decide(["warning"], 0) == "go_with_actions" and decide([], 0) == "go"
    assert [exit_code(v) for v in VERDICTS] == [0, 0, 3, 1]


def test_nothing_reached_is_inconclusive_never_go(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with Lab("row3-ec-signed-ecdsa") as lab, \
            unreachable_inventory(load_inventory(lab.inventory_path), tmp_path) as inventory:
        code = run_cli("audit", "--inventory", str(inventory), "--phase", "post",
                       "--agent-trust", str(lab.agent_trust_path), "--connect-timeout", "1",
                       "--handshake-timeout", "1", "--out", str(tmp_path / "out"),
                       monkeypatch=monkeypatch)
    check_unreachable_audit(tmp_path / "out", code)


# -- 2. row 4 by certificate state ------------------------------------------------------------

def check_row4_without_agent_trust(out: Path, code: int) -> None:
    audit = audit_json(out / "audit.json")
    assert code == 1 and audit["verdict"] == "no_go"
    assert audit["facts"]["agent_trust"]["source"] == "system"
    for node in audit["nodes"]:
        if node["role"] != "socialminer":
            assert node["gadgets"]["live_data"]["outcome"] == "prompt_accept_fails"
            assert node["gadgets"]["finesse_desktop"]["outcome"] == "unknown"
    rules = {f["rule_id"] for f in audit["findings"]}
    assert "chain-missing-intermediate" not in rules  # the servers send their intermediate
    unverified = [f for f in audit["findings"]
                  if f["rule_id"] == "ca-signed-chain-unverified-without-agent-trust"]
    assert unverified and all("pass --agent-trust with the agents' roots" in f["message"]
                              and "CN=" in f["message"] for f in unverified)
    # never "prompt, accepting works" on UCCX: row 4 fails, the CA-signed tomcat is unknown
    assert not [f for f in audit["findings"] if "accepting works" in f["message"]
                and not f["node"].startswith("sm.")]


def test_row4_without_agent_trust_is_no_go_and_names_the_ca(tmp_path: Path) -> None:
    with Lab("row4-upgrade-trap") as lab:
        code = run_cli("audit", "--inventory", str(lab.inventory_path), "--phase", "post",
                       "--out", str(tmp_path / "out"))
    check_row4_without_agent_trust(tmp_path / "out", code)


# -- 3. SocialMiner without evidence ------------------------------------------------------

def _socialminer_audit(tmp_path: Path, *, declared: dict, pem: bool) -> dict:
    """The cop-socialminer lab: SocialMiner presents only RSA; its keystore holds an
    RSA-signed tomcat-ECDSA (row 2 certificates)."""
    with Lab("cop-socialminer") as lab:
        inventory = load_inventory(lab.inventory_path)
        nodes = []
        for node in inventory.nodes:
            if node.host == SM:
                pem_dir = None
                if pem:
                    folder = tmp_path / "sm-pems"
                    folder.mkdir()
                    held = lab.certificates[SM]
                    for name, issued in (("tomcat.pem", held.tomcat),
                                         ("tomcat-ECDSA.pem", held.tomcat_ecdsa)):
                        (folder / name).write_bytes(
                            issued.cert.public_bytes(serialization.Encoding.PEM))
                    pem_dir = str(folder)
                node = dataclasses.replace(node, declared=declared, pem_dir=pem_dir)
            nodes.append(node)
        path = tmp_path / "inventory.yaml"
        path.write_text(inventory_to_yaml(dataclasses.replace(inventory, nodes=tuple(nodes))))
        result = run_audit(AuditRequest(
            inventory=load_inventory(path), phase="post",
            trust=load_agent_trust(str(lab.agent_trust_path)), out_dir=tmp_path / "out",
            options=prober.ProbeOptions(connect_timeout=3, handshake_timeout=3)))
    return audit_json(result.reports["json"])


def _chat(audit: dict) -> str:
    node = next(n for n in audit["nodes"] if n["host"] == SM)
    return node["gadgets"]["chat_email"]["outcome"]


def test_socialminer_presenting_only_rsa_without_declaration_is_unknown(tmp_path) -> None:
    audit = _socialminer_audit(tmp_path, declared={}, pem=False)
    assert _chat(audit) == "unknown" and audit["verdict"] == "inconclusive"
    warning = next(f for f in audit["findings"]
                   if f["rule_id"] == "socialminer-tomcat-ecdsa-signing-unknown")
    assert warning["severity"] == "warning"
    unknown = next(u for u in audit["unknowns"] if u["gadget"] == "chat_email")
    assert "cop_installed: true" in unknown["settle"][0] and "pem_dir" in unknown["settle"][0]


def test_socialminer_with_the_cop_declared_works(tmp_path) -> None:
    audit = _socialminer_audit(tmp_path, declared={"cop_installed": True}, pem=False)
    assert _chat(audit) == "works" and audit["verdict"] != "inconclusive"


def test_installed_rsa_signed_tomcat_ecdsa_breaks_chat_whatever_7443_presents(
        tmp_path) -> None:
    audit = _socialminer_audit(tmp_path, declared={}, pem=True)
    assert _chat(audit) == "broken" and audit["verdict"] == "no_go"
    node = next(n for n in audit["facts"]["nodes"] if n["host"] == SM)
    state = node["tomcat_ecdsa"]
    assert (state["state"], state["source"], state["presented"]) == (
        "rsa_ca_signed", "installed", "not_presented")
    assert state["installed_from"].startswith("pem:")
    # the probe still ran: what SocialMiner presents is in the facts
    assert all(e["handshakes"][0]["ok"] for e in node["endpoints"])


# -- 4. bugs are not findings ---------------------------------------------------------------

def test_a_bug_in_a_handshake_stops_the_run_with_exit_4_and_no_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = prober._handshake
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(prober, "_handshake", broken)
    out = tmp_path / "out"
    with Lab("row3-ec-signed-ecdsa") as lab:
        code = run_cli("audit", "--inventory", str(lab.inventory_path), "--phase", "post",
                       "--agent-trust", str(lab.agent_trust_path), "--out", str(out))
    assert code == 4
    log = tmp_path / "out.unfinished" / "error.log"  # beside the folder, which stays as it was
    assert log.is_file() and "injected bug" in log.read_text()
    assert not out.exists()


# -- 5. a report that agrees with itself ---------------------------------------------------

def test_wildcard_finding_sits_in_the_finesse_cell_and_green_cells_list_no_rules() -> None:
    # the wildcard rule is a warning (issue 11: Cisco's word on it is unverified); a finding
    # of either severity sits in the cell of the gadget it concerns
    audit = lab_audit("hygiene-wildcard")
    html = render(audit, "html", ReportMeta())
    grid = html.split('id="gadgets"', 1)[1].split("</section>", 1)[0]
    pub_row = grid.split(PUB, 1)[1].split("</tr>", 1)[0]
    finesse_cell = pub_row.split("<td class=\"outcome", 1)[1].split("</td>", 1)[0]
    assert "has-warning" in finesse_cell and "wildcard-certificate-on-finesse" in finesse_cell
    for cell in grid.split("<td class=\"outcome outcome-works\">")[1:]:
        assert "rules" not in cell.split("</td>", 1)[0]  # a plain green cell lists no IDs
    assert "Rules that checked the working gadgets" in html  # moved to the evidence
    faq = html.split('id="faq"', 1)[1].split("</section>", 1)[0]
    assert "decided by" in faq and "wildcard" in faq.lower()
    markdown = render(audit, "md", ReportMeta())
    pub_line = next(line for line in markdown.splitlines() if line.startswith(f"| {PUB}"))
    assert "wildcard-certificate-on-finesse" in pub_line.split("|")[4]


def test_accepting_fails_shares_the_blocking_colour_with_broken() -> None:
    css = (Path(__file__).resolve().parent.parent / "reports" / "templates" /
           "report.css").read_text()
    rule = {line.split("{")[0].strip(): line.split("{")[1] for line in css.splitlines()
            if line.startswith(".outcome-")}
    assert rule[".outcome-prompt_accept_fails"] == rule[".outcome-broken"]


# -- 6. diff says what happened ----------------------------------------------------------

def test_diff_lists_the_upgrade_prediction_as_came_true(tmp_path: Path) -> None:
    before = lab_audit("pre-upgrade-ca-signed")
    post = lab_audit("row4-upgrade-trap")
    # the same cluster, audited after the change (the lab audits run in any order)
    after = dataclasses.replace(post, cluster=before.cluster, facts=dataclasses.replace(
        post.facts, observed_at="2999-01-01T00:00:00Z"))
    diff = diff_audits(before, after)
    came_true = {(r.rule_id, r.node) for r in diff.came_true}
    assert ("upgrade-creates-self-signed-tomcat-ecdsa", PUB) in came_true
    assert ("live-data-prompt-cannot-be-accepted", PUB) in came_true
    assert not any(r.rule_id == "upgrade-creates-self-signed-tomcat-ecdsa" for r in diff.fixed)
    assert not diff.warnings
    assert "came true" in render_diff(diff, "table") and "came true" in render_diff(diff, "md")


def test_diff_warns_when_swapped_or_of_different_clusters(tmp_path: Path) -> None:
    pre, post = lab_audit("pre-upgrade-ca-signed"), lab_audit("row4-upgrade-trap")
    assert any("different clusters" in w for w in diff_audits(pre, post).warnings)
    swapped = diff_audits(post, dataclasses.replace(pre, cluster=post.cluster))
    assert any("swapped" in w for w in swapped.warnings)
    for name, audit in (("pre.json", pre), ("post.json", post)):
        from auditor.model.audit import save_audit
        save_audit(audit, tmp_path / name)
    done = subprocess.run([sys.executable, "-m", "auditor", "diff", str(tmp_path / "post.json"),
                           str(tmp_path / "pre.json")], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert "WARNING" in done.stdout and "swapped" in done.stdout
