"""Rule and remediation playbook files: loaded, checked against their schemas, cross-checked.

A broken file stops the run with one line naming the file, the line, the field and what is
allowed. Nothing is skipped: duplicate IDs and dangling remediation references are errors.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from auditor.common import yaml12
from auditor.common.errors import InputError
from auditor.common.resources import rules_dir
from auditor.common.validation import Locator, field_name, load_yaml, load_yaml_validated, validate
from auditor.evaluate.conditions import Compiler, Condition, placeholders
from auditor.evaluate.view import (
    FIELDS,
    evidence_for,
    evidence_read,
    fields_for,
    is_prose,
    is_state,
    texts_for,
)
from auditor.model.audit import SitePolicy, Step
from auditor.model.findings import Outcome, Severity
from auditor.model.solution import (
    PLACES,
    SOLUTION_FILE,
    STEP_TARGETS,
    Solution,
    current,
    site_solution,
    using,
)
from auditor.model.versions import Version

#: Outcomes so bad that only an ``error`` rule may give them.
_ERROR_OUTCOMES = ("prompt_accept_fails", "broken")
PLAYBOOK_FOLDER = "playbooks"
#: A site rule folder's one-file rule cases (``uccx-audit rules test DIR``), not rules.
CASE_FOLDER = "cases"


@dataclass(frozen=True)
class Citation:
    source: str
    title: str | None = None
    note: str | None = None

    @property
    def text(self) -> str:
        out = self.source + (f", {self.title}" if self.title else "")
        return out + (f" ({self.note})" if self.note else "")


#: Priority and plan order of a playbook that does not give its own.
DEFAULT_PRIORITY = 50
DEFAULT_ORDER = 50
#: What a playbook step's text may name in braces; the plan fills them in.
STEP_PLACEHOLDERS = ("node", "nodes", "purpose", "certificates", "firefox_exceptions",
                     "service_restarts")

_STEP_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Remedy:
    """One way to fix a rule's finding: a playbook, the situation it is for (a condition on
    the finding's subject; None: always) and how strongly it is recommended there."""

    playbook: str
    priority: int | None
    condition: Condition | None
    note: str | None = None
    source: str = ""

    def rank(self, playbooks: Mapping[str, Playbook]) -> int:
        if self.priority is not None:
            return self.priority
        playbook = playbooks.get(self.playbook)
        return playbook.priority if playbook else DEFAULT_PRIORITY


@dataclass(frozen=True)
class Rule:
    """One loaded rule. ``data`` is the file's content, for the catalogue and the hash."""

    id: str
    title: str
    description: str
    severity: Severity
    scope: str
    phases: tuple[str, ...]
    roles: tuple[str, ...]
    version_from: Version | None
    version_before: Version | None
    services: tuple[str, ...] | None
    condition: Condition
    effects: Mapping[str, Outcome]
    message: str
    citations: tuple[Citation, ...]
    remediation: tuple[str, ...]
    path: str
    data: Mapping[str, Any]
    #: What would settle an ``unknown`` this rule gives (required for such rules).
    settle: str | None = None
    remedies: tuple[Remedy, ...] = ()
    caused_by: tuple[str, ...] = ()
    #: The evidence the rule cannot answer without (``requires:``): where it is missing
    #: and the rule did not fire, it did not look (``not_seen``).
    requires: tuple[str, ...] = ()

    def applies(self, phase: str, version: Version) -> bool:
        """Is the rule in force for this phase and the version the audit is about?"""
        return (phase in self.phases
                and (self.version_from is None or version >= self.version_from)
                and (self.version_before is None or version < self.version_before))


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
    order: int = DEFAULT_ORDER
    priority: int = DEFAULT_PRIORITY
    changes_certificates: bool = False
    outcome: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RuleSet:
    """Every rule (sorted by ID) and playbook in force, and a hash of them all."""

    rules: tuple[Rule, ...]
    playbooks: Mapping[str, Playbook]
    site_rules: tuple[str, ...]
    sha256: str
    #: the site policies (overrides.yaml) in force: their re-grades are in ``rules``
    policy: tuple[SitePolicy, ...] = ()
    #: the solution map the rules were checked against (built in, plus a site's additions)
    solution: Solution | None = None

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    @property
    def disabled(self) -> frozenset[str]:
        """The rules a site policy disables: the engine does not evaluate them."""
        from auditor.evaluate.overrides import disabled_rules

        return disabled_rules(self.policy)


def _error(path: str, locate: Locator, where: list[Any], message: str,
           expected: str | None = None) -> InputError:
    return InputError(message, path=path, line=locate(where), field=field_name(where),
                      expected=expected)


def _known(path: str, locate: Locator, where: list[Any], names: Sequence[str],
           allowed: Iterable[str], what: str, *, keys: bool = False) -> None:
    """Every name is one the solution map knows, or an error naming the file, the line, the
    field and the names allowed."""
    allowed = list(allowed)
    for i, name in enumerate(names):
        if name not in allowed:
            raise _error(path, locate, [*where, name if keys else i],
                         f"{name!r} is not allowed: not a {what} of the solution map",
                         "one of: " + ", ".join(allowed))


def _stem_check(data: dict[str, Any], path: Path, locate: Locator) -> None:
    if data["id"] != path.stem:
        raise _error(str(path), locate, ["id"], f"{data['id']!r} differs from the file name",
                     f"{path.stem!r}, the file stem")


def _citations(items: Sequence[Mapping[str, str]], path: str, locate: Locator
               ) -> tuple[Citation, ...]:
    """The citations of a rule or playbook; a source cited twice is an error (one citation
    per source, its notes together)."""
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        first = seen.setdefault(raw["source"], i)
        if first != i:
            raise _error(path, locate, ["citations", i, "source"],
                         f"{raw['source']!r} is cited twice (also citations[{first}])",
                         "each source once, with everything it is cited for in one note")
    return tuple(Citation(c["source"], c.get("title"), c.get("note")) for c in items)


def _check_sources(owner: Rule | Playbook, solution: Solution) -> None:
    """A built-in citation names a source the domain brief lists (the solution map's
    ``sources``), never one that nobody checked."""
    allowed = [s.source for s in solution.sources]
    for i, citation in enumerate(owner.citations):
        if citation.source not in allowed:
            _, locate = load_yaml(owner.path)
            raise _error(owner.path, locate, ["citations", i, "source"],
                         f"{citation.source!r} is not a source the domain brief lists",
                         "one of the sources of the solution map: " + ", ".join(allowed))


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
    solution = current()
    _known(name, locate, ["applies_to", "roles"], applies["roles"], solution.roles, "role")
    families = {solution.family_of(r) for r in applies["roles"]}
    served = [g for f in sorted(families) for g in solution.gadgets_of_family(f)]
    if data["scope"] != "node":
        # an endpoint (or what it presents) of these roles that a gadget of another family
        # needs (the map's needs_elsewhere: UCCX 443 for the chat/email gadget), among the
        # services the rule is limited to, if it is
        limited = set(applies.get("services") or ())
        served += [g for g, spec in solution.gadgets.items() if g not in served and any(
            other in families and (not limited or limited & set(services))
            for other, services in spec.needs_elsewhere.items())]
    if "services" in applies:
        _known(name, locate, ["applies_to", "services"], applies["services"],
               [s for f in sorted(families) for s in solution.services(f)],
               f"service of the roles {', '.join(applies['roles'])}")
    _known(name, locate, ["effects"], list(data["effects"]), solution.gadgets, "gadget",
           keys=True)
    for gadget, outcome in data["effects"].items():
        if gadget not in served:
            raise _error(name, locate, ["effects", gadget],
                         f"{solution.gadgets[gadget].title} is not served by the roles "
                         f"{', '.join(applies['roles'])}",
                         "gadgets of those roles: " + ", ".join(served))
        if outcome in _ERROR_OUTCOMES and data["severity"] != "error":
            raise _error(name, locate, ["severity"],
                         f"{data['severity']!r}, but the rule makes {gadget} {outcome}",
                         "error, for a rule that breaks a gadget or makes accepting fail")
    if "unknown" in data["effects"].values() and not data.get("settle"):
        raise _error(name, locate, ["settle"], "the rule makes a gadget unknown but does not "
                     "say what would settle it", "settle: what to do so that the audit sees it")
    if data["severity"] != "notice" and not data["remediation"]:
        raise _error(name, locate, ["remediation"], f"a rule of severity {data['severity']} "
                     "needs remediation", "at least one playbook ID")
    fields = fields_for(scope)
    compiler = _compiler(scope, name, locate)
    condition = compiler.compile(data["when"], ["when"])
    requires = _requires(data, scope, condition, compiler)
    remedies = []
    for i, entry in enumerate(data["remediation"]):
        if isinstance(entry, str):
            remedies.append(Remedy(entry, None, None, None, name))
            continue
        when = (compiler.compile(entry["when"], ["remediation", i, "when"])
                if "when" in entry else None)
        remedies.append(Remedy(entry["playbook"], entry.get("priority"), when,
                               " ".join(entry["note"].split()) if entry.get("note") else None,
                               name))
    # a playbook may be named twice, for two situations with two priorities
    ids = list(dict.fromkeys(r.playbook for r in remedies))
    leaves = {*fields, *texts_for(scope)}
    for key in ("message", "settle"):
        for placeholder in placeholders(data.get(key) or ""):
            if placeholder in leaves:
                continue
            if placeholder in FIELDS and is_prose(placeholder):
                raise compiler.error([key], f"{{{placeholder}}} is prose, named under text.",
                                     f"{{text.{placeholder}}}")
            raise compiler.error([key], f"unknown placeholder {{{placeholder}}}",
                                 f"{{fact}} or {{text.prose}} a {scope} rule can see "
                                 "(rules/README.md)")
    return Rule(
        id=data["id"], title=data["title"], description=" ".join(data["description"].split()),
        severity=data["severity"], scope=scope, phases=tuple(applies["phases"]),
        roles=tuple(applies["roles"]), version_from=version_from,
        version_before=version_before,
        services=tuple(applies["services"]) if "services" in applies else None,
        condition=condition,
        effects={g: data["effects"][g] for g in solution.gadgets if g in data["effects"]},
        message=data["message"], citations=_citations(data["citations"], name, locate),
        remediation=tuple(ids), path=name, data=data, remedies=tuple(remedies),
        caused_by=tuple(data.get("caused_by", ())), requires=requires,
        settle=" ".join(data["settle"].split()) if data.get("settle") else None)


def _compiler(scope: str, path: str, locate: Locator) -> Compiler:
    """The compiler of a ``scope`` rule's conditions: its facts, never prose."""
    return Compiler(path=path, locate=locate, fields=fields_for(scope),
                    field_hint=f"a {scope} rule can see (rules/README.md)",
                    prose=[p.split(".", 1)[1] for p in texts_for(scope)])


def _requires(data: Mapping[str, Any], scope: str, condition: Condition,
              compiler: Compiler) -> tuple[str, ...]:
    """What the rule names in ``requires:``, each entry evidence a rule of its scope can
    require. Without ``requires:``, the rule requires every piece of evidence its condition
    reads. With it, it must still name the evidence about its own subject that its
    condition reads (the endpoint's browser view, each certificate state): without it,
    a rule would pass on what it never saw."""
    evidence = evidence_for(scope)
    reads = list(dict.fromkeys(e for p in condition.facts()
                               if (e := evidence_read(p)) is not None and e in evidence))
    if "requires" not in data:
        return tuple(reads)
    named = data["requires"]
    for i, entry in enumerate(named):
        if entry not in evidence:
            raise compiler.error(["requires", i], f"{entry!r} is no evidence a {scope} rule "
                                 "can require", "one of: " + ", ".join(evidence))
        if named.index(entry) != i:
            raise compiler.error(["requires", i], f"{entry!r} is named twice", "each once")
    for entry in reads:
        if entry not in named and (is_state(entry) or entry == "endpoint.browser"):
            raise compiler.error(["requires"], f"the condition reads {entry}, which the "
                                 "facts may lack, and requires does not name it",
                                 f"requires: [{', '.join([*named, entry])}]")
    return tuple(named)


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


    try:
        return load_yaml(path)
    except InputError as exc:
        if not exc.message.startswith("invalid YAML"):
            raise
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        line = exc.line
        try:
            yaml12.load(text)
        except yaml.MarkedYAMLError as marked:
            context = marked.context or ""
            if marked.context_mark is not None and ("scalar" in context or "flow" in context):
                line = marked.context_mark.line + 1
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
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
    return _load_rule(*_stamp(path), current().paths)


@lru_cache(maxsize=512)
def _load_rule(path: str, _mtime: int, _size: int, _map: tuple[str, ...]) -> Rule:
    data, locate = load_yaml_validated(path, "rule", parse=_read)
    return parse_rule(data, Path(path), locate, validated=True)


def load_playbook(path: str | Path) -> Playbook:
    """Read and validate one playbook file."""
    return _load_playbook(*_stamp(path), current().paths)


@lru_cache(maxsize=512)
def _load_playbook(path: str, _mtime: int, _size: int, _map: tuple[str, ...]) -> Playbook:
    name = str(path)
    data, locate = load_yaml_validated(path, "playbook", parse=_read)
    _stem_check(data, Path(path), locate)
    solution = current()
    _known(name, locate, ["roles"], data["roles"], solution.roles, "role")
    targets = (*solution.roles, *STEP_TARGETS, *PLACES)
    for i, raw in enumerate([*data["steps"], data["verify"]]):
        where = ["steps", i, "on"] if i < len(data["steps"]) else ["verify", "on"]
        if raw["on"] not in targets:
            raise _error(name, locate, where,
                         f"{raw['on']!r} is not allowed: not a role of the solution map nor a "
                         "place",
                         "one of: " + ", ".join(targets))
    if "uccx-audit" not in data["verify"]["do"]:
        raise _error(name, locate, ["verify", "do"], "does not say how to run the audit again",
                     "a step that names the uccx-audit command to run")
    for i, raw in enumerate([*data["steps"], data["verify"]]):
        where = ["steps", i] if i < len(data["steps"]) else ["verify"]
        for key in ("do", "note", "command"):
            for word in _STEP_PLACEHOLDER.findall(raw.get(key, "")):
                if word not in STEP_PLACEHOLDERS:
                    raise _error(name, locate, [*where, key], f"unknown placeholder {{{word}}}",
                                 "one of " + ", ".join(f"{{{w}}}" for w in STEP_PLACEHOLDERS))
    restarts = [i for i, raw in enumerate(data["steps"]) if raw["on"] == "restart"]
    if data.get("changes_certificates"):
        last = len(data["steps"]) - 1
        says = data["steps"][last]["do"] + " " + data["steps"][last].get("command", "")
        if last not in restarts or "utils system restart" not in says:
            raise _error(name, locate, ["steps", last], "a playbook that changes certificates "
                         "must end with the restart", "a last step 'on: restart' that says "
                         "utils system restart")

    def step(raw: Mapping[str, Any]) -> Step:
        return Step(raw["on"], " ".join(raw["do"].split()),
                    " ".join(raw["note"].split()) if raw.get("note") else None,
                    raw.get("phase"), raw.get("command"), raw.get("via"),
                    tuple(raw.get("roles", ())))

    return Playbook(data["id"], data["title"], tuple(data["roles"]),
                    " ".join(data["when_to_use"].split()), tuple(step(s) for s in data["steps"]),
                    step(data["verify"]), _citations(data["citations"], name, locate), name, data,
                    data.get("order", DEFAULT_ORDER), data.get("priority", DEFAULT_PRIORITY),
                    bool(data.get("changes_certificates")), data.get("outcome"))


def _is_yaml(path: Path) -> bool:
    """A rule file by its name (a FIFO or a device so named is read, and refused, rather
    than skipped without a word); a site's overrides.yaml is its policy and solution.yaml
    its additions to the map, not rules."""
    return (not path.is_dir() and path.suffix.lower() in (".yaml", ".yml")
            and path.stem != "overrides" and path.name != SOLUTION_FILE)


def _files(folder: Path) -> list[Path]:
    """The YAML files of a folder; YAML files deeper down (except in playbooks/) would be
    silently ignored, so they are an error."""
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name not in (PLAYBOOK_FOLDER, CASE_FOLDER) and not sub.name.startswith("."):
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
    from auditor.evaluate.overrides import policy_file

    if (not _files(folder) and not (folder / PLAYBOOK_FOLDER).is_dir()
            and policy_file(folder) is None and not (folder / CASE_FOLDER).is_dir()
            and not (folder / SOLUTION_FILE).is_file()):
        raise InputError("no rule files (*.yaml) in this folder", path=str(folder),
                         field="--rules", expected="one rule per .yaml file")
    return folder


def _digest(rules: Sequence[Rule], playbooks: Mapping[str, Playbook],
            policy: Sequence[SitePolicy] = (), solution: Solution | None = None) -> str:
    content: dict[str, Any] = {"rules": {r.id: r.data for r in rules},
                               "playbooks": {k: p.data for k, p in playbooks.items()}}
    if policy:  # a site policy changes what the rules give, so it is part of the hash
        content["site_policy"] = [p.sha256 for p in policy]
    if solution is not None and solution.site_services():
        # a site's additions to the map change what is probed and judged
        content["site_services"] = {f"{s.family}.{s.name}": [s.port, s.title, s.default]
                                    for s in solution.site_services()}
    canonical = json.dumps(content,
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _offered_remedies(rules: dict[str, Rule], playbooks: Mapping[str, Playbook]) -> None:
    """Add each playbook's ``remedies`` to the rules they name, as if the rule listed them:
    a site's playbook takes part in choosing a built-in rule's remedy."""

    for playbook in playbooks.values():
        offers = playbook.data.get("remedies", [])
        if not offers:
            continue
        _, locate = load_yaml(playbook.path)
        for i, offer in enumerate(offers):
            rule = rules.get(offer["rule"])
            if rule is None:
                raise _error(playbook.path, locate, ["remedies", i, "rule"],
                             f"unknown rule {offer['rule']!r}",
                             "a rule ID: " + ", ".join(sorted(rules)))
            if playbook.id in rule.remediation:
                raise _error(playbook.path, locate, ["remedies", i, "rule"],
                             f"{rule.id} already names {playbook.id} in its remediation",
                             "a rule that does not name this playbook")
            compiler = _compiler(rule.scope, playbook.path, locate)
            when = (compiler.compile(offer["when"], ["remedies", i, "when"])
                    if "when" in offer else None)
            remedy = Remedy(playbook.id, offer.get("priority"), when,
                            " ".join(offer["note"].split()) if offer.get("note") else None,
                            playbook.path)
            rules[rule.id] = replace(rule, remediation=(*rule.remediation, playbook.id),
                                     remedies=(*rule.remedies, remedy))


def load_ruleset(site_dirs: Sequence[str | Path] = (), *,
                 builtin: str | Path | None = None) -> RuleSet:
    """The built-in rules and playbooks plus a site's folders (rules, and playbooks/ in them),
    checked against the solution map with the site folders' additions (``solution.yaml``)."""
    folders = [Path(builtin) if builtin is not None else rules_dir()]
    folders += [_site_folder(Path(d)) for d in site_dirs]
    solution = site_solution(folders[1:])
    with using(solution):
        return _load_folders(folders, solution)


def _load_folders(folders: Sequence[Path], solution: Solution) -> RuleSet:
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
            else:  # a site cites its own runbooks; the built-in rules only checked sources
                _check_sources(rule, solution)
        playbook_folder = folder / PLAYBOOK_FOLDER
        for path in _files(playbook_folder) if playbook_folder.is_dir() else []:
            playbook = load_playbook(path)
            if playbook.id in playbooks:
                _, locate = load_yaml(path)
                raise _error(str(path), locate, ["id"], f"duplicate playbook ID "
                             f"{playbook.id!r}, also in {playbooks[playbook.id].path}",
                             "an ID no other playbook uses")
            playbooks[playbook.id] = playbook
            if not index:
                _check_sources(playbook, solution)
    _offered_remedies(rules, playbooks)
    for rule in rules.values():
        for i, ref in enumerate(r.playbook for r in rule.remedies):
            if ref not in playbooks:
                _, locate = load_yaml(rule.path)
                raise _error(rule.path, locate, ["remediation", i],
                             f"unknown remediation {ref!r}",
                             "a playbook ID: " + ", ".join(sorted(playbooks)))
    for rule in rules.values():
        for i, cause in enumerate(rule.caused_by):
            if cause not in rules or cause == rule.id:
                _, locate = load_yaml(rule.path)
                raise _error(rule.path, locate, ["caused_by", i], f"unknown rule {cause!r}"
                             if cause != rule.id else "a rule cannot be its own cause",
                             "the ID of another rule")
    policy = _site_policy(folders[1:], rules)
    ordered = tuple(rules[k] for k in sorted(rules))
    playbooks = {k: playbooks[k] for k in sorted(playbooks)}
    digest = _digest(ordered, playbooks, policy, solution)
    return RuleSet(ordered, playbooks, tuple(sorted(site)), digest, policy, solution)


def _site_policy(folders: Sequence[Path], rules: dict[str, Rule]) -> tuple[SitePolicy, ...]:
    """Each site folder's overrides.yaml, checked against every rule loaded (built-in and
    the site's), applied to ``rules`` (auditor.evaluate.overrides)."""
    from auditor.evaluate.overrides import apply_policy, load_policy, policy_file

    policies: list[SitePolicy] = []
    taken: dict[str, str] = {}
    for folder in folders:
        path = policy_file(folder)
        if path is None:
            continue
        policy = load_policy(path, rules, taken)
        taken.update({o.rule: policy.path for o in policy.overrides})
        policies.append(policy)
    apply_policy(rules, policies)
    return tuple(policies)
