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


#: The parts of a pre-upgrade plan, as headings.
_PART_HEADINGS = {"before-upgrade": "Before the upgrade", "after-upgrade": "After the upgrade"}


#: What plan prose escapes: what would start code, emphasis, a link or an HTML tag
#: anywhere, and '_' only where it could start or end emphasis (not inside a word such as
#: cop_installed), so that a plan pasted into a plain-text ticket reads cleanly.
_PROSE_SPECIAL = re.compile(r"([\\`*\[\]<]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_text(value: object) -> str:
    """Plan prose from playbooks, hosts and findings: inert in Markdown, with as few
    backslashes as that takes."""
    return _PROSE_SPECIAL.sub(r"\\\1", " ".join(visible(value).split()))


def md_code(value: object) -> str:
    """A command as inline code that copies exactly: nothing escaped inside, fenced by more
    backticks than it holds (control characters shown, never passed)."""
    text = " ".join(visible(value).split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _code_block(value: object) -> list[str]:
    """A command as a fenced block of its own, copied as is."""
    text = " ".join(visible(value).split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _step_line(step: Any, plan: Any, noted: set[int]) -> list[str]:
    """One step as a checklist entry: its number, node (role) or place, where, what; the
    command as code under it; its note in full the first time, by number afterwards."""
    if step.kind == "verify":
        head = f"Verify on {md_text(step.where)}"
    elif step.node:
        head = f"{md_text(step.node)} ({md_text(step.role)}) · {md_text(step.where)}"
    else:
        head = md_text(step.where)
    lines = [f"- [ ] {step.number}. **{head}**: {md_text(step.action)}"]
    if step.command and step.kind != "verify":
        lines.append(f"  Type: {md_code(step.command)}")
    if step.kind == "verify":
        if step.expect:
            lines.append("  Each node must then show: " + " | ".join(
                md_text(e) for e in step.expect) + ".")
        when = (f" ({_PART_HEADINGS[step.phase].lower()})"
                if plan.phase == "pre" and step.phase in _PART_HEADINGS else "")
        lines.append(f"  Run the verify command{when} below.")
    if step.note is not None:
        if step.note in noted:
            lines.append(f"  (See note {step.note}.)")
        else:
            noted.add(step.note)
            lines.append(f"  Note {step.note}: {md_text(plan.notes[step.note - 1])}")
    return lines


def _item_lines(index: int, item: Any, plan: Any, noted: set[int]) -> list[str]:
    nodes = ", ".join(md_text(n) for n in item.nodes)
    lines = [f"**Playbook {index}: {md_text(item.title)}** ({nodes}) `{item.playbook}`", "",
             f"Why: {'; '.join(md_text(b) for b in item.because)}.", "",
             f"When to use: {md_text(item.when_to_use)}", ""]
    for step in (*item.steps, item.verify):
        lines += _step_line(step, plan, noted)
    return [*lines, ""]


def _per_node(plan: Any) -> list[str]:
    per = [f"{md_text(host)}: steps {', '.join(map(str, numbers))}"
           for host, numbers in plan.per_node.items() if numbers]
    return ["Per node: " + "; ".join(per) + ".", ""] if per else []


def plan_markdown(plan: Any) -> list[str]:
    """The remediation plan: a checklist per playbook (a pre-upgrade plan: the part before
    the upgrade, then the part after it), each note once, the verify command as a code
    block; then optional improvements, the alternatives with when to use them, and the
    consequential findings."""
    lines: list[str] = []
    noted: set[int] = set()
    if not plan.items:
        lines += ["No remediation needed.", ""]
    else:
        lines += _per_node(plan)
    index = 0
    parts = ((("before-upgrade", _PART_HEADINGS["before-upgrade"], plan.verify_command),
              ("after-upgrade", _PART_HEADINGS["after-upgrade"], plan.verify_after))
             if plan.phase == "pre" else (("after-upgrade", "", plan.verify_command),))
    for part, heading, command in parts:
        items = plan.part(part)
        if not items:
            continue
        if heading:
            lines += [f"**{heading}**", ""]
        for item in items:
            index += 1
            lines += _item_lines(index, item, plan, noted)
        lines += [f"Verify command{' (' + heading.lower() + ')' if heading else ''}:", "",
                  *_code_block(command), ""]
    if plan.improvements:
        lines += ["**Optional improvements** (nothing requires them):", ""]
        for imp in plan.improvements:
            nodes = ", ".join(md_text(n) for n in imp.nodes)
            lines.append(f"- {md_text(imp.title)} `{imp.playbook}` ({nodes}) — when to use: "
                         f"{md_text(imp.when_to_use)}")
        lines.append("")
    if plan.alternatives:
        lines += ["**Alternatives** (when the recommended playbook does not fit):", ""]
        for alt in plan.alternatives:
            instead = (f" Instead of: {'; '.join(md_text(t) for t in alt.instead_of)}."
                       if alt.instead_of else "")
            lines.append(f"- {md_text(alt.title)} `{alt.playbook}` — when to use: "
                         f"{md_text(alt.when_to_use)}{instead}")
        lines.append("")
    if plan.consequences:
        lines += ["**Follows from another finding** (fixing the cause fixes it):", ""]
        for note in plan.consequences:
            fixed = (f"; fixed by: {'; '.join(md_text(t) for t in note.fixed_by)}"
                     if note.fixed_by else "")
            lines.append(f"- {md_text(note.title)} ({md_text(note.node)}): caused by "
                         f"{'; '.join(md_text(c) for c in note.causes)}{fixed}")
    return lines
