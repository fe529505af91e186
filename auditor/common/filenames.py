"""Names as users write them, made into file names that every file system keeps apart.

A cluster called "Zürich" may arrive composed (NFC) or decomposed (NFD); both are the same
name, and macOS may hand either back. Windows and macOS compare names without case, Windows
drops trailing dots and spaces and reserves device names (``CON``, ``NUL``, ``COM1``...).
So two names are *alike* when they agree after compatibility normalisation, case folding
and dropping trailing dots and spaces (:func:`name_key`): no two files of a set may be
alike, and no file may be alike a name the set reserves for itself.

The same key tells whether a name in a zip archive stands for the same file as another
one (a forged second ``report.html``, a ``Report.html``, a ``./report.html``), and
:func:`member_problem` says why a name in an archive could land outside its folder.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

#: Device names Windows reserves in every folder, with any extension (``nul.txt``),
#: compared after :func:`name_key` (so ``COM¹`` is ``com1``).
WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", "clock$", "conin$", "conout$",
                             *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))})

#: The longest file name made from a user's text, in UTF-8 bytes (file systems allow 255;
#: the rest of the path needs room too, Windows counts the whole path).
MAX_NAME_BYTES = 96

_ALLOWED_PUNCTUATION = "-_."
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: Letters and marks that show nothing (default-ignorable: fillers, variation selectors,
#: the combining grapheme joiner): a name made of them would look empty.
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164"
                        "\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")


def nfc(text: str) -> str:
    """``text`` composed (NFC): the form a name is compared and written in."""
    return unicodedata.normalize("NFC", text)


def name_key(name: str) -> str:
    """What a case-insensitive, normalising file system sees of ``name`` (a path with
    ``/`` or ``\\`` between its parts, read up to a NUL as C and ``zipfile`` read it): two
    names with one key are the same file there."""
    name = name.split("\0", 1)[0]
    folded = unicodedata.normalize("NFKC", name.replace("\\", "/")).casefold()
    parts = [part.rstrip(" .") for part in folded.split("/")]
    return "/".join(part for part in parts if part)


def windows_device(name: str) -> bool:
    """Whether Windows takes ``name`` (any extension) for a device, not a file."""
    stem = name_key(name).split(".")[0].rstrip(" ")
    return stem in WINDOWS_DEVICES


def _kept(char: str, first: bool) -> bool:
    if _INVISIBLE.match(char):
        return False
    category = unicodedata.category(char)
    if category[0] in "LN":
        return True
    return category[0] == "M" and not first  # a combining mark stays on its letter


def safe_file_name(text: str, fallback: str = "cluster") -> str:
    """``text`` as a file name that is the same on Windows, macOS and Linux: composed
    (NFC), letters, digits and marks of any script kept, ``-``, ``_`` and ``.`` kept, any
    other character a ``-``; no leading or trailing dot or dash, at most
    :data:`MAX_NAME_BYTES` bytes, never a Windows device name (``_`` in front then).
    Nothing left is ``fallback``."""
    chars = []
    for char in nfc(text):
        keep = char in _ALLOWED_PUNCTUATION or _kept(char, not chars)
        chars.append(char if keep else "-")
    name = "".join(chars).strip(".-")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        name = nfc(name[:-1]).rstrip(".-")
    name = name or fallback
    return f"_{name}" if windows_device(name) else name


def unique_file_names(texts: Iterable[str], *, reserved: Callable[[str], bool] | None = None,
                      fallback: str = "cluster") -> list[str]:
    """A safe file name per text (:func:`safe_file_name`), in order, no two alike
    (:func:`name_key`) and none that ``reserved`` claims: a later one gets ``-2``, ``-3``...
    The same texts in the same order always give the same names."""
    names: list[str] = []
    taken: set[str] = set()
    for text in texts:
        base = safe_file_name(text, fallback)
        name, number = base, 2
        while name_key(name) in taken or (reserved is not None and reserved(name)):
            name, number = f"{base}-{number}", number + 1
        taken.add(name_key(name))
        names.append(name)
    return names


def member_problem(name: str) -> str | None:
    """Why ``name`` (a path inside a zip or manifest, ``/`` between its parts) cannot be a
    file inside its folder; None when it can."""
    if not name:
        return "an empty name"
    if _CONTROL.search(name):
        return "a control character in its name"
    if "\\" in name:
        return "a backslash in its name (a path separator on Windows)"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if name.endswith("/"):
        return "a folder entry"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "a path with an empty, '.' or '..' part"
    if any(part != part.rstrip(" .") for part in parts):
        return "a name part ending in a dot or space (Windows drops them)"
    if any(windows_device(part) for part in parts):
        return "a Windows device name"
    if _INVISIBLE.search(name) or any(unicodedata.category(c) in ("Cs", "Cf") for c in name):
        return "an invisible or unpaired character in its name"
    return None
