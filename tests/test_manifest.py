"""Evidence: every audit folder has a manifest.json; `verify` recomputes its hashes and
names what changed; `--bundle` zips exactly the manifest's files."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from cli_runner import Result, invoke

from auditor.lab import Lab

FILES = ["audit.json", "facts.json", "junit.xml", "report.html", "report.md"]


def run(*args: str) -> Result:
    return invoke(*args)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A fresh `audit --bundle` folder of the row-3 lab, and its inventory and trust."""
    base = tmp_path_factory.mktemp("manifest")
    with Lab("row3-ec-signed-ecdsa") as lab:
        inputs = base / "inputs"
        inputs.mkdir()
        inventory = Path(shutil.copy(lab.inventory_path, inputs))
        trust = Path(shutil.copy(lab.agent_trust_path, inputs))
        done = run("audit", "--inventory", str(inventory), "--agent-trust", str(trust),
                   "--phase", "post", "--out", str(base / "out"), "--ticket", "CHG0042",
                   "--operator", "j.doe", "--bundle")
    assert done.returncode == 0, done.stderr
    assert "manifest sha256:" in done.stdout
    return base / "out", inventory, trust


@pytest.fixture
def folder(sealed, tmp_path) -> Path:
    return Path(shutil.copytree(sealed[0], tmp_path / "copy"))


def test_the_manifest_records_the_run_its_inputs_and_every_file_written(sealed) -> None:
    out, inventory, trust = sealed
    manifest = json.loads((out / "manifest.json").read_text())
    audit = json.loads((out / "audit.json").read_text())
    assert manifest["tool"]["name"] == "uccx-audit"
    assert manifest["tool"]["version"] == audit["tool_version"]
    assert manifest["command_line"][:2] == ["uccx-audit", "audit"]
    assert "--bundle" in manifest["command_line"]
    assert manifest["started_at"] <= manifest["finished_at"]
    assert (manifest["ticket"], manifest["operator"]) == ("CHG0042", "j.doe")
    assert manifest["inputs"]["inventory"] == {"path": str(inventory), "sha256": sha256(inventory)}
    assert manifest["inputs"]["agent_trust"]["sha256"] == sha256(trust)
    assert manifest["inputs"]["rule_set"]["sha256"] == audit["rule_set"]["sha256"]
    assert sorted(manifest["files"]) == FILES
    for name, entry in manifest["files"].items():
        assert entry == {"sha256": sha256(out / name), "bytes": (out / name).stat().st_size}


def test_verify_passes_on_a_fresh_folder(folder) -> None:
    done = run("verify", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact: 5 files" in done.stderr


def test_verify_names_the_file_after_one_byte_of_the_html_changes(folder) -> None:
    html = folder / "report.html"
    data = bytearray(html.read_bytes())
    data[200] ^= 0x01
    html.write_bytes(bytes(data))
    done = run("verify", str(folder))
    assert done.returncode == 1
    assert "CHANGED  report.html" in done.stdout
    assert "NOT intact: report.html" in done.stderr
    assert done.stdout.count("CHANGED") == 1


def test_verify_names_a_missing_file_and_lists_unlisted_ones(folder) -> None:
    (folder / "junit.xml").unlink()
    (folder / "diff.html").write_text("kept beside the reports")
    done = run("verify", str(folder))
    assert done.returncode == 1
    assert "MISSING  junit.xml" in done.stdout and "unlisted diff.html" in done.stdout
    assert "NOT intact: junit.xml" in done.stderr


def test_an_unlisted_file_fails_only_with_strict(folder) -> None:
    (folder / "diff.html").write_text("kept beside the reports")
    assert run("verify", str(folder)).returncode == 0
    strict = run("verify", str(folder), "--strict")
    assert strict.returncode == 1 and "diff.html" in strict.stderr


def test_a_folder_without_a_manifest_is_an_input_error(folder) -> None:
    (folder / "manifest.json").unlink()
    done = run("verify", str(folder))
    assert done.returncode == 2 and "no manifest.json" in done.stderr


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(folder) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["../escape"] = manifest["files"]["report.md"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    done = run("verify", str(folder))
    assert done.returncode == 2 and "outside the folder" in done.stderr


def test_the_bundle_holds_exactly_the_manifests_files_and_verifies(folder) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    bundle = folder / manifest["bundle"]
    assert manifest["bundle"] == "evidence-lab-row3-ec-signed-ecdsa-post.zip"
    with zipfile.ZipFile(bundle) as archive:
        assert sorted(archive.namelist()) == sorted([*manifest["files"], "manifest.json"])
        for name in manifest["files"]:
            assert archive.read(name) == (folder / name).read_bytes()
    done = run("verify", str(bundle))
    assert done.returncode == 0, done.stdout + done.stderr


def test_verify_of_a_tampered_or_padded_bundle_fails(folder, tmp_path) -> None:
    bundle = next(folder.glob("evidence-*.zip"))
    with zipfile.ZipFile(bundle) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data.replace(b"</html>", b"</html> ") if
                             name == "report.html" else data)
    done = run("verify", str(tampered))
    assert done.returncode == 1 and "report.html" in done.stderr
    padded = tmp_path / "padded.zip"
    shutil.copy(bundle, padded)
    with zipfile.ZipFile(padded, "a") as archive:
        archive.writestr("note.txt", "added later")
    done = run("verify", str(padded))
    assert done.returncode == 1 and "note.txt" in done.stderr


def test_the_demo_folder_has_a_manifest_that_verifies(tmp_path) -> None:
    done = run("demo", "--scenario", "cop-socialminer", "--out", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == FILES
    assert manifest["inputs"]["inventory"]["path"].endswith("inventory.yaml")
    assert run("verify", str(tmp_path / "demo")).returncode == 0
