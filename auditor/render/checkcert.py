"""check-cert's text: the upload checks, the rules' findings, what agents will get, and
the outcome in one line."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.evaluate.gadgets import GADGET_TITLES, OUTCOME_WORDS
from auditor.model.findings import Finding, GadgetResult
from auditor.model.solution import current

MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "UNKNOWN"}
#: A finding's severity as check-cert marks it: the rule's severity decides, nothing else.
SEVERITY_MARKS = {"error": "FAIL", "warning": "WARN", "notice": "NOTE"}
#: Rules about reaching a port: a declared certificate is not reached. On a port that then
#: presents the other certificate (UCCX and an RSA-signed tomcat-ECDSA), they stand for
#: "this depends on a certificate check-cert does not see".
REACH_RULES = ("endpoint-unreachable", "endpoint-not-probed")
#: The outcome's words, by the audit's verdict for the same judgement.
OUTCOME_LINES = {
    "go": "OK to upload",
    "go_with_actions": "OK with warnings: it will work; read the warnings above",
    "no_go": "NOT OK: do not upload it as it is",
    "inconclusive": "cannot tell: do not upload it until what is unknown above is known",
}
#: The option that gives check-cert the node's certificate of each purpose.
OTHER_OPTIONS = {"tomcat": "--tomcat", "tomcat-ECDSA": "--tomcat-ecdsa"}


def _trust_where(role: str) -> str:
    """Where the CA certificates go, from the map: on the role that replicates its
    tomcat-trust to this one, else on this role's node."""
    roles = current().roles
    source = next((r for r in roles.values() if r.replicates_trust_to == role), None)
    if source is not None:
        return (f" on the {source.title} (it replicates it to the "
                f"{roles[role].title})")
    here = roles[role]
    if here.replicates_trust_to is not None:
        return (f" on the {here.title} (it replicates it to the "
                f"{roles[here.replicates_trust_to].title})")
    return f" on the {here.title}"


def check_cert_text(title: str, checks: tuple, findings: tuple[Finding, ...],
                    gadgets: tuple[tuple[str, GadgetResult], ...], tomcat_trust: tuple[str, ...],
                    *, role: str, outcome: str, other: str = "",
                    wants_other: Sequence[str] = ()) -> str:
    """The text; its last line is the outcome (``outcome``: the verdict it equals).
    ``other``: the purpose of the node's other certificate, which the gadgets in
    ``wants_other`` depend on and check-cert was not given."""
    lines = [title]
    lines += [f"  {MARKS[c.status]:<4}  {c.name:<9} {c.message}" for c in checks]
    lines += [f"  {SEVERITY_MARKS[f.severity]}  {f.message} (rule {f.rule_id})"
              for f in findings]
    if tomcat_trust:
        lines.append(f"\nUpload to tomcat-trust first{_trust_where(role)}:")
        lines += [f"  - {line}" for line in tomcat_trust]
    if not gadgets:
        lines.append("\nNo agent gadget needs a port that presents it on this role.")
    else:
        lines.append("\nExpected after the upload and the restart, on this node (an audit "
                     "judges the other nodes):")
    for gadget, result in gadgets:
        if result.outcome == "works":
            because = ""
        elif gadget in wants_other:
            because = (f" (it also depends on the node's {other} certificate, which was not "
                       f"given: add it with {OTHER_OPTIONS.get(other, '')} FILE)")
        else:
            because = f" (rules: {', '.join(result.rules)})"
        lines.append(f"  {GADGET_TITLES[gadget]}: {OUTCOME_WORDS[result.outcome]}{because}")
    lines.append(f"\n{OUTCOME_LINES[outcome]}")
    return "\n".join(lines) + "\n"
