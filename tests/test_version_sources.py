"""Sources that disagree: the version the inventory declares against the one each node's VOS
CLI reports (show version active). The nodes' own version wins for judging; every node
whose version disagrees is a finding that names both values and both sources, and its
gadgets are not ``works`` until the sources agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.collect.installed import installed_facts
from auditor.collect.vos_cli import CliReading
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import settings_for
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.facts import CommandOutput, facts_from_data
from auditor.model.versions import Version

ROOT = Path(__file__).resolve().parent.parent
READ = json.loads((ROOT / "fixtures" / "facts" / "row3-cli-reports-11-5.json").read_text())
RULES = load_ruleset([])
RULE = "version-sources-disagree"
GOOD = ("works", "prompt_accept_works")

#: releases as inventories write them, and builds as show version active prints them
DECLARED = st.sampled_from(["11.0(1)", "11.5(1)", "11.5(1)SU1", "11.5", "11.6(2)", "12.5(1)",
                            "12.5"])
REPORTED = st.sampled_from(["11.0.1.10000-44", "11.5.1.10000-61", "11.5.1.11001-35",
                            "11.6.2.10000-11", "12.5.1.10000-23"])


def _facts(declared: str, reported: dict[str, str | None]) -> dict:
    data = copy.deepcopy(READ)
    data["version"] = declared
    for node in data["nodes"]:
        version = reported.get(node["host"])
        if version is None:
            node["installed"].pop("version", None)
        else:
            node["installed"]["version"] = version
    return data


@settings(max_examples=200, deadline=None)
@given(declared=DECLARED, data=st.data())
def test_the_nodes_version_wins_and_every_disagreement_is_named(declared, data) -> None:
    hosts = [n["host"] for n in READ["nodes"]]
    reported = {host: data.draw(st.none() | REPORTED, label=host) for host in hosts}
    facts = facts_from_data(_facts(declared, reported), path="facts.json")
    roles = {n.host: n.role for n in facts.nodes}
    uccx = [Version(v) for h, v in sorted(reported.items(), key=lambda i: roles[i[0]])
            if v is not None and roles[h] != "socialminer"]
    agreed = bool(uccx) and all(v.same_release(uccx[0]) for v in uccx)
    judged = uccx[0] if agreed else Version(declared)
    options = settings_for(facts, phase="post")
    assert options.current_version == judged
    evaluation = evaluate(RULES, facts, options)
    named = {f.node: f for f in evaluation.findings if f.rule_id == RULE}
    for host, version in reported.items():
        if version is None:
            assert host not in named
            continue
        disagrees = not (Version(version).same_release(Version(declared))
                         and Version(version).same_release(judged))
        assert (host in named) == disagrees, (host, version, declared)
        if disagrees:
            message = named[host].message
            assert declared in message and version in message
            assert "inventory" in message and "show version active" in message
            node = next(n for n in evaluation.nodes if n.host == host)
            assert all(g.outcome not in GOOD for g in node.gadgets.values())
    if named:
        assert evaluation.verdict in ("inconclusive", "no_go")


def _reading(version_output: str) -> CliReading:
    return CliReading("uccx1.example.com", "admin", (
        CommandOutput("show version active", version_output),))


@pytest.mark.parametrize("output, version", [
    ("Active Master Version: 11.5.1.10000-61\nActive Version Installed Software Options:\n",
     "11.5.1.10000-61"),
    ("  active master version :   12.5.1.10000-23 ES03\n", "12.5.1.10000-23 ES03"),
    ("Active Version Installed Software Options:\nNo Installed Software Options Found.\n",
     None),
])
def test_the_active_version_is_read_from_show_version_active(output, version) -> None:
    installed, _ = installed_facts(_reading(output))
    assert installed.version == version


@pytest.mark.parametrize("output", [
    "Active Master Version: 11.5(1)\n",
    "Active Master Version: " + " " * 100_000 + "x\n",
    "Active Master Version: \x1b[2J11.5.1.10000-61\n",
    "Active Master Version: 11.5.1.10000-61\nActive Master Version: 12.5.1.10000-23\n",
])
def test_an_active_version_that_is_not_one_is_garbage_not_a_version(output) -> None:
    """What does not read as a VOS version (or two of them) is not taken for one: the
    reading is garbage for that node (vos-cli-not-read), and no version is judged from it."""
    installed, _ = installed_facts(_reading(output))
    assert installed.version is None
    assert installed.error is not None and installed.error.kind == "garbage"
    assert "show version active" in installed.error.detail


ROW3 = json.loads((ROOT / "fixtures" / "facts" / "row3-ec-signed-ecdsa.json").read_text())
STATES = ("not_presented", "self_signed", "rsa_ca_signed", "ec_ca_signed")


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_a_declared_certificate_state_the_node_contradicts_is_named_and_not_believed(
        data) -> None:
    """Declare any state for a node's tomcat or tomcat-ECDSA: where the node presents that
    certificate in another state, the contradiction is a finding naming both, and the
    node's gadgets are not ``works``; a declaration the node agrees with is no finding."""
    document = copy.deepcopy(ROW3)
    node = data.draw(st.sampled_from(document["nodes"]))
    which = data.draw(st.sampled_from(["tomcat", "tomcat_ecdsa"]))
    declared = data.draw(st.sampled_from(STATES))
    node["declared"][which] = declared
    facts = facts_from_data(document, path="facts.json")
    evaluation = evaluate(RULES, facts, settings_for(facts, phase="post"))
    shown = node[which]["state"]
    named = [f for f in evaluation.findings if f.rule_id == "certificate-state-sources-disagree"]
    if declared == shown:
        assert not named
        return
    assert [f.node for f in named] == [node["host"]]
    words = {"not_presented": "not presented", "self_signed": "self-signed",
             "rsa_ca_signed": "RSA-CA-signed", "ec_ca_signed": "EC-CA-signed"}
    assert "inventory declares " + words[declared] in named[0].message
    assert words[shown] in named[0].message
    result = next(n for n in evaluation.nodes if n.host == node["host"])
    assert all(g.outcome not in GOOD for g in result.gadgets.values())
    assert evaluation.verdict in ("inconclusive", "no_go")
