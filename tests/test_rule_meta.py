"""Meta-tests over the whole rule set, as zlint's registration test and pkilint's report
tests do: IDs, metadata, citations, fixtures, remediation references, the catalogue."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import CASES, KINDS, Case, OneFileCase, discover, one_file_cases

from auditor.common.errors import InputError
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.render.catalogue import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
RULES = load_ruleset()
#: The sources a citation may name: the solution map's list, held to docs/domain.md below.
SOURCES = [source.source for source in RULES.solution.sources]


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


def _sources_section() -> str:
    text = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    return text[text.index("\n## Sources\n"):]


def test_the_allowed_sources_are_exactly_those_the_domain_brief_lists() -> None:
    section = " ".join(_sources_section().split())
    # each source of the map, by the words the brief's Sources section names it with
    assert [s.named for s in RULES.solution.sources if s.named not in section] == []
    # and every document or defect number that section names is a source of the map
    numbers = set(re.findall(r"\b(?:\d{6}|CSC[a-z]{2}\d{5}|RFC \d{4})\b", section))
    assert {n for n in numbers if not any(n in s.source for s in RULES.solution.sources)} \
        == set()


@pytest.mark.parametrize("owner", [*RULES.rules, *RULES.playbooks.values()],
                         ids=lambda o: o.id)
def test_every_citation_names_a_listed_source_once(owner: object) -> None:
    sources = [c.source for c in owner.citations]  # type: ignore[attr-defined]
    assert [s for s in sources if s not in SOURCES] == []
    assert sorted(s for s, n in Counter(sources).items() if n > 1) == []


#: The rule and playbook files, and what a mutation of their citations must be refused for.
_CITING = sorted(p.relative_to(ROOT / "rules").as_posix()
                 for p in [*(ROOT / "rules").glob("*.yaml"),
                           *(ROOT / "rules" / "playbooks").glob("*.yaml")]
                 if p.name != "solution.yaml")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_CITING), duplicate=st.booleans(),
       source=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABC0123456789()."),
                      min_size=1, max_size=40).map(str.strip).filter(
                          lambda t: len(t) >= 3 and t not in SOURCES))
def test_the_loader_refuses_an_unlisted_or_repeated_citation(
        tmp_path_factory: pytest.TempPathFactory, name: str, duplicate: bool,
        source: str) -> None:
    """Any built-in rule or playbook: a second citation of a source it cites already, or a
    citation of a source the brief does not list, stops the load with file, line and field."""
    folder = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(ROOT / "rules", folder)
    path = folder / name
    text = path.read_text()
    first = re.search(r"^citations:\n  - (?:\{source: ([^,}]+)|source: (.+))$", text, re.M)
    assert first, name
    cited = (first.group(1) or first.group(2)).strip().strip('"')
    added = json.dumps(cited if duplicate else source)
    path.write_text(text.replace("citations:\n", f"citations:\n  - source: {added}\n", 1))
    with pytest.raises(InputError) as caught:
        load_ruleset(builtin=folder)
    said = str(caught.value)
    assert name.split("/")[-1] in said and "citations[" in said and ".source" in said, said
    assert ("cited twice" if duplicate else "is not a source the domain brief lists") in said


def test_a_site_rule_may_cite_its_own_runbook(tmp_path: Path) -> None:
    """Only the built-in citations are held to the brief's list; a repeated one is refused
    everywhere."""
    site = tmp_path / "site"
    site.mkdir()
    text = (ROOT / "rules" / "certificate-expired.yaml").read_text()
    text = text.replace("id: certificate-expired", "id: site-certificate-expired")
    text = re.sub(r"^citations:\n(?:  .*\n)*", "citations:\n  - source: Site PKI runbook\n",
                  text, flags=re.M)
    (site / "site-certificate-expired.yaml").write_text(text)
    assert "site-certificate-expired" in load_ruleset([site]).site_rules
    (site / "site-certificate-expired.yaml").write_text(text.replace(
        "citations:\n", "citations:\n  - source: Site PKI runbook\n", 1))
    with pytest.raises(InputError, match="cited twice"):
        load_ruleset([site])


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
