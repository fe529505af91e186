"""Evidence that cannot be forged past `verify`: a zip is intact only when every way of
reading it gives the files the manifest lists, and no read of it is unbounded.

A forger controls every byte of a zip: names, sizes, CRCs, offsets, what the central
directory says and what the local headers say. Each test below is a way tools read one zip
differently (the first or the last of two entries, the directory or the local headers,
what the header declares or what the data holds), or a zip bomb; `verify` must say
NOT intact (1) or "not a valid evidence file" (2), never intact (0) or a crash (4)."""

from __future__ import annotations

import bz2
import hashlib
import json
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import zips
from cli_runner import Result, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.common.errors import InputError
from auditor.pipeline.manifest import verify

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FORGED = b"<html><body>GO: nothing to do</body></html>\n"
#: What `verify` may use: far more than it needs, far less than a bomb inflates to.
MEMORY_BOUND = 384 << 20


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A bundle as `audit --bundle` writes it, and its members in order."""
    base = tmp_path_factory.mktemp("evidence")
    inventory = base / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    done = invoke("audit", "--inventory", inventory, "--from-pem",
                  downloads("row3-ec-signed-ecdsa", base / "downloads"), "--phase", "post",
                  "--agent-trust", LAB / "agent-trust.pem", "--out", base / "out", "--bundle")
    assert done.returncode == 0, done.stderr
    bundle = next((base / "out").glob("evidence-*.zip"))
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert "report.html" in members and "manifest.json" in members
    rebuilt = base / "rebuilt.zip"  # the forgeries' builder writes what verify accepts
    rebuilt.write_bytes(zips.archive(honest(members)))
    assert verify(rebuilt).ok()
    return bundle, members


def honest(members: dict[str, bytes]) -> list[zips.Member]:
    return [zips.member(name, data) for name, data in members.items()]


def check(tmp_path: Path, data: bytes) -> Result:
    path = tmp_path / "evidence.zip"
    path.write_bytes(data)
    return invoke("verify", path)


def refused(done: Result, code: int = 1) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# -- one name, two entries -----------------------------------------------------------------

@pytest.mark.parametrize("spelling", [
    b"report.html",                 # the same name: zipfile reads the last one
    b"report.html\x00forged.txt",   # zipfile cuts a name at its NUL
    b"Report.html",                 # one file where case does not count (Windows, macOS)
    b"./report.html",
    b"report.html.",                # Windows drops trailing dots
    b"report.html ",                # and spaces
    "ｒeport.html".encode(),         # a fullwidth letter: the same name in NFKC
    b"report.html/",                # a folder of that name: the file cannot be made
])
def test_a_forged_second_entry_of_a_listed_file_is_refused(genuine, tmp_path,
                                                           spelling: bytes) -> None:
    _, members = genuine
    forged = zips.member(spelling, FORGED)
    done = check(tmp_path, zips.archive([forged, *honest(members)]))
    refused(done)
    assert "REFUSED  report.html (one of 2 entries for the same file)" in done.stdout
    assert "NOT intact" in done.stderr


def test_a_forged_second_manifest_is_not_evidence(genuine, tmp_path) -> None:
    """A forged manifest and report first (what an extractor taking the first sees), the
    genuine ones after them (what zipfile reads)."""
    _, members = genuine
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["report.html"] = {"sha256": hashlib.sha256(FORGED).hexdigest(),
                                        "bytes": len(FORGED)}
    forged = [zips.member("report.html", FORGED),
              zips.member("manifest.json", json.dumps(manifest).encode())]
    done = check(tmp_path, zips.archive([*forged, *honest(members)]))
    refused(done, 2)
    assert "2 entries are manifest.json" in done.stderr


def test_two_directory_records_sharing_one_entry_are_refused(genuine, tmp_path) -> None:
    entries = honest(genuine[1])
    report = next(i for i, e in enumerate(entries) if e.name == b"report.html")
    directory = [(e, i) for i, e in enumerate(entries)] + [(entries[report], report)]
    done = check(tmp_path, zips.archive(entries, directory=directory))
    refused(done, 2)
    assert "overlap" in done.stderr


# -- bytes no entry accounts for -------------------------------------------------------------

def test_bytes_no_entry_accounts_for_are_refused(genuine, tmp_path) -> None:
    _, members = genuine
    entries = honest(members)
    forged_zip = zips.archive([zips.member("report.html", FORGED)])
    hidden = zips.archive([zips.member("report.html", FORGED)])[:-22]
    for shape in ({"prefix": forged_zip},   # a zip before the zip: streaming readers see it
                  {"between": hidden},       # a local entry no directory record points at
                  {"suffix": forged_zip}):   # after the end record
        done = check(tmp_path, zips.archive(entries, **shape))
        refused(done, 2)
        assert "not a bundle that can be verified" in done.stderr, shape


# -- what the header declares, what the data holds ---------------------------------------

def test_an_entry_holding_more_than_it_declares_is_not_intact(genuine, tmp_path) -> None:
    """The header declares the genuine size and CRC; the deflate stream goes on with a
    forged page. zipfile stops at the declared size; a tool that inflates the stream does
    not."""
    _, members = genuine
    report = members["report.html"]
    entries = [replace(e, stored=zips.deflate(report + FORGED)) if e.name == b"report.html"
               else e for e in honest(members)]
    done = check(tmp_path, zips.archive(entries))
    refused(done)
    assert f"CHANGED  report.html (holds more than the {len(report)} bytes its header " \
           "declares)" in done.stdout


def test_bytes_after_an_entrys_compressed_data_are_not_intact(genuine, tmp_path) -> None:
    _, members = genuine
    entries = [replace(e, stored=e.stored + FORGED) if e.name == b"report.html" else e
               for e in honest(members)]
    done = check(tmp_path, zips.archive(entries))
    refused(done)
    assert "CHANGED  report.html (bytes after the end of its compressed data)" in done.stdout


def test_a_damaged_entry_is_not_intact_and_no_crash(genuine, tmp_path) -> None:
    _, members = genuine
    entries = honest(members)
    damaged = [replace(e, stored=b"\xff" * 8 + e.stored[8:]) if e.name == b"report.html"
               else e for e in entries]
    done = check(tmp_path, zips.archive(damaged))
    refused(done)
    assert "CHANGED  report.html (its compressed data is damaged" in done.stdout


@pytest.mark.parametrize(("lie", "why"), [
    ({"external_attr": zips.SYMLINK}, "a symbolic link"),
    ({"flags": zips.UTF8 | 0x1}, "encrypted"),
    ({"method": 12, "stored": bz2.compress(b"")}, "compressed with method 12"),
])
def test_a_listed_file_that_is_not_a_plain_file_is_refused(genuine, tmp_path, lie,
                                                           why: str) -> None:
    """The genuine bytes, but not as a plain file: a link (extracted, it points elsewhere),
    encrypted, or compressed in a way whose decoder's memory the header sets (bzip2,
    LZMA)."""
    _, members = genuine
    report = members["report.html"]
    if lie.get("method") == 12:
        lie = {**lie, "stored": bz2.compress(report)}
    entries = [replace(e, **lie) if e.name == b"report.html" else e for e in honest(members)]
    done = check(tmp_path, zips.archive(entries))
    refused(done)
    assert f"REFUSED  report.html ({why}" in done.stdout


@pytest.mark.parametrize(("name", "why"), [
    (b"/tmp/report.html", "an absolute path"),
    (b"C:/report.html", "an absolute path"),
    (b"../report.html", "'..' part"),
    (b"lab/../../report.html", "'..' part"),
    (b"lab\\..\\..\\report.html", "a backslash"),
    (b"lab//report.html", "an empty"),
    (b"nul.html", "a Windows device name"),
    ("report\u202ehtml".encode(), "invisible"),
])
def test_an_entry_whose_name_leaves_the_folder_is_refused(genuine, tmp_path, name: bytes,
                                                          why: str) -> None:
    _, members = genuine
    done = check(tmp_path, zips.archive([*honest(members), zips.member(name, FORGED)]))
    refused(done)
    assert "REFUSED " in done.stdout and why in done.stdout


def test_a_name_that_is_not_utf8_is_not_a_bundle(genuine, tmp_path) -> None:
    _, members = genuine
    done = check(tmp_path, zips.archive([*honest(members), zips.member(b"r\xff.html", FORGED)]))
    refused(done, 2)
    assert "unreadable zip directory" in done.stderr


# -- bombs, under a memory bound ------------------------------------------------------------

def _bounded_verify(path: Path) -> subprocess.CompletedProcess[str]:
    """`uccx-audit verify` in a process of at most :data:`MEMORY_BOUND` bytes of address
    space (run beside ``path``: an error.log would land there)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BOUND, MEMORY_BOUND))

    return subprocess.run([sys.executable, "-m", "auditor", "verify", str(path)],
                          capture_output=True, text=True, timeout=300, preexec_fn=limit,
                          cwd=path.parent, check=False)


def _bomb(name: str, declared: int) -> zips.Member:
    return zips.Member(name.encode(), zips.zeros_bomb(4), declared, zlib.crc32(b""))


@pytest.mark.parametrize("shape", ["manifest declares 4 GiB", "manifest declares 2 KB",
                                   "report declares its size", "overlapping records"])
def test_a_zip_bomb_ends_in_1_or_2_within_a_memory_bound(genuine, tmp_path,
                                                         shape: str) -> None:
    """4 MB of deflate that inflates to 4 GiB, as the manifest (declaring what it holds,
    or a few KB) or as a listed file (declaring the size the manifest records); and a
    thousand directory records pointing at one bomb."""
    _, members = genuine
    entries = honest(members)
    recorded = json.loads(members["manifest.json"])["files"]["report.html"]["bytes"]
    bombs = {"manifest declares 4 GiB": ("manifest.json", 0xFFFF0000),
             "manifest declares 2 KB": ("manifest.json", 2000),
             "report declares its size": ("report.html", recorded),
             "overlapping records": ("report.html", 0xFFFF0000)}
    name, declared = bombs[shape]
    bomb = _bomb(name, declared)
    entries = [bomb if e.name == name.encode() else e for e in entries]
    directory = None
    if shape == "overlapping records":
        at = next(i for i, e in enumerate(entries) if e is bomb)
        directory = [(e, i) for i, e in enumerate(entries)] + [(bomb, at)] * 1000
    path = tmp_path / "bomb.zip"
    path.write_bytes(zips.archive(entries, directory=directory))
    assert path.stat().st_size < 8 << 20
    done = _bounded_verify(path)
    assert done.returncode in (1, 2), done.stdout[-500:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr


def test_a_manifest_bomb_in_a_folder_is_refused_unread(genuine, tmp_path) -> None:
    """A folder's manifest.json is read only up to the size a manifest can have."""
    folder = tmp_path / "out"
    folder.mkdir()
    with (folder / "manifest.json").open("wb") as handle:
        handle.truncate(400 << 20)  # sparse: no disk is used
    done = _bounded_verify(folder)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "manifest.json" in done.stderr and "Traceback" not in done.stderr


# -- a folder -------------------------------------------------------------------------------

@pytest.fixture
def folder(genuine, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(genuine[0].parent, copy)
    return copy


def test_a_listed_file_replaced_by_a_link_is_refused(folder, tmp_path) -> None:
    """The link points at the genuine bytes today; what it points at is not the folder's."""
    elsewhere = tmp_path / "elsewhere.html"
    shutil.copy(folder / "report.html", elsewhere)
    (folder / "report.html").unlink()
    (folder / "report.html").symlink_to(elsewhere)
    done = invoke("verify", folder)
    refused(done)
    assert "REFUSED  report.html (a symbolic link)" in done.stdout


@pytest.mark.parametrize(("text", "why"), [
    pytest.param("[" * 100_000, "nested too deeply", id="nested"),
    pytest.param('{"files": {}, "files": {}}', "the key 'files' appears twice", id="twice"),
])
def test_a_manifest_that_is_not_json_as_written_is_refused(folder, text: str,
                                                           why: str) -> None:
    (folder / "manifest.json").write_text(text)
    done = invoke("verify", folder)
    refused(done, 2)
    assert why in done.stderr


# -- the property: intact means every reading gives the genuine files -----------------------

def _streamed(data: bytes) -> dict[str, list[bytes]]:
    """What a streaming extractor makes of ``data``: local headers from byte 0 on."""
    found: dict[str, list[bytes]] = {}
    at = 0
    while data[at:at + 4] == b"PK\x03\x04":
        (_, _, _, method, _, _, _, compressed, _, name_length,
         extra_length) = struct.unpack_from("<4s5H3L2H", data, at)
        start = at + 30 + name_length + extra_length
        name = data[at + 30:at + 30 + name_length].decode("utf-8", "replace")
        stored = data[start:start + compressed]
        body = zlib.decompressobj(-zlib.MAX_WBITS).decompress(stored) if method == 8 \
            else stored
        found.setdefault(name, []).append(body)
        at = start + compressed
    return found


@st.composite
def forgeries(draw: st.DrawFn, members: dict[str, bytes]) -> bytes:
    """The genuine archive, then a few edits a forger might make."""
    entries = honest(members)
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(["add", "rename", "replace", "attr", "method"]))
        index = draw(st.integers(0, len(entries) - 1))
        target = entries[index]
        if edit == "add":
            name = draw(st.sampled_from([*members, "Report.html", "./facts.json",
                                         "extra.txt", "manifest.json "]))
            entries.insert(draw(st.integers(0, len(entries))), zips.member(name, FORGED))
        elif edit == "rename":
            entries[index] = replace(target, name=draw(st.sampled_from(
                [b"REPORT.HTML", target.name + b"\x00", b"/" + target.name, target.name])))
        elif edit == "replace":
            entries[index] = replace(zips.member(target.name, FORGED), size=target.size,
                                     crc=target.crc) if draw(st.booleans()) \
                else replace(target, stored=zips.deflate(members.get(
                    target.name.decode(), b"") + FORGED))
        elif edit == "attr":
            entries[index] = replace(target, external_attr=draw(st.sampled_from(
                [zips.SYMLINK, 0o040755 << 16, 0x10, 0])))
        else:
            entries[index] = replace(target, method=zips.STORED,
                                     stored=members.get(target.name.decode(), b""))
    data = bytearray(zips.archive(entries))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(data) - 1))
        data[where] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=64)) + data[cut:]
    return bytes(data)


@PROPERTY
@given(data=st.data())
def test_intact_means_every_reading_gives_the_genuine_files(genuine, tmp_path_factory,
                                                            data) -> None:
    """For any edit of a genuine bundle: verify answers (intact or not) or refuses with a
    one-line input error, never crashes; and when it says intact, zipfile and a streaming
    extractor both read exactly the genuine files, each once."""
    _, members = genuine
    blob = data.draw(forgeries(members))
    path = tmp_path_factory.mktemp("forged") / "evidence.zip"
    path.write_bytes(blob)
    try:
        result = verify(path)
    except InputError:
        return
    if not result.ok():
        return
    assert _streamed(blob) == {name: [body] for name, body in members.items()}
    with zipfile.ZipFile(path) as archive:
        assert [i.filename for i in archive.infolist()] == list(members)
        assert {n: archive.read(n) for n in archive.namelist()} == members
