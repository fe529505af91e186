"""The libyaml reader gives exactly the data ruamel's YAML 1.2 reader gives, for every
shipped file and for the scalars where YAML 1.1 and 1.2 disagree; what it cannot read the
same way it hands to ruamel."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pytest

from auditor import fastyaml, validation
from auditor.errors import InputError
from auditor.fastyaml import FastYAMLError, load_fast
from auditor.inventory import inventory_to_yaml, load_inventory
from auditor.lab.scenarios import SCENARIOS
from auditor.lab.server import Lab
from auditor.resources import rules_dir

ROOT = Path(__file__).resolve().parent.parent


def _ruamel(text: str, tmp_path: Path) -> Any:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return validation.load_yaml(path)[0]


def _typed(item: Any) -> Any:
    """The data with each scalar's plain type beside it (ruamel's int and float subclasses
    compare equal to plain ones; bool, int, text and dates must not mix)."""
    if isinstance(item, dict):
        return {(type(k).__name__ if isinstance(k, bool) else "", k): _typed(v)
                for k, v in item.items()}
    if isinstance(item, list):
        return [_typed(v) for v in item]
    for kind in (bool, int, float, str, dt.datetime, dt.date):
        if isinstance(item, kind):
            return kind.__name__, item
    return type(item).__name__, item


def _yaml_files() -> list[Path]:
    rules = rules_dir()
    files = sorted(rules.glob("*.yaml")) + sorted((rules / "playbooks").glob("*.yaml"))
    files += sorted((ROOT / "fixtures").rglob("*.yaml")) + sorted((ROOT / "fixtures").rglob(
        "*.yml"))
    return files


def test_the_resolvers_are_ruamels_yaml_1_2_resolvers() -> None:
    from ruamel.yaml.resolver import implicit_resolvers

    theirs = {(tag, re.compile(regexp.pattern, regexp.flags).pattern, tuple(first))
              for versions, tag, regexp, first in implicit_resolvers
              if (1, 2) in versions and not tag.endswith(":yaml")}
    assert set(fastyaml.RESOLVERS_1_2) == theirs


def test_every_rule_playbook_and_fixture_file_reads_the_same(tmp_path: Path) -> None:
    files = _yaml_files()
    assert len(files) > 60
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _typed(load_fast(text)) == _typed(_ruamel(text, tmp_path)), path


def test_every_lab_inventory_reads_the_same(tmp_path: Path) -> None:
    for name in SCENARIOS:
        text = inventory_to_yaml(Lab(name, tmp_path / name).inventory())
        assert _typed(load_fast(text)) == _typed(_ruamel(text, tmp_path)), name


YAML_1_1_VS_1_2 = """\
on: off
off: on
yes: no
no: yes
y: n
On: OFF
true_value: True
false_value: FALSE
octal_1_2: 0o17
negative_octal: -0o17
leading_zero: 010
nine: 09
underscores: 1_000
hex: 0x1F
binary: 0b101
sexagesimal: 1:20
sexagesimal_float: 1:20.5
time: 12:30:00
tilde: ~
null_word: null
Null_word: Null
empty:
date: 2026-12-05
datetime: 2026-12-05T10:00:00
float: 1.5
exponent: 1e3
dot_five: .5
one_dot: 1.
infinite: -.inf
not_a_number_with_sign: -.nan
not_octal: 0o8
version: 11.5
text: 11.5(1)
list: [on, yes, 010, 0o17, 1:20, ~, 2026-12-05]
2026-12-05: a date as key
1: an integer as key
"""


def test_scalars_where_yaml_1_1_and_1_2_differ_read_as_ruamel_reads_them(tmp_path) -> None:
    fast = load_fast(YAML_1_1_VS_1_2)
    assert _typed(fast) == _typed(_ruamel(YAML_1_1_VS_1_2, tmp_path))
    # decided by ruamel's YAML 1.2 reading; spelled out so a change of it is seen here
    assert fast["on"] == "off" and fast["off"] == "on" and fast["yes"] == "no"
    assert fast["On"] == "OFF" and fast["y"] == "n"
    assert fast["true_value"] is True and fast["false_value"] is False
    assert (fast["octal_1_2"], fast["negative_octal"], fast["leading_zero"]) == (15, -15, 10)
    assert (fast["underscores"], fast["hex"], fast["binary"]) == (1000, 31, 5)
    assert fast["sexagesimal"] == "1:20" and fast["time"] == "12:30:00"
    assert fast["tilde"] is None and fast["null_word"] is None and fast["empty"] is None
    assert fast["date"] == dt.date(2026, 12, 5)
    assert fast["datetime"] == dt.datetime(2026, 12, 5, 10, 0)
    assert fast["exponent"] == 1000.0 and fast["not_a_number_with_sign"] == "-.nan"
    assert fast["not_octal"] == "0o8" and fast["text"] == "11.5(1)"
    assert fast["list"] == ["on", "yes", 10, 15, "1:20", None, dt.date(2026, 12, 5)]
    assert fast["2026-12-05"] == "a date as key" and fast[1] == "an integer as key"
    boolean_key = "true: a boolean as key\nfalse: another\n"
    assert _typed(load_fast(boolean_key)) == _typed(_ruamel(boolean_key, tmp_path))
    assert load_fast(boolean_key) == {True: "a boolean as key", False: "another"}


def test_not_a_number_is_a_float() -> None:
    assert math.isnan(load_fast("x: .NaN\n")["x"])


@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n",                          # PyYAML alone would keep the last silently
    "a:\n  b: 1\n  c: 2\n  b: 3\n",
    "- {x: 1, x: 1}\n",
    "%YAML 1.1\n---\non: yes\n",             # YAML 1.1 on purpose: ruamel honours it
    "a: =\n",                                # ruamel's 'value' tag
    "? [1, 2]\n: unhashable\n",
    "a: !!python/object:os.system ls\n",     # never constructed
    "a: [1, 2\n",
    "a: 1\n---\nb: 2\n",
])
def test_what_it_cannot_read_as_ruamel_does_goes_to_ruamel(text: str) -> None:
    with pytest.raises(FastYAMLError):
        load_fast(text)


def test_a_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "east.yaml"
    path.write_text("cluster: east\nversion: \"11.5(1)\"\ncluster: west\nnodes: []\n")
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert caught.value.line == 3
    assert "duplicate" in caught.value.message


def test_a_schema_error_still_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "east.yaml"
    path.write_text("cluster: east\nversion: \"11.5(1)\"\nnodes:\n"
                    "  - host: uccx1.example.com\n    role: uccx-publisher\n"
                    "  - host: sm1.example.com\n    role: callmanager\n")
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert caught.value.line == 7 and caught.value.field == "nodes[1].role"


def test_the_happy_path_never_starts_ruamel(tmp_path: Path, monkeypatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("ruamel parsed a file that libyaml read")

    monkeypatch.setattr(validation, "load_yaml", refuse)
    monkeypatch.setattr(validation.load_yaml_validated, "__defaults__", (refuse, None))
    path = tmp_path / "east.yaml"
    path.write_text("cluster: east\nversion: \"11.5(1)\"\nnodes:\n"
                    "  - host: uccx1.example.com\n    role: uccx-publisher\n")
    assert load_inventory(path).cluster == "east"


def test_without_libyaml_the_pure_python_loader_reads_the_same(monkeypatch, tmp_path) -> None:
    import importlib

    import yaml

    monkeypatch.delattr(yaml, "CSafeLoader")
    try:
        pure = importlib.reload(fastyaml)
        assert pure._Loader.__mro__[1] is yaml.SafeLoader
        assert _typed(pure.load_fast(YAML_1_1_VS_1_2)) == _typed(
            _ruamel(YAML_1_1_VS_1_2, tmp_path))
        with pytest.raises(pure.FastYAMLError):
            pure.load_fast("a: 1\na: 2\n")
    finally:
        monkeypatch.undo()
        importlib.reload(fastyaml)
