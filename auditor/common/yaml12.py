"""YAML as the tool reads it: PyYAML (libyaml's C parser when it is there) with YAML 1.2
scalars, duplicate keys refused, and the line of every key and item taken from the
composed nodes.

PyYAML resolves plain scalars by YAML 1.1: ``on``, ``off``, ``yes``, ``no`` become
booleans, ``010`` is octal eight and ``1:20`` is sexagesimal eighty. The rule files,
playbooks and inventories are YAML 1.2 (``on`` is text, ``010`` is ten), so this loader
carries the YAML 1.2 core schema's resolvers instead of PyYAML's (``tests/test_yaml12.py``
spells out each scalar where the two versions disagree). A tag the loader has no
constructor for (``!foo``, ``!!python/object``) is an error with its line, never built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml: the same rules, in pure Python
    _BaseLoader = yaml.SafeLoader

#: The implicit resolvers of YAML 1.2 plain scalars: (tag, pattern, first characters; ""
#: is the empty scalar).
RESOLVERS_1_2: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", tuple("tTfF")),
    ("tag:yaml.org,2002:float", r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", tuple("-+0123456789.")),
    ("tag:yaml.org,2002:int", r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""", tuple("-+0123456789")),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", tuple("<")),
    ("tag:yaml.org,2002:null", r"""^(?: ~
        |null|Null|NULL
        | )$""", ("~", "n", "N", "")),
    ("tag:yaml.org,2002:timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", tuple("0123456789")),
)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser, YAML 1.2 scalars, duplicate keys refused."""

    # none inherited: only the YAML 1.2 resolvers below
    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """YAML 1.2: ``0o17`` octal, ``010`` decimal ten, ``_`` ignored."""
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text, 10)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # a list or a mapping as key
                raise ConstructorError(None, None, "unhashable key", key_node.start_mark
                                       ) from None
            if duplicate:
                raise ConstructorError(None, None, f'found duplicate key "{key}"',
                                       key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


for _tag, _pattern, _first in RESOLVERS_1_2:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern, re.X), list(_first))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)

def _plain(item: Any) -> Any:
    """Keys as JSON and the schemas take them: text, numbers and booleans; others as text."""
    if isinstance(item, dict):
        return {k if isinstance(k, (str, int, float, bool)) else str(k): _plain(v)
                for k, v in item.items()}
    if isinstance(item, list):
        return [_plain(v) for v in item]
    return item


def _key(loader: _Loader, node: Node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return None


def _line_of(loader: _Loader, root: Node | None, path: Sequence[Any]) -> int | None:
    """The line (1-based) of the deepest key or item of ``path`` found in the nodes."""
    node, line = root, None
    for part in path:
        if isinstance(node, MappingNode):
            found = None
            for key_node, value_node in node.value:  # a key after a merge ('<<') wins
                key = _key(loader, key_node)
                if key is not None and (key == part or (
                        not isinstance(key, (str, int, float, bool)) and str(key) == part)):
                    found = key_node, value_node
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and \
                0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and isinstance(root, (MappingNode, SequenceNode)):
        line = root.start_mark.line + 1
    return line


def load(text: str) -> Any:
    """The plain data of one YAML document (None for an empty one). Raises what PyYAML
    raises (a :class:`yaml.MarkedYAMLError` carries the line), or ValueError, TypeError,
    OverflowError or RecursionError for a value Python cannot build."""
    return _plain(yaml.load(text, Loader=_Loader))  # a SafeLoader subclass


def locator(text: str) -> Callable[[Sequence[Any]], int | None]:
    """A function from a field path (``('nodes', 0, 'role')``) to the line of that field
    in ``text``, which :func:`load` read; the nodes are composed when first asked (only
    an error needs a line), and a path that leaves the nodes gets the line of its last
    field found."""
    found: list[tuple[_Loader, Node | None]] = []

    def locate(path: Sequence[Any]) -> int | None:
        if not found:
            loader = _Loader(text)
            try:
                root = loader.get_single_node()
                if root is not None:
                    loader.construct_document(root)  # merges ('<<') become keys
            except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
                root = None
            finally:
                loader.dispose()
            found.append((loader, root))
        return _line_of(*found[0], path)

    return locate
