"""Reading an input file without trusting it: regular files only (a FIFO or a device must
not hang the run or read without end), and a size limit per kind of file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from auditor.common.errors import InputError

_MB = 1 << 20
#: The largest file of each kind the tool reads (a real one is far smaller).
LIMITS = {
    "yaml": 8 * _MB,   # inventories, rules, playbooks, waivers (a few KB each)
    "pem": 16 * _MB,   # certificates, trust bundles (a system store is ~0.2 MB), CSRs
    "json": 512 * _MB,  # facts, audit JSON, portfolios
    # manifest.json: the run and a line a file; a portfolio of a thousand clusters lists
    # about 2 MB of files
    "manifest": 16 * _MB,
    "toml": 1 * _MB,  # uccx-audit.toml: a dozen settings
}
#: Never block on a FIFO, never leak into a child (the flags that exist on this system).
_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(
    os, "O_BINARY", 0)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words (from its ``st_mode``)."""
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
            or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a folder" if stat.S_ISDIR(mode) else "a special file")


def read_input(path: str | os.PathLike[str], kind: str, *,
               follow_links: bool = True) -> bytes:
    """The bytes of a regular file of at most ``LIMITS[kind]`` bytes, or an
    :class:`InputError` naming the file and what was expected. ``follow_links=False``
    refuses a symbolic link in the same step as the open (no link swapped in between)."""
    name = str(path)
    limit = LIMITS[kind]
    expected = f"a {kind.upper()} file"
    flags = _OPEN_FLAGS if follow_links else _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not block; checked right after
        fd = os.open(path, os.O_RDONLY | flags)
    except FileNotFoundError:
        raise InputError("file not found", path=name) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", path=name, expected=expected) from None
    except OSError as exc:
        if not follow_links and os.path.islink(path):
            raise InputError("is a symbolic link", path=name, expected=expected) from None
        if os.path.isdir(path):  # Windows refuses to open a folder as a file
            raise InputError("is a folder, not a file", path=name,
                             expected=expected) from None
        raise InputError(f"cannot read: {exc.strerror}", path=name) from None
    try:  # before a file object is made of it: a folder opens, but cannot be read
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise InputError(f"cannot read: {exc.strerror}", path=name) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputError(f"is {file_kind(mode)}, not a regular file", path=name,
                         expected=expected)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(fd).st_size
        if size > limit:
            raise InputError(f"is {size / _MB:.1f} MB; the limit for a {kind.upper()} file "
                             f"is {limit // _MB} MB", path=name)
        try:
            data = _read_at_most(handle, limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path=name) from None
    if len(data) > limit:  # it grew while being read
        raise InputError(f"is larger than the limit for a {kind.upper()} file "
                         f"({limit // _MB} MB)", path=name)
    return data


#: a read of a file is made in pieces of this size: ``read(n)`` sets n bytes aside at
#: once, which for the limit (not the file's size) was most of a large audit's memory
_READ_PIECE = 1 << 20


def _read_at_most(handle: BinaryIO, most: int) -> bytes:
    """Up to ``most`` bytes of ``handle``, in pieces, so that memory follows the file's
    real size rather than ``most``."""
    pieces: list[bytes] = []
    left = most
    while left > 0:
        piece = handle.read(min(_READ_PIECE, left))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def read_input_text(path: str | Path, kind: str) -> str:
    """:func:`read_input` as UTF-8 text."""
    return input_text(read_input(path, kind), path)


def input_text(data: bytes, path: str | Path) -> str:
    """Bytes read from ``path`` as UTF-8 text, or an :class:`InputError` naming the file."""
    try:  # newlines as open() in text mode reads them
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=str(path)) from None
