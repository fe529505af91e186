"""All reports or none: an interrupt, a kill or a failure leaves the complete previous set
or the complete new one in --out, never a mix; one writer per folder at a time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import patched_cli
import pytest
from cli_runner import invoke
from test_offline_audit import downloads

from auditor.lab import SCENARIOS
from auditor.pipeline.outdir import OutputSet

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "fixtures" / "lab"
SET = {"audit.json", "facts.json", "junit.xml", "manifest.json", "report.html", "report.md"}


def offline_cluster(tmp_path: Path, scenario: str = "row4-upgrade-trap") -> Path:
    """An inventory whose nodes' certificates are downloaded PEMs (no server, fast)."""
    lines = ["cluster: offline", 'version: "11.5(1)"', "nodes:"]
    pems = downloads(scenario, tmp_path / "pems")
    for spec in SCENARIOS[scenario].nodes:
        lines += [f"  - host: {spec.host}", f"    role: {spec.role}",
                  f"    pem_dir: {pems / spec.host}"]
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text("\n".join(lines) + "\n")
    return inventory


def command(inventory: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auditor", "audit", "--inventory", str(inventory),
            "--phase", "post", "--agent-trust", str(LAB / "agent-trust.pem"),
            "--out", str(out)]


def paused_command(inventory: Path, out: Path) -> list[str]:
    """:func:`command` through the wrapper that pauses where files are put in place."""
    return [*patched_cli.command(), *command(inventory, out)[3:]]


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})


def complete_set(out: Path) -> str:
    """The set's run (its manifest's start time), after checking that it is whole: every
    file there and intact against its manifest (a mix of two runs fails the hashes)."""
    names = {p.name for p in out.iterdir()}
    assert names == SET, names
    verified = invoke("verify", str(out), "--strict")  # in this process: it only reads
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return json.loads((out / "manifest.json").read_text())["finished_at"] + \
        (out / "manifest.json").read_text()


def no_temporary_files(folder: Path) -> None:
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert hidden == [], hidden


def wait_for(condition, seconds: float = 60) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (polled, bounded in count)."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_signal_at_any_point_of_writing_leaves_a_complete_set(tmp_path, sig) -> None:
    """The run stops at each point where a file or the set is put in place in turn (the
    wrapper waits there, tests/patched_cli.py) and the signal lands exactly there. The folder
    then holds the previous complete set or the new one, and both are seen."""
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    first = run(command(inventory, out))
    assert first.returncode == 1, first.stderr  # row 4: no-go
    previous = complete_set(out)
    outcomes, points = set(), 0
    kept = tmp_path / "out.unfinished"
    pauses = tmp_path.parent / f"{tmp_path.name}-pauses"
    for point in range(1, 41):  # bounded: a run has far fewer points
        shutil.rmtree(kept, ignore_errors=True)  # what a killed run kept
        shutil.rmtree(pauses, ignore_errors=True)
        pauses.mkdir()
        process = subprocess.Popen(
            paused_command(inventory, out), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TEST_PAUSE_AT": str(point), "TEST_PAUSE_DIR": str(pauses)})
        paused = pauses / f"paused-{point}"
        assert wait_for(lambda p=paused: p.exists() or (pauses / "finished").exists()), point
        if not paused.exists():  # the run has fewer points: every one was tried
            process.communicate(timeout=60)
            break
        points += 1
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        now = complete_set(out)
        outcomes.add("previous" if now == previous else "new")
        if sig == signal.SIGINT:
            assert process.returncode == 130, stderr
            assert "interrupted" in stderr
            no_temporary_files(tmp_path)
            # the facts stay beside the folder exactly when they were probed and the new
            # set did not go in
            probed = "before the probe finished" not in stderr
            assert kept.exists() == (probed and "keeps its previous reports" in stderr), stderr
            assert (now == previous) != ("the complete set is in" in stderr), stderr
        previous = now
    assert points >= 4, points
    # the signal landed both before and after the set was moved in
    assert outcomes == {"previous", "new"}, outcomes


def test_interrupted_after_probing_keeps_the_facts_and_says_where(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    process = subprocess.Popen(paused_command(inventory, out), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TEST_SLOW_WRITES": "2"})
    deadline = time.monotonic() + 60
    kept = tmp_path / "out.unfinished" / "facts.json"
    while not kept.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"the probed facts are in {kept}" in stderr and "was not created" in stderr
    assert json.loads(kept.read_text())["nodes"]
    assert not out.exists()
    no_temporary_files(tmp_path)


def test_a_clean_run_leaves_no_temporary_files(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    for _ in range(2):  # a new folder, then a re-run into it
        done = run(command(inventory, out))
        assert done.returncode == 1, done.stderr
        complete_set(out)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml", "out", "pems"]


def test_files_beside_the_reports_are_carried_over(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    run(command(inventory, out))
    (out / "diff.html").write_text("mine")
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("also mine")
    done = run(command(inventory, out))
    assert done.returncode == 1, done.stderr
    assert (out / "diff.html").read_text() == "mine"
    assert (out / "notes" / "a.txt").read_text() == "also mine"


def test_two_audits_into_one_folder_the_second_exits_2(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    slow = {**os.environ, "TEST_SLOW_WRITES": "0.5"}
    first = subprocess.Popen(paused_command(inventory, out), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=slow)
    lock = tmp_path / ".out.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run(command(inventory, out))
    _, first_err = first.communicate(timeout=120)
    assert second.returncode == 2, second.stderr
    assert "another uccx-audit is writing into" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 1, first_err
    complete_set(out)
    no_temporary_files(tmp_path)


def test_the_lock_is_exclusive_in_process(tmp_path) -> None:
    from auditor.common.errors import InputError

    with OutputSet(tmp_path / "out"), pytest.raises(InputError, match="another uccx-audit"), \
            OutputSet(tmp_path / "out"):
        pass
    with OutputSet(tmp_path / "out"):  # released
        pass


def test_a_failed_rerun_leaves_the_previous_set_intact(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    run(command(inventory, out))
    previous = complete_set(out)
    failing = [sys.executable, "-c",
               "import sys, auditor.pipeline.run as p\n"
               "def broken(*a, **k): raise RuntimeError('renderer bug')\n"
               "p.write_report = broken\n"
               "from auditor.cli.app import main\n"
               "sys.argv = ['uccx-audit', *sys.argv[1:]]\nmain()",
               *command(inventory, out)[3:]]
    done = run(failing)
    assert done.returncode == 4, done.stderr
    assert complete_set(out) == previous
    assert "Traceback" not in done.stderr


def test_a_full_disk_is_one_line_naming_the_facts(tmp_path) -> None:
    """The reports cannot be written (ENOSPC): exit 2, one line, the facts named."""
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    full = [sys.executable, "-c",
            "import errno, sys, auditor.pipeline.run as p\n"
            "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "p.write_report = full\n"
            "from auditor.cli.app import main\n"
            "sys.argv = ['uccx-audit', *sys.argv[1:]]\nmain()",
            *command(inventory, out)[3:]]
    done = run(full)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr
    assert str(tmp_path / "out.unfinished" / "facts.json") in lines[0]
    assert not out.exists()


def test_an_interrupted_probe_says_so(tmp_path) -> None:
    from servers import listening_sockets

    out = tmp_path / "facts.json"
    with listening_sockets(1) as ports:  # accept, never answer: the probe waits
        process = subprocess.Popen(
            [sys.executable, "-m", "auditor", "probe", f"127.0.0.1:{ports[0]}",
             "--handshake-timeout", "60", "--out", str(out)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        assert ports.connected(), process.communicate(timeout=30)  # the probe is waiting
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted before the probe finished: nothing was written" in stderr
    assert "Traceback" not in stderr and not out.exists()
