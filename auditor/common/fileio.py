"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from auditor.common.errors import InputError
from auditor.common.portable import windows


def _current_umask() -> int:
    """The process's umask, read once (``os.umask`` can only be read by setting it, which
    would race with threads that create files)."""
    with contextlib.suppress(OSError, ValueError), \
            open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: New files get 0666 less this, as every other program's files do.
UMASK = _current_umask()


def through_proc(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, or any symbolic link on the way to its file, is in ``/proc``: a
    file descriptor of this process (``/dev/stdout``, ``/dev/fd/1``), never a file to
    replace."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own bound on links followed
        if current == "/proc" or current.startswith("/proc/"):
            return True
        head, tail = os.path.split(current)
        resolved_head = os.path.realpath(head)
        if resolved_head == "/proc" or resolved_head.startswith("/proc/"):
            return True
        current = os.path.join(resolved_head, tail)
        try:
            link = os.readlink(current)
        except OSError:  # not a link (or not there): the walk ends here
            return False
        current = os.path.normpath(os.path.join(resolved_head, link))
    return True  # a loop of links: treat as not a plain file


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; on success it replaces ``path`` in one
    rename, on any failure (an interrupt included) it is removed. A symbolic link is
    followed: the file it names is replaced and the link stays."""
    if through_proc(path):
        raise InputError(f"{path} names a file descriptor of this process, not a file",
                         expected="a file name")
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes 0600; reports are attachments for sharing: follow the umask
        try:  # Windows has no such modes (and no os.fchmod before Python 3.13)
            if not windows() and hasattr(os, "fchmod"):
                os.fchmod(fd, 0o666 & ~UMASK)
        finally:
            os.close(fd)
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def write_atomic_chunks(path: str | os.PathLike[str], chunks: Iterable[str]) -> Path:
    """:func:`write_atomic` of text given in pieces, written as they come (a report of a
    thousand endpoints is never held whole, nor twice, in memory)."""
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def crash_log(report: str, folder: Path | None = None) -> Path:
    """Keep the traceback of a failed run and return where: ``folder/error.log`` when the
    run has a folder of its own (its ``<out>.unfinished/``), else a new file in the system's
    temporary folder. Never the working folder: that is the user's. Raises OSError only
    when neither can be written."""
    if folder is not None:
        try:
            return write_atomic(folder / "error.log", report)
        except (OSError, InputError):
            pass
    fd, name = tempfile.mkstemp(prefix="uccx-audit-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(report)
    return Path(name)
