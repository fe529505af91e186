"""Structured finding subjects: one dataclass, its old string form only for text and for
reading audits of schema 3, and no code that takes a subject string apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.model.audit import load_audit
from auditor.model.findings import NODE, FindingRef, Subject

ROOT = Path(__file__).resolve().parent.parent
V3 = ROOT / "fixtures" / "audits-v3"


@pytest.mark.parametrize("subject, text", [
    (NODE, "node"),
    (Subject("endpoint", "finesse"), "finesse"),
    (Subject("certificate", "1a2b3c4d5e6f7a8b", "tomcat_ecdsa"), "tomcat_ecdsa:1a2b3c4d5e6f7a8b"),
])
def test_the_text_of_a_subject_is_the_string_reports_always_showed(subject: Subject,
                                                                    text: str) -> None:
    assert subject.text == text
    assert Subject.from_text(text) == subject


def test_every_subject_of_a_schema_3_audit_reads_back_as_the_string_it_was() -> None:
    import json

    for path in sorted(V3.glob("*.json")):
        raw = json.loads(path.read_text())
        audit = load_audit(path)
        assert [f.subject.text for f in audit.findings] == [f["subject"]
                                                            for f in raw["findings"]]
        looked = [c for c in raw["checks"] if c["result"] != "not_applicable"]
        assert [c.subject.text for c in audit.checks if c.subject is not None] == [
            c["subject"] for c in looked]
        causes = [c for f in raw["findings"] for c in f.get("caused_by", ())]
        assert [f"{c.rule_id} {c.subject.text}" for f in audit.findings
                for c in f.caused_by] == causes


def test_a_cause_names_the_rule_and_the_subject() -> None:
    ref = FindingRef.from_text("certificate-expired tomcat:0123456789abcdef")
    assert ref == FindingRef("certificate-expired", Subject("certificate", "0123456789abcdef",
                                                            "tomcat"))


#: What taking a subject string apart looks like: splitting, slicing on ':', comparing the
#: whole string with a literal, or looking for ':' in it.
_PARSES = [re.compile(p) for p in (
    r"subject\)?\.(split|rsplit|partition|rpartition|startswith|endswith|removeprefix)\(",
    r"['\"]:['\"]\s+(not\s+)?in\s+[\w.\[\]'\"]*subject\b",
    r"\bsubject\s*[!=]=\s*['\"]",
    r"\bsubject\b\s*\}\"",  # an f-string ending in a subject, as "rule-id subject" keys were
)]


def test_no_code_outside_the_migration_parses_a_subject_string() -> None:
    """Only ``Subject.from_text`` / ``FindingRef.from_text`` (reading schema-3 audits) turn a
    string into a subject; the rest of the package and the templates use its fields."""
    allowed = ROOT / "auditor" / "model" / "findings.py"
    files = [p for p in sorted((ROOT / "auditor").rglob("*.py")) if p != allowed]
    files += sorted((ROOT / "reports" / "templates").glob("*.j2"))
    offending = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in files
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if any(p.search(line) for p in _PARSES)]
    assert offending == []


def test_the_parse_check_catches_what_the_package_used_to_do() -> None:
    """The patterns above find each way main took subjects apart before this change."""
    old = ['return finding.rule_id, finding.node, finding.subject.split(":", 1)[0]',
           '_, _, short = finding.subject.partition(":")',
           'elif ":" in finding.subject:',
           'if finding.subject == "node":',
           'causes.append(f"{other.rule_id} {other.subject}")',
           'by_key = {f"{f.rule_id} {f.subject}": f for f in audit.findings}']
    assert all(any(p.search(line) for p in _PARSES) for line in old)
