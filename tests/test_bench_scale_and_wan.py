"""Issue 25's benchmark entries: portfolio_1000, the 1,000-endpoint sizes and the WAN rows
(bench/summary.py, bench/run.py), and the committed results that hold them. Nothing here
is timed: the figures are given, or read from bench/results/latest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import run
from bench.summary import (
    PORTFOLIO_HEADING,
    SIZES_HEADING,
    TOMCAT_HEADING,
    WAN_HEADING,
    Sample,
    markdown_table,
    portfolio_markdown,
    portfolio_targets,
    sizes_1000,
    summarise,
    targets,
    wan_markdown,
    wan_section,
)

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"
A = "a" * 64
WHERE = {("127.0.0.1", 9000): frozenset({A})}


def _wan_step(delay: float, audit: float, sslyze: float, floor: float) -> dict:
    step = summarise({"audit": [Sample(audit, 60.0, 0.3, 0)],
                      "sslyze": [Sample(sslyze, 60.0, 0.3, 0)],
                      "floor": [Sample(floor, 40.0, 0.1, 0)]}, endpoints=12, expected=WHERE,
                     ours=WHERE, theirs=WHERE, floor_leaves={A})
    return {**step, "one_way_ms": delay}


def test_wan_rows_say_how_much_each_contender_grew_over_no_delay() -> None:
    section = wan_section([_wan_step(0, 0.5, 0.9, 0.2), _wan_step(50, 0.75, 1.5, 0.45),
                           _wan_step(100, 1.0, 2.1, 0.7)], runs={"floor_per_host": 4})
    rows = section["rows"]
    assert [r["one_way_ms"] for r in rows] == [0, 50, 100]
    assert [r["audit_extra_s"] for r in rows] == [0.0, 0.25, 0.5]
    assert [r["floor_extra_s"] for r in rows] == [0.0, 0.25, 0.5]
    assert rows[2]["sslyze_extra_s"] == 1.2
    target = section["targets"]["wan_growth_vs_floor"]
    assert target["value"] == 1.0 and target["met"] is True
    assert len(section["details"]) == 3 and section["floor_per_host"] == 4
    table = wan_markdown(section)
    assert table.startswith(WAN_HEADING + "\n")
    assert "| 100 ms | 12 | 1 s | 0.5 s | 2.1 s | 1.2 s | 0.7 s | 0.5 s |" in table


@given(floor_growth=st.floats(0.01, 2.0), factor=st.floats(0.0, 4.0))
def test_the_wan_target_is_met_exactly_when_the_audit_grows_no_more_than_1_5x_the_floor(
        floor_growth: float, factor: float) -> None:
    audit_growth = floor_growth * factor
    section = wan_section([_wan_step(0, 0.5, 0.9, 0.2),
                           _wan_step(100, 0.5 + audit_growth, 2.0, 0.2 + floor_growth)],
                          runs={})
    row = section["rows"][-1]
    ratio = round(row["audit_extra_s"] / row["floor_extra_s"], 2)
    assert section["targets"]["wan_growth_vs_floor"]["value"] == ratio
    assert section["targets"]["wan_growth_vs_floor"]["met"] is (ratio <= 1.5)


def test_wan_leaves_that_differ_from_sslyze_miss_the_target() -> None:
    other = {("127.0.0.1", 9000): frozenset({"b" * 64})}
    wrong = summarise({"audit": [Sample(0.6, 1, 1, 0)], "sslyze": [Sample(1, 1, 1, 0)],
                       "floor": [Sample(0.3, 1, 1, 0)]}, endpoints=12, expected=WHERE,
                      ours=WHERE, theirs=other, floor_leaves={A})
    section = wan_section([_wan_step(0, 0.5, 0.9, 0.2), {**wrong, "one_way_ms": 50}], runs={})
    assert section["rows"][1]["leaves_as_expected"] is False
    assert section["targets"]["wan_growth_vs_floor"]["met"] is False


def _portfolio(wall: float, rss: float, go: int = 1000) -> dict:
    step = {"clusters": 1000, "endpoints": 12000, "wall_s": wall, "peak_rss_mb": rss,
            "cpu_s": wall, "exit_code": 0 if go == 1000 else 1,
            "verdicts": {"go": go, "no_go": 1000 - go},
            "every_cluster_go": go == 1000, "found_all_expected_leaves": True}
    return {**step, "targets": portfolio_targets(step)}


@pytest.mark.parametrize(("wall", "rss", "go", "met"), [
    (59.9, 249.0, 1000, {"wall_s": True, "peak_rss_mb": True, "every_cluster_go": True}),
    (60.0, 100.0, 1000, {"wall_s": False, "peak_rss_mb": True, "every_cluster_go": True}),
    (30.0, 250.0, 1000, {"wall_s": True, "peak_rss_mb": False, "every_cluster_go": True}),
    (30.0, 100.0, 999, {"wall_s": False, "peak_rss_mb": False, "every_cluster_go": False}),
])
def test_portfolio_targets_are_60_s_250_mb_and_every_cluster_go(
        wall: float, rss: float, go: int, met: dict) -> None:
    step = _portfolio(wall, rss, go)
    assert {name: t["met"] for name, t in step["targets"].items()} == met
    table = portfolio_markdown("portfolio_1000", step)
    assert table.startswith(PORTFOLIO_HEADING + "\n")
    assert f"| portfolio_1000 | 1000 | 12000 | {wall:g} s | {rss:g} MB |" in table


def _scale_1000(audit_json: int, rss: float) -> dict:
    return {"endpoints": 1000, "audit": {"wall_s": 7.0, "peak_rss_mb": rss, "cpu_s": 7.0},
            "leaves": {"audit_found_all_expected": True, "same_leaves_as_sslyze": None},
            "audit_json_bytes": audit_json, "facts_json_bytes": 2 * 2**20}


@pytest.mark.parametrize(("audit_json", "rss", "met"), [
    (2 * 2**20, 110.0, (True, True)), (3 * 2**20, 110.0, (False, True)),
    (10 * 2**20, 154.0, (False, False)), (2**20, 120.0, (True, False))])
def test_the_1000_endpoint_sizes_are_audit_json_under_3_mb_and_a_peak_under_120_mb(
        audit_json: int, rss: float, met: tuple[bool, bool]) -> None:
    entry = sizes_1000(_scale_1000(audit_json, rss), measured={"measured_at": "now"})
    assert (entry["targets"]["audit_json"]["met"], entry["targets"]["peak_rss"]["met"]) == met
    assert entry["audit_json_bytes"] == audit_json and entry["measured_at"] == "now"
    scale = [{**_scale_1000(0, 0), "endpoints": 10, "audit": {"wall_s": 0.4,
                                                              "peak_rss_mb": 60.0,
                                                              "cpu_s": 0.4}},
             {**_scale_1000(0, 0), "endpoints": 100,
              "audit": {"wall_s": 1.0, "peak_rss_mb": 70.0, "cpu_s": 1.0}},
             _scale_1000(audit_json, rss)]
    silent = {"audit": {"wall_s": 6.0}, "timeout_s": 5.0}
    cluster = {"leaves": {"same_leaves_as_sslyze": True}}
    found = targets(cluster, scale, silent)
    assert (found["scale_1000_audit_json"]["met"], found["scale_1000_peak_rss"]["met"]) == met
    assert "cluster_vs_floor" not in found


def test_rtt_takes_one_way_delays_and_always_measures_zero() -> None:
    assert run.delays("50,100") == [0.0, 50.0, 100.0]
    assert run.delays("100,0,50,50") == [0.0, 50.0, 100.0]
    for bad in ("", "-5", "fast", "9999"):
        with pytest.raises(Exception, match="expected milliseconds"):
            run.delays(bad)


def test_the_committed_results_hold_portfolio_1000_the_sizes_and_the_wan_rows() -> None:
    results = json.loads((RESULTS / "latest.json").read_text(encoding="utf-8"))
    portfolio = results["portfolio_1000"]
    assert portfolio["clusters"] == 1000 and portfolio["every_cluster_go"]
    assert set(portfolio["targets"]) == {"wall_s", "peak_rss_mb", "every_cluster_go"}
    assert len(portfolio["load_average_at_start"]) == 3
    sizes = results["sizes_1000"]
    assert sizes["endpoints"] == 1000 and sizes["audit_json_bytes"] > 0
    assert set(sizes["targets"]) == {"audit_json", "peak_rss"}
    wan = results["wan"]
    assert [row["one_way_ms"] for row in wan["rows"]] == [0, 50, 100]
    assert all({"audit_wall_s", "sslyze_wall_s", "floor_wall_s"} <= set(row)
               for row in wan["rows"])
    assert wan["floor_per_host"] == 4
    assert "cluster_vs_floor" not in results["targets"]
    assert "cluster_vs_floor" not in results["tomcat"]["targets"]
    assert results["tomcat"]["targets"]["cluster_vs_sslyze"]["goal"].startswith(">= 1.4x")
    # latest.md is what summary.py makes of latest.json
    table = (RESULTS / "latest.md").read_text(encoding="utf-8")
    assert table == markdown_table(results)
    for heading in (SIZES_HEADING, PORTFOLIO_HEADING, WAN_HEADING, TOMCAT_HEADING):
        assert heading in table
