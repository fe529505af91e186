"""The benchmark's arithmetic and output: medians, leaf comparison, targets, the table.

Pure functions over measured samples, so that they are tested without running anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Where = tuple[str, int]


@dataclass(frozen=True)
class Sample:
    """One measured process: wall seconds, peak resident MB, CPU seconds, exit code."""

    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    returncode: int


def sha256_pem(pem: str) -> str:
    """SHA-256 of a PEM certificate's DER, lower-case hex (as in facts.json)."""
    body = re.sub(r"-----[^-]+-----|\s", "", pem)
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def audit_leaves(facts_path: Path) -> dict[Where, frozenset[str]]:
    """Per endpoint (address, port), the leaves that any client profile received."""
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    found: dict[Where, frozenset[str]] = {}
    for node in facts["nodes"]:
        for endpoint in node["endpoints"]:
            leaves = frozenset(h["chain"][0] for h in endpoint["handshakes"]
                               if h["ok"] and h["chain"])
            found[(node["address"], endpoint["port"])] = leaves
    return found


def _stats(samples: Sequence[Sample]) -> dict[str, Any]:
    return {
        "wall_s": round(statistics.median(s.wall_s for s in samples), 3),
        "peak_rss_mb": round(statistics.median(s.peak_rss_mb for s in samples), 1),
        "cpu_s": round(statistics.median(s.cpu_s for s in samples), 3),
        "runs": len(samples),
        "wall_s_each": [round(s.wall_s, 3) for s in samples],
        "failed_runs": sum(1 for s in samples if s.returncode not in (0, 1)),
    }


def _same(a: Mapping[Where, frozenset[str]] | None,
          b: Mapping[Where, frozenset[str]] | None) -> bool | None:
    if a is None or b is None:
        return None
    keys = set(a) | set(b)
    return all(a.get(k, frozenset()) == b.get(k, frozenset()) for k in keys)


def summarise(samples: Mapping[str, Sequence[Sample]], *, endpoints: int,
              expected: Mapping[Where, frozenset[str]],
              ours: Mapping[Where, frozenset[str]],
              theirs: Mapping[Where, frozenset[str]] | None = None,
              floor_leaves: set[str] | None = None) -> dict[str, Any]:
    """One step: medians per contender, ratios, and which leaves each one found."""
    step: dict[str, Any] = {"endpoints": endpoints}
    for name, runs in samples.items():
        if runs:
            step[name] = _stats(runs)
    all_expected = set().union(*expected.values()) if expected else set()
    step["leaves"] = {
        "expected": len(all_expected),
        "audit_found_all_expected": _same(ours, expected),
        "sslyze_found_all_expected": _same(theirs, expected),
        "same_leaves_as_sslyze": _same(ours, theirs),
        "floor_found_all_expected": (None if floor_leaves is None
                                     else floor_leaves == all_expected),
    }
    if samples.get("sslyze"):
        step["vs_sslyze_speedup"] = paired_ratio(samples["sslyze"], samples["audit"])
    if samples.get("floor"):
        step["vs_floor_ratio"] = paired_ratio(samples["audit"], samples["floor"])
    return step


def paired_ratio(numerators: Sequence[Sample], denominators: Sequence[Sample]) -> float:
    """The median over rounds of one wall time over the other, each pair run back to back:
    a machine that gets busier or quieter during the benchmark moves both alike."""
    ratios = [n.wall_s / d.wall_s for n, d in zip(numerators, denominators, strict=True)]
    return round(statistics.median(ratios), 2)


def _target(value: float | bool | None, met: bool | None, goal: str) -> dict[str, Any]:
    return {"goal": goal, "value": value, "met": met}


#: issue 25's sizes for 1,000 endpoints
SIZES_1000_AUDIT_JSON_MB = 3.0
SIZES_1000_PEAK_RSS_MB = 120.0


def targets(cluster: Mapping[str, Any], scale: Sequence[Mapping[str, Any]],
            silent: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Issue 7's targets, each with the measured value and whether it is met."""
    by_size = {s["endpoints"]: s for s in scale}
    out: dict[str, dict[str, Any]] = {}
    speedup = cluster.get("vs_sslyze_speedup")
    same = cluster["leaves"]["same_leaves_as_sslyze"]
    out["cluster_vs_sslyze"] = _target(
        speedup, speedup is not None and speedup >= 2 and bool(same),
        ">= 2x faster than sslyze --certinfo, same leaves")
    # cluster_vs_floor is retired (issue 25): the ratio stays in the table, as a figure
    if 100 in by_size and "vs_sslyze_speedup" in by_size[100]:
        value = by_size[100]["vs_sslyze_speedup"]
        out["scale_100_vs_sslyze"] = _target(value, value >= 5, ">= 5x faster than sslyze")
    if 1000 in by_size:
        wall = by_size[1000]["audit"]["wall_s"]
        rss = by_size[1000]["audit"]["peak_rss_mb"]
        out["scale_1000_wall"] = _target(wall, wall < 15, "< 15 s")
        out["scale_1000_peak_rss"] = _target(rss, rss < SIZES_1000_PEAK_RSS_MB,
                                             f"< {SIZES_1000_PEAK_RSS_MB:g} MB")
        size = by_size[1000].get("audit_json_bytes")
        if size is not None:
            mb = round(size / 2**20, 2)
            out["scale_1000_audit_json"] = _target(mb, mb < SIZES_1000_AUDIT_JSON_MB,
                                                   f"audit.json < {SIZES_1000_AUDIT_JSON_MB:g} MB")
    if {10, 100, 1000} <= set(by_size):
        first = (by_size[100]["audit"]["wall_s"] - by_size[10]["audit"]["wall_s"]) / 90
        second = (by_size[1000]["audit"]["wall_s"] - by_size[100]["audit"]["wall_s"]) / 900
        growth = round(second / first, 2) if first > 0 else None
        out["scale_linear"] = _target(
            growth, growth is not None and growth <= 1.5,
            "per-endpoint cost from 100 to 1000 <= 1.5x that from 10 to 100")
    if 100 in by_size:
        extra = silent["audit"]["wall_s"] - by_size[100]["audit"]["wall_s"]
        timeouts = round(extra / silent["timeout_s"], 2)
        out["silent_cost"] = _target(
            timeouts, timeouts <= 1.2,
            f"50 silent endpoints of 100 cost about one timeout ({silent['timeout_s']:g} s) "
            "over 100 live: <= 1.2 timeouts")
    return out


def write_results(path: Path, *, cluster: Mapping[str, Any], scale: Sequence[Mapping[str, Any]],
                  silent: Mapping[str, Any], machine: Mapping[str, Any], quick: bool,
                  duration_s: float, latency: Mapping[str, Any] | None = None,
                  ) -> dict[str, Any]:
    """``latest.json``: the headline figures first, then every step in detail."""
    results: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": quick,
        "duration_s": round(duration_s, 1),
        "cluster_endpoints": cluster["endpoints"],
        "cluster_audit_wall_s": cluster["audit"]["wall_s"],
        "cluster_audit_peak_rss_mb": cluster["audit"]["peak_rss_mb"],
        "sslyze_wall_s": cluster["sslyze"]["wall_s"],
        "vs_sslyze_speedup": cluster["vs_sslyze_speedup"],
        "floor_wall_s": cluster["floor"]["wall_s"],
        "vs_floor_ratio": cluster["vs_floor_ratio"],
        "same_leaves_as_sslyze": cluster["leaves"]["same_leaves_as_sslyze"],
        "scale": [scale_row(s) for s in scale] + [{**scale_row(silent),
                                                     "silent_endpoints": silent["silent_endpoints"],
                                                     "timeout_s": silent["timeout_s"]}],
        "targets": targets(cluster, scale, silent),
        "machine": dict(machine),
        "details": {"cluster": cluster, "scale": list(scale), "silent": silent,
                    "latency": latency},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def scale_row(step: Mapping[str, Any]) -> dict[str, Any]:
    row = {"endpoints": step["endpoints"], "wall_s": step["audit"]["wall_s"],
           "peak_rss_mb": step["audit"]["peak_rss_mb"], "cpu_s": step["audit"]["cpu_s"],
           "found_all_expected_leaves": step["leaves"]["audit_found_all_expected"]}
    for key in ("audit_json_bytes", "facts_json_bytes"):
        if key in step:
            row[key] = step[key]
    if "sslyze" in step:
        row["sslyze_wall_s"] = step["sslyze"]["wall_s"]
        row["sslyze_peak_rss_mb"] = step["sslyze"]["peak_rss_mb"]
        row["vs_sslyze_speedup"] = step["vs_sslyze_speedup"]
        row["same_leaves_as_sslyze"] = step["leaves"]["same_leaves_as_sslyze"]
    return row


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


_HEADER = (
    "| measurement | endpoints | uccx-audit wall | peak RSS | CPU | sslyze wall "
    "| speedup vs sslyze | floor wall | vs floor | leaves as expected |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
)


def _row(name: str, step: Mapping[str, Any]) -> str:
    """One step (as :func:`summarise` makes it) as a row under :data:`_HEADER`."""
    audit = step["audit"]
    sslyze, floor = step.get("sslyze"), step.get("floor")
    leaves = step["leaves"]
    agree = leaves["audit_found_all_expected"]
    if leaves["same_leaves_as_sslyze"] is not None:
        agree = agree and leaves["same_leaves_as_sslyze"]
    return (f"| {name} | {step['endpoints']} | {_cell(audit['wall_s'], ' s')} "
            f"| {_cell(audit['peak_rss_mb'], ' MB')} | {_cell(audit['cpu_s'], ' s')} "
            f"| {_cell(sslyze['wall_s'], ' s') if sslyze else '–'} "
            f"| {_cell(step.get('vs_sslyze_speedup'), '×')} "
            f"| {_cell(floor['wall_s'], ' s') if floor else '–'} "
            f"| {_cell(step.get('vs_floor_ratio'), '×')} | {_cell(agree)} |")


def markdown_table(results: Mapping[str, Any]) -> str:
    """The results as Markdown: one row per measurement, then the targets."""
    details = results["details"]
    cluster = details["cluster"]
    lines = list(_HEADER)

    def row(name: str, step: Mapping[str, Any]) -> None:
        lines.append(_row(name, step))

    row("cluster audit, all ports, 4 reports", cluster)
    if details.get("latency"):
        row(f"cluster, servers answer {details['latency']['latency_ms']:g} ms late",
            details["latency"])
    for step in details["scale"]:
        row(f"scale {step['endpoints']}", step)
    silent = details["silent"]
    row(f"scale 100, {silent['silent_endpoints']} silent (timeout {silent['timeout_s']:g} s)",
        silent)
    lines += ["", "| target | goal | measured | met |", "|---|---|---:|---|"]
    for name, target in results["targets"].items():
        lines.append(f"| {name} | {target['goal']} | {_cell(target['value'])} "
                     f"| {_cell(target['met'])} |")
    m = results["machine"]
    lines += ["", "Medians of interleaved runs; a ratio is the median of the ratios of runs made "
              f"back to back; {m['cores']} cores ({m['cpu']}), "
              f"{m['memory_gb']} GB, Python {m['python']}, {m['openssl']}, sslyze {m['sslyze']}; "
              f"load average {m['load_average_at_start'][0]:.1f} at the start"
              + (" (quick run)" if results["quick"] else "") + "."]
    table = "\n".join(lines) + "\n"
    sizes = sizes_markdown(results["scale"])
    if sizes:
        table += "\n" + sizes
    if results.get("portfolio_1000"):
        table += "\n" + portfolio_markdown("portfolio_1000", results["portfolio_1000"])
    if results.get("wan"):
        table += "\n" + wan_markdown(results["wan"])
    if results.get("tomcat"):
        table += "\n" + tomcat_markdown(results["tomcat"])
    return table


# -- a real server: Apache Tomcat 10 (issue 15) -------------------------------------------

TOMCAT_HEADING = "## Against a real server: Apache Tomcat 10 (JSSE)"
TOMCAT_CLUSTER_VS_SSLYZE = 1.4


def tomcat_headline(step: Mapping[str, Any]) -> dict[str, Any]:
    """The figures issue 15 names, from one step of the Tomcat run (audit, sslyze, floor)."""
    return {
        "endpoints": step["endpoints"],
        "cluster_audit_wall_s": step["audit"]["wall_s"],
        "cluster_audit_peak_rss_mb": step["audit"]["peak_rss_mb"],
        "sslyze_wall_s": step["sslyze"]["wall_s"],
        "vs_sslyze_speedup": step["vs_sslyze_speedup"],
        "floor_wall_s": step["floor"]["wall_s"],
        "vs_floor_ratio": step["vs_floor_ratio"],
        "same_leaves_as_sslyze": step["leaves"]["same_leaves_as_sslyze"],
        "found_all_expected_leaves": bool(step["leaves"]["audit_found_all_expected"]
                                          and step["leaves"]["floor_found_all_expected"]),
    }


def tomcat_targets(cluster: Mapping[str, Any],
                   scale_100: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The targets on Tomcat: the cluster >= 1.4x faster than sslyze with the same leaves
    (issue 25; the floor ratio is a figure, its target retired); 100 endpoints >= 5x."""
    speedup = cluster["vs_sslyze_speedup"]
    same = cluster["leaves"]["same_leaves_as_sslyze"]
    scale_speedup = scale_100["vs_sslyze_speedup"]
    scale_same = scale_100["leaves"]["same_leaves_as_sslyze"]
    return {
        "cluster_vs_sslyze": _target(speedup, speedup >= TOMCAT_CLUSTER_VS_SSLYZE and bool(same),
                                     f">= {TOMCAT_CLUSTER_VS_SSLYZE:g}x faster than sslyze "
                                     "--certinfo, same leaves"),
        "scale_100_vs_sslyze": _target(scale_speedup, scale_speedup >= 5 and bool(scale_same),
                                       ">= 5x faster than sslyze --certinfo, same leaves"),
    }


def tomcat_section(cluster: Mapping[str, Any], scale_100: Mapping[str, Any], *,
                   server: Mapping[str, Any], runs: Mapping[str, Any]) -> dict[str, Any]:
    """``latest.json``'s ``tomcat``: the cluster's headline figures, the same for
    ``scale_100``, the targets, the server and the run's circumstances, then both steps in
    detail. ``runs``: measured_at, load averages, duration and the like, kept as given."""
    return {
        **tomcat_headline(cluster),
        "scale_100": tomcat_headline(scale_100),
        "targets": tomcat_targets(cluster, scale_100),
        "server": dict(server),
        **runs,
        "details": {"cluster": dict(cluster), "scale_100": dict(scale_100)},
    }


def tomcat_markdown(section: Mapping[str, Any]) -> str:
    """The Tomcat section of ``latest.md``: both steps, the targets, the circumstances."""
    details, server = section["details"], section["server"]
    lines = [TOMCAT_HEADING, "", *_HEADER,
             _row("one FAQ-row-4 cluster, every port it serves, 4 reports",
                  details["cluster"]),
             _row(f"scale {details['scale_100']['endpoints']}, one Tomcat",
                  details["scale_100"]),
             "", "| target | goal | measured | met |", "|---|---|---:|---|"]
    for name, target in section["targets"].items():
        lines.append(f"| tomcat {name} | {target['goal']} | {_cell(target['value'])} "
                     f"| {_cell(target['met'])} |")
    start, end = section.get("load_average_at_start"), section.get("load_average_at_end")
    load = (f"; load average {start[0]:.1f} at the start, {end[0]:.1f} at the end"
            if start and end else "")
    lines += ["", f"{server.get('version', 'Apache Tomcat')} on Java "
              f"{server.get('jvm', '?')}, one NIO connector per endpoint with "
              f"{server.get('tls', 'JSSE')} (RSA and, where the node presents it, EC "
              "certificates), one Tomcat per step; medians of interleaved runs, a ratio is "
              "the median of the ratios of runs made back to back; "
              f"measured {section.get('measured_at', '?')}{load}"
              + (" (quick run)" if section.get("quick") else "") + "."]
    return "\n".join(lines) + "\n"


def with_section(markdown: str, heading: str, section: str) -> str:
    """``markdown`` with the section that starts at the line ``heading`` (up to the next
    line starting with ``## `` or the end) replaced by ``section``, or ``section`` appended
    after a blank line; everything else is kept byte for byte."""
    lines = markdown.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    if not starts:
        glue = "" if not markdown else ("\n" if markdown.endswith("\n") else "\n\n")
        return markdown + glue + section
    first = starts[0]
    last = next((i for i in range(first + 1, len(lines)) if lines[i].startswith("## ")),
                len(lines))
    rest = "".join(lines[last:])
    return "".join(lines[:first]) + section + ("\n" + rest if rest else "")


def update_entry(path: Path, key: str, entry: Mapping[str, Any], *,
                 markdown: tuple[str, str] | None = None) -> None:
    """Set ``key`` of the results file ``path`` to ``entry``, every other key as it was;
    with ``markdown`` (heading, section), replace that section of the ``.md`` beside it
    (:func:`with_section`). Each file is replaced whole, never left half written."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results[key] = entry
    _replace(path, json.dumps(results, indent=2) + "\n")
    if markdown is not None:
        table = path.with_suffix(".md")
        before = table.read_text(encoding="utf-8") if table.exists() else ""
        _replace(table, with_section(before, *markdown))


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


# -- scale and distance (issue 25) ------------------------------------------------------

PORTFOLIO_HEADING = "## A partner's portfolio: 1,000 clusters in one run"
PORTFOLIO_TARGETS = {"wall_s": (60.0, "s"), "peak_rss_mb": (250.0, "MB")}


def portfolio_targets(step: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The portfolio's targets on 2 cores: under 60 s and under 250 MB, every cluster go."""
    out = {name: _target(step[name], step[name] < limit and step["exit_code"] == 0,
                         f"< {limit:g} {unit} on 2 cores, exit 0")
           for name, (limit, unit) in PORTFOLIO_TARGETS.items()}
    out["every_cluster_go"] = _target(step["every_cluster_go"], bool(
        step["every_cluster_go"] and step["found_all_expected_leaves"]),
        "every cluster go, every expected leaf found")
    return out


def portfolio_markdown(name: str, step: Mapping[str, Any]) -> str:
    """The portfolio section of ``latest.md``."""
    start, end = step.get("load_average_at_start"), step.get("load_average_at_end")
    lines = [PORTFOLIO_HEADING, "",
             "| measurement | clusters | endpoints | wall | peak RSS | CPU | verdicts |",
             "|---|---:|---:|---:|---:|---:|---|",
             f"| {name} | {step['clusters']} | {step['endpoints']} "
             f"| {_cell(step['wall_s'], ' s')} | {_cell(step['peak_rss_mb'], ' MB')} "
             f"| {_cell(step['cpu_s'], ' s')} "
             f"| {', '.join(f'{n} {v}' for v, n in step['verdicts'].items() if n)} |",
             "", "| target | goal | measured | met |", "|---|---|---:|---|"]
    for target, value in step["targets"].items():
        lines.append(f"| {name} {target} | {value['goal']} | {_cell(value['value'])} "
                     f"| {_cell(value['met'])} |")
    lines += ["", "One `uccx-audit audit --inventory FOLDER` run, one inventory per cluster "
              "(a publisher, a subscriber and a SocialMiner, the map's default ports), "
              f"measured {step.get('measured_at', '?')}"
              + (f"; load average {start[0]:.1f} at the start, {end[0]:.1f} at the end"
                 if start and end else "") + "."]
    return "\n".join(lines) + "\n"


WAN_HEADING = "## Over a WAN: a delaying proxy in front of the lab"
#: the audit's extra wall time at the largest delay, over the polite floor's
WAN_GROWTH_VS_FLOOR = 1.5


def wan_section(rows: Sequence[Mapping[str, Any]], *,
                runs: Mapping[str, Any]) -> dict[str, Any]:
    """``latest.json``'s ``wan``: per one-way delay, each contender's median wall time and
    how much it grew over the row without delay; the target; then each step in detail.
    ``rows``: :func:`summarise` steps with ``one_way_ms``, the first at 0 ms."""
    base = rows[0]
    table = []
    for step in rows:
        row: dict[str, Any] = {"one_way_ms": step["one_way_ms"],
                               "endpoints": step["endpoints"]}
        for name in ("audit", "sslyze", "floor"):
            if name in step:
                row[f"{name}_wall_s"] = step[name]["wall_s"]
                row[f"{name}_extra_s"] = round(step[name]["wall_s"] - base[name]["wall_s"], 3)
        row["vs_sslyze_speedup"] = step.get("vs_sslyze_speedup")
        row["vs_floor_ratio"] = step.get("vs_floor_ratio")
        leaves = step["leaves"]
        row["leaves_as_expected"] = bool(leaves["audit_found_all_expected"]
                                         and leaves["same_leaves_as_sslyze"] is not False
                                         and leaves["floor_found_all_expected"] is not False)
        table.append(row)
    last = table[-1]
    growth = (round(last["audit_extra_s"] / last["floor_extra_s"], 2)
              if last["one_way_ms"] > 0 and last.get("floor_extra_s", 0) > 0 else None)
    return {
        "rows": table,
        "targets": {"wan_growth_vs_floor": _target(
            growth, growth is not None and growth <= WAN_GROWTH_VS_FLOOR
            and all(r["leaves_as_expected"] for r in table),
            f"the audit grows by <= {WAN_GROWTH_VS_FLOOR:g}x what the polite floor grows "
            f"at {last['one_way_ms']:g} ms one-way, same leaves")},
        **runs,
        "details": [dict(step) for step in rows],
    }


def wan_markdown(section: Mapping[str, Any]) -> str:
    """The WAN section of ``latest.md``: one row per delay, the target, the circumstances."""
    lines = [WAN_HEADING, "",
             "| one-way delay | endpoints | uccx-audit wall | grew by | sslyze wall | grew by "
             "| polite floor wall | grew by | speedup vs sslyze | vs floor | leaves as expected |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in section["rows"]:
        lines.append(
            f"| {_cell(row['one_way_ms'], ' ms')} | {row['endpoints']} "
            + "".join(f"| {_cell(row.get(f'{n}_wall_s'), ' s')} "
                      f"| {_cell(row.get(f'{n}_extra_s'), ' s')} "
                      for n in ("audit", "sslyze", "floor"))
            + f"| {_cell(row['vs_sslyze_speedup'], '×')} | {_cell(row['vs_floor_ratio'], '×')} "
            f"| {_cell(row['leaves_as_expected'])} |")
    lines += ["", "| target | goal | measured | met |", "|---|---|---:|---|"]
    for name, target in section["targets"].items():
        lines.append(f"| {name} | {target['goal']} | {_cell(target['value'])} "
                     f"| {_cell(target['met'])} |")
    start, end = section.get("load_average_at_start"), section.get("load_average_at_end")
    lines += ["", "Every byte each way through a proxy on 127.0.0.1 that delivers it that "
              "much later (a round trip costs twice the delay); the polite floor makes at "
              f"most {section.get('floor_per_host', 4)} handshakes at once per host; medians "
              "of interleaved runs; "
              f"measured {section.get('measured_at', '?')}"
              + (f"; load average {start[0]:.1f} at the start, {end[0]:.1f} at the end"
                 if start and end else "")
              + (" (quick run)" if section.get("quick") else "") + "."]
    return "\n".join(lines) + "\n"


def sizes_markdown(scale: Sequence[Mapping[str, Any]]) -> str:
    """What a run leaves behind, per scale step: audit.json and facts.json sizes."""
    rows = [r for r in scale if "audit_json_bytes" in r and not r.get("silent_endpoints")]
    if not rows:
        return ""
    lines = [SIZES_HEADING, "", "| endpoints | audit.json | facts.json | peak RSS |",
             "|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['endpoints']} | {row['audit_json_bytes'] / 2**20:.2f} MB "
                     f"| {row.get('facts_json_bytes', 0) / 2**20:.2f} MB "
                     f"| {_cell(row['peak_rss_mb'], ' MB')} |")
    return "\n".join(lines) + "\n"


SIZES_HEADING = "## What an audit leaves: sizes"


def sizes_1000(step: Mapping[str, Any], *, measured: Mapping[str, Any]) -> dict[str, Any]:
    """``latest.json``'s ``sizes_1000``: what one audit of 1,000 endpoints leaves and
    holds (``step``: the scale step of 1,000 endpoints, with its sizes) and its targets."""
    mb = round(step["audit_json_bytes"] / 2**20, 2)
    rss = step["audit"]["peak_rss_mb"]
    return {
        "endpoints": step["endpoints"], "audit_json_bytes": step["audit_json_bytes"],
        "audit_json_mb": mb, "facts_json_bytes": step["facts_json_bytes"],
        "peak_rss_mb": rss, "wall_s": step["audit"]["wall_s"], **measured,
        "targets": {
            "audit_json": _target(mb, mb < SIZES_1000_AUDIT_JSON_MB,
                                  f"< {SIZES_1000_AUDIT_JSON_MB:g} MB"),
            "peak_rss": _target(rss, rss < SIZES_1000_PEAK_RSS_MB,
                                f"< {SIZES_1000_PEAK_RSS_MB:g} MB")},
    }
