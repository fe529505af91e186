"""Property tests: every input either loads or fails with the project's own clear error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.certs import read_certificates
from auditor.collect.inventory import load_inventory, parse_inventory
from auditor.common.errors import InputError
from auditor.lab import pki
from auditor.model.facts import facts_from_data, facts_to_json

pytestmark = pytest.mark.slow

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)

INVENTORY_KEYS = st.sampled_from(["cluster", "version", "nodes", "host", "role", "address",
                                  "ports", "declared", "finesse", "web", "cop_installed"])
inventory_like = st.recursive(
    st.one_of(scalars, st.sampled_from(["uccx-publisher", "socialminer", "11.5(1)",
                                        "a.example"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(INVENTORY_KEYS, inner, max_size=5)),
    max_leaves=25)


def _only_input_errors(call) -> None:
    try:
        call()
    except InputError as exc:
        assert str(exc), "an error must say something"


@FAST
@given(text=st.text(max_size=300))
def test_inventory_text_loads_or_fails_clearly(tmp_path_factory, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("inv")) / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    _only_input_errors(lambda: load_inventory(path))


@FAST
@given(data=inventory_like)
def test_inventory_structures_load_or_fail_clearly(data) -> None:
    _only_input_errors(lambda: parse_inventory(data, path="x.yaml"))


@pytest.fixture(scope="module")
def valid_facts() -> dict:
    from auditor.collect.collect import probe_inventory
    from auditor.collect.inventory import load_inventory as load
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.trust import load_agent_trust
    from auditor.lab import Lab

    with Lab("row2-rsa-signed-ecdsa") as lab:
        facts = probe_inventory(load(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions())
    return json.loads(facts_to_json(facts))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


#: What a JSON file can hold that JSON cannot write back: NaN, infinities (also a number
#: too large for a float), lone surrogates (in values and in keys).
hostile_values = st.sampled_from([float("nan"), float("inf"), -float("inf"), "\ud800",
                                  "a\udfffb", {"\udc80": 1}])


def _pick_path(document, data, keep) -> tuple:
    """A field of ``document``, chosen level by level, so that a list of thousands of
    similar items (an audit's checks) is not chosen a thousand times more often than a
    single field beside it."""
    path: tuple = ()
    value = document
    while True:
        keys = (list(value) if isinstance(value, dict) else list(range(len(value)))
                if isinstance(value, list) else [])
        keys = [k for k in keys if keep((*path, k))]
        if not keys or (path and data.draw(st.booleans())):
            return path
        key = data.draw(st.sampled_from(keys))
        path, value = (*path, key), value[key]


def _mutate(document, data, keep=lambda path: True, hostile: bool = False) -> None:
    """Delete one field, replace it with arbitrary JSON (with ``hostile``, also what JSON
    cannot carry), or (with ``hostile``) duplicate an item of a list, chosen by
    hypothesis."""
    if hostile:
        path = _pick_path(document, data, keep)
    else:
        path = data.draw(st.sampled_from([p for p in _paths(document) if p and keep(p)]))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    how = data.draw(st.sampled_from(["delete", "replace", "duplicate", "hostile"] if hostile
                                    else ["delete", "replace"]))
    if how == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "duplicate" and isinstance(parent, list):
        parent.insert(data.draw(st.integers(0, len(parent))), copy.deepcopy(parent[path[-1]]))
    else:
        parent[path[-1]] = copy.deepcopy(data.draw(hostile_values if how == "hostile"
                                                   else json_values))


@FAST
@given(data=st.data())
def test_mutated_facts_load_or_fail_clearly(valid_facts, data) -> None:
    document = copy.deepcopy(valid_facts)
    _mutate(document, data)
    _only_input_errors(lambda: facts_from_data(document, path="facts.json"))


FIXTURE_FACTS = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "facts").glob(
    "*.json"))


def _judge_and_write(document: dict, phase: str) -> None:
    """What ``evaluate --out`` and ``report`` do with a facts file: load it, judge it,
    write the audit JSON, read it back and render every report format."""
    from auditor.evaluate.engine import build_audit, evaluate
    from auditor.evaluate.projection import make_settings
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.model.audit import audit_from_data, audit_to_json
    from auditor.render import ReportMeta, render

    facts = facts_from_data(document, path="facts.json")
    rules = load_ruleset([])
    settings = make_settings(facts.version, facts.observed_at, phase=phase,
                             target_version="12.5(1)" if phase == "pre" else None)
    audit = build_audit(evaluate(rules, facts, settings), facts, rules, settings)
    written = audit_to_json(audit)
    written.encode("utf-8")
    again = audit_from_data(json.loads(written), path="audit.json")
    for fmt in ("html", "md", "json", "junit"):
        render(again, fmt, ReportMeta()).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_facts_are_judged_and_written_or_fail_clearly(data) -> None:
    """Any facts file (a recorded one with a field deleted, replaced by arbitrary or
    hostile JSON, or an item of a list duplicated) is judged, written as JSON that reads
    back and rendered in every format, or refused with the project's own one-line error:
    never a KeyError, IndexError, UnicodeEncodeError or a NaN in audit.json."""
    source = data.draw(st.sampled_from(FIXTURE_FACTS))
    document = json.loads(source.read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(document, data, hostile=True)
    phase = data.draw(st.sampled_from(["pre", "post"]))
    _only_input_errors(lambda: _judge_and_write(document, phase))


@FAST
@given(data=json_values)
def test_arbitrary_json_is_not_facts(data) -> None:
    _only_input_errors(lambda: facts_from_data(data, path="facts.json"))


@FAST
@given(blob=st.binary(max_size=600))
def test_random_bytes_as_certificates(tmp_path_factory, blob: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("pem")) / "cert.pem"
    path.write_bytes(blob)
    _only_input_errors(lambda: read_certificates(str(path)))


PEM = pki.hierarchies().rsa_root.cert.public_bytes(serialization.Encoding.PEM)
DER = pki.hierarchies().ec_root.cert.public_bytes(serialization.Encoding.DER)


@FAST
@given(data=st.data(), der=st.booleans())
def test_corrupted_pem_and_der_load_or_fail_clearly(tmp_path_factory, data, der: bool) -> None:
    blob = bytearray(DER if der else PEM)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(blob) - 1))
        blob[index] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = Path(tmp_path_factory.mktemp("pem")) / "cert.pem"
    path.write_bytes(bytes(blob))
    _only_input_errors(lambda: read_certificates(str(path)))


RULES = Path(__file__).resolve().parent.parent / "rules"


@FAST
@given(text=st.text(max_size=400))
def test_site_rule_text_loads_or_fails_clearly(tmp_path_factory, text: str) -> None:
    from auditor.evaluate.ruleset import load_ruleset

    folder = Path(tmp_path_factory.mktemp("site"))
    (folder / "site-rule.yaml").write_text(text, encoding="utf-8")
    _only_input_errors(lambda: load_ruleset([folder]))


@FAST
@given(data=st.data())
def test_mutated_rule_files_load_or_fail_clearly(tmp_path_factory, data) -> None:
    import yaml

    from auditor.common.validation import load_yaml
    from auditor.evaluate.ruleset import load_ruleset

    source = data.draw(st.sampled_from(sorted(p for p in RULES.glob("*.yaml")
                                                   if p.name != "solution.yaml")))
    document, _ = load_yaml(source)
    document["id"] = "site-" + str(document.get("id", "rule"))
    _mutate(document, data, keep=lambda path: path != ("id",))
    folder = Path(tmp_path_factory.mktemp("site"))
    with (folder / f"{document['id']}.yaml").open("w") as handle:
        yaml.safe_dump(document, handle, allow_unicode=True)
    _only_input_errors(lambda: load_ruleset([folder]))


@pytest.fixture(scope="module")
def valid_audit() -> dict:
    from audits import lab_audit

    from auditor.model.audit import audit_to_json

    return json.loads(audit_to_json(lab_audit("row4-upgrade-trap")))


@FAST
@given(data=st.data())
def test_mutated_audit_json_loads_or_fails_clearly(valid_audit, data) -> None:
    from auditor.model.audit import audit_from_data

    document = copy.deepcopy(valid_audit)
    _mutate(document, data, keep=lambda path: path[0] != "facts")
    _only_input_errors(lambda: audit_from_data(document, path="audit.json"))


def _render_everything(document: dict, valid: dict) -> None:
    """What ``report``, ``diff`` and a portfolio do with an audit file."""
    from auditor.model.audit import audit_from_data
    from auditor.model.portfolio import build_portfolio, portfolio_json
    from auditor.render import ReportMeta, render
    from auditor.render.audit_text import render_audit
    from auditor.render.diff import diff_audits
    from auditor.render.diff_render import render_diff

    audit = audit_from_data(document, path="audit.json")
    other = audit_from_data(copy.deepcopy(valid), path="before.json")
    for fmt in ("html", "md", "json", "junit"):
        render(audit, fmt, ReportMeta()).encode("utf-8")
    render_audit(audit).encode("utf-8")
    for fmt in ("table", "md", "json", "html"):
        render_diff(diff_audits(other, audit), fmt, ReportMeta()).encode("utf-8")
        render_diff(diff_audits(audit, other), fmt, ReportMeta()).encode("utf-8")
    portfolio_json(build_portfolio([("cluster", audit)]))


@FAST
@given(data=st.data())
def test_mutated_audit_json_renders_or_fails_clearly(valid_audit, data) -> None:
    """An audit file with fields deleted, replaced (also by what JSON cannot carry) or
    duplicated is rendered in every format, diffed and rolled up, or refused in one line:
    a finding naming a playbook the file lacks is refused, not a KeyError in the plan."""
    document = copy.deepcopy(valid_audit)
    for _ in range(data.draw(st.integers(1, 2))):
        _mutate(document, data, keep=lambda path: path[0] != "facts", hostile=True)
    _only_input_errors(lambda: _render_everything(document, valid_audit))


@FAST
@given(data=json_values)
def test_arbitrary_json_is_not_an_audit(data) -> None:
    from auditor.model.audit import audit_from_data

    _only_input_errors(lambda: audit_from_data(data, path="audit.json"))
