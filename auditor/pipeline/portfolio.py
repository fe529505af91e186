"""A portfolio: many clusters audited in one run, and the roll-up a partner acts on.

Every cluster gets its own folder with its facts and four reports, exactly as a single
audit writes them. The portfolio folder above them gets ``portfolio.json``, ``.csv`` and
``.html``: each cluster's verdict, blockers (error findings) and unknowns (gadgets whose
outcome the audit could not see), and the certificates across all clusters that expire
within the expiry window, soonest first, the expired ones included.

Every cluster's facts are gathered at once (:func:`auditor.collect.gather.gather_many`):
all clusters that are probed are probed through one handshake pool, so the concurrency
limit holds for the whole run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from auditor.collect.gather import gather_many
from auditor.collect.handshake import Handshake, Target
from auditor.collect.inventory import load_inventory
from auditor.common.errors import InputError
from auditor.common.filenames import name_key, nfc, unique_file_names
from auditor.evaluate.waivers import WaiverSet
from auditor.model.audit import Invocation
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts, load_facts
from auditor.model.portfolio import (
    PORTFOLIO_FILES,
    ClusterRollUp,
    Portfolio,
    _nodes,
    cluster_roll_up,
    roll_up,
)
from auditor.pipeline.outdir import OutputSet
from auditor.pipeline.run import (
    FACTS_FILE,
    SET_NAMES,
    AuditRequest,
    judge_and_write,
    keep_facts,
    load_waiver_files,
    output_error,
    rule_set_entry,
    set_names,
    sources,
)
from auditor.render.portfolio import write_portfolio

if TYPE_CHECKING:
    from auditor.collect.vos_cli import CliRequest
    from auditor.evaluate.ruleset import RuleSet


Progress = Callable[[Target, tuple[Handshake, ...]], None]
T = TypeVar("T")
#: Clusters judged and written at once (the work is Python; the waits are the disk's).
WRITERS = 4


# -- inputs -------------------------------------------------------------------------------

def _named_files(paths: Sequence[Path], suffixes: tuple[str, ...], what: str) -> list[Path]:
    """A file as it is, a folder as every file in it with one of ``suffixes`` (sorted); a
    folder with none is an input error naming ``what`` it should hold."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in suffixes and p.is_file())
            if not found:
                raise InputError(f"the folder holds no {what}", path=str(path))
            files += found
        else:
            files.append(path)
    return files


def inventory_files(paths: Sequence[Path]) -> list[Path]:
    """The inventory files named: a file as it is, a folder as every ``*.yaml`` in it."""
    return _named_files(paths, (".yaml", ".yml"), "inventory (*.yaml)")


def facts_files(paths: Sequence[Path]) -> list[Path]:
    """The facts files named: a file as it is, a folder as every ``*.json`` in it."""
    return _named_files(paths, (".json",), "facts file (*.json)")


def rollup_name(name: str) -> bool:
    """Whether ``name`` is (on some file system) one the portfolio folder keeps for its own
    files: the roll-up, a single audit's set, the evidence zips."""
    key = name_key(name)
    return (key in {name_key(n) for n in (*SET_NAMES, *PORTFOLIO_FILES.values())}
            or (key.startswith("evidence-") and key.endswith(".zip")))


def folder_names(clusters: Sequence[str]) -> list[str]:
    """A folder name per cluster, in order: its name made safe for Windows, macOS and Linux
    (composed, any script), no two alike where case or Unicode form do not count, never a
    roll-up file's name (:func:`auditor.common.filenames.unique_file_names`). The cluster's
    own name stays in the portfolio's data."""
    return unique_file_names(clusters, reserved=rollup_name)


# -- the run ------------------------------------------------------------------------------

def _waivers_for(waivers: Sequence[WaiverSet], hosts: set[str]) -> list[WaiverSet]:
    """The waivers that can concern a cluster: for every node ("*") or one of its hosts."""
    mine = []
    for waiver_set in waivers:
        kept = tuple(w for w in waiver_set.waivers if w.node == "*" or w.node in hosts)
        if kept:
            mine.append(replace(waiver_set, waivers=kept))
    return mine


def load_inventories(paths: Sequence[Path]) -> list[Inventory]:
    """Every inventory named (files, or folders of them), each validated."""
    return [load_inventory(p) for p in inventory_files(paths)]


def _parallel(function: Callable[..., T], *iterables: Sequence[Any]) -> list[T]:
    """``map`` over a few threads: each cluster's files are written (and synced to disk)
    while the next cluster is judged. Results in order; the first error is raised."""
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="cluster") as pool:
        return list(pool.map(function, *iterables))


def cluster_invocation(invocation: Invocation | None,
                       inventory: Inventory) -> Invocation | None:
    """The command that audits one cluster of a portfolio again: the portfolio's own, with
    only that cluster's inventory."""
    if invocation is None or inventory.path is None:
        return invocation
    args, skip = [], False
    for arg in invocation.args:
        if skip:
            skip = False
            continue
        if arg in ("--inventory", "-i"):
            skip = True
            continue
        if arg.startswith(("--inventory=", "-i")):  # the value attached
            continue
        args.append(arg)
    at = 1 if args and args[0] == "audit" else 0
    args[at:at] = ["--inventory", inventory.path]
    return replace(invocation, args=tuple(args), inventory=inventory.path)


def run_portfolio(inventories: Sequence[Inventory], request: AuditRequest,
                  progress: Progress | None = None, *,
                  cli_for: Callable[[Inventory], CliRequest | None] | None = None,
                  output: OutputSet | None = None,
                  ) -> tuple[Portfolio, list[ClusterWritten]]:
    """Audit every inventory into ``request.out_dir/<cluster>/`` and write the portfolio
    into ``request.out_dir``, all at once (:mod:`auditor.pipeline.outdir`; ``output``: the
    folder's staging if the caller claimed it). Every input is checked before anything is
    probed."""
    from auditor.evaluate.projection import make_settings
    from auditor.evaluate.ruleset import load_ruleset

    ruleset = load_ruleset(list(request.rule_dirs))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for inventory in inventories:
        make_settings(inventory.version, now, phase=request.phase,
                      target_version=request.target_version, change_date=request.change_date,
                      expiry_window_days=request.expiry_window_days)
    everyone = Inventory("portfolio", "11.5(1)",
                         tuple(n for inv in inventories for n in inv.nodes))
    waivers = load_waiver_files(request.waiver_files, ruleset, everyone)
    names = folder_names([inv.cluster for inv in inventories])
    requests = [replace(request, inventory=inv, out_dir=Path(name),
                        invocation=cluster_invocation(request.invocation, inv),
                        provenance=replace(request.provenance, inventory=Path(inv.path))
                        if inv.path else request.provenance,
                        cli=cli_for(inv) if cli_for else None)
                for inv, name in zip(inventories, names, strict=True)]
    cli_of = {id(r.inventory): r.cli for r in requests}
    with contextlib.ExitStack() as stack:
        if output is None:
            output = stack.enter_context(OutputSet(request.out_dir))
        output.claim(_set_names(requests))  # a file of the user's by one of those names: stop
        requests = [replace(r, out_dir=output.stage / r.out_dir) for r in requests]
        # every cluster's facts are gathered (one handshake pool for all that are probed)
        # and saved before any is judged: a failure loses nothing
        all_facts = gather_many(inventories, sources(
            request, progress, lambda inventory: cli_of[id(inventory)]))
        return _judge_all(request, output, ruleset, waivers, requests, all_facts)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ClusterWritten:
    """One cluster of a portfolio once its folder is written: where its files are and the
    waiver notices the terminal shows. Its audit is not kept (a thousand clusters' audits
    at once would be most of the run's memory); its line is in the portfolio."""

    facts_path: Path
    reports: dict[str, Path]
    waiver_notices: tuple[str, ...] = ()
    manifest: Path | None = None
    bundle: Path | None = None
    notes: tuple[str, ...] = ()


def _judge_all(request: AuditRequest, output: OutputSet, ruleset: RuleSet,
               waivers: Sequence[WaiverSet], requests: Sequence[AuditRequest],
               all_facts: list[Facts]) -> tuple[Portfolio, list[ClusterWritten]]:
    """Keep every cluster's facts, judge and write each cluster, the portfolio, and move
    the whole set in. Streams: ``all_facts`` is emptied, and each cluster's facts and
    audit are dropped once its folder is written; only what the roll-up needs stays."""
    names = [r.out_dir.name for r in requests]
    paths = keep_facts(output, {f"{name}/{FACTS_FILE}": facts
                                for name, facts in zip(names, all_facts, strict=True)},
                       *(f"{name}/{FACTS_FILE}" for name in names))
    pending = dict(enumerate(all_facts))  # taken out one by one as each cluster is judged
    all_facts.clear()
    rule_set: list[dict[str, Any]] = []

    def judge(index: int) -> tuple[ClusterRollUp, ClusterWritten]:
        each, facts = requests[index], pending.pop(index)
        hosts = {n.host for n in each.inventory.nodes}
        name = each.out_dir.name
        result = judge_and_write(each, ruleset, _waivers_for(waivers, hosts), facts,
                                 paths[index], kept=output.kept / f"{name}.json",
                                 log_dir=output.kept, shown_dir=output.out / name)
        if index == 0:
            rule_set.append(rule_set_entry(result.audit, request))
        written = ClusterWritten(result.facts_path, result.reports,
                                 result.audit.waiver_notices, result.manifest, result.bundle,
                                 result.notes)
        return cluster_roll_up(result.audit, result.facts_path.parent.name), written

    done = _parallel(judge, range(len(requests)))
    portfolio = roll_up([part for part, _ in done])
    written = [each for _, each in done]
    del done
    try:
        write_portfolio(portfolio, output.stage)
        _seal(request, output.stage, rule_set[0] if rule_set else None)
        output.commit()
    except OSError as exc:
        raise output_error(exc, output.out, output.kept) from None
    return portfolio, [_final(each, output) for each in written]


def _final(written: ClusterWritten, output: OutputSet) -> ClusterWritten:
    """``written`` with its paths where the files are once the set is in place."""
    def moved(path: Path | None) -> Path | None:
        return output.final(path) if path is not None else None

    return replace(written, facts_path=output.final(written.facts_path),
                   reports={k: output.final(v) for k, v in written.reports.items()},
                   manifest=moved(written.manifest), bundle=moved(written.bundle))


def portfolio_from_facts(paths: Sequence[Path], request: AuditRequest
                         ) -> tuple[Portfolio, list[ClusterWritten]]:
    """Evaluate facts recorded elsewhere (``uccx-audit probe --out`` on a jump host) into
    ``request.out_dir/<cluster>/`` and write the portfolio into ``request.out_dir``."""
    from auditor.collect.recorded import check_recorded_certificates
    from auditor.evaluate.projection import settings_for
    from auditor.evaluate.ruleset import load_ruleset

    ruleset = load_ruleset(list(request.rule_dirs))
    files = facts_files(paths)
    all_facts = [replace(facts, cluster=nfc(facts.cluster))  # as an inventory's: composed
                 for facts in (load_facts(p) for p in files)]
    for path, facts in zip(files, all_facts, strict=True):
        check_recorded_certificates(facts, str(path))
        try:  # every cluster's settings are checked before anything is written
            settings_for(facts, phase=request.phase, target_version=request.target_version,
                         change_date=request.change_date,
                         expiry_window_days=request.expiry_window_days)
        except InputError as exc:
            raise InputError(exc.message, path=str(path), field=exc.field,
                             expected=exc.expected) from None
    everyone = Inventory("portfolio", "11.5(1)",
                         tuple(node for facts in all_facts for node in _nodes(facts)))
    waivers = load_waiver_files(request.waiver_files, ruleset, everyone)
    names = folder_names([f.cluster for f in all_facts])
    with OutputSet(request.out_dir) as output:
        output.claim(_set_names([replace(request, out_dir=Path(name)) for name in names]))
        requests = [replace(request, out_dir=output.stage / name) for name in names]
        return _judge_all(request, output, ruleset, waivers, requests, all_facts)


def _set_names(requests: Sequence[AuditRequest]) -> list[str]:
    """The paths a portfolio writes into its folder: the roll-up, the manifest, and each
    cluster's files in its folder (``out_dir``: the folder's name)."""
    from auditor.model.portfolio import PORTFOLIO_FILES
    from auditor.pipeline.manifest import MANIFEST_FILE

    return [*PORTFOLIO_FILES.values(), MANIFEST_FILE,
            *(f"{r.out_dir.name}/{name}" for r in requests for name in set_names(r))]


def _seal(request: AuditRequest, folder: Path, rule_set: dict[str, Any] | None) -> Path:
    """The portfolio folder's own manifest, written last: every file of the set (the
    roll-up, and each cluster's facts, reports, manifest and bundle), so that the folder
    is known as the tool's and ``verify`` can check all of it (``rule_set``: the first
    cluster's, as :func:`auditor.pipeline.run.rule_set_entry` records it)."""
    from auditor.pipeline.manifest import write_manifest

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return write_manifest(folder, files,
                          provenance=replace(request.provenance, inventory=None),
                          rule_set=rule_set, trust=request.trust, ticket=request.meta.ticket,
                          operator=request.meta.operator)


# -- the roll-up --------------------------------------------------------------------------


# -- files --------------------------------------------------------------------------------













