"""The audit for a terminal: verdict, each node's gadgets, then the findings (tabulate)."""

from __future__ import annotations

import textwrap

from auditor.common.textsafe import visible
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
    # a field from a file is one line: its own newlines are shown, never made
    return (f"Cluster {visible(audit.cluster)}, {when}; change date {audit.change_date}\n"
            f"Verdict: {VERDICT_WORDS[audit.verdict].upper()} ({counts})")


def _state(now: str, later: str | None) -> str:
    text = state_words(now)
    return f"{text} -> {state_words(later)}" if later and later != now else text


def terminal_width(stream: object = None) -> int | None:
    """The width of the terminal ``stream`` (standard output by default) shows; None when
    it goes to a file or a pipe (then nothing is wrapped: scripts get one line a node)."""
    import shutil
    import sys

    isatty = getattr(stream if stream is not None else sys.stdout, "isatty", None)
    if isatty is None or not isatty():
        return None
    return shutil.get_terminal_size().columns


#: The narrow layout's column widths (the node column takes what is left).
_NARROW = {"tomcat": 13, "tomcat-ECDSA": 13, "finesse_desktop": 9, "live_data": 9,
           "chat_email": 10, "socialminer_web": 11}
_NARROW_TITLES = {"finesse_desktop": "Finesse desktop", "live_data": "Live Data",
                  "chat_email": "chat/ email", "socialminer_web": "SocialMiner web"}


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width=width, break_on_hyphens=False)) or text


def _wrap_host(host: str, width: int) -> str:
    """A host name broken after its dots, a label longer than a line cut."""
    lines, line = [], ""
    for label in host.replace(".", ".\n").split("\n"):
        while len(label) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(label[:width])
            label = label[width:]
        if len(line) + len(label) > width:
            lines.append(line)
            line = ""
        line += label
    return "\n".join([*lines, line] if line else lines)


def gadget_table(audit: Audit, fmt: str = "simple", width: int | None = None) -> str:
    """One row per node: its certificate states and each gadget's outcome. Given a
    ``width`` the plain table does not fit in, the node's role goes under its name and the
    cells wrap."""
    rows = []
    for node in audit.nodes:
        predicted = node.predicted
        rows.append([
            visible(node.host), ROLE_TITLES[node.role],
            _state(node.tomcat, predicted.tomcat if predicted else None),
            _state(node.tomcat_ecdsa, predicted.tomcat_ecdsa if predicted else None),
            *[OUTCOME_WORDS[node.gadgets[g].outcome] if g in node.gadgets else "-"
              for g in ALL_GADGETS]])
    table = tabulate(rows, headers=["node", "role", "tomcat", "tomcat-ECDSA",
                                    *[GADGET_TITLES[g] for g in ALL_GADGETS]], tablefmt=fmt)
    if width is None or fmt != "simple" or max(map(len, table.splitlines())) <= width:
        return table
    widths = list(_NARROW.values())
    # tabulate keeps two spaces beside each header line: wrap headers narrower
    headers = ["\n".join(textwrap.wrap(h, width=w - 2, break_on_hyphens=False,
                                       break_long_words=False))
               for h, w in zip(["tomcat", "tomcat-ECDSA",
                                *[_NARROW_TITLES[g] for g in ALL_GADGETS]], widths, strict=True)]
    used = [max(w, *(len(line) + 2 for line in h.splitlines())) for h, w in zip(
        headers, widths, strict=True)]
    node_width = max(16, width - sum(used) - 2 * len(used))
    narrow = [[_wrap_host(host, node_width) + "\n" + _wrap(f"({role})", node_width),
               *[_wrap(cell, w) for cell, w in zip(rest, widths, strict=True)]]
              for host, role, *rest in rows]
    return tabulate(narrow, headers=["node", *headers], tablefmt=fmt)


def unknowns_text(audit: Audit, width: int = 100) -> str:
    """What the audit did not see, and how to see it (empty when it saw everything)."""
    if not audit.unknowns:
        return ""
    lines = ["Not seen (these gadgets are unknown; the audit cannot say GO):"]
    for item in audit.unknowns:
        lines.append(f"  {visible(item.node)} {GADGET_TITLES.get(item.gadget, item.gadget)}")
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
        head = f"{finding.severity.upper():<8} {finding.rule_id}  [{visible(finding.node)}"
        head += (f" {visible(finding.subject.text)}]" if finding.subject.scope != "node"
                 else "]")
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
    parts = [heading(audit), gadget_table(audit, width=terminal_width()),
             unknowns_text(audit), "Findings",
             findings_text(audit)]
    return "\n\n".join(p for p in parts if p)
