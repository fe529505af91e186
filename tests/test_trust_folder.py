"""--agent-trust accepts a folder of certificate files, as /etc/ssl/certs is: links and
hash-named links followed, PEM and DER files read, anything else left out and listed, the
same anchors whatever the names and their order, bounded, and hashed in the manifest as
the sorted anchor fingerprints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
from cli_runner import invoke
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_output_sets import offline_cluster

from auditor.collect import trust as trust_module
from auditor.collect.certs import fingerprint, read_certificates
from auditor.collect.trust import load_agent_trust
from auditor.common.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "fixtures" / "lab"
SYSTEM = Path("/etc/ssl/certs")


def lab_anchors() -> list:
    return read_certificates(str(LAB / "agent-trust.pem"))


def test_etc_ssl_certs_gives_the_anchors_of_the_system_bundle() -> None:
    bundle = SYSTEM / "ca-certificates.crt"
    assert bundle.is_file(), "install Debian ca-certificates (sh scripts/test-deps.sh)"
    folder = load_agent_trust(str(SYSTEM))
    with warnings.catch_warnings():  # a distribution root with a non-positive serial
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        expected = {fingerprint(c) for c in read_certificates(str(bundle),
                                                                skip_unreadable=True)}
    assert set(folder.fingerprints) == expected
    assert folder.source == "folder:certs"


def test_an_audit_with_etc_ssl_certs_records_the_folder_in_the_manifest(tmp_path) -> None:
    out = tmp_path / "out"
    done = invoke("audit", "--inventory", offline_cluster(tmp_path), "--phase", "post",
                  "--agent-trust", SYSTEM, "--out", out)
    assert done.returncode in (1, 3), done.stderr
    entry = json.loads((out / "manifest.json").read_text())["inputs"]["agent_trust"]
    anchors = load_agent_trust(str(SYSTEM)).fingerprints
    assert entry["source"] == "folder" and entry["anchors"] == len(anchors)
    assert entry["sha256"] == hashlib.sha256("\n".join(anchors).encode()).hexdigest()
    assert invoke("verify", out, "--strict").returncode == 0


def crafted(folder: Path, order: list[int]) -> set[str]:
    """A folder as a system store is laid out: PEM and DER files, hash-named links,
    a bundle, a README, a sub-folder, a dangling link; returns the fingerprints in it."""
    anchors = lab_anchors()
    folder.mkdir()
    (folder / "real").mkdir()
    makers = []
    for index, cert in enumerate(anchors):
        pem = folder / "real" / f"ca-{index}.pem"
        pem.write_bytes(cert.public_bytes(Encoding.PEM))
        makers.append(lambda i=index, p=pem: os.symlink(p, folder / f"{i:08x}.0"))
        makers.append(lambda i=index, c=cert: (folder / f"ca-{i}.crt").write_bytes(
            c.public_bytes(Encoding.DER)))
    makers.append(lambda: (folder / "README").write_text("not a certificate\n"))
    makers.append(lambda: os.symlink(folder / "gone.pem", folder / "dangling.pem"))
    makers.append(lambda: (folder / "sub").mkdir())
    for position in [*order, *range(len(makers))]:  # every file, in the order given
        with contextlib.suppress(FileExistsError):
            makers[position % len(makers)]()
    return {fingerprint(c) for c in anchors}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_a_crafted_folder_gives_its_certificates_and_lists_the_rest(order, tmp_path) -> None:
    folder = tmp_path / "trust"
    shutil.rmtree(folder, ignore_errors=True)
    expected = crafted(folder, order)
    trust = load_agent_trust(str(folder))
    assert set(trust.fingerprints) == expected
    assert len(trust.anchors) == len(expected)  # links and copies count once
    skipped = sorted(line.split(":")[0] for line in trust.skipped)
    assert skipped == ["README", "dangling.pem", "real", "sub"]
    assert load_agent_trust(str(folder)).fingerprints == trust.fingerprints


def test_a_folder_without_certificates_is_one_line_and_exit_2(tmp_path) -> None:
    folder = tmp_path / "empty-store"
    folder.mkdir()
    (folder / "notes.txt").write_text("no certificates here\n")
    done = invoke("check-cert", LAB / "row4-upgrade-trap" / "uccx-pub-tomcat.pem",
                  "--purpose", "tomcat", "--agent-trust", folder, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "no certificates found" in done.stderr and str(folder) in done.stderr


def test_a_folder_past_the_bounds_is_refused(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for index, cert in enumerate(lab_anchors()):
        (folder / f"{index}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    monkeypatch.setattr(trust_module, "FOLDER_MAX_ENTRIES", 1)
    with pytest.raises(InputError, match="more than 1 entries"):
        load_agent_trust(str(folder))
    monkeypatch.setattr(trust_module, "FOLDER_MAX_ENTRIES", 100)
    monkeypatch.setattr(trust_module, "FOLDER_MAX_BYTES", 100)
    with pytest.raises(InputError, match="its files hold more than"):
        load_agent_trust(str(folder))
