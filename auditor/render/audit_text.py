"""The audit for a terminal: verdict, each node's gadgets, then the findings (tabulate)."""

from __future__ import annotations

import shutil
import sys
import textwrap

from auditor.common.textsafe import visible
from auditor.evaluate.gadgets import (
    ALL_GADGETS,
    GADGET_TITLES,
    OUTCOME_WORDS,
    ROLE_TITLES,
    narrow_titles,
    service_title,
)
from auditor.model.audit import Audit
from auditor.model.cluster import role_family
from auditor.model.facts import state_words
from auditor.model.findings import Finding
from auditor.model.plan import Plan, PlanStep
from auditor.model.scope import not_checked, scope_line, scope_of
from auditor.model.solution import current
from auditor.model.verdicts import VERDICT_WORDS
from auditor.render.faq import rows_text
from auditor.render.provenance import ORIGIN_LEGEND, offline_words, state_origin
from auditor.render.tables import tabulate


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def cluster_line(audit: Audit) -> str:
    """The first line of the heading: which cluster, which phase, the change date."""
    if audit.phase == "pre":
        when = (f"before the change: {audit.current_version} now, "
                f"{audit.target_version} after it")
    else:
        when = f"after the change: {audit.current_version}"
    # a field from a file is one line: its own newlines are shown, never made
    return f"Cluster {visible(audit.cluster)}, {when}; change date {audit.change_date}"


def verdict_line(audit: Audit) -> str:
    """The verdict line (what ``--quiet`` prints): the verdict and the finding counts."""
    counts = ", ".join(_plural(audit.summary.get(s, 0), s)
                       for s in ("error", "warning", "notice"))
    if audit.accepted_risks:
        counts += f"; {_plural(len(audit.accepted_risks), 'accepted risk')}"
    offline = offline_words(audit)
    return (f"Verdict: {VERDICT_WORDS[audit.verdict].upper()} ({counts})"
            + (f" [{offline}]" if offline else ""))


def scope_text(audit: Audit) -> str:
    """The scope line (what was judged, whether the servers' trust stores were read), then
    each thing not checked with what would check it, indented."""
    scope = audit.scope if audit.scope is not None else scope_of(audit.facts)
    lines = [visible(scope_line(scope))]
    lines += [f"  not checked: {visible(item)}" for item in not_checked(scope)]
    return "\n".join(lines)


def heading(audit: Audit) -> str:
    """The cluster line, the verdict line and the scope under it."""
    return f"{cluster_line(audit)}\n{verdict_line(audit)}\n{scope_text(audit)}"


def _state(now: str, later: str | None, origin: str | None = None) -> str:
    text = state_words(now) + (f" ({origin})" if origin else "")
    return f"{text} -> {state_words(later)}" if later and later != now else text


def terminal_width(stream: object = None) -> int | None:
    """The width of the terminal ``stream`` (standard output by default) shows; None when
    it goes to a file or a pipe (then nothing is wrapped: scripts get one line a node)."""

    isatty = getattr(stream if stream is not None else sys.stdout, "isatty", None)
    if isatty is None or not isatty():
        return None
    return shutil.get_terminal_size().columns


#: The narrow layout's headers: the words it may wrap between.
#: Between two columns of a plain tabulate table.
_GAP = 2


def _widest(text: str) -> int:
    return max(map(len, text.splitlines()), default=0)


def gadget_table(audit: Audit, fmt: str = "simple", width: int | None = None) -> str:
    """One row per node: its certificate states and each gadget's outcome. Given a
    ``width`` the plain table does not fit in, the cells wrap by column (the node's role
    under its name); where even that does not fit, each node is a block of its own. A host
    name is never split: it is always whole on one line."""
    rows = []
    for node in audit.nodes:
        predicted = node.predicted
        rows.append([
            visible(node.host), ROLE_TITLES[node.role],
            _state(node.tomcat, predicted.tomcat if predicted else None,
                   state_origin(audit, node.host, "tomcat")),
            _state(node.tomcat_ecdsa, predicted.tomcat_ecdsa if predicted else None,
                   state_origin(audit, node.host, "tomcat_ecdsa")),
            *[OUTCOME_WORDS[node.gadgets[g].outcome] if g in node.gadgets else "-"
              for g in ALL_GADGETS]])
    titles = ["tomcat", "tomcat-ECDSA", *[GADGET_TITLES[g] for g in ALL_GADGETS]]
    # a host name such as 1e5 is text, not a number to reformat
    table = tabulate(rows, headers=["node", "role", *titles], tablefmt=fmt,
                     disable_numparse=True)
    if width is None or fmt != "simple" or not rows or _widest(table) <= width:
        return table
    narrow = _narrow_table(rows, width)
    return narrow if narrow is not None else _node_blocks(rows, titles, width)


def _words(text: str) -> list[str]:
    return text.split() or [""]


def _narrow_table(rows: list[list[str]], width: int) -> str | None:
    """The grid wrapped by column to fit ``width``: the node's role under its whole name,
    each other column as narrow as its longest word (which is never cut) and as wide as
    the width left allows. None when even that does not fit."""
    headers = ["node", "tomcat", "tomcat-ECDSA", *[narrow_titles()[g] for g in ALL_GADGETS]]
    columns = [[(host, f"({role})") for host, role, *_ in rows],
               *[[(cell,) for cell in column]
                 for column in zip(*(r[2:] for r in rows), strict=True)]]
    # the node column holds each name whole; any other holds at least its longest word
    least = [max(max(len(host), *map(len, role.split())) for host, role in columns[0])]
    least += [max(len(word) for text in (header, *(c[0] for c in column))
                  for word in _words(text))
              for header, column in zip(headers[1:], columns[1:], strict=True)]
    most = [max(len(text) for text in (header, *(part for cells in column for part in cells)))
            for header, column in zip(headers, columns, strict=True)]
    room = width - _GAP * (len(headers) - 1)
    if sum(least) > room:
        return None
    given, spare = list(least), room - sum(least)
    # the width left: first to the columns it unwraps whole, the cheapest first
    for i in sorted(range(len(given)), key=lambda i: most[i] - given[i]):
        if most[i] - given[i] <= spare:
            spare -= most[i] - given[i]
            given[i] = most[i]
    for i in range(len(given)):  # then in order, to those still wrapping
        more = min(spare, most[i] - given[i])
        given[i] += more
        spare -= more

    def wrap(text: str, at: int) -> str:
        return "\n".join(textwrap.wrap(text, width=at, break_on_hyphens=False,
                                       break_long_words=False)) or text

    cells = [[wrap(h, at) for h, at in zip(headers, given, strict=True)]]
    cells += [[host + "\n" + wrap(f"({role})", given[0]),
               *[wrap(cell, at) for cell, at in zip(rest, given[1:], strict=True)]]
              for host, role, *rest in rows]
    # the rule under the headers drawn here: tabulate's headers keep two spaces of their own
    shown = [max(_widest(row[i]) for row in cells) for i in range(len(headers))]
    cells.insert(1, ["-" * w for w in shown])
    return tabulate(cells, tablefmt="plain", disable_numparse=True)


def _node_blocks(rows: list[list[str]], titles: list[str], width: int) -> str:
    """One block per node: its name (whole, on a line of its own when the role does not fit
    beside it), then a line per certificate and gadget (those of its role only); in a very
    narrow terminal each value goes under its title."""
    label_width = max(map(len, titles)) + 2
    beside = width - 2 - label_width >= 12
    value_width = width - 2 - label_width if beside else max(8, width - 4)
    blocks = []
    for host, role, *cells in rows:
        named = f"{host} ({role})"
        lines = [named] if len(named) <= width else [host, f"  ({role})"]
        for title, cell in zip(titles, cells, strict=True):
            if cell == "-":  # a gadget the node's role does not serve
                continue
            wrapped = textwrap.wrap(cell, width=value_width, break_on_hyphens=False) or [cell]
            if beside:
                lines.append(f"  {title.ljust(label_width)}{wrapped[0]}")
                lines += [" " * (2 + label_width) + more for more in wrapped[1:]]
            else:
                lines += [f"  {title}", *("    " + more for more in wrapped)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


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


def finding_place(audit: Audit, finding: Finding) -> str:
    """Where on its node a finding fired: the endpoint (``port 8444 (CUIC)``), the
    certificate and the ports that presented it, or "" for the node itself."""
    node = audit.facts.node(finding.node)
    role = node.role if node is not None else ""
    subject = finding.subject
    if subject.scope == "endpoint":
        endpoint = node.endpoint(subject.key) if node is not None else None
        family = role_family(role) if role else None
        port = endpoint.port if endpoint is not None else (
            current().port_of(family, subject.key) if family in current().families else None)
        title = service_title(role, subject.key) if role else subject.key
        return f"port {port} ({visible(title)})"
    if subject.scope == "certificate":
        ports = [f"{e.port} ({visible(service_title(role, e.service))})"
                 for e in (node.endpoints if node is not None else ())
                 if any(h.chain and h.chain[0].startswith(subject.key) for h in e.handshakes)]
        shown = f", presented on port {', '.join(ports)}" if ports else ""
        return f"{subject.kind} certificate {visible(subject.key)}{shown}"
    return ""


def _where(audit: Audit, finding: Finding) -> str:
    place = finding_place(audit, finding)
    return f"{visible(finding.node)}: {place}" if place else visible(finding.node)


def deciding_text(audit: Audit, width: int = 100) -> str:
    """Each gadget that does not work, then the findings that decide it: the rule and the
    endpoint (port and service) or certificate it fired on; a finding on a node of another
    family counts where the gadget needs that node's endpoint (chat/email and UCCX 443).
    Empty when every gadget works."""
    roles = {n.host: n.role for n in audit.nodes}
    lines = []
    for node in audit.nodes:
        for gadget, result in node.gadgets.items():
            if result.outcome == "works" or not result.rules:
                continue
            family = current().gadgets[gadget].family if gadget in current().gadgets else None
            deciding = [f for f in audit.findings
                        if f.rule_id in result.rules and f.gadgets.get(gadget) == result.outcome
                        and (f.node == node.host or (f.node in roles and family is not None
                                                     and role_family(roles[f.node]) != family))]
            if not deciding:
                continue
            lines.append(f"  {visible(node.host)} {GADGET_TITLES.get(gadget, gadget)}: "
                         f"{OUTCOME_WORDS[result.outcome]}")
            lines += [textwrap.fill(f"{f.rule_id} on {_where(audit, f)}", width=width,
                                    initial_indent=" " * 4, subsequent_indent=" " * 6,
                                    break_on_hyphens=False) for f in deciding]
    if not lines:
        return ""
    return "\n".join(["Decided by (rule, and the endpoint or certificate it fired on):",
                      *lines])


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
    return "\n\n".join((heading(audit), audit_body(audit)))


def site_policy_text(audit: Audit) -> str:
    """The site policies that changed what the rules give: each file, then each override
    with its reason (empty when there is none)."""
    lines = []
    for policy in audit.site_policy:
        lines.append(f"Site policy: {visible(policy.path)} (sha256 {policy.sha256})")
        lines += [f"  - {visible(o.statement)}" for o in policy.overrides]
    return "\n".join(lines)


def faq_text(audit: Audit, width: int | None = None) -> str:
    """Under the grid: what its origin words mean, the FAQ row the cluster fits and each
    reported row's note (row 1: 200651 disagrees); wrapped to ``width`` where one is given
    (a file or a pipe gets one line each)."""
    lines = [visible(line) for line in (f"({ORIGIN_LEGEND})",
                                        *rows_text(audit.nodes, predicted=audit.phase == "pre"))]
    if width is None:
        return "\n".join(lines)
    return "\n".join(textwrap.fill(line, max(width, 40), break_on_hyphens=False,
                                   subsequent_indent="  ") for line in lines)


def audit_body(audit: Audit, width: int | None = None) -> str:
    """What follows the heading: the grid (``width``: of the terminal, default standard
    output's), what was not seen, the site policy, the findings."""
    width = width if width is not None else terminal_width()
    parts = [gadget_table(audit, width=width),
             faq_text(audit, width), unknowns_text(audit), site_policy_text(audit),
             "Findings",
             findings_text(audit)]
    return "\n\n".join(p for p in parts if p)


def _plan_step_lines(step: PlanStep, plan: Plan, noted: set[int], width: int) -> list[str]:
    """A step as a checklist entry, wrapped to ``width``; its command on a line of its own,
    never wrapped (it is copied as is); its note in full once, by number afterwards."""
    if step.kind == "verify":
        head = f"verify on {step.where}"
    elif step.node:
        head = f"{step.node} ({step.role}) · {step.where}"
    else:
        head = step.where
    text = f"[ ] {step.number}. {head}: {step.action}"
    if step.expect:
        text += " Each node must then show: " + " | ".join(step.expect) + "."
    lines = textwrap.wrap(visible(text), width=width, initial_indent="  ",
                          subsequent_indent="      ", break_on_hyphens=False)
    if step.command and step.kind != "verify":
        lines.append("      $ " + visible(step.command))
    if step.note is not None:
        words = (f"(see note {step.note})" if step.note in noted
                 else f"note {step.note}: {plan.notes[step.note - 1]}")
        noted.add(step.note)
        lines += textwrap.wrap(visible(words), width=width, initial_indent="      ",
                               subsequent_indent="      ", break_on_hyphens=False)
    return lines


def plan_text(audit: Audit, width: int | None = None) -> str:
    """The remediation plan as a terminal checklist (a pre-upgrade plan in two parts), the
    verify command of each part on a line of its own, then the optional improvements."""
    from auditor.evaluate.plan import plan_of

    plan = plan_of(audit)
    width = max(40, width or 100)
    noted: set[int] = set()
    lines: list[str] = []
    parts = ((("before-upgrade", "Plan, before the upgrade", plan.verify_command),
              ("after-upgrade", "Plan, after the upgrade", plan.verify_after))
             if plan.phase == "pre" else (("after-upgrade", "Plan", plan.verify_command),))
    for part, heading, command in parts:
        items = plan.part(part)
        if not items:
            continue
        lines.append(heading)
        for item in items:
            lines.append(visible(f" {item.title} ({item.playbook})"))
            for step in (*item.steps, item.verify):
                lines += _plan_step_lines(step, plan, noted, width)
        lines += ["  verify command:", "      " + visible(command), ""]
    if plan.improvements:
        lines.append("Optional improvements (nothing requires them):")
        for imp in plan.improvements:
            lines += textwrap.wrap(visible(f"- {imp.title} ({imp.playbook}) on "
                                           f"{', '.join(imp.nodes)}"), width=width,
                                   subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines).rstrip("\n")
