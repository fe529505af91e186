"""Text from outside (certificate fields, host names, ticket, operator, cluster name) made
inert for every output: control characters are shown as visible escapes, never sent.

One function serves the terminal, Markdown, HTML and JUnit XML: a C0 or C1 control, DEL,
a lone surrogate, a non-character XML forbids, a bidirectional override or a line/paragraph
separator becomes ``\\x1b`` / ``\\u202e`` text. Tab stays; a newline stays only where the
output is multi-line text (a PEM block, a finding list).
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls, surrogates, bidi embeddings and
#: overrides, bidi isolates, line and paragraph separators, and U+FFFE / U+FFFF.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e"
                     "\u2066-\u2069\u2028\u2029\ufffe\uffff]")
_UNSAFE_LINE = re.compile("[\n" + _UNSAFE.pattern[1:])


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control character shown as an escape (``multiline``: keep
    newlines)."""
    return (_UNSAFE if multiline else _UNSAFE_LINE).sub(_escape, str(text))


def terminal(text: str) -> str:
    """Lines for the terminal: the tool's own newlines stay, nothing else can move the
    cursor, change colours or clear the screen."""
    return visible(text, multiline=True)
