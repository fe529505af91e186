"""A facts file is a reading of the certificates it carries: fields that say something else
than the certificate's own PEM are refused, never judged (issue 20: files are re-judged,
not believed)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.recorded import check_recorded_certificates
from auditor.common.errors import InputError
from auditor.model.certificate import CertificateFacts
from auditor.model.facts import facts_from_data

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"
RECORDED = sorted(p.stem for p in FACTS.glob("*.json"))
FIELDS = [f.name for f in dataclasses.fields(CertificateFacts) if f.name != "pem"]


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((FACTS / f"{name}.json").read_text(encoding="utf-8"))


def _write(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_every_recorded_fixture_is_what_its_certificates_say() -> None:
    for name in RECORDED:
        check_recorded_certificates(facts_from_data(_recorded(name)), name)


def test_an_expiry_moved_later_by_hand_is_refused_not_judged(tmp_path: Path) -> None:
    """The expired publisher is NO-GO; with its certificate's end moved to 2099 in the file
    (the PEM unchanged) it was judged as valid."""
    data = _recorded("hygiene-expired-publisher")
    done = invoke("evaluate", _write(data, tmp_path / "as-recorded.json"), "--phase", "post")
    assert done.returncode == 1, done.stderr
    leaf = next(n for n in data["nodes"] if n["role"] == "uccx-publisher")["tomcat"]["leaf"]
    data["certificates"][leaf]["not_after"] = "2099-01-01T00:00:00Z"
    out = tmp_path / "audit.json"
    done = invoke("evaluate", _write(data, tmp_path / "edited.json"), "--phase", "post",
                  "--out", out)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"certificates.{leaf[:16]}.not_after" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_portfolio_with_one_edited_facts_file_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _write(_recorded("row3-ec-signed-ecdsa"), tmp_path / "in" / "a.json")
    data = _recorded("row1-self-signed")
    some = next(iter(data["certificates"].values()))
    some["key_type"] = "ec" if some["key_type"] == "rsa" else "rsa"
    _write(data, tmp_path / "in" / "b.json")
    out = tmp_path / "out"
    done = invoke("portfolio", tmp_path / "in", "--phase", "post", "--out", out)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "b.json" in done.stderr and ".key_type" in done.stderr
    assert not out.exists()


def _other(value: Any) -> Any:
    """A value of the same kind that differs."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "edited.example"]
    return "edited"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(RECORDED), field=st.sampled_from(FIELDS), pick=st.integers(0, 99))
def test_any_field_edited_away_from_its_pem_is_refused(name: str, field: str,
                                                       pick: int) -> None:
    data = copy.deepcopy(_recorded(name))
    keys = sorted(data["certificates"])
    key = keys[pick % len(keys)]
    cert = data["certificates"][key]
    if cert.get(field) in (None, []) and field in ("key_usage_allows_signing",
                                                   "parse_warnings"):
        return  # a reading of an older version: nothing recorded to disagree
    cert[field] = _other(cert.get(field))
    try:
        facts = facts_from_data(data)
    except InputError:
        return  # the schema or the loader refused it already
    with pytest.raises(InputError) as caught:
        check_recorded_certificates(facts, name)
    assert caught.value.field is not None and caught.value.field.startswith("certificates.")
