"""A small on-disk cache for work that depends only on the bytes of its inputs.

Parsing the rule files and an inventory with line numbers (ruamel's round-trip parser) took
longer than probing a whole cluster. What a file parsed *and validated* to is therefore
kept, under a key made of the tool version and the exact bytes of the file and its schema:
a changed byte is a different key, so nothing stale can be read back. A file that fails to
parse or validate is never stored, so every error still comes from the full parse, with its
line numbers.

The cache lives in ``$XDG_CACHE_HOME/uccx-audit`` (default ``~/.cache/uccx-audit``);
``UCCX_AUDIT_CACHE=off`` turns it off. It is best effort: an unwritable or corrupt cache
costs the time it would have saved and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from auditor import __version__


def cache_dir() -> Path | None:
    """Where cached results live, or None when caching is off."""
    if os.environ.get("UCCX_AUDIT_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "uccx-audit"


def key(kind: str, *parts: bytes) -> str:
    """A key for ``kind`` of work on exactly these inputs, with this version of the tool."""
    digest = hashlib.sha256(f"{kind}\0{__version__}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _path(kind: str, name: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / kind / f"{name}.json"


def get_json(kind: str, name: str) -> Any | None:
    """The value stored under ``name``, or None."""
    path = _path(kind, name)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put_json(kind: str, name: str, value: Any) -> None:
    """Store a JSON value under ``name`` if it survives the round trip unchanged."""
    path = _path(kind, name)
    if path is None:
        return
    try:
        text = json.dumps({"value": value}, ensure_ascii=False, separators=(",", ":"))
        if json.loads(text)["value"] != value:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except (OSError, TypeError, ValueError):
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
