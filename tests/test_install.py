"""The README's commands work as a new user types them, and offline installs work.

* The first command runs verbatim (read from README.md, so the test follows the README)
  with Debian's own ``/usr/bin/python3``, which PEP 668 forbids to change, in a copy of
  the checkout, with ``PATH=/usr/bin:/bin``, a fresh HOME and no pip configuration of
  this machine; the demo must run and write its reports.
* ``.ci/run`` runs exactly the README's test command.
* The user part of the README stays short.
* A wheelhouse made by ``scripts/wheelhouse.sh`` installs into a fresh venv with
  ``--no-index`` and the network closed to pip, and the demo runs from it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # installs the package into fresh venvs

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: the README's user part ends at this line; what follows it is not counted
USER_PART_END = "<!-- end of the user part -->"
MAX_USER_WORDS = 1600
#: a proxy on a closed loopback port: any attempt of pip to reach a network fails
NO_NETWORK = "http://127.0.0.1:9"


def readme_command(marker: str) -> str:
    """The shell command in the fenced block right after ``<!-- marker -->`` in README.md."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"^<!-- {re.escape(marker)} -->\n```sh\n(.+?)\n```$", text,
                      re.MULTILINE | re.DOTALL)
    assert found, f"README.md has no ```sh block after <!-- {marker} -->"
    command = found[1]
    assert "\n" not in command, f"the README's {marker} is one line"
    return command


def _copy_of_checkout(dest: Path) -> Path:
    """What a fresh clone holds: the files git knows of (tracked, or new and not ignored),
    as they are in the working tree; outside git, the tree without hidden folders."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached",
                                 "--others", "--exclude-standard"], capture_output=True,
                                check=True, timeout=60).stdout.decode().split("\0")
        for name in filter(None, listed):
            source = ROOT / name
            if source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:
        shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".*", "__pycache__", "*.egg-info", "build", "dist", "uccx-audit-*"))
    return dest


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """Nothing of this machine's Python or pip set-up: no PIP_* or PYTHON* variables, no
    venv, and pip reads no configuration file (a stock machine has none)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "UV_")) and k != "VIRTUAL_ENV"}
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull, **extra)
    return env


def _demo_folder(where: Path) -> Path:
    (folder,) = where.glob("uccx-audit-demo-*")
    for name in ("report.html", "report.md", "audit.json", "junit.xml", "facts.json",
                 "manifest.json"):
        assert (folder / name).is_file(), name
    return folder


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = readme_command("test command")
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    assert command in code, ".ci/run does not run the README's test command"
    # the command is the last thing CI runs, so pytest's exit code is CI's
    assert code[-1] == command
    assert "pytest" in command.rsplit("&&", 1)[-1]


def test_readme_user_part_is_short() -> None:
    text = README.read_text(encoding="utf-8")
    assert USER_PART_END in text, f"README.md has no {USER_PART_END!r} line"
    user_part = text.split(USER_PART_END, 1)[0]
    words = len(user_part.split())
    assert words <= MAX_USER_WORDS, f"the README's user part has {words} words"
    # what moved out is linked from it
    for doc in ("docs/USAGE.md", "docs/BENCHMARK.md", "docs/DEVELOPMENT.md",
                "docs/ARCHITECTURE.md"):
        assert f"]({doc})" in user_part and (ROOT / doc).is_file(), doc


@pytest.mark.timeout(900)
def test_readme_first_command_runs_verbatim_with_debians_python(tmp_path: Path) -> None:
    system_python = Path("/usr/bin/python3")
    stdlib = subprocess.run([system_python, "-c", "import sysconfig; "
                             "print(sysconfig.get_path('stdlib'))"], capture_output=True,
                            text=True, check=True, timeout=60).stdout.strip()
    # the point of the test: pip refuses to install into this Python (PEP 668)
    assert Path(stdlib, "EXTERNALLY-MANAGED").is_file(), \
        f"{system_python} is not a system Python that refuses pip installs"
    command = readme_command("first command")
    checkout = _copy_of_checkout(tmp_path / "checkout")
    env = _clean_env(tmp_path / "home", PATH="/usr/bin:/bin")
    done = subprocess.run(["/bin/sh", "-c", command], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=840,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the package went into the venv of Debian's Python, not into the system
    assert Path(os.path.realpath(checkout / ".venv" / "bin" / "python")).parent == \
        system_python.parent
    assert "Verdict: NO-GO" in done.stdout
    folder = _demo_folder(checkout)
    assert "Sign tomcat-ECDSA with a CA" in (folder / "report.html").read_text()


@pytest.mark.timeout(900)
def test_wheelhouse_installs_with_no_index_and_runs_the_demo(tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    made = subprocess.run(
        ["sh", str(ROOT / "scripts" / "wheelhouse.sh"), str(house)], cwd=tmp_path,
        env=_clean_env(tmp_path / "home", PYTHON=sys.executable), capture_output=True,
        text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    files = sorted(p.name for p in house.iterdir())
    # wheels only: installing them builds nothing, so needs no build backend from a network
    assert files and all(name.endswith(".whl") for name in files), files
    assert any(name.startswith("uccx_cert_auditor-") for name in files)

    jump_host = tmp_path / "jump-host"
    venv.create(jump_host / ".venv", with_pip=True)
    python = jump_host / ".venv" / "bin" / "python"
    offline = _clean_env(tmp_path / "home-offline", HTTPS_PROXY=NO_NETWORK,
                         HTTP_PROXY=NO_NETWORK, https_proxy=NO_NETWORK, http_proxy=NO_NETWORK)
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--find-links", str(house),
         "uccx-cert-auditor"], cwd=jump_host, env=offline, capture_output=True, text=True,
        timeout=600, stdin=subprocess.DEVNULL)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    demo = subprocess.run([jump_host / ".venv" / "bin" / "uccx-audit", "demo"], cwd=jump_host,
                          env=offline, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Verdict: NO-GO" in demo.stdout
    _demo_folder(jump_host)
    where = subprocess.run([python, "-c", "import auditor; print(auditor.__file__)"],
                           cwd=jump_host, env=offline, capture_output=True, text=True,
                           check=True, timeout=60).stdout
    assert where.startswith(str(jump_host / ".venv")), "ran the checkout, not the wheelhouse"
