"""Text from outside (certificate fields, host names, ticket, operator, cluster name) made
inert for every output: characters that are invisible or act on the text around them are
shown as visible escapes, never sent.

One function serves the terminal, Markdown, HTML, JUnit XML and CSV. A character is shown
as ``\\x1b`` / ``\\u202e`` / ``\\U000e0041`` text when its Unicode general category is

- ``Cc``: C0 and C1 controls and DEL (escape sequences, carriage returns, bells);
- ``Cf``: format characters: bidirectional marks, embeddings, overrides and isolates
  (U+200E/F, U+061C, U+202A-U+202E, U+2066-U+2069), zero-width characters (U+200B-U+200D,
  U+2060, U+FEFF), the soft hyphen, tags (U+E0000 block) and the rest of the category;
- ``Zl`` / ``Zp``: the line and paragraph separators U+2028 and U+2029;
- ``Cs``: a lone surrogate (no UTF-8 file or terminal can carry it);

and for the noncharacters (U+FFFE, U+FFFF, U+FDD0-U+FDEF: XML forbids the first two). Tab
stays; a newline stays only where the output is multi-line text (a PEM block, a finding
list).
"""

from __future__ import annotations

import re
import unicodedata

#: The general categories that are shown escaped.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: What may need an escape: anything but printable ASCII, tab and (multi-line) newline.
_CANDIDATE = re.compile("[^\t\n -~]")
_CANDIDATE_LINE = re.compile("[^\t -~]")


def hidden(char: str) -> bool:
    """Is this character shown as an escape (its category, or a noncharacter)?"""
    code = ord(char)
    return (unicodedata.category(char) in HIDDEN_CATEGORIES
            or (code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if not hidden(char):
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control, format and separator character shown as an escape
    (``multiline``: keep newlines)."""
    return (_CANDIDATE if multiline else _CANDIDATE_LINE).sub(_escape, str(text))


def terminal(text: str) -> str:
    """Lines for the terminal: the tool's own newlines stay, nothing else can move the
    cursor, change colours, clear the screen or reorder what is shown."""
    return visible(text, multiline=True)
