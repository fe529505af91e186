"""``uccx-audit rules test DIR``: one-file rule cases. A good case passes, a wrong one fails
with its file and line and says expected and got, a broken case file is a one-line error
(exit 2), a site tests its own rule with its own policy, and the built-in one-file cases
run through the same code path."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import invoke
from rule_cases import ONE_FILE, OneFileCase, one_file_cases

from auditor.evaluate.ruleset import load_ruleset
from auditor.pipeline.rule_cases import run_case

RULES = load_ruleset()

EXPIRED = """\
about: the publisher's tomcat expired ten days ago
rules: [certificate-expired]
nodes:
  uccx-pub: {defect: expired}
expect:
  findings:
    - certificate-expired uccx-pub tomcat
  gadgets:
    uccx-pub: {finesse_desktop: broken}
"""

#: a site rule: the publisher's tomcat must be signed by a CA
SITE_RULE = """\
id: site-publisher-tomcat-self-signed
title: The publisher's tomcat is self-signed, which this site forbids
description: Our policy is that every tomcat certificate is signed by our CA.
severity: warning
scope: node
applies_to:
  phases: [pre, post]
  roles: [uccx-publisher]
when: {fact: node.tomcat.state, equals: self_signed}
effects: {}
message: "{node.host} presents a self-signed tomcat."
citations:
  - {source: Site policy CERT-7}
remediation: [renew-certificate]
"""


def case_folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_good_case_passes(tmp_path: Path) -> None:
    done = invoke("rules", "test", case_folder(tmp_path, expired=EXPIRED))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASS ") and "1 passed, 0 failed" in done.stderr


@pytest.mark.parametrize(("wrong", "line", "field", "expected", "got"), [
    ("    - certificate-expired uccx-pub tomcat\n", 7, "expect.findings[0]",
     "finding certificate-expired uccx-sub tomcat", "no such finding"),
    ("    uccx-pub: {finesse_desktop: broken}\n", 9, "expect.gadgets.uccx-pub.finesse_desktop",
     "expected works", "got broken"),
])
def test_a_wrong_case_fails_with_its_file_line_expected_and_got(
        tmp_path: Path, wrong: str, line: int, field: str, expected: str, got: str) -> None:
    right = {"    - certificate-expired uccx-pub tomcat\n":
             "    - certificate-expired uccx-sub tomcat\n",
             "    uccx-pub: {finesse_desktop: broken}\n":
             "    uccx-pub: {finesse_desktop: works}\n"}[wrong]
    folder = case_folder(tmp_path, wrong=EXPIRED.replace(wrong, right))
    done = invoke("rules", "test", folder)
    assert done.returncode == 1, done.stdout + done.stderr
    failure = next(x for x in done.stdout.splitlines() if field + ":" in x)
    assert failure.startswith(f"FAIL {folder / 'wrong.yaml'}:{line}: {field}: ")
    assert expected in failure and got in failure


def test_an_unexpected_finding_fails_the_case(tmp_path: Path) -> None:
    """The findings are a set: one more than the case lists fails it."""
    text = EXPIRED.replace("rules: [certificate-expired]\n", "")
    done = invoke("rules", "test", case_folder(tmp_path, extra=text))
    assert done.returncode == 1
    assert ":5: expect.findings: expected no other finding; got also " \
           "ca-signed-certificate-not-accepted uccx-pub cuic, " \
           "ca-signed-certificate-not-accepted uccx-pub finesse" in done.stdout


@pytest.mark.parametrize(("text", "line", "field"), [
    (EXPIRED.replace("    - certificate-expired uccx-pub tomcat",
                     "    - no-such-rule uccx-pub tomcat"), 7, "expect.findings[0]"),
    (EXPIRED.replace("{defect: expired}", "{defect: rotten}"), 4, "nodes.uccx-pub.defect"),
    (EXPIRED.replace("rules: [certificate-expired]", "rules: [nothing-like-it]"), 2,
     "rules[0]"),
    (EXPIRED + "  surprise: 1\n", 10, "expect.surprise"),
    (EXPIRED.replace("nodes:\n", "nodes:\n  cuic1: {tomcat: self_signed}\n"), 4,
     "nodes.cuic1.role"),
])
def test_a_broken_case_file_is_a_one_line_error(tmp_path: Path, text: str, line: int,
                                                field: str) -> None:
    folder = case_folder(tmp_path, broken=text)
    done = invoke("rules", "test", folder)
    assert done.returncode == 2, done.stdout + done.stderr
    [said] = done.stderr.strip().splitlines()
    assert f"broken.yaml:{line}" in said and field in said, said


def test_a_folder_without_cases_is_an_error(tmp_path: Path) -> None:
    done = invoke("rules", "test", tmp_path)
    assert done.returncode == 2 and "no rule case" in done.stderr


def test_a_site_tests_its_own_rule_with_its_own_policy(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "playbooks").mkdir(parents=True)
    (site / "site-publisher-tomcat-self-signed.yaml").write_text(SITE_RULE, encoding="utf-8")
    (site / "overrides.yaml").write_text(
        "overrides:\n  - rule: site-publisher-tomcat-self-signed\n    severity: error\n"
        "    reason: audit finding 2026-14\n", encoding="utf-8")
    case_folder(site, fires="""\
rules: [site-publisher-tomcat-self-signed]
every_node: {tomcat: self_signed}
expect:
  verdict: no_go
  findings:
    - site-publisher-tomcat-self-signed uccx-pub node
""", passes="""\
rules: [site-publisher-tomcat-self-signed]
expect:
  findings: []
""")
    done = invoke("rules", "test", site)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS ") == 2
    # the site's policy made it an error: without it, the verdict the case expects fails
    (site / "overrides.yaml").unlink()
    done = invoke("rules", "test", site)
    assert done.returncode == 1 and "expect.verdict: expected no_go; got " in done.stdout


@pytest.mark.parametrize("case", one_file_cases(), ids=lambda c: c.id)
def test_built_in_one_file_case(case: OneFileCase) -> None:
    result = run_case(case.path, RULES)
    assert result.passed, "\n".join(result.lines())


@pytest.mark.parametrize("case", one_file_cases(), ids=lambda c: c.id)
def test_built_in_one_file_case_fires_or_passes_its_rule(case: OneFileCase) -> None:
    from auditor.common.validation import load_yaml

    data, _ = load_yaml(case.path)
    fired = {text.split()[0] for text in data["expect"]["findings"]}
    assert (case.rule_id in fired) == (case.kind == "fires"), case.id


def test_the_built_in_cases_pass_through_the_command_line() -> None:
    done = invoke("rules", "test", ONE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(one_file_cases())} passed, 0 failed" in done.stderr
