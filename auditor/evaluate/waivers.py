"""Waivers: a reviewer's accepted risks, each with a reason, an approver, a ticket and an
expiry date.

A waiver in force moves the findings it matches out of the findings into the audit's
accepted risks, and the verdict is judged without them. An expired waiver changes nothing
and says so; a waiver that matches nothing says so. What the audit could not see cannot be
accepted: a waiver for a rule that gives a gadget the ``unknown`` outcome is refused when
the file is read, so an inconclusive audit stays inconclusive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditor.common.errors import InputError
from auditor.common.validation import load_yaml_validated
from auditor.evaluate.plan import build_plan
from auditor.evaluate.ruleset import RuleSet
from auditor.model.audit import AcceptedRisk, Audit, Waiver
from auditor.model.facts import Facts
from auditor.model.findings import SEVERITIES, Finding
from auditor.model.solution import current
from auditor.model.verdicts import decide


@dataclass(frozen=True)
class WaiverSet:
    """The waivers of one file."""

    path: str
    waivers: tuple[Waiver, ...]


def _dates_as_text(data: Any) -> Any:
    """YAML reads an unquoted ``2026-12-31`` as a date: give it back as the text it was."""
    if isinstance(data, dict) and isinstance(data.get("waivers"), list):
        for item in data["waivers"]:
            if isinstance(item, dict) and isinstance(item.get("expires"), dt.date):
                value = item["expires"]
                item["expires"] = (value.date() if isinstance(value, dt.datetime)
                                   else value).isoformat()
    return data


def load_waivers(path: str | Path, ruleset: RuleSet,
                 hosts: Collection[str] | None = None) -> WaiverSet:
    """Read and check a waivers file: the schema, then that every rule exists and may be
    waived, that every node is in the inventory (``hosts``; not checked when None), every
    service exists and every date is a real day. Errors name file, line and field."""
    name = str(path)
    data, locate = load_yaml_validated(path, "waivers", prepare=_dates_as_text)
    rules = {r.id: r for r in ruleset.rules}
    known_hosts = {h.rstrip(".").lower() for h in hosts} if hosts is not None else None
    waivers = []
    for index, raw in enumerate(data["waivers"]):
        def error(field: str, message: str, expected: str | None = None,
                  index: int = index) -> InputError:
            return InputError(message, path=name, line=locate(["waivers", index, field]),
                              field=f"waivers[{index}].{field}", expected=expected)

        rule = rules.get(raw["rule"])
        if rule is None:
            raise error("rule", f"no rule {raw['rule']!r}",
                        "a rule ID listed by `uccx-audit rules`")
        unknown = sorted(g for g, outcome in rule.effects.items() if outcome == "unknown")
        if unknown:
            raise error("rule", f"{rule.id} cannot be waived: it marks what the audit could "
                        f"not see ({', '.join(unknown)}: unknown), and an unknown is not a "
                        "risk anyone can accept; make the endpoint reachable from where the "
                        "audit runs and audit again", "a rule whose findings are certain")
        node = raw["node"].rstrip(".").lower() if raw["node"] != "*" else "*"
        if node != "*" and known_hosts is not None and node not in known_hosts:
            raise error("node", f"{raw['node']!r} is not a node of the inventory",
                        '"*" or one of: ' + ", ".join(sorted(known_hosts)))
        service = raw.get("service")
        known = current().all_services()
        if isinstance(service, str) and service not in known:
            raise error("service", f"no service {service!r}",
                        "a port or one of: " + ", ".join(known))
        try:
            dt.date.fromisoformat(raw["expires"])
        except ValueError:
            raise error("expires", f"{raw['expires']!r} is not a day of the calendar",
                        "YYYY-MM-DD") from None
        waivers.append(Waiver(rule.id, node, raw["reason"].strip(),
                              raw["approved_by"].strip(), raw["ticket"].strip(),
                              raw["expires"], None if service is None else str(service),
                              locate(["waivers", index])))
    return WaiverSet(name, tuple(waivers))


def _places(facts: Facts, finding: Finding) -> set[str]:
    """The service names and ports a finding is about (none for a node-wide finding)."""
    node = next((n for n in facts.nodes if n.host == finding.node), None)
    if node is None:
        return set()
    places: set[str] = set()
    subject = finding.subject
    for endpoint in node.endpoints:
        about = (endpoint.service == subject.key if subject.scope == "endpoint" else
                 subject.scope == "certificate" and any(
                     h.ok and h.chain and h.chain[0].startswith(subject.key)
                     for h in endpoint.handshakes))
        if about:
            places |= {endpoint.service, str(endpoint.port)}
    return places


def matches(waiver: Waiver, finding: Finding, facts: Facts) -> bool:
    """Does ``waiver`` name this finding (rule, node or "*", and service or port if given)?"""
    if waiver.rule != finding.rule_id or waiver.node not in ("*", finding.node):
        return False
    return waiver.service is None or waiver.service in _places(facts, finding)


def _describe(waiver: Waiver, where: str) -> str:
    target = waiver.node if waiver.service is None else f"{waiver.node} {waiver.service}"
    return f"waiver {where}({waiver.rule} on {target}, {waiver.ticket})"


def apply_waivers(audit: Audit, waivers: Iterable[WaiverSet],
                  today: dt.date | None = None) -> Audit:
    """The audit with the findings that waivers in force match moved to its accepted risks,
    its summary and verdict judged without them, and a notice for every waiver that expired
    or matched nothing. ``today``: the day the waivers are judged on (default: today)."""
    today = today or dt.date.today()
    findings = list(audit.findings)
    accepted: list[AcceptedRisk] = list(audit.accepted_risks)
    notices: list[str] = list(audit.waiver_notices)
    for waiver_set in waivers:
        for waiver in waiver_set.waivers:
            where = f"{waiver_set.path}:{waiver.line} " if waiver.line else ""
            hits = [f for f in findings if matches(waiver, f, audit.facts)]
            if dt.date.fromisoformat(waiver.expires) < today:
                notices.append(f"{_describe(waiver, where)} expired on {waiver.expires}: "
                               + (f"{len(hits)} finding(s) count again" if hits
                                  else "it matched nothing anyway"))
                continue
            if not hits:
                notices.append(f"{_describe(waiver, where)} matches no finding of this audit")
                continue
            accepted += [AcceptedRisk(f, waiver) for f in hits]
            findings = [f for f in findings if f not in hits]
    if len(accepted) == len(audit.accepted_risks) and len(notices) == len(
            audit.waiver_notices):
        return audit
    summary: dict[str, int] = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    # what the audit did not see stays unseen: the unknowns still count
    verdict = decide((f.severity for f in findings), len(audit.unknowns))
    waived = replace(audit, findings=tuple(findings), summary=summary, verdict=verdict,
                     accepted_risks=tuple(accepted), waiver_notices=tuple(notices))
    # the plan is of the findings that still count
    return replace(waived, plan=build_plan(waived))
