"""The audit for a terminal: verdict, each node's gadgets, then the findings (tabulate)."""

from __future__ import annotations

import textwrap

from auditor.evaluate.gadgets import ALL_GADGETS, GADGET_TITLES, OUTCOME_WORDS, ROLE_TITLES
from auditor.model.audit import Audit
from auditor.model.facts import state_words
from auditor.model.verdicts import VERDICT_WORDS
from auditor.render.tables import tabulate


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def heading(audit: Audit) -> str:
    if audit.phase == "pre":
        when = (f"before the change: {audit.current_version} now, "
                f"{audit.target_version} after it")
    else:
        when = f"after the change: {audit.current_version}"
    counts = ", ".join(_plural(audit.summary.get(s, 0), s)
                       for s in ("error", "warning", "notice"))
    if audit.accepted_risks:
        counts += f"; {_plural(len(audit.accepted_risks), 'accepted risk')}"
    return (f"Cluster {audit.cluster}, {when}; change date {audit.change_date}\n"
            f"Verdict: {VERDICT_WORDS[audit.verdict].upper()} ({counts})")


def _state(now: str, later: str | None) -> str:
    text = state_words(now)
    return f"{text} -> {state_words(later)}" if later and later != now else text


def gadget_table(audit: Audit, fmt: str = "simple") -> str:
    """One row per node: its certificate states and each gadget's outcome."""
    rows = []
    for node in audit.nodes:
        predicted = node.predicted
        rows.append([
            node.host, ROLE_TITLES[node.role],
            _state(node.tomcat, predicted.tomcat if predicted else None),
            _state(node.tomcat_ecdsa, predicted.tomcat_ecdsa if predicted else None),
            *[OUTCOME_WORDS[node.gadgets[g].outcome] if g in node.gadgets else "-"
              for g in ALL_GADGETS]])
    return tabulate(rows, headers=["node", "role", "tomcat", "tomcat-ECDSA",
                                   *[GADGET_TITLES[g] for g in ALL_GADGETS]], tablefmt=fmt)


def unknowns_text(audit: Audit, width: int = 100) -> str:
    """What the audit did not see, and how to see it (empty when it saw everything)."""
    if not audit.unknowns:
        return ""
    lines = ["Not seen (these gadgets are unknown; the audit cannot say GO):"]
    for item in audit.unknowns:
        lines.append(f"  {item.node} {GADGET_TITLES.get(item.gadget, item.gadget)}")
        for settle in item.settle:
            lines.append(textwrap.fill("to see it: " + settle, width=width,
                                       initial_indent=" " * 4, subsequent_indent=" " * 15,
                                       break_on_hyphens=False))
    return "\n".join(lines)


def findings_text(audit: Audit, width: int = 100) -> str:
    """Each finding: severity, rule, node and subject; the message; the remediation."""
    if not audit.findings:
        return "No findings."
    blocks = []
    for finding in audit.findings:
        head = f"{finding.severity.upper():<8} {finding.rule_id}  [{finding.node}"
        head += f" {finding.subject}]" if finding.subject != "node" else "]"
        body = textwrap.fill(finding.message, width=width, initial_indent=" " * 9,
                             subsequent_indent=" " * 9, break_on_hyphens=False)
        lines = [head, body]
        if finding.remediation:
            lines.append(textwrap.fill("remediation: " + ", ".join(finding.remediation),
                                       width=width, initial_indent=" " * 9,
                                       subsequent_indent=" " * 22, break_on_hyphens=False))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_audit(audit: Audit) -> str:
    """The whole audit as text."""
    parts = [heading(audit), gadget_table(audit), unknowns_text(audit), "Findings",
             findings_text(audit)]
    return "\n\n".join(p for p in parts if p)
