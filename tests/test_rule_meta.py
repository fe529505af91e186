"""Meta-tests over the whole rule set, as zlint's registration test and pkilint's report
tests do: IDs, metadata, citations, fixtures, remediation references, the catalogue."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from rule_cases import CASES, KINDS, Case, OneFileCase, discover, one_file_cases

from auditor.common.errors import InputError
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.render.catalogue import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
RULES = load_ruleset()
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
#: The sources docs/domain.md names; a citation must point at one of them.
SOURCES = re.compile(
    r"^(Cisco (210528|118855|200651|200423|201000|214607)|CSCvb58580|CSCvb46250"
    r"|UCCX administration guide|UCCX 11\.5 port utilization guide"
    r"|CCP 12\.5\(1\)SU1 port utilization guide|UCCX 12\.5\(1\)SU3 release notes"
    r"|RFC (5246|8446|5280)|CA/Browser Forum Baseline Requirements)$")


def missing_fixtures(rules: RuleSet, cases: list[Case | OneFileCase]) -> dict[str, list[str]]:
    """For each rule, the kinds of fixture (fires, passes) it lacks."""
    have = Counter((c.rule_id, c.kind) for c in cases)
    missing = {r.id: [k for k in KINDS if not have[(r.id, k)]] for r in rules.rules}
    return {rule: kinds for rule, kinds in missing.items() if kinds}


def test_rule_ids_are_unique_and_each_is_its_file_stem() -> None:
    stems = [p.stem for p in (ROOT / "rules").glob("*.yaml") if p.name != "solution.yaml"]
    assert len(stems) == len(RULES.rules)
    assert Counter(s.lower() for s in stems).most_common(1)[0][1] == 1
    assert sorted(stems) == [r.id for r in RULES.rules]


def test_rule_ids_have_the_documented_format() -> None:
    bad = [r.id for r in RULES.rules if not RULE_ID.match(r.id) or len(r.id) > 64]
    assert bad == []


def _mutated(tmp_path: Path, name: str, old: str, new: str, *, rename: str | None = None
             ) -> Path:
    """A copy of the built-in rules with one file changed (and perhaps renamed)."""
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    path = folder / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1))
    if rename:
        path.rename(path.with_name(rename))
    return folder


#: What the meta-tests above rely on the loader to refuse, fed to it: (file, text, its
#: replacement, a new file name or None, what the error must say).
BAD_RULES = [
    ("certificate-expired.yaml", "id: certificate-expired", "id: certificate-expires",
     None, "differs from the file name"),
    ("certificate-expired.yaml", "id: certificate-expired", "id: Certificate_Expired",
     "Certificate_Expired.yaml", "has the wrong form"),
    ("certificate-expired.yaml", "remediation: [renew-certificate]",
     "remediation: [renew-the-moon]", None, "unknown remediation 'renew-the-moon'"),
    ("rsa-signed-tomcat-ecdsa-breaks-socialminer.yaml", "severity: error",
     "severity: warning", None, "but the rule makes chat_email broken"),
    ("playbooks/add-certificates-to-agent-trust-stores.yaml", "steps:\n", "steps: []\nx:\n",
     None, "steps: too short"),
]


@pytest.mark.parametrize("name, old, new, rename, says", BAD_RULES,
                         ids=[f"{i}-{b[0].split('/')[-1]}" for i, b in enumerate(BAD_RULES)])
def test_the_loader_refuses_what_the_meta_tests_forbid(tmp_path: Path, name: str, old: str,
                                                       new: str, rename: str | None,
                                                       says: str) -> None:
    folder = _mutated(tmp_path, name, old, new, rename=rename)
    with pytest.raises(InputError) as caught:
        load_ruleset(builtin=folder)
    assert says in str(caught.value), str(caught.value)


def test_every_rule_has_its_metadata_and_a_message_with_what_and_why() -> None:
    for rule in RULES.rules:
        assert len(rule.title) >= 10 and not rule.title.endswith("."), rule.id
        assert len(rule.description.split()) >= 15, rule.id
        assert len(rule.message.split()) >= 15, rule.id
        assert rule.citations, rule.id


def test_every_citation_names_a_source_from_the_domain_brief() -> None:
    cited = [(owner.id, c.source) for owner in (*RULES.rules, *RULES.playbooks.values())
             for c in owner.citations]
    assert [item for item in cited if not SOURCES.match(item[1])] == []


def test_every_rule_has_a_firing_and_a_passing_fixture() -> None:
    assert missing_fixtures(RULES, [*discover(), *one_file_cases()]) == {}


def test_the_fixture_check_notices_a_rule_without_a_passing_fixture(tmp_path: Path) -> None:
    only = tmp_path / "certificate-expired"
    only.mkdir()
    source = CASES / "certificate-expired" / "fires-expired-tomcat.yaml"
    (only / source.name).write_text(source.read_text())
    missing = missing_fixtures(RULES, discover(tmp_path))
    assert missing["certificate-expired"] == ["passes"]
    assert missing["certificate-sha1-signature"] == ["fires", "passes"]


def test_every_fixture_folder_names_a_rule_and_every_case_file_a_kind() -> None:
    ids = {r.id for r in RULES.rules}
    everything = [*discover(), *one_file_cases()]
    assert sorted({c.rule_id for c in everything} - ids) == []
    assert [c.path.name for c in everything if c.kind not in KINDS] == []


def test_every_remediation_reference_resolves_and_every_playbook_is_used() -> None:
    referenced = {p for r in RULES.rules for p in r.remediation}
    assert referenced <= set(RULES.playbooks)
    assert set(RULES.playbooks) - referenced == set()


def test_rules_that_break_a_gadget_or_make_accepting_fail_are_errors() -> None:
    for rule in RULES.rules:
        if {"broken", "prompt_accept_fails"} & set(rule.effects.values()):
            assert rule.severity == "error", rule.id


def test_every_playbook_is_ordered_steps_that_end_with_running_the_audit_again() -> None:
    for playbook in RULES.playbooks.values():
        assert len(playbook.steps) >= 1
        assert "uccx-audit" in playbook.verify.do, playbook.id


def test_no_rule_or_playbook_names_a_cop_file() -> None:
    """docs/domain.md: no source gives the COP file names, so none may be hard-coded."""
    for path in (ROOT / "rules").rglob("*.yaml"):
        assert not re.search(r"\.cop(\.sgn)?\b", path.read_text(), re.I), path


def test_messages_leave_no_placeholder_unfilled() -> None:
    for case in discover():
        for finding in case.run(RULES).findings:
            assert "{" not in finding.message and "}" not in finding.message, case.id
            assert " unknown" not in finding.message, (case.id, finding.message)


def test_the_catalogue_in_the_repository_is_generated_from_the_rule_files() -> None:
    committed = (ROOT / "rules" / "CATALOGUE.md").read_text(encoding="utf-8")
    assert committed == rules_markdown(RULES), (
        "rules/CATALOGUE.md is stale: uccx-audit rules --format md > rules/CATALOGUE.md")
