"""The Ansible integration, run with the real ansible-core: two lab clusters stand in for
two customers, localhost (local connection) for their jump hosts and the controller."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.lab import Lab

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "integrations" / "ansible" / "audit-portfolio.yml"


def ansible_playbook() -> str:
    found = shutil.which("ansible-playbook") or str(Path(sys.executable).parent /
                                                    "ansible-playbook")
    if not Path(found).exists():
        pytest.fail("ansible-playbook not found: install the test extra "
                    "(python3 -m pip install -e '.[test]', which brings ansible-core)")
    return found


def test_the_playbook_probes_each_customer_and_builds_the_portfolio(tmp_path) -> None:
    command = ansible_playbook()
    jump = tmp_path / "jump"
    jump.mkdir()
    out = tmp_path / "out"
    with Lab("row4-upgrade-trap", tmp_path / "a", first_address=121) as first, \
            Lab("row3-ec-signed-ecdsa", tmp_path / "b", first_address=124) as second:
        inventory = {"uccx_clusters": {"hosts": {
            "customer_a": {"uccx_audit_jump_host": "localhost",
                           "uccx_audit_inventory": str(first.inventory_path),
                           "uccx_audit_agent_trust": str(first.agent_trust_path)},
            "customer_b": {"uccx_audit_jump_host": "localhost",
                           "uccx_audit_inventory": str(second.inventory_path),
                           "uccx_audit_agent_trust": str(second.agent_trust_path)}}}}
        (tmp_path / "inventory.json").write_text(json.dumps(inventory))
        extra = {"uccx_audit_command": [sys.executable, "-m", "auditor"],
                 "uccx_audit_output": str(out), "uccx_audit_jump_workdir": str(jump)}
        (tmp_path / "extra.json").write_text(json.dumps(extra))
        home = tmp_path / "ansible-home"
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")])),
               "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
               "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
               "ANSIBLE_CONFIG": str(tmp_path / "no-ansible.cfg"),
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
               "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
        result = subprocess.run(
            [command, "-i", str(tmp_path / "inventory.json"), str(PLAYBOOK),
             "-e", f"@{tmp_path / 'extra.json'}"],
            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert sorted(p.name for p in (out / "facts").iterdir()) == ["customer_a.json",
                                                                 "customer_b.json"]
    with (out / "portfolio" / "portfolio.csv").open(newline="", encoding="utf-8") as handle:
        verdicts = {row["cluster"]: row["verdict"] for row in csv.DictReader(handle)}
    assert verdicts == {"lab-row4-upgrade-trap": "no_go", "lab-row3-ec-signed-ecdsa": "go"}
    assert (out / "portfolio" / "portfolio.html").is_file()
    assert list(jump.iterdir()) == []  # the jump hosts' work folders are removed
    assert "worst no_go" in result.stdout
