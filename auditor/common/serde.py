"""Frozen dataclasses to JSON-able data and back, driven by their type hints."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Dataclasses become dicts, tuples become lists; everything else must be JSON already."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_jsonable(kind: Any, data: Any, where: str = "") -> Any:
    """Rebuild a value of type ``kind`` from :func:`to_jsonable` output."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return from_jsonable(inner[0], data, where)
    if kind is Any:
        return data
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        return kind(**{name: from_jsonable(hints[name], data[name], f"{where}.{name}")
                       for name in names if name in data})
    if origin is tuple:
        (item, *_rest) = get_args(kind)
        return tuple(from_jsonable(item, v, where) for v in data)
    if origin is list:
        return [from_jsonable(get_args(kind)[0], v, where) for v in data]
    if origin in (dict, Mapping):
        _key, item = get_args(kind)
        return {k: from_jsonable(item, v, where) for k, v in data.items()}
    if kind is float and isinstance(data, int):
        return float(data)
    return data
