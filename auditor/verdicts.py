"""The verdicts from best to worst and the exit code each one gives, in one place.

``inconclusive`` (the audit did not see enough to say GO) sits between an earned
``go_with_actions`` and a certain ``no_go``. A portfolio's exit code is its worst cluster's.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Best to worst.
VERDICT_ORDER = ("go", "go_with_actions", "inconclusive", "no_go")

EXIT_OK, EXIT_NO_GO, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_TOOL_FAILURE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

EXIT_CODES = {"go": EXIT_OK, "go_with_actions": EXIT_OK, "no_go": EXIT_NO_GO,
              "inconclusive": EXIT_INCONCLUSIVE}

#: Exit codes from least to most severe, to combine several runs into one.
_EXIT_SEVERITY = (EXIT_OK, EXIT_INCONCLUSIVE, EXIT_NO_GO, EXIT_INPUT, EXIT_TOOL_FAILURE,
                  EXIT_INTERRUPTED)


def exit_code(verdict: str) -> int:
    """The exit code of one audit with this verdict."""
    return EXIT_CODES[verdict]


def worst_verdict(verdicts: Iterable[str]) -> str | None:
    """The worst of ``verdicts`` (None when there are none)."""
    return max(verdicts, key=VERDICT_ORDER.index, default=None)


def worst_exit(codes: Iterable[int]) -> int:
    """The most severe exit code: a failure beats a no-go, a no-go an inconclusive."""
    return max(codes, key=lambda c: _EXIT_SEVERITY.index(c) if c in _EXIT_SEVERITY
               else len(_EXIT_SEVERITY), default=EXIT_OK)
