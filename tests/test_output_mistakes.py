"""Output mistakes are input errors, found before probing; special files are refused as
outputs and as inputs; a full disk is one line naming where the facts are. Exit 2, no
traceback, in every case."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from test_output_sets import LAB, command, offline_cluster

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts" / "row3-ec-signed-ecdsa.json"


def run(*args: str) -> Result:
    return invoke(*args)


def run_process(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A process of its own, where it matters: a hang must be bounded by a timeout, and
    ``/dev/stdout`` must be the command's own (a pipe), not pytest's capture file."""
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def refused(done: Result | subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def audit_args(tmp_path):
    inventory = offline_cluster(tmp_path)
    return command(inventory, tmp_path / "unused")[3:-2]


@pytest.mark.parametrize("case", ["file", "dangling", "device", "fifo", "inside-a-file"])
def test_audit_out_that_cannot_be_a_folder(tmp_path, audit_args, case) -> None:
    out = {"file": tmp_path / "a-file", "dangling": tmp_path / "dangling",
           "device": Path("/dev/full"), "fifo": tmp_path / "fifo",
           "inside-a-file": tmp_path / "a-file" / "out"}[case]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    done = run(*audit_args, "--out", str(out))
    refused(done, "--out")
    assert "[1/" not in done.stderr  # nothing was probed (nor read)
    assert (tmp_path / "a-file").read_text() == "x"
    assert Path("/dev/full").is_char_device()


@contextlib.contextmanager
def _tmpfs(point: Path, options: str, what: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``point`` for the test, unmounted after it."""
    if os.geteuid() != 0:
        pytest.fail(f"this test mounts {what}: run the suite as root")
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


@pytest.fixture
def read_only_mount(tmp_path):
    with _tmpfs(tmp_path / "ro", "size=64k,ro", "a read-only tmpfs") as point:
        yield point


def test_audit_out_on_a_read_only_mount_is_refused_before_probing(read_only_mount,
                                                                  audit_args) -> None:
    done = run(*audit_args, "--out", str(read_only_mount / "out"))
    refused(done, "read-only file system")


@pytest.fixture
def tiny_disk(tmp_path):
    with _tmpfs(tmp_path / "tiny", "size=64k", "a 64 KB tmpfs") as point:
        yield point


def test_a_full_disk_is_one_line_naming_where_the_facts_are(tiny_disk, audit_args) -> None:
    done = run(*audit_args, "--out", str(tiny_disk / "out"))
    refused(done, "No space left on device", "the probed facts are in")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    kept = Path(done.stderr.split("the probed facts are in ")[1].split()[0])
    assert kept.is_file() and kept.stat().st_size > 1000
    assert not (tiny_disk / "out").exists()
    assert [p.name for p in tiny_disk.iterdir()] in ([], ["out.unfinished"])


def test_report_out_to_a_device_is_refused_and_the_device_stays(tmp_path) -> None:
    audit = tmp_path / "audit.json"
    done = run("evaluate", str(FACTS), "--phase", "post", "--out", str(audit))
    assert done.returncode == 0, done.stderr
    for device in ("/dev/stdout", "/dev/full", "/dev/null"):
        before = os.lstat(device)
        refused(run_process("report", str(audit), "--format", "md", "--out", device),
                "file descriptor" if device == "/dev/stdout" else "not a regular file",
                "standard output")
        after = os.lstat(device)
        assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)
    stdout = run("report", str(audit), "--format", "md", "--out", "-")
    assert stdout.returncode == 0, stdout.stderr
    assert "UCCX certificate audit" in stdout.stdout.splitlines()[0]
    refused(run("report", str(audit), "--out", str(tmp_path)), "is a folder")
    refused(run("diff", str(audit), str(audit), "--out", "/dev/full"), "not a regular file")
    refused(run("evaluate", str(FACTS), "--phase", "post", "--out", "/dev/full"),
            "not a regular file")


@pytest.mark.parametrize("where", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_a_file_descriptor_is_refused_even_when_it_leads_to_a_regular_file(tmp_path,
                                                                          where) -> None:
    """In this process standard output is pytest's capture file, a regular file: an atomic
    write there once replaced the machine's /dev/stdout link with a file of its own."""
    audit = tmp_path / "audit.json"
    assert run("evaluate", str(FACTS), "--phase", "post", "--out", str(audit)).returncode == 0
    before = os.lstat("/dev/stdout")
    for args in (["report", str(audit), "--format", "md"],
                 ["evaluate", str(FACTS), "--phase", "post"],
                 ["diff", str(audit), str(audit)]):
        refused(run(*args, "--out", where), "file descriptor", "--out -")
    after = os.lstat("/dev/stdout")
    assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)
    assert os.readlink("/dev/stdout") == "/proc/self/fd/1"


def test_out_that_is_a_link_replaces_the_file_it_names_and_keeps_the_link(tmp_path) -> None:
    audit = tmp_path / "audit.json"
    assert run("evaluate", str(FACTS), "--phase", "post", "--out", str(audit)).returncode == 0
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "report.md").write_text("old")
    link = tmp_path / "report.md"
    link.symlink_to(shared / "report.md")
    done = run("report", str(audit), "--format", "md", "--out", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(shared / "report.md")
    assert "UCCX certificate audit" in (shared / "report.md").read_text().splitlines()[0]
    assert sorted(p.name for p in shared.iterdir()) == ["report.md"]  # no temporary left


def test_probe_out_naming_a_folder_is_refused_before_probing(tmp_path) -> None:
    done = run("probe", "127.0.0.1:1", "--out", str(tmp_path))
    refused(done, "is a folder")
    assert "[1/1]" not in done.stderr


@pytest.mark.parametrize("option", ["--inventory", "--agent-trust", "--waivers", "--rules"])
def test_a_fifo_or_a_device_as_an_input_does_not_hang(tmp_path, audit_args, option) -> None:
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    if option == "--rules":  # a FIFO inside a rules folder
        folder = tmp_path / "rules"
        folder.mkdir()
        os.mkfifo(folder / "site.yaml")
        args = [*audit_args, "--rules", str(folder)]
    elif option == "--inventory":
        args = ["audit", "--inventory", str(fifo), "--phase", "post"]
    else:
        args = [*audit_args, option, str(fifo)]
    refused(run_process(*args, "--out", str(tmp_path / "out"), timeout=60), "FIFO")
    if option == "--agent-trust":
        refused(run_process(*audit_args, "--agent-trust", "/dev/zero", "--out",
                    str(tmp_path / "out")), "device")
    assert not (tmp_path / "out").exists()


def test_files_larger_than_the_limit_are_refused(tmp_path, audit_args) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(9 << 20)  # sparse: 9 MB of nothing
    refused(run("audit", "--inventory", str(big), "--phase", "post"), "the limit")
    refused(run(*audit_args, "--waivers", str(big)), "the limit")
    pem = tmp_path / "big.pem"
    with open(pem, "wb") as handle:
        handle.truncate(17 << 20)
    refused(run(*audit_args, "--agent-trust", str(pem)), "the limit")
    refused(run("check-cert", str(pem), "--purpose", "tomcat"), "the limit")


def test_reports_follow_the_umask(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *command(inventory, out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes
    assert out.stat().st_mode & 0o777 == 0o755
    done = subprocess.run(
        ["sh", "-c", 'umask 077 && exec "$@"', "sh", *command(inventory, out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o600}
    assert LAB.exists()
