"""The leaf's keyUsage as the facts record it (collect) and as the rules see it (view):
recorded from the certificate, judged without parsing it again, and unknown-safe for facts
recorded before the tool read it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditor.collect.certs import analyse
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.evaluate.view import key_usage_refused
from auditor.model.facts import facts_from_data

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / \
    "ec-leaf-key-usage-refused.json"
RULE = "leaf-key-usage-refused-by-browsers"


def _leaf(usage: dict[str, bool] | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.example")])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
    if usage is not None:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                               "data_encipherment", "key_agreement", "key_cert_sign",
                               "crl_sign", "encipher_only", "decipher_only"), False)
        builder = builder.add_extension(x509.KeyUsage(**{**flags, **usage}), critical=True)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(("usage", "allows"), [
    (None, True),  # no keyUsage: every use allowed
    ({"digital_signature": True}, True),
    ({"key_encipherment": True}, False),
    ({"key_agreement": True}, False),
])
def test_the_facts_record_whether_the_key_may_sign_the_handshake(usage, allows) -> None:
    facts = analyse(_leaf(usage))
    assert facts.key_usage_allows_signing is allows
    assert key_usage_refused(facts) is (not allows)


def _evaluate(data: dict) -> set[str]:
    facts = facts_from_data(data, path=str(FIXTURE))
    settings = make_settings(facts.version, facts.observed_at, phase="post")
    return {f.rule_id for f in evaluate(load_ruleset(), facts, settings).findings}


def test_the_rule_fires_on_recorded_facts_and_not_on_facts_that_never_read_it() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert RULE in _evaluate(data)
    for cert in data["certificates"].values():
        del cert["key_usage_allows_signing"]  # a facts file from before the field
    assert RULE not in _evaluate(data)
    facts = facts_from_data(data, path=str(FIXTURE))
    assert all(key_usage_refused(c) is None for c in facts.certificates.values())


def test_facts_that_never_read_key_usage_leave_every_reached_gadget_unknown() -> None:
    """An old facts file (no ``key_usage_allows_signing`` at all) of a cluster that is GO
    when its key usage is known: each reached port's gadgets are unknown, the verdict is
    inconclusive and the way to settle it is to probe again, never GO."""
    row3 = FIXTURE.parent / "row3-ec-signed-ecdsa.json"
    data = json.loads(row3.read_text(encoding="utf-8"))
    facts = facts_from_data(data, path=str(row3))
    settings = make_settings(facts.version, facts.observed_at, phase="post")
    assert evaluate(load_ruleset(), facts, settings).verdict == "go"
    for cert in data["certificates"].values():
        del cert["key_usage_allows_signing"]
    old = evaluate(load_ruleset(), facts_from_data(data, path=str(row3)), settings)
    assert old.verdict == "inconclusive"
    assert {g.outcome for n in old.nodes for g in n.gadgets.values()} == {"unknown"}
    assert {f.rule_id for f in old.findings} == {"leaf-key-usage-not-recorded"}
    assert all("Probe" in s and "again" in s for u in old.unknowns for s in u.settle)
