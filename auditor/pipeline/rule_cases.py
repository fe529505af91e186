"""One-file rule cases (``uccx-audit rules test DIR``): a small cluster written with only
the fields a case needs, and what the rules must find there, in one YAML file.

The cluster starts as the lab's three nodes (``uccx-pub``, ``uccx-sub``, ``sm``; tomcat
signed by the lab's RSA CA, tomcat-ECDSA by its EC CA, version 11.5(1)); ``every_node``
and ``nodes`` change it (a node may declare ``external_chat``; ``public_roots: lab`` puts
the lab's roots among the public roots its chains are judged against). The builder makes
the certificates with the lab's CAs and records facts exactly as an offline audit of
downloaded certificates does (:func:`auditor.collect.offline.keystore_facts`), so the same
rules judge them the same way. A case compares the exact set of findings (of every rule,
or of the rules it names in ``rules``), the gadget outcomes it lists, and the verdict if it
gives one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.validation import Locator, load_yaml_validated
from auditor.evaluate.ruleset import RuleSet
from auditor.model.cluster import Inventory, Node
from auditor.model.facts import Facts
from auditor.model.findings import Evaluation
from auditor.model.solution import current

DEFAULT_NODE: Mapping[str, Any] = {"tomcat": "rsa_ca_signed", "tomcat_ecdsa": "ec_ca_signed",
                                   "cop_installed": False, "defect": None,
                                   "external_chat": False}
DEFAULT_VERSION = "11.5(1)"
CASE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Mismatch:
    """One way a case's expectation differs from what the rules gave: where in the file."""

    line: int | None
    field: str
    expected: str
    got: str


@dataclass(frozen=True)
class CaseResult:
    path: str
    mismatches: tuple[Mismatch, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        """``PASS path`` or one ``FAIL path:line: field: expected ..., got ...`` a mismatch."""
        if self.passed:
            return [f"PASS {self.path}"]
        return [f"FAIL {self.path}:{m.line or 1}: {m.field}: expected {m.expected}; "
                f"got {m.got}" for m in self.mismatches]


def case_files(folder: Path) -> list[Path]:
    """The case files under ``folder`` (any depth), sorted; a file is a case when it holds
    ``expect:`` at the top (rule, playbook and overrides files do not)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in CASE_SUFFIXES and path.is_file():
            try:
                head = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if any(line.startswith("expect:") for line in head.splitlines()):
                found.append(path)
    return found


def _short(host: str) -> str:
    from auditor.lab.scenarios import DOMAIN

    return host.removesuffix(f".{DOMAIN}")


def build_facts(data: Mapping[str, Any], *, path: str, locate: Locator) -> Facts:
    """The facts of a case's cluster: the default cluster with the case's changes, its
    certificates made with the lab's CAs, recorded as an offline audit records them."""

    from auditor.collect.offline import Keystore, keystore_facts
    from auditor.collect.public import judge_publicly
    from auditor.collect.trust import AgentTrust
    from auditor.lab import pki
    from auditor.lab.scenarios import NodeSpec, Scenario, lab_cluster
    from auditor.lab.server import scenario_certificates

    # the cluster every case starts from: the lab's, one node of each role of the map
    nodes: dict[str, dict[str, Any]] = {
        spec.name: {"role": spec.role} for spec in lab_cluster("self_signed", "self_signed")}
    for name, change in (data.get("nodes") or {}).items():
        if change is None:
            nodes.pop(name, None)
        elif name not in nodes and "role" not in change:
            raise InputError(f"a new node {name!r} needs its role", path=path,
                             line=locate(["nodes", name]), field=f"nodes.{name}.role",
                             expected="role: one of " + ", ".join(current().roles))
        else:
            nodes.setdefault(name, {}).update(change)
    if not nodes:
        raise InputError("the case leaves no node", path=path, line=locate(["nodes"]),
                         field="nodes", expected="at least one node")
    specs = []
    external = set()
    for name, spec in nodes.items():
        merged = {**DEFAULT_NODE, **(data.get("every_node") or {}), **spec}
        merged.pop("role", None)
        if merged["external_chat"]:
            external.add(name)
        specs.append(NodeSpec(name, spec["role"], merged["tomcat"], merged["tomcat_ecdsa"],
                              bool(merged["cop_installed"]), merged["defect"]))
    version = str(data.get("version", DEFAULT_VERSION))
    scenario = Scenario("case", path, version, tuple(specs))
    made = scenario_certificates(scenario)
    roots = tuple(r.cert for r in pki.hierarchies().roots)
    stores = {}
    for spec in specs:
        certs = made[spec.host]
        ecdsa = certs.tomcat_ecdsa
        trust = (*certs.tomcat_sent_chain, *(ecdsa.chain if ecdsa else ()), *roots)
        stores[spec.host] = Keystore(certs.tomcat.cert, ecdsa.cert if ecdsa else None,
                                     tuple(dict.fromkeys(trust)))
    inventory = Inventory("case", version, tuple(
        Node(s.host, s.role, declared={"cop_installed": s.cop_installed,
                                       **({"external_chat": True} if s.name in external
                                          else {})}) for s in specs))
    agents = AgentTrust("lab" if data.get("agent_trust", "lab") == "lab" else "none",
                        roots if data.get("agent_trust", "lab") == "lab" else ())
    facts = keystore_facts(inventory, stores, trust=agents)
    # the public roots (the system store of a real audit): none of the lab's by default
    public = AgentTrust("public", roots if data.get("public_roots") == "lab" else ())
    facts = judge_publicly(facts, public)
    return replace(facts, cluster=f"case {Path(path).stem}")


def _settings(data: Mapping[str, Any], facts: Facts, path: str, locate: Locator) -> Any:
    from auditor.evaluate.projection import settings_for

    change = data.get("change_date")
    if isinstance(change, int) and not isinstance(change, bool):
        change = (dt.date.fromisoformat(facts.observed_at[:10])
                  + dt.timedelta(days=change)).isoformat()
    try:
        return settings_for(facts, phase=data.get("phase", "post"),
                            target_version=data.get("target_version"), change_date=change,
                            expiry_window_days=data.get("expiry_window_days", 30))
    except InputError as exc:
        key = next((k for k in ("target_version", "change_date", "version") if k in data),
                   "phase")
        raise InputError(exc.message, path=path, line=locate([key]), field=key,
                         expected=exc.expected) from None


def finding_keys(evaluation: Evaluation, short: Callable[[str], str] = _short,
                 ) -> Counter[tuple[str, str, str]]:
    """Findings as cases name them: ``rule node subject``, the node by its short name and a
    certificate by its kind."""
    return Counter((f.rule_id, short(f.node),
                    f.subject.kind if f.subject.scope == "certificate" else f.subject.text)
                   for f in evaluation.findings)


def run_case(path: Path, rules: RuleSet) -> CaseResult:
    """Build the case's facts, evaluate them with ``rules`` and compare. A case file that is
    not one raises :class:`InputError` (file, line, field)."""
    from auditor.evaluate.engine import evaluate

    name = str(path)
    data, locate = load_yaml_validated(path, "rule-case")
    known = {r.id for r in rules.rules}
    for index, rule_id in enumerate(data.get("rules", ())):
        if rule_id not in known:
            raise InputError(f"no rule {rule_id!r}", path=name, line=locate(["rules", index]),
                             field=f"rules[{index}]", expected="a rule ID listed by "
                             "`uccx-audit rules` (built-in or the site's)")
    for index, text in enumerate(data["expect"]["findings"]):
        if text.split()[0] not in known:
            raise InputError(f"no rule {text.split()[0]!r}", path=name,
                             line=locate(["expect", "findings", index]),
                             field=f"expect.findings[{index}]",
                             expected="'rule-id node subject' with a rule ID of the rule set")
    facts = build_facts(data, path=name, locate=locate)
    evaluation = evaluate(rules, facts, _settings(data, facts, name, locate))
    return CaseResult(name, tuple(compare(data, evaluation, locate)))


def compare(data: Mapping[str, Any], evaluation: Evaluation,
            locate: Locator) -> list[Mismatch]:
    """Every difference between what the case expects and what the rules gave."""
    only = set(data.get("rules", ()))
    got = Counter({k: n for k, n in finding_keys(evaluation).items()
                   if not only or k[0] in only})
    texts = data["expect"]["findings"]
    want = Counter(tuple(t.split()) for t in texts)
    out = []
    for index, text in enumerate(texts):
        key = tuple(text.split())
        if got[key] == 0:
            same_rule = sorted(" ".join(k) for k in got if k[0] == key[0])
            out.append(Mismatch(locate(["expect", "findings", index]),
                                f"expect.findings[{index}]", f"finding {text}",
                                "no such finding" + (f" ({key[0]} found: "
                                                     f"{', '.join(same_rule)})"
                                                     if same_rule else "")))
    extra = sorted(" ".join(k) for k in got if k not in want)
    if extra:
        out.append(Mismatch(locate(["expect", "findings"]) or locate(["expect"]),
                            "expect.findings", "no other finding",
                            "also " + ", ".join(extra)))
    nodes = {_short(n.host): n for n in evaluation.nodes}
    for node, gadgets in (data["expect"].get("gadgets") or {}).items():
        result = nodes.get(node) or next((n for n in evaluation.nodes if n.host == node),
                                         None)
        if result is None:
            out.append(Mismatch(locate(["expect", "gadgets", node]),
                                f"expect.gadgets.{node}", f"a node {node}",
                                "nodes " + ", ".join(nodes)))
            continue
        for gadget, outcome in gadgets.items():
            actual = result.gadgets.get(gadget)
            shown = actual.outcome if actual else "no such gadget on this node"
            if actual is None or actual.outcome != outcome:
                out.append(Mismatch(locate(["expect", "gadgets", node, gadget]),
                                    f"expect.gadgets.{node}.{gadget}", outcome, shown))
    verdict = data["expect"].get("verdict")
    if verdict is not None and verdict != evaluation.verdict:
        out.append(Mismatch(locate(["expect", "verdict"]), "expect.verdict", verdict,
                            evaluation.verdict))
    return out


def is_rule_folder(folder: Path) -> bool:
    """A site rule folder with its cases in ``cases/`` (its rules, playbooks and overrides
    are loaded beside the built-ins); else ``folder`` holds cases only."""
    from auditor.evaluate.ruleset import CASE_FOLDER

    return (folder / CASE_FOLDER).is_dir()


def run_cases(folder: Path, rules: RuleSet) -> list[CaseResult]:
    """Every case of ``folder`` (in its ``cases/`` when it is a site rule folder); a folder
    without one is an error (nothing would be tested)."""
    from auditor.evaluate.ruleset import CASE_FOLDER

    if not folder.is_dir():
        raise InputError("not a folder" if folder.exists() else "folder not found",
                         path=str(folder), expected="a folder of rule case files")
    paths = case_files(folder / CASE_FOLDER if is_rule_folder(folder) else folder)
    if not paths:
        raise InputError("no rule case in this folder", path=str(folder),
                         expected="YAML files with an expect: section (rules/README.md, "
                         "\"Rule cases\")")
    return [run_case(p, rules) for p in paths]


def summary(results: Sequence[CaseResult]) -> str:
    failed = sum(1 for r in results if not r.passed)
    return (f"{len(results)} case(s): {len(results) - failed} passed, {failed} failed")
