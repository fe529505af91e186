#!/usr/bin/env python3
"""Write the golden remediation plan of every lab scenario: fixtures/expected/plans/<name>.yaml.

Each lab scenario is served on loopback, probed (and its VOS CLI read where the scenario
has one), judged in its phase, and given the invocation of a site's own run
(:data:`INVOCATION`), so that the verify commands are those of a real run. The file holds
the plan as the audit stores it, with what changes from run to run left out: the ports of
``host:port`` pairs are named by their service. Review the diff after re-running:

    python3 scripts/make_plan_goldens.py            # all
    python3 scripts/make_plan_goldens.py cop-uccx   # one
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.model.audit import Audit, Invocation  # noqa: E402
from auditor.model.plan import Plan, PlanStep  # noqa: E402

GOLDEN_DIR = ROOT / "fixtures" / "expected" / "plans"
INVENTORY = "/srv/change/east-cluster.yaml"
TRUST = "/srv/change/agents-trust.pem"


def invocation(audit: Audit) -> Invocation:
    """The run a site would have typed for this audit."""
    args = ["audit", "--inventory", INVENTORY, "--phase", audit.phase]
    if audit.phase == "pre":
        args += ["--target-version", audit.target_version]
    args += ["--agent-trust", TRUST, "--change-date", audit.change_date, "--cli",
             "--cli-user", "platformadmin", "--ticket", "CHG0042"]
    return Invocation("audit", tuple(args), INVENTORY)


def with_site_invocation(audit: Audit) -> Audit:
    """The audit as that run would have stored it, its plan built for that invocation."""
    from auditor.evaluate.plan import planned

    return planned(dataclasses.replace(audit, invocation=invocation(audit), plan=None))


def _ports(audit: Audit) -> dict[str, str]:
    return {f"{n.host}:{e.port}": f"{n.host}:<{e.service}>" for n in audit.facts.nodes
            for e in n.endpoints}


def _stable(text: str, ports: dict[str, str]) -> str:
    text = re.sub(r"--change-date \S+", "--change-date DATE", text)
    return re.sub(r"[A-Za-z0-9.-]+:\d+", lambda m: ports.get(m.group(0), m.group(0)), text)


def _step(step: PlanStep, ports: dict[str, str]) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(step).items() if v not in (None, (), [])}
    data["expect"] = list(step.expect) if step.expect else None
    return {k: _stable(v, ports) if isinstance(v, str) else v for k, v in data.items()
            if v is not None}


def plan_data(audit: Audit) -> dict[str, Any]:
    """The plan of an audit as its golden file holds it."""
    plan: Plan | None = audit.plan
    assert plan is not None
    ports = _ports(audit)
    return {
        "verdict": audit.verdict,
        "phase": plan.phase,
        "items": [{"playbook": i.playbook, "part": i.part, "nodes": list(i.nodes),
                   "restart_order": list(i.restart_order),
                   "steps": [_step(s, ports) for s in (*i.steps, i.verify)]}
                  for i in plan.items],
        "notes": [_stable(n, ports) for n in plan.notes],
        "verify_command": _stable(plan.verify_command, ports),
        "verify_after": _stable(plan.verify_after, ports),
        "improvements": [{"playbook": i.playbook, "nodes": list(i.nodes)}
                         for i in plan.improvements],
        "alternatives": [a.playbook for a in plan.alternatives],
        "per_node": {h: list(n) for h, n in plan.per_node.items()},
    }


def golden_text(audit: Audit, scenario: str) -> str:
    """The golden file of one scenario."""
    head = (f"# The remediation plan of lab scenario {scenario} "
            "(scripts/make_plan_goldens.py writes it; review the diff)\n")
    return head + yaml.safe_dump(plan_data(audit), sort_keys=False, width=100,
                                 allow_unicode=True)


def lab_audit(scenario: str) -> Audit:
    """Serve the scenario, probe it (and read its VOS CLI where it has one), judge it."""
    from auditor.collect.collect import probe_inventory
    from auditor.collect.inventory import load_inventory
    from auditor.collect.prober import ProbeOptions
    from auditor.collect.trust import load_agent_trust
    from auditor.evaluate.engine import build_audit, evaluate
    from auditor.evaluate.projection import settings_for
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.lab import Lab

    phase = "pre" if scenario.startswith("pre-upgrade") else "post"
    with Lab(scenario) as lab:
        facts = probe_inventory(load_inventory(lab.inventory_path),
                                trust=load_agent_trust(str(lab.agent_trust_path)),
                                options=ProbeOptions(connect_timeout=3, handshake_timeout=3))
        if lab.scenario.reads_cli:
            from auditor.collect.installed import refine_from_cli

            facts = refine_from_cli(facts, lab.vos_cli_readings())
    ruleset = load_ruleset([])
    settings = settings_for(facts, phase=phase,
                            target_version="11.5(1)" if phase == "pre" else None)
    return build_audit(evaluate(ruleset, facts, settings), facts, ruleset, settings)


def main(names: list[str]) -> None:
    from auditor.common.fileio import write_atomic
    from auditor.lab import SCENARIOS

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for scenario in names or sorted(SCENARIOS):
        audit = with_site_invocation(lab_audit(scenario))
        write_atomic(GOLDEN_DIR / f"{scenario}.yaml", golden_text(audit, scenario))
        print(f"wrote {GOLDEN_DIR / scenario}.yaml")


if __name__ == "__main__":
    main(sys.argv[1:])
