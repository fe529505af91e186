"""Load YAML or JSON and check it against a JSON Schema.

YAML is read by PyYAML with YAML 1.2 scalars (:mod:`auditor.common.yaml12`), which also
names the line of a field; schemas are checked by jsonschema-rs. Every error names the
file, the line, the field and what would be accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from auditor.common import yaml12
from auditor.common.errors import InputError
from auditor.common.inputs import read_input_text
from auditor.common.resources import schema_path
from auditor.common.yamlbounds import check_yaml_bounds

Locator = Callable[[Sequence[Any]], "int | None"]


def field_name(path: Iterable[Any]) -> str:
    """``('nodes', 0, 'role')`` -> ``nodes[0].role``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def read_text(path: str | Path, kind: str = "yaml") -> str:
    """Read a UTF-8 text file (a regular file within the size limit of ``kind``: yaml or
    json), or raise an :class:`InputError` that says why not."""

    return read_input_text(path, kind)


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, Locator]:
    """Parse a YAML file; return plain Python data and a function from field path to line."""

    name = str(path)
    if text is None:
        text = read_text(path)
    check_yaml_bounds(text, name)
    try:
        data = yaml12.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InputError(f"invalid YAML: {problem}", path=name, line=line) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InputError(f"invalid YAML: {exc}".splitlines()[0], path=name) from None
    return data, yaml12.locator(text)


def load_yaml_validated(path: str | Path, schema_name: str,
                        parse: Callable[[str | Path], tuple[Any, Locator]] = load_yaml,
                        prepare: Callable[[Any], Any] | None = None,
                        ) -> tuple[Any, Locator]:
    """Read a YAML file (``parse``: :func:`load_yaml`, or a reader that says more about a
    broken file) and validate it against a shipped schema, each error with its line.
    ``prepare`` turns what was read into what the schema checks."""
    data, locate = parse(path)
    if data is None:
        raise InputError("the file is empty (no YAML document, or only comments)",
                         path=str(path), expected=f"a {schema_name} file; see the README "
                         "for an example")
    if prepare is not None:
        data = prepare(data)
    validate(data, schema_name, path=str(path), locate=locate)
    return data, locate


def load_json(path: str | Path) -> Any:
    """Parse a JSON file, or raise an :class:`InputError` naming the line (or the field: a
    number JSON does not have, NaN, Infinity or one too large for a float, and text that is
    not Unicode, a lone surrogate escape such as ``"\\ud800"``)."""
    return parse_json(read_text(path, "json"), str(path))


def parse_json(text: str, name: str) -> Any:
    """:func:`load_json` of text already read (``name``: the file it came from)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=name, line=exc.lineno) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", path=name) from None
    except ValueError as exc:  # an integer of thousands of digits
        raise InputError(f"invalid JSON: {str(exc).split(';')[0]}", path=name) from None
    check_values(data, path=name)
    return data


def _bad_values(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...],
                                                                          str, str]]:
    """(field path, problem, expected) for each value JSON cannot carry, depth first."""
    if isinstance(value, float) and not math.isfinite(value):
        yield where, f"{value!r} is not a number JSON allows", "a finite number"
    elif isinstance(value, str) and not _is_unicode(value):
        yield where, "the text holds a lone surrogate (not Unicode)", "valid Unicode text"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not _is_unicode(key):
                yield ((*where, key.encode("utf-8", "backslashreplace").decode("ascii")),
                       "the key holds a lone surrogate (not Unicode)", "valid Unicode text")
            yield from _bad_values(item, (*where, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _bad_values(item, (*where, index))


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_values(data: Any, *, path: str, locate: Locator | None = None) -> None:
    """Every number in ``data`` is finite and every text is Unicode (what JSON can write
    back), or an :class:`InputError` naming the first field that is not. The whole data is
    written once by the C encoder; only when that fails is it walked to name the field."""
    try:
        json.dumps(data, allow_nan=False, ensure_ascii=False, default=str).encode("utf-8")
        return
    except (ValueError, UnicodeEncodeError, TypeError, RecursionError):
        pass
    try:
        found = next(_bad_values(data), None)
    except RecursionError:
        raise InputError("nested too deeply", path=path) from None
    if found is not None:
        where, problem, expected = found
        raise InputError(problem, path=path, line=locate(where) if locate else None,
                         field=field_name(where), expected=expected)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the JSON Schemas shipped in ``auditor/schemas`` (each checked against the
    meta-schema by the test suite, not on every run)."""
    schema: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return schema


#: Where a schema field says ``"mapNames": KIND`` (role, service, gadget), the names it
#: allows come from the solution map in force: ``names(KIND)``, set by
#: :mod:`auditor.model.solution` (common knows no model). None: the names are not checked.
MAP_NAMES: list[Callable[[str], tuple[str, ...]]] = []


def _map_kinds(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if isinstance(node.get("mapNames"), str):
            found.add(node["mapNames"])
        for value in node.values():
            _map_kinds(value, found)
    elif isinstance(node, list):
        for value in node:
            _map_kinds(value, found)
    return found


@cache
def _kinds(name: str) -> tuple[str, ...]:
    return tuple(sorted(_map_kinds(load_schema(name), set())))


def _names_key(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The names of the map in force that a schema's ``mapNames`` fields allow."""
    kinds = _kinds(name)
    if not kinds or not MAP_NAMES:
        return ()
    return tuple((kind, MAP_NAMES[-1](kind)) for kind in kinds)


def _with_names(node: Any, names: dict[str, tuple[str, ...]]) -> Any:
    if isinstance(node, dict):
        out = {k: _with_names(v, names) for k, v in node.items() if k != "mapNames"}
        kind = node.get("mapNames")
        if isinstance(kind, str) and kind in names:
            out.pop("pattern", None)
            out["enum"] = list(names[kind])
        return out
    if isinstance(node, list):
        return [_with_names(v, names) for v in node]
    return node


@cache
def _schema_with_names(name: str, key: tuple[tuple[str, tuple[str, ...]], ...]
                       ) -> dict[str, Any]:
    schema = load_schema(name)
    return _with_names(schema, dict(key)) if key else schema


@cache
def _compiled(name: str, key: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:

    # formats are not checked: the schemas say what they mean by patterns
    return jsonschema_rs.Draft202012Validator(_schema_with_names(name, key),
                                              validate_formats=False)


def _validator(name: str) -> Any:
    """The validator (jsonschema-rs) of a shipped schema with the map's names, built once
    per map."""
    return _compiled(name, _names_key(name))


class _NotJSON(dict):  # type: ignore[type-arg]
    """What stands, in the copy the validator sees, for a value JSON has no type for (a
    YAML date): an object of one odd key, which fails every type but ``object``."""


def _as_json(item: Any) -> Any:
    """``item`` as the validator takes it: keys as text, dates as :class:`_NotJSON`."""
    if isinstance(item, dict):
        return {k if isinstance(k, str) else str(k): _as_json(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_as_json(v) for v in item]
    if item is None or isinstance(item, (str, bool, int, float)):
        return item
    return _NotJSON({"\u0000" + type(item).__name__: str(item)})


def _original(instance: Any, path: Sequence[Any]) -> Any:
    """The value at ``path`` in the data as read (the validator saw keys as text)."""
    node = instance
    for part in path:
        if isinstance(node, dict):
            if part in node:
                node = node[part]
                continue
            node = next((v for k, v in node.items() if str(k) == str(part)), None)
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _subschema(schema: Any, path: Sequence[Any]) -> Any:
    """The part of ``schema`` at a schema path, following local ``$ref`` s on the way."""
    node = schema
    for part in path:
        for _ in range(16):  # a chain of references, never a loop
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)
                    and part not in node):
                break
            node = _subschema(schema, [p.replace("~1", "/").replace("~0", "~")
                                       for p in node["$ref"].lstrip("#/").split("/") if p])
        if part == "$ref" and isinstance(node, dict) and isinstance(node.get(part), str):
            node = _subschema(schema, [p.replace("~1", "/").replace("~0", "~")
                                       for p in node[part].lstrip("#/").split("/") if p])
            continue
        found = isinstance(node, dict) and part in node
        found = found or (isinstance(node, list) and isinstance(part, int) and part < len(node))
        if not found:
            return {}
        node = node[part]
    return node


def _describe_all(error: Any, instance: Any, schema: dict[str, Any]
                  ) -> Iterator[tuple[list[Any], str, str | None]]:
    """(field path, problem, expected) for each field an error is about: a missing field
    and an unknown field each, when one error names several."""
    path = list(error.instance_path)
    keyword = error.schema_path[-1] if error.schema_path else ""
    parent = _subschema(schema, list(error.schema_path)[:-1])
    parent = parent if isinstance(parent, dict) else {}
    value = _original(instance, path)
    inner = getattr(error.kind, "error", None)  # propertyNames: the error about the key
    if "propertyNames" in error.schema_path and inner is not None:
        value = inner.instance
    if keyword == "required":
        missing = getattr(error.kind, "property", None)
        yield [*path, missing if missing is not None else "?"], "is required but missing", \
            parent.get("description")
        return
    if keyword == "additionalProperties":
        allowed = sorted((parent.get("properties") or {}).keys())
        extra = sorted((k for k in value if str(k) not in allowed), key=str) if isinstance(
            value, dict) else []
        for extra_name in extra or ["?"]:
            yield ([*path, extra_name], "unknown field",
                   "one of: " + ", ".join(allowed) if allowed else "no fields")
        return
    yield _describe(keyword, parent.get(keyword), path, value, parent, error.message)


def _describe(kind: Any, limit: Any, path: list[Any], value: Any, schema: dict[str, Any],
              message: str) -> tuple[list[Any], str, str | None]:
    if kind == "enum":
        return path, f"{value!r} is not allowed", "one of: " + ", ".join(
            str(v) for v in limit or ())
    if kind == "const":
        return path, f"{value!r} is not allowed", repr(limit)
    if kind == "type":
        expected = limit
        if isinstance(expected, list):
            expected = " or ".join(expected)
        if expected == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return path, f"{value!r} is a number; write it in quotes", "text, e.g. \"11.5(1)\""
        return path, f"{value!r} has the wrong type", f"{expected}"
    if kind == "pattern":
        return path, f"{value!r} has the wrong form", schema.get(
            "description") or f"text matching {limit}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return path, f"{value!r} is out of range", f"{kind} {limit}"
    if kind in ("minItems", "maxItems", "minLength", "maxLength", "minProperties"):
        return path, f"too short or too long ({kind} {limit})", schema.get("description")
    if kind == "propertyNames":
        return path, "has a key that is not allowed", schema.get("description")
    if kind in ("oneOf", "anyOf"):
        return path, "does not match any allowed form", schema.get("description")
    return path, message, schema.get("description")


#: At most this many problems of one file are listed, one line each (then how many more).
LISTED_PROBLEMS = 20


def validate(instance: Any, schema_name: str, *, path: str, locate: Locator | None = None) -> None:
    """Check ``instance`` against a shipped schema; raise an error that lists every problem
    (by line, at most :data:`LISTED_PROBLEMS`, one line each, each with its line and
    field). Data
    that JSON cannot carry (NaN, infinities, lone surrogates) is refused first, wherever
    it was read from."""
    check_values(instance, path=path, locate=locate)
    validator = _validator(schema_name)
    try:
        if validator.is_valid(instance):
            return
    except ValueError:  # a key that is not text, a date: the copy below says what is wrong
        pass
    shaped = _as_json(instance)
    schema = _schema_with_names(schema_name, _names_key(schema_name))
    described = []
    for error in validator.iter_errors(shaped):
        for field_path, message, expected in _describe_all(error, instance, schema):
            line = locate(field_path) if locate else None
            described.append((line or 0, field_name(field_path), message, expected))
    if not described:  # never taken as valid for want of a description
        raise InputError("does not match its schema", path=path,
                         expected=f"a {schema_name} file as the README shows")
    described.sort(key=lambda item: (item[0], item[1], item[2]))
    unique = list(dict.fromkeys(described))  # one problem found twice is listed once
    problems = [InputError(message, path=path, line=line or None, field=field,
                           expected=expected)
                for line, field, message, expected in unique[:LISTED_PROBLEMS]]
    first, rest = problems[0], problems[1:]
    raise InputError(first.message, path=path, line=first.line, field=first.field,
                     expected=first.expected, others=tuple(rest),
                     unlisted=len(unique) - len(problems))


def validate_versioned(data: Any, schema_name: str, version: int, *, path: str) -> None:
    """Refuse a file of another ``schema_version`` in one clear line, then check the schema."""
    if isinstance(data, dict) and data.get("schema_version") not in (None, version):
        raise InputError(f"{data.get('schema_version')!r} is not supported", path=path,
                         field="schema_version", expected=str(version))
    validate(data, schema_name, path=path)

