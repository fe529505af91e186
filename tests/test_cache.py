"""The parse cache: a file whose exact bytes parsed and validated before is read back
without the YAML parser; any change of a byte, or a broken file, goes the full way."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor import cache, validation
from auditor.errors import InputError
from auditor.inventory import load_inventory

INVENTORY = """cluster: east
version: "11.5(1)"
nodes:
  - host: uccx1.example.com
    role: uccx-publisher
  - host: sm1.example.com
    role: socialminer
"""


@pytest.fixture
def parses(monkeypatch, tmp_path: Path) -> list[str]:
    """Each test with an empty cache of its own; the YAML parses it makes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls: list[str] = []
    real = validation.load_yaml

    def counting(path, text=None):
        calls.append(str(path))
        return real(path, text)

    monkeypatch.setattr(validation, "load_yaml", counting)
    monkeypatch.setattr(validation.load_yaml_validated, "__defaults__", (counting,))
    return calls


def test_the_second_read_of_the_same_bytes_skips_the_parser(tmp_path: Path, parses) -> None:
    path = tmp_path / "east.yaml"
    path.write_text(INVENTORY)
    first = load_inventory(path)
    assert load_inventory(path) == first
    assert len(parses) == 1


def test_a_changed_byte_is_parsed_again(tmp_path: Path, parses) -> None:
    path = tmp_path / "east.yaml"
    path.write_text(INVENTORY)
    load_inventory(path)
    path.write_text(INVENTORY.replace("east", "west"))
    assert load_inventory(path).cluster == "west"
    assert len(parses) == 2


def test_a_broken_file_is_never_stored_and_keeps_its_line_number(tmp_path: Path,
                                                                  parses) -> None:
    path = tmp_path / "east.yaml"
    path.write_text(INVENTORY.replace("socialminer", "callmanager"))
    for _ in range(2):
        with pytest.raises(InputError) as caught:
            load_inventory(path)
        assert caught.value.line == 7
    assert len(parses) == 2


def test_an_error_found_after_the_schema_still_names_its_line(tmp_path: Path,
                                                              parses) -> None:
    path = tmp_path / "east.yaml"
    path.write_text(INVENTORY + "  - host: uccx1.example.com\n    role: uccx-subscriber\n")
    for _ in range(2):  # the second time from the cache, located on demand
        with pytest.raises(InputError) as caught:
            load_inventory(path)
        assert caught.value.line == 8
        assert "listed twice" in caught.value.message
    assert len(parses) == 2  # the full parse, then the cached data located on demand


def test_turned_off_nothing_is_stored(tmp_path: Path, monkeypatch, parses) -> None:
    monkeypatch.setenv("UCCX_AUDIT_CACHE", "off")
    path = tmp_path / "east.yaml"
    path.write_text(INVENTORY)
    load_inventory(path)
    load_inventory(path)
    assert len(parses) == 2
    assert cache.cache_dir() is None


def test_a_corrupt_entry_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache.put_json("validated", "k", {"a": [1, "b"]})
    assert cache.get_json("validated", "k") == {"a": [1, "b"]}
    entry = tmp_path / "cache" / "uccx-audit" / "validated" / "k.json"
    entry.write_text("{not json")
    assert cache.get_json("validated", "k") is None


def test_values_that_json_would_change_are_not_stored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache.put_json("validated", "int-keys", {1: "one"})
    assert cache.get_json("validated", "int-keys") is None


def test_keys_differ_by_kind_and_by_every_input_byte() -> None:
    assert cache.key("a", b"x") != cache.key("b", b"x")
    assert cache.key("a", b"x") != cache.key("a", b"y")
    assert cache.key("a", b"xy", b"") != cache.key("a", b"x", b"y")
