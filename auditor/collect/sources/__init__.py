"""The places facts come from, one module each, behind one small interface.

A :class:`Source` reads what it can of a set of inventories and hands back, per inventory,
a :class:`Reading`: the whole facts (a source that covers the inventory alone) or a step
that refines facts another source gathered. :func:`auditor.collect.gather.gather` decides
which source gives each inventory's facts (the "offline or not" decision) and the order
every other reading refines them in; the sources decide nothing of the kind.

- :mod:`.pem` (stage ``FILES``): the certificates downloaded from OS Administration, a
  node's ``pem_dir`` or ``--from-pem``; covers an inventory whose every keystore it holds.
- :mod:`.vos_cli` (stage ``SHELL``): each node's VOS CLI over SSH; only refines.
- :mod:`.network` (stage ``NETWORK``): the TLS probe; covers every inventory, and reads
  all the inventories it is given through one handshake pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from auditor.model.cluster import Inventory
    from auditor.model.facts import Facts


class Stage(IntEnum):
    """When a source is read, and the order its readings refine facts in: local files
    first (a bad folder is an input error before any traffic), then the nodes' shells (a
    changed host key stops the run before any probe), then the network."""

    FILES = 0
    SHELL = 1
    NETWORK = 2


@dataclass(frozen=True)
class Reading:
    """What one source read of one inventory: the whole ``facts`` when the source was asked
    for them, else ``refine``, which puts what it read on facts gathered elsewhere."""

    source: str
    facts: Facts | None = None
    refine: Callable[[Facts], Facts] | None = None


@runtime_checkable
class Source(Protocol):
    """One place facts come from."""

    #: a short name for messages and readings ("network", "pem", "vos_cli")
    name: str
    stage: Stage

    def covers(self, inventory: Inventory) -> bool:
        """Whether this source alone can give the whole facts of ``inventory``."""
        ...

    def read(self, inventories: Sequence[Inventory], whole: Sequence[bool]
             ) -> list[Reading | None]:
        """A reading per inventory, in order (None: nothing to say of it); ``whole[i]``:
        this source is to give inventory ``i``'s whole facts, else only what refines
        them."""
        ...


__all__ = ["Reading", "Source", "Stage"]
