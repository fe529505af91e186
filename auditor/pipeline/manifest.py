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
import stat
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor import __version__
from auditor.common.boundedzip import (
    CheckedZip,
    Entry,
    EntryUnreadable,
    UnsafeArchive,
    entry_problem,
)
from auditor.common.errors import InputError
from auditor.common.fileio import replacing, write_atomic
from auditor.common.filenames import member_problem, name_key, safe_file_name
from auditor.common.inputs import LIMITS, file_kind, read_input
from auditor.common.serde import to_jsonable
from auditor.common.validation import validate

if TYPE_CHECKING:  # OpenSSL and cryptography are for probing; `verify` needs neither
    from auditor.collect.trust import AgentTrust
    from auditor.model.audit import Setting

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
#: The largest manifest read (one holds a few KB: the run and a line a file).
MANIFEST_LIMIT = LIMITS["manifest"]
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
    #: the options taken from a config file or the environment, and from where
    settings: tuple[Setting, ...] = ()


#: Files of a trust folder that were left out, listed in the manifest at most.
_SKIPPED_LISTED = 50


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
    if provenance.agent_trust is not None and trust is not None \
            and Path(provenance.agent_trust).is_dir():
        # a folder: as the system store, a digest over the anchors' fingerprints, sorted
        digest = hashlib.sha256("\n".join(trust.fingerprints).encode("ascii")).hexdigest()
        return {"path": shown(provenance.agent_trust), "source": "folder",
                "anchors": len(trust.anchors), "sha256": digest,
                "sha256_of": "the sorted SHA-256 fingerprints of the anchors",
                **({"skipped": list(trust.skipped[:_SKIPPED_LISTED])} if trust.skipped
                   else {})}
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
                   shown: Callable[[Path], str] = str, unattested: Iterable[Path] = ()
                   ) -> dict[str, Any]:
    """The manifest's content for ``files`` (all inside ``folder``); ``unattested``: files
    the run also wrote that the manifest names without hashing them (the demo's lab), so
    that the next run into the folder knows them as its own."""
    entries = {}
    for path in files:
        entries[_relative(folder, path)] = {"sha256": sha256_file(path),
                                            "bytes": path.stat().st_size}
    also = sorted({_relative(folder, path) for path in unattested})
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "uccx-audit", "version": __version__},
        "command_line": list(provenance.command_line),
        "started_at": provenance.started_at,
        "finished_at": finished_at or utc_now(),
        "ticket": ticket,
        "operator": operator,
        "settings": to_jsonable(provenance.settings),
        "inputs": {"inventory": _input_file(provenance.inventory, shown),
                   "agent_trust": _trust_entry(provenance, trust, shown),
                   "rule_set": rule_set},
        "bundle": bundle,
        **({"unattested": also} if also else {}),
        "files": dict(sorted(entries.items())),
    }


def write_manifest(folder: Path, files: Iterable[Path], *, provenance: Provenance,
                   rule_set: dict[str, Any] | None = None, trust: AgentTrust | None = None,
                   ticket: str | None = None, operator: str | None = None,
                   bundle: str | None = None, shown: Callable[[Path], str] = str,
                   unattested: Iterable[Path] = ()) -> Path:
    """Hash ``files`` and write ``folder/manifest.json`` atomically (call it last, then
    :func:`write_bundle` if a bundle is wanted: ``bundle`` is its name). ``shown`` gives
    the path an input file is recorded under (it is read where it is); ``unattested``: see
    :func:`build_manifest`."""
    manifest = build_manifest(folder, files, provenance=provenance, rule_set=rule_set,
                              trust=trust, ticket=ticket, operator=operator, bundle=bundle,
                              shown=shown, unattested=unattested)
    validate(manifest, "manifest", path=str(folder / MANIFEST_FILE))
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomic(folder / MANIFEST_FILE, text)


def bundle_name(cluster: str, phase: str) -> str:
    """``evidence-<cluster>-<phase>.zip``, the cluster's name as a safe file name (any
    script, composed; see :func:`auditor.common.filenames.safe_file_name`)."""
    return f"evidence-{safe_file_name(cluster)}-{phase}.zip"


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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (json keeps the last of two silently)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} appears twice")
        data[key] = value
    return data


def _load_manifest(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InputError(f"not a readable manifest ({why})", path=where,
                         expected="the manifest.json uccx-audit wrote") from None
    validate(data, "manifest", path=where)
    keys: dict[str, str] = {name_key(MANIFEST_FILE): MANIFEST_FILE}
    for name in [*data["files"], *data.get("unattested", ())]:
        problem = member_problem(name)
        if problem is not None:
            raise InputError(f"file name {name!r} points outside the folder ({problem})",
                             path=where, field=f"files.{name}",
                             expected="a path inside the folder")
        other = keys.setdefault(name_key(name), name)
        if other != name:
            raise InputError(f"file name {name!r} is the same file as {other!r} where case "
                             "or Unicode form do not count", path=where, field=f"files.{name}",
                             expected="names no file system can confuse")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def own_manifest(folder: Path) -> dict[str, Any] | None:
    """``folder``'s manifest.json if it is one this tool wrote (None: there is none). One
    that is a link or not a regular file, too large, not JSON, or not of this tool's schema
    is an :class:`InputError` saying so; nothing is read past the limit."""
    path = folder / MANIFEST_FILE
    if not os.path.lexists(path):
        return None
    return _load_manifest(read_input(path, "manifest", follow_links=False), str(path))


def listed_paths(manifest: dict[str, Any]) -> frozenset[str]:
    """What a manifest says its run wrote into the folder (relative paths): itself, every
    file it hashes, the files it names unhashed and its bundle."""
    bundle = [manifest["bundle"]] if manifest.get("bundle") else []
    return frozenset([MANIFEST_FILE, *manifest["files"], *manifest.get("unattested", ()),
                      *bundle])


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found; ``intact`` when nothing listed changed or is missing and
    nothing was refused. ``why`` says, per name, why it changed or was refused."""

    manifest_sha256: str
    checked: tuple[str, ...]
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unlisted: tuple[str, ...]
    bundle: bool
    #: entries that cannot be evidence however they hash: a second entry of one name, a
    #: symbolic link, a path that leaves the folder
    refused: tuple[str, ...] = ()
    why: dict[str, str] = field(default_factory=dict)

    def ok(self, strict: bool = False) -> bool:
        bad = (self.changed or self.missing or self.refused
               or ((strict or self.bundle) and self.unlisted))
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


def _hash_bounded(path: Path, limit: int) -> tuple[str, int]:
    """The SHA-256 and size of at most ``limit + 1`` bytes of ``path``."""
    digest, count = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while count <= limit:
            chunk = handle.read(min(_CHUNK, limit + 1 - count))
            if not chunk:
                break
            digest.update(chunk)
            count += len(chunk)
    return digest.hexdigest(), count


def verify(target: Path) -> Verification:
    """Recompute the hashes of an audit folder, or of a bundle (a zip), against its
    manifest. A folder or zip without a manifest is an :class:`InputError`."""
    if target.is_file():
        return _verify_zip(target)
    if not target.is_dir():
        raise InputError("no such folder or bundle", path=str(target),
                         expected="an audit folder or an evidence zip")
    manifest_path = target / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"no {MANIFEST_FILE} here", path=str(target),
                         expected="a folder written by uccx-audit audit or demo")
    raw = read_input(manifest_path, "manifest")
    manifest = _load_manifest(raw, str(manifest_path))
    changed, missing, refused, why = [], [], [], {}
    for name, entry in manifest["files"].items():
        path = target / name
        try:
            found = path.lstat()
        except OSError:
            missing.append(name)
            continue
        if not stat.S_ISREG(found.st_mode):
            refused.append(name)
            why[name] = ("a symbolic link" if stat.S_ISLNK(found.st_mode)
                         else f"{file_kind(found.st_mode)}, not a regular file")
            continue
        if found.st_size != entry["bytes"]:  # nothing read to see it
            changed.append(name)
            why[name] = _size_change(found.st_size, entry["bytes"])
            continue
        digest, size = _hash_bounded(path, entry["bytes"])
        if size != entry["bytes"] or digest != entry["sha256"]:
            changed.append(name)
    skip = [MANIFEST_FILE, *manifest["files"], *([manifest["bundle"]] if manifest["bundle"]
                                                 else [])]
    unlisted = _folder_files(target, skip)
    return Verification(hashlib.sha256(raw).hexdigest(), tuple(manifest["files"]),
                        tuple(changed), tuple(missing), tuple(unlisted), bundle=False,
                        refused=tuple(refused), why=why)


def _size_change(size: int, recorded: int) -> str:
    if size > recorded:
        return f"{size} bytes, more than the {recorded} the manifest records"
    return f"{size} bytes where the manifest records {recorded}"


def _bundle_error(target: Path, message: str) -> InputError:
    return InputError(message, path=str(target),
                      expected="an evidence zip written by uccx-audit --bundle")


def _zip_manifest(target: Path, archive: CheckedZip, entries: Sequence[Entry]) -> bytes:
    """The bytes of the one manifest in the zip, read within :data:`MANIFEST_LIMIT`."""
    own = [e for e in entries if name_key(e.name) == name_key(MANIFEST_FILE)]
    if not own:
        raise _bundle_error(target, f"no {MANIFEST_FILE} in the zip")
    if len(own) > 1:
        raise _bundle_error(target, f"{len(own)} entries are {MANIFEST_FILE} ("
                            f"{', '.join(repr(e.name) for e in own)}): which one is the "
                            "evidence cannot be told")
    entry = own[0]
    problem = entry_problem(entry) or (None if entry.name == MANIFEST_FILE
                                       else f"named {entry.name!r}")
    if problem is not None:
        raise _bundle_error(target, f"its {MANIFEST_FILE} is {problem}")
    try:
        return archive.read(entry, MANIFEST_LIMIT)
    except EntryUnreadable as exc:
        raise _bundle_error(target, f"its {MANIFEST_FILE} {exc} (a manifest is a few KB)"
                            ) from None


def _verify_zip(target: Path) -> Verification:
    try:
        archive = CheckedZip(target)
    except UnsafeArchive as exc:
        raise _bundle_error(target, f"not a bundle that can be verified: {exc}") from None
    except OSError as exc:
        raise _bundle_error(target, f"cannot read: {exc.strerror}") from None
    with archive:
        entries = archive.entries
        raw = _zip_manifest(target, archive, entries)
        manifest = _load_manifest(raw, f"{target}!{MANIFEST_FILE}")
        alike: dict[str, list[Entry]] = {}
        for entry in entries:
            alike.setdefault(name_key(entry.name), []).append(entry)
        refused, why = [], {}
        for entry in entries:
            problem = entry_problem(entry)
            twins = len(alike[name_key(entry.name)])
            if problem is None and twins > 1:
                problem = f"one of {twins} entries for the same file"
            if problem is not None and entry.name != MANIFEST_FILE:
                refused.append(entry.name)
                why[entry.name] = problem
        by_name = {e.name: e for e in entries if e.name not in refused}
        changed, missing = [], []
        for name, recorded in manifest["files"].items():
            entry = by_name.get(name)
            if entry is None:
                if name not in refused:
                    missing.append(name)
                continue
            if entry.info.file_size != recorded["bytes"]:  # nothing inflated to see it
                changed.append(name)
                why[name] = _size_change(entry.info.file_size, recorded["bytes"])
                continue
            try:
                digest, size = archive.sha256(entry, recorded["bytes"])
            except EntryUnreadable as exc:
                changed.append(name)
                why[name] = str(exc)
                continue
            if size != recorded["bytes"]:
                changed.append(name)
                why[name] = _size_change(size, recorded["bytes"])
            elif digest != recorded["sha256"]:
                changed.append(name)
    unlisted = [n for n in by_name if n != MANIFEST_FILE and n not in manifest["files"]]
    return Verification(hashlib.sha256(raw).hexdigest(), tuple(manifest["files"]),
                        tuple(changed), tuple(missing), tuple(unlisted), bundle=True,
                        refused=tuple(dict.fromkeys(refused)), why=why)
