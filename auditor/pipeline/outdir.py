"""An output folder written all at once: every report or none, one writer at a time.

An audit (or a portfolio) writes its whole set into a hidden staging folder beside
``--out`` and moves it in at the end, in one step (``renameat2(RENAME_EXCHANGE)`` where the
file system has it, else two renames that the next run completes). So whatever stops the
run - Ctrl-C, a kill, a full disk, a bug - ``--out`` holds either the complete previous set
or the complete new one, never a mix. Files in the folder that are not part of an audit set
(a diff an engineer kept beside the reports) are carried over, as hard links.

When the probe is done its facts are also kept beside the folder (``<out>.unfinished/``)
until the set is in place: a run that stops after probing loses no probe (error.log of a
failed run goes there too). An exclusive lock
(``fcntl.flock`` on ``.<out>.lock`` beside the folder) makes a second run into the same
folder stop at once with exit 2.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from auditor.common.errors import InputError
from auditor.common.fileio import UMASK, slow_step, through_proc
from auditor.common.inputs import file_kind

#: Names an audit or a portfolio writes (what a new set replaces; anything else is carried).
SET_NAMES = frozenset({"facts.json", "report.html", "report.md", "audit.json", "junit.xml",
                       "report.pdf", "manifest.json", "error.log", "lab", "portfolio.json",
                       "portfolio.csv", "portfolio.html"})
_STAGE, _OLD = ".uccx-stage-", ".uccx-old-"


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
    with contextlib.suppress(OSError):
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    return False


def check_out_dir(path: Path, option: str = "--out") -> Path:
    """The absolute folder ``path`` names, checked before anything is probed: an existing
    folder we can replace, or one we can create. Files, devices, FIFOs, dangling symlinks
    and read-only places are input errors."""
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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _old_set_names(folder: Path) -> set[str]:
    """What the set in ``folder`` consists of: the fixed names, the evidence zips and, for
    a portfolio, its clusters' folders."""
    names = {n for n in SET_NAMES}
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
        data = json.loads((folder / "portfolio.json").read_text(encoding="utf-8"))
        names |= {str(c["folder"]) for c in data["clusters"]}
    with contextlib.suppress(OSError):
        names |= {p.name for p in folder.iterdir()
                  if p.name.startswith("evidence-") and p.name.endswith(".zip")}
    return names


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as hard links to ``source`` (copies where links are refused)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=link)
    elif source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        link(str(source), str(target))


class OutputSet:
    """The staging folder of one run into ``out`` (use it as a context manager).

    ``stage`` is where everything is written; :meth:`keep_facts` copies the probed facts
    beside the folder; :meth:`commit` moves the set in. Leaving the ``with`` block without
    a commit removes the staging folder and keeps the previous set as it was."""

    def __init__(self, out: Path, option: str = "--out") -> None:
        self.requested = out
        self.out = check_out_dir(out, option)
        self.kept = self.out.parent / f"{self.out.name}.unfinished"
        self.stage: Path = self.out  # set on entry
        self.committed = False
        self.kept_files: list[Path] = []
        self._lock_fd: int | None = None
        self._lock_path = self.out.parent / f".{self.out.name}.lock"

    # -- lock -----------------------------------------------------------------------
    def _lock(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise InputError(
                    f"another uccx-audit is writing into {self.requested} (lock "
                    f"{self._lock_path} is held)", field="--out",
                    expected="wait for it to finish, or choose another folder") from None
            try:  # the holder before us may have removed the file it locked: lock anew
                same = os.fstat(fd).st_ino == os.stat(self._lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                return
            os.close(fd)
        raise InputError(f"cannot lock {self._lock_path}", field="--out")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock_path)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the set --------------------------------------------------------------------
    def _recover(self) -> None:
        """Finish what a killed run left: a previous set moved aside and not back, stale
        staging folders."""
        prefix = f".{self.out.name}"
        leftovers = sorted(p for p in self.out.parent.iterdir()
                           if p.name.startswith(prefix + _STAGE)
                           or p.name.startswith(prefix + _OLD))
        for path in leftovers:
            if path.name.startswith(prefix + _OLD) and not self.out.exists():
                os.rename(path, self.out)
            else:
                shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> OutputSet:
        self._lock()
        try:
            self._recover()
            self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}{_STAGE}",
                                               dir=self.out.parent))
            os.chmod(self.stage, 0o777 & ~UMASK)
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            # uncommitted: the partial new set; committed: the previous set, swapped out
            shutil.rmtree(self.stage, ignore_errors=True)
            if self.committed:
                self.discard_kept()
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

    def keep_facts(self, facts_files: dict[str, Path]) -> None:
        """Copy the probed facts (name -> file in the stage) to ``<out>.unfinished/``, where
        they stay if the run stops before the set is in place."""
        from auditor.common.fileio import write_atomic

        self.kept.mkdir(parents=True, exist_ok=True)
        for name, path in facts_files.items():
            # named before it is written: a Ctrl-C just after the rename still reports it
            # (interrupted() names only those that exist)
            self.kept_files.append(self.kept / name)
            write_atomic(self.kept / name, path.read_bytes())

    def final(self, path: Path) -> Path:
        """Where a file written into the stage is once the set is in place."""
        return self.out / Path(path).relative_to(self.stage)

    def commit(self) -> None:
        """Move the set in, in one step; carry over files that are not part of a set."""
        if self.out.is_dir():
            ours = _old_set_names(self.out)
            for entry in sorted(self.out.iterdir()):
                if entry.name in ours or (self.stage / entry.name).exists() \
                        or entry.name.startswith("."):
                    continue
                _link_tree(entry, self.stage / entry.name)
        slow_step()
        with _signals_held():
            cwd_inside = _cwd_inside(self.out)
            if not self.out.exists():
                os.rename(self.stage, self.out)
            elif _exchange(self.stage, self.out):
                pass  # the stage path now holds the previous set
            else:
                aside = self.out.parent / f".{self.out.name}{_OLD}{os.getpid()}"
                os.rename(self.out, aside)
                os.rename(self.stage, self.out)
                os.rename(aside, self.stage)
            self.committed = True
            if cwd_inside:
                os.chdir(self.out)
        shutil.rmtree(self.stage, ignore_errors=True)
        self.discard_kept()

    def discard_kept(self) -> None:
        for path in self.kept_files:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.kept.rmdir()
        self.kept_files = []


def _cwd_inside(folder: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == folder or folder in cwd.parents


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the set is in place (delivered right after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
