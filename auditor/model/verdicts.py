"""The verdicts, their order, their words and the exit codes: the one place that says so.

Every command, report and helper takes the verdict order and the verdict-to-exit-code
mapping from here; nothing else spells them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

#: Verdicts from best to worst. ``inconclusive``: no error finding, but a gadget the
#: inventory implies is ``unknown``; what the audit did not see is never a GO.
Verdict = Literal["go", "go_with_actions", "inconclusive", "no_go"]
VERDICTS: tuple[Verdict, ...] = ("go", "go_with_actions", "inconclusive", "no_go")

#: The verdict in words, as the reports show it (terminal: upper case).
VERDICT_WORDS = {"go": "go", "go_with_actions": "go with actions",
                 "inconclusive": "inconclusive", "no_go": "no-go"}

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_TOOL_FAILED = 4
EXIT_INTERRUPTED = 130

#: What ``audit``, ``evaluate``, ``report`` and ``diff`` (for the after-audit) exit with.
VERDICT_EXIT = {"go": EXIT_OK, "go_with_actions": EXIT_OK, "inconclusive": EXIT_INCONCLUSIVE,
                "no_go": EXIT_FINDINGS}

#: The exit codes in words, for ``--help`` and the README.
EXIT_MEANINGS = (
    (EXIT_OK, "go or go with actions: no error finding and every gadget known"),
    (EXIT_FINDINGS, "no-go: error findings"),
    (EXIT_USAGE, "usage or input error (the message names the file, line and field)"),
    (EXIT_INCONCLUSIVE, "inconclusive: no error finding, but some gadget is unknown"),
    (EXIT_TOOL_FAILED, "the tool itself failed (a bug): one line naming the file that "
                       "holds the details (beside the outputs, or a new temporary file), "
                       "no report"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); no partial report is left behind"),
)


def decide(severities: Iterable[str], unknown_gadgets: int) -> Verdict:
    """The verdict from the findings' severities and the number of unknown gadgets."""
    severities = set(severities)
    if "error" in severities:
        return "no_go"
    if unknown_gadgets:
        return "inconclusive"
    return "go_with_actions" if "warning" in severities else "go"


def exit_code(verdict: str) -> int:
    """The exit code of a command that reports this verdict."""
    return VERDICT_EXIT[verdict]


def exit_code_help() -> str:
    """The exit codes as lines for ``--help`` epilogs."""
    return "\n".join(f"  {code:<3} {meaning}" for code, meaning in EXIT_MEANINGS)


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict | None:
    """The worst of ``verdicts`` (None when there are none)."""
    return max(verdicts, key=VERDICTS.index, default=None)


#: Exit codes from least to most severe, to combine several runs (a portfolio) into one:
#: a failure beats a no-go, a no-go an inconclusive.
_EXIT_SEVERITY = (EXIT_OK, EXIT_INCONCLUSIVE, EXIT_FINDINGS, EXIT_USAGE, EXIT_TOOL_FAILED,
                  EXIT_INTERRUPTED)


def worst_exit(codes: Iterable[int]) -> int:
    """The most severe of several exit codes (``EXIT_OK`` when there are none)."""
    return max(codes, key=lambda c: _EXIT_SEVERITY.index(c) if c in _EXIT_SEVERITY
               else len(_EXIT_SEVERITY), default=EXIT_OK)
