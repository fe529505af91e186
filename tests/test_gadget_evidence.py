"""``works`` is earned by evidence, per gadget (issue 20): a certificate not downloaded, a
cluster without its publisher or with a role twice, a certificate that ends before the
change, an endpoint recorded twice, a state its own certificate contradicts, a certificate
the facts do not hold, a rule that could not look: none of them is ever a GO."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from audits import audit_json
from cli_runner import invoke
from cryptography import x509
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.collect.offline import declared_facts
from auditor.collect.trust import load_agent_trust
from auditor.common.errors import InputError
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import RuleSet, load_ruleset
from auditor.lab import SCENARIOS
from auditor.lab.scenarios import DOMAIN
from auditor.model.cluster import Inventory, Node
from auditor.model.facts import facts_from_data, facts_to_json
from auditor.model.findings import Evaluation

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
PUB, SUB, SM = (f"{n}.{DOMAIN}" for n in ("uccx-pub", "uccx-sub", "sm"))
NOT_GO = {"inconclusive", "no_go"}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_ruleset()


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FACTS / f"{name}.json").read_text())


def judged(rules: RuleSet, data: dict[str, Any], phase: str = "post",
           **options: Any) -> Evaluation:
    facts = facts_from_data(copy.deepcopy(data))
    return evaluate(rules, facts, make_settings(facts.version, facts.observed_at, phase=phase,
                                                **options))


def outcomes(evaluation: Evaluation) -> dict[str, dict[str, str]]:
    return {n.host: {g: r.outcome for g, r in n.gadgets.items()} for n in evaluation.nodes}


# -- a certificate not downloaded is not a certificate that does not exist -----------------

def _inconclusive_offline_audit(tmp_path: Path, folder: Path,
                                inventory: str) -> tuple[dict[str, Any], Path]:
    """``audit --from-pem`` of ``folder`` for ``inventory``: it must be inconclusive (exit
    3); its audit.json and output folder."""
    (tmp_path / "cluster.yaml").write_text(inventory)
    out = tmp_path / "out"
    done = invoke("audit", "--inventory", tmp_path / "cluster.yaml", "--from-pem", folder,
                  "--phase", "post", "--agent-trust", LAB / "agent-trust.pem", "--out", out)
    assert done.returncode == 3, done.stderr
    audit = audit_json(out / "audit.json")
    assert audit["verdict"] == "inconclusive"
    return audit, out


def test_offline_11_5_with_only_tomcat_pem_downloaded_is_inconclusive(tmp_path: Path) -> None:
    """The issue's case: every node's tomcat.pem, no tomcat-ECDSA.pem; it was GO."""
    folder = downloads("row3-ec-signed-ecdsa", tmp_path / "downloads")
    for ecdsa in folder.glob("*/tomcat-ECDSA.pem"):
        ecdsa.unlink()
    audit, _ = _inconclusive_offline_audit(
        tmp_path, folder, INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    got = {n["host"]: {g: v["outcome"] for g, v in n["gadgets"].items()}
           for n in audit["nodes"]}
    assert got == {PUB: {"finesse_desktop": "works", "live_data": "unknown"},
                   SUB: {"finesse_desktop": "works", "live_data": "unknown"},
                   SM: {"chat_email": "unknown", "socialminer_web": "unknown"}}
    assert {n["tomcat_ecdsa"]["state"] for n in audit["facts"]["nodes"]} == {"unknown"}
    for unknown in audit["unknowns"]:
        assert any("tomcat-ECDSA" in s and "pem_dir" in s for s in unknown["settle"]), unknown
        assert unknown["rules"] == ["tomcat-ecdsa-state-unknown"]


def _lab_made() -> dt.datetime:
    """When fixtures/lab was written (its roots begin a day before): every certificate
    there is valid the day after, except those a scenario makes expired on purpose."""
    root = x509.load_pem_x509_certificate((LAB / "agent-trust.pem").read_bytes())
    return root.not_valid_before_utc + dt.timedelta(days=1)


def _offline(scenario: str, missing: tuple[str, ...]) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    inventory = Inventory(scenario, spec.version, tuple(
        Node(n.host, n.role, declared={"cop_installed": True} if n.cop_installed else {})
        for n in spec.nodes))
    with tempfile.TemporaryDirectory() as work:
        folder = downloads(scenario, Path(work))
        for host in missing:
            (folder / host / "tomcat-ECDSA.pem").unlink()
        facts = declared_facts(inventory, trust=load_agent_trust(str(LAB / "agent-trust.pem")),
                               from_pem=folder, at=_lab_made() + dt.timedelta(days=1))
    return json.loads(facts_to_json(facts))


ON_11_5 = sorted(s for s, spec in SCENARIOS.items() if spec.version.startswith("11.5"))
WITHOUT_COP = [(s, n.host) for s in ON_11_5 for n in SCENARIOS[s].nodes
               if n.host in (PUB, SM) and not n.cop_installed]


@pytest.mark.parametrize(("scenario", "host"), WITHOUT_COP)
def test_a_tomcat_ecdsa_not_downloaded_leaves_what_it_decides_unknown(
        rules: RuleSet, scenario: str, host: str) -> None:
    """Whatever the node's certificates: without its tomcat-ECDSA the gadgets that depend on
    it are unknown (or worse), never works."""
    whole = judged(rules, _offline(scenario, ()))
    less = judged(rules, _offline(scenario, (host,)))
    assert not (whole.verdict in NOT_GO and less.verdict not in NOT_GO)
    decided = ("live_data",) if host == PUB else ("chat_email", "socialminer_web")
    got = outcomes(less)[host]
    assert all(got[g] in ("unknown", "prompt_accept_fails", "broken") for g in decided), got
    assert less.verdict in NOT_GO


def test_a_cop_declared_settles_a_tomcat_ecdsa_not_downloaded(rules: RuleSet) -> None:
    """cop-uccx: the UCCX nodes' COP makes them present tomcat only, so their missing
    tomcat-ECDSA decides nothing; SocialMiner's (no COP) still does."""
    whole = judged(rules, _offline("cop-uccx", ()))
    less = judged(rules, _offline("cop-uccx", (PUB, SUB, SM)))
    assert outcomes(less)[PUB] == outcomes(whole)[PUB] == {"finesse_desktop": "works",
                                                         "live_data": "works"}
    assert outcomes(less)[SM] == {"chat_email": "unknown", "socialminer_web": "unknown"}


# -- the cluster's roles -------------------------------------------------------------------

def _only(data: dict[str, Any], hosts: set[str], roles: dict[str, str] | None = None
          ) -> dict[str, Any]:
    """The facts as if recorded from an inventory of these hosts (with these roles)."""
    out = copy.deepcopy(data)
    out["nodes"] = [n for n in out["nodes"] if n["host"] in hosts]
    for node in out["nodes"]:
        node["role"] = (roles or {}).get(node["host"], node["role"])
    if "roster" in out:
        out["roster"] = [{"host": n["host"], "role": n["role"]} for n in out["nodes"]]
    return out


@pytest.mark.parametrize("hosts", [{SUB}, {SM}, {SUB, SM}], ids=["sub", "sm", "sub+sm"])
def test_a_cluster_without_its_publisher_is_inconclusive(rules: RuleSet, hosts) -> None:
    evaluation = judged(rules, _only(recorded("row3-ec-signed-ecdsa"), hosts))
    assert evaluation.verdict == "inconclusive"
    assert {g for n in outcomes(evaluation).values() for g in n.values()} == {"unknown"}
    missing = [f for f in evaluation.findings if f.rule_id == "cluster-without-publisher"]
    assert {f.node for f in missing} == hosts
    assert all("no UCCX publisher" in f.message for f in missing)
    assert all(any("publisher" in s for s in u.settle) for u in evaluation.unknowns)


def test_an_inventory_of_only_the_subscriber_audits_inconclusive(tmp_path: Path) -> None:
    """The issue's case, end to end: it was GO."""
    folder = downloads("row3-ec-signed-ecdsa", tmp_path / "downloads")
    audit, out = _inconclusive_offline_audit(
        tmp_path, folder, "cluster: offline\nversion: \"11.5(1)\"\nnodes:\n"
                          f"  - host: {SUB}\n    role: uccx-subscriber\n")
    assert [f["rule_id"] for f in audit["findings"]] == ["cluster-without-publisher"]
    assert "UCCX publisher" in (out / "report.md").read_text()


@pytest.mark.parametrize("roles", [{SUB: "uccx-publisher"}, {PUB: "uccx-subscriber"}],
                         ids=["two-publishers", "two-subscribers"])
def test_a_uccx_role_listed_twice_is_inconclusive_naming_the_role(rules: RuleSet,
                                                                  roles) -> None:
    evaluation = judged(rules, _only(recorded("row3-ec-signed-ecdsa"), {PUB, SUB, SM},
                                     roles))
    assert evaluation.verdict == "inconclusive"
    twice = [f for f in evaluation.findings if f.rule_id == "cluster-role-listed-twice"]
    assert len(twice) == 3
    assert all(next(iter(roles.values())) in f.message for f in twice)
    # two SocialMiner servers are a cluster, not a contradiction
    data = recorded("row3-ec-signed-ecdsa")
    sm = next(n for n in data["nodes"] if n["host"] == SM)
    data["nodes"].append({**copy.deepcopy(sm), "host": f"sm2.{DOMAIN}"})
    data.get("roster", []).append({"host": f"sm2.{DOMAIN}", "role": "socialminer"})
    evaluation = judged(rules, data)
    assert not {f.rule_id for f in evaluation.findings} & {
        "cluster-role-listed-twice", "cluster-node-records-disagree"}
    assert outcomes(evaluation)[SM] == {"chat_email": "works", "socialminer_web": "works"}


def test_a_node_record_missing_from_its_roster_is_inconclusive(rules: RuleSet) -> None:
    """mixed-cluster is NO-GO for its subscriber: dropping that record is no way to GO."""
    data = recorded("mixed-cluster")
    assert judged(rules, data).verdict == "no_go"
    data["nodes"] = [n for n in data["nodes"] if n["host"] != SUB]
    evaluation = judged(rules, data)
    assert evaluation.verdict == "inconclusive"
    assert all(f"{SUB} (uccx-subscriber) is listed but has no record" in f.message
               for f in evaluation.findings)


def test_facts_without_any_node_are_refused_in_one_line(tmp_path: Path, rules) -> None:
    data = recorded("row3-ec-signed-ecdsa")
    data["nodes"] = []
    data.pop("roster", None)
    with pytest.raises(InputError, match="no node"):
        judged(rules, data)
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    done = invoke("evaluate", path, "--phase", "post")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and str(path) in done.stderr
    assert "nodes" in done.stderr and "Traceback" not in done.stderr


# -- validity on the change date -----------------------------------------------------------

@pytest.mark.parametrize("phase", ["pre", "post"])
def test_every_certificate_ending_before_the_change_date_is_no_go(tmp_path: Path,
                                                                 phase: str) -> None:
    """The lab's leaves are valid 730 days; the change is 800 days after the recording.
    It was GO WITH ACTIONS with every gadget working."""
    path = FACTS / "row3-ec-signed-ecdsa.json"
    change = (dt.date.fromisoformat(recorded("row3-ec-signed-ecdsa")["observed_at"][:10])
              + dt.timedelta(days=800)).isoformat()
    out = tmp_path / "audit.json"
    # a pre phase on 11.5 facts predicts a move past it (the target must be newer)
    target = ("--target-version", "12.5(1)") if phase == "pre" else ()
    done = invoke("evaluate", path, "--phase", phase, *target, "--change-date", change,
                  "--out", out)
    assert done.returncode == 1, done.stderr
    audit = json.loads(out.read_text())
    assert audit["verdict"] == "no_go"
    assert {g["outcome"] for n in audit["nodes"] for g in n["gadgets"].values()} == {"broken"}
    ended = [f for f in audit["findings"] if f["rule_id"] == "certificate-expires-before-change"]
    assert len(ended) == 6 and all(change in f["message"] for f in ended)


def test_a_certificate_that_ends_on_the_change_day_is_not_valid_that_day(rules) -> None:
    data = recorded("row3-ec-signed-ecdsa")
    leaf = next(n for n in data["nodes"] if n["host"] == PUB)["tomcat"]["leaf"]
    ends = data["certificates"][leaf]["not_after"]
    evaluation = judged(rules, data, "pre", target_version="12.5(1)", change_date=ends[:10])
    assert outcomes(evaluation)[PUB]["finesse_desktop"] == "broken"
    assert evaluation.verdict == "no_go"


# -- evidence that contradicts itself ------------------------------------------------------

@pytest.mark.parametrize("state", ["not_presented", "self_signed", "ec_ca_signed"])
def test_a_state_its_own_certificate_contradicts_is_unknown(rules: RuleSet,
                                                            state: str) -> None:
    """Row 2: SocialMiner presents an RSA-signed tomcat-ECDSA (chat broken). A facts file
    that records another state for it was GO."""
    data = recorded("row2-rsa-signed-ecdsa")
    assert judged(rules, data).verdict == "no_go"
    sm = next(n for n in data["nodes"] if n["host"] == SM)
    sm["tomcat_ecdsa"]["state"] = state
    evaluation = judged(rules, data)
    assert evaluation.verdict in NOT_GO
    assert set(outcomes(evaluation)[SM].values()) <= {"unknown", "broken"}
    result = next(n for n in evaluation.nodes if n.host == SM)
    assert result.tomcat_ecdsa == "unknown"


# -- a rule that could not look ------------------------------------------------------------

SITE_RULE = """\
id: {id}
title: A site rule that judges the SocialMiner web page from elsewhere
description: >
  A site's rule with an effect on a gadget that reads what another endpoint, or a
  certificate state, shows: where the audit did not see that, the gadget is not judged.
severity: warning
scope: node
applies_to:
  phases: [pre, post]
  roles: [socialminer]
when:
  all:
    - {{fact: {needs}, equals: {value}}}
    - {{fact: node.role, equals: socialminer}}
effects:
  socialminer_web: prompt_accept_works
message: >
  {{node.host}} is judged by a site rule.
citations:
  - source: Cisco 210528
remediation: [agents-accept-once]
"""


def _site_rules(folder: Path, needs: str, value: str) -> RuleSet:
    folder.mkdir()
    (folder / "site-web-page-from-elsewhere.yaml").write_text(SITE_RULE.format(
        id="site-web-page-from-elsewhere", needs=needs, value=value))
    return load_ruleset([folder])


def _refused(data: dict[str, Any], host: str, service: str) -> dict[str, Any]:
    """The endpoint refused every profile, the node's states as the prober derives them."""
    out = copy.deepcopy(data)
    node = next(n for n in out["nodes"] if n["host"] == host)
    for endpoint in node["endpoints"]:
        if endpoint["service"] == service:
            for hs in endpoint["handshakes"]:
                hs.update(ok=False, chain=[], chain_check=None, name_covered=None,
                          cn_only=None, error={"kind": "refused", "detail": "refused"})
    return out


def test_a_rule_that_could_not_reach_what_it_needs_leaves_its_gadget_unknown(
        tmp_path: Path) -> None:
    """The site rule needs SocialMiner's notification port reached to judge the web page;
    the port refused. The page was works (the rule did not fire); it is unknown, and the
    unreachable port's finding says what would settle it."""
    rules = _site_rules(tmp_path / "site", "node.services.notification.reachable", "true")
    # 12.5: no rule of 11.5's ECDSA looks at SocialMiner
    data = _refused(recorded("pre-upgrade-ca-signed-running-12-5"), SM, "notification")
    sm = next(n for n in data["nodes"] if n["host"] == SM)
    sm["tomcat_ecdsa"] = {**sm["tomcat_ecdsa"], "state": "unknown", "leaf": None,
                          "seen_on": [], "note": "the endpoints that would present it "
                          "could not be reached"}
    evaluation = judged(rules, data)
    assert outcomes(evaluation)[SM] == {"chat_email": "unknown", "socialminer_web": "unknown"}
    page = next(u for u in evaluation.unknowns if u.gadget == "socialminer_web")
    assert page.rules == ("endpoint-unreachable",)
    port = next(e["port"] for e in sm["endpoints"] if e["service"] == "notification")
    assert any(f"port {port}" in s for s in page.settle)
    check = next(c for c in evaluation.checks if c.rule_id == "site-web-page-from-elsewhere"
                 and c.node == SM)
    assert check.result == "not_seen"


def test_a_rule_whose_answer_depends_on_an_unknown_state_did_not_look(tmp_path) -> None:
    """The same page judged from the tomcat-ECDSA state, which the facts do not know: had
    it been known, the rule might have fired."""
    rules = _site_rules(tmp_path / "site", "node.tomcat_ecdsa.state", "rsa_ca_signed")
    data = recorded("pre-upgrade-ca-signed-running-12-5")
    sm = next(n for n in data["nodes"] if n["host"] == SM)
    known = judged(rules, data)
    sm["tomcat_ecdsa"].update(state="unknown", leaf=None, seen_on=[])
    unknown = judged(rules, data)
    assert outcomes(known)[SM]["socialminer_web"] == "works"
    assert outcomes(unknown)[SM]["socialminer_web"] == "unknown"
    assert next(u for u in unknown.unknowns if u.gadget == "socialminer_web").settle
