"""Benchmark: audit speed and scale against sslyze and the handshake floor (issue 7).

    python3 bench/run.py            # the full run (see docs/BENCHMARK.md for its length)
    python3 bench/run.py --quick    # fewer runs, writes bench/results/quick.json
    python3 bench/run.py --only portfolio_1000  # one step; updates only its entry
    python3 bench/run.py --only sizes           # the 1,000-endpoint audit and its sizes
    python3 bench/run.py --rtt 50,100           # the WAN rows (0 ms too), behind a proxy
    python3 bench/run.py --only tomcat          # the same for the real-server step

Everything runs on loopback: against lab fleets (``bench.fleet``) served by their own
processes, and against a real Apache Tomcat 10 (the test suite's ``tests/tomcat.py``: JSSE,
RSA and EC certificates per connector). Each measured command is its own process; wall
time is measured around it and its peak memory and CPU time come from ``wait4`` (that
process and its children only). The tool, sslyze and the floor run interleaved, in a
rotating order, and each figure is the median of the runs. sslyze 6 is installed into
``bench/.venv-sslyze`` on first use: a yardstick, never a dependency of the tool.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.fleet import Fleet  # noqa: E402
from bench.portfolio_fleet import PortfolioFleet  # noqa: E402
from bench.summary import (  # noqa: E402
    PORTFOLIO_HEADING,
    TOMCAT_HEADING,
    WAN_HEADING,
    Sample,
    audit_leaves,
    markdown_table,
    portfolio_markdown,
    portfolio_targets,
    scale_row,
    sha256_pem,
    sizes_1000,
    summarise,
    targets,
    tomcat_markdown,
    tomcat_section,
    update_entry,
    wan_markdown,
    wan_section,
    write_results,
)
from bench.wanproxy import DelayProxy  # noqa: E402

if TYPE_CHECKING:
    from auditor.lab.scenarios import Scenario

SSLYZE_VENV = BENCH / ".venv-sslyze"
SSLYZE_REQUIREMENT = "sslyze>=6,<7"
RESULTS = BENCH / "results"
TIMEOUT_S = 5.0  # the audit's default connect and handshake timeouts
LATENCY_MS = 50.0


@dataclass(frozen=True)
class Plan:
    cluster_runs: int
    scale_runs: dict[int, int]
    silent_runs: int
    output: Path
    #: runs of each contender against Tomcat: the cluster, then 100 endpoints
    tomcat_runs: tuple[int, int] = (11, 7)


FULL = Plan(cluster_runs=11, scale_runs={10: 7, 100: 9, 1000: 5}, silent_runs=3,
            output=RESULTS / "latest.json")
QUICK = Plan(cluster_runs=3, scale_runs={10: 1, 100: 1, 1000: 1}, silent_runs=1,
             output=RESULTS / "quick.json", tomcat_runs=(3, 1))


class Endpoint(Protocol):
    host: str
    address: str
    port: int


class Served(Protocol):
    """What is measured: a lab :class:`Fleet` or a site of the Tomcat helper."""

    @property
    def inventory_path(self) -> Path: ...

    @property
    def agent_trust_path(self) -> Path: ...

    @property
    def endpoints(self) -> Sequence[Endpoint]: ...


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(command: Sequence[str], *, stdout: Path | None = None,
            home: Path | None = None, limit_s: float = 600.0) -> Sample:
    """Run one command; wall time around it, peak RSS and CPU of it (and its children).
    ``home``: an empty folder as HOME and XDG_CACHE_HOME, so that nothing a run could
    leave behind helps the next (the tool keeps no state; this keeps the figures honest
    if that ever changed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH.parent),
                                                      env.get("PYTHONPATH")]))
    # as after `pip install`, which compiles every module: this workplace's
    # PYTHONDONTWRITEBYTECODE would have the tool compiled from source on every run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if home is not None:
        env["HOME"] = env["XDG_CACHE_HOME"] = str(home)
    sink = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    try:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, env=env)
        deadline = started + limit_s
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout:
            sink.close()
    return Sample(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime,
                  process.returncode)


# -- the three contenders ----------------------------------------------------------------

def uccx_audit() -> list[str]:
    """``uccx-audit`` from this clone (whatever else is installed), as its console script
    starts it: the interpreter, then ``auditor.cli.app.main``."""
    return [sys.executable, "-m", "auditor"]


def audit_command(fleet: Served, out: Path, *, all_ports: bool) -> list[str]:
    return [*uccx_audit(), "audit", "--inventory", str(fleet.inventory_path), "--phase",
            "post", "--agent-trust", str(fleet.agent_trust_path), "--out", str(out),
            *(["--all-ports"] if all_ports else [])]


def sslyze_command(fleet: Served, json_out: Path) -> list[str]:
    targets = [f"{e.host}:{e.port}{{{e.address}}}" for e in fleet.endpoints]
    return [str(SSLYZE_VENV / "bin" / "sslyze"), "--certinfo", "--mozilla_config=disable",
            "--certinfo_ca_file", str(fleet.agent_trust_path), "--quiet", "--json_out",
            str(json_out), *targets]


def floor_command(fleet: Served, workdir: Path, name: str = "floor-input.json", *,
                  per_host: int | None = None) -> list[str]:
    """The floor's command; ``per_host``: the polite floor, at most that many handshakes
    at once to one host."""
    from dataclasses import asdict

    from auditor.collect.profiles import offered
    from auditor.model.facts import PROFILES

    spec = workdir / name
    spec.write_text(json.dumps({
        "offers": [asdict(offered(p)) for p in PROFILES],
        "targets": [[e.host, e.address, e.port] for e in fleet.endpoints],
        **({"per_host": per_host} if per_host else {}),
    }), encoding="utf-8")
    return [sys.executable, str(BENCH / "floor.py"), str(spec)]


def sslyze_leaves(path: Path) -> dict[tuple[str, int], frozenset[str]]:
    """Per endpoint, the SHA-256 of every leaf sslyze received with SNI (all deployments)."""
    found: dict[tuple[str, int], frozenset[str]] = {}
    for server in json.loads(path.read_text(encoding="utf-8"))["server_scan_results"]:
        where = (server["server_location"]["ip_address"], server["server_location"]["port"])
        result = (server.get("scan_result") or {}).get("certificate_info") or {}
        deployments = (result.get("result") or {}).get("certificate_deployments") or []
        found[where] = frozenset(sha256_pem(d["received_certificate_chain"][0]["as_pem"])
                                 for d in deployments)
    return found


def ensure_sslyze() -> str:
    """sslyze 6 in its own virtual environment under bench/; its version."""
    python = SSLYZE_VENV / "bin" / "python"
    if not (SSLYZE_VENV / "bin" / "sslyze").exists():
        say(f"installing {SSLYZE_REQUIREMENT} into {SSLYZE_VENV} (once)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(SSLYZE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", SSLYZE_REQUIREMENT], check=True)
    return subprocess.run([str(python), "-c", "from importlib.metadata import version; "
                           "print(version('sslyze'))"],
                          check=True, capture_output=True, text=True).stdout.strip()


def machine(sslyze_version: str) -> dict:
    import OpenSSL
    from OpenSSL import SSL

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory_kb = next((int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")), 0)
    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "pyopenssl": OpenSSL.__version__,
        "openssl": SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode(),
        "sslyze": sslyze_version, "load_average_at_start": list(os.getloadavg()),
        "tool_command": " ".join(uccx_audit()),
    }


# -- the runs ----------------------------------------------------------------------------

def interleaved(runs: int, contenders: dict[str, Callable[[int], Sample]]
                ) -> dict[str, list[Sample]]:
    """Run each contender ``runs`` times, in an order that rotates every round."""
    names = list(contenders)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            samples[name].append(contenders[name](round_))
    return samples


def fresh_home(work: Path) -> Path:
    """A new, empty home folder for one run of the tool: every run is a first run."""
    return Path(tempfile.mkdtemp(prefix="home-", dir=work))


def cluster_step(plan: Plan, work: Path) -> dict:
    say(f"cluster: a three-node cluster, every port (--all-ports), {plan.cluster_runs} runs "
        "each of audit, sslyze and the floor")
    with Fleet(12, work / "cluster-fleet", all_ports=True) as fleet:
        floor_cmd = floor_command(fleet, work)
        # compiles the modules as `pip install` does, and reads the files into the page cache
        measure(audit_command(fleet, work / "cluster-warm-up", all_ports=True),
                home=fresh_home(work))
        samples = interleaved(plan.cluster_runs, {
            "audit": lambda i: measure(audit_command(fleet, work / f"cluster-audit-{i}",
                                                     all_ports=True), home=fresh_home(work)),
            "sslyze": lambda i: measure(sslyze_command(fleet, work / f"cluster-sslyze-{i}.json")),
            "floor": lambda i: measure(floor_cmd, stdout=work / f"cluster-floor-{i}.json"),
        })
        expected = {(e.address, e.port): e.leaves for e in fleet.endpoints}
        ours = audit_leaves(work / "cluster-audit-0" / "facts.json")
        theirs = sslyze_leaves(work / "cluster-sslyze-0.json")
        floor = {leaf for leaf in json.loads((work / "cluster-floor-0.json").read_text())
                 if leaf}
    return summarise(samples, endpoints=len(expected), expected=expected, ours=ours,
                     theirs=theirs, floor_leaves=floor)


def latency_step(runs: int, latency_ms: float, work: Path) -> dict:
    say(f"cluster again, every server answering {latency_ms:g} ms late (far away or busy), "
        f"{runs} runs each of audit, sslyze and the floor")
    with Fleet(12, work / "latency-fleet", all_ports=True, latency_ms=latency_ms) as fleet:
        floor_cmd = floor_command(fleet, work)
        samples = interleaved(runs, {
            "audit": lambda i: measure(audit_command(fleet, work / f"latency-audit-{i}",
                                                     all_ports=True), home=fresh_home(work)),
            "sslyze": lambda i: measure(sslyze_command(fleet, work / f"latency-sslyze-{i}.json")),
            "floor": lambda i: measure(floor_cmd, stdout=work / f"latency-floor-{i}.json"),
        })
        expected = {(e.address, e.port): e.leaves for e in fleet.endpoints}
        ours = audit_leaves(work / "latency-audit-0" / "facts.json")
        theirs = sslyze_leaves(work / "latency-sslyze-0.json")
    step = summarise(samples, endpoints=len(expected), expected=expected, ours=ours,
                     theirs=theirs)
    step["latency_ms"] = latency_ms
    return step


def scale_step(endpoints: int, runs: int, with_sslyze: bool, work: Path) -> dict:
    say(f"scale: {endpoints} endpoints, {runs} runs of the audit"
        + (" and of sslyze" if with_sslyze else ""))
    with Fleet(endpoints, work / f"fleet-{endpoints}") as fleet:
        measure(audit_command(fleet, work / f"scale-{endpoints}-warm-up", all_ports=False),
                home=fresh_home(work))
        contenders: dict[str, Callable[[int], Sample]] = {
            "audit": lambda i: measure(audit_command(fleet, work / f"scale-{endpoints}-{i}",
                                                     all_ports=False), home=fresh_home(work)),
        }
        if with_sslyze:
            contenders["sslyze"] = lambda i: measure(
                sslyze_command(fleet, work / f"scale-{endpoints}-sslyze-{i}.json"))
        samples = interleaved(runs, contenders)
        expected = {(e.address, e.port): e.leaves for e in fleet.endpoints}
        ours = audit_leaves(work / f"scale-{endpoints}-0" / "facts.json")
        theirs = (sslyze_leaves(work / f"scale-{endpoints}-sslyze-0.json")
                  if with_sslyze else None)
    step = summarise(samples, endpoints=endpoints, expected=expected, ours=ours,
                     theirs=theirs)
    return {**step, **sizes(work / f"scale-{endpoints}-0")}


def sizes(folder: Path) -> dict[str, int]:
    """What one audit left behind: its audit.json's and facts.json's sizes in bytes."""
    return {"audit_json_bytes": (folder / "audit.json").stat().st_size,
            "facts_json_bytes": (folder / "facts.json").stat().st_size}


def silent_step(runs: int, work: Path) -> dict:
    say(f"scale: 100 endpoints of which 50 never answer, {runs} runs "
        f"(timeouts {TIMEOUT_S:g} s)")
    with Fleet(100, work / "fleet-silent", silent=50) as fleet:
        samples = interleaved(runs, {"audit": lambda i: measure(
            audit_command(fleet, work / f"silent-{i}", all_ports=False), home=fresh_home(work))})
        expected = {(e.address, e.port): e.leaves for e in fleet.endpoints}
        ours = audit_leaves(work / "silent-0" / "facts.json")
    step = summarise(samples, endpoints=100, expected=expected, ours=ours)
    step["silent_endpoints"] = 50
    step["timeout_s"] = TIMEOUT_S
    return step


PORTFOLIO_CLUSTERS = 1000
PORTFOLIO_KEY = "portfolio_1000"


def portfolio_step(clusters: int, work: Path) -> dict:
    """``audit --inventory FOLDER`` over ``clusters`` three-node lab clusters (the map's
    default ports each), in one run with an empty HOME. Every cluster is FAQ row 3, so every
    verdict must be go and every endpoint must have presented the leaves it serves."""
    say(f"portfolio: {clusters} clusters in one run")
    load_at_start = list(os.getloadavg())
    with PortfolioFleet(clusters, work / "portfolio-fleet") as fleet:
        say(f"portfolio: {len(fleet.endpoints)} endpoints listening")
        sample = measure([*uccx_audit(), "audit", "--inventory", str(fleet.inventories_dir),
                          "--phase", "post", "--agent-trust", str(fleet.agent_trust_path),
                          "--out", str(work / "portfolio"), "--summary-json"],
                         stdout=work / "portfolio.json", home=fresh_home(work))
        expected = {(e.address, e.port): e.leaves for e in fleet.endpoints}
        out = work / "portfolio"
        portfolio = json.loads((out / "portfolio.json").read_text(encoding="utf-8"))
        ours: dict = {}
        for cluster in portfolio["clusters"]:
            ours.update(audit_leaves(out / cluster["folder"] / "facts.json"))
    summary = json.loads((work / "portfolio.json").read_text(encoding="utf-8"))
    step = {
        "clusters": clusters, "endpoints": len(expected),
        "wall_s": round(sample.wall_s, 3), "peak_rss_mb": round(sample.peak_rss_mb, 1),
        "cpu_s": round(sample.cpu_s, 3), "exit_code": sample.returncode,
        "verdicts": summary["verdicts"],
        "every_cluster_go": summary["verdicts"].get("go") == clusters,
        "found_all_expected_leaves": all(ours.get(k) == v for k, v in expected.items()),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
    }
    step["targets"] = portfolio_targets(step)
    return step


def only_portfolio(output: Path) -> int:
    """Run the portfolio step alone and update only its entry of ``output`` (and its
    section of the Markdown beside it)."""
    work = Path(tempfile.mkdtemp(prefix="uccx-bench-"))
    try:
        step = portfolio_step(PORTFOLIO_CLUSTERS, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    update_entry(output, PORTFOLIO_KEY, step,
                 markdown=(PORTFOLIO_HEADING, portfolio_markdown(PORTFOLIO_KEY, step)))
    print(portfolio_markdown(PORTFOLIO_KEY, step), end="")
    say(f"{PORTFOLIO_KEY} written to {output}")
    return 0


def measured_now(load_at_start: list[float]) -> dict[str, Any]:
    return {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_at_start": load_at_start,
            "load_average_at_end": list(os.getloadavg())}


def only_sizes(plan: Plan) -> int:
    """Run the 1,000-endpoint scale step alone: update its row, ``sizes_1000`` and the
    targets of the results file, and write the Markdown again from it."""
    output = plan.output
    results = json.loads(output.read_text(encoding="utf-8"))
    load_at_start = list(os.getloadavg())
    work = Path(tempfile.mkdtemp(prefix="uccx-bench-"))
    try:
        step = scale_step(1000, plan.scale_runs[1000], False, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    details = results["details"]
    details["scale"] = [step if s["endpoints"] == 1000 else s for s in details["scale"]]
    results["scale"] = [scale_row(step) if row["endpoints"] == 1000
                        and "silent_endpoints" not in row else row for row in results["scale"]]
    results["targets"] = targets(details["cluster"], details["scale"], details["silent"])
    results["sizes_1000"] = sizes_1000(step, measured=measured_now(load_at_start))
    update_entry(output, "sizes_1000", results["sizes_1000"])
    for key in ("scale", "targets", "details"):
        update_entry(output, key, results[key])
    output.with_suffix(".md").write_text(markdown_table(results), encoding="utf-8")
    print(json.dumps(results["sizes_1000"], indent=2))
    return 0


# -- over a WAN: a delaying proxy in front of the lab (issue 25) -------------------------

WAN_DELAYS_MS = (0.0, 50.0, 100.0)
#: the polite floor: at most this many handshakes at once to one host
FLOOR_PER_HOST = 4


@dataclass(frozen=True)
class ProxiedEndpoint:
    host: str
    address: str
    port: int
    leaves: frozenset[str]


class Proxied:
    """A lab fleet as seen through a :class:`DelayProxy`: the same nodes and names, every
    endpoint at the proxy's 127.0.0.1 port in front of it."""

    def __init__(self, fleet: Fleet, proxy: DelayProxy, folder: Path) -> None:
        from dataclasses import replace

        from auditor.collect.inventory import inventory_to_yaml
        from auditor.common.fileio import write_atomic

        front = {(e.address, e.port): port
                 for e, port in zip(fleet.endpoints, proxy.ports, strict=True)}
        self.endpoints = [ProxiedEndpoint(e.host, "127.0.0.1", front[(e.address, e.port)],
                                          e.leaves) for e in fleet.endpoints]
        inventory = fleet.inventory()
        nodes = tuple(replace(node, address="127.0.0.1",
                              ports={s: front[(node.address, p)]
                                     for s, p in node.ports.items()})
                      for node in inventory.nodes)
        folder.mkdir(parents=True, exist_ok=True)
        self.inventory_path = folder / "inventory.yaml"
        write_atomic(self.inventory_path,
                     inventory_to_yaml(replace(inventory, nodes=nodes, path=None)))
        self.agent_trust_path = fleet.agent_trust_path


def wan_step(delays_ms: Sequence[float], runs: int, work: Path, quick: bool) -> dict:
    """The lab's three-node cluster (every port) behind a delaying proxy, at each one-way
    delay: audit, sslyze and the polite floor, interleaved."""
    load_at_start = list(os.getloadavg())
    started = time.perf_counter()
    rows = []
    with Fleet(12, work / "wan-fleet", all_ports=True) as fleet:
        upstreams = [(e.address, e.port) for e in fleet.endpoints]
        for delay in delays_ms:
            say(f"wan: {delay:g} ms one-way through the proxy, {runs} runs each of audit, "
                "sslyze and the polite floor")
            label = f"wan-{delay:g}"
            with DelayProxy(upstreams, delay_ms=delay) as proxy:
                site = Proxied(fleet, proxy, work / label)
                floor_cmd = floor_command(site, work, f"{label}-floor.json",
                                          per_host=FLOOR_PER_HOST)
                measure(audit_command(site, work / f"{label}-warm-up", all_ports=True),
                        home=fresh_home(work))
                samples = interleaved(runs, {
                    "audit": lambda i, label=label, site=site: measure(
                        audit_command(site, work / f"{label}-audit-{i}", all_ports=True),
                        home=fresh_home(work)),
                    "sslyze": lambda i, label=label, site=site: measure(
                        sslyze_command(site, work / f"{label}-sslyze-{i}.json")),
                    "floor": lambda i, label=label, floor_cmd=floor_cmd: measure(
                        floor_cmd, stdout=work / f"{label}-floor-{i}.json"),
                })
                expected = {(e.address, e.port): e.leaves for e in site.endpoints}
                ours = audit_leaves(work / f"{label}-audit-0" / "facts.json")
                theirs = sslyze_leaves(work / f"{label}-sslyze-0.json")
                floor = {leaf for leaf in json.loads(
                    (work / f"{label}-floor-0.json").read_text()) if leaf}
            step = summarise(samples, endpoints=len(expected), expected=expected, ours=ours,
                             theirs=theirs, floor_leaves=floor)
            rows.append({**step, "one_way_ms": delay})
    return wan_section(rows, runs={
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": quick,
        "floor_per_host": FLOOR_PER_HOST, "duration_s": round(time.perf_counter() - started, 1),
        "load_average_at_start": load_at_start, "load_average_at_end": list(os.getloadavg())})


def wan_runs(plan: Plan) -> int:
    return max(3, plan.cluster_runs // 2)


def only_wan(plan: Plan, delays_ms: Sequence[float]) -> int:
    """Run the WAN rows alone: update only ``wan`` and its section of the Markdown."""
    ensure_sslyze()
    work = Path(tempfile.mkdtemp(prefix="uccx-bench-"))
    try:
        section = wan_step(delays_ms, wan_runs(plan), work, plan is QUICK)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    update_entry(plan.output, "wan", section,
                 markdown=(WAN_HEADING, wan_markdown(section)))
    print(wan_markdown(section), end="")
    say(f"wan written to {plan.output}")
    return 0


def delays(text: str) -> list[float]:
    """``--rtt 0,50,100``: one-way delays in milliseconds, 0 first (the rows grow from it)."""
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected milliseconds such as 0,50,100"
                                         ) from None
    if not values or values[0] < 0 or values[-1] > 5000:
        raise argparse.ArgumentTypeError(f"{text!r}: expected milliseconds from 0 to 5000")
    return values if values[0] == 0 else [0.0, *values]


# -- a real server: Apache Tomcat 10 (issue 15) ------------------------------------------

TOMCAT_CLUSTER_SCENARIO = "row4-upgrade-trap"
TOMCAT_SCALE_ENDPOINTS = 100
#: bounds on the JVM's start: 8 connectors start in seconds, 100 in a few more
TOMCAT_START_TIMEOUT_S = {"cluster": 90.0, "scale_100": 180.0}
PROFILES_FOR_LEAVES = ("browser", "ecdsa_only", "rsa_only")
TOMCAT_WARM_UP_FLOORS = 3


def tomcat_helper() -> ModuleType:
    """The test suite's Tomcat helper (``tests/tomcat.py``), loaded by path: one way to
    serve Tomcat for the tests and the benchmark, and nothing of it in the wheel."""
    path = BENCH.parent / "tests" / "tomcat.py"
    name = "uccx_bench_tomcat"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the Tomcat helper from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def tomcat_scale_scenario(endpoints: int) -> Scenario:
    """``endpoints`` endpoints as one FAQ-row-4 inventory, laid out as the lab fleet is: a
    publisher and a subscriber (the map's default ports each), then SocialMiner nodes (2
    ports each); every node has its own keys and certificates (``tomcat`` RSA-CA-signed,
    ``tomcat-ECDSA`` self-signed) and its own loopback address."""
    from auditor.lab.scenarios import RSA_CA, SELF_SIGNED, NodeSpec, Scenario
    from auditor.model.cluster import DEFAULT_PORTS

    uccx, socialminer = len(DEFAULT_PORTS["uccx"]), len(DEFAULT_PORTS["socialminer"])
    rest = endpoints - 2 * uccx
    if rest < 0 or rest % socialminer:
        raise ValueError(f"{endpoints} endpoints: expected {2 * uccx} + a multiple of "
                         f"{socialminer}")
    nodes = (NodeSpec("uccx-pub", "uccx-publisher", RSA_CA, SELF_SIGNED),
             NodeSpec("uccx-sub", "uccx-subscriber", RSA_CA, SELF_SIGNED),
             *(NodeSpec(f"sm{i + 1:03d}", "socialminer", RSA_CA, SELF_SIGNED)
               for i in range(rest // socialminer)))
    return Scenario(f"scale-{endpoints}", f"{endpoints} endpoints with FAQ row 4 "
                    "certificates", "11.5(1)", nodes, faq_row=4)


def tomcat_server_info() -> dict[str, str]:
    """Tomcat's and the JVM's versions, as Tomcat's own ``version.sh`` reports them."""
    lib = Path("/usr/share/tomcat10/lib")
    try:
        shown = subprocess.run(
            ["java", "-cp", f"{lib / 'catalina.jar'}:{lib / 'tomcat-util.jar'}",
             "org.apache.catalina.util.ServerInfo"],
            capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as error:
        return {"version": f"unknown ({error})"}
    fields = dict(line.split(":", 1) for line in shown.splitlines() if ":" in line)
    return {"version": fields.get("Server version", "?").strip(),
            "jvm": fields.get("JVM Version", "?").strip()}


def tomcat_site_step(label: str, tomcat_module: ModuleType, scenario: Scenario | str, runs: int,
                     work: Path) -> tuple[dict, float]:
    """One Tomcat serving one site; audit (four reports, every port the site serves, all
    profiles) vs sslyze --certinfo vs the floor, interleaved; the step and Tomcat's start."""
    folder = work / f"tomcat-{label}"
    tomcat = tomcat_module.Tomcat(folder, start_timeout=TOMCAT_START_TIMEOUT_S[label])
    site = tomcat.add_site(scenario)
    say(f"tomcat {label}: starting Tomcat with {len(site.endpoints)} connectors")
    with tomcat:
        say(f"tomcat {label}: started in {tomcat.started_in:.1f} s; {runs} runs each of "
            "audit, sslyze and the floor")
        floor_cmd = floor_command(site, folder, f"floor-input-{label}.json")
        # compiles the modules as `pip install` does; each contender once, and the floor's
        # handshakes a few times, so that the JVM has compiled its TLS code as a server
        # that has been up for a while has
        measure(audit_command(site, folder / "audit-warm-up", all_ports=False),
                home=fresh_home(work))
        measure(sslyze_command(site, folder / "sslyze-warm-up.json"))
        for _ in range(TOMCAT_WARM_UP_FLOORS):
            measure(floor_cmd)
        samples = interleaved(runs, {
            "audit": lambda i: measure(audit_command(site, folder / f"audit-{i}",
                                                     all_ports=False), home=fresh_home(work)),
            "sslyze": lambda i: measure(sslyze_command(site, folder / f"sslyze-{i}.json")),
            "floor": lambda i: measure(floor_cmd, stdout=folder / f"floor-{i}.json"),
        })
        started_in = tomcat.started_in
    expected = {(e.address, e.port): frozenset(filter(None, (e.expected_leaf(p) for p in
                                                             PROFILES_FOR_LEAVES)))
                for e in site.endpoints}
    ours = audit_leaves(folder / "audit-0" / "facts.json")
    theirs = sslyze_leaves(folder / "sslyze-0.json")
    floor = {leaf for leaf in json.loads((folder / "floor-0.json").read_text()) if leaf}
    step = summarise(samples, endpoints=len(expected), expected=expected, ours=ours,
                     theirs=theirs, floor_leaves=floor)
    step["scenario"] = site.scenario.name
    return step, started_in


def tomcat_step(plan: Plan, work: Path, sslyze_version: str) -> dict:
    """The ``tomcat`` section: one FAQ-row-4 cluster (8 endpoints) on one Tomcat, then
    100 endpoints on another, each audited, scanned by sslyze and handshaken by the floor."""
    module = tomcat_helper()
    module.catalina_script()  # missing Tomcat: fail now, saying what to install
    load_at_start = list(os.getloadavg())
    started = time.perf_counter()
    cluster_runs, scale_runs = plan.tomcat_runs
    cluster, cluster_start = tomcat_site_step("cluster", module, TOMCAT_CLUSTER_SCENARIO,
                                              cluster_runs, work)
    scale, scale_start = tomcat_site_step("scale_100", module,
                                          tomcat_scale_scenario(TOMCAT_SCALE_ENDPOINTS),
                                          scale_runs, work)
    server = {**tomcat_server_info(), "tls": "JSSE",
              "started_in_s": {"cluster": round(cluster_start, 1),
                               "scale_100": round(scale_start, 1)},
              "jvm_options": module.CATALINA_OPTS,
              "warm_up": f"1 audit, 1 sslyze, {TOMCAT_WARM_UP_FLOORS} floors per Tomcat"}
    return tomcat_section(cluster, scale, server=server, runs={
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": plan is QUICK, "sslyze": sslyze_version,
        "tool_command": " ".join(uccx_audit()),
        "duration_s": round(time.perf_counter() - started, 1),
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg())})


def only_tomcat(plan: Plan) -> int:
    """Run the Tomcat step alone: update only ``tomcat`` in the results file and only its
    section in the Markdown beside it."""
    sslyze_version = ensure_sslyze()
    work = Path(tempfile.mkdtemp(prefix="uccx-bench-"))
    try:
        section = tomcat_step(plan, work, sslyze_version)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    output = plan.output
    update_entry(output, "tomcat", section,
                 markdown=(TOMCAT_HEADING, tomcat_markdown(section)))
    print(tomcat_markdown(section), end="")
    say(f"tomcat written to {output} and {output.with_suffix('.md')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one run per scale step; writes bench/results/quick.json")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", choices=[PORTFOLIO_KEY, "sizes", "tomcat", "wan"],
                        help="run this step alone and update only its entry of the results")
    parser.add_argument("--rtt", type=delays, metavar="MS[,MS...]",
                        help="the WAN rows alone: a delaying proxy in front of the lab, "
                        "at these one-way delays in ms (0 is always measured too)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.rtt is not None or args.only == "wan":
        return only_wan(plan, args.rtt or WAN_DELAYS_MS)
    if args.only == PORTFOLIO_KEY:
        return only_portfolio(plan.output)
    if args.only == "sizes":
        return only_sizes(plan)
    if args.only == "tomcat":
        return only_tomcat(plan)
    started = time.perf_counter()
    sslyze_version = ensure_sslyze()
    work = Path(tempfile.mkdtemp(prefix="uccx-bench-"))
    try:
        description = machine(sslyze_version)
        cluster = cluster_step(plan, work)
        latency = latency_step(max(3, plan.cluster_runs // 2), LATENCY_MS, work)
        scale = [scale_step(n, runs, n == 100, work) for n, runs in plan.scale_runs.items()]
        silent = silent_step(plan.silent_runs, work)
        portfolio = portfolio_step(PORTFOLIO_CLUSTERS, work)
        wan = wan_step(WAN_DELAYS_MS, wan_runs(plan), work, args.quick)
        tomcat = tomcat_step(plan, work, sslyze_version)
        description["load_average_at_end"] = list(os.getloadavg())
        results = write_results(plan.output, cluster=cluster, latency=latency, scale=scale,
                                silent=silent,
                                machine=description, quick=args.quick,
                                duration_s=time.perf_counter() - started)
        results["sizes_1000"] = sizes_1000(
            next(s for s in scale if s["endpoints"] == 1000),
            measured={"measured_at": results["generated_at"]})
        results[PORTFOLIO_KEY] = portfolio
        results["wan"] = wan
        results["tomcat"] = tomcat
        plan.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown_table(results)
    plan.output.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table, end="")
    say(f"results in {plan.output} and {plan.output.with_suffix('.md')} "
        f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
