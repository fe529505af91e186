"""Bounded inputs: YAML alias bombs and deep nesting, version strings, dates; facts are
written so that the schema reads them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from cryptography.hazmat.primitives.asymmetric import ec

from auditor.collect.certs import analyse
from auditor.collect.inventory import load_inventory
from auditor.common.errors import InputError
from auditor.common.yamlbounds import MAX_DEPTH
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.facts import facts_from_data, load_facts
from auditor.model.versions import Version

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts" / "row3-ec-signed-ecdsa.json"


def run(*args: str) -> Result:
    return invoke(*args)


def alias_bomb(levels: int = 12) -> str:
    lines = ['cluster: &a0 "x"']
    for i in range(1, levels):
        lines.append(f"v{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + '\nversion: "11.5(1)"\nnodes: []\n'


def test_an_alias_bomb_in_an_inventory_is_refused(tmp_path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    with pytest.raises(InputError, match="aliases expand to more than"):
        load_inventory(path)
    done = run("audit", "--inventory", str(path), "--phase", "post")
    assert done.returncode == 2 and "alias" in done.stderr and "Traceback" not in done.stderr


def test_many_aliases_are_refused(tmp_path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text('cluster: &c "x"\nversion: "11.5(1)"\nnodes: []\nextra: ['
                    + ", ".join(["*c"] * 2000) + "]\n")
    with pytest.raises(InputError, match="more than 1000 aliases"):
        load_inventory(path)


def test_an_alias_bomb_in_a_site_rule_is_refused(tmp_path) -> None:
    (tmp_path / "bomb.yaml").write_text(alias_bomb().replace("cluster:", "id:"))
    with pytest.raises(InputError, match="alias"):
        load_ruleset([tmp_path])


def test_a_rule_nested_400_deep_is_an_input_error(tmp_path) -> None:
    condition = "{all: [" * 400 + "{fact: node.host, equals: a}" + "]}" * 400
    (tmp_path / "deep.yaml").write_text(f"id: deep\nwhen: {condition}\n")
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels"):
        load_ruleset([tmp_path])
    done = run("rules", "--rules", str(tmp_path))
    assert done.returncode == 2 and "deep.yaml:2" in done.stderr
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


def test_a_deeply_nested_inventory_in_block_style_is_refused(tmp_path) -> None:
    lines = ['cluster: c', 'version: "11.5(1)"', "nodes: []", "x:"]
    lines += [" " * (2 * i) + "  y:" for i in range(200)]
    (tmp_path / "deep.yaml").write_text("\n".join(lines) + " 1\n")
    with pytest.raises(InputError, match="nested more than"):
        load_inventory(tmp_path / "deep.yaml")


@pytest.mark.parametrize("text", ["1" * 5000, "11." + "5" * 5000, "11.5(1)\n\n" + "x",
                                  "11.5(" + "1" * 20 + ")", "11.5.1.10000-" + "6" * 5000])
def test_version_strings_are_validated_by_pattern(text) -> None:
    with pytest.raises(InputError, match="is not a UCCX version"):
        Version(text)


def test_a_5000_digit_version_is_an_input_error_everywhere(tmp_path) -> None:
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(f'cluster: c\nversion: "{"1" * 5000}.5"\nnodes:\n'
                         "  - host: a.example\n    role: uccx-publisher\n")
    done = run("audit", "--inventory", str(inventory), "--phase", "post")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    done = run("evaluate", str(FACTS), "--phase", "pre", "--target-version", "9" * 5000)
    assert done.returncode == 2 and "is not a UCCX version" in done.stderr
    assert len(done.stderr) < 400


@pytest.mark.parametrize(("value", "says"), [
    ("2026-02-30T00:00:00Z", "not a real date and time"),
    ("2026-13-01T00:00:00Z", "not a real date and time"),
    ("0000-01-01T00:00:00Z", "not a real date and time"),
    ("2026-01-01T24:00:00Z", "not a real date and time"),
    # the schema's pattern ends at the Z ('$' matches no trailing newline, as in Rust)
    ("2026-01-01T00:00:00Z\n", "has the wrong form"),
])
def test_facts_with_impossible_dates_are_input_errors(tmp_path, value, says) -> None:
    data = json.loads(FACTS.read_text())
    fingerprint = next(iter(data["certificates"]))
    data["certificates"][fingerprint]["not_after"] = value
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=says):
        facts_from_data(json.loads(path.read_text()), path=str(path))
    for phase in ("pre", "post"):
        done = run("evaluate", str(path), "--phase", phase)
        assert done.returncode == 2, done.stderr
        assert "not_after" in done.stderr and "Traceback" not in done.stderr


def test_dates_at_the_ends_of_the_range_do_not_crash_evaluate(tmp_path) -> None:
    """Certificate dates at the ends of what the schema takes: the engine judges them without
    a crash. Through the evaluate command such dates are refused in one line unless the
    certificates' own PEMs say them (tests/test_recorded_certificates.py), so the engine is
    driven in-process here; change dates at the ends of the range are one-line errors."""
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.projection import make_settings
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.model.facts import facts_from_data

    data = json.loads(FACTS.read_text())
    for cert in data["certificates"].values():
        cert["not_before"], cert["not_after"] = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    facts, rules = facts_from_data(json.loads(json.dumps(data))), load_ruleset()
    for phase, target, change in (("post", None, None), ("pre", "11.5(1)SU1", "9999-12-01")):
        evaluate(rules, facts, make_settings(facts.version, facts.observed_at, phase=phase,
                                             target_version=target, change_date=change))
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    done = run("evaluate", str(path), "--phase", "post")
    assert done.returncode == 2 and "not_" in done.stderr and "Traceback" not in done.stderr
    done = run("evaluate", str(FACTS), "--phase", "post", "--change-date", "9999-12-31")
    assert done.returncode == 2 and "9999" in done.stderr  # plus the 30-day window
    done = run("evaluate", str(FACTS), "--phase", "post", "--change-date", "10000-01-01")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_certificate_from_year_500_is_written_as_the_schema_reads_it(tmp_path) -> None:
    import warnings

    from OpenSSL import crypto  # cryptography's builder refuses dates before 1950

    warnings.simplefilter("ignore", DeprecationWarning)
    key = crypto.PKey.from_cryptography_key(ec.generate_private_key(ec.SECP256R1()))
    built = crypto.X509()
    built.get_subject().CN = "old.example"
    built.set_issuer(built.get_subject())
    built.set_pubkey(key)
    built.set_serial_number(1)
    built.set_notBefore(b"05000101000000Z")
    built.set_notAfter(b"99991231235959Z")
    built.sign(key, "sha256")
    cert = built.to_cryptography()
    assert cert.not_valid_before_utc.year == 500
    facts = analyse(cert)
    assert facts.not_before == "0500-01-01T00:00:00Z"
    data = json.loads(FACTS.read_text())
    data["certificates"][facts.fingerprint_sha256] = {
        **next(iter(data["certificates"].values())),
        "fingerprint_sha256": facts.fingerprint_sha256, "not_before": facts.not_before,
        "not_after": facts.not_after}
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data))
    assert load_facts(path).certificates[facts.fingerprint_sha256].not_before.startswith(
        "0500-")


def test_facts_and_audit_files_are_told_apart(tmp_path) -> None:
    audit = tmp_path / "audit.json"
    assert run("evaluate", str(FACTS), "--phase", "post", "--out", str(audit)).returncode == 0
    done = run("report", str(FACTS))
    assert done.returncode == 2 and "this is a facts file" in done.stderr
    assert "uccx-audit evaluate" in done.stderr and done.stderr.count("\n") == 1
    done = run("evaluate", str(audit), "--phase", "post")
    assert done.returncode == 2 and "this is an audit file" in done.stderr
    assert "uccx-audit report" in done.stderr and done.stderr.count("\n") == 1
