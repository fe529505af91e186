"""``--phase pre`` judges a change to a newer version: without ``--target-version`` the
upgrade to 11.5(1), and a target that is not newer than the running version is refused in
one line (exit 2) that names the option and both versions, by ``audit``, ``evaluate`` and
``portfolio`` alike, before anything is probed or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.collect.inventory import inventory_to_yaml
from auditor.common.errors import InputError
from auditor.evaluate.projection import make_settings
from auditor.lab import Lab
from auditor.model.cluster import Inventory, Node
from auditor.model.versions import Version

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"
OBSERVED = "2026-11-27T10:00:00Z"
#: the change the tool is for, when the user names no target
UPGRADE = "11.5(1)"


def _refused(done: Result, *versions: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "--target-version: " in lines[0], lines[0]
    for version in versions:
        assert version in lines[0], (version, lines[0])


def test_evaluate_pre_without_a_target_predicts_the_upgrade_to_11_5() -> None:
    """An 11.0 cluster before its change is judged as after the upgrade to 11.5(1) (row 4
    here: a CA-signed tomcat and the self-signed tomcat-ECDSA the upgrade creates), not as
    "11.0(1) now, 11.0(1) after it", GO."""
    done = invoke("evaluate", FACTS / "pre-upgrade-ca-signed.json", "--phase", "pre",
                  "--format", "json")
    assert done.returncode == 1, done.stderr
    audit = json.loads(done.stdout)
    assert (audit["current_version"], audit["target_version"]) == ("11.0(1)", "11.5(1)")
    assert audit["verdict"] == "no_go"
    assert any(n["predicted"] and n["predicted"]["tomcat_ecdsa"] == "self_signed"
               for n in audit["nodes"])
    table = invoke("evaluate", FACTS / "pre-upgrade-ca-signed.json", "--phase", "pre")
    assert "11.0(1) now, 11.5(1) after it" in table.stdout


@pytest.mark.parametrize("facts, target, shown", [
    ("row4-upgrade-trap", None, ("11.5(1) (the default", "11.5(1)")),
    ("row4-upgrade-trap", "11.5(1)", ("11.5(1)",)),
    ("row4-upgrade-trap", "11.0(1)", ("11.0(1)", "11.5(1)")),
    ("pre-upgrade-ca-signed", "11.0(1)", ("11.0(1)",)),
    ("multi-server-san-12-5", None, ("11.5(1) (the default", "12.5(1)")),
    ("multi-server-san-12-5", "12.5", ("12.5", "12.5(1)")),
])
def test_a_target_that_is_not_newer_is_refused_by_evaluate_and_portfolio(
        tmp_path, facts, target, shown) -> None:
    args = ("--target-version", target) if target else ()
    _refused(invoke("evaluate", FACTS / f"{facts}.json", "--phase", "pre", *args), *shown)
    out = tmp_path / "portfolio"
    done = invoke("portfolio", FACTS / f"{facts}.json", FACTS / "pre-upgrade-ca-signed.json",
                  "--phase", "pre", "--out", out, *args)
    _refused(done, *shown)
    assert str(FACTS / f"{facts}.json") in done.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def _unreachable_inventory(folder: Path, version: str) -> Path:
    """A cluster on a loopback address nothing listens on: a refusal must come before any
    probe (and none could succeed)."""
    path = folder / f"cluster-{version}.yaml"
    path.write_text(inventory_to_yaml(Inventory(f"east-{version}", version, (
        Node("uccx1.example.com", "uccx-publisher", "127.0.0.1", {"finesse": 9}),))))
    return path


@pytest.mark.parametrize("version, target", [("11.5(1)", None), ("11.5(1)", "11.5(1)"),
                                             ("12.5(1)", None)])
def test_a_target_that_is_not_newer_is_refused_by_audit_before_any_probe(
        tmp_path, version, target) -> None:
    args = ("--target-version", target) if target else ()
    inventory = _unreachable_inventory(tmp_path, version)
    out = tmp_path / "out"
    _refused(invoke("audit", "--inventory", inventory, "--phase", "pre", "--out", out, *args),
             version)
    other = _unreachable_inventory(tmp_path, "10.5(1)")
    _refused(invoke("audit", "--inventory", other, "--inventory", inventory, "--phase", "pre",
                    "--out", out, *args), version)
    assert not out.exists()


def test_audit_pre_without_a_target_predicts_the_upgrade_of_the_lab(tmp_path) -> None:
    out = tmp_path / "out"
    with Lab("pre-upgrade-ca-signed") as lab:
        done = invoke("audit", "--inventory", lab.inventory_path, "--agent-trust",
                      lab.agent_trust_path, "--phase", "pre", "--out", out,
                      "--connect-timeout", "3", "--handshake-timeout", "3")
    assert done.returncode == 1, done.stderr
    audit = json.loads((out / "audit.json").read_text())
    assert audit["target_version"] == UPGRADE and audit["verdict"] == "no_go"


RELEASES = st.tuples(st.integers(10, 15), st.integers(0, 9), st.integers(0, 3))


@st.composite
def versions(draw) -> str:
    """A UCCX version as inventories write it (``11.5(1)``, ``11.5(1)SU2``, ``12.5``) or as
    ``show version active`` prints it (``11.5.1.10000-61``)."""
    major, minor, maint = draw(RELEASES)
    form = draw(st.sampled_from(["paren", "su", "short", "vos"]))
    if form == "paren":
        return f"{major}.{minor}({maint})"
    if form == "su":
        return f"{major}.{minor}({maint})SU{draw(st.integers(1, 9))}"
    if form == "short":
        return f"{major}.{minor}"
    return f"{major}.{minor}.{maint}.{draw(st.integers(10000, 99999))}-{draw(st.integers(1, 99))}"


@settings(max_examples=300, deadline=None)
@given(current=versions(), target=st.none() | versions(), phase=st.sampled_from(["pre", "post"]))
def test_settings_judge_a_change_only_to_a_newer_version(current, target, phase) -> None:
    """For any running and target version: the pre phase is judged for a target after the
    running version (by default 11.5(1)) and refused otherwise, naming both versions; the
    post phase judges the running version. The version judged is never older than the
    running one."""
    try:
        judged = make_settings(current, OBSERVED, phase=phase, target_version=target)
    except InputError as exc:
        assert exc.field == "--target-version"
        wanted = Version(target or UPGRADE) if phase == "pre" else None
        if phase == "pre":
            assert not Version(current) < wanted
            assert wanted.text in str(exc) and Version(current).text in str(exc)
        else:
            assert target is not None and Version(target) != Version(current)
        return
    if phase == "pre":
        assert Version(current) < judged.target_version
        assert judged.target_version == Version(target or UPGRADE)
    else:
        assert judged.target_version == judged.current_version == Version(current)
