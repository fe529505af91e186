"""Offline audit from certificates downloaded from OS Administration: same rules, facts
marked declared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from test_audit_command import EXPECTED

from auditor.collect.offline import read_keystore
from auditor.common.errors import InputError
from auditor.lab import SCENARIOS

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "lab"
INVENTORY = """\
cluster: offline
version: "{version}"
nodes:
  - host: uccx-pub.lab.uccx.example
    role: uccx-publisher{pub}
  - host: uccx-sub.lab.uccx.example
    role: uccx-subscriber{sub}
  - host: sm.lab.uccx.example
    role: socialminer{sm}
"""


def downloads(scenario: str, into: Path) -> Path:
    """Lay the lab's certificates out as an engineer downloads them, one folder a node."""
    for spec in SCENARIOS[scenario].nodes:
        folder = into / spec.host
        folder.mkdir(parents=True)
        shutil.copy(LAB / scenario / f"{spec.name}-tomcat.pem", folder / "tomcat.pem")
        ecdsa = LAB / scenario / f"{spec.name}-tomcat-ecdsa.pem"
        if ecdsa.exists():
            shutil.copy(ecdsa, folder / "tomcat-ECDSA.pem")
        shutil.copy(LAB / "rsa-issuing-ca.pem", folder / "tomcat-trust-issuing.pem")
    return into


def audit(*args: str) -> Result:
    return invoke("audit", *args)


@pytest.mark.parametrize("scenario", ["row1-self-signed", "row2-rsa-signed-ecdsa",
                                      "row3-ec-signed-ecdsa", "row4-upgrade-trap",
                                      "mixed-cluster"])
def test_offline_audit_gives_the_same_outcomes_as_probing(scenario: str, tmp_path) -> None:
    folder = downloads(scenario, tmp_path / "downloads")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    out = tmp_path / "out"
    done = audit("--inventory", str(inventory), "--from-pem", str(folder), "--phase", "post",
                 "--agent-trust", str(LAB / "agent-trust.pem"), "--out", str(out))
    verdict, gadgets = EXPECTED[scenario]
    assert done.returncode == (1 if verdict == "no_go" else 0), done.stderr
    result = json.loads((out / "audit.json").read_text())
    got = {n["host"].split(".")[0]: {g: v["outcome"] for g, v in n["gadgets"].items()}
           for n in result["nodes"]}
    assert got == gadgets
    assert result["verdict"] == verdict
    facts = json.loads((out / "facts.json").read_text())
    assert facts["source"] == "declared"
    assert {n["tomcat_ecdsa"]["source"] for n in facts["nodes"]} == {"declared"}
    assert "declared, not observed" in (out / "report.html").read_text()


def test_rsa_signed_ecdsa_on_uccx_is_known_offline_though_not_presented(tmp_path) -> None:
    folder = downloads("row2-rsa-signed-ecdsa", tmp_path / "d")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    out = tmp_path / "out"
    audit("--inventory", str(inventory), "--from-pem", str(folder), "--phase", "post",
          "--agent-trust", str(LAB / "agent-trust.pem"), "--out", str(out))
    facts = json.loads((out / "facts.json").read_text())
    states = {n["role"]: n["tomcat_ecdsa"]["state"] for n in facts["nodes"]}
    assert states == {"uccx-publisher": "rsa_ca_signed", "uccx-subscriber": "rsa_ca_signed",
                      "socialminer": "rsa_ca_signed"}


def test_pem_dir_per_node_in_the_inventory_relative_to_it(tmp_path) -> None:
    downloads("row3-ec-signed-ecdsa", tmp_path / "certs")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(
        version="11.5(1)", pub="\n    pem_dir: certs/uccx-pub.lab.uccx.example",
        sub="\n    pem_dir: certs/uccx-sub.lab.uccx.example",
        sm="\n    pem_dir: certs/sm.lab.uccx.example"))
    done = audit("--inventory", str(inventory), "--phase", "post", "--agent-trust",
                 str(LAB / "agent-trust.pem"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["verdict"] == "go"


def test_missing_and_ambiguous_downloads_are_clear_errors(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no certificate files"):
        read_keystore(empty, "a.example")
    with pytest.raises(InputError, match="no such folder"):
        read_keystore(tmp_path / "nope", "a.example")
    two = tmp_path / "two"
    two.mkdir()
    pub = LAB / "row3-ec-signed-ecdsa" / "uccx-pub-tomcat.pem"
    shutil.copy(pub, two / "tomcat.pem")
    shutil.copy(LAB / "row4-upgrade-trap" / "uccx-pub-tomcat.pem", two / "tomcat.old.pem")
    with pytest.raises(InputError, match="more than one tomcat certificate"):
        read_keystore(two, "uccx-pub.lab.uccx.example")
    only_ec = tmp_path / "only-ec"
    only_ec.mkdir()
    shutil.copy(LAB / "row3-ec-signed-ecdsa" / "uccx-pub-tomcat-ecdsa.pem",
                only_ec / "tomcat-ECDSA.pem")
    with pytest.raises(InputError, match=r"no tomcat \(RSA\) certificate"):
        read_keystore(only_ec, "uccx-pub.lab.uccx.example")
