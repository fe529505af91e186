"""Evaluation settings, and what a browser will get after the upgrade (pre phase)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditor.common.errors import InputError
from auditor.evaluate.projection import (
    NEW_SELF_SIGNED_TOMCAT_ECDSA,
    make_settings,
    predicted_browser,
    predicted_states,
)
from auditor.evaluate.view import FIELDS
from auditor.model.facts import Facts, load_facts

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"


def facts(name: str) -> Facts:
    return load_facts(FACTS / f"{name}.json")


def settings_for(name: str, phase: str, target: str | None = None):
    recorded = facts(name)
    return recorded, make_settings(recorded.version, recorded.observed_at, phase=phase,
                                   target_version=target)


def test_post_phase_evaluates_the_running_version_on_the_day_the_facts_were_recorded() -> None:
    recorded, settings = settings_for("row4-upgrade-trap", "post")
    assert settings.version.text == settings.current_version.text == "11.5(1)"
    assert settings.change_date == dt.date.fromisoformat(recorded.observed_at[:10])
    assert settings.expiry_window_days == 30
    assert not settings.creates_ecdsa and not settings.ends_ecdsa


def test_upgrade_from_11_0_to_11_5_creates_tomcat_ecdsa() -> None:
    _, settings = settings_for("pre-upgrade-ca-signed", "pre", "11.5(1)")
    assert settings.creates_ecdsa and not settings.ends_ecdsa and settings.uses_ecdsa


def test_upgrade_from_11_5_to_12_5_ends_ecdsa() -> None:
    _, settings = settings_for("row3-ec-signed-ecdsa", "pre", "12.5(1)")
    assert settings.ends_ecdsa and not settings.creates_ecdsa and not settings.uses_ecdsa


@pytest.mark.parametrize(("options", "message"), [
    ({"phase": "during"}, "--phase: 'during' is not a phase (expected pre (before the change)"),
    ({"phase": "post", "target_version": "12.5(1)"},
     "--target-version: 12.5(1) differs from the version the facts were recorded on"),
    ({"phase": "pre", "target_version": "11.0(1)"},
     "--target-version: the pre phase predicts the change to a newer version, but 11.0(1) is "
     "older than the version the cluster runs, 11.5(1)"),
    ({"phase": "pre", "target_version": "eleven"}, "'eleven' is not a UCCX version"),
    ({"phase": "pre", "change_date": "14/03/2027"},
     "--change-date: '14/03/2027' is not a date (expected YYYY-MM-DD)"),
    ({"phase": "pre", "expiry_window_days": -1}, "--expiry-window: -1 days is out of range"),
])
def test_options_that_do_not_fit_the_facts_are_input_errors(options, message) -> None:
    with pytest.raises(InputError) as caught:
        make_settings("11.5(1)", "2026-11-27T10:00:00Z", **options)
    assert message in str(caught.value)


def test_facts_with_an_unparseable_version_are_an_input_error() -> None:
    with pytest.raises(InputError) as caught:
        make_settings("eleven", "2026-11-27T10:00:00Z", phase="post")
    assert "version: the facts name 'eleven' as the running version" in str(caught.value)


def test_before_11_5_live_data_and_socialminer_notification_are_predicted_self_signed() -> None:
    recorded, settings = settings_for("pre-upgrade-ca-signed", "pre", "11.5(1)")
    for node in recorded.nodes:
        family = "socialminer" if node.role == "socialminer" else "uccx"
        for endpoint in node.endpoints:
            prediction = predicted_browser(endpoint, family, endpoint.service, settings)
            if endpoint.service in ("live_data", "notification") and (
                    (family, endpoint.service) != ("uccx", "notification")):
                assert prediction is not None and prediction.handshake is None
                assert prediction.view == NEW_SELF_SIGNED_TOMCAT_ECDSA
            else:
                assert prediction is None, (node.host, endpoint.service)
        assert predicted_states(node, settings)[1] == ("self_signed", "predicted")


def test_an_endpoint_unreachable_today_is_not_predicted() -> None:
    recorded, _ = settings_for("row4-publisher-live-data-refused", "post")
    settings = make_settings("11.0(1)", recorded.observed_at, phase="pre",
                             target_version="11.5(1)")
    (node,) = recorded.nodes
    assert predicted_browser(node.endpoint("live_data"), "uccx", "live_data", settings) is None


def test_from_11_6_the_ecdsa_ports_present_what_the_rsa_only_client_got() -> None:
    recorded, settings = settings_for("row3-ec-signed-ecdsa", "pre", "12.5(1)")
    for node in recorded.nodes:
        family = "socialminer" if node.role == "socialminer" else "uccx"
        service = "notification" if family == "socialminer" else "live_data"
        endpoint = node.endpoint(service)
        prediction = predicted_browser(endpoint, family, service, settings)
        assert prediction is not None and prediction.view is None
        assert prediction.handshake == endpoint.handshake("rsa_only")
        assert predicted_states(node, settings)[1] == (node.tomcat_ecdsa.state,
                                                       node.tomcat_ecdsa.source)


def test_the_predicted_view_has_exactly_the_browser_fields() -> None:
    browser = {f.split(".", 2)[2] for f in FIELDS if f.startswith("endpoint.browser.")}
    assert set(NEW_SELF_SIGNED_TOMCAT_ECDSA) == browser
    assert NEW_SELF_SIGNED_TOMCAT_ECDSA["accepted"] is False
