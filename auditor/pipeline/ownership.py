"""Whose files are in an output folder, and moving the user's into a new set.

A folder is the tool's when it holds a ``manifest.json`` this tool wrote; what that
manifest lists (:func:`~auditor.pipeline.manifest.listed_paths`) the next run may replace or
remove. Everything else in it, at any depth, is the user's: a folder that holds nothing of
the tool's is one entry, moved whole; in a folder of the tool's (a portfolio's cluster, the
demo's lab) each of the user's entries is moved on its own. Moves are renames that never
replace anything, so a user's file keeps its inode, mode and times.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from auditor.common.errors import InputError
from auditor.common.portable import linux
from auditor.pipeline.manifest import MANIFEST_FILE, listed_paths, own_manifest

EXPECTED = "a new or empty folder, or one uccx-audit wrote"


def ownership(folder: Path, option: str = "--out") -> frozenset[str]:
    """The paths in ``folder`` (relative, POSIX) the tool may replace or remove: those its
    manifest lists; none for an empty folder. An :class:`InputError` when ``folder`` holds
    anything and no manifest.json of this tool."""
    try:
        manifest = own_manifest(folder)
    except InputError as exc:
        why = f"{exc.field}: {exc.message}" if exc.field else exc.message
        raise InputError(f"{folder / MANIFEST_FILE} is not one uccx-audit wrote ({why}); "
                         f"nothing was touched", field=option, expected=EXPECTED) from None
    if manifest is not None:
        return listed_paths(manifest)
    try:
        with os.scandir(folder) as entries:
            first = next(entries, None)
    except OSError as exc:
        raise InputError(f"cannot read {folder}: {exc.strerror}", field=option) from None
    if first is None:
        return frozenset()
    raise InputError(f"{folder} holds files uccx-audit did not write ({first.name!r}, and no "
                     f"manifest.json of its own); nothing was touched", field=option,
                     expected=EXPECTED)


def _renameat2_function() -> Any:
    """Linux's ``renameat2`` from the C library; None elsewhere (macOS, Windows, or the
    Windows paths forced), where the callers fall back to plain renames."""
    return _libc_renameat2() if linux() else None


@functools.lru_cache(maxsize=1)
def _libc_renameat2() -> Any:
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    return renameat2


def _renameat2(a: Path, b: Path, flags: int) -> bool:
    """``renameat2`` (Linux); False where it is not available."""
    renameat2 = _renameat2_function()
    if renameat2 is None:
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot."""
    return _renameat2(a, b, 2)  # RENAME_EXCHANGE


def _move_new(a: Path, b: Path) -> None:
    """Rename ``a`` to ``b``, which must not exist (never replaces what is there)."""
    if _renameat2(a, b, 1):  # RENAME_NOREPLACE
        return
    if os.path.lexists(b):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(b))
    os.rename(a, b)


def ident(path: Path) -> list[int] | None:
    """A folder's identity (device, inode); None if ``path`` is not a folder."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return [info.st_dev, info.st_ino] if stat.S_ISDIR(info.st_mode) else None


def _ancestors(paths: Iterable[str]) -> frozenset[str]:
    return frozenset(str(parent) for path in paths
                     for parent in PurePosixPath(path).parents if str(parent) != ".")


def _is_dir(path: Path) -> bool:
    with contextlib.suppress(OSError):
        return stat.S_ISDIR(os.lstat(path).st_mode)
    return False


def _within(folder: Path, relative: str) -> bool:
    """Whether every folder on the way to ``relative`` is a real folder of ``folder`` (no
    symbolic link would lead a removal outside it)."""
    parts = PurePosixPath(relative).parts
    return all(_is_dir(folder.joinpath(*parts[:depth])) for depth in range(1, len(parts)))


def _free(folder: Path, relative: str) -> bool:
    """Whether ``relative`` can be created in ``folder``: nothing there by that name, and no
    file where one of its parent folders would be."""
    parts = PurePosixPath(relative).parts
    for depth in range(1, len(parts)):
        place = folder.joinpath(*parts[:depth])
        if os.path.lexists(place) and not _is_dir(place):
            return False
    return not os.path.lexists(folder / relative)


def placements(old: Path, new: Path | None, owned: frozenset[str]
               ) -> tuple[list[str], list[str]]:
    """The user's entries in ``old`` (what ``owned`` does not list; a folder that holds
    nothing of the tool's as one entry), split into those that can go to the same place in
    ``new`` and those whose place ``new`` has taken (``new`` None: all of them, free)."""
    owned_dirs = _ancestors(owned)
    moves: list[str] = []
    taken: list[str] = []

    def walk(relative: str) -> None:
        with os.scandir(old / relative if relative else old) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if path in owned and not is_dir:
                continue  # the tool's own file
            if is_dir and path in owned_dirs:
                walk(path)  # the tool's folder: the user's files in it are the user's
                continue
            (moves if new is None or _free(new, path) else taken).append(path)

    walk("")
    return moves, taken


def movable(folder: Path, relative: str) -> bool:
    """Whether this process can move ``relative`` out of ``folder`` (a folder moved to
    another parent needs write permission on itself, for its ``..``)."""
    path = folder / relative
    return os.access(path.parent, os.W_OK | os.X_OK) and (
        not _is_dir(path) or os.access(path, os.W_OK))


def settle(old: Path, new: Path, owned: frozenset[str] | None = None) -> bool:
    """Finish a swap: move the user's entries of the previous folder ``old`` to the same
    places in ``new``, then remove the previous set's own files (``owned``; by default
    what ``old``'s manifest lists) and the folders they leave empty. True when ``old`` is
    gone; what cannot be placed stays in ``old``, untouched."""
    if owned is None:
        try:
            manifest = own_manifest(old)
        except InputError:
            manifest = None
        owned = listed_paths(manifest) if manifest is not None else frozenset()
    moves, _ = placements(old, new, owned)
    for relative in moves:
        parts = PurePosixPath(relative).parts
        for depth in range(1, len(parts)):  # the tool's folder the file was in
            place = new.joinpath(*parts[:depth])
            if not os.path.lexists(place):
                with contextlib.suppress(OSError):
                    os.mkdir(place)
                    os.chmod(place, stat.S_IMODE(os.lstat(old.joinpath(*parts[:depth]))
                                                 .st_mode))
        with contextlib.suppress(OSError):  # what cannot be moved stays where it is
            _move_new(old / relative, new / relative)
    for relative in [*sorted(owned - {MANIFEST_FILE}), MANIFEST_FILE]:  # the manifest last
        if _within(old, relative) and not _is_dir(old / relative):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old / relative)
    for relative in sorted(_ancestors(owned), key=lambda p: -p.count("/")):
        if _within(old, relative):
            with contextlib.suppress(OSError):
                os.rmdir(old / relative)  # only if empty
    with contextlib.suppress(OSError):
        os.rmdir(old)
    return not os.path.lexists(old)


def first_taken(folder: Path, owned: frozenset[str], paths: Iterable[str]) -> str | None:
    """The first place in ``folder`` where an entry of the user's stands in the way of one
    of ``paths`` (relative): a file the manifest does not list, a folder by a listed file's
    name, or such an entry above it; None when there is none."""
    owned_dirs = _ancestors(owned)
    for path in paths:
        parts = PurePosixPath(path).parts
        for depth in range(1, len(parts) + 1):
            relative = "/".join(parts[:depth])
            place = folder / relative
            if not os.path.lexists(place):
                break
            is_dir = _is_dir(place)
            if not ((relative in owned and not is_dir) or (relative in owned_dirs and is_dir)):
                return relative
    return None
