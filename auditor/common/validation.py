"""Load YAML or JSON and check it against a JSON Schema.

YAML is read by libyaml (PyYAML's C loader) with YAML 1.2 scalars, as ruamel reads them;
ruamel's slower round-trip parser runs only when something is wrong, to name the line.
Every error names the file, the line, the field and what would be accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.common.errors import InputError
from auditor.common.resources import schema_path

if TYPE_CHECKING:
    import jsonschema

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


def _plain(node: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def plain(item: Any) -> Any:
        if isinstance(item, CommentedMap):
            return {str(k) if not isinstance(k, (str, int, float, bool)) else k: plain(v)
                    for k, v in item.items()}
        if isinstance(item, CommentedSeq):
            return [plain(v) for v in item]
        if isinstance(item, str):
            return str(item)
        return item

    return plain(node)


def _yaml_locator(root: Any) -> Locator:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def locate(path: Sequence[Any]) -> int | None:
        node, line = root, None
        for part in path:
            try:
                if isinstance(node, CommentedMap) and part in node:
                    line = node.lc.key(part)[0] + 1
                elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                    line = node.lc.item(part)[0] + 1
                else:
                    break
                node = node[part]
            except (AttributeError, KeyError, IndexError, TypeError):
                break
        top = getattr(getattr(root, "lc", None), "line", None)
        if line is None and top is not None:  # a bare tagged scalar ('!0') has no line
            line = top + 1
        return line

    return locate


def read_text(path: str | Path, kind: str = "yaml") -> str:
    """Read a UTF-8 text file (a regular file within the size limit of ``kind``: yaml or
    json), or raise an :class:`InputError` that says why not."""
    from auditor.common.inputs import read_input_text

    return read_input_text(path, kind)


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, Locator]:
    """Parse a YAML file; return plain Python data and a function from field path to line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from auditor.common.yamlbounds import check_yaml_bounds

    name = str(path)
    if text is None:
        text = read_text(path)
    check_yaml_bounds(text, name)
    parser = YAML(typ="rt")
    parser.allow_duplicate_keys = False
    try:
        doc = parser.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InputError(f"invalid YAML: {problem}", path=name, line=line) from None
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise InputError(f"invalid YAML: {exc}".splitlines()[0], path=name) from None
    return _plain(doc), _yaml_locator(doc)


def _lazy_locator(path: str, text: str) -> Locator:
    """A locator that parses the file with line numbers only when first asked."""
    found: list[Locator] = []

    def locate(where: Sequence[Any]) -> int | None:
        if not found:
            found.append(load_yaml(path, text)[1])
        return found[0](where)

    return locate


def load_yaml_validated(path: str | Path, schema_name: str,
                        parse: Callable[[str | Path], tuple[Any, Locator]] = load_yaml,
                        prepare: Callable[[Any], Any] | None = None,
                        ) -> tuple[Any, Locator]:
    """Read a YAML file with libyaml and validate it against a shipped schema. When libyaml
    cannot read it, ``parse`` (ruamel, with line numbers) reads it or says where it breaks;
    lines of schema errors come from ruamel too, parsed only then. ``prepare`` turns what
    was read into what the schema checks (whichever parser read it)."""
    from auditor.common.fastyaml import FastYAMLError, load_fast
    from auditor.common.yamlbounds import check_yaml_bounds

    text = read_text(path)
    check_yaml_bounds(text, str(path))
    try:
        data = load_fast(text)
        locate = _lazy_locator(str(path), text)
    except FastYAMLError:
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
def _compiled(name: str, key: tuple[tuple[str, tuple[str, ...]], ...]
              ) -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(_schema_with_names(name, key))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    """The validator of a shipped schema (with the map's names), built once per map."""
    return _compiled(name, _names_key(name))


def _describe_all(error: jsonschema.ValidationError
                  ) -> Iterator[tuple[list[Any], str, str | None]]:
    """(field path, problem, expected) for each field an error is about: a missing field
    and an unknown field each, when one error names several."""
    path = list(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "required":
        missing = [p for p in error.validator_value if isinstance(value, dict) and p not in value]
        for field in missing or ["?"]:
            yield [*path, field], "is required but missing", schema.get("description")
        return
    if kind == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extra = sorted((k for k in value if k not in allowed), key=str) if isinstance(
            value, dict) else []
        for extra_name in extra or ["?"]:
            yield ([*path, extra_name], "unknown field",
                   "one of: " + ", ".join(allowed) if allowed else "no fields")
        return
    yield _describe(error)


def _describe(error: jsonschema.ValidationError) -> tuple[list[Any], str, str | None]:
    path = list(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "enum":
        return path, f"{value!r} is not allowed", "one of: " + ", ".join(
            str(v) for v in error.validator_value)
    if kind == "const":
        return path, f"{value!r} is not allowed", repr(error.validator_value)
    if kind == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        if expected == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return path, f"{value!r} is a number; write it in quotes", "text, e.g. \"11.5(1)\""
        return path, f"{value!r} has the wrong type", f"{expected}"
    if kind == "pattern":
        return path, f"{value!r} has the wrong form", schema.get(
            "description") or f"text matching {error.validator_value}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return path, f"{value!r} is out of range", f"{kind} {error.validator_value}"
    if kind in ("minItems", "maxItems", "minLength", "maxLength", "minProperties"):
        return path, f"too short or too long ({kind} {error.validator_value})", schema.get(
            "description")
    if kind == "propertyNames":
        return path, "has a key that is not allowed", schema.get("description")
    if kind in ("oneOf", "anyOf"):
        return path, "does not match any allowed form", schema.get("description")
    return path, error.message, schema.get("description")


def _fast_validator(name: str) -> Any:
    """The happy path: jsonschema-rs, compiled in Rust, answers only *valid or not*, about
    ten times faster than jsonschema and without its import (attrs, referencing, format
    checkers). Formats are not checked, as jsonschema does not check them by default."""
    return _fast_compiled(name, _names_key(name))


@cache
def _fast_compiled(name: str, key: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(_schema_with_names(name, key),
                                              validate_formats=False)


def is_valid(instance: Any, schema_name: str) -> bool:
    """Whether ``instance`` passes a shipped schema by jsonschema-rs. Where it cannot tell
    (data it cannot convert) or says no, the caller asks jsonschema, whose answer is the
    one that counts and which describes the errors: a regular expression that reads
    differently in Rust can make this stricter, never more lenient."""
    try:
        return bool(_fast_validator(schema_name).is_valid(instance))
    except Exception:  # any doubt goes to jsonschema
        return False


#: At most this many problems of one file are listed, one line each (then how many more).
LISTED_PROBLEMS = 20


def validate(instance: Any, schema_name: str, *, path: str, locate: Locator | None = None) -> None:
    """Check ``instance`` against a shipped schema; raise an error that lists every problem
    (by line, at most :data:`LISTED_PROBLEMS`, one line each, each with its line and
    field). Data
    that JSON cannot carry (NaN, infinities, lone surrogates) is refused first, wherever
    it was read from."""
    check_values(instance, path=path, locate=locate)
    if is_valid(instance, schema_name):
        return
    errors = list(_validator(schema_name).iter_errors(instance))
    if not errors:
        return
    described = []
    for error in errors:
        for field_path, message, expected in _describe_all(error):
            line = locate(field_path) if locate else None
            described.append((line or 0, field_name(field_path), message, expected))
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

