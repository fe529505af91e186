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


#: What the loader refuses, so that no meta-test repeats it, fed to it: (file, text, its
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
    ("playbooks/add-certificates-to-agent-trust-stores.yaml", "    uccx-audit (with",
     "    the audit (with", None, "verify.do: does not say how to run the audit again"),
    ("certificate-expired.yaml", "id: certificate-expired", "id: " + "x-" * 40 + "y",
     "x-" * 40 + "y.yaml", "id: too short or too long (maxLength 64)"),
    ("certificate-expired.yaml", "citations:\n", "citations: []\nx:\n", None,
     "citations: too short or too long (minItems 1)"),
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
    # the lengths in characters, and at least one citation, are the schema's (BAD_RULES);
    # in words, and a title with no full stop, are checked only here
    for rule in RULES.rules:
        assert not rule.title.endswith("."), rule.id
        assert len(rule.description.split()) >= 15, rule.id
        assert len(rule.message.split()) >= 15, rule.id


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


def test_every_playbook_is_used() -> None:
    # (that every reference resolves is the loader's: see BAD_RULES)
    referenced = {p for r in RULES.rules for p in r.remediation}
    assert set(RULES.playbooks) - referenced == set()


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
