"""check-cert's text: the upload checks, the rules' findings, what agents will get."""

from __future__ import annotations

from auditor.evaluate.gadgets import GADGET_TITLES, OUTCOME_WORDS
from auditor.model.findings import Finding, GadgetResult

#: rules about reaching a port (auditor.pipeline.check_cert.REACH_RULES)
REACH_RULES = ("endpoint-unreachable", "endpoint-not-probed")
MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
#: A finding's severity as check-cert marks it: the rule's severity decides, nothing else.
SEVERITY_MARKS = {"error": "FAIL", "warning": "WARN", "notice": "NOTE"}
#: Rules about reaching a port: a declared certificate is not reached. On a port that then
#: presents the other certificate (UCCX and an RSA-signed tomcat-ECDSA), they stand for
#: "this depends on a certificate check-cert does not see".
REACH_RULES = ("endpoint-unreachable", "endpoint-not-probed")


def check_cert_text(title: str, checks: tuple, findings: tuple[Finding, ...],
                    gadgets: tuple[tuple[str, GadgetResult], ...], tomcat_trust: tuple[str, ...],
                    *, socialminer: bool, ok: bool) -> str:
    lines = [title]
    lines += [f"  {MARKS[c.status]}  {c.name:<9} {c.message}" for c in checks]
    lines += [f"  {SEVERITY_MARKS[f.severity]}  {f.message} (rule {f.rule_id})"
              for f in findings]
    if tomcat_trust:
        lines.append("\nUpload to tomcat-trust first" + (
            " on SocialMiner:" if socialminer
            else " (the publisher replicates it to the subscriber):"))
        lines += [f"  - {line}" for line in tomcat_trust]
    lines.append("\nExpected after the upload and the restart, on the endpoints that present it "
                 "(an audit judges the rest):")
    for gadget, result in gadgets:
        if result.outcome == "works":
            because = ""
        elif set(result.rules) <= set(REACH_RULES):
            because = (" (this port then presents the other certificate, which check-cert "
                       "does not see)")
        else:
            because = f" (rules: {', '.join(result.rules)})"
        lines.append(f"  {GADGET_TITLES[gadget]}: {OUTCOME_WORDS[result.outcome]}{because}")
    lines.append(f"\n{'OK: it will work' if ok else 'NOT OK: do not upload it as it is'}")
    return "\n".join(lines) + "\n"
