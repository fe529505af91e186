"""The benchmark's arithmetic: medians, the leaf comparison with sslyze, the targets, the
results file and the table (bench/summary.py); nothing here is timed."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from auditor.collect.certs import fingerprint
from auditor.lab import pki
from bench.summary import (
    Sample,
    audit_leaves,
    markdown_table,
    sha256_pem,
    summarise,
    targets,
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
    assert met == {"cluster_vs_sslyze": False, "cluster_vs_floor": True,
                   "scale_100_vs_sslyze": True, "scale_1000_wall": True,
                   "scale_1000_peak_rss": True, "scale_linear": True, "silent_cost": True}


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
