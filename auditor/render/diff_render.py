"""The diff as a terminal table, HTML or Markdown."""

from __future__ import annotations

from auditor.evaluate.gadgets import GADGET_TITLES, OUTCOME_WORDS
from auditor.model.facts import state_words
from auditor.model.verdicts import VERDICT_WORDS
from auditor.render.context import ReportMeta
from auditor.render.diff import AuditDiff
from auditor.render.markdown import md_escape
from auditor.render.tables import tabulate

DIFF_FORMATS = ("table", "html", "md")


def diff_summary(diff: AuditDiff) -> str:
    """One sentence for the banner and the ticket."""
    parts = [f"{len(diff.fixed)} finding{'' if len(diff.fixed) == 1 else 's'} fixed",
             f"{len(diff.came_true)} prediction{'' if len(diff.came_true) == 1 else 's'} "
             "came true",
             f"{len(diff.new)} new",
             f"{len(diff.certificates)} certificate change"
             f"{'' if len(diff.certificates) == 1 else 's'}",
             f"{len(diff.outcomes)} gadget outcome{'' if len(diff.outcomes) == 1 else 's'} "
             "changed"]
    return ", ".join(parts) + "."


def _outcome(value: str | None) -> str:
    return OUTCOME_WORDS.get(value, "—") if value else "—"


def diff_table(diff: AuditDiff) -> str:
    lines = [f"Before: {VERDICT_WORDS[diff.before.verdict]} ({diff.before.phase}, "
             f"{diff.before.observed_at})  ->  after: {VERDICT_WORDS[diff.after.verdict]} "
             f"({diff.after.phase}, {diff.after.observed_at})", diff_summary(diff), ""]
    lines += [f"WARNING: {w}" for w in diff.warnings]
    if diff.outcomes:
        lines.append(tabulate([[o.node, GADGET_TITLES.get(o.gadget, o.gadget),
                                _outcome(o.before), _outcome(o.after)] for o in diff.outcomes],
                              headers=["node", "gadget", "before", "after"]))
        lines.append("")
    if diff.certificates:
        lines.append(tabulate([[c.node, c.certificate, c.change,
                                state_words(c.before_state or "-"),
                                state_words(c.after_state or "-"),
                                (c.after_leaf or "")[:16]] for c in diff.certificates],
                              headers=["node", "certificate", "change", "before", "after",
                                       "new leaf"]))
        lines.append("")
    for title, refs in (("Came true", diff.came_true), ("Fixed", diff.fixed),
                        ("New", diff.new)):
        lines.append(f"{title}: " + ("none" if not refs else ""))
        lines += [f"  {r.severity:<8} {r.rule_id}  [{r.node} {r.subject}]" for r in refs]
    return "\n".join(lines) + "\n"


def diff_markdown(diff: AuditDiff) -> str:
    lines = [f"**What changed: {VERDICT_WORDS[diff.before.verdict].upper()} → "
             f"{VERDICT_WORDS[diff.after.verdict].upper()}**", "", diff_summary(diff), ""]
    lines += [f"**Warning:** {md_escape(w)}" for w in diff.warnings]
    if diff.warnings:
        lines.append("")
    if diff.outcomes:
        lines += ["| Node | Gadget | Before | After |", "|---|---|---|---|"]
        lines += [f"| {md_escape(o.node)} | {GADGET_TITLES.get(o.gadget, o.gadget)} | "
                  f"{_outcome(o.before)} | {_outcome(o.after)} |" for o in diff.outcomes]
        lines.append("")
    if diff.certificates:
        lines += ["| Node | Certificate | Change | Before | After |", "|---|---|---|---|---|"]
        lines += [f"| {md_escape(c.node)} | {c.certificate} | {c.change} | "
                  f"{state_words(c.before_state or '-')} | {state_words(c.after_state or '-')} |"
                  for c in diff.certificates]
        lines.append("")
    for title, refs in (("Came true", diff.came_true), ("Fixed", diff.fixed),
                        ("New", diff.new)):
        lines.append(f"{title}: " + ("none." if not refs else ""))
        lines += [f"- {r.severity} `{r.rule_id}` on {md_escape(r.node)}" for r in refs]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def diff_html(diff: AuditDiff, meta: ReportMeta | None = None) -> str:
    from auditor.render.formats import environment

    return environment().get_template("diff.html.j2").render(
        diff=diff, meta=meta or ReportMeta(), summary=diff_summary(diff),
        verdict_words=VERDICT_WORDS, gadget_titles=GADGET_TITLES, outcome_words=OUTCOME_WORDS)


def render_diff(diff: AuditDiff, fmt: str, meta: ReportMeta | None = None) -> str:
    if fmt == "table":
        return diff_table(diff)
    if fmt == "md":
        return diff_markdown(diff)
    if fmt == "html":
        return diff_html(diff, meta)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(DIFF_FORMATS)}")
