"""A short Markdown summary for a ticket comment: verdict, gadget grid, remediation steps."""

from __future__ import annotations

import re
from typing import Any

from auditor.audit import Audit
from auditor.report.context import ReportMeta, build_context

_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md_escape(value: object) -> str:
    """Text from certificates and servers, inert inside Markdown and table cells."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _states(node: dict[str, Any], which: str) -> str:
    now = node[which]
    later = node["predicted"][which] if node["predicted"] else None
    return f"{now} → {later}" if later and later != now else now


def render_markdown(audit: Audit, meta: ReportMeta) -> str:
    ctx = build_context(audit, meta)
    phase = "pre-change" if audit.phase == "pre" else "post-change"
    lines = [f"**UCCX certificate audit — {md_escape(audit.cluster)} ({phase}): "
             f"{ctx['verdict']['words'].upper()}**", "", md_escape(ctx["verdict"]["reason"]),
             ""]
    facts = []
    if meta.ticket:
        facts.append(f"ticket {md_escape(meta.ticket)}")
    if meta.operator:
        facts.append(f"operator {md_escape(meta.operator)}")
    version = audit.current_version
    if audit.phase == "pre":
        version += f" → {audit.target_version}"
    summary = ctx["summary"]
    facts += [f"version {md_escape(version)}", f"change date {audit.change_date}",
              ", ".join(_n(summary[s], s) for s in ("error", "warning", "notice"))]
    if ctx["faq"]["matched"]:
        facts.append(f"FAQ row {ctx['faq']['matched']}")
    lines += [" · ".join(facts), ""]
    titles = ctx["gadget_titles"]
    lines.append("| Node | tomcat | tomcat-ECDSA | " + " | ".join(titles) + " |")
    lines.append("|" + "---|" * (3 + len(titles)))
    for node in ctx["nodes"]:
        cells = [md_escape(node["host"]), _states(node, "tomcat"),
                 _states(node, "tomcat_ecdsa"),
                 *[g["words"] if g else "—" for g in node["gadgets"]]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    plan = ctx["plan"]
    if not plan.items:
        lines.append("No remediation needed.")
    for item in plan.items:
        lines += [f"**{md_escape(item.title)}** ({', '.join(md_escape(n) for n in item.nodes)})",
                  ""]
        for step in item.steps:
            where = ", ".join(md_escape(w) for w in step.where)
            lines.append(f"{step.number}. {where}: {md_escape(step.do)}")
        lines += [f"{item.verify.number}. Verify: {md_escape(item.verify.do)}", ""]
    if plan.alternatives:
        lines.append("Alternatives: " + "; ".join(md_escape(a.title)
                                                  for a in plan.alternatives) + ".")
    if ctx["accepted"] or ctx["waiver_notices"]:
        lines += ["", "**Accepted risks**", ""]
        for f in ctx["accepted"]:
            w = f["waiver"]
            lines.append(f"- [{f['severity']}] {md_escape(f['rule_id'])} on "
                         f"{md_escape(f['node'])} ({md_escape(f['subject'])}): "
                         f"{md_escape(w.reason)} — approved by {md_escape(w.approved_by)}, "
                         f"ticket {md_escape(w.ticket)}, expires {md_escape(w.expires)}")
        if not ctx["accepted"]:
            lines.append("None.")
        lines += [f"- Notice: {md_escape(n)}" for n in ctx["waiver_notices"]]
    return "\n".join(lines).rstrip("\n") + "\n"
