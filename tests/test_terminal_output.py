"""Polite terminal output: the verdict coloured only where colours are wanted (a
terminal, no NO_COLOR, no --no-color), --quiet keeping the verdict line alone, and a grid
that never splits a host name, whatever the width."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from cli_runner import invoke, terminal_run
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.model.audit import audit_from_data
from auditor.render.audit_text import gadget_table

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"
SGR = re.compile("\x1b\\[[0-9;]*m")
#: (facts, phase, the verdict's colour code, exit code)
CASES = [("row4-upgrade-trap", "post", "31", 1), ("row3-ec-signed-ecdsa", "post", "32", 0),
         ("pre-upgrade-ca-signed", "pre", "31", 1)]


def _audit(name: str, phase: str):
    done = invoke("evaluate", FACTS / f"{name}.json", "--phase", phase, "--format", "json")
    return audit_from_data(json.loads(done.stdout))


# -- the grid ---------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
HOST = st.lists(LABEL, min_size=1, max_size=6).map(".".join).filter(lambda h: len(h) <= 253)
AUDITS = {phase: _audit(name, phase) for name, phase, *_ in CASES[1:]}


@settings(max_examples=150, deadline=None)
@given(hosts=st.lists(HOST, min_size=3, max_size=3, unique=True),
       width=st.one_of(st.sampled_from([60, 80, 120]), st.integers(30, 220)),
       phase=st.sampled_from(sorted(AUDITS)))
def test_the_grid_never_splits_a_host_name(hosts, width, phase) -> None:
    audit = AUDITS[phase]
    audit = dataclasses.replace(audit, nodes=tuple(
        dataclasses.replace(n, host=h) for n, h in zip(audit.nodes, hosts, strict=True)))
    grid = gadget_table(audit, width=width)
    lines = grid.splitlines()
    for host in hosts:  # whole, as the first word of a line of its own node
        assert any(line.split(maxsplit=1)[:1] == [host] for line in lines), (host, grid)
    # nothing wider than the terminal but a host name that is wider on its own
    assert all(len(line) <= width or line.strip() in hosts for line in lines), grid
    joined = " ".join(grid.split()).lower()
    for node in audit.nodes:
        for result in node.gadgets.values():
            assert result.outcome.split("_")[0] in joined


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_a_terminal_shows_long_host_names_whole(tmp_path, columns) -> None:
    data = json.loads((FACTS / "mixed-cluster.json").read_text())
    long = {h: f"{h.split('.')[0]}-contact-centre-01.customer-site.example.com"
            for h in ("uccx-pub.lab.uccx.example", "uccx-sub.lab.uccx.example",
                      "sm.lab.uccx.example")}
    # the nodes' names only: a certificate's fields are what its PEM says
    # (tests/test_recorded_certificates.py), so they keep naming the lab's hosts
    for node in [*data["nodes"], *(data.get("roster") or [])]:
        node["host"] = long[node["host"]]
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(data))
    shown = terminal_run("evaluate", facts, "--phase", "post", columns=columns,
                         env={"COLUMNS": str(columns)}).stdout
    # the grid: after the heading, before what was not seen and the findings
    grid = re.split("\n\n(?:Not seen|Findings)", SGR.sub("", shown).split("\n\n", 1)[1])[0]
    for host in long.values():
        assert any(line.split(maxsplit=1)[:1] == [host] for line in grid.splitlines()), grid
    assert max(map(len, grid.splitlines())) <= columns, grid


# -- colours ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, phase, colour, code", CASES)
def test_the_verdict_is_coloured_on_a_terminal_only(name, phase, colour, code) -> None:
    args = ("evaluate", FACTS / f"{name}.json", "--phase", phase)
    shown = terminal_run(*args, env={"TERM": "xterm"})
    assert shown.returncode == code
    verdict = next(line for line in shown.stdout.splitlines() if "Verdict:" in line)
    assert verdict.startswith(f"\x1b[1;{colour}mVerdict: ") and verdict.endswith("\x1b[0m")
    assert len(SGR.findall(shown.stdout)) == 2  # the verdict line and nothing else
    for env, flags in (({"NO_COLOR": "1"}, ()), ({"NO_COLOR": "no"}, ()),
                       ({}, ("--no-color",)), ({"TERM": "dumb"}, ()),
                       ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, ())):
        plain = terminal_run(*args, *flags, env={"TERM": "xterm", **env})
        assert plain.returncode == code and "\x1b" not in plain.stdout, (env, flags)
        assert "Verdict: " in plain.stdout
    piped = invoke(*args, env={"PATH": "/usr/bin:/bin", "TERM": "xterm"})
    assert "\x1b" not in piped.stdout and "Verdict: " in piped.stdout
    forced = invoke(*args, env={"PATH": "/usr/bin:/bin", "FORCE_COLOR": "1"})
    assert f"\x1b[1;{colour}mVerdict: " in forced.stdout


@settings(max_examples=100, deadline=None)
@given(no_color=st.one_of(st.none(), st.text(min_size=0, max_size=5)),
       force=st.one_of(st.none(), st.text(min_size=0, max_size=5)),
       flag=st.booleans(), tty=st.booleans(),
       term=st.sampled_from([None, "xterm", "dumb", "vt100"]))
def test_colour_follows_no_color_then_force_color_then_the_terminal(
        no_color, force, flag, tty, term) -> None:
    from auditor.render.terminal import colour_wanted

    class Stream:
        def isatty(self) -> bool:
            return tty

    env = {k: v for k, v in (("NO_COLOR", no_color), ("FORCE_COLOR", force), ("TERM", term))
           if v is not None}
    expected = (not flag and not no_color
                and (bool(force) or (tty and term != "dumb")))
    assert colour_wanted(Stream(), no_color=flag, environ=env) is expected


def test_colours_never_let_outside_text_through(tmp_path) -> None:
    """FORCE_COLOR on: the verdict line is painted, a cluster name's escape is still shown
    as text."""
    data = json.loads((FACTS / "row4-upgrade-trap.json").read_text())
    data["cluster"] = "east\x1b[32m\x1b[2J"
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(data))
    done = invoke("evaluate", facts, "--phase", "post",
                  env={"PATH": "/usr/bin:/bin", "FORCE_COLOR": "1"})
    assert "east\\x1b[32m\\x1b[2J" in done.stdout
    assert SGR.sub("", done.stdout).count("\x1b") == 0
    assert len(SGR.findall(done.stdout)) == 2


# -- --quiet ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, phase, colour, code", CASES)
def test_quiet_prints_the_verdict_line_only(tmp_path, name, phase, colour, code) -> None:
    facts = FACTS / f"{name}.json"
    full = invoke("evaluate", facts, "--phase", phase)
    quiet = invoke("evaluate", facts, "--phase", phase, "--quiet")
    verdict = next(line for line in full.stdout.splitlines() if line.startswith("Verdict: "))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (code, verdict + "\n", "")
    other = FACTS / ("pre-upgrade-self-signed.json" if phase == "pre" else "mixed-cluster.json")
    both = invoke("portfolio", facts, other, "--phase", phase, "--out", tmp_path / "all")
    folder = invoke("portfolio", facts, other, "--phase", phase, "--out", tmp_path / "quiet",
                    "--quiet")
    assert folder.stdout.count("\n") == 1 and folder.stdout.startswith("Verdict: "), folder
    assert folder.stdout in both.stdout and "the worst of 2 clusters" in folder.stdout
    assert folder.stderr == "" and folder.returncode == both.returncode
    saved = tmp_path / f"{name}.audit.json"
    invoke("evaluate", facts, "--phase", phase, "--out", saved, "--quiet")
    diff = invoke("diff", saved, saved, "--quiet")
    assert diff.stdout.startswith("Before: ") and diff.stdout.count("\n") == 1, diff
    assert diff.returncode == code and diff.stderr == ""


def test_quiet_check_cert_and_errors(tmp_path) -> None:
    pem = ROOT / "fixtures" / "lab" / "row3-ec-signed-ecdsa" / "uccx-pub-tomcat-ecdsa.pem"
    full = invoke("check-cert", pem, "--purpose", "tomcat-ECDSA")
    quiet = invoke("check-cert", pem, "--purpose", "tomcat-ECDSA", "--quiet")
    assert quiet.stdout == full.stdout.splitlines()[-1] + "\n"
    assert quiet.stdout.startswith(("OK to upload", "OK with warnings: ", "NOT OK: ",
                                    "cannot tell: ")) and quiet.returncode == full.returncode
    missing = invoke("evaluate", tmp_path / "none.json", "--phase", "post", "--quiet")
    assert missing.returncode == 2 and missing.stdout == "" and missing.stderr.count("\n") == 1


def test_quiet_demo(tmp_path) -> None:
    done = invoke("demo", "--scenario", "row3-ec-signed-ecdsa", "--out", tmp_path / "d",
                  "--quiet")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Verdict: ") and done.stdout.count("\n") == 1, done


# -- demo --serve -------------------------------------------------------------------------

def test_demo_serve_holds_the_lab_for_a_rehearsal_until_ctrl_c(tmp_path) -> None:
    """The lab stays up; the printed pre and post audits and the diff run against it (the
    upgrade trap: the predictions come true); SIGINT ends it with exit 0 and closes every
    port."""
    import shlex
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time

    import yaml

    folder = tmp_path / "rehearsal"
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "demo", "--serve", "--scenario", "row4-upgrade-trap",
         "--out", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready:"):
                ready.set()
        ready.set()  # the process ended: no need to wait any longer
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(120) and any(line.startswith("ready:") for line in lines), (
            lines, process.poll())
        commands = [shlex.split(line.strip())[1:] for line in lines
                    if line.strip().startswith("uccx-audit ")]
        assert [c[0] for c in commands] == ["audit", "audit", "diff"], lines
        pre, post, diff = commands
        assert "--phase" in pre and pre[pre.index("--phase") + 1] == "pre"
        assert post[post.index("--phase") + 1] == "post"
        inventories = [Path(c[c.index("--inventory") + 1]) for c in (pre, post)]
        assert all(str(p) in "\n".join(lines) for p in inventories)
        assert invoke(*pre).returncode == 1  # the upgrade trap predicted: no-go
        assert invoke(*post).returncode == 1
        done = invoke(*diff)
        assert done.returncode == 1, done
        assert "6 predictions came true" in done.stdout and "WARNING" not in done.stdout
        assert "replaced" not in done.stdout  # the upgrade kept every tomcat certificate
        assert "now presented" in done.stdout
        ports = [(node["address"], port) for inventory in inventories
                 for node in yaml.safe_load(inventory.read_text())["nodes"]
                 for port in node["ports"].values()]
        assert ports and all(address.startswith("127.") for address, _ in ports)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    assert "lab stopped" in process.stderr.read()
    deadline = time.monotonic() + 10
    for address, port in ports:  # every listener closed with the process
        with socket.socket() as probe:
            probe.settimeout(max(0.1, deadline - time.monotonic()))
            assert probe.connect_ex((address, port)) != 0, (address, port)


def test_demo_serve_says_when_a_scenario_has_no_before(tmp_path) -> None:
    done = invoke("demo", "--serve", "--scenario", "pre-upgrade-ca-signed",
                  "--out", tmp_path / "r")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--scenario" in done.stderr and not (tmp_path / "r").exists()
