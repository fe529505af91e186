"""Bounds on a YAML document before the parser builds it: aliases (how many, and how
large the document would be with every alias expanded: a "billion laughs" file is a few
lines that expand without end), nesting depth (a rule nested 400 deep would exhaust
Python's recursion in the validator and the condition compiler)."""

from __future__ import annotations

import yaml

from auditor.common.errors import InputError

#: More than any real inventory, rule or waivers file holds.
MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 1_000_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_yaml_bounds(text: str, path: str) -> None:
    """Raise an :class:`InputError` naming the line when ``text`` exceeds a bound. A text
    that is not YAML is left to the parsers to report."""
    aliases = 0
    anchors: dict[str, int] = {}
    # per open collection: [anchor, size so far]
    stack: list[list] = [[None, 0]]
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append([event.anchor, 1])
                if len(stack) - 1 > MAX_DEPTH:
                    raise InputError(f"nested more than {MAX_DEPTH} levels deep",
                                     path=path, line=event.start_mark.line + 1,
                                     expected="a flatter document")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, size = stack.pop()
                if anchor is not None:
                    anchors[anchor] = size
                stack[-1][1] += size
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    anchors[event.anchor] = 1
                stack[-1][1] += 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise InputError(f"more than {MAX_ALIASES} aliases (*name)", path=path,
                                     line=event.start_mark.line + 1,
                                     expected="a document without an alias bomb")
                stack[-1][1] += anchors.get(event.anchor, 1)
            else:
                continue
            if sum(size for _, size in stack) > MAX_EXPANDED_NODES:
                raise InputError(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} "
                                 "values", path=path, line=event.start_mark.line + 1,
                                 expected="a document without an alias bomb")
    except yaml.YAMLError:
        return
