"""Audits of the live lab for the report tests: probe, evaluate, cache per session."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from servers import serve_tls

from auditor.collect.collect import probe_inventory
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions
from auditor.collect.trust import AgentTrust, load_agent_trust
from auditor.evaluate.engine import build_audit, evaluate
from auditor.evaluate.projection import settings_for
from auditor.evaluate.ruleset import load_ruleset
from auditor.lab import SCENARIOS, Lab, pki
from auditor.model.audit import Audit
from auditor.model.cluster import DEFAULT_PORTS, Inventory, Node
from auditor.model.facts import Facts

OPTIONS = ProbeOptions(connect_timeout=3, handshake_timeout=3)


def phase_of(scenario: str) -> str:
    return "pre" if scenario.startswith("pre-upgrade") else "post"


def audit_facts(facts: Facts, phase: str) -> Audit:
    ruleset = load_ruleset([])
    settings = settings_for(facts, phase=phase,
                            target_version="11.5(1)" if phase == "pre" else None)
    return build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings)


@functools.cache
def lab_audit(scenario: str) -> Audit:
    with Lab(scenario) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=OPTIONS)
        if lab.scenario.reads_cli:  # what the demo reads too: the lab's own VOS CLI
            from auditor.collect.installed import refine_from_cli

            facts = refine_from_cli(facts, lab.vos_cli_readings())
    return audit_facts(facts, phase_of(scenario))


def all_lab_audits() -> dict[str, Audit]:
    return {name: lab_audit(name) for name in SCENARIOS}


HOSTILE_CN = "<script>window.__pwned=1</script>"
HOSTILE_ORG = '"><img src=x onerror="window.__pwned=2">'


@contextlib.contextmanager
def serve_issued(issued: pki.Issued, address: str = "127.0.0.1") -> Iterator[int]:
    """A loopback TLS server presenting ``issued`` with its chain, on a free port."""
    with tempfile.TemporaryDirectory() as work:
        chain, key = Path(work, "chain.pem"), Path(work, "key.pem")
        chain.write_bytes(issued.chain_pem())
        key.write_bytes(issued.key_pem())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        with serve_tls(ctx, address) as port:
            yield port


@functools.cache
def hostile_audit() -> Audit:
    """A server whose certificate subject is markup: the report must show it as text."""
    key = pki.key("hostile-subject", "rsa")
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, HOSTILE_ORG),
                      x509.NameAttribute(NameOID.COMMON_NAME, HOSTILE_CN)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(4242)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("evil.example"), x509.DNSName("x\"><script>1</script>")]),
                critical=False)
            .sign(key, hashes.SHA256()))
    with serve_issued(pki.Issued(cert, key)) as port:
        inventory = Inventory("hostile", "11.5(1)", (Node(
            "evil.example", "uccx-publisher", "127.0.0.1",
            dict.fromkeys(DEFAULT_PORTS["uccx"], port)),))
        facts = probe_inventory(inventory, trust=AgentTrust("test", ()), options=OPTIONS)
    assert all(e.reachable for e in facts.nodes[0].endpoints)
    return audit_facts(facts, "post")


def check_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks table of an audit.json (schema 5) read as one dict per check: rule_id,
    node, subject (its object, or None when not applicable), result and gadgets (names)."""
    table = data["checks"]
    assert table["columns"] == ["rule", "node", "subject", "result", "gadgets"]
    return [{"rule_id": table["rules"][rule], "node": table["nodes"][node],
             "subject": None if subject is None else table["subjects"][subject],
             "result": result, "gadgets": [table["gadgets"][g] for g in gadgets]}
            for rule, node, subject, result, gadgets in table["rows"]]


def as_schema_4(data: dict[str, Any]) -> dict[str, Any]:
    """A self-contained schema-5 audit.json as the tool wrote it in schema 4: the checks
    grouped per rule and node (consecutive), each subject's answer without empty fields; no
    plan, and playbook steps without the fields schema 5 added. Written here on its own,
    not with the package's code, to test the migration."""
    groups: list[dict[str, Any]] = []
    for row in check_rows(data):
        if row["subject"] is None:
            groups.append({"node": row["node"], "result": row["result"],
                           "rule_id": row["rule_id"]})
            continue
        item = {"result": row["result"], "subject": row["subject"],
                **({"gadgets": row["gadgets"]} if row["gadgets"] else {})}
        last = groups[-1] if groups else None
        if last is not None and "subjects" in last and (last["node"], last["rule_id"]) == (
                row["node"], row["rule_id"]):
            last["subjects"].append(item)
        else:
            groups.append({"node": row["node"], "rule_id": row["rule_id"],
                           "subjects": [item]})
    playbooks = {key: {**playbook, "steps": [_step_of_4(s) for s in playbook["steps"]],
                       "verify": _step_of_4(playbook["verify"])}
                 for key, playbook in data.get("playbooks", {}).items()}
    return {**{k: v for k, v in data.items() if k != "plan"}, "schema_version": 4,
            "checks": groups, "playbooks": playbooks}


def _step_of_4(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k not in ("phase", "command", "via", "roles")}


def audit_json(path: Path) -> dict[str, Any]:
    """An audit.json as data with its facts in it: those it names by reference
    (``facts_file``) read from beside it, as every reader of the file does."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "facts_file" in data:
        facts = path.parent / data.pop("facts_file")["name"]
        data["facts"] = json.loads(facts.read_text(encoding="utf-8"))
    return data
