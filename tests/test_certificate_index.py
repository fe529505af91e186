"""The HTML report (and the PDF printed from it) prints each distinct certificate once, by
fingerprint, with every place it was seen beside it; ``--no-pem`` leaves the PEM blocks
out and keeps the fingerprints and fields."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from audits import all_lab_audits, lab_audit
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.lab import SCENARIOS
from auditor.model.audit import Audit, load_audit, save_audit
from auditor.render import ReportMeta, render
from auditor.render.context import certificate_index

META = ReportMeta(ticket="CHG0042", generated_at="2026-01-01T00:00:00Z")
PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def pem_fingerprints(text: str) -> Counter[str]:
    """How often each certificate's PEM block is printed, by SHA-256 fingerprint."""
    return Counter(hashlib.sha256(base64.b64decode("".join(body.split()))).hexdigest()
                   for body in PEM.findall(text))


def places_in_facts(audit: Audit) -> dict[str, set[tuple[str, int, int, str]]]:
    """Every (node, port, position in the chain, client profile) each fingerprint was sent
    at, read from the facts directly."""
    out: dict[str, set[tuple[str, int, int, str]]] = {}
    for node in audit.facts.nodes:
        for endpoint in node.endpoints:
            for hs in endpoint.handshakes:
                if not hs.ok:
                    continue
                for index, fp in enumerate(hs.chain):
                    if audit.facts.certificate(fp) is not None:
                        out.setdefault(fp, set()).add(
                            (node.host, endpoint.port, index, hs.profile))
    return out


def installed_in_facts(audit: Audit) -> dict[str, set[str]]:
    """Each fingerprint the VOS CLI read on a node -> those nodes."""
    out: dict[str, set[str]] = {}
    for node in audit.facts.nodes:
        installed = node.installed
        if installed is None:
            continue
        fps = [installed.tomcat, installed.tomcat_ecdsa, installed.ipsec,
               *(fp for entry in installed.trust for fp in entry.certificates)]
        for fp in fps:
            if fp and audit.facts.certificate(fp) is not None:
                out.setdefault(fp, set()).add(node.host)
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_certificate_is_printed_once_with_every_place_it_was_seen(scenario: str) -> None:
    audit = lab_audit(scenario)
    html = render(audit, "html", META)
    sent, read = places_in_facts(audit), installed_in_facts(audit)
    printed = pem_fingerprints(html)
    assert set(printed) == set(sent) | set(read)
    assert all(count == 1 for count in printed.values()), printed
    section = html[html.index('id="certificates"'):]
    for fp in set(sent) | set(read):
        article = section[section.index(fp):]
        article = article[:article.index("</article>")]
        for host, port, index, _profile in sent.get(fp, ()):
            position = "leaf" if index == 0 else f"chain {index + 1}"
            assert re.search(rf"{re.escape(host)} · [^<]*, port {port} · {position}",
                             article), (fp, host, port, position)
        for host in read.get(fp, ()):
            assert re.search(rf"{re.escape(host)} · (installed as|tomcat-trust entry) ",
                             article), (fp, host)
        assert article.count("-----BEGIN CERTIFICATE-----") == 1


def test_no_pem_keeps_every_fingerprint_and_prints_no_pem_block() -> None:
    for scenario, audit in all_lab_audits().items():
        html = render(audit, "html", replace(META, pem=False))
        assert "-----BEGIN CERTIFICATE-----" not in html, scenario
        assert "--no-pem" in html, scenario
        section = html[html.index('id="certificates"'):]
        for fp in {*places_in_facts(audit), *installed_in_facts(audit)}:
            assert fp in section, (scenario, fp)


def test_the_plan_follows_the_verdict_and_the_certificates_come_last() -> None:
    html = render(lab_audit("row4-upgrade-trap"), "html", META)
    order = ['id="verdict"', 'id="plan"', 'id="ticket"', 'id="gadgets"', 'id="faq"',
             'id="findings"', 'id="evidence"', 'id="certificates"']
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    evidence = html[html.index('id="evidence"'):html.index('id="certificates"')]
    assert "-----BEGIN CERTIFICATE-----" not in evidence
    assert 'href="#cert-1"' in evidence


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_index_lists_each_fingerprint_once_with_exactly_the_places_it_was_sent(
        data: st.DataObject) -> None:
    """Any facts in which any endpoint sends any chain of the facts' certificates (repeats
    within and across chains included): one entry per fingerprint, and its places are
    exactly where the facts say it was sent."""
    audit = lab_audit("row4-upgrade-trap")
    pool = sorted(audit.facts.certificates)
    nodes = []
    for node in audit.facts.nodes:
        endpoints = []
        for endpoint in node.endpoints:
            handshakes = tuple(
                replace(hs, chain=tuple(data.draw(st.lists(st.sampled_from(pool), min_size=1,
                                                           max_size=4))))
                if hs.ok else hs for hs in endpoint.handshakes)
            endpoints.append(replace(endpoint, handshakes=handshakes))
        nodes.append(replace(node, endpoints=tuple(endpoints)))
    shuffled = replace(audit, facts=replace(audit.facts, nodes=tuple(nodes)))
    index = certificate_index(shuffled)
    fingerprints = [entry["fingerprint"] for entry in index]
    assert len(fingerprints) == len(set(fingerprints))
    assert [entry["number"] for entry in index] == list(range(1, len(index) + 1))
    expected = places_in_facts(shuffled)
    assert set(fingerprints) == set(expected)
    titles = {"browser": "browser", "ecdsa_only": "ECDSA-only client",
              "rsa_only": "RSA-only client"}
    for entry in index:
        listed = {(p["node"], p["where"].rsplit("port ", 1)[1], p["position"], profile)
                  for p in entry["places"] for profile in p["profiles"]}
        wanted = {(host, str(port), "leaf" if i == 0 else f"chain {i + 1}", titles[profile])
                  for host, port, i, profile in expected[entry["fingerprint"]]}
        assert listed == wanted
        keys = [(p["node"], p["where"], p["position"]) for p in entry["places"]]
        assert len(keys) == len(set(keys))  # a place once, with every profile it went to


def test_report_no_pem_writes_html_without_pem_blocks(tmp_path: Path) -> None:
    audit_file = save_audit(lab_audit("row4-upgrade-trap"), tmp_path / "audit.json")
    done = invoke("report", audit_file, "--format", "html", "--no-pem", "--out",
                  tmp_path / "r.html")
    assert done.returncode == 1, done.stderr  # the verdict's exit code, as without it
    html = (tmp_path / "r.html").read_text()
    assert "-----BEGIN CERTIFICATE-----" not in html and 'id="certificates"' in html
    done = invoke("report", audit_file, "--format", "html", "--out", tmp_path / "p.html")
    assert "-----BEGIN CERTIFICATE-----" in (tmp_path / "p.html").read_text()


def test_an_offline_audit_with_no_pem_names_the_pem_folder_and_prints_no_pem(
        tmp_path: Path) -> None:
    from test_offline_audit import INVENTORY, LAB, downloads

    folder = downloads("row4-upgrade-trap", tmp_path / "downloads")
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm=""))
    for name, extra in (("with", []), ("without", ["--no-pem"])):
        done = invoke("audit", "--inventory", inventory, "--from-pem", folder, "--phase",
                      "post", "--agent-trust", LAB / "agent-trust.pem", "--out",
                      tmp_path / name, *extra)
        assert done.returncode == 1, done.stderr
    judged = [load_audit(tmp_path / name / "audit.json") for name in ("with", "without")]
    assert judged[0].verdict == judged[1].verdict  # the judgement does not depend on it
    assert judged[0].findings == judged[1].findings
    with_pem = (tmp_path / "with" / "report.html").read_text()
    without = (tmp_path / "without" / "report.html").read_text()
    printed = pem_fingerprints(with_pem)
    assert printed and all(count == 1 for count in printed.values())
    assert "· PEM folder (declared)" in with_pem
    assert "BEGIN CERTIFICATE" not in without
    assert all(fp in without for fp in printed)


def test_no_pem_is_a_site_setting_too(tmp_path: Path) -> None:
    audit_file = save_audit(lab_audit("row4-upgrade-trap"), tmp_path / "audit.json")
    done = invoke("report", audit_file, "--format", "html", "--out", tmp_path / "r.html",
                  env={**os.environ, "UCCX_AUDIT_NO_PEM": "1"})
    assert done.returncode == 1, done.stderr
    assert "BEGIN CERTIFICATE" not in (tmp_path / "r.html").read_text()
