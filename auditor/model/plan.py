"""The remediation plan as data: what the audit asks an admin to do, step by step, stored in
``audit.json`` and only formatted by the renderers.

Built by :func:`auditor.evaluate.plan.build_plan` from the findings and the playbooks they
name. Every step says on which node (and its role) or at which place it is done, where
(OS Administration, the VOS CLI, the CA, agents' PCs, the audit host, Cisco Software
Download), what to do, the exact command where there is one, when (before the upgrade,
after it, or in the maintenance window) and which verify step checks it. A note that
several steps share is kept once (``Plan.notes``) and the steps refer to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Where a step done on a node is done (a playbook step's ``via``), in words.
VIA = {"os-admin": "OS Administration", "vos-cli": "VOS CLI"}


@dataclass(frozen=True)
class PlanStep:
    number: int
    #: node (done on ``node``), place (elsewhere), restart, verify
    kind: str
    #: where it is done: OS Administration, VOS CLI, or a place off the cluster in words
    where: str
    #: what to do, in words (the node is ``node``, not repeated in the words)
    action: str
    #: before-upgrade, after-upgrade or window
    phase: str
    node: str | None = None
    role: str | None = None
    #: the exact command to type, copied as is
    command: str | None = None
    #: the number of the plan's note that goes with it (1-based, ``Plan.notes``)
    note: int | None = None
    #: the number of the verify step that checks it (a verify step: None)
    verified_by: int | None = None
    #: a verify step: what each node must show afterwards, one line per node
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanItem:
    playbook: str
    title: str
    when_to_use: str
    because: tuple[str, ...]
    nodes: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    verify: PlanStep
    citations: tuple[str, ...]
    #: The nodes in the order the restart steps restart them (empty: no restart).
    restart_order: tuple[str, ...] = ()
    changes_certificates: bool = False
    #: before-upgrade or after-upgrade: the part of a pre-upgrade plan it belongs to
    #: (after-upgrade in a post-upgrade plan)
    part: str = "after-upgrade"


@dataclass(frozen=True)
class Alternative:
    playbook: str
    title: str
    when_to_use: str
    instead_of: tuple[str, ...]
    #: The findings it would also fix (their titles).
    for_findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Improvement:
    """A playbook that findings name but that nothing requires (they count toward no
    verdict): offered as an optional improvement, never as steps to do."""

    playbook: str
    title: str
    when_to_use: str
    because: tuple[str, ...]
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Consequence:
    """A finding that follows from another: fixing the cause fixes it, so no playbook."""

    title: str
    node: str
    causes: tuple[str, ...]
    fixed_by: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    items: tuple[PlanItem, ...]
    alternatives: tuple[Alternative, ...]
    #: each node's steps, by number
    per_node: Mapping[str, tuple[int, ...]]
    consequences: tuple[Consequence, ...] = ()
    #: the command that runs the audit again, as the user ran it (a pre-upgrade plan's
    #: before-upgrade part); ``verify_after`` checks the after-upgrade part
    verify_command: str = ""
    verify_after: str = ""
    #: the notes the steps refer to, each once
    notes: tuple[str, ...] = ()
    improvements: tuple[Improvement, ...] = ()
    #: pre or post: a pre plan has a before-the-upgrade and an after-the-upgrade part
    phase: str = "post"

    def part(self, name: str) -> tuple[PlanItem, ...]:
        """The items of one part (before-upgrade or after-upgrade), in order."""
        return tuple(i for i in self.items if i.part == name)
