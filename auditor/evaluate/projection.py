"""The evaluation settings, and what a browser will get after the upgrade (pre phase).

docs/domain.md, "Who presents which certificate": the upgrade to 11.5 creates a self-signed
``tomcat-ECDSA`` on every node, and
11.5 presents it to browsers on Live Data 12015 (UCCX) and Openfire 7443 (SocialMiner).
From 11.6 ECDSA is no longer used: those ports then present ``tomcat`` (RSA), which is
exactly what the ``rsa_only`` probe profile received from them today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from auditor.common.errors import InputError
from auditor.model.facts import EndpointFacts, Facts, HandshakeFacts, NodeFacts, judged_version
from auditor.model.presentation import ecdsa_ports
from auditor.model.versions import DEFAULT_TARGET_VERSION, Version, uses_ecdsa

PHASES = ("pre", "post")
#: --expiry-window: at most a century.
MAX_EXPIRY_WINDOW_DAYS = 36_500

#: A browser's view of the ``tomcat-ECDSA`` certificate the upgrade will create.
NEW_SELF_SIGNED_TOMCAT_ECDSA: dict[str, Any] = {
    "fingerprint": None, "kind": "tomcat_ecdsa", "kind_title": "tomcat-ECDSA",
    "key_type": "ec", "self_signed": True, "signer_key_type": "ec", "signature_hash": None,
    "ca_signed": False, "signature_fails": False, "signature_problem": None,
    "subject_cn": None, "trust": "untrusted",
    "trust_reason": "self-signed certificate created by the upgrade",
    "name_covered": None, "cn_only": None, "order_ok": None, "missing_intermediate": None,
    "untrusted_root": None,
    "accepted": False,
    "rejection": "no agent's browser trusts it yet",
    "key_usage_refused": False,
    "description": "the new self-signed EC certificate (tomcat-ECDSA) the upgrade creates",
}


@dataclass(frozen=True)
class Settings:
    """Everything besides facts and rules that an evaluation depends on."""

    phase: str
    current_version: Version
    target_version: Version
    change_date: dt.date
    expiry_window_days: int = 30

    @property
    def version(self) -> Version:
        """The version the audit is about: the target before, the running one after."""
        return self.target_version

    @property
    def uses_ecdsa(self) -> bool:
        return uses_ecdsa(self.version)

    @property
    def creates_ecdsa(self) -> bool:
        return (self.phase == "pre" and uses_ecdsa(self.target_version)
                and not uses_ecdsa(self.current_version)
                and self.current_version < self.target_version)

    @property
    def ends_ecdsa(self) -> bool:
        return (self.phase == "pre" and uses_ecdsa(self.current_version)
                and not uses_ecdsa(self.target_version))


def make_settings(facts_version: str, observed_at: str, *, phase: str,
                  target_version: str | None = None, change_date: str | dt.date | None = None,
                  expiry_window_days: int = 30) -> Settings:
    """Check the evaluation options against the facts and build :class:`Settings`. The pre
    phase predicts a change to a newer version: by default the upgrade to
    :data:`DEFAULT_TARGET_VERSION`; a target that is not newer than the running version is
    refused (there would be nothing to predict: "11.0(1) now, 11.0(1) after it" is no
    upgrade). After the change (post) the running version is the one judged."""
    if phase not in PHASES:
        raise InputError(f"{phase!r} is not a phase", field="--phase",
                         expected="pre (before the change) or post (after it)")
    try:
        current = Version(facts_version)
    except InputError:
        raise InputError(f"the facts name {facts_version!r} as the running version, which is "
                         "not a UCCX version", field="version",
                         expected='a version such as "11.5(1)"') from None
    if change_date is None:
        day = dt.date.fromisoformat(observed_at[:10])
    elif isinstance(change_date, dt.date):
        day = change_date
    else:
        try:
            day = dt.date.fromisoformat(change_date)
        except ValueError:
            raise InputError(f"{change_date!r} is not a date", field="--change-date",
                             expected="YYYY-MM-DD") from None
    if not 0 <= expiry_window_days <= MAX_EXPIRY_WINDOW_DAYS:
        raise InputError(f"{expiry_window_days} days is out of range", field="--expiry-window",
                         expected=f"a number of days from 0 to {MAX_EXPIRY_WINDOW_DAYS}")
    try:
        day + dt.timedelta(days=expiry_window_days)
    except OverflowError:
        raise InputError(f"{day.isoformat()} plus {expiry_window_days} days passes the year "
                         "9999", field="--change-date", expected="an earlier date") from None
    target = current
    if phase == "pre":
        target = Version(target_version or DEFAULT_TARGET_VERSION)
        if not current < target:
            given = "" if target_version else " (the default in the pre phase)"
            where = ("is the release" if target.same_release(current)
                     else "is older than the version")
            raise InputError(f"the pre phase predicts the change to a newer version, but "
                             f"{target.text}{given} {where} the cluster runs, "
                             f"{current.text}", field="--target-version",
                             expected=f"a version after {current.text}, or --phase post to "
                             "judge the cluster as it runs")
    elif target_version is not None:
        target = Version(target_version)
        if target != current:
            raise InputError(f"{target.text} differs from the version the facts were recorded "
                             f"on ({current.text}); after the change the running version is "
                             "the one evaluated", field="--target-version",
                             expected=f"no --target-version, or {current.text}")
    return Settings(phase, current, target, day, expiry_window_days)


def settings_for(facts: Facts, *, phase: str, target_version: str | None = None,
                 change_date: str | dt.date | None = None,
                 expiry_window_days: int = 30) -> Settings:
    """:func:`make_settings` for these facts: the running version is the one the nodes
    report of themselves where the VOS CLI read it (:func:`auditor.model.facts.judged_version`),
    not what the inventory declares."""
    return make_settings(judged_version(facts)[0], facts.observed_at, phase=phase,
                         target_version=target_version, change_date=change_date,
                         expiry_window_days=expiry_window_days)


@dataclass(frozen=True)
class Prediction:
    """What stands for the browser's handshake after the upgrade: an observed handshake
    (``rsa_only`` once ECDSA is gone) or a view of a certificate that does not exist yet."""

    handshake: HandshakeFacts | None
    view: dict[str, Any] | None


def predicted_browser(endpoint: EndpointFacts | None, family: str, service: str,
                      settings: Settings) -> Prediction | None:
    """The browser's view of this endpoint after the upgrade; None when it does not change
    (or cannot be predicted because the endpoint was not reached today)."""
    if endpoint is None or service not in ecdsa_ports(family):
        return None
    # Only where a browser's handshake completes today: the rsa_only profile takes any
    # group, suite and signature OpenSSL has, so it may reach a server that browsers
    # cannot, and the upgrade changes the certificate, not what the server negotiates.
    today = endpoint.handshake("browser")
    if today is None or not today.ok:
        return None
    if settings.creates_ecdsa:
        return Prediction(None, dict(NEW_SELF_SIGNED_TOMCAT_ECDSA))
    if settings.ends_ecdsa:
        return Prediction(endpoint.handshake("rsa_only"), None)
    return None


def predicted_states(node: NodeFacts, settings: Settings) -> tuple[tuple[str, str],
                                                                     tuple[str, str]]:
    """(state, source) of ``tomcat`` and ``tomcat-ECDSA`` when the change is done."""
    tomcat = (node.tomcat.state, node.tomcat.source)
    if settings.creates_ecdsa:
        return tomcat, ("self_signed", "predicted")
    return tomcat, (node.tomcat_ecdsa.state, node.tomcat_ecdsa.source)
