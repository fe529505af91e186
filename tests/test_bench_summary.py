"""The benchmark's arithmetic: medians, the leaf comparison with sslyze, the targets, the
results file and the table (bench/summary.py); nothing here is timed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from auditor.collect.certs import fingerprint
from auditor.lab import pki
from bench.summary import (
    TOMCAT_HEADING,
    Sample,
    audit_leaves,
    markdown_table,
    sha256_pem,
    summarise,
    targets,
    tomcat_markdown,
    tomcat_section,
    update_entry,
    with_section,
    write_results,
)

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _samples(*walls: float) -> list[Sample]:
    return [Sample(w, 50.0 + i, w / 2, 0) for i, w in enumerate(walls)]


def test_sha256_of_a_pem_is_the_fingerprint_in_facts() -> None:
    cert = pki.hierarchies().ec_root.cert
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert sha256_pem(pem) == fingerprint(cert)


def test_audit_leaves_are_the_union_over_profiles_per_endpoint(tmp_path: Path) -> None:
    facts = {"nodes": [{"address": "127.0.0.1", "endpoints": [
        {"port": 1, "handshakes": [{"ok": True, "chain": [A, C]},
                                   {"ok": True, "chain": [B]},
                                   {"ok": False, "chain": []}]},
        {"port": 2, "handshakes": [{"ok": False, "chain": []}]}]}]}
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    assert audit_leaves(path) == {("127.0.0.1", 1): {A, B}, ("127.0.0.1", 2): frozenset()}


def test_medians_ratios_and_leaf_agreement() -> None:
    where = ("127.0.0.1", 1)
    step = summarise({"audit": _samples(0.5, 0.3, 0.4), "sslyze": _samples(2.0, 1.0, 1.2),
                      "floor": _samples(0.2, 0.25, 0.3)}, endpoints=1,
                     expected={where: frozenset({A, B})}, ours={where: frozenset({A, B})},
                     theirs={where: frozenset({A, B})}, floor_leaves={A, B})
    assert step["audit"]["wall_s"] == 0.4
    assert step["vs_sslyze_speedup"] == 3.33  # median of 2.0/0.5, 1.0/0.3, 1.2/0.4
    assert step["vs_floor_ratio"] == 1.33  # median of 0.5/0.2, 0.3/0.25, 0.4/0.3
    assert step["leaves"] == {"expected": 2, "audit_found_all_expected": True,
                              "sslyze_found_all_expected": True,
                              "same_leaves_as_sslyze": True, "floor_found_all_expected": True}


def test_an_endpoint_one_side_left_out_counts_as_different_leaves() -> None:
    one, two = ("127.0.0.1", 1), ("127.0.0.1", 2)
    step = summarise({"audit": _samples(1.0)}, endpoints=2,
                     expected={one: frozenset({A}), two: frozenset({B})},
                     ours={one: frozenset({A}), two: frozenset({B})},
                     theirs={one: frozenset({A})})
    assert step["leaves"]["same_leaves_as_sslyze"] is False
    assert step["leaves"]["sslyze_found_all_expected"] is False


def _step(endpoints: int, wall: float, rss: float = 60.0, sslyze: float | None = None) -> dict:
    step = {"endpoints": endpoints, "audit": {"wall_s": wall, "peak_rss_mb": rss, "cpu_s": 1.0},
            "leaves": {"audit_found_all_expected": True, "same_leaves_as_sslyze": None}}
    if sslyze is not None:
        step["sslyze"] = {"wall_s": sslyze, "peak_rss_mb": 90.0, "cpu_s": 2.0}
        step["vs_sslyze_speedup"] = round(sslyze / wall, 2)
        step["leaves"]["same_leaves_as_sslyze"] = True
    return step


def _results_inputs() -> tuple[dict, list[dict], dict]:
    cluster = {**_step(12, 0.4, sslyze=0.6), "floor": {"wall_s": 0.3, "peak_rss_mb": 30.0,
                                                       "cpu_s": 0.2},
               "vs_floor_ratio": 1.33}
    scale = [_step(10, 0.4), _step(100, 1.3, sslyze=10.0), _step(1000, 10.3, rss=150.0)]
    silent = {**_step(100, 6.0), "silent_endpoints": 50, "timeout_s": 5.0}
    return cluster, scale, silent


def test_targets_say_which_goals_are_met() -> None:
    cluster, scale, silent = _results_inputs()
    met = {name: t["met"] for name, t in targets(cluster, scale, silent).items()}
    # cluster_vs_floor is retired (issue 25); 1,000 endpoints must peak under 120 MB
    assert met == {"cluster_vs_sslyze": False, "scale_100_vs_sslyze": True,
                   "scale_1000_wall": True, "scale_1000_peak_rss": False,
                   "scale_linear": True, "silent_cost": True}


def test_growth_faster_than_linear_misses_the_linear_target() -> None:
    cluster, scale, silent = _results_inputs()
    scale[2] = _step(1000, 40.0)
    assert targets(cluster, scale, silent)["scale_linear"]["met"] is False


def test_results_file_has_the_headline_keys_and_the_table_its_rows(tmp_path: Path) -> None:
    cluster, scale, silent = _results_inputs()
    machine = {"cpu": "test cpu", "cores": 2, "memory_gb": 24.0, "python": "3.11",
               "openssl": "OpenSSL 3", "sslyze": "6.3.1", "load_average_at_start": [0.5, 0, 0]}
    path = tmp_path / "results" / "latest.json"
    latency = {**cluster, "latency_ms": 50.0}
    results = write_results(path, cluster=cluster, scale=scale,
                            silent=silent, machine=machine, quick=False, duration_s=12.0,
                            latency=latency)
    assert json.loads(path.read_text()) == results
    for key in ("cluster_audit_wall_s", "sslyze_wall_s", "vs_sslyze_speedup", "floor_wall_s",
                "vs_floor_ratio", "same_leaves_as_sslyze", "scale", "machine"):
        assert key in results
    assert [row["endpoints"] for row in results["scale"]] == [10, 100, 1000, 100]
    assert results["scale"][1]["sslyze_wall_s"] == 10.0
    assert all({"endpoints", "wall_s", "peak_rss_mb"} <= set(row) for row in results["scale"])
    table = markdown_table(results)
    assert "| cluster audit, all ports, 4 reports | 12 | 0.4 s |" in table
    assert "| scale 100, 50 silent (timeout 5 s) |" in table
    assert "| cluster, servers answer 50 ms late | 12 |" in table
    assert "| cluster_vs_sslyze |" in table and "**no**" in table


# -- the Tomcat section (issue 15) --------------------------------------------------------

HEADLINE = ("cluster_audit_wall_s", "sslyze_wall_s", "vs_sslyze_speedup", "floor_wall_s",
            "vs_floor_ratio")


def _tomcat_step(endpoints: int, audit: Sequence[float], sslyze: Sequence[float],
                 floor: Sequence[float]) -> dict:
    where = {("127.0.0.101", 8000 + i): frozenset({A}) for i in range(endpoints)}
    return summarise({"audit": _samples(*audit), "sslyze": _samples(*sslyze),
                      "floor": _samples(*floor)}, endpoints=endpoints, expected=where,
                     ours=where, theirs=where, floor_leaves={A})


def _tomcat(cluster_floor: Sequence[float] = (0.4, 0.4, 0.4)) -> dict:
    cluster = _tomcat_step(8, (0.5, 0.6, 0.55), (1.2, 1.3, 1.0), cluster_floor)
    scale = _tomcat_step(100, (1.0, 1.1, 0.9), (5.5, 5.0, 6.0), (0.8, 0.8, 0.8))
    return tomcat_section(cluster, scale, server={"version": "Apache Tomcat/10.1.60",
                                                  "jvm": "17", "tls": "JSSE"},
                          runs={"measured_at": "2026-11-29T16:00:00Z",
                                "load_average_at_start": [3.5, 2.0, 1.0],
                                "load_average_at_end": [4.25, 2.0, 1.0]})


def test_tomcat_section_has_issue_15s_figures_for_the_cluster_and_for_scale_100() -> None:
    section = _tomcat()
    for key in HEADLINE:
        assert key in section and key in section["scale_100"]
    assert section["endpoints"] == 8 and section["scale_100"]["endpoints"] == 100
    assert section["cluster_audit_wall_s"] == 0.55
    assert section["vs_sslyze_speedup"] == 2.17  # median of 1.2/0.5, 1.3/0.6, 1.0/0.55
    assert section["vs_floor_ratio"] == 1.38  # median of 0.5/0.4, 0.6/0.4, 0.55/0.4
    assert section["scale_100"]["vs_sslyze_speedup"] == 5.5
    assert section["same_leaves_as_sslyze"] and section["found_all_expected_leaves"]
    assert section["load_average_at_start"] == [3.5, 2.0, 1.0]
    assert set(section["details"]) == {"cluster", "scale_100"}


def test_tomcat_targets_are_1_4x_sslyze_and_5x_sslyze_at_100_and_no_floor_target() -> None:
    met = {name: t["met"] for name, t in _tomcat()["targets"].items()}
    assert met == {"cluster_vs_sslyze": True, "scale_100_vs_sslyze": True}
    where = {("127.0.0.101", 8000): frozenset({A})}

    def cluster(audit: Sequence[float], sslyze: Sequence[float]) -> dict:
        return summarise({"audit": _samples(*audit), "sslyze": _samples(*sslyze),
                          "floor": _samples(0.1, 0.1, 0.1)}, endpoints=1, expected=where,
                         ours=where, theirs=where, floor_leaves={A})

    scale = _tomcat_step(100, (1.0, 1.1, 0.9), (5.5, 5.0, 6.0), (0.8, 0.8, 0.8))
    just = tomcat_section(cluster((1.0, 1.0, 1.0), (1.4, 1.4, 1.4)), scale, server={}, runs={})
    short = tomcat_section(cluster((1.0, 1.0, 1.0), (1.3, 1.35, 1.3)), scale, server={},
                           runs={})
    assert just["targets"]["cluster_vs_sslyze"]["met"] is True
    assert short["targets"]["cluster_vs_sslyze"]["met"] is False
    assert just["vs_floor_ratio"] == 10.0  # still a figure, no longer a target


def test_tomcat_speed_with_other_leaves_than_sslyze_misses_the_target() -> None:
    where = ("127.0.0.101", 8443)
    cluster = summarise({"audit": _samples(0.1), "sslyze": _samples(1.0),
                         "floor": _samples(0.1)}, endpoints=1,
                        expected={where: frozenset({A, B})}, ours={where: frozenset({A})},
                        theirs={where: frozenset({A, B})}, floor_leaves={A, B})
    section = tomcat_section(cluster, cluster, server={}, runs={})
    assert section["same_leaves_as_sslyze"] is False
    assert section["found_all_expected_leaves"] is False
    assert section["targets"]["cluster_vs_sslyze"]["met"] is False


def test_tomcat_markdown_shows_both_steps_the_targets_and_the_load() -> None:
    table = tomcat_markdown(_tomcat())
    assert table.startswith(TOMCAT_HEADING + "\n")
    assert "| one FAQ-row-4 cluster, every port it serves, 4 reports | 8 | 0.55 s |" in table
    assert "| scale 100, one Tomcat | 100 | 1 s |" in table
    assert "| tomcat cluster_vs_sslyze | >= 1.4x faster than sslyze --certinfo, same leaves " \
        "| 2.17 | yes |" in table
    assert "cluster_vs_floor" not in table
    assert "Apache Tomcat/10.1.60" in table
    assert "load average 3.5 at the start, 4.2 at the end" in table


def test_the_whole_table_ends_with_the_tomcat_section_when_there_is_one(tmp_path: Path) -> None:
    cluster, scale, silent = _results_inputs()
    machine = {"cpu": "test cpu", "cores": 2, "memory_gb": 24.0, "python": "3.11",
               "openssl": "OpenSSL 3", "sslyze": "6.3.1", "load_average_at_start": [0.5, 0, 0]}
    results = write_results(tmp_path / "latest.json", cluster=cluster, scale=scale,
                            silent=silent, machine=machine, quick=False, duration_s=1.0)
    assert TOMCAT_HEADING not in markdown_table(results)
    results["tomcat"] = _tomcat()
    table = markdown_table(results)
    assert table.index("| cluster audit, all ports, 4 reports |") < table.index(TOMCAT_HEADING)
    assert table.endswith(tomcat_markdown(results["tomcat"]))


def test_a_section_is_replaced_in_place_and_everything_else_kept_byte_for_byte() -> None:
    before = ("| lab | table |\n\nfootnote\n\n" + TOMCAT_HEADING + "\n\nold rows\n\n"
              "## Another section\n\nits text\n")
    after = with_section(before, TOMCAT_HEADING, TOMCAT_HEADING + "\n\nnew rows\n")
    assert after == ("| lab | table |\n\nfootnote\n\n" + TOMCAT_HEADING + "\n\nnew rows\n\n"
                     "## Another section\n\nits text\n")
    assert with_section(after, TOMCAT_HEADING, TOMCAT_HEADING + "\n\nnew rows\n") == after


def test_a_missing_section_is_appended_after_a_blank_line() -> None:
    section = TOMCAT_HEADING + "\n\nrows\n"
    assert with_section("| lab |\n", TOMCAT_HEADING, section) == "| lab |\n\n" + section
    assert with_section("", TOMCAT_HEADING, section) == section


def test_running_one_step_alone_leaves_every_other_entry_and_the_lab_table_as_they_were(
        tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    others = {"generated_at": "2026-11-01T00:00:00Z", "cluster_audit_wall_s": 0.35,
              "details": {"cluster": {"endpoints": 12}}, "portfolio_300": {"wall_s": 21.4}}
    path.write_text(json.dumps(others, indent=2) + "\n")
    lab_table = "| measurement | endpoints |\n|---|---:|\n| cluster | 12 |\n\nMedians.\n"
    path.with_suffix(".md").write_text(lab_table)
    first, second = _tomcat(), _tomcat(cluster_floor=(0.3, 0.3, 0.3))
    update_entry(path, "tomcat", first, markdown=(TOMCAT_HEADING, tomcat_markdown(first)))
    update_entry(path, "tomcat", second, markdown=(TOMCAT_HEADING, tomcat_markdown(second)))
    assert json.loads(path.read_text()) == {**others, "tomcat": second}
    assert path.with_suffix(".md").read_text() == lab_table + "\n" + tomcat_markdown(second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "latest.md"]


def test_the_tomcat_step_serves_the_test_suites_tomcat_and_100_endpoints_as_one_cluster(
        ) -> None:
    from auditor.model.cluster import Node
    from bench import run

    helper = run.tomcat_helper()
    assert Path(helper.__file__) == Path(__file__).parent / "tomcat.py"
    assert helper.Tomcat.add_site is run.tomcat_helper().Tomcat.add_site  # loaded once
    scenario = run.tomcat_scale_scenario(100)
    roles = [spec.role for spec in scenario.nodes]
    assert roles[:2] == ["uccx-publisher", "uccx-subscriber"]
    # a publisher and a subscriber of 5 default ports each, then SocialMiner nodes of 2
    assert set(roles[2:]) == {"socialminer"} and len(roles) == 47
    assert sum(len(Node(s.host, s.role).endpoints()) for s in scenario.nodes) == 100
    assert {(s.tomcat, s.tomcat_ecdsa) for s in scenario.nodes} == {
        ("rsa_ca_signed", "self_signed")}  # FAQ row 4, as the cluster step
    with pytest.raises(ValueError, match="101 endpoints"):
        run.tomcat_scale_scenario(101)
