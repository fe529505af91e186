"""A portfolio streams: each cluster's audit and facts are dropped once its folder is
written, and only what the roll-up needs is kept, so that a partner's thousand clusters do
not all sit in memory at once (issue 25). Structure, not bytes or seconds, is asserted."""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
import weakref
from pathlib import Path

import auditor.pipeline.portfolio as pipeline
from auditor.collect.trust import AgentTrust
from auditor.model.audit import Audit
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts
from auditor.pipeline.run import AuditRequest
from auditor.render import ReportMeta

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
CLUSTERS = 12  # three times the writers: a run that kept every audit is seen


def _live(refs: list[weakref.ref]) -> int:
    gc.collect()
    return sum(1 for ref in refs if ref() is not None)


def _holds(value: object, kind: type, seen: set[int] | None = None) -> bool:
    """Whether ``value`` is or holds (through dataclass fields, tuples, lists and dicts)
    an instance of ``kind``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, kind):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds(getattr(value, f.name), kind, seen)
                   for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list, set, frozenset)):
        return any(_holds(v, kind, seen) for v in value)
    if isinstance(value, dict):
        return any(_holds(v, kind, seen) for v in value.values())
    return False


def test_a_portfolio_keeps_no_cluster_audit_or_facts_once_the_folder_is_written(
        tmp_path: Path, monkeypatch) -> None:
    files = []
    for index, source in enumerate(sorted(FACTS.glob("*.json"))[:CLUSTERS]):
        data = json.loads(source.read_text(encoding="utf-8"))
        data["cluster"] = f"customer-{index:02d}"
        files.append(tmp_path / "facts" / f"customer-{index:02d}.json")
        files[-1].parent.mkdir(exist_ok=True)
        files[-1].write_text(json.dumps(data), encoding="utf-8")
    assert len(files) == CLUSTERS

    audits: list[weakref.ref] = []
    facts_seen: list[weakref.ref] = []
    most_alive = [0]
    lock = threading.Lock()
    judge_and_write = pipeline.judge_and_write

    def spy(request, ruleset, waivers, facts, *args, **kwargs):
        with lock:
            most_alive[0] = max(most_alive[0], _live(audits))
            facts_seen.append(weakref.ref(facts))
        result = judge_and_write(request, ruleset, waivers, facts, *args, **kwargs)
        with lock:
            audits.append(weakref.ref(result.audit))
        return result

    monkeypatch.setattr(pipeline, "judge_and_write", spy)
    request = AuditRequest(
        inventory=Inventory("portfolio", "11.5(1)", ()), phase="post",
        trust=AgentTrust("facts", ()), out_dir=tmp_path / "out",
        meta=ReportMeta.now(None, None))
    portfolio, results = pipeline.portfolio_from_facts([tmp_path / "facts"], request)

    assert len(portfolio.clusters) == len(results) == len(audits) == CLUSTERS
    # while a cluster is judged, only the clusters being judged beside it have an audit
    assert most_alive[0] <= pipeline.WRITERS
    # nothing the run returns holds a cluster's audit or facts, and nothing else kept them
    assert not _holds(results, Audit) and not _holds(results, Facts)
    assert not _holds(portfolio, Audit) and not _holds(portfolio, Facts)
    assert _live(audits) == 0
    assert _live(facts_seen) == 0
    for entry, result in zip(portfolio.clusters, results, strict=True):
        assert result.facts_path == tmp_path / "out" / entry.folder / "facts.json"
        assert result.facts_path.is_file() and result.reports["json"].is_file()
