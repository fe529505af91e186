"""Site policy: overrides.yaml in a site rule folder re-grades or disables rules. The file is
checked (file, line, field), a re-grade reaches the verdict, a disabled rule leaves what it
judges unknown, no override moves a verdict to GO while a gadget is not ``works``, and every
format and the manifest say "site policy"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import FACTS
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.common.errors import InputError
from auditor.evaluate.engine import build_audit, evaluate
from auditor.evaluate.projection import settings_for
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.audit import audit_from_data, audit_to_json
from auditor.model.facts import load_facts

BUILTIN = load_ruleset()
#: recordings that give every kind of outcome between them (works, prompts, failures)
RECORDINGS = ("row1-self-signed", "row3-ec-signed-ecdsa", "row4-upgrade-trap",
              "hygiene-expired-publisher", "cop-uccx", "mixed-cluster")
PROMPTING = "self-signed-tomcat-prompts-agents"  # warning; gives prompt_accept_works


def policy(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.yaml").write_text(text, encoding="utf-8")
    return folder


def judged(ruleset, facts_name: str, phase: str = "post"):
    facts = load_facts(FACTS / f"{facts_name}.json")
    chosen = settings_for(facts, phase=phase)
    return evaluate(ruleset, facts, chosen), facts, chosen


# -- the file is checked ---------------------------------------------------------------

@pytest.mark.parametrize(("body", "line", "field", "words"), [
    ("overrides:\n  - rule: no-such-rule\n    severity: error\n    reason: x\n", 2,
     "overrides[0].rule", "no rule 'no-such-rule'"),
    ("overrides:\n  - rule: certificate-expired\n    reason: x\n", 2,
     "overrides[0].rule", "neither severity nor disabled"),
    ("overrides:\n  - rule: certificate-expired\n    severity: warning\n    disabled: true\n"
     "    reason: x\n", 3, "overrides[0].severity", "both severity and disabled"),
    ("overrides:\n  - rule: chain-out-of-order\n    severity: error\n    reason: a\n"
     "  - rule: chain-out-of-order\n    disabled: true\n    reason: b\n", 5,
     "overrides[1].rule", "already overridden"),
    (f"overrides:\n  - rule: {PROMPTING}\n    severity: notice\n    reason: x\n", 3,
     "overrides[0].severity", "verdict could be GO"),
    ("overrides:\n  - rule: certificate-expired\n    severity: notice\n    reason: x\n", 3,
     "overrides[0].severity", "verdict could be GO"),
])
def test_a_wrong_override_names_file_line_and_field(tmp_path: Path, body: str, line: int,
                                                    field: str, words: str) -> None:
    folder = policy(tmp_path / "site", body)
    with pytest.raises(InputError) as caught:
        load_ruleset([folder])
    error = caught.value
    assert (error.path, error.line, error.field) == (str(folder / "overrides.yaml"), line,
                                                     field), str(error)
    assert words in error.message
    done = invoke("rules", "--rules", folder)
    assert done.returncode == 2, done.stderr
    assert f"overrides.yaml:{line}" in done.stderr and field in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("body", "said"), [
    ("overrides:\n  - rule: certificate-expired\n    disabled: true\n",
     "overrides.yaml:2: overrides[0].reason: is required"),
    ("overrides:\n  - rule: certificate-expired\n    disabled: false\n    reason: x\n",
     "overrides.yaml:3: overrides[0].disabled:"),
    ("overrides:\n  - rule: certificate-expired\n    severity: fatal\n    reason: x\n",
     "overrides.yaml:3: overrides[0].severity:"),
    ("overrides:\n  - {rule: certificate-expired, disabled: true, reason: x, until: 2027}\n",
     "overrides.yaml:2: overrides[0].until: unknown field"),
])
def test_the_schema_wants_a_reason_and_one_decision(tmp_path: Path, body: str,
                                                    said: str) -> None:
    done = invoke("rules", "--rules", policy(tmp_path / "site", body))
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_a_site_rule_can_be_overridden_beside_the_built_ins(tmp_path: Path) -> None:
    site = policy(tmp_path / "site", "overrides:\n  - rule: chain-out-of-order\n"
                  "    severity: error\n    reason: our CA sends chains in order\n")
    ruleset = load_ruleset([site])
    assert ruleset.rule("chain-out-of-order").severity == "error"
    assert ruleset.sha256 != BUILTIN.sha256  # a policy is part of what judged


# -- what an override does ---------------------------------------------------------------

def test_a_re_graded_built_in_rule_changes_the_finding_and_the_verdict(tmp_path) -> None:
    before, _, _ = judged(BUILTIN, "row1-self-signed")
    site = policy(tmp_path / "site", f"overrides:\n  - rule: {PROMPTING}\n"
                  "    severity: error\n    reason: agents may not click through prompts\n")
    after, _, _ = judged(load_ruleset([site]), "row1-self-signed")
    assert before.verdict == "go_with_actions" and after.verdict == "no_go"
    assert {f.severity for f in after.findings if f.rule_id == PROMPTING} == {"error"}
    # what agents meet is not policy: the outcomes stay
    assert [n.gadgets for n in after.nodes] == [n.gadgets for n in before.nodes]


def test_a_disabled_rule_leaves_the_gadgets_it_judges_unknown(tmp_path) -> None:
    site = policy(tmp_path / "site", "overrides:\n  - rule: certificate-expired\n"
                  "    disabled: true\n    reason: we check expiry elsewhere\n")
    evaluation, _, _ = judged(load_ruleset([site]), "hygiene-expired-publisher")
    assert evaluation.verdict == "inconclusive"
    assert not any(f.rule_id == "certificate-expired" for f in evaluation.findings)
    publisher = evaluation.nodes[0]
    assert publisher.gadgets["finesse_desktop"].outcome == "unknown"
    assert {c.result for c in evaluation.checks if c.rule_id == "certificate-expired"} <= {
        "not_seen", "not_applicable"}
    said = " ".join(r for u in evaluation.unknowns for r in u.reasons)
    assert "disabled by site policy (we check expiry elsewhere)" in said


@st.composite
def overrides(draw):
    rules = draw(st.lists(st.sampled_from([r.id for r in BUILTIN.rules]), min_size=1,
                          max_size=6, unique=True))
    lines = ["overrides:"]
    for rule_id in rules:
        effects = BUILTIN.rule(rule_id).effects.values()
        allowed = ["error", "warning"] if any(
            o in ("prompt_accept_works", "prompt_accept_fails", "broken") for o in effects
        ) else ["error", "warning", "notice"]
        decision = draw(st.sampled_from([*(f"severity: {s}" for s in allowed),
                                         "disabled: true"]))
        lines += [f"  - rule: {rule_id}", f"    {decision}", "    reason: drawn"]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=overrides(), recording=st.sampled_from(RECORDINGS),
       phase=st.sampled_from(["pre", "post"]))
def test_no_override_gives_go_while_a_gadget_is_not_working(tmp_path_factory, body: str,
                                                             recording: str,
                                                             phase: str) -> None:
    site = policy(tmp_path_factory.mktemp("site"), body)
    facts = load_facts(FACTS / f"{recording}.json")
    try:
        chosen = settings_for(facts, phase=phase)
    except InputError:
        return  # a phase these facts cannot be judged in
    ruleset = load_ruleset([site])
    evaluation = evaluate(ruleset, facts, chosen)
    outcomes = {r.outcome for n in evaluation.nodes for r in n.gadgets.values()}
    if evaluation.verdict == "go":
        assert outcomes == {"works"}, (body, outcomes)
    before = evaluate(BUILTIN, facts, chosen)
    # an outcome only an error rule may give never vanishes: it stays, or is unknown
    for old, new in zip(before.nodes, evaluation.nodes, strict=True):
        for gadget, result in old.gadgets.items():
            if result.outcome in ("prompt_accept_fails", "broken"):
                assert new.gadgets[gadget].outcome in (result.outcome, "unknown"), body
    # and the audit it makes is one a reader accepts as judged from its own findings
    audit = build_audit(evaluation, facts, ruleset, chosen)
    assert audit_from_data(json.loads(audit_to_json(audit))).site_policy == ruleset.policy


# -- every format says it ----------------------------------------------------------------

def test_every_format_and_the_manifest_say_site_policy(tmp_path: Path) -> None:
    site = policy(tmp_path / "site", f"overrides:\n  - rule: {PROMPTING}\n"
                  "    severity: error\n    reason: agents may not click through prompts\n")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    out = tmp_path / "out"
    done = invoke("audit", "--inventory", inventory, "--from-pem",
                  downloads("row1-self-signed", tmp_path / "downloads"), "--phase", "post",
                  "--agent-trust", LAB / "agent-trust.pem", "--rules", site, "--out", out)
    assert done.returncode == 1, done.stderr  # no_go: the re-graded prompts are errors
    said = f"{PROMPTING} re-graded from warning to error: agents may not click through prompts"
    assert "Site policy" in done.stdout and said in done.stdout
    data = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    [entry] = data["site_policy"]
    assert entry["path"] == str(site / "overrides.yaml")
    assert entry["overrides"][0]["reason"] == "agents may not click through prompts"
    for name in ("report.md", "report.html", "junit.xml"):
        text = (out / name).read_text(encoding="utf-8")
        assert "site policy" in text.lower() and "agents may not click through prompts" in text
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    recorded = json.dumps(manifest)
    assert entry["sha256"] in recorded and "agents may not click through prompts" in recorded
    # report re-renders from audit.json, as does terminal evaluate of the same rules
    for fmt in ("md", "html", "junit"):
        again = invoke("report", out / "audit.json", "--format", fmt)
        assert again.returncode == 1 and "site policy" in again.stdout.lower(), again.stderr


def test_an_audit_without_site_policy_still_loads(tmp_path: Path) -> None:
    evaluation, facts, chosen = judged(BUILTIN, "row3-ec-signed-ecdsa")
    data = json.loads(audit_to_json(build_audit(evaluation, facts, BUILTIN, chosen)))
    del data["site_policy"]  # as written before site policy existed
    assert audit_from_data(data).site_policy == ()
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    done = invoke("report", path, "--format", "md")
    assert done.returncode == 0 and "site policy" not in done.stdout.lower(), done.stderr


def test_the_policy_file_is_read_once_and_its_hash_is_of_what_was_checked(
        tmp_path: Path, monkeypatch) -> None:
    """Parsed and hashed from one read: a file changed between two reads could be applied
    under the hash of another."""
    import hashlib

    from auditor.common import inputs
    from auditor.evaluate import overrides as overrides_module

    site = policy(tmp_path / "site", "overrides:\n  - rule: chain-out-of-order\n"
                  "    severity: error\n    reason: the desk wants it\n")
    reads: list[str] = []
    real = inputs.read_input

    def counted(path, kind, **options):
        reads.append(Path(path).name)
        return real(path, kind, **options)

    monkeypatch.setattr(inputs, "read_input", counted)
    monkeypatch.setattr(overrides_module, "read_input", counted)
    ruleset = load_ruleset([site])
    assert reads.count("overrides.yaml") == 1
    (recorded,) = ruleset.policy
    assert recorded.sha256 == hashlib.sha256(
        (site / "overrides.yaml").read_bytes()).hexdigest()
