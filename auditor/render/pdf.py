"""The HTML report printed to PDF by a local Chrome, Chromium or Edge.

Why a browser and not a library: every Windows 10/11 laptop already has Edge and most have
Chrome, so PDF needs no install there; Python PDF libraries that honour paged media (page
counters, running headers) need native Pango/GTK libraries that are hard to get on Windows.
The print is the very HTML an engineer opens, so the PDF cannot drift from it; its print
stylesheet puts the verdict in every page's header and page numbers in the footer (CSS
``@page`` margin boxes, Chromium 131 or later), keeps each plan step whole on one page and
starts the sections after the plan on a new page (the plan follows the verdict on page 1).

The browser runs headless, without network or scripts (the report's CSP forbids them), with
a throwaway profile and home folder in the system temporary folder that are removed
afterwards, and for a bounded time. Only the finished PDF is written to the destination,
atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from auditor.common.errors import AuditorError
from auditor.common.fileio import write_atomic
from auditor.common.portable import kill_tree, popen_isolated, windows

#: Environment variable naming the browser executable to print with (it then is the only
#: one tried).
BROWSER_ENV = "UCCX_AUDIT_BROWSER"
#: Seconds a print may take before the browser is stopped.
PRINT_TIMEOUT = 90.0
#: Executable names looked up on PATH, in order of preference.
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
              "chrome", "msedge", "microsoft-edge", "microsoft-edge-stable")
#: What a user without an engine reads (one line).
HINT = (f"PDF not written: no Chrome, Chromium or Edge found; install one or set "
        f"{BROWSER_ENV} to its executable")
_FLAGS = ("--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-extensions", "--disable-default-apps", "--disable-dev-shm-usage",
          "--mute-audio", "--no-pdf-header-footer", "--print-to-pdf-no-header")


class PdfUnavailable(AuditorError):
    """No engine to print with, or the engine failed; the message is one line for people."""


def install_locations(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where Chrome, Chromium and Edge install themselves on Windows, macOS and Linux."""
    env = os.environ if env is None else env
    if windows():
        bases = [env.get(k) for k in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        tails = (r"Google\Chrome\Application\chrome.exe",
                 r"Microsoft\Edge\Application\msedge.exe",
                 r"Chromium\Application\chrome.exe")
        return [Path(base) / tail for base in bases if base for tail in tails]
    if sys.platform == "darwin":
        apps = ("Google Chrome.app/Contents/MacOS/Google Chrome",
                "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
                "Chromium.app/Contents/MacOS/Chromium")
        roots = [Path("/Applications"), Path(env.get("HOME", "/")) / "Applications"]
        return [root / app for root in roots for app in apps]
    return [Path(p) for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser",
                              "/usr/bin/google-chrome", "/opt/google/chrome/chrome",
                              "/opt/microsoft/msedge/msedge", "/snap/bin/chromium")]


def find_browser(env: Mapping[str, str] | None = None) -> Path:
    """The browser to print with: ``UCCX_AUDIT_BROWSER`` if set, else the first of
    :data:`PATH_NAMES` on PATH, else the first usual install location that exists."""
    env = os.environ if env is None else env
    chosen = env.get(BROWSER_ENV)
    if chosen:
        path = Path(chosen)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise PdfUnavailable(f"PDF not written: {BROWSER_ENV}={chosen} is not an "
                                 f"executable file; point it at Chrome, Chromium or Edge")
        return path
    for name in PATH_NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return Path(found)
    for path in install_locations(env):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise PdfUnavailable(HINT)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A throwaway folder in the system temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="uccx-pdf-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run the browser so that it and its helpers can be stopped together (a process group
    of its own on POSIX; a process group and ``taskkill /T`` on Windows: see
    :func:`auditor.common.portable.kill_tree` for what each guarantees); on timeout stop
    them. Waiting for what is left of the output after that is bounded too: a helper
    that outlived the browser and holds the pipe cannot keep the run waiting."""
    proc = popen_isolated(command, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
            proc.communicate(timeout=5)
        if proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()
        raise PdfUnavailable(f"PDF not written: the browser did not finish printing within "
                             f"{timeout:g} s") from None
    return proc.returncode, output.decode("utf-8", "replace")


def html_to_pdf(html: str, out: str | os.PathLike[str], *, browser: Path | None = None,
                timeout: float = PRINT_TIMEOUT) -> Path:
    """Print ``html`` (a self-contained page) to the PDF file ``out``, atomically."""
    engine = browser or find_browser()
    with _scratch() as scratch:
        page = scratch / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = scratch / "report.pdf"
        home = scratch / "home"
        home.mkdir()
        env = dict(os.environ)
        # Chromium keeps state under HOME/XDG folders (e.g. ~/.pki) even with a profile of
        # its own: point them into the scratch folder too.
        env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                    "XDG_CACHE_HOME": str(home / ".cache"),
                    "XDG_DATA_HOME": str(home / ".local" / "share")})
        command = [str(engine), *_FLAGS, f"--user-data-dir={scratch / 'profile'}",
                   f"--print-to-pdf={printed}", page.as_uri()]
        # root on POSIX (a fact of this process, not a platform path): Chromium refuses
        # its sandbox there
        if getattr(os, "geteuid", lambda: -1)() == 0:
            command.insert(1, "--no-sandbox")
        code, output = _run(command, env, timeout)
        data = printed.read_bytes() if printed.is_file() else b""
        if not data.startswith(b"%PDF-"):
            last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
            raise PdfUnavailable(f"PDF not written: {engine.name} exited {code} without a "
                                 f"PDF" + (f" ({last.strip()[:200]})" if last else ""))
    return write_atomic(out, data)
