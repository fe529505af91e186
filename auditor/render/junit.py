"""JUnit XML: one test case per rule per node that the rule looked at (the engine's
checks), a failure for each error finding, so CI systems show an audit like a test run. A
rule that could not see one of its endpoints (``not_seen``) is skipped, never a pass: the
message names the host, the port and why."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from auditor.common.textsafe import visible
from auditor.model.audit import Audit
from auditor.model.cluster import role_family
from auditor.model.findings import Finding, RuleCheck
from auditor.model.scope import Scope, not_checked, scope_line, scope_of
from auditor.model.solution import current
from auditor.render.audit_text import verdict_line
from auditor.render.context import ReportMeta


def _rules_for(audit: Audit, role: str, host: str) -> list[tuple[str, str]]:
    """(rule id, title) of every rule that had something of this node to look at: the
    engine's checks say which (passed, failed or not seen); audits written before them,
    the rules in force for the node's role."""
    if audit.checks:
        titles = {r.id: r.title for r in audit.rule_set.catalogue}
        looked = dict.fromkeys(c.rule_id for c in audit.checks
                               if c.node == host and c.result != "not_applicable")
        return sorted((rule_id, titles.get(rule_id, rule_id)) for rule_id in looked)
    if audit.rule_set.catalogue:
        return [(r.id, r.title) for r in audit.rule_set.catalogue if role in r.roles]
    # an audit written before the catalogue was recorded: the rules it names
    seen: dict[str, str] = {}
    for finding in audit.findings:
        seen.setdefault(finding.rule_id, finding.title)
    for node in audit.nodes:
        if node.role == role:
            for result in node.gadgets.values():
                for rule in result.rules:
                    seen.setdefault(rule, rule)
    return sorted(seen.items())


def _not_seen(audit: Audit, host: str, service: str) -> str:
    """Where and why the audit did not see one endpoint: ``live_data on HOST port 12015:
    no TLS handshake completed (refused: ...)``."""
    node = audit.facts.node(host)
    endpoint = node.endpoint(service) if node else None
    if endpoint is None:
        family = role_family(node.role) if node else ""
        port = current().port_of(family, service) if family else None
        return (f"{service} on {host} port {port if port is not None else '?'}: "
                "not probed")
    where = f"{service} on {host} port {endpoint.port}"
    if endpoint.reachable:
        # pre phase: the endpoint answered, but the prediction for after the change had
        # no certificate to go on (e.g. no RSA-only handshake once ECDSA ends)
        return (f"{where}: the prediction for after the change has no certificate "
                "(the handshake it is predicted from did not complete)")
    error = endpoint.error
    return (f"{where}: no TLS handshake completed"
            + (f" ({error.kind}: {error.detail})" if error else ""))


def _unseen_case(audit: Audit, host: str, checks: list[RuleCheck]) -> tuple[str, str]:
    """A skipped case's message (the endpoints not seen) and text (also what passed)."""
    unseen = [c.subject for c in checks if c.result == "not_seen" and c.subject]
    services = [s.key for s in unseen if s.scope == "endpoint"]
    states = []
    if any(s.scope != "endpoint" for s in unseen):
        # a node (or certificate) subject: the rule's condition needs an endpoint of the
        # node reached, or a certificate state the audit does not know; name those
        node = audit.facts.node(host)
        services += [e.service for e in (node.endpoints if node else ())
                     if not e.reachable and e.service not in services]
        result = next((n for n in audit.nodes if n.host == host), None)
        states = [f"how {host}'s {title} is signed is unknown" for title, state in (
            ("tomcat", result.tomcat if result else ""),
            ("tomcat-ECDSA", result.tomcat_ecdsa if result else "")) if state == "unknown"]
    message = "not seen, so not checked: " + ("; ".join(
        [*(_not_seen(audit, host, service) for service in services), *states])
        or f"an endpoint of {host} that the rule needs was not reached")
    passed = [c.subject.text for c in checks if c.result == "passed" and c.subject]
    return message, message + (f"\npassed on: {', '.join(passed)}" if passed else "")


def _text(findings: Iterable[Finding]) -> str:
    return "\n\n".join(f"[{f.severity}] {f.subject.text}: {f.message}"
                       + (f"\nremediation: {', '.join(f.remediation)}" if f.remediation else "")
                       for f in findings)


def _node_scopes(audit: Audit) -> dict[str, Scope]:
    """Each node's part of the audit's scope: its endpoints and its trust store. A suite
    says its own node's scope, not the whole cluster's again (on a fleet that repeated the
    line of every endpoint in every node's suite)."""
    scope = audit.scope if audit.scope is not None else scope_of(audit.facts)
    parts: dict[str, Scope] = {}
    for endpoint in scope.endpoints:
        part = parts.setdefault(endpoint.node, Scope(derived=scope.derived))
        parts[endpoint.node] = Scope((*part.endpoints, endpoint), part.server_trust,
                                     scope.derived)
    for trust in scope.server_trust:
        part = parts.setdefault(trust.node, Scope(derived=scope.derived))
        parts[trust.node] = Scope(part.endpoints, (*part.server_trust, trust), scope.derived)
    return parts


def render_junit(audit: Audit, meta: ReportMeta) -> str:
    """The audit as JUnit XML (testsuites > testsuite per node > testcase per rule)."""
    root = ET.Element("testsuites", name=f"uccx-audit {audit.cluster} ({audit.phase})")
    total = failures = errors_total = skipped_total = 0
    by_rule: dict[tuple[str, str], list[RuleCheck]] = {}
    overridden = {o.rule: (p, o) for p in audit.site_policy for o in p.overrides}
    scopes = _node_scopes(audit)
    for check in audit.checks:
        by_rule.setdefault((check.node, check.rule_id), []).append(check)
    for node in audit.nodes:
        suite = ET.SubElement(root, "testsuite", name=f"{audit.cluster} / {node.host}",
                              hostname=node.host, timestamp=audit.facts.observed_at)
        properties = ET.SubElement(suite, "properties")
        scope = scopes.get(node.host, Scope())
        for name, value in (("role", node.role), ("phase", audit.phase),
                            ("target_version", audit.target_version),
                            ("verdict", audit.verdict),
                            # the terminal's verdict line: says "offline" for an audit
                            # that probed no endpoint
                            ("verdict line", verdict_line(audit)),
                            ("ticket", meta.ticket or ""),
                            ("rule_set_sha256", audit.rule_set.sha256),
                            ("scope", visible(scope_line(scope))),
                            *(("not checked", visible(item)) for item in not_checked(scope))):
            ET.SubElement(properties, "property", name=name, value=value)
        for policy, override in overridden.values():
            ET.SubElement(properties, "property", name=f"site policy: {override.rule}",
                          value=f"{override.statement} ({policy.path}, sha256 "
                          f"{policy.sha256})")
        mine = [f for f in audit.findings if f.node == node.host]
        waived = [a for a in audit.accepted_risks if a.finding.node == node.host]
        rules = _rules_for(audit, node.role, node.host)
        known = {rule_id for rule_id, _ in rules}
        rules += sorted({(f.rule_id, f.title) for f in
                         [*mine, *(a.finding for a in waived)] if f.rule_id not in known})
        suite_failures = suite_skipped = 0
        for rule_id, _title in rules:
            case = ET.SubElement(suite, "testcase", name=rule_id,
                                 classname=f"uccx-audit.{node.host}", time="0")
            hits = [f for f in mine if f.rule_id == rule_id]
            errors = [f for f in hits if f.severity == "error"]
            if errors:
                failure = ET.SubElement(case, "failure", type="error",
                                        message=errors[0].title)
                failure.text = _text(errors)
                suite_failures += 1
            accepted = [a for a in waived if a.finding.rule_id == rule_id]
            checks = by_rule.get((node.host, rule_id), [])
            policy = overridden.get(rule_id)
            if policy is not None and policy[1].disabled and not errors:
                ET.SubElement(case, "skipped", message=f"disabled by site policy: "
                              f"{policy[1].reason}").text = policy[0].heading
                suite_skipped += 1
            elif not errors and not accepted and any(c.result == "not_seen" for c in checks):
                message, text = _unseen_case(audit, node.host, checks)
                ET.SubElement(case, "skipped", message=message).text = text
                suite_skipped += 1
            if accepted and not errors:
                waiver = accepted[0].waiver
                skipped = ET.SubElement(case, "skipped", message=(
                    f"accepted risk: {waiver.reason} (approved by {waiver.approved_by}, "
                    f"ticket {waiver.ticket}, expires {waiver.expires})"))
                skipped.text = _text(a.finding for a in accepted)
                suite_skipped += 1
            others = [f for f in hits if f.severity != "error"]
            said = ([f"site policy: {policy[1].statement}"]
                    if policy is not None and not policy[1].disabled else [])
            if others or said:
                ET.SubElement(case, "system-out").text = "\n\n".join(
                    [*said, *([_text(others)] if others else [])])
        suite_errors = 0
        for unknown in (u for u in audit.unknowns if u.node == node.host):
            # what the audit did not see is never a pass
            case = ET.SubElement(suite, "testcase", name=f"gadget:{unknown.gadget}",
                                 classname=f"uccx-audit.{node.host}", time="0")
            error = ET.SubElement(case, "error", type="unknown",
                                  message=f"{unknown.gadget} not seen: "
                                  + " ".join(unknown.settle))
            error.text = "\n\n".join([*unknown.reasons, *unknown.settle])
            suite_errors += 1
        suite.set("tests", str(len(rules) + suite_errors))
        suite.set("failures", str(suite_failures))
        suite.set("errors", str(suite_errors))
        suite.set("skipped", str(suite_skipped))
        total += len(rules) + suite_errors
        failures += suite_failures
        errors_total += suite_errors
        skipped_total += suite_skipped
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors_total))
    root.set("skipped", str(skipped_total))
    for element in root.iter():
        # XML 1.0 forbids most C0 controls even as character references: shown escaped
        if element.text is not None:
            element.text = visible(element.text, multiline=True)
        for name, value in element.attrib.items():
            element.set(name, visible(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
