"""The audit JSON: what the report and audit issues read; validated, deterministic, atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.common.errors import InputError
from auditor.common.validation import validate
from auditor.evaluate.engine import build_audit, evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.audit import audit_from_data, audit_to_json, load_audit, save_audit
from auditor.model.facts import load_facts

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"


def audit_of(name: str, phase: str = "post", target: str | None = None):
    rules = load_ruleset()
    facts = load_facts(FACTS / f"{name}.json")
    settings = make_settings(facts.version, facts.observed_at, phase=phase,
                             target_version=target)
    return build_audit(evaluate(rules, facts, settings), facts, rules, settings)


def test_top_level_fields_are_those_the_issue_names_plus_context() -> None:
    data = json.loads(audit_to_json(audit_of("row4-upgrade-trap")))
    assert {"schema_version", "verdict", "phase", "target_version", "facts", "findings",
            "nodes"} <= set(data)
    assert data["verdict"] == "no_go" and data["phase"] == "post"
    assert data["rule_set"]["sha256"] == load_ruleset().sha256
    node = data["nodes"][0]
    assert set(node) == {"host", "role", "tomcat", "tomcat_ecdsa", "gadgets", "predicted"}
    assert node["gadgets"]["live_data"] == {"outcome": "prompt_accept_fails",
                                            "rules": ["live-data-prompt-cannot-be-accepted"]}
    finding = data["findings"][0]
    assert {"rule_id", "severity", "node", "message", "remediation"} <= set(finding)
    assert data["summary"] == {"error": 2, "warning": 1, "notice": 0}


def test_the_audit_validates_against_its_committed_schema() -> None:
    for name, phase, target in (("row2-rsa-signed-ecdsa", "post", None),
                                ("pre-upgrade-self-signed", "pre", "11.5(1)")):
        validate(json.loads(audit_to_json(audit_of(name, phase, target))), "audit",
                 path=name)


def test_save_then_load_gives_the_same_audit(tmp_path: Path) -> None:
    audit = audit_of("pre-upgrade-ca-signed", "pre", "11.5(1)")
    path = save_audit(audit, tmp_path / "out" / "audit.json")
    assert load_audit(path) == audit
    assert [p.name for p in path.parent.iterdir()] == ["audit.json"]  # no temporary left


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert audit_to_json(audit_of("mixed-cluster")) == audit_to_json(audit_of("mixed-cluster"))


def test_only_the_playbooks_the_findings_name_are_copied_in() -> None:
    audit = audit_of("row2-rsa-signed-ecdsa")
    named = {p for f in audit.findings for p in f.remediation}
    assert set(audit.playbooks) == named
    playbook = audit.playbooks["install-socialminer-cop"]
    assert playbook.steps and "uccx-audit" in playbook.verify.do


def test_a_clean_cluster_has_no_findings_and_no_playbooks() -> None:
    audit = audit_of("row3-ec-signed-ecdsa")
    assert audit.verdict == "go" and audit.findings == () and dict(audit.playbooks) == {}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(schema_version=1), "schema_version: 1 is not supported"),
    (lambda d: d["findings"][0].update(severity="fatal"),
     "findings[0].severity: 'fatal' is not allowed"),
    (lambda d: d["nodes"][0]["gadgets"]["live_data"].update(outcome="flaky"),
     "nodes[0].gadgets.live_data.outcome: 'flaky' is not allowed"),
    (lambda d: d["facts"].pop("certificates"), "(facts): certificates: is required"),
])
def test_a_damaged_audit_file_is_refused_with_the_field(tmp_path: Path, edit, message) -> None:
    data = json.loads(audit_to_json(audit_of("row4-upgrade-trap")))
    edit(data)
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_audit(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_audit_from_data_rebuilds_typed_records() -> None:
    audit = audit_of("cop-uccx")
    again = audit_from_data(json.loads(audit_to_json(audit)))
    assert again.nodes[0].gadgets["live_data"].rules == audit.nodes[0].gadgets[
        "live_data"].rules
    assert again.facts == audit.facts
