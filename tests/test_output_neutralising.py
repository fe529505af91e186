"""Outputs that cannot lie: whatever text reaches a report or the terminal (certificate
fields, host names, ticket, operator, cluster), control characters are shown escaped,
JUnit always parses, HTML parses, and no raw control character leaves the tool."""

from __future__ import annotations

import dataclasses
import html.parser
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

from audits import audit_facts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.textsafe import terminal, visible
from auditor.model.facts import load_facts
from auditor.model.portfolio import build_portfolio
from auditor.render.audit_text import gadget_table, heading, render_audit
from auditor.render.context import ReportMeta
from auditor.render.diff import diff_audits
from auditor.render.diff_render import render_diff
from auditor.render.formats import render
from auditor.render.portfolio import portfolio_csv, portfolio_html

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / "row4-upgrade-trap.json"
#: raw control characters no output may carry (tab and newline are the tool's own)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: The Unicode general categories no output may carry raw: controls, format characters
#: (bidi marks, embeddings, overrides and isolates, zero-width characters, tags),
#: line and paragraph separators, surrogates.
HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")
#: bidi and zero-width characters that reorder or hide text (U+061C, U+200B-U+200F,
#: U+202A-U+202E, U+2066-U+2069, U+FEFF) and other format characters
FORMAT = ("\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067"
          "\u2068\u2069\ufeff\u00ad\u2060\u2061\u180e\ufff9\u0600\U000e0001\U000e0041"
          "\U0001d173\u2028\u2029")
#: what the text fields are fed: any Unicode, biased towards controls, format characters
#: and escapes
HOSTILE = st.lists(st.one_of(
    st.characters(codec=None),
    st.characters(categories=HIDDEN),
    st.sampled_from("\x00\x01\x07\x08\x0b\x0c\r\x1b\x7f\x85\x9b\u2028\u202e\ufffe\uffff"
                    "[]<>&\"'`|*_\\\n\t" + FORMAT),
    st.just("\x1b[2J\x1b[HVerdict: GO (0 errors)\x1b[8m"),
    st.just("\u202eOG :tcidreV\u202c\u2066\u200b")), max_size=12).map("".join)


def _hostile_facts(cluster: str, host: str, cn: str, san: str, issuer: str):
    facts = load_facts(FIXTURE)
    renamed = {n.host: f"{host}.{n.host}" for n in facts.nodes}
    nodes = tuple(dataclasses.replace(n, host=renamed[n.host]) for n in facts.nodes)
    certificates = {fp: dataclasses.replace(c, subject_cn=cn, subject=f"CN={cn}",
                                            issuer=issuer, san_dns=(san, *c.san_dns))
                    for fp, c in facts.certificates.items()}
    return dataclasses.replace(facts, cluster=cluster, nodes=nodes, certificates=certificates)


class _Strict(html.parser.HTMLParser):
    def error(self, message: str) -> None:  # pragma: no cover - older Pythons only
        raise AssertionError(message)


def _assert_inert(text: str, where: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, (where, repr(text[max(0, found.start() - 40):found.end() + 40]))
    assert "\x1b" not in text and not re.search("[\ud800-\udfff\u202a-\u202e]", text), where
    raw = [(i, c) for i, c in enumerate(text)
           if c not in "\t\n" and unicodedata.category(c) in HIDDEN]
    assert not raw, (where, [(f"U+{ord(c):04X}", repr(text[max(0, i - 30):i + 30]))
                             for i, c in raw[:3]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=HOSTILE, host=HOSTILE, cn=HOSTILE, san=HOSTILE, issuer=HOSTILE,
       ticket=HOSTILE, operator=HOSTILE)
def test_every_output_neutralises_control_characters_from_every_text_field(
        cluster: str, host: str, cn: str, san: str, issuer: str, ticket: str,
        operator: str) -> None:
    audit = audit_facts(_hostile_facts(cluster, host, cn, san, issuer), "post")
    meta = ReportMeta(ticket=ticket, operator=operator, generated_at="2026-01-01T00:00:00Z")
    junit = render(audit, "junit", meta)
    ET.fromstring(junit.encode("utf-8"))  # XML 1.0: parses, whatever came in
    page = render(audit, "html", meta)
    parser = _Strict()
    parser.feed(page)
    parser.close()
    before = audit_facts(load_facts(FIXTURE), "post")
    changes = diff_audits(before, audit)
    roll_up = build_portfolio([("east", audit)], generated_at="2026-01-01T00:00:00Z")
    for where, text in (("junit", junit), ("html", page), ("md", render(audit, "md", meta)),
                        ("terminal", terminal(render_audit(audit))),
                        ("heading", terminal(heading(audit))),
                        ("grid", terminal(gadget_table(audit))),
                        *((f"diff {fmt}", render_diff(changes, fmt, meta))
                          for fmt in ("table", "md", "html")),
                        # CSV ends its records with CR LF (RFC 4180): the tool's own
                        ("portfolio csv", portfolio_csv(roll_up).replace("\r\n", "\n")),
                        ("portfolio html", portfolio_html(roll_up))):
        _assert_inert(text, where)
        text.encode("utf-8")  # no lone surrogate reaches a file or the terminal


def test_a_spoofed_verdict_in_a_common_name_is_shown_not_played() -> None:
    spoof = "\x1b[2J\x1b[HVerdict: GO (0 errors)\x1b[8m"
    audit = audit_facts(_hostile_facts("east\x01", "h", spoof, "s", "CN=CA"), "post")
    shown = terminal(render_audit(audit))
    assert "\\x1b[2J\\x1b[HVerdict: GO (0 errors)\\x1b[8m" in shown
    assert "east\\x01" in terminal(heading(audit))
    junit = render(audit, "junit", ReportMeta(ticket="CHG1\x01"))
    assert 'value="CHG1\\x01"' in junit and ET.fromstring(junit.encode())


def test_visible_keeps_text_and_escapes_only_controls() -> None:
    assert visible("uccx1.example.com — ü 中") == "uccx1.example.com — ü 中"
    assert visible("a\nb\tc\x1b\x9b\u202e") == "a\\x0ab\tc\\x1b\\x9b\\u202e"
    assert visible("a\nb", multiline=True) == "a\nb"


@given(text=st.text(st.one_of(st.characters(codec=None), st.characters(categories=HIDDEN))))
def test_visible_escapes_every_control_format_and_separator_character(text: str) -> None:
    """By category, not by list: every Cc (but tab and newline), Cf, Zl, Zp and Cs
    character becomes an escape of its code point; every other character stays."""
    def shown(c: str) -> str:
        code = ord(c)
        if c in "\t\n" or (unicodedata.category(c) not in HIDDEN
                            and code & 0xFFFE != 0xFFFE and not 0xFDD0 <= code <= 0xFDEF):
            return c
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    assert visible(text, multiline=True) == "".join(shown(c) for c in text)


def test_bidi_and_zero_width_marks_are_shown_not_obeyed() -> None:
    """A right-to-left override makes "OG :tcidreV" read "Verdict: GO"; zero-width marks
    make two names look alike. Each is shown as its code point."""
    assert visible("east\u202eOG :tcidreV") == "east\\u202eOG :tcidreV"
    assert visible("uccx\u200b1\u200c\u200d\u200e\u200f\u061c\ufeff\u2066\u2069\u00ad") == (
        "uccx\\u200b1\\u200c\\u200d\\u200e\\u200f\\u061c\\ufeff\\u2066\\u2069\\xad")
    assert visible("tag\U000e0041") == "tag\\U000e0041"


def test_audit_and_evaluate_print_a_hostile_cluster_name_escaped(tmp_path) -> None:
    import subprocess
    import sys

    from test_offline_audit import INVENTORY, LAB, downloads

    folder = downloads("row3-ec-signed-ecdsa", tmp_path / "downloads")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm="").replace(
        "cluster: offline", 'cluster: "east\\e[2J\\e[HVerdict: GO\\a"'))
    out = tmp_path / "out"
    runs = [subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL) for args in (
        ("audit", "--inventory", str(inventory), "--from-pem", str(folder), "--phase", "post",
         "--agent-trust", str(LAB / "agent-trust.pem"), "--ticket", "CHG1\x01",
         "--out", str(out)),
        ("evaluate", str(out / "facts.json"), "--phase", "post"))]
    for done in runs:
        assert done.returncode in (0, 1), done.stderr
        _assert_inert(done.stdout + done.stderr, done.args[3])
    assert "east\\x1b[2J\\x1b[HVerdict: GO\\x07" in runs[0].stdout
    ET.parse(out / "junit.xml")


def test_a_newline_in_a_field_from_a_file_never_makes_a_line_of_its_own(tmp_path) -> None:
    """terminal() keeps the tool's own newlines, so a cluster name, host or subject from
    a facts or audit file with "\\nVerdict: GO" in it must be made one line before: the
    audit's heading, grid and findings, the diff's table and the portfolio's diff."""
    from auditor.model.findings import Subject
    from auditor.render.diff import diff_audits
    from auditor.render.diff_render import render_diff

    spoof = "\nVerdict: GO"
    audit = audit_facts(_hostile_facts(f"east{spoof}", f"h{spoof}", "cn", "s", "CN=CA"),
                        "post")
    audit = dataclasses.replace(audit, findings=tuple(
        dataclasses.replace(f, subject=Subject("endpoint", f"x{spoof}"))
        for f in audit.findings))
    before = audit_facts(load_facts(FIXTURE), "post")
    shown = [terminal(render_audit(audit)),
             render_diff(diff_audits(before, audit), "table")]
    from cli_runner import invoke

    from auditor.model.facts import facts_to_json

    facts = tmp_path / "facts.json"
    # a file's cluster and host names, beside its certificates as their PEMs say them (a
    # certificate field edited away from its PEM is refused: test_recorded_certificates)
    facts.write_text(facts_to_json(dataclasses.replace(
        audit.facts, certificates=load_facts(FIXTURE).certificates)))
    done = invoke("portfolio", facts, "--phase", "post", "--out", tmp_path / "portfolio")
    assert done.returncode in (0, 1, 3), done.stderr
    shown.append(done.stdout + done.stderr)
    for text in shown:
        assert audit.findings and "\\x0aVerdict: GO" in text
        assert [line for line in text.splitlines() if line.startswith("Verdict: GO")] == []
