"""The remediation plan as data (issue 23, items 1 to 3): built by the engine and stored in
audit.json; GO gives only optional improvements; a pre-upgrade plan has a part before the
upgrade and one after it, each verify step able to pass in its phase; report.md shows a
checklist that reads cleanly in a plain-text ticket; the verify command is what the user
typed, never a secret."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from audits import as_schema_4, lab_audit
from cli_runner import invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.cli.argv import REDACTED, SECRET_OPTIONS, filter_args
from auditor.evaluate.plan import build_plan, planned
from auditor.lab import SCENARIOS, Lab
from auditor.model.audit import Invocation, audit_from_data, audit_to_json, load_audit
from auditor.model.verdicts import decide
from auditor.render import ReportMeta, render
from auditor.render.markdown import md_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "fixtures" / "expected" / "plans"
FACTS = ROOT / "fixtures" / "facts"
PRE = sorted(s for s in SCENARIOS if s.startswith("pre-upgrade"))


def _generator():
    """The project's generator of the golden plans (scripts/make_plan_goldens.py)."""
    spec = importlib.util.spec_from_file_location(
        "make_plan_goldens", ROOT / "scripts" / "make_plan_goldens.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _generator()


def site(scenario: str):
    """The lab audit as a site's own run would have stored it (its invocation recorded)."""
    return MAKE.with_site_invocation(lab_audit(scenario))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_lab_scenario_has_its_golden_plan(scenario: str) -> None:
    expected = yaml.safe_load((GOLDEN / f"{scenario}.yaml").read_text(encoding="utf-8"))
    assert MAKE.plan_data(site(scenario)) == expected, (
        "the plan changed: review it, then python3 scripts/make_plan_goldens.py " + scenario)


def test_go_with_a_cop_installed_offers_the_rollback_only_as_an_optional_improvement() -> None:
    audit = site("cop-socialminer")
    assert audit.verdict == "go"
    assert audit.plan is not None and audit.plan.items == ()
    assert [i.playbook for i in audit.plan.improvements] == ["roll-back-cop"]
    text = render(audit, "md", ReportMeta("CHG0042"))
    assert "**Playbook" not in text and "- [ ]" not in text
    assert "Optional improvements" in text and "roll-back-cop" in text
    html = render(audit, "html", ReportMeta("CHG0042"))
    plan = html[html.index('id="plan"'):html.index('id="findings"')]
    assert "<h3>Playbook" not in plan and "Optional improvements" in plan


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_only_findings_that_count_toward_the_verdict_ask_for_steps(scenario: str) -> None:
    audit = site(scenario)
    plan = audit.plan
    assert plan is not None
    counting = {f.remediation[0] for f in audit.findings
                if f.remediation and not f.caused_by and decide((f.severity,), 0) != "go"}
    assert {i.playbook for i in plan.items} == counting
    assert not {i.playbook for i in plan.improvements} & counting
    if audit.verdict == "go":
        assert plan.items == ()


@pytest.mark.parametrize("scenario", PRE)
def test_a_pre_upgrade_plan_has_a_before_part_whose_verify_can_pass_before_the_upgrade(
        scenario: str) -> None:
    audit = site(scenario)
    plan = audit.plan
    assert plan is not None and plan.phase == "pre"
    before, after = plan.part("before-upgrade"), plan.part("after-upgrade")
    assert before and after
    assert plan.items == (*before, *after)  # the part before the upgrade comes first
    for item in before:
        assert {s.phase for s in item.steps} == {"before-upgrade"}
        # nothing that needs the upgraded system (there is no tomcat-ECDSA yet)
        assert not any("CSR" in s.action and "Download" in s.action for s in item.steps)
        assert not any("Firefox" in s.action for s in item.steps)
        # verified by the audit as it was run, expecting no state the upgrade creates
        assert item.verify.phase == "before-upgrade" and item.verify.expect == ()
        assert "--phase pre" in item.verify.command and "--target-version" in item.verify.command
    for item in after:
        assert "before-upgrade" not in {s.phase for s in item.steps}
        assert item.verify.phase == "after-upgrade"
        assert "--phase post" in item.verify.command
        assert "--phase pre" not in item.verify.command
        assert "--target-version" not in item.verify.command
    text = render(audit, "md", ReportMeta("CHG0042"))
    assert text.index("**Before the upgrade**") < text.index("**After the upgrade**")


def test_the_plan_is_in_audit_json_and_an_audit_of_schema_4_gets_it_built(tmp_path) -> None:
    out = tmp_path / "audit.json"
    done = invoke("evaluate", str(FACTS / "row4-upgrade-trap.json"), "--phase", "post",
                  "--out", str(out))
    assert done.returncode == 1, done.stderr
    data = json.loads(out.read_text())
    assert data["schema_version"] == 5
    steps = [s for i in data["plan"]["items"] for s in (*i["steps"], i["verify"])]
    assert steps and {"number", "kind", "where", "action", "phase", "node", "role", "command",
                      "verified_by"} <= set(steps[0])
    on_nodes = [s for s in steps if s["kind"] in ("node", "restart")]
    assert on_nodes and all(s["node"] and s["role"] for s in on_nodes)
    assert all(s["phase"] in ("before-upgrade", "after-upgrade", "window") for s in steps)
    assert data["plan"]["verify_command"].startswith("uccx-audit probe ")
    audit = load_audit(out)
    assert audit.plan == build_plan(audit)
    # the same audit as schema 4 wrote it: no plan, playbook steps without the new fields
    old = as_schema_4(data)
    migrated = audit_from_data(old)
    assert migrated.schema_version == 5 and migrated.plan is None
    # built from its own playbooks when shown, which knew no phase, command, via or roles
    rebuilt = planned(migrated).plan
    assert rebuilt == build_plan(migrated)
    assert [i.playbook for i in rebuilt.items] == [i.playbook for i in audit.plan.items]
    written = tmp_path / "v4.json"
    written.write_text(json.dumps(old))
    report = tmp_path / "again.json"
    done = invoke("report", str(written), "--format", "json", "--out", str(report))
    assert done.returncode == 1, done.stderr
    assert json.loads(report.read_text())["plan"] == json.loads(
        audit_to_json(planned(migrated)))["plan"]


def _code_spans(line: str) -> list[str]:
    return re.findall(r"(`+)(.+?)\1", line)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_report_md_plan_is_a_checklist_that_reads_cleanly_in_a_ticket(scenario: str) -> None:
    audit = site(scenario)
    plan = audit.plan
    assert plan is not None
    text = render(audit, "md", ReportMeta("CHG0042"))
    lines = text.splitlines()
    numbers = [s.number for i in plan.items for s in (*i.steps, i.verify)]
    # a checkbox per step, in order
    boxes = [int(m.group(1)) for line in lines if (m := re.match(r"- \[ \] (\d+)\. ", line))]
    assert boxes == numbers
    for item in plan.items:
        for step in item.steps:
            line = next(x for x in lines if x.startswith(f"- [ ] {step.number}. "))
            if step.node:
                # the node is said once, at the head, not again as "On host:"
                assert line.count(step.node) <= 1 + step.action.count(step.node)
                assert not step.action.startswith(("On ", f"{step.node}:"))
    # each note printed once; later steps refer to it
    for number, note in enumerate(plan.notes, 1):
        assert text.count(f"Note {number}: ") == 1
        assert text.count(md_text(note)) == 1
    # commands as code that copies exactly: no backslash escapes inside
    for line in lines:
        for _fence, code in _code_spans(line):
            assert "\\" not in code, line
    # the verify command: one code block per part, exactly as recorded
    commands = [plan.verify_command] + ([plan.verify_after] if plan.phase == "pre" else [])
    blocks = re.findall(r"^```\n(.*)\n```$", text, re.M)
    parts = [p for p in ("before-upgrade", "after-upgrade") if plan.part(p)]
    assert len(blocks) == len(parts)
    assert all(b in commands for b in blocks)


def test_step_commands_and_shared_notes_in_markdown(tmp_path) -> None:
    """A playbook step's command shows as code copied as is (underscores and all), and a
    note shared by steps on several nodes is printed once."""
    audit = lab_audit("mixed-cluster")
    playbooks = dict(audit.playbooks)
    key = next(k for k, p in playbooks.items() if any(s.on == "restart" for s in p.steps))
    steps = tuple(replace(s, command="utils service restart Cisco_Tomcat {node}")
                  if s.on == "restart" else s for s in playbooks[key].steps)
    playbooks[key] = replace(playbooks[key], steps=steps)
    audit = planned(replace(audit, playbooks=playbooks, plan=None))
    text = render(audit, "md", ReportMeta())
    restarts = [s for i in audit.plan.items for s in i.steps if s.kind == "restart"]
    assert restarts
    for step in restarts:
        assert step.command == f"utils service restart Cisco_Tomcat {step.node}"
        assert f"`utils service restart Cisco_Tomcat {step.node}`" in text
    assert "Cisco\\_Tomcat" not in text


def test_cop_installed_nodes_are_no_playbook_on_go_with_actions_either() -> None:
    """cop-uccx: chat prompts on SocialMiner (a warning); the working COP on UCCX is only
    an optional improvement beside the SocialMiner playbook."""
    audit = site("cop-uccx")
    assert audit.plan is not None
    assert [i.playbook for i in audit.plan.items] == ["sign-tomcat-ecdsa-with-ec-ca"]
    assert [i.playbook for i in audit.plan.improvements] == ["roll-back-cop"]
    assert all(n.startswith("uccx-") for n in audit.plan.improvements[0].nodes)


# --- the recorded argv ------------------------------------------------------------------

_TAKES = {"--inventory": True, "-i": True, "--phase": True, "--cli": False,
          "--cli-user": True, "--waivers": True, "--out": True, "-o": True,
          "--all-ports": False, "--rules": True}
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_./", min_size=1, max_size=12)


@st.composite
def _argv(draw):
    secret = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ!#%", min_size=6, max_size=16))
    kept: list[str] = []
    args: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["value", "flag", "out", "secret-option", "eq"]))
        if kind == "value":
            name, value = draw(st.sampled_from(["--inventory", "--cli-user", "--waivers",
                                                "--rules", "-i"])), draw(_WORD)
            args += [name, value]
            kept += [name, value]
        elif kind == "flag":
            name = draw(st.sampled_from(["--cli", "--all-ports"]))
            args.append(name)
            kept.append(name)
        elif kind == "out":
            spelled = draw(st.sampled_from(["--out", "-o", "--out=", "-o+"]))
            folder = draw(_WORD)
            if spelled == "--out=":
                args.append(f"--out={folder}")
            elif spelled == "-o+":
                args.append(f"-o{folder}")
            else:
                args += [spelled, folder]
        elif kind == "secret-option":
            option = draw(st.sampled_from(sorted(SECRET_OPTIONS)))
            args += ([f"{option}={secret}"] if draw(st.booleans()) else [option, secret])
        else:
            value = draw(_WORD)
            args.append(f"--cli-user={value}")
            kept.append(f"--cli-user={value}")
    return args, kept, secret


@settings(max_examples=300, deadline=None)
@given(_argv())
def test_the_recorded_argv_keeps_every_option_but_secrets_and_out(case) -> None:
    args, kept, secret = case
    recorded = filter_args(args, _TAKES, [secret])
    assert recorded == kept
    assert not any(secret in a for a in recorded)


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=6), st.integers(0, 5))
def test_a_secret_value_anywhere_is_never_recorded(words, at) -> None:
    secret = "S3cr3t-Pa55"
    args = list(words)
    args.insert(min(at, len(args)), f"--cli-user={secret}")
    args.insert(min(at, len(args)), secret)
    recorded = filter_args(args, _TAKES, [secret])
    assert not any(secret in a for a in recorded)
    assert recorded.count(REDACTED) == 2


def test_the_audit_command_records_the_options_it_ran_with_and_no_password(tmp_path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - rule: live-data-prompt-cannot-be-accepted\n    node: '*'\n"
        "    service: live_data\n    reason: lab\n    approved_by: CAB\n    ticket: CHG1\n"
        '    expires: "2099-01-01"\n', encoding="utf-8")
    password = "pw-not-to-record-7f3a"
    with Lab("row4-upgrade-trap", tmp_path / "lab") as lab:
        done = invoke("audit", "--inventory", str(lab.inventory_path), "--phase", "post",
                      "--agent-trust", str(lab.agent_trust_path), "--cli-user", "ops-admin",
                      "--waivers", str(waivers), "--all-ports", "--out", str(tmp_path / "out"),
                      env={"UCCX_AUDIT_CLI_PASSWORD": password,
                           "UCCX_AUDIT_HANDSHAKE_TIMEOUT": "4", "PATH": "/usr/bin:/bin"})
    assert done.returncode in (0, 1, 3), done.stderr
    audit = load_audit(tmp_path / "out" / "audit.json")
    assert audit.invocation is not None
    command = audit.plan.verify_command
    for part in ("--cli-user ops-admin", f"--waivers {waivers}", "--all-ports",
                 "--handshake-timeout 4", f"--agent-trust {lab.agent_trust_path}"):
        assert part in command, command
    assert "--out" not in command
    for path in (tmp_path / "out").iterdir():
        assert password.encode() not in path.read_bytes(), path
    assert audit_to_json(audit).count(password) == 0


def test_verify_command_of_an_audit_that_recorded_none_is_a_plain_command() -> None:
    audit = planned(replace(lab_audit("row4-upgrade-trap"), invocation=None, plan=None))
    assert audit.plan.verify_command == ("uccx-audit audit --inventory INVENTORY.yaml "
                                         "--phase post")
    pre = planned(replace(lab_audit("pre-upgrade-ca-signed"), invocation=Invocation(
        "audit", ("audit", "--inventory", "x.yaml", "--phase=pre", "--target-version",
                  "11.5(1)")), plan=None))
    assert pre.plan.verify_after == "uccx-audit audit --inventory x.yaml --phase=post"


def test_the_playbook_fields_phase_command_via_and_roles_shape_the_steps() -> None:
    """A step with ``roles`` is done only on nodes of those roles; ``via`` says where on the
    node; ``phase`` puts it in its part; ``command`` is filled per node."""
    audit = lab_audit("pre-upgrade-ca-signed")
    playbooks = dict(audit.playbooks)
    key = "sign-tomcat-ecdsa-with-ec-ca"
    first = playbooks[key].steps[0]
    only_uccx = replace(first, roles=("uccx-publisher",), via="vos-cli",
                        command="show cert own tomcat-ECDSA/{node}")
    early = replace(playbooks[key].steps[1], on="certificate-authority", phase="before-upgrade",
                    roles=())
    playbooks[key] = replace(playbooks[key],
                             steps=(only_uccx, early, *playbooks[key].steps[2:]))
    plan = build_plan(replace(audit, playbooks=playbooks, plan=None))
    after = next(i for i in plan.items if i.playbook == key and i.part == "after-upgrade")
    before = next(i for i in plan.items if i.playbook == key and i.part == "before-upgrade")
    shaped = [s for s in after.steps if s.command and s.command.startswith("show cert own")]
    assert [(s.node, s.role, s.where) for s in shaped] == [
        ("uccx-pub.lab.uccx.example", "uccx-publisher", "VOS CLI")]
    assert shaped[0].command == "show cert own tomcat-ECDSA/uccx-pub.lab.uccx.example"
    already = [s for s in playbooks[key].steps[2:] if s.phase == "before-upgrade"]
    assert [s.phase for s in before.steps] == ["before-upgrade"] * (1 + len(already))
    assert before.verify.phase == "before-upgrade" and "--phase pre" in before.verify.command
    restarts = [s for s in after.steps if s.kind == "restart"]
    assert restarts and {s.phase for s in restarts} == {"window"}


def test_the_terminal_plan_is_a_checklist_with_commands_never_wrapped() -> None:
    from auditor.render.audit_text import plan_text

    audit = site("pre-upgrade-ca-signed")
    text = plan_text(audit, width=60)
    lines = text.splitlines()
    numbers = [s.number for i in audit.plan.items for s in (*i.steps, i.verify)]
    assert [int(m.group(1)) for x in lines if (m := re.match(r"\s+\[ \] (\d+)\. ", x))] \
        == numbers
    assert lines.index("Plan, before the upgrade") < lines.index("Plan, after the upgrade")
    for command in (audit.plan.verify_command, audit.plan.verify_after):
        assert "      " + command in lines  # one line, as typed, however narrow
    for number, _note in enumerate(audit.plan.notes, 1):
        assert sum(x.strip().startswith(f"note {number}:") for x in lines) == 1


def test_report_does_not_believe_an_edited_plan(tmp_path) -> None:
    """A plan edited in audit.json (its steps removed from a NO-GO) is not what report
    shows: the plan is built again from the findings, which are checked on load."""
    out = tmp_path / "audit.json"
    done = invoke("evaluate", str(FACTS / "row4-upgrade-trap.json"), "--phase", "post",
                  "--out", str(out))
    assert done.returncode == 1, done.stderr
    data = json.loads(out.read_text())
    kept = data["plan"]
    data["plan"] = {**kept, "items": [], "per_node": {}}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    for fmt in ("md", "json"):
        shown = tmp_path / f"shown.{fmt}"
        done = invoke("report", str(edited), "--format", fmt, "--out", str(shown))
        assert done.returncode == 1, done.stderr
        text = shown.read_text()
        if fmt == "json":
            assert json.loads(text)["plan"] == kept
        else:
            assert "sign-tomcat-ecdsa-with-ec-ca" in text and "- [ ] 1. " in text
