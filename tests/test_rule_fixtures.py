"""Each rule's fixtures: recorded facts beside the exact findings and gadget outcomes.

As in pkilint, the findings are compared as sets (multisets: a finding twice is not the
same as once), so an unexpected finding fails as surely as a missing one.
"""

from __future__ import annotations

import pytest
from rule_cases import (
    EXPECTED,
    FACTS,
    KINDS,
    OPTIONS,
    Case,
    discover,
    expected_name,
    finding_keys,
    gadget_outcomes,
    one_file_cases,
)

from auditor.common.validation import load_yaml
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.model.facts import facts_to_json, load_facts

ALL_CASES = discover()


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


def test_cases_are_discovered() -> None:
    assert len(ALL_CASES) + len(one_file_cases()) >= 2 * len(load_ruleset().rules)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_case_gives_exactly_the_expected_findings_and_outcomes(case: Case,
                                                                rules: RuleSet) -> None:
    assert case.kind in KINDS, f"{case.path.name}: name it fires-*.yaml or passes-*.yaml"
    evaluation = case.run(rules)
    got, expected = finding_keys(evaluation), case.expected_findings()
    assert got == expected, (f"unexpected: {sorted((got - expected).elements())}; "
                             f"missing: {sorted((expected - got).elements())}")
    assert gadget_outcomes(evaluation) == case.expected_gadgets()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_fires_case_fires_its_rule_and_passes_case_does_not(case: Case) -> None:
    fired = {rule for rule, _, _ in case.expected_findings()}
    if case.kind == "fires":
        assert case.rule_id in fired
    else:
        assert case.rule_id not in fired


@pytest.mark.parametrize("name", sorted(p.stem for p in FACTS.glob("*.json")))
def test_recorded_facts_validate_round_trip_and_serve_a_case(name: str) -> None:
    path = FACTS / f"{name}.json"
    facts = load_facts(path)  # checked against the facts schema
    assert facts_to_json(facts) == path.read_text(encoding="utf-8")
    assert name in {c.data["facts"] for c in ALL_CASES}, f"{path.name} serves no case"


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_a_case_names_facts_and_options_only(case: Case) -> None:
    """What the engine gives is written once, in fixtures/expected/, never in a case."""
    assert set(case.data) <= {"facts", "phase", *OPTIONS}, case.path
    assert case.expected_path.is_file(), f"{case.path}: no {case.expected_path.name}"


@pytest.mark.parametrize("path", sorted(EXPECTED.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_expected_file_is_its_facts_phase_and_options_and_serves_a_case(path) -> None:
    data, _ = load_yaml(path)
    assert expected_name(data) == path.stem
    assert path.stem in {c.expected_path.stem for c in ALL_CASES}, f"{path.name} serves no case"

