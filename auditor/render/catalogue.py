"""The rule catalogue, generated from the rule and playbook files: table, JSON, Markdown."""

from __future__ import annotations

import json
from typing import Any

from auditor.evaluate.conditions import COMBINATORS, OPERATORS
from auditor.evaluate.gadgets import OUTCOME_WORDS, gadget_title, role_title
from auditor.evaluate.ruleset import Playbook, Remedy, Rule, RuleSet
from auditor.evaluate.view import FACTS, SCOPES, TEXTS, evidence_for
from auditor.model.solution import PLACES, current
from auditor.render.tables import tabulate


def _short_roles() -> dict[str, str]:
    return {r: spec.short for r, spec in current().roles.items()}


def _where() -> dict[str, str]:
    """Where a step happens, in words: the roles (the solution map's ``steps_on``), the
    node targets and the other places (with the plan's, auditor.model.audit.PLACES)."""
    return {**{r: spec.steps_on for r, spec in current().roles.items()}, **_WHERE}


#: A step's ``phase``, in words.
_PHASES = {"before-upgrade": "before the upgrade", "after-upgrade": "after the upgrade",
           "window": "in the maintenance window"}

#: A step's ``via``, in words.
_VIA = {"os-admin": "OS Administration page", "vos-cli": "VOS CLI"}

_WHERE = {
    "every-node": "each node it is for",
    "uccx-nodes": "each UCCX node it is for",
    "trust-store": "the tomcat-trust of each node it is for (the publisher's replicates)",
    "restart": "each node it is for, one at a time, in the map's role order",
    **PLACES,
}


def _versions(rule: Rule) -> str:
    low = rule.version_from.text if rule.version_from else None
    high = rule.version_before.text if rule.version_before else None
    if low and high:
        return f"{low} to before {high}"
    if low:
        return f"{low} and later"
    return f"before {high}" if high else "all"


def _effects(rule: Rule) -> str:
    """``outcome: gadget, gadget; outcome: gadget`` -- grouped by outcome."""
    grouped: dict[str, list[str]] = {}
    for gadget, outcome in rule.effects.items():
        grouped.setdefault(outcome, []).append(gadget)
    return "; ".join(f"{o}: {', '.join(g)}" for o, g in grouped.items()) or "-"


def rules_table(rules: RuleSet, fmt: str = "simple") -> str:
    rows = [[r.id, r.severity, r.scope, ",".join(r.phases),
             ",".join(_short_roles()[x] for x in r.roles), _versions(r), _effects(r), r.title]
            for r in rules.rules]
    return tabulate(rows, headers=["id", "severity", "scope", "phases", "roles", "versions",
                                   "effects", "title"], tablefmt=fmt,
                    maxcolwidths=[None, None, None, None, None, None, 36, 44])


def _rule_json(rule: Rule, site: bool) -> dict[str, Any]:
    return {**rule.data, "condition_text": rule.condition.text(),
            "origin": "site" if site else "built-in"}


def rules_json(rules: RuleSet) -> str:
    data = {
        "sha256": rules.sha256,
        "rules": [_rule_json(r, r.id in rules.site_rules) for r in rules.rules],
        "playbooks": [p.data for p in rules.playbooks.values()],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _rule_md(rule: Rule, rules: RuleSet) -> list[str]:
    lines = [f"### `{rule.id}`", "", f"**{rule.title}**", "", rule.description, "",
             "| | |", "|---|---|",
             f"| severity | {rule.severity} |",
             f"| evaluated on | each {rule.scope}"
             + (f" ({', '.join(rule.services)})" if rule.services else "") + " |",
             f"| phases | {', '.join(rule.phases)} |",
             f"| roles | {', '.join(role_title(r) for r in rule.roles)} |",
             f"| versions | {_versions(rule)} |",
             f"| requires | {', '.join(f'`{e}`' for e in rule.requires) or 'nothing'} |",
             f"| fires when | `{rule.condition.text()}` |"]
    effects = "; ".join(f"{gadget_title(g)}: {OUTCOME_WORDS[o]}"
                        for g, o in rule.effects.items())
    lines.append(f"| gadget effects | {effects or 'none (reports only)'} |")
    lines.append(f"| message | {' '.join(rule.message.split())} |")
    cited = "; ".join(c.text for c in rule.citations)
    lines.append(f"| citations | {cited} |")
    fixes = ", ".join(_remedy_md(r, rule, rules) for r in rule.remedies)
    lines.append(f"| remediation | {fixes or 'none'} |")
    if rule.caused_by:
        lines.append("| follows from | " + ", ".join(rule.caused_by)
                     + " (on the same node: then it points to that finding) |")
    return [*lines, ""]


def _remedy_md(remedy: Remedy, rule: Rule, rules: RuleSet) -> str:
    """One remediation entry: the playbook, its priority, and the situation it is for."""
    text = (f"[{remedy.playbook}](#playbook-{remedy.playbook}) "
            f"(priority {remedy.rank(rules.playbooks)}")
    if remedy.condition is not None:
        text += f", when `{remedy.condition.text()}`"
    if remedy.source and remedy.source != rule.path:
        text += f", offered by {remedy.playbook}'s playbook file"
    return text + ")"


def _playbook_md(playbook: Playbook) -> list[str]:
    lines = [f"### <a id=\"playbook-{playbook.id}\"></a>`{playbook.id}`", "",
             f"**{playbook.title}**", "", f"When: {playbook.when_to_use}", "",
             "Applies to findings on: " + ", ".join(role_title(r) for r in playbook.roles),
             "", f"Plan order {playbook.order}, priority {playbook.priority}"
             + ("; changes certificates, ends with the restart"
                if playbook.changes_certificates else ""), ""]
    for number, step in enumerate(playbook.steps, 1):
        note = f" *{step.note}*" if step.note else ""
        only = (f" ({', '.join(role_title(r) for r in step.roles)} only)"
                if step.roles else "")
        when = f" [{_PHASES[step.phase]}]" if step.phase else ""
        if step.via:
            only += f", on its {_VIA[step.via]}"
        command = f" Command: `{step.command}`" if step.command else ""
        lines.append(f"{number}. **{_where()[step.on]}{only}**{when}: {step.do}{command}{note}")
    lines.append(f"{len(playbook.steps) + 1}. **Verify** ({_where()[playbook.verify.on]}): "
                 f"{playbook.verify.do}")
    lines.append("")
    lines.append("Sources: " + "; ".join(c.text for c in playbook.citations))
    return [*lines, ""]


def rules_markdown(rules: RuleSet) -> str:
    """The catalogue as Markdown: a summary table, each rule, each playbook."""
    lines = ["# Rule catalogue", "",
             "Generated by `uccx-audit rules --format md` from the rule files; do not edit.",
             f"Rule set SHA-256: `{rules.sha256}`.", "",
             "| rule | severity | gadget effects | title |", "|---|---|---|---|"]
    for rule in rules.rules:
        lines.append(f"| [`{rule.id}`](#{rule.id}) | {rule.severity} | {_effects(rule)} "
                     f"| {rule.title} |")
    lines += ["", "## Rules", ""]
    for rule in rules.rules:
        lines += _rule_md(rule, rules)
    lines += ["## Remediation playbooks", ""]
    for playbook in rules.playbooks.values():
        lines += _playbook_md(playbook)
    lines += _language_md()
    return "\n".join(lines).rstrip("\n") + "\n"


def _language_md() -> list[str]:
    """The operators and the fields a condition or message may use (see rules/README.md)."""
    lines = ["## The condition language", "",
             "| operator | value | holds when |", "|---|---|---|"]
    lines += [f"| `{name}` | (conditions) | {meaning} |" for name, meaning in COMBINATORS.items()]
    lines += [f"| `{op.name}` | {op.takes} | {op.meaning} |" for op in OPERATORS.values()]
    lines += ["", "A test on a missing (null) fact is false, except `exists: false`.", "",
              "## Fields", "",
              "`node.services.<service>.<field>` holds the same fields as `endpoint.<field>` "
              "for each service of the node (finesse, live_data, notification, cuic, os_admin "
              "on UCCX; web, notification on SocialMiner).", "",
              "| field | scopes | meaning |", "|---|---|---|"]
    for path, meaning in FACTS.items():
        if path.startswith("node.services."):
            continue
        root = path.split(".")[0]
        scopes = ", ".join(SCOPES) if root in ("cluster", "node") else root
        lines.append(f"| `{path}` | {scopes} | {meaning} |")
    lines += ["", "## Prose for messages", "",
              "A message or `settle` text names these as `{text.<field>}`; a condition "
              "cannot name them.", "", "| field | meaning |", "|---|---|"]
    lines += [f"| `{path}` | {meaning} |" for path, meaning in TEXTS.items()
              if not path.startswith("text.node.services.")]
    lines += ["", "## What a rule may require", "",
              "`requires:` names the evidence a rule cannot answer without; where it is "
              "missing and the rule did not fire, the rule did not look (`not_seen`).", "",
              "| evidence | scopes | meaning |", "|---|---|---|"]
    scopes_of: dict[str, list[str]] = {}
    meanings: dict[str, str] = {}
    for scope in SCOPES:
        for name, meaning in evidence_for(scope).items():
            scopes_of.setdefault(name, []).append(scope)
            meanings[name] = meaning
    lines += [f"| `{name}` | {', '.join(scopes_of[name])} | {meanings[name]} |"
              for name in scopes_of]
    return [*lines, ""]
