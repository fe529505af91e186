"""Rule and remediation playbook files: loaded, checked against their schemas, cross-checked.

A broken file stops the run with one line naming the file, the line, the field and what is
allowed. Nothing is skipped: duplicate IDs and dangling remediation references are errors.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.conditions import Compiler, Condition, placeholders
from auditor.errors import InputError
from auditor.gadgets import ALL_GADGETS, GADGET_TITLES, GADGETS
from auditor.inventory import role_family
from auditor.resources import rules_dir
from auditor.validation import Locator, field_name, load_yaml, load_yaml_validated, validate
from auditor.versions import Version
from auditor.view import fields_for

SEVERITIES = ("error", "warning", "notice")
#: Outcomes so bad that only an ``error`` rule may give them.
_ERROR_OUTCOMES = ("prompt_accept_fails", "broken")
PLAYBOOK_FOLDER = "playbooks"


@dataclass(frozen=True)
class Citation:
    source: str
    title: str | None = None
    note: str | None = None

    @property
    def text(self) -> str:
        out = self.source + (f", {self.title}" if self.title else "")
        return out + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Rule:
    """One loaded rule. ``data`` is the file's content, for the catalogue and the hash."""

    id: str
    title: str
    description: str
    severity: str
    scope: str
    phases: tuple[str, ...]
    roles: tuple[str, ...]
    version_from: Version | None
    version_before: Version | None
    services: tuple[str, ...] | None
    condition: Condition
    effects: Mapping[str, str]
    message: str
    citations: tuple[Citation, ...]
    remediation: tuple[str, ...]
    path: str
    data: Mapping[str, Any]

    def applies(self, phase: str, version: Version) -> bool:
        """Is the rule in force for this phase and the version the audit is about?"""
        return (phase in self.phases
                and (self.version_from is None or version >= self.version_from)
                and (self.version_before is None or version < self.version_before))


@dataclass(frozen=True)
class Step:
    on: str
    do: str
    note: str | None = None


@dataclass(frozen=True)
class Playbook:
    id: str
    title: str
    roles: tuple[str, ...]
    when_to_use: str
    steps: tuple[Step, ...]
    verify: Step
    citations: tuple[Citation, ...]
    path: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class RuleSet:
    """Every rule (sorted by ID) and playbook in force, and a hash of them all."""

    rules: tuple[Rule, ...]
    playbooks: Mapping[str, Playbook]
    site_rules: tuple[str, ...]
    sha256: str

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


def _error(path: str, locate: Locator, where: list[Any], message: str,
           expected: str | None = None) -> InputError:
    return InputError(message, path=path, line=locate(where), field=field_name(where),
                      expected=expected)


def _stem_check(data: dict[str, Any], path: Path, locate: Locator) -> None:
    if data["id"] != path.stem:
        raise _error(str(path), locate, ["id"], f"{data['id']!r} differs from the file name",
                     f"{path.stem!r}, the file stem")


def _citations(items: Iterable[Mapping[str, str]]) -> tuple[Citation, ...]:
    return tuple(Citation(c["source"], c.get("title"), c.get("note")) for c in items)


def _version(data: Mapping[str, Any], key: str, path: str, locate: Locator) -> Version | None:
    text = data["applies_to"].get("versions", {}).get(key)
    if text is None:
        return None
    try:
        return Version(text)
    except InputError as exc:
        raise _error(path, locate, ["applies_to", "versions", key], exc.message,
                     exc.expected) from None


def parse_rule(data: Any, path: Path, locate: Locator, *, validated: bool = False) -> Rule:
    """Validate one rule's data (as loaded from its file, unless ``validated`` against the
    rule schema already) and compile its condition."""
    name = str(path)
    if not validated:
        validate(data, "rule", path=name, locate=locate)
    _stem_check(data, path, locate)
    scope, applies = data["scope"], data["applies_to"]
    version_from = _version(data, "from", name, locate)
    version_before = _version(data, "before", name, locate)
    if version_from and version_before and not version_from < version_before:
        raise _error(name, locate, ["applies_to", "versions", "before"],
                     f"{version_before.text} is not after {version_from.text}",
                     "a range such as from: \"11.5\", before: \"11.6\"")
    if "services" in applies and scope == "node":
        raise _error(name, locate, ["applies_to", "services"],
                     "a node rule cannot be limited to services", "endpoint or certificate scope")
    families = {role_family(r) for r in applies["roles"]}
    for gadget, outcome in data["effects"].items():
        if not any(gadget in GADGETS[f] for f in families):
            raise _error(name, locate, ["effects", gadget],
                         f"{GADGET_TITLES[gadget]} is not served by the roles "
                         f"{', '.join(applies['roles'])}",
                         "gadgets of those roles: " + ", ".join(
                             g for f in sorted(families) for g in GADGETS[f]))
        if outcome in _ERROR_OUTCOMES and data["severity"] != "error":
            raise _error(name, locate, ["severity"],
                         f"{data['severity']!r}, but the rule makes {gadget} {outcome}",
                         "error, for a rule that breaks a gadget or makes accepting fail")
    if data["severity"] != "notice" and not data["remediation"]:
        raise _error(name, locate, ["remediation"], f"a rule of severity {data['severity']} "
                     "needs remediation", "at least one playbook ID")
    fields = fields_for(scope)
    compiler = Compiler(path=name, locate=locate, fields=fields,
                        field_hint=f"a {scope} rule can see (rules/README.md)")
    condition = compiler.compile(data["when"], ["when"])
    leaves = set(fields)
    for placeholder in placeholders(data["message"]):
        if placeholder not in leaves:
            raise compiler.error(["message"], f"unknown placeholder {{{placeholder}}}",
                                 f"{{field}} with a field a {scope} rule can see "
                                 "(rules/README.md)")
    return Rule(
        id=data["id"], title=data["title"], description=" ".join(data["description"].split()),
        severity=data["severity"], scope=scope, phases=tuple(applies["phases"]),
        roles=tuple(applies["roles"]), version_from=version_from,
        version_before=version_before,
        services=tuple(applies["services"]) if "services" in applies else None,
        condition=condition,
        effects={g: data["effects"][g] for g in ALL_GADGETS if g in data["effects"]},
        message=data["message"], citations=_citations(data["citations"]),
        remediation=tuple(data["remediation"]), path=name, data=data)


_KEY = re.compile(r"^(\s*)(-\s+)?([A-Za-z_][\w-]*)\s*:(\s|$)")


def _key_path_at(text: str, line: int) -> str | None:
    """The dotted key path (``when.all``) that YAML line ``line`` (1-based) belongs to."""
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines()[:line]:
        match = _KEY.match(raw)
        if match is None:
            continue
        indent = len(match.group(1)) + len(match.group(2) or "")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(3)))
    return ".".join(key for _, key in stack) or None


def _unclosed_bracket_line(text: str, line: int) -> int:
    """The line of a ``[`` or ``{`` still open when the parser gave up at ``line``."""
    opened: list[int] = []
    for number, raw in enumerate(text.splitlines()[:line - 1], 1):
        for char in raw.split(" #")[0]:
            if char in "[{":
                opened.append(number)
            elif char in "]}" and opened:
                opened.pop()
    return opened[0] if opened else line


def _read(path: str | Path) -> tuple[Any, Locator]:
    """:func:`load_yaml`, with the field named when the YAML itself is broken."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return load_yaml(path)
    except InputError as exc:
        if not exc.message.startswith("invalid YAML"):
            raise
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        line = exc.line
        try:
            YAML(typ="rt").load(text)
        except MarkedYAMLError as marked:
            context = marked.context or ""
            if marked.context_mark is not None and ("scalar" in context or "flow" in context):
                line = marked.context_mark.line + 1
        except YAMLError:
            pass
        line = _unclosed_bracket_line(text, line) if line else line
        field = _key_path_at(text, line) if line else None
        raise InputError(exc.message, path=exc.path, line=line, field=field,
                         expected="YAML: 'key: value' lines, two-space indents, closed quotes "
                         "and brackets") from None


def _stamp(path: str | Path) -> tuple[str, int, int]:
    """What identifies a file's content for this process's memo: path, mtime, size."""
    try:
        stat = Path(path).stat()
    except OSError:
        return str(path), -1, -1  # let the reader report it
    return str(path), stat.st_mtime_ns, stat.st_size


def load_rule(path: str | Path) -> Rule:
    """Read, validate and compile one rule file."""
    return _load_rule(*_stamp(path))


@lru_cache(maxsize=512)
def _load_rule(path: str, _mtime: int, _size: int) -> Rule:
    data, locate = load_yaml_validated(path, "rule", parse=_read)
    return parse_rule(data, Path(path), locate, validated=True)


def load_playbook(path: str | Path) -> Playbook:
    """Read and validate one playbook file."""
    return _load_playbook(*_stamp(path))


@lru_cache(maxsize=512)
def _load_playbook(path: str, _mtime: int, _size: int) -> Playbook:
    name = str(path)
    data, locate = load_yaml_validated(path, "playbook", parse=_read)
    _stem_check(data, Path(path), locate)
    if "uccx-audit" not in data["verify"]["do"]:
        raise _error(name, locate, ["verify", "do"], "does not say how to run the audit again",
                     "a step that names the uccx-audit command to run")

    def step(raw: Mapping[str, str]) -> Step:
        return Step(raw["on"], " ".join(raw["do"].split()),
                    " ".join(raw["note"].split()) if raw.get("note") else None)

    return Playbook(data["id"], data["title"], tuple(data["roles"]),
                    " ".join(data["when_to_use"].split()), tuple(step(s) for s in data["steps"]),
                    step(data["verify"]), _citations(data["citations"]), name, data)


def _is_yaml(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".yaml", ".yml")


def _files(folder: Path) -> list[Path]:
    """The YAML files of a folder; YAML files deeper down (except in playbooks/) would be
    silently ignored, so they are an error."""
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name != PLAYBOOK_FOLDER and not sub.name.startswith("."):
            stray = next((p for p in sorted(sub.rglob("*")) if _is_yaml(p)), None)
            if stray is not None:
                raise InputError("a rule file in a subfolder would not be loaded",
                                 path=str(stray), expected=f"rule files directly in {folder}, "
                                 f"playbooks in {folder / PLAYBOOK_FOLDER}")
    return sorted(p for p in folder.iterdir() if _is_yaml(p))


def _site_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise InputError("not a folder" if folder.exists() else "folder not found",
                         path=str(folder), field="--rules", expected="a folder of rule files")
    if not _files(folder) and not (folder / PLAYBOOK_FOLDER).is_dir():
        raise InputError("no rule files (*.yaml) in this folder", path=str(folder),
                         field="--rules", expected="one rule per .yaml file")
    return folder


def _digest(rules: Sequence[Rule], playbooks: Mapping[str, Playbook]) -> str:
    canonical = json.dumps({"rules": {r.id: r.data for r in rules},
                            "playbooks": {k: p.data for k, p in playbooks.items()}},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_ruleset(site_dirs: Sequence[str | Path] = (), *,
                 builtin: str | Path | None = None) -> RuleSet:
    """The built-in rules and playbooks plus a site's folders (rules, and playbooks/ in them)."""
    folders = [Path(builtin) if builtin is not None else rules_dir()]
    folders += [_site_folder(Path(d)) for d in site_dirs]
    rules: dict[str, Rule] = {}
    playbooks: dict[str, Playbook] = {}
    site: list[str] = []
    for index, folder in enumerate(folders):
        for path in _files(folder):
            rule = load_rule(path)
            if rule.id in rules:
                _, locate = load_yaml(path)
                raise _error(str(path), locate, ["id"], f"duplicate rule ID {rule.id!r}, also "
                             f"in {rules[rule.id].path}", "an ID no other rule uses")
            rules[rule.id] = rule
            if index:
                site.append(rule.id)
        playbook_folder = folder / PLAYBOOK_FOLDER
        for path in _files(playbook_folder) if playbook_folder.is_dir() else []:
            playbook = load_playbook(path)
            if playbook.id in playbooks:
                _, locate = load_yaml(path)
                raise _error(str(path), locate, ["id"], f"duplicate playbook ID "
                             f"{playbook.id!r}, also in {playbooks[playbook.id].path}",
                             "an ID no other playbook uses")
            playbooks[playbook.id] = playbook
    for rule in rules.values():
        for i, ref in enumerate(rule.remediation):
            if ref not in playbooks:
                _, locate = load_yaml(rule.path)
                raise _error(rule.path, locate, ["remediation", i],
                             f"unknown remediation {ref!r}",
                             "a playbook ID: " + ", ".join(sorted(playbooks)))
    ordered = tuple(rules[k] for k in sorted(rules))
    playbooks = {k: playbooks[k] for k in sorted(playbooks)}
    return RuleSet(ordered, playbooks, tuple(sorted(site)), _digest(ordered, playbooks))
