"""``probe`` then ``evaluate`` gives the audit ``audit`` gives, whatever the facts come from.

Both commands gather through :func:`auditor.collect.gather.gather` with the same sources,
so for every lab scenario, with every source in play (the network, a node's ``pem_dir``,
the inventory's declared facts, the VOS CLI over a real sshd), the verdict, each node's
gadget outcomes and the findings of ``audit``'s audit.json are those of ``evaluate`` run on
the facts ``probe`` wrote. An inventory whose every node has a ``pem_dir`` is audited from
the downloaded certificates by both, its servers out of reach.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cli_runner import invoke
from cryptography.hazmat.primitives import serialization
from sshd import Sshd, hold_lab_keystores, running_sshd

from auditor.collect.inventory import inventory_to_yaml
from auditor.lab import SCENARIOS, Lab, pki
from auditor.lab.server import agent_trust_pem, scenario_certificates
from auditor.model.cluster import CliAccess, Inventory, Node

ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
#: loopback addresses where nothing listens: the servers of an offline audit
UNREACHABLE = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
HOSTS = sorted({n.host for s in SCENARIOS.values() for n in s.nodes})
CHANGE_DATE = (dt.date.today() + dt.timedelta(days=7)).isoformat()
#: every lab scenario against the real sshd
pytestmark = [pytest.mark.ssh, pytest.mark.slow]


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(ADDRESSES) as server:
        yield server


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _downloads(keystores: dict, folder: Path) -> dict[str, str]:
    """Each node's certificates as OS Administration downloads them, a folder per node;
    the ``pem_dir`` of each host."""
    roots = [issued.cert for issued in pki.hierarchies().roots]
    dirs = {}
    for host, certs in keystores.items():
        node = folder / host
        node.mkdir(parents=True)
        (node / "tomcat.pem").write_bytes(_pem(certs.tomcat.cert))
        if certs.tomcat_ecdsa is not None:
            (node / "tomcat-ECDSA.pem").write_bytes(_pem(certs.tomcat_ecdsa.cert))
        cas = [*certs.tomcat.chain, *(certs.tomcat_ecdsa.chain if certs.tomcat_ecdsa
                                      else ()), *roots]
        for index, ca in enumerate(dict.fromkeys(cas)):
            (node / f"tomcat-trust-{index}.pem").write_bytes(_pem(ca))
        dirs[host] = str(node)
    return dirs


def _vos_version(release: str) -> str:
    """How ``show version active`` prints a release: 11.5(1) as 11.5.1.10000-1."""
    match = re.fullmatch(r"(\d+)\.(\d+)\((\d+)\)", release)
    assert match, release
    return "{}.{}.{}.10000-1".format(*match.groups())


def _write(inventory: Inventory, path: Path) -> Path:
    path.write_text(inventory_to_yaml(inventory))
    return path


def _mixed(lab: Lab, sshd: Sshd, pem_dirs: dict[str, str], folder: Path) -> Path:
    """Every source in play: the publisher's keystore from its ``pem_dir``, the other nodes'
    over their VOS CLI, every node probed, and declarations (the lab's own, and on the
    subscriber what it declares of its ``tomcat``)."""
    inventory = lab.inventory()
    pub, sub, sm = inventory.nodes
    sub_tomcat = lab.expected_states()[sub.host]["tomcat"]
    nodes = (replace(pub, pem_dir=pem_dirs[pub.host]),
             replace(sub, cli=CliAccess(sshd.user, sshd.port),
                     declared={**sub.declared, "tomcat": sub_tomcat}),
             replace(sm, cli=CliAccess(sshd.user, sshd.port)))
    return _write(replace(inventory, nodes=nodes), folder / "mixed.yaml")


def _judged(path: Path) -> dict:
    """What an audit.json decides: the verdict, each node's gadget outcomes, the
    findings."""
    audit = json.loads(path.read_text())
    return {"verdict": audit["verdict"],
            "gadgets": {n["host"]: {g: r["outcome"] for g, r in n["gadgets"].items()}
                        for n in audit["nodes"]},
            "findings": sorted(json.dumps(f, sort_keys=True) for f in audit["findings"])}


def _both(inventory: Path, agent_trust: Path, sshd: Sshd, folder: Path, phase: str
          ) -> tuple[dict, dict]:
    """``audit``'s judgement, and ``evaluate``'s of what ``probe`` recorded."""
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["UCCX_AUDIT_CLI_PASSWORD"] = sshd.password
    known = folder / "known_hosts"
    known.write_text("".join(sshd.known_hosts_line(h) for h in HOSTS))
    common = ["--inventory", str(inventory), "--agent-trust", str(agent_trust),
              "--cli-known-hosts", str(known), "--cli-timeout", "10",
              "--connect-timeout", "2", "--handshake-timeout", "3"]
    judging = ["--phase", phase, "--change-date", CHANGE_DATE,
               *(["--target-version", "11.5(1)"] if phase == "pre" else [])]
    audited = invoke("audit", *common, *judging, "--out", folder / "audit", env=env)
    assert audited.returncode in (0, 1, 3), audited.stderr
    probed = invoke("probe", *common, "--out", folder / "facts.json", "--format", "json",
                    env=env)
    assert probed.returncode == 0, probed.stderr
    evaluated = invoke("evaluate", folder / "facts.json", *judging, "--out",
                       folder / "evaluated.json", env=env)
    assert evaluated.returncode in (0, 1, 3), evaluated.stderr
    return _judged(folder / "audit" / "audit.json"), _judged(folder / "evaluated.json")


def _same_facts(folder: Path) -> None:
    """``probe`` recorded what ``audit`` gathered: the same nodes, each certificate state
    from the same source, the same chains on the same ports, the same certificates (the
    times of observation and of each handshake differ)."""
    def kept(path: Path) -> dict:
        facts = json.loads(path.read_text())
        return {"source": facts["source"], "certificates": sorted(facts["certificates"]),
                "nodes": [{**{k: n[k] for k in ("host", "role", "address", "declared",
                                                "tomcat", "tomcat_ecdsa")},
                           "endpoints": [(e["service"], e["port"],
                                          [h.get("chain") for h in e["handshakes"]])
                                         for e in n["endpoints"]]}
                          for n in facts["nodes"]]}
    assert kept(folder / "facts.json") == kept(folder / "audit" / "facts.json")


def _phase(scenario: str) -> str:
    return "pre" if scenario.startswith("pre-upgrade") else "post"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_with_every_source_in_play_probe_then_evaluate_judges_as_audit_does(
        scenario: str, sshd: Sshd, tmp_path: Path) -> None:
    with Lab(scenario, tmp_path / "lab") as lab:
        hold_lab_keystores(sshd, lab, ADDRESSES, **{
            n.host: {"prompt_delay": 0.05, "page_lines": 400,
                     "version": _vos_version(lab.scenario.version)}
            for n in lab.inventory().nodes})
        pem_dirs = _downloads(lab.certificates, tmp_path / "downloads")
        inventory = _mixed(lab, sshd, pem_dirs, tmp_path)
        audited, evaluated = _both(inventory, lab.agent_trust_path, sshd, tmp_path,
                                   _phase(scenario))
    assert evaluated == audited
    _same_facts(tmp_path)
    facts = json.loads((tmp_path / "facts.json").read_text())
    sources = {n["host"]: n["tomcat"]["installed_from"] for n in facts["nodes"]}
    pub, sub, sm = (n.host for n in SCENARIOS[scenario].nodes)
    assert sources[pub].startswith("pem:") and sources[sub] == sources[sm] == "vos_cli"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_from_pem_dirs_alone_probe_then_evaluate_judges_as_audit_does(
        scenario: str, sshd: Sshd, tmp_path: Path) -> None:
    """Every node with a ``pem_dir``, its servers out of reach: both read the downloaded
    certificates, and neither touches the network."""
    trust = tmp_path / "agent-trust.pem"
    trust.write_bytes(agent_trust_pem())
    pem_dirs = _downloads(scenario_certificates(scenario), tmp_path / "downloads")
    spec = SCENARIOS[scenario]
    inventory = Inventory(f"lab-{scenario}", spec.version, tuple(
        Node(n.host, n.role, address, {}, {"cop_installed": True} if n.cop_installed else {},
             pem_dir=pem_dirs[n.host])
        for n, address in zip(spec.nodes, UNREACHABLE, strict=True)))
    audited, evaluated = _both(_write(inventory, tmp_path / "offline.yaml"), trust, sshd,
                               tmp_path, _phase(scenario))
    assert evaluated == audited
    _same_facts(tmp_path)
    assert json.loads((tmp_path / "facts.json").read_text())["source"] == "declared"
