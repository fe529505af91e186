"""Where the data files that ship with the tool live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
_CHECKOUT = _PACKAGE.parent


def _data_dir(installed: str, checkout: str) -> Path:
    shipped = _PACKAGE / "_data" / installed
    if shipped.is_dir():
        return shipped
    return _CHECKOUT / checkout


def rules_dir() -> Path:
    """The built-in rule files (``rules/`` in a checkout, ``auditor/_data/rules`` in a wheel)."""
    return _data_dir("rules", "rules")


def templates_dir() -> Path:
    """The Jinja2 report templates."""
    return _data_dir("templates", "reports/templates")


def schema_path(name: str) -> Path:
    """A JSON Schema shipped inside the package, e.g. ``facts`` or ``inventory``."""
    return _PACKAGE / "schemas" / f"{name}.schema.json"
