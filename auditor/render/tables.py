"""Terminal tables: tabulate, imported by the first table a command prints rather than by
every command that imports a renderer (tabulate with wcwidth and importlib.metadata costs
~15-30 ms at start-up; ``rules --format json`` or ``report --format md`` print none)."""

from __future__ import annotations

from typing import Any


def tabulate(rows: Any, **options: Any) -> str:
    """:func:`tabulate.tabulate` of ``rows``, with its keyword options."""
    from tabulate import tabulate as _tabulate

    return str(_tabulate(rows, **options))
