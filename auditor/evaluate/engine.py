"""The engine: a pure function of (rules, facts, settings) to findings and gadget outcomes.

Each rule is evaluated on every subject of its scope (node, endpoint, certificate) of every
node whose role, phase and version it applies to, and answers for each (a
:class:`RuleCheck`: not applicable, passed, failed, or not seen when it did not fire and
evidence its ``requires:`` names is missing; and the gadgets it checked). A rule
that fires gives one finding and its effect on each gadget that needs the subject. A
gadget's outcome is the worst effect given to it; it carries the rules that gave that
effect. A gadget no rule found a problem with ``works``, but only while the evidence its
judgement needs is there (see :func:`evaluate`); the rules that checked it are the checks
that name it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from auditor import __version__
from auditor.common.errors import InputError
from auditor.evaluate.conditions import lookup, render
from auditor.evaluate.gadgets import gadgets_of
from auditor.evaluate.plan import build_plan
from auditor.evaluate.projection import Settings
from auditor.evaluate.ruleset import Rule, RuleSet
from auditor.evaluate.view import (
    KNOWN_STATES,
    UNKNOWN,
    NodeView,
    blinds,
    build_views,
    evidence_seen,
    is_state,
)
from auditor.model.audit import (
    SCHEMA_VERSION,
    Audit,
    AuditPlaybook,
    Invocation,
    RuleBrief,
    RuleSetInfo,
)
from auditor.model.cluster import role_family
from auditor.model.facts import Facts
from auditor.model.findings import (
    NODE,
    OUTCOMES,
    SEVERITIES,
    Evaluation,
    Finding,
    FindingRef,
    GadgetResult,
    NodeResult,
    Outcome,
    PredictedStates,
    RuleCheck,
    RuleResult,
    Subject,
    Unknown,
)
from auditor.model.scope import scope_of
from auditor.model.solution import current
from auditor.model.verdicts import decide


@dataclass(frozen=True)
class _Subject:
    subject: Subject
    order: int
    view: Mapping[str, Any]
    gadgets: tuple[str, ...]
    predicted: bool


def _subjects(rule: Rule, node: NodeView, cluster: Mapping[str, Any]) -> Iterator[_Subject]:
    base = {"cluster": cluster, "node": node.node}
    if rule.scope == "node":
        yield _Subject(NODE, 0, base, gadgets_of(node.role), False)
    elif rule.scope == "endpoint":
        for order, endpoint in enumerate(node.endpoints):
            if rule.services is None or endpoint["service"] in rule.services:
                yield _Subject(Subject("endpoint", endpoint["service"]), order,
                               {**base, "endpoint": endpoint},
                               (*endpoint["gadgets"], *endpoint["remote_gadgets"]),
                               endpoint["predicted"])
    else:
        for order, cert in enumerate(node.certificates):
            if rule.services is not None and not set(cert["services"]) & set(rule.services):
                continue
            gadgets = tuple(dict.fromkeys(
                g for e in node.endpoints if e["browser"]["fingerprint"] == cert["fingerprint"]
                for g in (*e["gadgets"], *e["remote_gadgets"])))
            yield _Subject(Subject("certificate", cert["short_fingerprint"], cert["kind"]),
                           order, {**base, "certificate": cert}, gadgets, False)


def remedies_for(rule: Rule, rules: RuleSet, role: str,
                 view: Mapping[str, Any]) -> tuple[str, ...]:
    """The playbooks for one finding, best first: those for the node's role whose situation
    holds, by priority (ties keep the order the rule lists them in)."""
    fitting = [r for r in rule.remedies
               if role in rules.playbooks[r.playbook].roles
               and (r.condition is None or r.condition.holds(view))]
    ranked = sorted(enumerate(fitting), key=lambda item: (-item[1].rank(rules.playbooks),
                                                          item[0]))
    return tuple(dict.fromkeys(r.playbook for _, r in ranked))


def _certificate_of(view: Mapping[str, Any]) -> str | None:
    """The short fingerprint of the certificate a subject is about (or presents)."""
    if "certificate" in view:
        return str(view["certificate"]["fingerprint"])
    if "endpoint" in view:
        return (view["endpoint"].get("browser") or {}).get("fingerprint")
    return None


def _with_causes(found: list[tuple[Finding, Mapping[str, Any], Rule]]) -> list[Finding]:
    """A finding whose rule names a cause that fired on the same node (on the certificate
    it is about, where both are about one) points to it instead of naming playbooks."""
    out = []
    for finding, view, rule in found:
        causes = []
        for other, other_view, _ in found:
            if other.node != finding.node or other.rule_id not in rule.caused_by:
                continue
            mine, theirs = _certificate_of(view), _certificate_of(other_view)
            if mine is not None and theirs is not None and mine != theirs:
                continue
            causes.append(FindingRef(other.rule_id, other.subject))
        if causes:
            finding = replace(finding, remediation=(), caused_by=tuple(causes))
        out.append(finding)
    return out


def _rests_on_unknown(rule: Rule, view: Mapping[str, Any], states: list[str],
                      fired: bool) -> bool:
    """Would the rule answer otherwise if a certificate state it reads, and the facts do
    not know, were known? Each unknown state is tried as every state it could be."""
    unknown = [path for path in states if lookup(view, path) == UNKNOWN]
    if not unknown:
        return False
    for values in itertools.product(KNOWN_STATES, repeat=len(unknown)):
        if rule.condition.holds(_with(view, dict(zip(unknown, values, strict=True)))) != fired:
            return True
    return False


def _with(view: Mapping[str, Any], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """A copy of ``view`` with the fields at these paths replaced (the rest shared)."""
    out = dict(view)
    for path, value in values.items():
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[last] = value
    return out


def _not_looked(rule: Rule, host: str, affected: tuple[str, ...], policy: tuple[str, str],
                blind: dict[tuple[str, str], list[str]],
                settles: dict[tuple[str, str], list[tuple[str, str, str]]]) -> None:
    """A rule the site policy disables did not look: each gadget it would have judged
    worse than ``works`` lacks that judgement, and the policy is what would settle it."""
    path, reason = policy
    for gadget in affected:
        if rule.effects[gadget] == "works":
            continue
        blind.setdefault((host, gadget), []).append(rule.id)
        entry = (rule.id, f"rule {rule.id} is disabled by site policy ({reason})",
                 f"Enable {rule.id} again in {path}, or judge {host} by hand for what it "
                 "checks.")
        if entry not in settles.setdefault((host, gadget), []):
            settles[(host, gadget)].append(entry)


@dataclass(frozen=True)
class _Gaps:
    """The evidence a gadget's judgement needs and lacks: the endpoints it needs that gave
    no browser a certificate, and the rules that could not look."""

    endpoints: tuple[Mapping[str, Any], ...]
    rules: tuple[str, ...]
    host: str

    def __bool__(self) -> bool:
        return bool(self.endpoints or self.rules)

    @property
    def fallback(self) -> list[tuple[str, str, str]]:
        """Reasons when no finding on the node says what would settle it."""
        reasons = [f"port {e['port']} ({e['service']}) of {e.get('host', self.host)} gave no "
                   "browser a certificate" for e in self.endpoints]
        reasons += [f"rule {r} could not look at what it judges on {self.host}"
                    for r in self.rules]
        return [("", reason, f"Audit {self.host} again with every endpoint it serves "
                             "reached and its certificates' states known.")
                for reason in reasons]


def _judged_on(node: NodeView, gadget: str, nodes: tuple[NodeView, ...]) -> tuple[str, ...]:
    """The hosts whose gadget an effect on a subject of ``node`` reaches: the node itself
    for a gadget it serves, else every node that serves the gadget (an endpoint the gadget
    needs on the nodes of another family, e.g. UCCX 443 for the chat/email gadget)."""
    family = role_family(node.role)
    if current().gadgets[gadget].family == family:
        return (node.host,)
    return tuple(n.host for n in nodes if gadget in gadgets_of(n.role))


def _evidence_gaps(node: NodeView, gadget: str, blind: list[str],
                   nodes: tuple[NodeView, ...]) -> _Gaps:
    """What of a gadget's evidence is missing on a node: the endpoints it needs without a
    browser certificate (its own, and those of every node of another family it needs; such
    a family with no node in the facts is an endpoint not reached either), and the rules
    that judge it but did not see their subject."""
    spec = current().gadgets[gadget]
    missing = [{**e, "host": node.host} for e in node.endpoints
               if e["service"] in spec.needs and not e["reachable"]]
    for family, services in spec.needs_elsewhere.items():
        others = [n for n in nodes if role_family(n.role) == family]
        for service in services:
            if not others:
                missing.append({"host": f"any {current().families[family].title} node",
                                "service": service,
                                "port": current().port_of(family, service)})
            for other in others:
                missing += [{**e, "host": other.host} for e in other.endpoints
                            if e["service"] == service and not e["reachable"]]
                if not any(e["service"] == service for e in other.endpoints):
                    missing.append({"host": other.host, "service": service,
                                    "port": current().port_of(family, service)})
    return _Gaps(tuple(missing), tuple(dict.fromkeys(blind)), node.host)


def evaluate(rules: RuleSet, facts: Facts, settings: Settings) -> Evaluation:
    """Findings and per-node gadget outcomes. Pure: no I/O, same inputs, same output.

    A gadget is better than ``unknown`` only when its evidence is all there: every
    endpoint it needs (:data:`~auditor.evaluate.gadgets.SERVED_BY`) gave a browser a
    certificate, and every rule that judges it looked (no ``not_seen`` check: the
    endpoints its ``requires:`` names reached, no certificate state it requires unknown
    where its answer depends on it). Otherwise it is ``unknown``
    whatever the rules gave it, with what would settle it (:func:`_evidence_gaps`).
    """
    if not facts.nodes:
        raise InputError("the facts hold no node, so there is no cluster to judge",
                         field="nodes", expected="the cluster's nodes, its UCCX publisher "
                         "among them")
    views = build_views(facts, settings)
    findings: list[tuple[tuple[int, int, str, int], Finding, Mapping[str, Any], Rule]] = []
    given: dict[tuple[str, str], list[tuple[Outcome, str]]] = {}
    settles: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    # per node: every finding that says what would settle an unknown, on any subject
    node_settles: dict[str, list[tuple[str, str, str]]] = {}
    # (node, gadget): the rules that had something of it to judge and could not look
    blind: dict[tuple[str, str], list[str]] = {}
    checks: list[RuleCheck] = []
    # tens of thousands of checks on a large fleet name few distinct subjects and gadget
    # lists: each is kept once
    shared: dict[Any, Any] = {}
    # a rule the site policy disables does not look: what it judges is not seen
    switched_off = {o.rule: (p.path, o.reason) for p in rules.policy for o in p.overrides
                    if o.disabled}
    for rule in rules.rules:
        in_force = rule.applies(settings.phase, settings.version)
        # what it cannot answer without: endpoints that must have given a browser a
        # certificate, and certificate states that must be known where the answer
        # depends on them
        endpoints = [e for e in rule.requires if not is_state(e)]
        required_states = [e for e in rule.requires if is_state(e)]

        for node in views.nodes:
            subjects = (list(_subjects(rule, node, views.cluster))
                        if in_force and node.role in rule.roles else [])
            if not subjects:
                checks.append(RuleCheck(rule.id, node.host, None, "not_applicable"))
            for subject in subjects:
                affected = tuple(g for g in subject.gadgets if g in rule.effects)
                affected = shared.setdefault(affected, affected)
                if rule.id in switched_off:
                    checks.append(RuleCheck(rule.id, node.host, shared.setdefault(
                        subject.subject, subject.subject), "not_seen", affected))
                    _not_looked(rule, node.host, affected, switched_off[rule.id], blind,
                                settles)
                    continue
                fired = rule.condition.holds(subject.view)
                # an unknown certificate state the answer depends on: it did not look
                guessed = _rests_on_unknown(rule, subject.view, required_states, fired)
                unseen = [e for e in endpoints if not evidence_seen(subject.view, e)]
                if unseen and not fired and not any(blinds(e) for e in unseen):
                    # only the VOS CLI gives it and it was not read: nothing to look at
                    # (the run's scope says what was not read), like a rule that does not
                    # apply
                    checks.append(RuleCheck(rule.id, node.host, None, "not_applicable"))
                    continue
                seen = not guessed and not unseen
                result: RuleResult = "failed" if fired else "passed" if seen else "not_seen"
                checks.append(RuleCheck(rule.id, node.host,
                                        shared.setdefault(subject.subject, subject.subject),
                                        result, affected))
                if guessed or (result == "not_seen" and any(blinds(e) for e in unseen)):
                    # a gadget it would have given worse than ``works`` (or gave on a
                    # guess) is not judged
                    for gadget in affected:
                        if rule.effects[gadget] != "works":
                            for host in _judged_on(node, gadget, views.nodes):
                                blind.setdefault((host, gadget), []).append(rule.id)
                if not fired:
                    continue
                for gadget in affected:
                    for host in _judged_on(node, gadget, views.nodes):
                        given.setdefault((host, gadget), []).append(
                            (rule.effects[gadget], rule.id))
                message = render(rule.message, subject.view)
                if subject.predicted:
                    message = f"After the upgrade to {settings.target_version.text}: {message}"
                if rule.settle and "unknown" in rule.effects.values():
                    settle = (rule.id, message, render(rule.settle, subject.view))
                    node_settles.setdefault(node.host, []).append(settle)
                    for gadget in affected:
                        if rule.effects[gadget] == "unknown":
                            for host in _judged_on(node, gadget, views.nodes):
                                settles.setdefault((host, gadget), []).append(settle)
                finding = Finding(
                    rule.id, rule.severity, node.host, subject.subject, rule.title, message,
                    remedies_for(rule, rules, node.role, subject.view),
                    {g: rule.effects[g] for g in affected},
                    tuple(c.text for c in rule.citations),
                    "predicted" if subject.predicted else "observed")
                sort_key = (SEVERITIES.index(rule.severity), node.index, rule.id, subject.order)
                findings.append((sort_key, finding, subject.view, rule))
    findings.sort(key=lambda item: item[0])
    ordered = tuple(_with_causes([(f, view, rule) for _, f, view, rule in findings]))
    results = []
    unknowns = []
    for node in views.nodes:
        gadgets = {}
        for gadget in gadgets_of(node.role):
            effects = given.get((node.host, gadget), [])
            worst: Outcome = "works"
            outcome = max((o for o, _ in effects), key=OUTCOMES.index, default=worst)
            deciding = {r for o, r in effects if o == outcome} if outcome != "works" else set()
            why = settles.get((node.host, gadget), [])
            gaps = _evidence_gaps(node, gadget, blind.get((node.host, gadget), []),
                                  views.nodes)
            if gaps and OUTCOMES.index(outcome) < OUTCOMES.index("unknown"):
                # what the rules gave rests on evidence that is not there
                outcome = "unknown"
                why = why or node_settles.get(node.host, []) or gaps.fallback
                # the findings that say what is missing, else the rules that could not look
                deciding = {r for r, _, _ in why if r} or set(gaps.rules)
            gadgets[gadget] = GadgetResult(outcome, tuple(sorted(deciding)))
            if outcome == "unknown":
                unknowns.append(Unknown(
                    node.host, gadget, tuple(dict.fromkeys(m for _, m, _ in why)),
                    tuple(dict.fromkeys(s for _, _, s in why)),
                    tuple(sorted(deciding))))
        states = node.recorded
        predicted = (PredictedStates(node.tomcat, node.tomcat_ecdsa)
                     if settings.phase == "pre" and (node.tomcat, node.tomcat_ecdsa) != states
                     else None)
        results.append(NodeResult(node.host, node.role, *states, gadgets, predicted))
    verdict = decide((f.severity for f in ordered), len(unknowns))
    return Evaluation(verdict, ordered, tuple(results), tuple(unknowns), tuple(checks))


def build_audit(evaluation: Evaluation, facts: Facts, rules: RuleSet,
                settings: Settings, invocation: Invocation | None = None) -> Audit:
    """Put an evaluation, its inputs and the playbooks it refers to into one record."""
    referenced = sorted({p for f in evaluation.findings for p in f.remediation})
    playbooks = {}
    for key in referenced:
        playbook = rules.playbooks[key]
        playbooks[key] = AuditPlaybook(playbook.title, playbook.when_to_use, playbook.steps,
                                       playbook.verify,
                                       tuple(c.text for c in playbook.citations),
                                       playbook.order, playbook.changes_certificates,
                                       dict(playbook.outcome) if playbook.outcome else None)
    summary: dict[str, int] = {s: sum(1 for f in evaluation.findings if f.severity == s)
                               for s in SEVERITIES}
    audit = Audit(
        schema_version=SCHEMA_VERSION, tool_version=__version__, verdict=evaluation.verdict,
        cluster=facts.cluster, phase=settings.phase,
        current_version=settings.current_version.text,
        target_version=settings.target_version.text,
        change_date=settings.change_date.isoformat(),
        expiry_window_days=settings.expiry_window_days,
        rule_set=RuleSetInfo(rules.sha256, len(rules.rules), len(rules.playbooks),
                             rules.site_rules, tuple(
                                 RuleBrief(r.id, r.title, r.severity, r.roles)
                                 for r in sorted(rules.rules, key=lambda r: r.id)
                                 if r.applies(settings.phase, settings.version))),
        summary=summary, facts=facts, findings=evaluation.findings, nodes=evaluation.nodes,
        playbooks=playbooks, unknowns=evaluation.unknowns, invocation=invocation,
        checks=evaluation.checks, site_policy=rules.policy, scope=scope_of(facts))
    return replace(audit, plan=build_plan(audit))
