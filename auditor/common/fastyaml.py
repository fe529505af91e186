"""YAML through libyaml (PyYAML's C loader), reading scalars as ruamel's YAML 1.2 does.

PyYAML resolves plain scalars by YAML 1.1: ``on``, ``off``, ``yes``, ``no`` become
booleans, ``010`` is octal eight and ``1:20`` is sexagesimal eighty. The rule files and
inventories are read by ruamel (YAML 1.2) when an error must be located, and both readers
must give the same data, so this loader carries ruamel's YAML 1.2 resolvers (copied from
``ruamel.yaml.resolver``; ``tests/test_fastyaml.py`` compares them and the data of every
shipped file). Whatever this loader does not read exactly as ruamel would (a ``%YAML``
directive, a duplicate key, a tag it has no constructor for) raises
:class:`FastYAMLError`, and the caller reads the file with ruamel instead.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml: the same rules, in pure Python
    _BaseLoader = yaml.SafeLoader

#: ruamel's implicit resolvers for YAML 1.2: (tag, pattern, first characters; "" is the
#: empty scalar).
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
    ("tag:yaml.org,2002:value", r"^(?:=)$", tuple("=")),
)


class FastYAMLError(Exception):
    """This loader cannot read the text exactly as ruamel would; ask ruamel."""


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser, YAML 1.2 scalars, duplicate keys refused."""

    # none inherited: only the YAML 1.2 resolvers below
    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """YAML 1.2 as ruamel reads it: ``0o17`` octal, ``010`` decimal ten, ``_`` ignored."""
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
            except TypeError:  # an unhashable key: let ruamel say what it makes of it
                raise ConstructorError(None, None, "unhashable key", key_node.start_mark
                                       ) from None
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}",
                                       key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


for _tag, _pattern, _first in RESOLVERS_1_2:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern, re.X), list(_first))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)

_DIRECTIVE = re.compile(r"^%", re.M)


def _plain(item: Any) -> Any:
    """Keys as ruamel's reader leaves them: text, numbers and booleans; others as text."""
    if isinstance(item, dict):
        return {k if isinstance(k, (str, int, float, bool)) else str(k): _plain(v)
                for k, v in item.items()}
    if isinstance(item, list):
        return [_plain(v) for v in item]
    return item


def load_fast(text: str) -> Any:
    """The plain data of one YAML document, or :class:`FastYAMLError`."""
    if _DIRECTIVE.search(text):  # %YAML 1.1 would change how ruamel resolves scalars
        raise FastYAMLError("a directive")
    try:
        return _plain(yaml.load(text, Loader=_Loader))  # a SafeLoader subclass
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FastYAMLError(str(exc)) from None
