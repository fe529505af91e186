"""The shipped JSON Schemas are valid Draft 2020-12 schemas (checked here, not per run), and
every refusal of the one validator (jsonschema-rs) is described field by field."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import jsonschema_rs
import pytest

from auditor.common.resources import schema_path
from auditor.common.validation import load_schema

SCHEMAS = sorted(p.name.removesuffix(".schema.json")
                 for p in schema_path("rule").parent.glob("*.schema.json"))


def test_every_schema_is_found() -> None:
    assert {"audit", "facts", "inventory", "playbook", "rule"} <= set(SCHEMAS)


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_shipped_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema_rs.meta.validate(load_schema(name))


def test_a_broken_schema_is_refused_by_the_meta_schema_check() -> None:
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.meta.validate({"type": "no-such-type"})


# -- what the validator refuses is refused with its field, what it takes is taken ------

def _shipped_examples() -> list[tuple[str, object]]:
    """Real documents of each kind: the shipped rules and playbooks, the fixture facts."""
    import json

    from auditor.common.resources import rules_dir
    from auditor.common.yaml12 import load

    found: list[tuple[str, object]] = []
    rules = rules_dir()
    for path in sorted(rules.glob("*.yaml")):
        if path.name == "solution.yaml":  # the solution map, not a rule
            found.append(("solution", load(path.read_text(encoding="utf-8"))))
            continue
        found.append(("rule", load(path.read_text(encoding="utf-8"))))
    for path in sorted((rules / "playbooks").glob("*.yaml")):
        found.append(("playbook", load(path.read_text(encoding="utf-8"))))
    facts = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
    for path in sorted(facts.glob("*.json"))[:3]:
        found.append(("facts", json.loads(path.read_text(encoding="utf-8"))))
    return found


EXAMPLES = _shipped_examples()
ODD_VALUES = [None, True, 0, 1.5, -1, "", " ", "x\n", "\ufeff", "١٢", "a" * 300, [], {},
              ["x"], {"x": 1}, "2026-01-01\n", "tomcat\n", "11.5(1)\n"]


def _mutants(doc: object, rng: random.Random, count: int) -> list[object]:
    """Copies of ``doc`` with one value replaced, one key dropped or one key added."""
    out = []
    for _ in range(count):
        copy_ = copy.deepcopy(doc)
        parent, key = None, None
        node = copy_
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, rng.choice(keys)
            node = node[key]
        if parent is None:
            out.append(rng.choice(ODD_VALUES))
            continue
        action = rng.random()
        if action < 0.6:
            parent[key] = rng.choice(ODD_VALUES)
        elif action < 0.8 and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, dict):
            parent[rng.choice(["extra", "x-note", "id", "when", "on"])] = rng.choice(ODD_VALUES)
        out.append(copy_)
    return out


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_every_refusal_names_its_field_and_nothing_refused_passes(index: int) -> None:
    from auditor.common.errors import InputError
    from auditor.common.validation import _as_json, _validator, validate

    name, doc = EXAMPLES[index]
    validate(doc, name, path=f"{name}.yaml")
    rng = random.Random(index)
    for mutant in _mutants(doc, rng, 40):
        refused = not _validator(name).is_valid(_as_json(mutant))
        try:
            validate(mutant, name, path=f"{name}.yaml")
        except InputError as error:
            assert refused, (name, mutant, error)
            assert error.field and error.message, (name, mutant, error)
            assert error.path == f"{name}.yaml"
        else:
            assert not refused, (name, mutant)
