"""An output folder written all at once, into a folder that is the tool's own.

**Whose folder.** ``--out`` must be missing, empty, or a folder holding a ``manifest.json``
this tool wrote (:func:`ownership`, checked before anything is probed). Anything else - the
working folder, a home folder, a git checkout, a folder of the user's - is an input error
and nothing is touched. In its own folder the tool replaces or removes only what the
previous manifest lists (the manifest, the files it hashes, the files it names unhashed,
the bundle); every other file or folder, at any depth, is the user's and stays as it is.

**All at once.** A run writes its whole set into a hidden staging folder beside ``--out``
and moves it in at the end in one step (``renameat2(RENAME_EXCHANGE)`` where the file
system has it, else three renames). The user's entries of the previous folder are then
moved (renamed, never copied: inode, mode and times stay) into the new one, and the
previous set's own files are removed. So whatever stops the run - Ctrl-C, a kill, a full
disk, a bug - ``--out`` holds either the complete previous set or the complete new one,
never a mix. A user's file where the new set needs that name stops the run with exit 2
before anything is moved.

**What a killed run leaves.** An exclusive lock (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows: :mod:`auditor.common.portable`, on ``.<out>.lock`` beside
the folder) makes a second run into the same folder stop at once with exit 2. The
lock file is also the run's journal: it names the staging folder before it is created, and
records the inodes of the two folders before they are swapped. The next run reads it and
finishes the work: a staging folder that never went in is removed; a previous set that was
swapped out has the user's entries moved into the folder and its own files removed.
Nothing the journal does not name is touched. When the probe is done its facts are kept
beside the folder (``<out>.unfinished/``, or ``-2`` and so on where a folder of the user's
has that name; with error.log of a failed run) until a set is in place; a marker file there
lists what the tool wrote into it, and the next run that puts a set in place removes exactly
that (temporary files included).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from auditor.common.errors import InputError
from auditor.common.fileio import UMASK, through_proc, write_atomic
from auditor.common.inputs import file_kind
from auditor.common.portable import interrupts_held, lock_exclusive, unlock, windows
from auditor.pipeline.ownership import (
    exchange,
    first_taken,
    ident,
    movable,
    ownership,
    placements,
    settle,
)

_STAGE, _OLD = ".uccx-stage-", ".uccx-old-"
#: The first bytes of a lock file this tool wrote; the journal follows, padded to a block.
_LOCK_TAG = b"uccx-audit lock v1\n"
_JOURNAL_BYTES = 4096
#: The file in ``<out>.unfinished/`` that lists what the tool wrote there.
KEPT_MARK = ".uccx-audit-kept"
_KEPT_TAG = "uccx-audit kept facts v1"
_MARK_LIMIT = 1 << 20
#: Open flags for files beside the folder: never through a link, never kept by children.
_OPEN = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _must_write_into(folder: Path, option: str) -> None:
    """An input error unless this process may create files in ``folder``."""
    if not os.access(folder, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only(folder) else "permission denied"
        raise InputError(f"cannot write into {folder} ({why})", field=option,
                         expected="a folder you can write into")


def _writable_ancestor(path: Path, option: str) -> None:
    """The first existing folder above ``path`` must be a folder we can write into."""
    for parent in path.parents:
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InputError(f"cannot use {parent}: {exc.strerror}", field=option) from None
        if not stat.S_ISDIR(mode):
            raise InputError(f"{parent} is not a folder", field=option,
                             expected="a path under a writable folder")
        _must_write_into(parent, option)
        return


def _read_only(path: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)  # POSIX only
    if statvfs is None or windows():
        return False
    with contextlib.suppress(OSError):
        return bool(statvfs(path).f_flag & os.ST_RDONLY)
    return False


def _kept_is_ours(kept: Path) -> bool | None:
    """Whether ``<out>.unfinished`` is the tool's (None: there is none): a folder holding
    the tool's marker, a regular file it creates right after the folder. An empty folder
    is not: the tool never removes what it cannot prove it made."""
    try:
        mode = os.lstat(kept).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(mode):
        return False
    try:
        return stat.S_ISREG(os.lstat(kept / KEPT_MARK).st_mode)
    except OSError:
        return False


def _kept_names(kept: Path) -> list[str]:
    """The file names the marker in ``kept`` lists (none when it is garbled or empty: a
    run killed as it wrote the marker)."""
    try:
        fd = os.open(kept / KEPT_MARK, os.O_RDONLY | _OPEN | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        raw = os.read(fd, _MARK_LIMIT + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8")) if len(raw) <= _MARK_LIMIT else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    if not isinstance(data, dict) or data.get("tool") != _KEPT_TAG \
            or not isinstance(data.get("wrote"), list):
        return []
    return [n for n in data["wrote"] if isinstance(n, str) and _plain_name(n)]


def _write_mark(kept: Path, names: list[str], *, new: bool) -> None:
    """The marker of a kept-facts folder: created at once (never replacing anything) in a
    new folder, replaced atomically after."""
    data = json.dumps({"tool": _KEPT_TAG, "wrote": names}, ensure_ascii=False,
                      allow_nan=False) + "\n"
    if not new:
        write_atomic(kept / KEPT_MARK, data)
        return
    fd = os.open(kept / KEPT_MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _is_temporary(name: str, of: str) -> bool:
    """Whether ``name`` is a temporary file of an atomic write of ``of``."""
    return name.startswith(f".{of}.") and name.endswith(".tmp")


def _kept_folders(folder: Path) -> list[Path]:
    return [folder.parent / (f"{folder.name}.unfinished" + (f"-{n}" if n > 1 else ""))
            for n in range(1, 10)]


def _kept_folder(folder: Path, option: str) -> Path:
    """Where the probed facts are kept: ``<out>.unfinished``, or when a folder or file of
    the user's has that name (never touched), ``<out>.unfinished-2`` and so on."""
    for kept in _kept_folders(folder):
        if _kept_is_ours(kept) is not False:
            return kept
    raise InputError(f"{kept} and the names before it are taken by folders that are not "
                     f"uccx-audit's; nothing was written", field=option,
                     expected="move them away, or choose another folder")


def check_out_dir(path: Path, option: str = "--out") -> Path:
    """The absolute folder ``path`` names, checked before anything is probed: a new folder
    we can create, an empty one, or one this tool wrote (:func:`ownership`). Files,
    devices, FIFOs, dangling symlinks, read-only places and folders of the user's are
    input errors."""
    if str(path) in ("", "-"):
        raise InputError(f"{str(path)!r} is not a folder name", field=option,
                         expected="a folder for the reports")
    absolute = Path(os.path.abspath(path))
    if absolute.is_symlink():
        if not absolute.exists():
            raise InputError(f"{path} is a symbolic link to nothing", field=option,
                             expected="a folder, or a name for a new one")
        absolute = absolute.resolve()
    if absolute == Path(absolute.anchor):
        raise InputError("the root folder cannot hold the reports", field=option)
    try:
        mode = absolute.stat().st_mode
    except FileNotFoundError:
        _writable_ancestor(absolute, option)
        return absolute
    except OSError as exc:
        raise InputError(f"cannot use {path}: {exc.strerror}", field=option) from None
    if not stat.S_ISDIR(mode):
        what = "a file" if stat.S_ISREG(mode) else file_kind(mode)
        raise InputError(f"{path} is {what}, not a folder", field=option,
                         expected="a folder for the reports, or a name for a new one")
    ownership(absolute, option)
    for place in (absolute, absolute.parent):
        _must_write_into(place, option)
    return absolute


def check_out_file(path: Path, option: str = "--out") -> Path:
    """A regular file to be replaced atomically (or a new one): folders, devices, FIFOs and
    sockets (also behind a symlink) are input errors, found before any work; so is a file
    descriptor (``/dev/stdout`` when standard output is a file), which an atomic write
    would replace with a file of its own for the whole machine."""
    if through_proc(path):
        raise InputError(f"{path} names a file descriptor of this process, not a file",
                         field=option, expected="a file name; leave out --out (or give "
                         "--out -) to write to standard output")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{path} is a symbolic link to nothing", field=option,
                             expected="a file name") from None
        _writable_ancestor(Path(os.path.abspath(path)), option)
        return path
    except OSError as exc:
        raise InputError(f"cannot use {path}: {exc.strerror}", field=option) from None
    if not stat.S_ISREG(mode):
        hint = ("; leave out --out (or give --out -) to write to standard output"
                if not stat.S_ISDIR(mode) else "")
        raise InputError(f"{path} is {file_kind(mode)}, not a regular file{hint}", field=option,
                         expected="a file name")
    _must_write_into(Path(os.path.abspath(path)).resolve().parent, option)
    return path


# -- the journal --------------------------------------------------------------------------

def _parse_journal(raw: bytes) -> list[dict[str, Any]]:
    """The records of a journal (none when it is empty or garbled)."""
    try:
        data = json.loads(raw[len(_LOCK_TAG):_JOURNAL_BYTES].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    records = data.get("records") if isinstance(data, dict) else None
    return [r for r in records if _valid_record(r)] if isinstance(records, list) else []


def _read_block(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, _JOURNAL_BYTES)


def _valid_record(record: Any) -> bool:
    def an_ident(value: Any) -> bool:
        return value is None or (isinstance(value, list) and len(value) == 2
                                 and all(type(v) is int for v in value))

    return (isinstance(record, dict) and isinstance(record.get("stage"), str)
            and _plain_name(record["stage"]) and an_ident(record.get("new"))
            and an_ident(record.get("old"))
            and (record.get("aside") is None
                 or (isinstance(record["aside"], str) and _plain_name(record["aside"]))))


class OutputSet:
    """The staging folder of one run into ``out`` (use it as a context manager).

    ``stage`` is where everything is written; :meth:`keep_facts` copies the probed facts
    beside the folder; :meth:`commit` moves the set in. Leaving the ``with`` block without
    a commit removes the staging folder and keeps the previous set as it was."""

    def __init__(self, out: Path, option: str = "--out") -> None:
        self.requested = out
        self.option = option
        self.out = check_out_dir(out, option)
        self.kept = self.out.parent / f"{self.out.name}.unfinished"  # chosen on entry
        self.stage: Path = self.out  # set on entry
        self.committed = False
        self.kept_files: list[Path] = []
        self.unhashed: list[Path] = []
        self._lock_fd: int | None = None
        self._lock_path = self.out.parent / f".{self.out.name}.lock"
        self._pending: list[dict[str, Any]] = []  # a killed run's work not yet finished
        self._record: dict[str, Any] | None = None  # this run's

    # -- lock and journal -----------------------------------------------------------
    def _lock(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | _OPEN
        for _ in range(20):
            try:
                fd, created = os.open(self._lock_path, flags | os.O_CREAT | os.O_EXCL,
                                      0o600), True
            except FileExistsError:
                try:
                    fd, created = os.open(self._lock_path,
                                          flags | getattr(os, "O_NONBLOCK", 0)), False
                except FileNotFoundError:
                    continue  # removed by the holder before us: create it anew
                except OSError:
                    raise self._not_our_lock() from None
            try:
                lock_exclusive(fd)
            except BlockingIOError:
                os.close(fd)
                raise InputError(
                    f"another uccx-audit is writing into {self.requested} (lock "
                    f"{self._lock_path} is held)", field=self.option,
                    expected="wait for it to finish, or choose another folder") from None
            try:  # the holder before us may have removed the file it locked: lock anew
                same = os.fstat(fd).st_ino == os.stat(self._lock_path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            if not created:
                raw = _read_block(fd) if stat.S_ISREG(os.fstat(fd).st_mode) else b"?"
                if raw and not raw.startswith(_LOCK_TAG):
                    os.close(fd)
                    raise self._not_our_lock()
                self._pending = _parse_journal(raw)
            self._lock_fd = fd
            self._journal()
            return
        raise InputError(f"cannot lock {self._lock_path}", field=self.option)

    def _not_our_lock(self) -> InputError:
        return InputError(f"{self._lock_path} is in the way: uccx-audit locks the folder "
                          f"with a file of that name, and that one is not its own; nothing "
                          f"was written", field=self.option,
                          expected="move it away, or choose another folder")

    def _journal(self) -> None:
        """Write the records of unfinished work (a killed run's, then this run's) into the
        lock file, in one block, before the work they describe is done."""
        assert self._lock_fd is not None
        records = [*self._pending, *([self._record] if self._record else [])]
        while True:
            data = _LOCK_TAG + json.dumps({"pid": os.getpid(), "records": records},
                                          separators=(",", ":"), allow_nan=False).encode() + b"\n"
            if len(data) <= _JOURNAL_BYTES or not records:
                break
            records = records[1:]  # the oldest record is forgotten: its folder stays
        os.lseek(self._lock_fd, 0, os.SEEK_SET)
        os.write(self._lock_fd, data.ljust(_JOURNAL_BYTES, b" "))  # one write, one block
        os.fsync(self._lock_fd)

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            if self._pending or self._record:
                self._journal()  # unfinished work stays recorded for the next run
            elif not windows():
                with contextlib.suppress(OSError):
                    if os.stat(self._lock_path).st_ino == os.fstat(self._lock_fd).st_ino:
                        os.unlink(self._lock_path)
            else:  # Windows removes no file that is open: close it first, then remove it
                inode = os.fstat(self._lock_fd).st_ino  # unless another run has opened it
                unlock(self._lock_fd)
                os.close(self._lock_fd)
                self._lock_fd = None
                with contextlib.suppress(OSError):
                    if os.stat(self._lock_path).st_ino == inode:
                        os.unlink(self._lock_path)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
            self._lock_fd = None

    # -- what a killed run left -----------------------------------------------------
    def _recover(self) -> None:
        """Finish each recorded piece of work a killed run left; keep those that cannot be
        finished (their folders stay as they are) for a later run."""
        left = []
        for record in self._pending:
            try:
                done = self._recover_one(record)
            except OSError:
                done = False
            if not done:
                left.append(record)
        self._pending = left
        self._journal()

    def _recover_one(self, record: dict[str, Any]) -> bool:
        parent = self.out.parent
        stage = parent / record["stage"]
        if record.get("new") is None:  # named, perhaps created, never written into
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(stage)
            return not os.path.lexists(stage)
        places = [self.out, stage] + ([parent / record["aside"]] if record.get("aside")
                                      else [])

        def find(wanted: list[int] | None) -> Path | None:
            return next((p for p in places if wanted and ident(p) == wanted), None)

        new, old = find(record["new"]), find(record.get("old"))
        if old is not None and old != self.out and not os.path.lexists(self.out):
            os.rename(old, self.out)  # the previous set was moved aside: back in place
            old = self.out
        if new == self.out:  # the new set went in: finish moving the user's files over
            return old is None or settle(old, self.out)
        if new is not None:  # it never went in: it holds only what that run wrote
            shutil.rmtree(new)
        return True

    # -- the set --------------------------------------------------------------------
    def __enter__(self) -> OutputSet:
        self._lock()
        try:
            self._recover()
            if self.out.exists():
                ownership(self.out, self.option)  # still the tool's, now that it is locked
            self.kept = _kept_folder(self.out, self.option)
            self.stage = self._new_stage()
        except BaseException:
            self._unlock()
            raise
        return self

    def _new_stage(self) -> Path:
        """A new staging folder, recorded in the journal before it exists."""
        for _ in range(100):
            name = f".{self.out.name}{_STAGE}{secrets.token_hex(4)}"
            self._record = {"stage": name, "new": None}
            self._journal()
            stage = self.out.parent / name
            try:
                os.mkdir(stage, 0o700)
            except FileExistsError:
                continue
            self._record["new"] = ident(stage)
            self._journal()
            os.chmod(stage, 0o777 & ~UMASK)
            return stage
        raise InputError(f"cannot create a staging folder beside {self.out}",
                         field=self.option)

    def __exit__(self, *exc: object) -> None:
        try:
            if not self.committed and self._record is not None:
                # the partial new set: only what this run wrote
                shutil.rmtree(self.stage, ignore_errors=True)
                if not os.path.lexists(self.stage):
                    self._record = None
            if self.committed:  # also when a Ctrl-C came as the set went in
                self.discard_kept()
            else:
                self._drop_empty_kept()
        finally:
            self._unlock()

    def interrupted(self) -> str:
        """What a Ctrl-C left, in one line."""
        if self.committed:
            return f"interrupted after the reports were written: the complete set is in {self.out}"
        before = (f"{self.requested} keeps its previous reports" if self.out.exists()
                  else f"{self.requested} was not created")
        kept = [p for p in self.kept_files if p.exists()]
        if kept:
            return (f"interrupted: no report was written ({before}); the probed facts are "
                    f"in {', '.join(str(p) for p in kept[:1])}"
                    + (f" and {len(kept) - 1} more files beside it" if len(kept) > 1 else "")
                    + " (judge them with uccx-audit evaluate or uccx-audit portfolio)")
        return f"interrupted before the probe finished: nothing was written ({before})"

    def keep_place(self, *names: str) -> Path:
        """``<out>.unfinished/``, the tool's, with ``names`` recorded in its marker before
        they are written there."""
        ours = _kept_is_ours(self.kept)
        if ours is False:  # taken since the run began: never written into
            raise InputError(f"{self.kept} is not uccx-audit's (it was made while this run "
                             f"went on); nothing was written there", field=self.option)
        if ours is None:
            self.kept.mkdir()
            _write_mark(self.kept, list(names), new=True)
            return self.kept
        wrote = _kept_names(self.kept)
        wanted = [n for n in names if n not in wrote]
        if wanted:
            _write_mark(self.kept, [*wrote, *wanted], new=False)
        return self.kept

    def log_place(self) -> Path:
        """Where error.log of a failed run goes: ``<out>.unfinished/`` (or, if that cannot
        be had, a new folder in the system's temporary folder)."""
        try:
            return self.keep_place("error.log")
        except (OSError, InputError):

            try:
                return Path(tempfile.mkdtemp(prefix="uccx-audit-error-"))
            except OSError:
                return self.kept

    def keep_facts(self, facts_files: dict[str, Path]) -> None:
        """Copy the probed facts (name -> file in the stage) to ``<out>.unfinished/``, where
        they stay if the run stops before the set is in place (with error.log, should the
        run fail after this)."""
        self.keep_place(*facts_files, "error.log")
        for name, path in facts_files.items():
            # named before it is written: a Ctrl-C just after the rename still reports it
            # (interrupted() names only those that exist)
            self.kept_files.append(self.kept / name)
            write_atomic(self.kept / name, path.read_bytes())

    def also_wrote(self, path: Path) -> None:
        """A file or folder in the stage the manifest names without hashing (the demo's
        lab): the next run into the folder may replace it."""
        self.unhashed.append(path)

    def unhashed_files(self) -> list[Path]:
        """Every file under what :meth:`also_wrote` named."""
        files: list[Path] = []
        for path in self.unhashed:
            if path.is_dir() and not path.is_symlink():
                files += sorted(p for p in path.rglob("*") if not p.is_dir() or p.is_symlink())
            elif os.path.lexists(path):
                files.append(path)
        return files

    def final(self, path: Path) -> Path:
        """Where a file written into the stage is once the set is in place."""
        return self.out / Path(path).relative_to(self.stage)

    def claim(self, paths: Iterable[str]) -> None:
        """Before any work: an input error if the folder holds an entry of the user's where
        the set will put one of ``paths`` (relative): a file the manifest does not list, a
        folder by a listed file's name, or such an entry above it."""
        if not self.out.exists():
            return
        owned = ownership(self.out, self.option)
        self._check_movable(placements(self.out, None, owned)[0])
        taken = first_taken(self.out, owned, paths)
        if taken is not None:
            raise self._taken(taken)

    def _check_movable(self, moves: Iterable[str]) -> None:
        stuck = next((m for m in moves if not movable(self.out, m)), None)
        if stuck is not None:
            raise InputError(f"{self.out / stuck} is the user's and cannot be moved into the "
                             f"new set (permission denied): nothing was replaced"
                             f"{self._facts_note()}", field=self.option,
                             expected="a folder whose files you may move, or another folder")

    def _facts_note(self) -> str:
        kept = [p for p in self.kept_files if p.exists()]
        return f"; the probed facts are in {kept[0]}" if kept else ""

    def _taken(self, relative: str) -> InputError:
        return InputError(f"{self.out / relative} is not one of the files uccx-audit wrote "
                          f"there (its manifest.json does not list it) and the new reports "
                          f"need that name: nothing was replaced{self._facts_note()}",
                          field=self.option,
                          expected="move it away, or choose another folder")

    def commit(self) -> None:
        """Move the set in, in one step; then move the user's files of the previous folder
        into it and remove the previous set's own files."""
        owned = ownership(self.out, self.option) if self.out.exists() else None
        if owned is not None:
            moves, taken = placements(self.out, self.stage, owned)
            if taken:
                raise self._taken(taken[0])
            self._check_movable(moves)
            with contextlib.suppress(OSError):  # the folder keeps the mode it had
                os.chmod(self.stage, stat.S_IMODE(os.lstat(self.out).st_mode))
        assert self._record is not None
        with interrupts_held():  # delivered once the set is in place
            cwd_inside = _cwd_inside(self.out)
            record = {**self._record, "old": ident(self.out) if owned is not None else None}
            self._record = record
            self._journal()
            old: Path | None = None
            if owned is None:
                os.rename(self.stage, self.out)
            elif exchange(self.stage, self.out):
                old = self.stage  # the stage path now holds the previous folder
            else:
                aside = self.out.parent / f".{self.out.name}{_OLD}{secrets.token_hex(4)}"
                record["aside"] = aside.name
                self._journal()
                os.rename(self.out, aside)
                os.rename(self.stage, self.out)
                old = aside
            self.committed = True
            try:
                done = old is None or settle(old, self.out, owned)
            except OSError:  # what is left stays in ``old``, recorded
                done = False
            if not done:
                self._pending.append(record)  # the next run tries again
            self._record = None
            self._journal()
            if cwd_inside is not None:
                _follow(self.out, cwd_inside)
        self.discard_kept()

    def discard_kept(self) -> None:
        """Remove what the tool wrote into ``<out>.unfinished/`` (this run's facts and any
        a killed run left, their temporary files too), and the folder once it is empty;
        the same in a ``-2`` ... folder of the tool's a run before this one used."""
        self.kept_files = []
        for kept in _kept_folders(self.out):
            if not _kept_is_ours(kept):
                continue
            wrote = [*_kept_names(kept), KEPT_MARK]
            with contextlib.suppress(OSError):
                for name in os.listdir(kept):
                    if name in wrote[:-1] or any(_is_temporary(name, n) for n in wrote):
                        with contextlib.suppress(OSError):
                            os.unlink(kept / name)
            _drop_if_empty(kept)

    def _drop_empty_kept(self) -> None:
        _drop_if_empty(self.kept)


def _drop_if_empty(kept: Path) -> None:
    """A kept-facts folder of the tool's, when it holds nothing but the tool's marker."""
    with contextlib.suppress(OSError):
        if _kept_is_ours(kept) and set(os.listdir(kept)) <= {KEPT_MARK}:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(kept / KEPT_MARK)
            os.rmdir(kept)


def _cwd_inside(folder: Path) -> PurePosixPath | None:
    """Where the working folder is inside ``folder`` (None: outside it)."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return None
    if cwd == folder or folder in cwd.parents:
        return PurePosixPath(cwd.relative_to(folder).as_posix())
    return None


def _follow(folder: Path, relative: PurePosixPath) -> None:
    """The working folder was inside the previous folder: the same place in the new one
    (or the nearest folder above it that is there)."""
    place = folder / relative
    while place != folder and not place.is_dir():
        place = place.parent
    with contextlib.suppress(OSError):
        os.chdir(place)
