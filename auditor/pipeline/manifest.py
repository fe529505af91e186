"""The evidence manifest of an audit folder, its check, and the one-file bundle.

``manifest.json`` records who ran which version of the tool, with which command line, when,
for which ticket, on which inputs (the SHA-256 of the inventory, of the agents' trust and of
the rule set) and the SHA-256 of every file the audit wrote. It is written last and
atomically. :func:`verify` recomputes the hashes: a file that changed or is missing fails
the check; a file in the folder that the manifest does not list is reported as not attested
(the check fails on it only when asked to be strict, since engineers keep e.g. a diff beside
the reports). A bundle (zip) must hold exactly the manifest and the files it lists.

The manifest proves that the files are the ones it lists, not who wrote it: record its own
SHA-256 (printed by ``audit`` and ``verify``) in the change ticket to make it tamper-evident.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from auditor import __version__
from auditor.common.errors import InputError
from auditor.common.fileio import replacing, write_atomic
from auditor.common.validation import validate

if TYPE_CHECKING:  # OpenSSL and cryptography are for probing; `verify` needs neither
    from auditor.collect.trust import AgentTrust

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Provenance:
    """How the audit was started: what the manifest says beside the hashes."""

    command_line: tuple[str, ...] = ()
    started_at: str = field(default_factory=utc_now)
    inventory: Path | None = None
    agent_trust: Path | None = None


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _input_file(path: Path | None, shown: Callable[[Path], str] = str
                ) -> dict[str, Any] | None:
    if path is None:
        return None
    return {"path": shown(path), "sha256": sha256_file(path)}


def _trust_entry(provenance: Provenance, trust: AgentTrust | None,
                 shown: Callable[[Path], str] = str) -> dict[str, Any] | None:
    if provenance.agent_trust is not None:
        entry = _input_file(provenance.agent_trust, shown)
        assert entry is not None
        return {**entry, "source": "file", "anchors": len(trust.anchors) if trust else None}
    if trust is None:
        return None
    # the system store: a digest over the anchors' fingerprints, sorted
    digest = hashlib.sha256("\n".join(trust.fingerprints).encode("ascii")).hexdigest()
    return {"path": None, "source": trust.source, "anchors": len(trust.anchors),
            "sha256": digest, "sha256_of": "the sorted SHA-256 fingerprints of the anchors"}


def _relative(folder: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not inside {folder}") from None


def build_manifest(folder: Path, files: Iterable[Path], *, provenance: Provenance,
                   rule_set: dict[str, Any] | None, trust: AgentTrust | None,
                   ticket: str | None = None, operator: str | None = None,
                   bundle: str | None = None, finished_at: str | None = None,
                   shown: Callable[[Path], str] = str) -> dict[str, Any]:
    """The manifest's content for ``files`` (all inside ``folder``)."""
    entries = {}
    for path in files:
        entries[_relative(folder, path)] = {"sha256": sha256_file(path),
                                            "bytes": path.stat().st_size}
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "uccx-audit", "version": __version__},
        "command_line": list(provenance.command_line),
        "started_at": provenance.started_at,
        "finished_at": finished_at or utc_now(),
        "ticket": ticket,
        "operator": operator,
        "inputs": {"inventory": _input_file(provenance.inventory, shown),
                   "agent_trust": _trust_entry(provenance, trust, shown),
                   "rule_set": rule_set},
        "bundle": bundle,
        "files": dict(sorted(entries.items())),
    }


def write_manifest(folder: Path, files: Iterable[Path], *, provenance: Provenance,
                   rule_set: dict[str, Any] | None = None, trust: AgentTrust | None = None,
                   ticket: str | None = None, operator: str | None = None,
                   bundle: str | None = None, shown: Callable[[Path], str] = str) -> Path:
    """Hash ``files`` and write ``folder/manifest.json`` atomically (call it last, then
    :func:`write_bundle` if a bundle is wanted: ``bundle`` is its name). ``shown`` gives
    the path an input file is recorded under (it is read where it is)."""
    manifest = build_manifest(folder, files, provenance=provenance, rule_set=rule_set,
                              trust=trust, ticket=ticket, operator=operator, bundle=bundle,
                              shown=shown)
    validate(manifest, "manifest", path=str(folder / MANIFEST_FILE))
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomic(folder / MANIFEST_FILE, text)


def bundle_name(cluster: str, phase: str) -> str:
    """``evidence-<cluster>-<phase>.zip``, with only safe characters in the name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in cluster).strip(".")
    return f"evidence-{safe[:80] or 'cluster'}-{phase}.zip"


def write_bundle(folder: Path, name: str) -> Path:
    """One zip of the manifest and exactly the files it lists, written atomically."""
    manifest_path = folder / MANIFEST_FILE
    manifest = _load_manifest(manifest_path.read_bytes(), str(manifest_path))
    target = folder / name
    with replacing(target) as tmp, zipfile.ZipFile(tmp, "w",
                                                   compression=zipfile.ZIP_DEFLATED) as archive:
        for member in [*manifest["files"], MANIFEST_FILE]:
            archive.write(folder / member, member)
    return target


def _load_manifest(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a readable manifest ({exc})", path=where,
                         expected="the manifest.json uccx-audit wrote") from None
    validate(data, "manifest", path=where)
    for name in data["files"]:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or "\\" in name or name == MANIFEST_FILE:
            raise InputError(f"file name {name!r} points outside the folder", path=where,
                             field=f"files.{name}", expected="a path inside the folder")
    return data


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found; ``intact`` when nothing listed changed or is missing."""

    manifest_sha256: str
    checked: tuple[str, ...]
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unlisted: tuple[str, ...]
    bundle: bool

    def ok(self, strict: bool = False) -> bool:
        bad = self.changed or self.missing or ((strict or self.bundle) and self.unlisted)
        return not bad


def _folder_files(folder: Path, skip: Sequence[str]) -> list[str]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            relative = (Path(root) / name).relative_to(folder).as_posix()
            if relative not in skip:
                found.append(relative)
    return found


def verify(target: Path) -> Verification:
    """Recompute the hashes of an audit folder, or of a bundle (a zip), against its
    manifest. A folder or zip without a manifest is an :class:`InputError`."""
    if target.is_file() and zipfile.is_zipfile(target):
        return _verify_zip(target)
    if not target.is_dir():
        raise InputError("no such folder or bundle", path=str(target),
                         expected="an audit folder or an evidence zip")
    manifest_path = target / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"no {MANIFEST_FILE} here", path=str(target),
                         expected="a folder written by uccx-audit audit or demo")
    from auditor.common.inputs import read_input

    raw = read_input(manifest_path, "json")
    manifest = _load_manifest(raw, str(manifest_path))
    changed, missing = [], []
    for name, entry in manifest["files"].items():
        path = target / name
        if not path.is_file():
            missing.append(name)
        elif sha256_file(path) != entry["sha256"]:
            changed.append(name)
    skip = [MANIFEST_FILE, *manifest["files"], *([manifest["bundle"]] if manifest["bundle"]
                                                 else [])]
    unlisted = _folder_files(target, skip)
    return Verification(hashlib.sha256(raw).hexdigest(), tuple(manifest["files"]),
                        tuple(changed), tuple(missing), tuple(unlisted), bundle=False)


def _verify_zip(target: Path) -> Verification:
    with zipfile.ZipFile(target) as archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        if MANIFEST_FILE not in names:
            raise InputError(f"no {MANIFEST_FILE} in the zip", path=str(target),
                             expected="a bundle written by uccx-audit --bundle")
        raw = archive.read(MANIFEST_FILE)
        manifest = _load_manifest(raw, f"{target}!{MANIFEST_FILE}")
        changed, missing = [], []
        for name, entry in manifest["files"].items():
            if name not in names:
                missing.append(name)
                continue
            digest = hashlib.sha256()
            with archive.open(name) as handle:
                for chunk in iter(lambda h=handle: h.read(_CHUNK), b""):
                    digest.update(chunk)
            if digest.hexdigest() != entry["sha256"]:
                changed.append(name)
    unlisted = [n for n in names if n != MANIFEST_FILE and n not in manifest["files"]]
    return Verification(hashlib.sha256(raw).hexdigest(), tuple(manifest["files"]),
                        tuple(changed), tuple(missing), tuple(unlisted), bundle=True)
