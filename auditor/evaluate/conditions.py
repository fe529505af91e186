"""The rule condition language: a closed set of operators looked up in a table, no eval.

A condition is either a combinator (``all: [...]``, ``any: [...]``, ``not: {...}``) or a
test ``{fact: <path>, <operator>: <value>}``. ``<value>`` may be ``{fact: <path>}`` to
compare two facts. A test whose fact is missing (null) is false, except ``exists``.
Paths are checked against the facts the rule's scope can see when the rule is loaded; prose
meant for messages is no fact, and a message names it under ``text.``. ``matches`` is a
bounded glob (:func:`glob_match`), never a regular expression.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from auditor.common.errors import InputError
from auditor.common.validation import Locator, field_name
from auditor.model.versions import Version

#: The prefix under which a message names prose (``{text.endpoint.browser.description}``).
TEXT_PREFIX = "text"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _version(value: Any) -> Version | None:
    if not isinstance(value, str):
        return None
    try:
        return Version(value)
    except InputError:
        return None


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda fact, value: _number(fact) and _number(value) and test(fact, value)


def _versions(test: Callable[[Version, Version], bool]) -> Callable[[Any, Any], bool]:
    def apply(fact: Any, value: Any) -> bool:
        left, right = _version(fact), _version(value)
        return left is not None and right is not None and test(left, right)
    return apply


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


#: The longest ``matches`` pattern a rule may hold, and the longest text it is tried on: a
#: longer text (a hostile certificate field) never matches.
MAX_PATTERN = 256
MAX_SUBJECT = 4096
_ANY_ONE = object()  # '?' in a pattern


def glob_segments(pattern: Any) -> tuple[tuple[Any, ...], ...] | None:
    """A ``matches`` pattern split at each ``*`` into segments of characters and ``?``;
    None when it is not a pattern: not a text, empty, longer than :data:`MAX_PATTERN`, or
    with a ``\\`` escaping anything but ``*``, ``?`` or ``\\``."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN:
        return None
    segments: list[tuple[Any, ...]] = []
    current: list[Any] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in ("*", "?", "\\"):
                return None
            current.append(escaped)
        elif char == "*":
            segments.append(tuple(current))
            current = []
        else:
            current.append(_ANY_ONE if char == "?" else char)
    segments.append(tuple(current))
    return tuple(segments)


def _fits(segment: tuple[Any, ...], text: str, at: int) -> bool:
    return (at + len(segment) <= len(text)
            and all(c is _ANY_ONE or text[at + i] == c for i, c in enumerate(segment)))


def _find(segment: tuple[Any, ...], text: str, start: int, end: int) -> int:
    """The leftmost place in ``text[start:end]`` where the segment fits, or -1. The
    segment's longest literal run is looked for with :meth:`str.find`, the rest checked
    there."""
    best, offset, run = "", 0, ""
    for i, char in enumerate((*segment, _ANY_ONE)):
        if char is _ANY_ONE:
            if len(run) > len(best):
                best, offset = run, i - len(run)
            run = ""
        else:
            run += char
    if not best:  # only '?': the first place it fits at all
        return start if start + len(segment) <= end else -1
    at = text.find(best, start + offset, end)
    while at != -1 and at - offset + len(segment) <= end:
        if _fits(segment, text, at - offset):
            return at - offset
        at = text.find(best, at + 1, end)
    return -1


def glob_match(segments: tuple[tuple[Any, ...], ...], text: str) -> bool:
    """Does ``text`` match the pattern (:func:`glob_segments`): ``*`` any run of characters,
    ``?`` any one, everything else itself (case counts)? Each segment between two ``*`` is
    placed at its leftmost fit after the previous one, which is where a match can be found
    if there is one; no backtracking, so the work is bounded by the text's length times
    the pattern's, both bounded."""
    if len(text) > MAX_SUBJECT:
        return False
    if len(segments) == 1:
        return len(text) == len(segments[0]) and _fits(segments[0], text, 0)
    first, *middle, last = segments
    start, end = len(first), len(text) - len(last)
    if end < start or not _fits(first, text, 0) or not _fits(last, text, end):
        return False
    for segment in middle:
        at = _find(segment, text, start, end)
        if at == -1:
            return False
        start = at + len(segment)
    return True


def _matches(fact: Any, value: Any) -> bool:
    segments = glob_segments(value)
    if segments is None:
        return False
    texts = fact if isinstance(fact, list) else [fact]
    return any(isinstance(t, str) and glob_match(segments, t) for t in texts[:MAX_SUBJECT])


@dataclass(frozen=True)
class Operator:
    """One operator: what its value must be, and how it is applied to a fact."""

    name: str
    takes: str
    check: Callable[[Any], bool]
    apply: Callable[[Any, Any], bool]
    meaning: str


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("equals", "a text, number, true/false or null", _scalar,
             lambda fact, value: fact is not None and fact == value,
             "the fact equals the value"),
    Operator("not_equals", "a text, number, true/false or null", _scalar,
             lambda fact, value: fact is not None and fact != value,
             "the fact is present and differs from the value"),
    Operator("in", "a list of texts or numbers", _is_list,
             lambda fact, value: fact is not None and isinstance(value, list) and fact in value,
             "the fact is one of the listed values"),
    Operator("not_in", "a list of texts or numbers", _is_list,
             lambda fact, value: (fact is not None and isinstance(value, list)
                                  and fact not in value),
             "the fact is present and none of the listed values"),
    Operator("less_than", "a number", _number, _compare(lambda a, b: a < b),
             "the fact is a number below the value"),
    Operator("at_most", "a number", _number, _compare(lambda a, b: a <= b),
             "the fact is a number no larger than the value"),
    Operator("greater_than", "a number", _number, _compare(lambda a, b: a > b),
             "the fact is a number above the value"),
    Operator("at_least", "a number", _number, _compare(lambda a, b: a >= b),
             "the fact is a number no smaller than the value"),
    Operator("contains", "a text or number", _scalar,
             lambda fact, value: isinstance(fact, list) and value is not None and value in fact,
             "the fact is a list holding the value"),
    Operator("intersects", "a list", _is_list,
             lambda fact, value: (isinstance(fact, list) and isinstance(value, list)
                                  and bool(set(fact) & set(value))),
             "the fact is a list sharing at least one item with the value"),
    Operator("beyond", "a list", _is_list,
             lambda fact, value: (isinstance(fact, list) and isinstance(value, list)
                                  and bool(set(map(str, fact)) - set(map(str, value)))),
             "the fact is a list holding at least one item the value does not list"),
    Operator("exists", "true or false", lambda v: isinstance(v, bool),
             lambda fact, value: (fact is not None) == value,
             "the fact is present (true) or missing (false)"),
    Operator("matches", f"a pattern of at most {MAX_PATTERN} characters: * any run, "
             "? any one character, \\* \\? \\\\ themselves",
             lambda v: glob_segments(v) is not None,
             _matches, "the fact is a text (or a list holding one) that the pattern matches "
             "whole, case counting; a text longer than "
             f"{MAX_SUBJECT} characters never matches"),
    Operator("version_below", 'a UCCX version such as "11.6"', lambda v: _version(v) is not None,
             _versions(lambda a, b: a < b), "the fact is a UCCX version before the value"),
    Operator("version_at_least", 'a UCCX version such as "11.5"',
             lambda v: _version(v) is not None, _versions(lambda a, b: a >= b),
             "the fact is a UCCX version equal to or after the value"),
)}

COMBINATORS = {
    "all": "every condition in the list holds",
    "any": "at least one condition in the list holds",
    "not": "the condition does not hold",
}


class Condition:
    """A compiled condition; ``holds(view)`` looks facts up in nested dicts."""

    def holds(self, view: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def facts(self) -> list[str]:
        """Every fact path the condition reads."""
        raise NotImplementedError

    def text(self) -> str:
        """The condition in one line, for the catalogue."""
        raise NotImplementedError


@dataclass(frozen=True)
class _All(Condition):
    items: tuple[Condition, ...]

    def holds(self, view: Mapping[str, Any]) -> bool:
        return all(item.holds(view) for item in self.items)

    def facts(self) -> list[str]:
        return [p for item in self.items for p in item.facts()]

    def text(self) -> str:
        return " and ".join(_grouped(item) for item in self.items)


@dataclass(frozen=True)
class _Any(Condition):
    items: tuple[Condition, ...]

    def holds(self, view: Mapping[str, Any]) -> bool:
        return any(item.holds(view) for item in self.items)

    def facts(self) -> list[str]:
        return [p for item in self.items for p in item.facts()]

    def text(self) -> str:
        return " or ".join(_grouped(item) for item in self.items)


@dataclass(frozen=True)
class _Not(Condition):
    item: Condition

    def holds(self, view: Mapping[str, Any]) -> bool:
        return not self.item.holds(view)

    def facts(self) -> list[str]:
        return self.item.facts()

    def text(self) -> str:
        return f"not {_grouped(self.item)}"


@dataclass(frozen=True)
class _Test(Condition):
    fact: str
    operator: Operator
    value: Any
    value_fact: str | None

    def holds(self, view: Mapping[str, Any]) -> bool:
        value = lookup(view, self.value_fact) if self.value_fact else self.value
        return self.operator.apply(lookup(view, self.fact), value)

    def facts(self) -> list[str]:
        return [self.fact] + ([self.value_fact] if self.value_fact else [])

    def text(self) -> str:
        value = self.value_fact or json.dumps(self.value, allow_nan=False)
        return f"{self.fact} {self.operator.name} {value}"


def _grouped(item: Condition) -> str:
    return f"({item.text()})" if isinstance(item, (_All, _Any)) else item.text()


def lookup(view: Mapping[str, Any], path: str) -> Any:
    """``a.b.c`` in nested dicts; None where anything on the way is missing."""
    node: Any = view
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


@cache
def _known_paths(fields: tuple[str, ...]) -> frozenset[str]:
    """Every field and every path leading to one (``node``, ``node.peer``...); the same few
    field lists serve every rule, so each is worked out once."""
    return frozenset(fields) | {
        ".".join(f.split(".")[:i]) for f in fields for i in range(1, f.count(".") + 1)}


class Compiler:
    """Compiles one rule's condition, raising one-line errors that name file, line, field."""

    def __init__(self, *, path: str, locate: Locator, fields: Sequence[str],
                 field_hint: str, prose: Collection[str] = ()) -> None:
        self.path = path
        self.prose = frozenset(prose)
        self.locate = locate
        self.fields = tuple(fields)
        self._known = _known_paths(self.fields)
        self.field_hint = field_hint

    def error(self, where: list[Any], message: str, expected: str | None = None) -> InputError:
        return InputError(message, path=self.path, line=self.locate(where),
                          field=field_name(where), expected=expected)

    def check_path(self, path: Any, where: list[Any]) -> str:
        if not isinstance(path, str) or not path:
            raise self.error(where, f"{path!r} is not a fact path", "text such as node.role")
        prose = path.split(".", 1)[1] if path.startswith(f"{TEXT_PREFIX}.") else path
        if path not in self._known and prose in self.prose:
            raise self.error(where, f"{prose!r} is prose for messages ({{{TEXT_PREFIX}."
                             f"{prose}}}), not a fact: a condition sees facts only",
                             f"one of the facts {self.field_hint}")
        if path not in self._known:

            close = difflib.get_close_matches(path, self.fields, n=1, cutoff=0.6)
            hint = f"{close[0]}; " if close else ""
            raise self.error(where, f"unknown fact {path!r}",
                             f"{hint}one of the fields {self.field_hint}")
        return path

    def compile(self, node: Any, where: list[Any]) -> Condition:
        if not isinstance(node, dict) or not node:
            raise self.error(where, "a condition must be a mapping",
                             "{fact: PATH, OPERATOR: VALUE} or one of: all, any, not")
        combinators = [k for k in node if k in COMBINATORS]
        if combinators:
            return self._combinator(node, combinators[0], where)
        if "fact" not in node:
            unknown = next(iter(node))
            raise self.error([*where, unknown], f"unknown operator {unknown!r}",
                             "one of: " + ", ".join([*COMBINATORS, "fact"]))
        fact = self.check_path(node["fact"], [*where, "fact"])
        operators = [k for k in node if k != "fact"]
        if not operators:
            raise self.error([*where, "fact"], "a test needs an operator",
                             "one of: " + ", ".join(OPERATORS))
        if len(operators) > 1:
            raise self.error([*where, operators[1]], "one operator per test; use all/any "
                             "to combine tests", "one of: " + ", ".join(OPERATORS))
        name = operators[0]
        operator = OPERATORS.get(name)
        if operator is None:
            raise self.error([*where, name], f"unknown operator {name!r}",
                             "one of: " + ", ".join(OPERATORS))
        value = node[name]
        if isinstance(value, dict):
            if set(value) != {"fact"} or operator.name in ("exists", "matches"):
                raise self.error([*where, name], "a value mapping may only be {fact: PATH}",
                                 operator.takes)
            return _Test(fact, operator, None, self.check_path(value["fact"],
                                                               [*where, name, "fact"]))
        if not operator.check(value):
            raise self.error([*where, name], f"{value!r} does not suit {name}", operator.takes)
        if isinstance(value, list) and not all(_scalar(v) for v in value):
            raise self.error([*where, name], "list items must be texts or numbers",
                             operator.takes)
        return _Test(fact, operator, value, None)

    def _combinator(self, node: dict[str, Any], name: str, where: list[Any]) -> Condition:
        extra = [k for k in node if k != name]
        if extra:
            raise self.error([*where, extra[0]], f"{name!r} cannot be combined with other keys "
                             "in the same mapping", f"only {name}")
        body = node[name]
        if name == "not":
            return _Not(self.compile(body, [*where, name]))
        if not isinstance(body, list) or not body:
            raise self.error([*where, name], f"{name} needs a non-empty list of conditions",
                             f"{name}: [condition, ...]")
        items = tuple(self.compile(item, [*where, name, i]) for i, item in enumerate(body))
        return _All(items) if name == "all" else _Any(items)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholders(template: str) -> list[str]:
    """The ``{path}`` placeholders of a message template."""
    return _PLACEHOLDER.findall(template)


def render(template: str, view: Mapping[str, Any]) -> str:
    """Fill ``{path}`` placeholders from the view (``{text.path}``: the prose at ``path``):
    lists joined, missing values 'unknown'."""
    def one(match: re.Match[str]) -> str:
        path = match.group(1)
        if path.startswith(f"{TEXT_PREFIX}."):
            path = path.split(".", 1)[1]
        value = lookup(view, path)
        if value is None:
            return "unknown"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        return str(value)
    return " ".join(_PLACEHOLDER.sub(one, template).split())
