"""A short Markdown summary for a ticket comment: verdict, gadget grid, remediation steps."""

from __future__ import annotations

import re
from typing import Any

from auditor.common.textsafe import visible
from auditor.model.audit import Audit
from auditor.render.context import ReportMeta, build_context
from auditor.render.faq import rows_text
from auditor.render.provenance import ORIGIN_LEGEND, offline_words

_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md_escape(value: object) -> str:
    """Text from certificates and servers, inert inside Markdown and table cells."""
    return _SPECIAL.sub(r"\\\1", " ".join(visible(value).split()))


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _states(node: dict[str, Any], which: str) -> str:
    now = node[which]
    origin = node["origin"][which]
    shown = f"{now} ({origin})" if origin else now
    later = node["predicted"][which] if node["predicted"] else None
    return f"{shown} → {later}" if later and later != now else shown


def _cell(gadget: dict[str, Any] | None) -> str:
    if not gadget:
        return "—"
    marks = "".join(f" {'⛔' if e['severity'] == 'error' else '⚠'} {md_escape(e['title'])} "
                    f"(`{e['rule_id']}`)" for e in gadget["marks"])
    return gadget["words"] + marks


def render_markdown(audit: Audit, meta: ReportMeta) -> str:
    ctx = build_context(audit, meta)
    phase = "pre-change" if audit.phase == "pre" else "post-change"
    offline = offline_words(audit)
    lines = [f"**UCCX certificate audit — {md_escape(audit.cluster)} ({phase}): "
             f"{ctx['verdict']['words'].upper()}"
             + (f" ({md_escape(offline)})" if offline else "") + "**", "",
             md_escape(ctx["scope"]["line"]), "",
             md_escape(ctx["verdict"]["reason"]), ""]
    if ctx["scope"]["not_checked"]:
        lines += ["Not checked:", "", *(f"- {md_escape(item)}"
                                        for item in ctx["scope"]["not_checked"]), ""]
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
    if ctx["deciding"]:
        lines += ["Decided by: " + md_escape("; ".join(ctx["deciding"])) + ".", ""]
    if ctx["unknowns"]:
        lines += [f"**Not seen: {_n(len(ctx['unknowns']), 'gadget')} unknown** — the audit "
                  "cannot say GO for what it did not see. To see it:", ""]
        for item in ctx["unknowns"]:
            lines.append(f"- {md_escape(item['node'])} · {item['gadget']}: "
                         + md_escape(" ".join(item["settle"])))
        lines.append("")
    titles = ctx["gadget_titles"]
    lines.append("| Node | tomcat | tomcat-ECDSA | " + " | ".join(titles) + " |")
    lines.append("|" + "---|" * (3 + len(titles)))
    for node in ctx["nodes"]:
        cells = [md_escape(node["host"]), _states(node, "tomcat"),
                 _states(node, "tomcat_ecdsa"),
                 *[_cell(g) for g in node["gadgets"]]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"*{md_escape(ORIGIN_LEGEND)}*", ""]
    for line in rows_text(audit.nodes, predicted=audit.phase == "pre"):
        lines += [md_escape(line), ""]
    lines += plan_markdown(ctx["plan"])
    lines += accepted_markdown(ctx)
    lines += site_policy_markdown(ctx)
    return "\n".join(lines).rstrip("\n") + "\n"


def accepted_markdown(ctx: dict[str, Any]) -> list[str]:
    """Findings waived by a waiver in force, and the waivers that expired or matched
    nothing."""
    if not (ctx["accepted"] or ctx["waiver_notices"]):
        return []
    lines = ["", "**Accepted risks**", ""]
    for f in ctx["accepted"]:
        w = f["waiver"]
        lines.append(f"- [{f['severity']}] {md_escape(f['rule_id'])} on "
                     f"{md_escape(f['node'])} ({md_escape(f['subject'])}): "
                     f"{md_escape(w.reason)} — approved by {md_escape(w.approved_by)}, "
                     f"ticket {md_escape(w.ticket)}, expires {md_escape(w.expires)}")
    if not ctx["accepted"]:
        lines.append("None.")
    lines += [f"- Notice: {md_escape(n)}" for n in ctx["waiver_notices"]]
    return lines


def site_policy_markdown(ctx: dict[str, Any]) -> list[str]:
    """The site policies in force: each file with its hash, each override with its reason."""
    lines: list[str] = []
    for policy in ctx["site_policy"]:
        lines += ["", f"**Site policy** `{md_escape(policy['path'])}` (sha256 "
                  f"`{policy['sha256']}`)", ""]
        lines += [f"- {md_escape(o['text'])}: {md_escape(o['reason'])}"
                  for o in policy["overrides"]]
    return lines


def plan_markdown(plan: Any) -> list[str]:
    """The remediation plan: each playbook with its steps per node, the restart, the verify
    command; then the alternatives with when to use them, and the consequential findings."""
    lines: list[str] = []
    if not plan.items:
        lines.append("No remediation needed.")
    for index, item in enumerate(plan.items, 1):
        nodes = ", ".join(md_escape(n) for n in item.nodes)
        lines += [f"**Playbook {index}: {md_escape(item.title)}** ({nodes}) "
                  f"`{item.playbook}`", "",
                  f"Why: {'; '.join(md_escape(b) for b in item.because)}.", "",
                  f"When to use: {md_escape(item.when_to_use)}", ""]
        for step in item.steps:
            where = ", ".join(md_escape(w) for w in step.where)
            note = f" *Note: {md_escape(step.note)}*" if step.note else ""
            lines.append(f"{step.number}. **{where}**: {md_escape(step.do)}{note}")
        lines += [f"{item.verify.number}. **Verify:** {md_escape(item.verify.do)}", ""]
    if plan.alternatives:
        lines += ["**Alternatives** (when the recommended playbook does not fit):", ""]
        for alt in plan.alternatives:
            instead = (f" Instead of: {'; '.join(md_escape(t) for t in alt.instead_of)}."
                       if alt.instead_of else "")
            lines.append(f"- {md_escape(alt.title)} `{alt.playbook}` — when to use: "
                         f"{md_escape(alt.when_to_use)}{instead}")
        lines.append("")
    if plan.consequences:
        lines += ["**Follows from another finding** (fixing the cause fixes it):", ""]
        for note in plan.consequences:
            fixed = (f"; fixed by: {'; '.join(md_escape(t) for t in note.fixed_by)}"
                     if note.fixed_by else "")
            lines.append(f"- {md_escape(note.title)} ({md_escape(note.node)}): caused by "
                         f"{'; '.join(md_escape(c) for c in note.causes)}{fixed}")
    return lines
