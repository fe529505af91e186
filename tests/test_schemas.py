"""The shipped JSON Schemas are valid Draft 2020-12 schemas (checked here, not per run)."""

from __future__ import annotations

import jsonschema
import pytest

from auditor.common.resources import schema_path
from auditor.common.validation import load_schema

SCHEMAS = sorted(p.name.removesuffix(".schema.json")
                 for p in schema_path("rule").parent.glob("*.schema.json"))


def test_every_schema_is_found() -> None:
    assert {"audit", "facts", "inventory", "playbook", "rule"} <= set(SCHEMAS)


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_shipped_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_a_broken_schema_is_refused_by_the_meta_schema_check() -> None:
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"type": "no-such-type"})
