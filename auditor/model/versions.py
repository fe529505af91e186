"""UCCX version strings such as ``11.5(1)SU1``, compared as numbers."""

from __future__ import annotations

import re
from functools import total_ordering

from auditor.common.errors import InputError

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\((\d+)\))?(?:([A-Za-z]+)(\d*))?$")
#: What ``show version active`` prints: ``11.5.1.10000-61``, an ES build with a suffix
#: such as ``11.5.1.10000-61 ES03`` / ``-ES03`` / ``.ES03``.
_VOS_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)-(\d+)(?:[ ._-]?(ES)(\d+))?$",
                          re.IGNORECASE)


@total_ordering
class Version:
    """A parsed UCCX version; ``11.5(1)SU2`` sorts after ``11.5(1)`` and before ``11.6``."""

    __slots__ = ("key", "text")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        vos = _VOS_VERSION.match(self.text)
        if vos:
            # 11.5.1.10000-61 is 11.5(1); the build and an ES number only order builds of
            # the same release among themselves
            major, minor, maint, build, revision, _es, es = vos.groups()
            self.key = (int(major), int(minor), int(maint), 0, int(build), int(revision),
                        int(es or 0))
            return
        match = _VERSION.match(self.text)
        if not match:
            raise InputError(f"{text!r} is not a UCCX version",
                             expected='a version such as "11.5(1)", "11.5(1)SU1", "12.5" or '
                             'as show version active prints it, "11.5.1.10000-61"')
        major, minor, maint, _tag, patch = match.groups()
        self.key = (int(major), int(minor), int(maint or 0), int(patch or 0) if _tag else 0,
                    0, 0, 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    @property
    def release(self) -> tuple[int, int]:
        """Major and minor, e.g. ``(11, 5)``."""
        return self.key[0], self.key[1]


def uses_ecdsa(version: Version) -> bool:
    """11.5(x) is the only release that presents ``tomcat-ECDSA`` (docs/domain.md, "Who presents
    which certificate")."""
    return version.release == (11, 5)
