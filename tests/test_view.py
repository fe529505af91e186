"""The views rules see: exactly the documented fields, built from the facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from auditor.evaluate.projection import make_settings
from auditor.evaluate.view import FIELDS, SCOPES, ClusterView, build_views, fields_for
from auditor.model.facts import Facts, load_facts

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
ALL = sorted(p.stem for p in FACTS.glob("*.json"))


def views(name: str, phase: str = "post", target: str | None = None,
          change: str | None = None) -> tuple[Facts, ClusterView]:
    facts = load_facts(FACTS / f"{name}.json")
    settings = make_settings(facts.version, facts.observed_at, phase=phase,
                             target_version=target, change_date=change)
    return facts, build_views(facts, settings)


def leaves(prefix: str, value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from leaves(f"{prefix}.{key}", inner)
    else:
        yield prefix


def produced(view: ClusterView) -> set[str]:
    paths = set(leaves("cluster", view.cluster))
    for node in view.nodes:
        paths |= set(leaves("node", node.node))
        for endpoint in node.endpoints:
            paths |= set(leaves("endpoint", endpoint))
        for cert in node.certificates:
            paths |= set(leaves("certificate", cert))
    return paths


@pytest.mark.parametrize("name", ALL)
def test_every_field_a_view_holds_is_documented(name: str) -> None:
    _, view = views(name)
    undocumented = {p for p in produced(view) if p not in FIELDS
                    and not (p.startswith("node.services.") and p.count(".") == 2)}
    assert undocumented == set()


def test_every_documented_field_is_produced_by_some_recorded_facts() -> None:
    seen: set[str] = set()
    for name in ALL:
        seen |= produced(views(name)[1])
    seen |= produced(views("pre-upgrade-ca-signed", "pre", "11.5(1)")[1])
    assert set(FIELDS) - seen == set()


def test_each_scope_sees_cluster_node_and_its_own_subject() -> None:
    for scope in SCOPES:
        roots = {f.split(".")[0] for f in fields_for(scope)}
        assert roots == {"cluster", "node"} | ({scope} if scope != "node" else set())


def test_a_trusted_chain_for_another_name_is_not_accepted() -> None:
    _, view = views("hygiene-wrong-host-publisher")
    finesse = view.nodes[0].node["services"]["finesse"]
    assert finesse["browser"]["trust"] == "trusted"
    assert finesse["browser"]["name_covered"] is False
    assert finesse["browser"]["accepted"] is False
    assert "does not name uccx-pub.lab.uccx.example" in finesse["browser"]["rejection"]


def test_a_default_endpoint_missing_from_the_facts_is_a_subject_marked_not_probed() -> None:
    _, view = views("row3-publisher-live-data-not-probed")
    live_data = next(e for e in view.nodes[0].endpoints if e["service"] == "live_data")
    assert live_data["probed"] is False and live_data["reachable"] is False
    assert live_data["port"] == 12015 and live_data["gadgets"] == ["live_data"]


def test_endpoints_come_in_the_canonical_service_order() -> None:
    _, view = views("row1-self-signed")
    assert [[e["service"] for e in n.endpoints] for n in view.nodes] == [
        ["finesse", "live_data", "notification", "cuic", "platform"],
        ["finesse", "live_data", "notification", "cuic", "platform"], ["web", "notification"]]


def test_certificates_are_counted_from_the_change_date() -> None:
    _, view = views("row3-ec-signed-ecdsa", "post", None, "2027-01-01")
    cert = view.nodes[0].certificates[0]
    not_after = dt.datetime.fromisoformat(cert["not_after"].replace("Z", "+00:00"))
    change = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert cert["days_after_change"] == (not_after - change).days
    assert cert["expiry_phrase"] == (f"{cert['days_after_change']} days after the change "
                                     "date (2027-01-01)")
    assert cert["expired"] is False and cert["services"]


def test_the_subscriber_sees_the_publisher_as_its_peer_and_socialminer_has_none() -> None:
    _, view = views("mixed-cluster")
    pub, sub, sm = view.nodes
    assert sub.node["peer"]["host"] == pub.host and pub.node["peer"]["host"] == sub.host
    assert sub.node["peer"]["tomcat_ecdsa"]["state"] == "ec_ca_signed"
    assert sm.node["peer"]["host"] is None


def test_in_the_pre_phase_the_predicted_endpoint_says_so() -> None:
    _, view = views("pre-upgrade-ca-signed", "pre", "11.5(1)")
    live_data = view.nodes[0].node["services"]["live_data"]
    finesse = view.nodes[0].node["services"]["finesse"]
    assert live_data["predicted"] is True and live_data["browser"]["kind"] == "tomcat_ecdsa"
    assert finesse["predicted"] is False and finesse["browser"]["kind"] == "tomcat"
    assert view.nodes[0].node["tomcat_ecdsa"] == {
        "state": "self_signed", "state_words": "self-signed", "source": "predicted",
        "source_words": "predicted for after the change", "presented": True,
        "declared": None, "note": None}
