"""The tool owns only what it wrote: `--out` must be missing, empty or a folder of its own
(with its manifest.json); anything else is one line, exit 2, and not a byte changes. In its
own folder, what the previous manifest does not list is the user's and is kept across
re-runs; what a killed run left is cleaned by the next run, and only that."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import patched_cli
import pytest
from cli_runner import Result, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_output_sets import command, offline_cluster, paused_command
from trees import tree

from auditor.pipeline.manifest import Provenance, write_manifest
from auditor.pipeline.outdir import OutputSet

SET = {"audit.json", "facts.json", "junit.xml", "manifest.json", "report.html", "report.md"}


def audit(inventory: Path, out: Path | str, cwd: Path | None = None, *extra: str) -> Result:
    return invoke(*command(inventory, Path(out))[3:], *extra, cwd=cwd)


def refused_untouched(done: Result, before: dict, folder: Path, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert tree(folder) == before


def user_home(base: Path) -> Path:
    """A home folder: keys, dotfiles, a git checkout, a symlink, private modes."""
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("private key\n")
    (home / ".ssh").chmod(0o700)
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    (home / ".bashrc").write_text("alias ll='ls -l'\n")
    (home / ".git" / "refs").mkdir(parents=True)  # dotfiles kept in git
    (home / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (home / "project" / ".git" / "objects").mkdir(parents=True)
    (home / "project" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (home / "evidence-old-post.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (home / "notes.lnk").symlink_to(home / ".bashrc")
    return home


# -- 1. a folder that is not the tool's is refused, and nothing changes ----------------------

def test_out_dot_in_a_git_checkout_is_refused_and_nothing_changes(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", str(checkout)], check=True, timeout=60)
    (checkout / "README.md").write_text("mine\n")
    subprocess.run(["git", "-C", str(checkout), "add", "README.md"], check=True, timeout=60)
    outside = tree(tmp_path)
    done = audit(inventory, ".", cwd=checkout)
    refused_untouched(done, outside, tmp_path, "--out", str(checkout), "did not write")


def test_out_home_is_refused_and_nothing_changes(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    home = user_home(tmp_path)
    (tmp_path / "to-home").symlink_to(home)
    before = tree(tmp_path)
    for out in (home, tmp_path / "to-home"):  # the folder, and a link to it
        done = invoke(*command(inventory, out)[3:], cwd=home,
                      env={**os.environ, "HOME": str(home)})
        refused_untouched(done, before, tmp_path, str(home))


@pytest.mark.parametrize("case", ["user-folder", "link-to-it", "foreign-manifest",
                                  "manifest-link", "bad-json-manifest", "deep-manifest"])
def test_a_folder_of_the_users_is_refused_through_links_and_fake_manifests(tmp_path,
                                                                          case) -> None:
    inventory = offline_cluster(tmp_path)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n")
    out = folder
    if case == "link-to-it":
        out = tmp_path / "link"
        out.symlink_to(folder)
    elif case == "foreign-manifest":  # another tool's manifest.json
        (folder / "manifest.json").write_text(json.dumps({"name": "web-app", "files": {}}))
    elif case == "manifest-link":  # a link to a manifest of the tool's, elsewhere
        audit(inventory, tmp_path / "real")
        (folder / "manifest.json").symlink_to(tmp_path / "real" / "manifest.json")
    elif case == "bad-json-manifest":
        (folder / "manifest.json").write_bytes(b"\xff{not json")
    elif case == "deep-manifest":
        (folder / "manifest.json").write_text("[" * 100_000)
    before = tree(tmp_path)
    refused_untouched(audit(inventory, out), before, tmp_path, "--out")


@pytest.mark.parametrize("command_name", ["demo", "portfolio", "audit-portfolio"])
def test_every_command_that_writes_a_folder_refuses_a_users_folder(tmp_path,
                                                                  command_name) -> None:
    inventory = offline_cluster(tmp_path)
    home = user_home(tmp_path)
    facts = tmp_path / "facts.json"
    audit(inventory, tmp_path / "first")
    facts.write_bytes((tmp_path / "first" / "facts.json").read_bytes())
    args = {"demo": ["demo", "--out", str(home)],
            "portfolio": ["portfolio", str(facts), "--phase", "post", "--out", str(home)],
            "audit-portfolio": portfolio_args(tmp_path, inventory, home)}[command_name]
    before = tree(tmp_path)
    refused_untouched(invoke(*args), before, tmp_path, str(home))


@pytest.mark.parametrize("theirs_is", ["folder", "empty-folder", "file"])
def test_a_users_entry_named_like_the_kept_facts_folder_is_never_touched(tmp_path,
                                                                          theirs_is) -> None:
    """The probed facts go beside it (``out.unfinished-2``), a killed run's there are
    cleaned by the next run, and the user's entry stays exactly as it was."""
    inventory = offline_cluster(tmp_path)
    theirs = tmp_path / "out.unfinished"
    if theirs_is == "file":
        theirs.write_text("a file of theirs\n")
    else:
        theirs.mkdir()
        if theirs_is == "folder":
            (theirs / "facts.json").write_text("their own facts\n")
            (theirs / ".facts.json.abcdef.tmp").write_text("theirs too\n")
    mine = tree(theirs) if theirs.is_dir() else theirs.read_text()
    out = tmp_path / "out"
    _killed_after("out.unfinished-2/facts.json", inventory, out)
    done = audit(inventory, out)
    assert done.returncode == 1, done.stderr
    assert (tree(theirs) if theirs.is_dir() else theirs.read_text()) == mine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml", "out",
                                                          "out.unfinished", "pems"]


def test_a_users_file_named_like_the_lock_is_refused(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    (tmp_path / ".out.lock").write_text("not a lock\n")
    before = tree(tmp_path)
    refused_untouched(audit(inventory, tmp_path / "out"), before, tmp_path, ".out.lock")


def portfolio_args(tmp_path: Path, inventory: Path, out: Path, *names: str) -> list[str]:
    """`audit` of the offline cluster and of copies of it named ``names`` (default: one,
    "second"), as a portfolio into ``out``."""
    args = command(inventory, out)[3:]
    for name in names or ("second",):
        other = tmp_path / f"{name}.yaml"
        other.write_text(inventory.read_text().replace("cluster: offline", f"cluster: {name}"))
        args[3:3] = ["--inventory", str(other)]
    return args


# -- 2. in its own folder, the user's files are kept ------------------------------------------

def test_a_rerun_keeps_every_file_the_manifest_does_not_list(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    assert audit(inventory, out, None, "--bundle").returncode == 1
    ours = out / "evidence-offline-post.zip"
    assert ours.is_file()
    (out / ".env").write_text("SECRET=1\n")
    (out / "evidence-foo.zip").write_bytes(b"their zip")
    (out / "sub" / "deeper").mkdir(parents=True)
    (out / "sub" / "deeper" / "a.txt").write_text("a")
    (out / "sub").chmod(0o700)
    (out / "diff.html").symlink_to(out / "report.html")
    user = {k: v for k, v in tree(out).items()
            if k.split("/")[0] in {".env", "evidence-foo.zip", "sub", "diff.html"}}
    inode = os.lstat(out / "sub").st_ino
    for extra in ([], ["--bundle"]):  # the old bundle is the tool's: removed, then made anew
        done = audit(inventory, out, None, *extra)
        assert done.returncode == 1, done.stderr
        after = tree(out)
        assert {k: after.get(k) for k in user} == user
        assert os.lstat(out / "sub").st_ino == inode  # moved, not copied
        assert ours.exists() == bool(extra)
    assert set(os.listdir(out)) == SET | {ours.name, ".env", "evidence-foo.zip", "sub",
                                          "diff.html"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml", "out", "pems"]


def test_a_users_file_where_the_set_needs_the_name_stops_before_the_probe(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    assert audit(inventory, out).returncode == 1
    (out / "report.pdf").write_text("printed by hand\n")
    before = tree(tmp_path)
    done = audit(inventory, out, None, "--pdf")
    refused_untouched(done, before, tmp_path, "report.pdf", "does not list it")


def test_a_portfolios_cluster_folders_keep_the_users_files(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "all"
    args = portfolio_args(tmp_path, inventory, out)
    assert invoke(*args).returncode == 1
    assert invoke("verify", str(out), "--strict").returncode == 0  # its own manifest
    (out / "offline" / "notes.md").write_text("called the customer\n")
    (out / ".keep").write_text("")
    kept = {k: v for k, v in tree(out).items() if k in ("offline/notes.md", ".keep")}
    done = invoke(*args)
    assert done.returncode == 1, done.stderr
    after = tree(out)
    assert {k: after.get(k) for k in kept} == kept
    # a user's folder by the name of a new cluster's: refused before the probe, untouched
    args = portfolio_args(tmp_path, inventory, out, "second", "third")
    (out / "third").mkdir()
    (out / "third" / "plan.txt").write_text("mine")
    before = tree(tmp_path)
    refused_untouched(invoke(*args), before, tmp_path, "third")


def test_the_demo_replaces_its_own_lab_and_keeps_the_users_files(tmp_path) -> None:
    out = tmp_path / "demo"
    assert invoke("demo", "--scenario", "row3-ec-signed-ecdsa", "--out", str(out)
                  ).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "lab/inventory.yaml" in manifest["unattested"]
    (out / "lab" / "mine.txt").write_text("a note in the lab folder")
    (out / ".hidden").write_text("x")
    keys = sorted(p.name for p in (out / "lab" / "keys").iterdir())
    done = invoke("demo", "--scenario", "row3-ec-signed-ecdsa", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "lab" / "mine.txt").read_text() == "a note in the lab folder"
    assert (out / ".hidden").read_text() == "x"
    assert sorted(p.name for p in (out / "lab" / "keys").iterdir()) == keys


# -- 3. a killed run's leftovers: cleaned by the next run, and only those -----------------------

def _killed_after(sig_point: str, inventory: Path, out: Path) -> None:
    """Run an audit with slow writes and SIGKILL it once ``sig_point`` is on disk."""
    process = subprocess.Popen(paused_command(inventory, out), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TEST_SLOW_WRITES": "1"})
    ready = out.parent / sig_point
    deadline = time.monotonic() + 60
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), process.communicate(timeout=60)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)


def test_a_killed_runs_leftovers_are_cleaned_by_the_next_run(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    assert audit(inventory, out).returncode == 1
    (out / "mine.txt").write_text("mine")
    _killed_after("out.unfinished/facts.json", inventory, out)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")
                  or p.name.endswith(".unfinished"))
    assert ".out.lock" in left and "out.unfinished" in left
    assert any(".uccx-stage-" in name for name in left), left
    # a temporary file of an interrupted atomic write in the kept folder, as a kill leaves it
    (tmp_path / "out.unfinished" / ".facts.json.x1y2z3.tmp").write_text("{")
    # and a user's folder that merely looks like a staging folder: never the tool's
    lookalike = tmp_path / ".out.uccx-stage-mine"
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("keep")
    done = audit(inventory, out)
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.uccx-stage-mine",
                                                          "cluster.yaml", "out", "pems"]
    assert (lookalike / "keep.txt").read_text() == "keep"
    assert (out / "mine.txt").read_text() == "mine"
    complete_set_with(out, {"mine.txt"})


def complete_set_with(out: Path, user: set[str]) -> None:
    assert set(os.listdir(out)) == SET | user
    assert invoke("verify", str(out)).returncode == 0


def _journal(tmp_path: Path, out: Path, record: dict) -> None:
    """The lock file exactly as a run killed at that point leaves it."""
    data = b"uccx-audit lock v1\n" + json.dumps({"pid": 1, "records": [record]}).encode()
    (tmp_path / f".{out.name}.lock").write_bytes(data.ljust(4096, b" "))


def _ident(path: Path) -> list[int]:
    info = os.lstat(path)
    return [info.st_dev, info.st_ino]


@pytest.mark.parametrize("point", ["staged", "swapped", "aside", "moved-in"])
def test_a_run_killed_during_the_swap_is_finished_by_the_next(tmp_path, point) -> None:
    """The folders as a kill leaves them at each step of putting a set in place, with the
    journal that step had written; the next run finishes it: the user's files end up in
    the folder, the previous set's files are gone, nothing else is touched."""
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    assert audit(inventory, out).returncode == 1
    (out / "mine").mkdir()
    (out / "mine" / "a.txt").write_text("mine")
    new = tmp_path / "new"
    assert audit(inventory, new).returncode == 1
    stage = tmp_path / ".out.uccx-stage-0a1b2c3d"
    aside = tmp_path / ".out.uccx-old-0a1b2c3d"
    new.rename(stage)
    record = {"stage": stage.name, "new": _ident(stage), "old": _ident(out), "aside": None}
    if point == "swapped":  # exchanged: the previous folder is at the stage's name
        out.rename(aside)
        stage.rename(out)
        aside.rename(stage)
    elif point == "aside":  # the fallback's first rename: no folder at all
        record["aside"] = aside.name
        out.rename(aside)
    elif point == "moved-in":  # the fallback's second rename: the new set is in
        record["aside"] = aside.name
        out.rename(aside)
        stage.rename(out)
    _journal(tmp_path, out, record)
    lookalike = tmp_path / ".out.uccx-stage-mine"  # not in the journal: never the tool's
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("keep")
    done = audit(inventory, out)
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [lookalike.name, "cluster.yaml",
                                                          "out", "pems"]
    assert (lookalike / "keep.txt").read_text() == "keep"
    assert (out / "mine" / "a.txt").read_text() == "mine"
    complete_set_with(out, {"mine"})


def test_a_journal_names_only_what_it_created(tmp_path) -> None:
    """A journal naming a folder that is not the one recorded (another inode), or a name
    with a path in it, touches nothing."""
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    theirs = tmp_path / ".out.uccx-stage-feedbeef"
    theirs.mkdir()
    (theirs / "data").write_text("theirs")
    _journal(tmp_path, out, {"stage": theirs.name, "new": [1, 2], "old": None})
    assert audit(inventory, out).returncode == 1
    assert (theirs / "data").read_text() == "theirs"
    _journal(tmp_path, out, {"stage": "../../etc", "new": _ident(theirs), "old": None})
    assert audit(inventory, out).returncode == 1
    assert (theirs / "data").read_text() == "theirs"
    assert not (tmp_path / ".out.lock").exists()


# -- 4. the property: refused with nothing changed, or done with every user file kept -------------

NAMES = st.sampled_from(["a", ".env", ".git", "evidence-foo.zip", "evidence-offline-post.zip",
                         "report.html", "manifest.json", "facts.json", "notes", "x.json",
                         "sub", "é", "lab", "out.unfinished"])
TREES = st.recursive(
    st.one_of(st.binary(max_size=40), st.just(None)),  # a file, or a symlink (None)
    lambda children: st.dictionaries(NAMES, children, max_size=4), max_leaves=8)


def _make(folder: Path, spec: dict) -> None:
    for name, child in spec.items():
        path = folder / name
        if isinstance(child, dict):
            path.mkdir(exist_ok=True)
            _make(path, child)
        elif child is None:
            path.symlink_to("../../somewhere")
        else:
            path.write_bytes(child)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(spec=st.dictionaries(NAMES, TREES, max_size=5), ours=st.booleans(),
       bundles=st.tuples(st.booleans(), st.booleans()))
def test_a_run_refuses_untouched_or_keeps_every_file_it_did_not_write(tmp_path_factory, spec,
                                                                      ours, bundles) -> None:
    """A tree of the user's (files, folders, links, dotfiles, zips, names the tool writes)
    in a folder of the tool's or in a new one: the run either refuses it (exit 2) with not
    a byte changed, or puts its set in place with every entry the previous manifest did not
    list as it was (a user's folder by a listed name is the user's too)."""
    base = tmp_path_factory.mktemp("tree")
    inventory = offline_cluster(base)
    out = base / "out"
    owned: set[str] = set()
    if ours:
        assert audit(inventory, out, None, *(["--bundle"] if bundles[0] else [])
                     ).returncode == 1
        listed = json.loads((out / "manifest.json").read_text())
        owned = {"manifest.json", *listed["files"], *([listed["bundle"]] * bundles[0])}
        for name in owned & set(spec):
            (out / name).unlink()  # the user's entry takes the place of the tool's file
    else:
        out.mkdir()
    _make(out, spec)
    before = tree(base)
    done = audit(inventory, out, None, *(["--bundle"] if bundles[1] else []))
    if done.returncode == 2:
        refused_untouched(done, before, base)
        return
    assert done.returncode == 1, done.stderr
    after = tree(base)
    # the user's: all but the tool's listed files (a folder by a listed name is the user's)
    user = {k: v for k, v in before.items() if k.startswith("out/")
            and not (k[4:] in owned and v[0] != stat.S_IFDIR)}
    assert {k: after.get(k) for k in user} == user
    assert sorted(p.name for p in base.iterdir()) == ["cluster.yaml", "out", "pems"]
    assert invoke("verify", str(out)).returncode == 0
    assert ours or not spec  # a new folder with the user's files in it is refused


@pytest.mark.parametrize("renameat2", [True, False])
def test_the_output_set_alone_keeps_a_users_tree(tmp_path, monkeypatch, renameat2) -> None:
    """The same through :class:`OutputSet` with a set of its own (no audit), with the
    atomic exchange and without it (three renames): a file in a folder of the tool's is the
    user's when the manifest does not list it."""
    if not renameat2:
        monkeypatch.setattr("auditor.pipeline.ownership._renameat2_function", lambda: None)
    out = tmp_path / "out"
    for run in range(3):
        with OutputSet(out) as output:
            (output.stage / "part").mkdir()
            (output.stage / "part" / "r.txt").write_text(f"run {run}")
            write_manifest(output.stage, [output.stage / "part" / "r.txt"],
                           provenance=Provenance())
            output.commit()
        if run == 0:
            (out / "part" / "user.txt").write_text("mine")
            (out / "theirs").mkdir()
            (out / "theirs" / ".x").write_text("x")
    assert (out / "part" / "r.txt").read_text() == "run 2"
    assert (out / "part" / "user.txt").read_text() == "mine"
    assert (out / "theirs" / ".x").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_rerun_from_inside_the_folder_keeps_the_users_files(tmp_path) -> None:
    inventory = offline_cluster(tmp_path)
    out = tmp_path / "out"
    assert audit(inventory, out).returncode == 1
    (out / "notes").mkdir()
    (out / "notes" / ".draft").write_text("mine")
    (out / ".envrc").write_text("mine too")
    for where, target in ((out, "."), (out / "notes", "..")):
        done = audit(inventory, target, where)
        assert done.returncode == 1, done.stderr
        assert (out / "notes" / ".draft").read_text() == "mine"
        assert (out / ".envrc").read_text() == "mine too"
    complete_set_with(out, {"notes", ".envrc"})


def crash_line(stderr: str) -> Path:
    """The file the one line of a bug (exit 4) names for its details."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: internal error"), stderr
    assert "Traceback" not in stderr
    return Path(lines[0].rsplit("details in ", 1)[1])


def test_a_bug_writes_nothing_into_the_working_folder(tmp_path) -> None:
    """A bug (exit 4) in a command that has no output folder of its own: the folder the user
    stands in stays empty; the one line names a new temporary file that holds the
    traceback. The bug is patched in from outside the product (tests/patched_cli.py)."""
    facts = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / \
        "row3-ec-signed-ecdsa.json"
    audit_json = tmp_path / "audit.json"
    assert invoke("evaluate", str(facts), "--phase", "post", "--out", str(audit_json)
                  ).returncode == 0
    work, temporary = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    temporary.mkdir()
    crashes = (("auditor.render:render", ("report", str(audit_json), "--format", "md")),
               ("auditor.pipeline.run:judge", ("evaluate", str(facts), "--phase", "post")))
    for broken, args in crashes:
        done = subprocess.run(
            [*patched_cli.command(), *args], cwd=work, capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL,
            env={**os.environ, "TEST_BREAK": broken, "TMPDIR": str(temporary)})
        assert done.returncode == 4, done.stderr
        assert list(work.iterdir()) == []
        log = crash_line(done.stderr)
        assert log.parent == temporary and log.name.startswith("uccx-audit-error-"), log
        text = log.read_text()
        assert "Traceback" in text and "RuntimeError: injected bug" in text, text
        log.unlink()


def test_a_bugs_traceback_never_touches_the_users_files(tmp_path, monkeypatch) -> None:
    """An error.log of the user's, and a link by a numbered name beside it, stay as they
    are: the traceback goes to a new file of its own elsewhere."""
    import tempfile

    facts = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / \
        "row3-ec-signed-ecdsa.json"
    audit_json = tmp_path / "audit.json"
    assert invoke("evaluate", str(facts), "--phase", "post", "--out", str(audit_json)
                  ).returncode == 0

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr("auditor.render.render", broken)
    temporary = tmp_path.parent / f"{tmp_path.name}-tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    (tmp_path / "error.log").write_text("the user's own log\n")
    (tmp_path / "error-2.log").symlink_to(tmp_path / "precious.txt")
    (tmp_path / "precious.txt").write_text("keep\n")
    before = tree(tmp_path)
    done = invoke("report", str(audit_json), "--format", "md", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    log = crash_line(done.stderr)
    assert log.parent == temporary
    assert "RuntimeError: renderer bug" in log.read_text()
    assert tree(tmp_path) == before
