"""The diff as a terminal table, HTML, Markdown or JSON."""

from __future__ import annotations

import json

from auditor.common.serde import to_jsonable
from auditor.common.textsafe import terminal, visible
from auditor.evaluate.gadgets import GADGET_TITLES, OUTCOME_WORDS
from auditor.model.facts import state_words
from auditor.model.verdicts import VERDICT_WORDS
from auditor.render.context import ReportMeta
from auditor.render.diff import AuditDiff
from auditor.render.markdown import md_escape
from auditor.render.tables import tabulate

DIFF_FORMATS = ("table", "html", "md", "json")

#: What "no longer checked" means, wherever it is shown.
NOT_A_FIX = ("the after audit did not check these, so they are NOT evidence of a fix: "
             "look at each before closing the change")


def diff_summary(diff: AuditDiff) -> str:
    """One sentence for the banner and the ticket."""
    parts = [f"{len(diff.fixed)} finding{'' if len(diff.fixed) == 1 else 's'} fixed",
             f"{len(diff.came_true)} prediction{'' if len(diff.came_true) == 1 else 's'} "
             "came true",
             f"{len(diff.new)} new",
             *([f"{len(diff.no_longer_checked)} no longer checked (not evidence of a fix)"]
               if diff.no_longer_checked else []),
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
             f"({diff.after.phase}, {diff.after.observed_at})", diff_summary(diff),
             f"Scope before: {visible(diff.before.scope)}",
             f"Scope after: {visible(diff.after.scope)}", ""]
    lines += [f"WARNING: {w}" for w in diff.warnings]
    if diff.outcomes:
        lines.append(tabulate([[visible(o.node), GADGET_TITLES.get(o.gadget, o.gadget),
                                _outcome(o.before), _outcome(o.after)] for o in diff.outcomes],
                              headers=["node", "gadget", "before", "after"]))
        lines.append("")
    if diff.certificates:
        lines.append(tabulate([[visible(c.node), c.certificate, c.change,
                                state_words(c.before_state or "-"),
                                state_words(c.after_state or "-"),
                                (c.after_leaf or "")[:16]] for c in diff.certificates],
                              headers=["node", "certificate", "change", "before", "after",
                                       "new leaf"]))
        lines.append("")
    for title, refs in (("Came true", diff.came_true), ("Fixed", diff.fixed),
                        ("New", diff.new)):
        lines.append(f"{title}: " + ("none" if not refs else ""))
        lines += [f"  {r.severity:<8} {r.rule_id}  [{visible(r.node)} {visible(r.subject.text)}]"
                  for r in refs]
    if diff.no_longer_checked:
        lines.append(f"No longer checked: {NOT_A_FIX}")
        lines += [f"  {r.severity:<8} {r.rule_id}  [{visible(r.node)} "
                  f"{visible(r.subject.text)}]  {visible(r.why)}"
                  for r in diff.no_longer_checked]
    return "\n".join(lines) + "\n"


def diff_markdown(diff: AuditDiff) -> str:
    lines = [f"**What changed: {VERDICT_WORDS[diff.before.verdict].upper()} → "
             f"{VERDICT_WORDS[diff.after.verdict].upper()}**", "", diff_summary(diff), "",
             f"Scope before: {md_escape(diff.before.scope)}", "",
             f"Scope after: {md_escape(diff.after.scope)}", ""]
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
    if diff.no_longer_checked:
        lines += [f"**No longer checked:** {NOT_A_FIX}.", ""]
        lines += [f"- {r.severity} `{r.rule_id}` on {md_escape(r.node)} "
                  f"({md_escape(r.subject.text)}): {md_escape(r.why)}"
                  for r in diff.no_longer_checked]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def diff_html(diff: AuditDiff, meta: ReportMeta | None = None) -> str:
    from auditor.render.formats import environment

    return environment().get_template("diff.html.j2").render(
        diff=diff, meta=meta or ReportMeta(), summary=diff_summary(diff), not_a_fix=NOT_A_FIX,
        verdict_words=VERDICT_WORDS, gadget_titles=GADGET_TITLES, outcome_words=OUTCOME_WORDS)


def diff_json(diff: AuditDiff) -> str:
    """The diff as data: every list, each finding's subject as an object, sorted keys."""
    data = to_jsonable(diff)
    data["summary"] = diff_summary(diff)
    data["no_longer_checked_means"] = NOT_A_FIX
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def render_diff(diff: AuditDiff, fmt: str, meta: ReportMeta | None = None) -> str:
    if fmt == "table":  # for the terminal: nothing from the files may move the cursor
        return terminal(diff_table(diff))
    if fmt == "md":
        return diff_markdown(diff)
    if fmt == "html":
        return diff_html(diff, meta)
    if fmt == "json":
        return diff_json(diff)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(DIFF_FORMATS)}")
