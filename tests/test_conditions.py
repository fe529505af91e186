"""The condition language: a closed table of operators, facts looked up, nothing evaluated."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.common.errors import InputError
from auditor.evaluate.conditions import OPERATORS, Compiler, Condition, lookup, render

VIEW = {
    "node": {"role": "uccx-publisher", "port": 8445, "names": ["a.example", "b.example"],
             "missing": None, "version": "11.5(1)SU1", "same_role": "uccx-publisher",
             "hosts": ["b.example", "c.example"], "flag": True},
}
FIELDS = [f"node.{k}" for k in VIEW["node"]]

#: (test, holds) -- at least one true and one false case for every operator.
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"fact": "node.role", "equals": "uccx-publisher"}, True),
    ({"fact": "node.role", "equals": "socialminer"}, False),
    ({"fact": "node.flag", "equals": True}, True),
    ({"fact": "node.role", "not_equals": "socialminer"}, True),
    ({"fact": "node.role", "not_equals": "uccx-publisher"}, False),
    ({"fact": "node.role", "in": ["socialminer", "uccx-publisher"]}, True),
    ({"fact": "node.role", "in": ["socialminer"]}, False),
    ({"fact": "node.role", "not_in": ["socialminer"]}, True),
    ({"fact": "node.role", "not_in": ["uccx-publisher"]}, False),
    ({"fact": "node.port", "less_than": 8446}, True),
    ({"fact": "node.port", "less_than": 8445}, False),
    ({"fact": "node.port", "at_most": 8445}, True),
    ({"fact": "node.port", "at_most": 8444}, False),
    ({"fact": "node.port", "greater_than": 8444}, True),
    ({"fact": "node.port", "greater_than": 8445}, False),
    ({"fact": "node.port", "at_least": 8445}, True),
    ({"fact": "node.port", "at_least": 8446}, False),
    ({"fact": "node.names", "contains": "a.example"}, True),
    ({"fact": "node.names", "contains": "c.example"}, False),
    ({"fact": "node.names", "intersects": ["c.example", "b.example"]}, True),
    ({"fact": "node.names", "intersects": ["c.example"]}, False),
    ({"fact": "node.names", "beyond": ["a.example"]}, True),
    ({"fact": "node.names", "beyond": ["a.example", "b.example"]}, False),
    ({"fact": "node.names", "intersects": {"fact": "node.hosts"}}, True),
    ({"fact": "node.role", "exists": True}, True),
    ({"fact": "node.missing", "exists": True}, False),
    ({"fact": "node.missing", "exists": False}, True),
    ({"fact": "node.version", "version_below": "11.6"}, True),
    ({"fact": "node.version", "version_below": "11.5(1)"}, False),
    ({"fact": "node.version", "version_at_least": "11.5"}, True),
    ({"fact": "node.version", "version_at_least": "12.0"}, False),
    ({"fact": "node.role", "equals": {"fact": "node.same_role"}}, True),
    ({"fact": "node.role", "matches": "uccx-*"}, True),
    ({"fact": "node.role", "matches": "uccx-"}, False),
    ({"fact": "node.names", "matches": "?.example"}, True),
    ({"fact": "node.port", "matches": "8445"}, False),
    ({"all": [{"fact": "node.flag", "equals": True}, {"fact": "node.port", "equals": 8445}]},
     True),
    ({"all": [{"fact": "node.flag", "equals": True}, {"fact": "node.port", "equals": 1}]},
     False),
    ({"any": [{"fact": "node.flag", "equals": False}, {"fact": "node.port", "equals": 8445}]},
     True),
    ({"any": [{"fact": "node.flag", "equals": False}, {"fact": "node.port", "equals": 1}]},
     False),
    ({"not": {"fact": "node.flag", "equals": False}}, True),
    ({"not": {"fact": "node.flag", "equals": True}}, False),
]


def compile_(condition: Any, fields: list[str] = FIELDS) -> Condition:
    compiler = Compiler(path="rule.yaml", locate=lambda path: 7, fields=fields,
                        field_hint="(test)")
    return compiler.compile(condition, ["when"])


@pytest.mark.parametrize(("test", "holds"), CASES, ids=str)
def test_operator_semantics(test: dict[str, Any], holds: bool) -> None:
    assert compile_(test).holds(VIEW) is holds


def test_every_operator_in_the_table_is_tested_both_ways() -> None:
    def used(condition: dict[str, Any]) -> set[str]:
        if "fact" in condition:
            return {k for k in condition if k != "fact"}
        return set().union(*(used(c) for c in condition.get("all", condition.get("any", [])))) \
            if "not" not in condition else used(condition["not"])
    seen = {(op, holds) for test, holds in CASES for op in used(test)}
    assert {(op, h) for op in OPERATORS for h in (True, False)} <= seen


@pytest.mark.parametrize("operator", sorted(set(OPERATORS) - {"exists"}))
def test_a_missing_fact_makes_every_test_false(operator: str) -> None:
    value = {"in": ["x"], "not_in": ["x"], "intersects": ["x"], "beyond": ["x"], "contains": "x",
             "version_below": "11.6", "version_at_least": "11.5",
             "matches": "*"}.get(operator, 1)
    assert compile_({"fact": "node.missing", operator: value}).holds(VIEW) is False


def test_comparisons_need_numbers_and_versions_need_versions() -> None:
    assert compile_({"fact": "node.role", "less_than": 3}).holds(VIEW) is False
    assert compile_({"fact": "node.flag", "at_least": 0}).holds(VIEW) is False  # not a number
    assert compile_({"fact": "node.role", "version_below": "12.0"}).holds(VIEW) is False


def test_a_value_that_looks_like_code_is_only_a_value() -> None:
    test = compile_({"fact": "node.role", "equals": "__import__('os').system('true')"})
    assert test.holds(VIEW) is False


@pytest.mark.parametrize(("condition", "message"), [
    ({"fact": "node.role", "equal": "x"}, "when.equal: unknown operator 'equal'"),
    ({"fact": "node.rol", "equals": "x"}, "unknown fact 'node.rol' (expected node.role;"),
    ({"fact": "__import__('os')", "equals": "x"}, "unknown fact \"__import__('os')\""),
    ({"fact": "node.role"}, "when.fact: a test needs an operator"),
    ({"fact": "node.port", "less_than": "8445"}, "'8445' does not suit less_than"),
    ({"fact": "node.role", "in": "uccx-publisher"}, "does not suit in (expected a list"),
    ({"fact": "node.role", "in": [["nested"]]}, "list items must be texts or numbers"),
    ({"fact": "node.version", "version_below": "eleven"}, "does not suit version_below"),
    ({"fact": "node.role", "exists": {"fact": "node.port"}}, "may only be {fact: PATH}"),
    ({"fact": "node.role", "equals": {"fact": "node.nope"}}, "unknown fact 'node.nope'"),
    ({"all": []}, "when.all: all needs a non-empty list of conditions"),
    ({"any": {"fact": "node.role", "equals": "x"}}, "any needs a non-empty list"),
    ({"not": [1]}, "when.not: a condition must be a mapping"),
    ("node.role == 'x'", "when: a condition must be a mapping"),
    ({"role": "x"}, "when.role: unknown operator 'role' (expected one of: all, any, not, fact)"),
])
def test_compile_errors_name_file_line_field_and_what_is_allowed(condition: Any,
                                                                message: str) -> None:
    with pytest.raises(InputError) as caught:
        compile_(condition)
    text = str(caught.value)
    assert text.startswith("rule.yaml:7: ") and message in text and "\n" not in text


def test_lookup_walks_nested_mappings_and_stops_at_anything_else() -> None:
    assert lookup(VIEW, "node.port") == 8445
    assert lookup(VIEW, "node.port.deeper") is None
    assert lookup(VIEW, "node.absent") is None


def test_render_fills_placeholders_in_words() -> None:
    text = render("{node.role} on {node.port}: {node.names}; {node.flag}; {node.missing}.\n "
                  " end", VIEW)
    assert text == "uccx-publisher on 8445: a.example, b.example; yes; unknown. end"


def test_text_shows_the_condition_in_one_line() -> None:
    condition = compile_({"all": [{"fact": "node.flag", "equals": True},
                                  {"any": [{"fact": "node.port", "less_than": 10},
                                           {"not": {"fact": "node.role",
                                                    "in": ["socialminer"]}}]}]})
    assert condition.text() == ('node.flag equals true and (node.port less_than 10 or '
                                'not node.role in ["socialminer"])')
    assert condition.facts() == ["node.flag", "node.port", "node.role"]
