"""YAML as the tool reads it (auditor/common/yaml12.py): one library (PyYAML), YAML 1.2
scalars, duplicate keys and unknown tags refused with their line, and the line of every
field of a schema error taken from the composed nodes."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.inventory import inventory_to_yaml, load_inventory
from auditor.common import validation, yaml12
from auditor.common.errors import InputError
from auditor.common.resources import rules_dir
from auditor.common.yaml12 import load, locator
from auditor.lab.scenarios import SCENARIOS
from auditor.lab.server import Lab

ROOT = Path(__file__).resolve().parent.parent


def _typed(item: Any) -> Any:
    """The data with each scalar's plain type beside it (bool, int, text and dates must
    not mix)."""
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


def test_one_yaml_library_is_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [dep.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
             for dep in project["dependencies"]]
    assert [n for n in names if "yaml" in n] == ["pyyaml"]


def test_every_rule_playbook_and_fixture_file_reads_as_plain_data(tmp_path: Path) -> None:
    files = _yaml_files()
    assert len(files) > 60
    for path in files:
        data, locate = validation.load_yaml(path)
        # only what JSON carries (and dates): no loader's own types
        assert _typed(data) == _typed(load(path.read_text(encoding="utf-8"))), path
        if isinstance(data, dict) and data:
            first = next(iter(data))
            line = locate([first])
            assert line is not None and str(first) in path.read_text(
                encoding="utf-8").splitlines()[line - 1], path


def test_every_lab_inventory_reads_back(tmp_path: Path) -> None:
    for name in SCENARIOS:
        inventory = Lab(name, tmp_path / name).inventory()
        path = tmp_path / f"{name}.yaml"
        path.write_text(inventory_to_yaml(inventory), encoding="utf-8")
        assert load_inventory(path).cluster == inventory.cluster, name


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



def test_scalars_where_yaml_1_1_and_1_2_differ_read_as_yaml_1_2() -> None:
    fast = load(YAML_1_1_VS_1_2)
    assert fast["on"] == "off" and fast["off"] == "on" and fast["yes"] == "no"
    assert fast["On"] == "OFF" and fast["y"] == "n"
    assert fast["true_value"] is True and fast["false_value"] is False
    assert (fast["octal_1_2"], fast["negative_octal"], fast["leading_zero"]) == (15, -15, 10)
    assert (fast["underscores"], fast["hex"], fast["binary"]) == (1000, 31, 5)
    assert fast["sexagesimal"] == "1:20" and fast["time"] == "12:30:00"
    assert fast["sexagesimal_float"] == "1:20.5" and fast["nine"] == 9
    assert fast["tilde"] is None and fast["null_word"] is None and fast["empty"] is None
    assert fast["Null_word"] is None
    assert fast["date"] == dt.date(2026, 12, 5)
    assert fast["datetime"] == dt.datetime(2026, 12, 5, 10, 0)
    assert fast["float"] == 1.5 and fast["dot_five"] == 0.5 and fast["one_dot"] == 1.0
    assert fast["infinite"] == float("-inf")
    assert fast["exponent"] == 1000.0 and fast["not_a_number_with_sign"] == "-.nan"
    assert fast["not_octal"] == "0o8" and fast["text"] == "11.5(1)"
    assert fast["version"] == 11.5
    assert fast["list"] == ["on", "yes", 10, 15, "1:20", None, dt.date(2026, 12, 5)]
    assert fast["2026-12-05"] == "a date as key" and fast[1] == "an integer as key"
    assert _typed(load("true: a boolean as key\nfalse: another\n")) == _typed(
        {True: "a boolean as key", False: "another"})
    assert load("a: =\n") == {"a": "="}  # YAML 1.2 has no 'value' type: text
    assert load("a: !!str 3\n") == {"a": "3"}


def test_not_a_number_is_a_float() -> None:
    assert math.isnan(load("x: .NaN\n")["x"])


@pytest.mark.parametrize(("text", "line", "says"), [
    ("a: 1\na: 2\n", 2, 'duplicate key "a"'),        # PyYAML alone keeps the last silently
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", 4, 'duplicate key "b"'),
    ("- {x: 1, x: 1}\n", 1, 'duplicate key "x"'),
    ("? [1, 2]\n: unhashable\n", 1, "unhashable"),
    ("a: !!python/object:os.system ls\n", 1, "python/object:os.system"),  # never built
    ("nodes:\n  - !foo 3\n", 2, "!foo"),
    ("!0", 1, "!0"),
    ("a: [1, 2\n", 2, "expected ',' or ']'"),
    ("a: 1\n---\nb: 2\n", 2, "another document"),
    ("a: 1\n\tb: 2\n", 2, "tab"),
])
def test_what_it_cannot_read_is_an_input_error_with_its_line(tmp_path: Path, text: str,
                                                             line: int, says: str) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        validation.load_yaml(path)
    assert caught.value.line == line and caught.value.path == str(path)
    assert caught.value.message.startswith("invalid YAML: ") and says in caught.value.message


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


def test_a_key_brought_by_a_merge_has_the_line_of_the_anchor() -> None:
    text = "base: &b\n  port: 1\nnode:\n  <<: *b\n  host: x\n"
    assert load(text)["node"] == {"port": 1, "host": "x"}
    locate = locator(text)
    assert locate(["node", "port"]) == 2 and locate(["node", "host"]) == 5
    assert locate(["node", "nothing"]) == 3 and locate([]) == 1


_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda k: load(k) == k)  # a key that reads back as text
_LEAVES = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.none(),
                    st.text("abcdefgh xyz", min_size=1, max_size=8).map(str.strip).filter(
                        lambda t: t != "" and load(t) == t))
_DOCS = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=4),
    st.dictionaries(_KEYS, inner, min_size=1, max_size=4)), max_leaves=20)


def _paths(item: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [where] if where else []
    if isinstance(item, dict):
        for key, value in item.items():
            out += _paths(value, (*where, key))
    elif isinstance(item, list):
        for index, value in enumerate(item):
            out += _paths(value, (*where, index))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(_KEYS, _DOCS, min_size=1, max_size=5))
def test_every_field_of_a_block_document_is_located_on_its_own_line(doc: dict) -> None:
    text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    assert load(text) == doc
    lines = text.splitlines()
    locate = locator(text)
    for path in _paths(doc):
        line = locate(path)
        assert line is not None, (path, text)
        shown = lines[line - 1].strip()
        last = path[-1]
        if isinstance(last, str):  # the line holds the key (after any "- " of its item),
            # plain or quoted as the dumper quotes a YAML 1.1 boolean such as 'on'
            key = shown.lstrip("- ")
            assert any(key.startswith(f"{q}{last}{q}:") for q in ("", "'", '"')), (path, text)
        else:  # the item's own line starts with its dash
            assert shown.startswith("-"), (path, text)


def test_without_libyaml_the_pure_python_loader_reads_the_same(monkeypatch) -> None:
    import importlib

    monkeypatch.delattr(yaml, "CSafeLoader")
    try:
        pure = importlib.reload(yaml12)
        assert pure._Loader.__mro__[1] is yaml.SafeLoader
        assert _typed(pure.load(YAML_1_1_VS_1_2)) == _typed(load(YAML_1_1_VS_1_2))
        with pytest.raises(yaml.MarkedYAMLError):
            pure.load("a: 1\na: 2\n")
        assert pure.locator("a:\n  b: 1\n")(["a", "b"]) == 2
    finally:
        monkeypatch.undo()
        importlib.reload(yaml12)
