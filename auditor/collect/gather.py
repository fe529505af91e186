"""One collector: an inventory and its sources in, facts out.

Every command that collects (``audit``, ``probe``, a portfolio) calls :func:`gather` or
:func:`gather_many`, so that they gather the same facts from the same inputs. Two things
are decided here and nowhere else:

- **offline or not**: an inventory's facts come from the first source, in stage order,
  that covers it (:meth:`~auditor.collect.sources.Source.covers`): the PEM folders when
  they hold every node's keystore, else the network probe. An inventory another source
  covers is never probed.
- **the order of reading and refining**: sources are read stage by stage for every
  inventory at once (files, then the nodes' shells, then the network: what can stop the
  run stops it before any traffic), and every reading but the one that gave the facts
  refines them in that same order (what is installed outranks what is presented; what a
  node's CLI shows now is applied last).

Last, the chains of nodes that declare external chat are judged against the public roots
(:mod:`auditor.collect.public`), whichever source gave them: the system trust store is read
once per run, and only when some node declares it.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.collect.sources import Reading, Source
from auditor.common.errors import InputError
from auditor.model.cluster import Inventory
from auditor.model.facts import Facts


def _ordered(sources: Sequence[Source]) -> list[Source]:
    return sorted(sources, key=lambda source: source.stage)


def givers(inventories: Sequence[Inventory], sources: Sequence[Source]) -> list[Source]:
    """The source that gives each inventory's facts (the "offline or not" decision); an
    inventory no source covers is an input error naming it."""
    ordered = _ordered(sources)
    chosen = []
    for inventory in inventories:
        giver = next((s for s in ordered if s.covers(inventory)), None)
        if giver is None:
            raise InputError(f"nothing can gather the facts of cluster {inventory.cluster!r}",
                             path=inventory.path, expected="its nodes' certificates "
                             "(pem_dir or --from-pem) or their network endpoints")
        chosen.append(giver)
    return chosen


def probed(inventories: Sequence[Inventory], sources: Sequence[Source]) -> list[Inventory]:
    """The inventories whose facts the network probe gives (for progress reporting)."""
    from auditor.collect.sources import Stage

    return [inv for inv, giver in zip(inventories, givers(inventories, sources), strict=True)
            if giver.stage == Stage.NETWORK]


def gather_many(inventories: Sequence[Inventory], sources: Sequence[Source]) -> list[Facts]:
    """Each inventory's facts, in order, from ``sources`` (a network source reads all the
    inventories it gives facts for at once: one handshake pool for the whole run)."""
    chosen = givers(inventories, sources)
    readings: list[list[Reading | None]] = []
    ordered = _ordered(sources)
    for source in ordered:
        whole = [giver is source for giver in chosen]
        got = source.read(inventories, whole)
        if len(got) != len(inventories):
            raise AssertionError(f"source {source.name} read {len(got)} of "
                                 f"{len(inventories)} inventories")
        readings.append(got)
    gathered = []
    for index, giver in enumerate(chosen):
        base = readings[next(i for i, s in enumerate(ordered) if s is giver)][index]
        if base is None or base.facts is None:
            raise AssertionError(f"source {giver.name} gave no facts for "
                                 f"{inventories[index].cluster!r}")
        facts = base.facts
        for source, read in zip(ordered, readings, strict=True):
            reading = read[index]
            if source is not giver and reading is not None and reading.refine is not None:
                facts = reading.refine(facts)
        gathered.append(facts)
    return _judged_publicly(gathered)


def _judged_publicly(gathered: list[Facts]) -> list[Facts]:
    from auditor.collect.public import judge_publicly, wants_public_trust
    from auditor.collect.trust import load_agent_trust

    if not any(wants_public_trust(facts) for facts in gathered):
        return gathered
    public = load_agent_trust(None)
    return [judge_publicly(facts, public) for facts in gathered]


def gather(inventory: Inventory, sources: Sequence[Source]) -> Facts:
    """The facts of one inventory from ``sources`` (:func:`gather_many`)."""
    return gather_many([inventory], sources)[0]
