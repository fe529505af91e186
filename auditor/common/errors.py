"""Errors meant for people: which file, which line, which field, what is allowed."""

from __future__ import annotations


class AuditorError(Exception):
    """Base class of every error the tool reports without a traceback."""


class InputError(AuditorError):
    """A file or argument the user gave cannot be used as it is."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
        others: tuple[InputError, ...] = (),
        unlisted: int = 0,
    ) -> None:
        self.path = path
        #: More problems of the same input, each one line (a file's schema errors).
        self.others = others
        #: Problems found beyond those listed.
        self.unlisted = unlisted
        self.line = line
        self.field = field
        self.message = message
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        expected = f" (expected {self.expected})" if self.expected else ""
        lines = [f"{where}{field}{self.message}{expected}", *(str(o) for o in self.others)]
        if self.unlisted:
            lines.append(f"and {self.unlisted} more problem{'s' if self.unlisted > 1 else ''}"
                         + (f" in {self.path}" if self.path else ""))
        return "\n".join(lines)


class ToolFailure(AuditorError):
    """The tool itself failed (a bug, not the input): the details are in ``log``."""

    def __init__(self, message: str, log: str) -> None:
        self.log = log
        super().__init__(message)
