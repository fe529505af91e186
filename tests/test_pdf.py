"""PDF on request: `audit --pdf` and `report --format pdf` print the HTML report with a
local Chromium; the verdict heads every page, pages are numbered, the plan follows the
verdict on pages 1-2, each certificate is printed once with its PEM (none with
`--no-pem`). Without a browser the other reports are written and one line says how to get
PDF."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from html import unescape
from pathlib import Path

import pytest

from auditor.evaluate.plan import build_plan
from auditor.lab import Lab
from auditor.model.audit import load_audit
from auditor.render.formats import css_string
from auditor.render.pdf import BROWSER_ENV, HINT, PdfUnavailable, find_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCENARIO = "row4-upgrade-trap"


def pdftotext(pdf: Path) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: install Debian poppler-utils (sh scripts/test-deps.sh)"
    return subprocess.run([tool, "-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def run_cli(args: list[str], env: dict[str, str], code: str | None = None,
            ) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code, *args] if code else [
        sys.executable, "-m", "auditor", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env,
                          stdin=subprocess.DEVNULL)


def audit_args(lab: Lab, out: Path) -> list[str]:
    return ["audit", "--inventory", str(lab.inventory_path), "--agent-trust",
            str(lab.agent_trust_path), "--phase", "post", "--out", str(out),
            "--ticket", "CHG0042", "--connect-timeout", "3", "--handshake-timeout", "3"]


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, Path, Path]:
    """One `audit --pdf` of the row-4 lab, with HOME and TMPDIR of its own."""
    base = tmp_path_factory.mktemp("pdf")
    home, temp = base / "home", base / "tmp"
    home.mkdir()
    temp.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(temp)}
    with Lab(SCENARIO) as lab:
        done = run_cli([*audit_args(lab, base / "out"), "--pdf"], env)
    return base / "out", done, home, temp


def test_audit_pdf_carries_the_verdict_every_node_and_the_first_step(printed) -> None:
    out, done, _, _ = printed
    assert done.returncode == 1, done.stderr  # the row-4 trap is a no-go, PDF or not
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    text = pdftotext(out / "report.pdf")
    audit = load_audit(out / "audit.json")
    assert audit.verdict == "no_go"
    assert "Verdict: NO-GO" in text
    for node in audit.facts.nodes:
        assert node.host in text, node.host
    first = build_plan(audit).items[0].steps[0]
    assert flat(first.action) in flat(text)
    assert "CHG0042" in text


def test_every_page_has_the_verdict_in_its_header_and_a_page_number(printed) -> None:
    out, _, _, _ = printed
    pages = [p for p in pdftotext(out / "report.pdf").split("\f") if p.strip()]
    assert len(pages) > 1
    for number, page in enumerate(pages, 1):
        head = "\n".join(page.strip().splitlines()[:2])
        assert "Verdict: NO-GO" in head, (number, head)
        assert "lab-row4-upgrade-trap" in head, (number, head)
        assert re.search(rf"page {number} of {len(pages)}\s*$", page.strip()), number


PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def pem_fingerprints(text: str) -> Counter[str]:
    """How often each certificate's PEM block is printed, by SHA-256 fingerprint."""
    return Counter(hashlib.sha256(base64.b64decode("".join(body.split()))).hexdigest()
                   for body in PEM.findall(text))


def sent_fingerprints(out: Path) -> set[str]:
    """Every certificate an endpoint sent, by fingerprint (from the audit's facts)."""
    audit = load_audit(out / "audit.json")
    return {fp for node in audit.facts.nodes for ep in node.endpoints
            for hs in ep.handshakes if hs.ok for fp in hs.chain}


def page_text(pdf: Path, first: int, last: int) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: install Debian poppler-utils (sh scripts/test-deps.sh)"
    return subprocess.run([tool, "-f", str(first), "-l", str(last), str(pdf), "-"],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def squeezed(text: str) -> str:
    """Text without the white space and hyphens a printed line break adds or removes."""
    return re.sub(r"[\s\u00ad-]", "", text)


def section_pieces(html: str, section: str) -> list[str]:
    """The text pieces of one ``<section id=...>`` of the HTML report (it holds no other
    section), in order."""
    body = html[html.index(f'<section id="{section}"'):]
    body = body[body.index(">") + 1:body.index("</section>")]
    return [unescape(piece) for piece in re.split(r"<[^>]*>", body) if piece.strip()]


@pytest.fixture(scope="module")
def demo_pdfs(tmp_path_factory) -> tuple[Path, Path]:
    """The row-4 demo with --pdf, and again with --pdf --no-pem."""
    base = tmp_path_factory.mktemp("demo-pdf")
    for name, extra in (("pem", []), ("no-pem", ["--no-pem"])):
        done = run_cli(["demo", "--scenario", SCENARIO, "--out", str(base / name), "--pdf",
                        "-q", *extra], dict(os.environ))
        assert done.returncode == 0, done.stderr
        assert (base / name / "report.pdf").is_file(), done.stderr
    return base / "pem", base / "no-pem"


def test_the_row4_demo_pdf_leads_with_the_verdict_and_has_the_plan_on_pages_1_and_2(
        demo_pdfs) -> None:
    out, _ = demo_pdfs
    pdf = out / "report.pdf"
    first = page_text(pdf, 1, 1)
    assert "Remediation plan" in first, "the plan does not start on page 1"
    assert first.index("Verdict: NO-GO") < first.index("Remediation plan")
    # each page's running header and footer are not the plan's
    header = re.compile(r"^(UCCX certificate audit · .*|Verdict: NO-GO|uccx-audit \S+ · .*|"
                        r"page \d+ of \d+)$")
    kept = "\n".join(line for line in page_text(pdf, 1, 2).splitlines()
                     if not header.match(line.strip()))
    text = squeezed(kept)
    pieces = section_pieces((out / "report.html").read_text(), "plan")
    assert len(pieces) > 10
    at = 0
    for piece in pieces:  # every piece of the plan, in order, on pages 1 and 2
        found = text.find(squeezed(piece), at)
        assert found >= 0, piece
        at = found + len(squeezed(piece))
    assert "Remediation plan" not in page_text(pdf, 3, 3)


def test_the_row4_demo_pdf_prints_each_certificate_once(demo_pdfs) -> None:
    out, _ = demo_pdfs
    printed = pem_fingerprints(pdftotext(out / "report.pdf"))
    assert set(printed) == sent_fingerprints(out)
    assert all(count == 1 for count in printed.values()), printed
    html = (out / "report.html").read_text()
    assert pem_fingerprints(html) == printed  # the PDF is the HTML report, printed
    assert "<script" not in html and "default-src 'none'" in html


def test_no_pem_leaves_every_pem_block_out_and_keeps_the_fingerprints(demo_pdfs) -> None:
    _, out = demo_pdfs
    text = pdftotext(out / "report.pdf")
    assert "BEGIN CERTIFICATE" not in text
    assert "BEGIN CERTIFICATE" not in (out / "report.html").read_text()
    for fp in sent_fingerprints(out):
        assert fp in squeezed(text), fp
    assert "Verdict: NO-GO" in text


def test_printing_leaves_nothing_in_home_or_the_temp_folder(printed) -> None:
    _, _, home, temp = printed
    assert list(home.iterdir()) == []
    assert list(temp.iterdir()) == []


def test_without_a_browser_the_other_reports_are_written_and_one_line_says_how(
        tmp_path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != BROWSER_ENV}
    env["PATH"] = str(empty)
    # the engine is hidden: nothing on PATH, no install location
    hide = ("import sys, auditor.render.pdf as pdf; pdf.install_locations = lambda env=None: []; "
            "sys.argv = ['uccx-audit', *sys.argv[1:]]; from auditor.cli.app import main; main()")
    with Lab(SCENARIO) as lab:
        done = run_cli([*audit_args(lab, tmp_path / "out"), "--pdf"], env, code=hide)
    assert done.returncode == 1, done.stderr  # unchanged: the verdict's exit code
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["audit.json", "facts.json", "junit.xml", "manifest.json", "report.html",
                     "report.md"]
    hints = [line for line in done.stderr.splitlines() if "PDF" in line]
    assert hints == [HINT]
    assert BROWSER_ENV in HINT
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "report.pdf" not in manifest["files"]


def test_a_browser_variable_that_names_no_executable_is_reported(tmp_path) -> None:
    missing = tmp_path / "no-such-browser"
    with pytest.raises(PdfUnavailable, match=BROWSER_ENV):
        find_browser({BROWSER_ENV: str(missing), "PATH": ""})


def test_report_format_pdf_prints_an_audit_json(printed, tmp_path) -> None:
    out, _, _, _ = printed
    pdf = tmp_path / "again.pdf"
    done = run_cli(["report", str(out / "audit.json"), "--format", "pdf", "--out", str(pdf),
                    "--ticket", "CHG7"], dict(os.environ))
    assert done.returncode == 1, done.stderr
    text = pdftotext(pdf)
    assert "Verdict: NO-GO" in text and "CHG7" in text
    refused = run_cli(["report", str(out / "audit.json"), "--format", "pdf"],
                      dict(os.environ))
    assert refused.returncode == 2 and "--out" in refused.stderr


def test_header_text_cannot_leave_its_css_string() -> None:
    hostile = 'east"; } </style><script>alert(1)</script>\n\\'
    escaped = str(css_string(hostile))
    assert not set(escaped) & set('"\'<>;{}\n/')
    assert escaped.startswith("east\\000022 ")
