"""Per-rule fixture cases: fixtures/rules/<rule-id>/{fires,passes}-<case>.yaml.

A case names recorded facts (fixtures/facts/<name>.json) and the evaluation options; what
the engine gives for those is written once, in fixtures/expected/<facts>--<phase>[--<option>
-<value>...].yaml: the exact set of findings as ``rule-id node subject`` lines (subject:
``node``, a service, or a certificate kind) and the exact gadget outcome of every node.
A case folder only says which of those its rule fires on or passes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.common.validation import load_yaml
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import settings_for
from auditor.evaluate.ruleset import RuleSet
from auditor.model.facts import Facts, load_facts
from auditor.model.findings import Evaluation

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "fixtures" / "rules"
#: One-file cases (``uccx-audit rules test``): fixtures/cases/<rule-id>/{fires,passes}-*.yaml
ONE_FILE = ROOT / "fixtures" / "cases"
FACTS = ROOT / "fixtures" / "facts"
EXPECTED = ROOT / "fixtures" / "expected"
KINDS = ("fires", "passes")
#: The evaluation options a case may set, in the order they appear in an expected file's name.
OPTIONS = ("target_version", "change_date")


def expected_name(data: dict[str, Any]) -> str:
    """The expected-results file of (facts, phase, options)."""
    parts = [str(data["facts"]), str(data["phase"])]
    for option in OPTIONS:
        if option in data:
            value = str(data[option]).replace("+", "plus").replace("(", "_").replace(")", "")
            parts.append(f"{option.replace('_', '-')}-{value}")
    return "--".join(parts)


@dataclass(frozen=True)
class Case:
    rule_id: str
    kind: str
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.rule_id}/{self.path.stem}"

    def facts(self) -> Facts:
        return load_facts(FACTS / f"{self.data['facts']}.json")

    def run(self, rules: RuleSet) -> Evaluation:
        facts = self.facts()
        change = self.data.get("change_date")
        if isinstance(change, str) and change.startswith("+"):
            change = (dt.date.fromisoformat(facts.observed_at[:10])
                      + dt.timedelta(days=int(change[1:]))).isoformat()
        settings = settings_for(facts, phase=self.data["phase"],
                                target_version=self.data.get("target_version"),
                                change_date=change,
                                expiry_window_days=self.data.get("expiry_window_days", 30))
        return evaluate(rules, facts, settings)

    @property
    def expected_path(self) -> Path:
        return EXPECTED / f"{expected_name(self.data)}.yaml"

    def expected(self) -> dict[str, Any]:
        data, _ = load_yaml(self.expected_path)
        return data

    def expected_findings(self) -> Counter[tuple[str, str, str]]:
        return Counter(tuple(line.split()) for line in self.expected()["findings"])

    def expected_gadgets(self) -> dict[str, dict[str, str]]:
        return self.expected()["gadgets"]


def finding_keys(evaluation: Evaluation) -> Counter[tuple[str, str, str]]:
    """Findings as fixtures name them: the certificate subject reduced to its kind."""
    return Counter((f.rule_id, f.node,
                    f.subject.kind if f.subject.scope == "certificate" else f.subject.text)
                   for f in evaluation.findings)


def gadget_outcomes(evaluation: Evaluation) -> dict[str, dict[str, str]]:
    return {n.host: {g: r.outcome for g, r in n.gadgets.items()} for n in evaluation.nodes}


@dataclass(frozen=True)
class OneFileCase:
    """A one-file case, named like the others: its folder the rule, its stem the kind."""

    rule_id: str
    kind: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.rule_id}/{self.path.stem}"


def one_file_cases(folder: Path = ONE_FILE) -> list[OneFileCase]:
    """Every one-file case under ``folder``."""
    return [OneFileCase(p.parent.name, p.stem.partition("-")[0], p)
            for p in sorted(folder.glob("*/*.yaml"))]


def discover(folder: Path = CASES) -> list[Case]:
    """Every case file under ``folder``, by naming convention."""
    cases = []
    for path in sorted(folder.glob("*/*.yaml")):
        kind, _, name = path.stem.partition("-")
        data, _ = load_yaml(path)
        cases.append(Case(path.parent.name, kind, name, path, data))
    return cases
