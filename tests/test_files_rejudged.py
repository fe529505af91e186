"""Files are judged again, not believed: an audit's verdict, counts and gadget outcomes are
derived again from its findings; facts are checked for meaning as well as for form; what
JSON cannot carry (NaN, infinities, lone surrogates) is refused on read and never written.
Every refusal is one line with exit 2 that names the file and the field."""

from __future__ import annotations

import ast
import copy
import json
import shutil
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.model.audit import audit_from_data
from auditor.model.findings import OUTCOMES, SEVERITIES
from auditor.model.verdicts import VERDICTS

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "fixtures" / "facts"
#: fixture facts whose audits hold errors, warnings, notices, several gadgets
JUDGED = ("row4-upgrade-trap", "row2-rsa-signed-ecdsa", "row1-self-signed",
          "hygiene-expired-publisher", "row1-publisher-finesse-refused")


def _one_line_refusal(done: Result, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def _audit_data(name: str, phase: str = "post") -> dict:
    done = invoke("evaluate", FACTS / f"{name}.json", "--phase", phase, "--format", "json")
    assert done.returncode in (0, 1, 3), done.stderr
    return json.loads(done.stdout)


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# -- an audit's verdict and what follows from its findings ---------------------------------

def test_an_audit_whose_verdict_was_edited_to_go_is_refused(tmp_path) -> None:
    data = _audit_data("row4-upgrade-trap")
    assert data["verdict"] == "no_go" and data["summary"]["error"] == 2
    good = _write(tmp_path / "before.json", data)
    forged = _write(tmp_path / "audit.json", {**data, "verdict": "go"})
    for fmt in ("html", "md", "json", "junit"):
        _one_line_refusal(invoke("report", forged, "--format", fmt), str(forged), "verdict",
                          "no_go")
    _one_line_refusal(invoke("diff", good, forged), str(forged), "verdict")
    _one_line_refusal(invoke("diff", forged, good), str(forged), "verdict")
    assert invoke("report", good, "--format", "md").returncode == 1


def _edits(data: dict) -> list[tuple[str, dict]]:
    """Every kind of edit a forger makes to a derived field, each as (field, edited)."""
    edits = []
    for verdict in VERDICTS:
        if verdict != data["verdict"]:
            edits.append(("verdict", {**data, "verdict": verdict}))
    for severity in SEVERITIES:
        for delta in (-1, 1):
            if data["summary"][severity] + delta >= 0:
                summary = {**data["summary"], severity: data["summary"][severity] + delta}
                edits.append(("summary", {**data, "summary": summary}))
    for n, node in enumerate(data["nodes"]):
        for gadget, result in node["gadgets"].items():
            for better in OUTCOMES[:OUTCOMES.index(result["outcome"])]:
                edited = copy.deepcopy(data)
                edited["nodes"][n]["gadgets"][gadget]["outcome"] = better
                edits.append((f"nodes[{n}].gadgets.{gadget}.outcome", edited))
    for f, finding in enumerate(data["findings"]):
        for lower in SEVERITIES[SEVERITIES.index(finding["severity"]) + 1:]:
            edited = copy.deepcopy(data)
            edited["findings"][f]["severity"] = lower
            edits.append((f"findings[{f}].severity", edited))
        edited = copy.deepcopy(data)
        del edited["findings"][f]
        edits.append(("checks", edited))
    for u in range(len(data["unknowns"])):
        edited = copy.deepcopy(data)
        del edited["unknowns"][u]
        edits.append(("unknowns", edited))
    return edits


@pytest.fixture(scope="module")
def judged_audits() -> dict[str, dict]:
    return {name: _audit_data(name) for name in JUDGED}


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_edit_of_a_derived_field_is_believed(judged_audits, data) -> None:
    """Whatever a forger edits (the verdict, a count, a gadget outcome, a severity, a
    finding or an unknown removed), the audit no longer loads: even an edit that keeps the
    verdict (a count) is refused, and the error names the field it found first."""
    name = data.draw(st.sampled_from(JUDGED))
    assert audit_from_data(copy.deepcopy(judged_audits[name]), path="audit.json")
    edits = _edits(judged_audits[name])
    field, edited = data.draw(st.sampled_from(edits))
    with pytest.raises(InputError) as caught:
        audit_from_data(edited, path="audit.json")
    assert caught.value.field and "edited" in caught.value.message
    if field == "verdict":
        assert caught.value.field == "verdict"


def test_a_finding_that_names_a_playbook_the_audit_lacks_is_refused(judged_audits) -> None:
    data = copy.deepcopy(judged_audits["row4-upgrade-trap"])
    named = next(f for f in data["findings"] if f["remediation"])
    del data["playbooks"][named["remediation"][0]]
    with pytest.raises(InputError, match="does not hold"):
        audit_from_data(data, path="audit.json")


def _portfolio(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    done = invoke("portfolio", FACTS / "row4-upgrade-trap.json",
                  FACTS / "row3-ec-signed-ecdsa.json", "--phase", "post", "--out", out)
    assert done.returncode == 1, done.stderr
    return out


def test_a_portfolio_is_judged_again_from_its_audits(tmp_path) -> None:
    before, after = _portfolio(tmp_path, "before"), _portfolio(tmp_path, "after")
    assert invoke("diff", before, after).returncode == 1
    roll_up = json.loads((after / "portfolio.json").read_text())
    entry = next(c for c in roll_up["clusters"] if c["verdict"] == "no_go")

    # the portfolio's line for a cluster edited to GO, consistently within the file
    forged = tmp_path / "forged"
    shutil.copytree(after, forged)
    edited = copy.deepcopy(roll_up)
    for cluster in edited["clusters"]:
        cluster.update(verdict="go", exit_code=0, errors=0)
    edited.update(verdict_counts={v: (2 if v == "go" else 0) for v in VERDICTS},
                  worst_verdict="go", exit_code=0)
    _write(forged / "portfolio.json", edited)
    _one_line_refusal(invoke("diff", before, forged), "portfolio.json", "verdict")

    # the roll-up alone edited: the exit code that CI reads
    _write(forged / "portfolio.json", {**roll_up, "exit_code": 0})
    _one_line_refusal(invoke("diff", before, forged), "portfolio.json", "exit_code")

    # the cluster's own audit edited to GO
    shutil.rmtree(forged)
    shutil.copytree(after, forged)
    audit_path = forged / entry["folder"] / "audit.json"
    _write(audit_path, {**json.loads(audit_path.read_text()), "verdict": "go"})
    _one_line_refusal(invoke("diff", before, forged), "audit.json", "verdict")


# -- facts checked for meaning -------------------------------------------------------------

def _facts(name: str = "row4-upgrade-trap") -> dict:
    return json.loads((FACTS / f"{name}.json").read_text())


def _node_with_endpoints(data: dict, count: int = 2) -> dict:
    return next(n for n in data["nodes"] if len(n["endpoints"]) >= count)


def _duplicate_endpoint(data: dict, first: bool) -> str:
    node = _node_with_endpoints(data)
    copied = copy.deepcopy(node["endpoints"][0])
    copied["handshakes"] = [{**h, "ok": False, "chain": [], "chain_check": None,
                             "name_covered": None, "cn_only": None,
                             "error": {"kind": "refused", "detail": "refused"}}
                            for h in copied["handshakes"]]
    node["endpoints"].insert(0 if first else len(node["endpoints"]), copied)
    return "service"


def _duplicate_node(data: dict, first: bool) -> str:
    copied = copy.deepcopy(data["nodes"][-1])
    copied["host"] = copied["host"].upper() if first else copied["host"]
    data["nodes"].append(copied)
    return "host"


def _duplicate_profile(data: dict, first: bool) -> str:
    endpoint = _node_with_endpoints(data)["endpoints"][0]
    copied = copy.deepcopy(endpoint["handshakes"][0])
    endpoint["handshakes"].insert(0 if first else len(endpoint["handshakes"]), copied)
    return "profile"


def _dangling_chain(data: dict, first: bool) -> str:
    for node in data["nodes"]:
        for endpoint in node["endpoints"]:
            for handshake in endpoint["handshakes"]:
                if handshake["ok"]:
                    handshake["chain"][0 if first else -1] = "ab" * 32
                    return "chain"
    raise AssertionError("no completed handshake")


def _dangling_leaf(data: dict, first: bool) -> str:
    node = data["nodes"][0 if first else -1]
    node["tomcat"]["leaf"] = "cd" * 32
    return "leaf"


def _completed_without_chain(data: dict, first: bool) -> str:
    for node in data["nodes"][:: 1 if first else -1]:
        for endpoint in node["endpoints"]:
            for handshake in endpoint["handshakes"]:
                if handshake["ok"]:
                    handshake["chain"] = []
                    return "chain"
    raise AssertionError("no completed handshake")


def _certificate_misfiled(data: dict, first: bool) -> str:
    keys = sorted(data["certificates"])
    key = keys[0 if first else -1]
    data["certificates"][key]["fingerprint_sha256"] = "ef" * 32
    return "certificates"


MEANINGLESS = {f.__name__.lstrip("_"): f for f in (
    _duplicate_endpoint, _duplicate_node, _duplicate_profile, _dangling_chain, _dangling_leaf,
    _completed_without_chain, _certificate_misfiled)}


@pytest.mark.parametrize("first", [True, False], ids=["first", "last"])
@pytest.mark.parametrize("name", MEANINGLESS)
def test_facts_without_meaning_are_refused_in_one_line(tmp_path, name, first) -> None:
    """A duplicated endpoint, node or handshake profile (first or last: the order must
    not decide), a fingerprint that refers to no certificate, a completed handshake without
    one, a certificate filed under another fingerprint: exit 2, never GO or a crash."""
    data = _facts()
    field = MEANINGLESS[name](data, first)
    path = _write(tmp_path / "facts.json", data)
    for phase in ("post", "pre"):
        args = ("--target-version", "11.5(1)SU1") if phase == "pre" else ()
        _one_line_refusal(invoke("evaluate", path, "--phase", phase, *args), str(path), field)
    out = tmp_path / "portfolio"
    _one_line_refusal(invoke("portfolio", path, "--phase", "post", "--out", out), field)
    assert not out.exists()
    audit = _audit_data("row4-upgrade-trap")
    audit["facts"] = data
    forged = _write(tmp_path / "audit.json", audit)
    _one_line_refusal(invoke("report", forged, "--format", "md"), str(forged), field)


# -- what JSON cannot carry ----------------------------------------------------------------

def _first_handshake(data: dict) -> dict:
    return _node_with_endpoints(data)["endpoints"][0]["handshakes"][0]


@pytest.mark.parametrize("raw, field", [
    ('"elapsed_ms": NaN', "elapsed_ms"), ('"elapsed_ms": Infinity', "elapsed_ms"),
    ('"elapsed_ms": 1e400', "elapsed_ms"), ('"subject_cn": "A\\ud800B"', "subject_cn"),
    ('"subject": "\\udfff"', "subject"), ('"detail": "\\ud83d"', "detail")])
def test_what_json_cannot_carry_is_refused_in_one_line(tmp_path, raw, field) -> None:
    """NaN, infinities (also a number too large for a float) and lone surrogates in a facts
    file: exit 2 naming the field, not a report that writes them back or a crash."""
    data = _facts()
    key = raw.split(":")[0].strip('"')
    if key in ("subject_cn", "subject"):
        target = next(iter(data["certificates"].values()))
    elif key == "detail":
        target = next(h for n in data["nodes"] for e in n["endpoints"]
                      for h in e["handshakes"] if h["error"])["error"]
    else:
        target = _first_handshake(data)
    target[key] = "@@MARK@@"
    text = json.dumps(data).replace(f'"{key}": "@@MARK@@"', raw)
    path = tmp_path / "facts.json"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "audit.json"
    _one_line_refusal(invoke("evaluate", path, "--phase", "post", "--out", out), str(path),
                      field)
    assert not out.exists()
    audit = _audit_data("row4-upgrade-trap")
    forged = tmp_path / "forged-audit.json"
    forged.write_text(json.dumps({**audit, "facts": "@@FACTS@@"}).replace('"@@FACTS@@"', text),
                      encoding="utf-8")
    _one_line_refusal(invoke("report", forged, "--format", "json"), str(forged), field)


def test_every_json_the_package_writes_refuses_nan() -> None:
    """Every ``json.dump``/``json.dumps`` call in the package passes ``allow_nan=False``: a
    NaN is an error where it is written, never a file that no JSON parser reads."""
    missing = []
    for path in sorted((ROOT / "auditor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dump", "dumps")
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "json"
                    and not any(k.arg == "allow_nan" and isinstance(k.value, ast.Constant)
                                and k.value.value is False for k in node.keywords)):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not missing, missing
