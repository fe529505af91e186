"""The rule language says what it means: ``requires:`` alone decides when a rule did not
look, conditions see facts only (prose lives under ``text.``), and ``matches`` is a
bounded glob that never raises or runs away on a hostile certificate field."""

from __future__ import annotations

import fnmatch
import functools
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.evaluate.conditions import (
    MAX_PATTERN,
    MAX_SUBJECT,
    OPERATORS,
    glob_match,
    glob_segments,
    render,
)
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.evaluate.view import TEXTS, build_views, evidence_for, fields_for, is_prose
from auditor.model.facts import load_facts

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
PUB = "uccx-pub.lab.uccx.example"

RULE = """\
id: site-language-probe
title: A site rule used by the rule language tests
description: >
  A rule written by the rule language tests, to show what requires, facts and prose
  mean to the loader and the engine.
severity: warning
scope: {scope}
applies_to:
  phases: [pre, post]
  roles: [uccx-publisher]
{requires}when:
  {when}
effects:
  live_data: prompt_accept_works
message: >
  {message}
citations:
  - source: Cisco 210528
remediation: [agents-accept-once]
"""


def _write(folder: Path, *, scope: str = "node", requires: str | None = None,
           when: str = "{fact: node.role, equals: socialminer}",
           message: str = "{node.host} is judged by a site rule.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site-language-probe.yaml"
    path.write_text(RULE.format(scope=scope, when=when, message=message,
                                requires="" if requires is None else f"requires: {requires}\n"),
                    encoding="utf-8")
    return path


def _refused(folder: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_ruleset([folder])
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def _check(folder: Path, facts: str = "row4-publisher-live-data-refused") -> str:
    loaded = load_facts(FACTS / f"{facts}.json")
    evaluation = evaluate(load_ruleset([folder]), loaded, make_settings(
        loaded.version, loaded.observed_at, phase="post"))
    return next(c.result for c in evaluation.checks
                if c.rule_id == "site-language-probe" and c.node == PUB)


# -- requires ---------------------------------------------------------------------------

def test_every_built_in_rule_states_what_it_requires() -> None:
    rules = load_ruleset().rules
    assert len(rules) > 40
    missing = [r.id for r in rules if "requires" not in r.data]
    assert missing == []


def test_requires_alone_makes_a_rule_not_seen(tmp_path: Path) -> None:
    """The condition never mentions Live Data; requiring it is what makes the rule blind
    where Live Data was not reached, and nothing else."""
    _write(tmp_path / "a", requires="[node.services.live_data.browser]")
    assert _check(tmp_path / "a") == "not_seen"
    _write(tmp_path / "b", requires="[node.services.finesse.browser]")
    assert _check(tmp_path / "b") == "passed"


def test_a_reachability_test_in_the_condition_means_nothing_more(tmp_path: Path) -> None:
    """``{fact: ….reachable, equals: true}`` is a test like any other: with requires
    naming nothing, the rule answered."""
    _write(tmp_path / "a", requires="[]", when="{fact: node.services.live_data.reachable, "
           "equals: true}")
    assert _check(tmp_path / "a") == "passed"


def test_without_requires_a_rule_requires_what_it_reads(tmp_path: Path) -> None:
    _write(tmp_path / "a", when="{fact: node.services.live_data.port, equals: 1}")
    assert _check(tmp_path / "a") == "not_seen"


@pytest.mark.parametrize(("requires", "when", "expected"), [
    ("[node.services.nowhere.browser]", None, "one of: node.services."),
    ("[node.tomcat.state, node.tomcat.state]", None, "named twice"),
    ("[]", "{fact: node.tomcat_ecdsa.state, equals: self_signed}",
     "requires: [node.tomcat_ecdsa.state]"),
    ("[endpoint.browser]", None, "one of: node.services."),
])
def test_the_loader_checks_every_entry(tmp_path: Path, requires: str, when: str | None,
                                       expected: str) -> None:
    path = _write(tmp_path / "site", requires=requires,
                  **({"when": when} if when else {}))
    message = _refused(tmp_path / "site")
    assert str(path) in message and "requires" in message and expected in message
    assert re.search(r"\.yaml:\d+:", message)


def test_an_endpoint_rule_reading_its_browser_view_must_require_it(tmp_path: Path) -> None:
    _write(tmp_path / "site", scope="endpoint", requires="[]",
           when="{fact: endpoint.browser.self_signed, equals: true}")
    assert "requires: [endpoint.browser]" in _refused(tmp_path / "site")


def test_what_a_rule_may_require_is_scoped() -> None:
    assert "endpoint.browser" in evidence_for("endpoint")
    assert "endpoint.browser" not in evidence_for("node")
    assert "node.tomcat_ecdsa.state" in evidence_for("certificate")


# -- facts and prose ----------------------------------------------------------------------

@pytest.mark.parametrize("field", ["node.role_title", "text.node.role_title",
                                   "node.tomcat.state_words"])
def test_a_condition_cannot_name_prose(tmp_path: Path, field: str) -> None:
    path = _write(tmp_path / "site", when=f"{{fact: {field}, equals: x}}")
    message = _refused(tmp_path / "site")
    assert f"{path}:" in message and "when.fact" in message and "facts only" in message


def test_a_message_names_prose_under_text_and_facts_as_they_are(tmp_path: Path) -> None:
    _write(tmp_path / "a", message="{node.host} is a {text.node.role_title}.")
    load_ruleset([tmp_path / "a"])
    _write(tmp_path / "b", message="{node.host} is a {node.role_title}.")
    assert "{text.node.role_title}" in _refused(tmp_path / "b")
    _write(tmp_path / "c", message="{node.host} is a {text.node.host}.")
    message = _refused(tmp_path / "c")
    assert "unknown placeholder {text.node.host}" in message and "message" in message


def test_no_rule_sees_prose() -> None:
    for scope in ("node", "endpoint", "certificate"):
        seen = fields_for(scope)
        assert seen and not any(is_prose(f) for f in seen)
    assert "text.endpoint.browser.description" in TEXTS
    assert "endpoint.tls_alert" in fields_for("endpoint")
    view = {"node": {"role_title": "UCCX publisher"}}
    assert render("{text.node.role_title}", view) == render("{node.role_title}", view)


# -- matches ------------------------------------------------------------------------------

def _reference(pattern: str, text: str) -> bool:
    """The same glob as a regular expression (only for the small alphabet below)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, text, re.DOTALL) is not None


@given(pattern=st.text("ab*?", min_size=1, max_size=12), text=st.text("abc", max_size=16))
def test_matches_agrees_with_a_plain_glob(pattern: str, text: str) -> None:
    segments = glob_segments(pattern)
    assert segments is not None
    assert glob_match(segments, text) == _reference(pattern, text)
    assert glob_match(segments, text) == fnmatch.fnmatchcase(text, pattern)


@settings(max_examples=300)
@given(pattern=st.text(max_size=MAX_PATTERN + 8), fact=st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=600),
    st.lists(st.text(max_size=50), max_size=5)))
def test_matches_never_raises_on_hostile_input(pattern: str, fact: object) -> None:
    operator = OPERATORS["matches"]
    accepted = operator.check(pattern)
    assert accepted == (glob_segments(pattern) is not None)
    assert operator.apply(fact, pattern) in (True, False)
    if not accepted:
        assert operator.apply(fact, pattern) is False


def test_matches_has_no_catastrophic_case() -> None:
    """The patterns that make a backtracking matcher run for ages finish here: each
    segment is placed once, at its leftmost fit."""
    text = "a" * MAX_SUBJECT
    for pattern in ["*a" * (MAX_PATTERN // 2 - 1) + "b", "*a?" * ((MAX_PATTERN - 2) // 3) + "*b",
                    ("a*" * (MAX_PATTERN // 2))[:-1] + "c"]:
        assert len(pattern) <= MAX_PATTERN
        segments = glob_segments(pattern)
        assert segments is not None
        assert glob_match(segments, text) is False
    assert glob_match(glob_segments("*a"), "a" * (MAX_SUBJECT + 1)) is False


@pytest.mark.parametrize("pattern", ["", "x" * (MAX_PATTERN + 1), "a\\b", "trailing\\", 7])
def test_the_loader_refuses_an_unbounded_or_broken_pattern(tmp_path: Path,
                                                           pattern: object) -> None:
    _write(tmp_path / "site", when=f"{{fact: node.host, matches: {pattern!r}}}".replace(
        "'", '"') if isinstance(pattern, str) else f"{{fact: node.host, matches: {pattern}}}")
    message = _refused(tmp_path / "site")
    assert "when.matches" in message and "pattern of at most" in message


def test_matches_takes_no_fact_as_its_pattern(tmp_path: Path) -> None:
    _write(tmp_path / "site", when="{fact: node.host, matches: {fact: node.role}}")
    assert "when.matches" in _refused(tmp_path / "site")


def test_an_issuer_is_our_ca(tmp_path: Path) -> None:
    """The use the operator is for: a certificate rule that names its CA by pattern."""
    escaped = glob_segments("CN=\\*.example.com")
    assert escaped is not None and glob_match(escaped, "CN=*.example.com")
    assert not glob_match(escaped, "CN=a.example.com")
    _write(tmp_path / "site", scope="certificate", requires="[]",
           when="{fact: certificate.issuer, matches: \"*CN=*Lab*\"}")
    loaded = load_facts(FACTS / "row4-publisher-live-data-refused.json")
    evaluation = evaluate(load_ruleset([tmp_path / "site"]), loaded, make_settings(
        loaded.version, loaded.observed_at, phase="post"))
    fired = {f.subject.key for f in evaluation.findings
             if f.rule_id == "site-language-probe"}
    # the publisher presents certificates the lab's CAs issued
    assert fired and all(fired)
    _write(tmp_path / "other", scope="certificate", requires="[]",
           when="{fact: certificate.issuer, matches: \"CN=Other*\"}")
    evaluation = evaluate(load_ruleset([tmp_path / "other"]), loaded, make_settings(
        loaded.version, loaded.observed_at, phase="post"))
    assert not [f for f in evaluation.findings if f.rule_id == "site-language-probe"]


# -- requires, as a property --------------------------------------------------------------

_ENDPOINTS = sorted(e for e in evidence_for("node") if e.endswith(".browser"))
_RECORDED = sorted(p.stem for p in FACTS.glob("*.json"))


@functools.cache
def _views(name: str, phase: str) -> tuple[Any, Any] | None:
    loaded = load_facts(FACTS / f"{name}.json")
    try:  # the pre phase needs facts recorded before the target version
        return loaded, make_settings(loaded.version, loaded.observed_at, phase=phase)
    except InputError:
        return None


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(_RECORDED), phase=st.sampled_from(["pre", "post"]),
       required=st.lists(st.sampled_from(_ENDPOINTS), unique=True, max_size=3))
def test_a_rule_that_did_not_fire_is_not_seen_exactly_where_what_it_requires_is_missing(
        name: str, phase: str, required: list[str]) -> None:
    """Whatever the facts and whatever endpoints a rule requires: a check that did not fire
    is ``not_seen`` on a node exactly where one of them gave no browser a certificate, and
    ``passed`` where all did. The condition never fires and reads nothing it requires."""
    inputs = _views(name, phase)
    assume(inputs is not None)
    assert inputs is not None
    loaded, settings_ = inputs
    with tempfile.TemporaryDirectory() as folder:
        _write(Path(folder) / "site", requires=f"[{', '.join(required)}]")
        evaluation = evaluate(load_ruleset([Path(folder) / "site"]), loaded, settings_)
    views = {n.host: n for n in build_views(loaded, settings_).nodes}
    for check in evaluation.checks:
        if check.rule_id != "site-language-probe" or check.result == "not_applicable":
            continue
        services = views[check.node].node["services"]
        missing = [e for e in required
                   if not (services.get(e.split(".")[2]) or {}).get("reachable")]
        assert check.result == ("not_seen" if missing else "passed"), (check, missing)
