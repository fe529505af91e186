"""What the libraries say while the tool runs, kept off the terminal.

cryptography, pyOpenSSL and paramiko speak through Python warnings (a certificate with a
negative serial number makes cryptography warn that it will refuse such certificates) and
through the logging module (which, with no handler, prints WARNING records on stderr).
Neither is for the person at the terminal, whose stderr carries the tool's own one-line
errors: for the length of a command (:func:`kept_quiet`, entered by the command line), a
warning that the filters let through and a library's WARNING record are kept in memory
instead (:func:`heard`), for the run's error.log. What a warning says about an input is
recorded by the tool itself where it reads that input (a certificate's ``parse_warnings``).

The warning filters are left as they are: ``-W error`` still turns a warning into an
exception, and ``-W ignore`` still silences it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

#: At most this many messages are kept per command (the first ones).
MAX_KEPT = 200

_heard: list[str] = []
_lock = threading.Lock()


def _keep(text: str) -> None:
    with _lock:
        if len(_heard) < MAX_KEPT and text not in _heard:
            _heard.append(text)


def heard() -> tuple[str, ...]:
    """What the libraries said during the current (or last) command, in order, once each."""
    with _lock:
        return tuple(_heard)


def _show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
          _file: object = None, _line: str | None = None) -> None:
    _keep(f"{category.__name__}: {' '.join(str(message).split())} "
          f"({Path(filename).name}:{lineno})")


class _Keeper(logging.Handler):
    """Keeps a library's WARNING (and worse) records; never prints, not even its own
    failure to format one."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format
            text = str(record.msg)
        _keep(f"{record.name}: {record.levelname.lower()}: {' '.join(text.split())}")

    def handleError(self, record: logging.LogRecord) -> None:
        return


@contextlib.contextmanager
def kept_quiet() -> Iterator[None]:
    """For the length of the block, library warnings and WARNING log records are kept
    (:func:`heard`), not printed; everything is as before afterwards."""
    with _lock:
        _heard.clear()
    shown = warnings.showwarning
    keeper = _Keeper(logging.WARNING)
    root = logging.getLogger()
    warnings.showwarning = _show
    root.addHandler(keeper)
    try:
        yield
    finally:
        root.removeHandler(keeper)
        if warnings.showwarning is _show:
            warnings.showwarning = shown
