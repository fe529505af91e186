"""What differs between Windows and POSIX (Linux, macOS), decided in one place.

Every platform-specific path of the tool asks :func:`windows` (or :func:`linux`) at the
moment it acts, and imports a platform's own modules (``fcntl``, ``msvcrt``) only inside
the function that needs them: no module of the package imports a POSIX-only or a
Windows-only module when it is loaded. The test suite runs on Linux and forces the
Windows paths by setting :data:`FORCED` (see docs/PLATFORMS.md for what that proves).

- the output folder's lock: ``fcntl.flock`` on POSIX; ``msvcrt.locking`` on one byte of
  the lock file on Windows (a lock of the handle, released when it is closed);
- a child process and its helpers: a process group of its own on POSIX, killed as a
  group; on Windows a new process group, ended with ``taskkill /T /F`` (the whole tree),
  then the child itself;
- Ctrl-C held while a set is moved in: the signal mask on POSIX; on Windows a handler
  that remembers the interrupt and raises it right after.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

#: None: the platform this process runs on. "windows" or "posix": the paths of that
#: platform, whatever this one is (the tests set it; nothing else should).
FORCED: str | None = None
#: The byte of the lock file that the Windows lock covers: past the journal, so that
#: locking never stands in the way of reading or writing the journal.
WINDOWS_LOCK_OFFSET = 1 << 20


def windows() -> bool:
    """Whether to take the Windows paths."""
    if FORCED is not None:
        return FORCED == "windows"
    return os.name == "nt"


def linux() -> bool:
    """Whether Linux-only system calls (``renameat2``) may be tried."""
    return not windows() and sys.platform.startswith("linux")


def lock_exclusive(fd: int) -> None:
    """Lock the open file ``fd`` for this handle without waiting; :class:`BlockingIOError`
    when another handle (of this process or another) holds it."""
    if windows():
        import msvcrt

        here = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            # Windows-only names: the stubs of another platform do not have them
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError as exc:  # EACCES (or EDEADLOCK): the byte is locked elsewhere
            raise BlockingIOError(errno.EAGAIN, "locked by another handle") from exc
        finally:
            os.lseek(fd, here, os.SEEK_SET)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def unlock(fd: int) -> None:
    """Release :func:`lock_exclusive` (closing ``fd`` releases it too)."""
    if windows():
        import msvcrt

        here = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        finally:
            os.lseek(fd, here, os.SEEK_SET)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def popen_isolated(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` so that :func:`kill_tree` can stop it and every process it
    starts: a session of its own on POSIX, a process group of its own on Windows."""
    if windows():
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        if flags:
            kwargs["creationflags"] = flags
        return subprocess.Popen(command, **kwargs)
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def kill_tree(proc: subprocess.Popen[bytes], wait: float = 10.0) -> None:
    """Stop a child started by :func:`popen_isolated` and the processes it started, then
    reap it (waiting at most ``wait`` seconds). On POSIX the whole process group is
    killed. On Windows ``taskkill /T /F`` ends the tree when it is there (it is on every
    Windows 10/11); the child itself is killed in any case, and its helpers, if taskkill
    could not run, end when they next find their parent gone."""
    if windows():
        system_root = os.environ.get("SYSTEMROOT")
        taskkill = os.path.join(system_root, "System32", "taskkill.exe") if system_root \
            else "taskkill"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([taskkill, "/T", "/F", "/PID", str(proc.pid)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=wait, check=False)
        with contextlib.suppress(OSError):
            proc.kill()
    else:
        killpg = getattr(os, "killpg", None)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if killpg is not None:
                killpg(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        with contextlib.suppress(OSError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Ctrl-C (and on POSIX SIGTERM) wait until the block is done, then are delivered."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not windows() and hasattr(signal, "pthread_sigmask"):
        held = {signal.SIGINT, signal.SIGTERM}
        before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        return
    # Windows: no signal mask; a handler remembers Ctrl-C (and Ctrl-Break) for later
    names = [n for n in ("SIGINT", "SIGBREAK") if hasattr(signal, n)]
    caught: list[tuple[int, Any]] = []
    previous: dict[int, Any] = {}

    def remember(signum: int, frame: Any) -> None:
        caught.append((signum, frame))

    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, remember)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum, frame in caught[:1]:
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler != signal.SIG_IGN:
                raise KeyboardInterrupt
