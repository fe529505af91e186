"""UCCX version strings such as ``11.5(1)SU1``, compared as numbers."""

from __future__ import annotations

import re
from functools import total_ordering

from auditor.common.errors import InputError

#: Numbers of at most 9 digits (a 5,000-digit "version" is an input error, not Python's
#: int-digits ValueError); whole-string matches only (``$`` would allow a final newline).
_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})(?:\((\d{1,9})\))?(?:([A-Za-z]{1,16})(\d{0,9}))?")
#: What ``show version active`` prints: ``11.5.1.10000-61``, an ES build with a suffix
#: such as ``11.5.1.10000-61 ES03`` / ``-ES03`` / ``.ES03``.
_VOS_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})\.(\d{1,9})\.(\d{1,9})-(\d{1,9})"
                          r"(?:[ ._-]?(ES)(\d{1,9}))?", re.IGNORECASE)


@total_ordering
class Version:
    """A parsed UCCX version; ``11.5(1)SU2`` sorts after ``11.5(1)`` and before ``11.6``."""

    __slots__ = ("key", "stated", "text")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        shown = text if len(text) <= 40 else text[:30] + "..."
        vos = _VOS_VERSION.fullmatch(self.text)
        if vos:
            # 11.5.1.10000-61 is 11.5(1); the build and an ES number only order builds of
            # the same release among themselves
            major, minor, maint, build, revision, _es, es = vos.groups()
            self.key = (int(major), int(minor), int(maint), 0, int(build), int(revision),
                        int(es or 0))
            self.stated = 3
            return
        match = _VERSION.fullmatch(self.text)
        if not match:
            raise InputError(f"{shown!r} is not a UCCX version",
                             expected='a version such as "11.5(1)", "11.5(1)SU1", "12.5" or '
                             'as show version active prints it, "11.5.1.10000-61"')
        major, minor, maint, _tag, patch = match.groups()
        self.key = (int(major), int(minor), int(maint or 0), int(patch or 0) if _tag else 0,
                    0, 0, 0)
        #: how many of major, minor and maintenance release the text states ("12.5": two)
        self.stated = 2 if maint is None else 3

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

    def same_release(self, other: Version) -> bool:
        """Whether both can name the same release: equal in the major, minor and maintenance
        numbers that both state. ``11.5(1)`` and ``11.5.1.10000-61`` do (the build number
        and an SU are not comparable: neither form names the other's); ``12.5(1)`` and
        ``11.5.1.10000-61`` do not; ``12.5`` states no maintenance release."""
        stated = min(self.stated, other.stated)
        return self.key[:stated] == other.key[:stated]


def vos_form(text: str) -> bool:
    """Whether ``text`` is a version as ``show version active`` prints it
    (``11.5.1.10000-61``, an ES build too)."""
    return _VOS_VERSION.fullmatch(text.strip()) is not None


#: The version a change moves to when the user names none (``--phase pre``): the tool's
#: whole purpose is the upgrade to 11.5, which creates ``tomcat-ECDSA`` (docs/domain.md).
DEFAULT_TARGET_VERSION = "11.5(1)"


def uses_ecdsa(version: Version) -> bool:
    """11.5(x) is the only release that presents ``tomcat-ECDSA`` (docs/domain.md, "Who presents
    which certificate")."""
    return version.release == (11, 5)
