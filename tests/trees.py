"""A folder tree's state, to show that a command left every file as it was."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def tree(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed): its kind, mode and content hash
    (a link: its target)."""
    found: dict[str, tuple] = {}
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            path = Path(root) / name
            info = os.lstat(path)
            key = str(path.relative_to(folder))
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                found[key] = ("file", stat.S_IMODE(info.st_mode),
                              hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[key] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode))
    return found
