"""Where each fact came from, whether the audit probed the network at all, and the notes of
the FAQ rows a report names: the same in the terminal, Markdown, HTML (so the PDF) and
JUnit, not in HTML only."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from audits import audit_facts
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.model.audit import Audit
from auditor.model.facts import load_facts, state_words
from auditor.model.solution import current
from auditor.render.audit_text import audit_body, gadget_table, verdict_line
from auditor.render.context import ReportMeta
from auditor.render.faq import node_rows
from auditor.render.formats import render_html
from auditor.render.junit import render_junit
from auditor.render.markdown import render_markdown

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
META = ReportMeta()
#: How each kind of recorded state is rewritten, and the word every grid must show for it.
KINDS = {
    "network": lambda s: replace(s, source="observed", installed_from=None),
    "VOS CLI": lambda s: replace(s, source="installed", installed_from="vos_cli"),
    "PEM folder": lambda s: replace(s, source="installed", installed_from="pem:downloads/x"),
    "declared": lambda s: replace(s, source="declared", leaf=None),
}


def _audit(name: str, phase: str = "post") -> Audit:
    return audit_facts(load_facts(FACTS / f"{name}.json"), phase)


def _terminal_row(audit: Audit, host: str) -> str:
    table = gadget_table(audit, width=None)
    return next(line for line in table.splitlines() if line.startswith(host + " "))


def _markdown_cells(audit: Audit, host: str) -> list[str]:
    text = render_markdown(audit, META)
    row = next(line for line in text.splitlines() if line.startswith(f"| {host} |"))
    return [c.strip() for c in row.strip("|").split(" | ")]


@pytest.mark.parametrize("name, host, which, word", [
    ("row1-self-signed", "uccx-pub.lab.uccx.example", "tomcat", "network"),
    ("row3-cli-trust-complete", "uccx-pub.lab.uccx.example", "tomcat", "VOS CLI"),
    ("row3-offline-socialminer-without-tomcat-ecdsa", "uccx-pub.lab.uccx.example", "tomcat",
     "PEM folder"),
    ("row2-uccx-declared-rsa-signed-tomcat-ecdsa", "uccx-pub.lab.uccx.example",
     "tomcat_ecdsa", "declared"),
])
def test_each_recorded_source_shows_in_the_terminal_grid_and_in_markdown(
        name: str, host: str, which: str, word: str) -> None:
    audit = _audit(name)
    node = next(n for n in audit.nodes if n.host == host)
    shown = f"{state_words(getattr(node, which))} ({word})"
    assert shown in _terminal_row(audit, host)
    cells = _markdown_cells(audit, host)
    assert cells[1 if which == "tomcat" else 2].startswith(shown), cells


@settings(max_examples=30, deadline=None)
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=6, max_size=6))
def test_every_state_shows_where_it_came_from(kinds: list[str]) -> None:
    """Any mix of sources over the nodes and both certificates: each grid cell names its
    own, in the terminal and in Markdown."""
    facts = load_facts(FACTS / "row3-ec-signed-ecdsa.json")
    draws = iter(kinds)
    expected = {}
    nodes = []
    for node in facts.nodes:
        changed = {}
        for which in ("tomcat", "tomcat_ecdsa"):
            kind = next(draws)
            changed[which] = KINDS[kind](getattr(node, which))
            expected[(node.host, which)] = kind
        nodes.append(replace(node, **changed))
    audit = audit_facts(replace(facts, nodes=tuple(nodes)), "post")
    for node in audit.nodes:
        row = _terminal_row(audit, node.host)
        cells = _markdown_cells(audit, node.host)
        for column, which in ((1, "tomcat"), (2, "tomcat_ecdsa")):
            word = expected[(node.host, which)]
            shown = f"{state_words(getattr(node, which))} ({word})"
            assert shown in row, (row, which, word)
            assert cells[column].startswith(shown), (cells, which, word)


def _verdict_lines(audit: Audit) -> dict[str, str]:
    """The verdict line of each format."""
    markdown = render_markdown(audit, META).splitlines()[0]
    html = render_html(audit, META)
    heading = re.search(r"<h1>Verdict:.*?</h1>", html, re.S)
    page = re.search(r"@top-right \{ content: \"Verdict:[^\"]*\"", html)
    assert heading and page
    junit = ET.fromstring(render_junit(audit, META))
    lines = {p.get("value") for p in junit.iter("property") if p.get("name") == "verdict line"}
    assert len(lines) == 1
    return {"terminal": verdict_line(audit), "markdown": markdown, "html": heading.group(0),
            "pdf page header": page.group(0), "junit": lines.pop()}


@pytest.mark.parametrize("name", ["row3-offline-socialminer-without-tomcat-ecdsa",
                                  "keystore-bad-signature", "keystore-bad-tomcat-signature"])
def test_an_offline_audit_says_offline_in_its_verdict_line_in_every_format(name: str) -> None:
    audit = _audit(name)
    assert audit.facts.source == "declared"  # the JSON's field: facts.source
    lines = _verdict_lines(audit)
    assert {fmt: line for fmt, line in lines.items() if "offline" not in line} == {}


@pytest.mark.parametrize("name", ["row1-self-signed", "row3-cli-trust-complete"])
def test_an_audit_that_probed_never_says_offline(name: str) -> None:
    lines = _verdict_lines(_audit(name))
    assert {fmt: line for fmt, line in lines.items() if "offline" in line} == {}


def _row_note(number: int) -> str:
    note = next(r.note for r in current().faq if r.number == number)
    assert note
    return note


def test_a_row_1_audit_reports_200651s_conflict_in_markdown_and_the_terminal() -> None:
    audit = _audit("row1-self-signed")
    note = _row_note(1)
    assert "200651" in note
    markdown = " ".join(render_markdown(audit, META).split())
    terminal = " ".join(audit_body(audit, width=72).split())
    assert note.replace("-", "\\-") in markdown or note in markdown
    assert note in terminal
    assert "row 1" in terminal and "row 1" in markdown


def test_a_rows_note_shows_wherever_the_row_is_reported() -> None:
    """Over every recorded cluster: a row's note (row 1: 200651; row 4: CSCvb46250
    inferred) is in the terminal, Markdown and HTML exactly when the cluster or one of its
    nodes fits that row."""
    wrong = []
    reported_somewhere = set()
    for path in sorted(FACTS.glob("*.json")):
        phase = "pre" if path.stem.startswith("pre-upgrade") else "post"
        try:
            audit = audit_facts(load_facts(path), phase)
        except InputError:  # running a newer release than the pre phase predicts to
            audit = audit_facts(load_facts(path), "post")
        markdown = " ".join(render_markdown(audit, META).replace("\\", "").split())
        terminal = " ".join(audit_body(audit, width=None).split())
        html = " ".join(render_html(audit, META).split())
        for row in current().faq:
            if not row.note:
                continue
            reported = any(row.number in node_rows(n) for n in audit.nodes)
            if reported:
                reported_somewhere.add(row.number)
            note = " ".join(row.note.split())
            shown = (note in terminal, note in markdown, note in html)
            if shown != (reported,) * 3:
                wrong.append((path.stem, row.number, shown))
    assert 1 in reported_somewhere
    assert wrong == []
