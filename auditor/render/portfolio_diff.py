"""What changed between two portfolios: each cluster's verdict before and after, and the
findings fixed and new in it (from the cluster's own audit diff)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auditor.common.filenames import nfc
from auditor.common.serde import to_jsonable
from auditor.common.textsafe import terminal, visible
from auditor.model.audit import Audit, load_audit
from auditor.model.portfolio import PORTFOLIO_FILES, ClusterEntry, check_entry, load_portfolio
from auditor.model.verdicts import worst_exit
from auditor.render.context import VERDICT_WORDS
from auditor.render.diff import diff_audits
from auditor.render.markdown import md_escape
from auditor.render.tables import tabulate

DIFF_FORMATS = ("table", "html", "md", "json")
_WORDS = {**VERDICT_WORDS, "inconclusive": "inconclusive", None: "—"}


@dataclass(frozen=True)
class ClusterChange:
    cluster: str
    before: str | None
    after: str | None
    fixed: int
    new: int
    certificates: int
    #: failed before, not checked after: not evidence of a fix
    no_longer_checked: int = 0


@dataclass(frozen=True)
class PortfolioDiff:
    clusters: tuple[ClusterChange, ...]
    after_exit_code: int


def _audit(folder: Path, entry: ClusterEntry, index: int) -> Audit:
    """A cluster's audit, which must say what the portfolio's line for it says."""
    audit = load_audit(folder / entry.folder / "audit.json")
    check_entry(entry, audit, path=str(folder / PORTFOLIO_FILES["json"]),
                field=f"clusters[{index}]")
    return audit


def _by_name(entries: tuple[ClusterEntry, ...]
             ) -> dict[tuple[str, int], tuple[int, ClusterEntry]]:
    """Each cluster under its composed name (NFC: the same name typed on macOS or Windows)
    and, for a name given twice, which of them it is; with its place in the portfolio."""
    found: dict[tuple[str, int], tuple[int, ClusterEntry]] = {}
    counts: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = nfc(entry.cluster)
        counts[name] = counts.get(name, 0) + 1
        found[(name, counts[name])] = (index, entry)
    return found


def diff_portfolios(before: Path, after: Path) -> PortfolioDiff:
    """Match clusters by name (composed; the n-th of a name given twice with the n-th); a
    cluster in only one portfolio is added or removed. Every cluster's audit is read (and
    judged again) and must say what its portfolio says."""
    old, new = load_portfolio(before), load_portfolio(after)
    old_by, new_by = _by_name(old.clusters), _by_name(new.clusters)
    old_audits = {key: _audit(before, entry, i) for key, (i, entry) in old_by.items()}
    new_audits = {key: _audit(after, entry, i) for key, (i, entry) in new_by.items()}
    changes = []
    for key in [*old_by, *(k for k in new_by if k not in old_by)]:
        a = old_by[key][1] if key in old_by else None
        b = new_by[key][1] if key in new_by else None
        name = (a or b).cluster  # type: ignore[union-attr]
        if a is None or b is None:
            changes.append(ClusterChange(name, a.verdict if a else None,
                                         b.verdict if b else None, 0, 0, 0))
            continue
        diff = diff_audits(old_audits[key], new_audits[key])
        changes.append(ClusterChange(b.cluster, a.verdict, b.verdict, len(diff.fixed),
                                     len(diff.new), len(diff.certificates),
                                     len(diff.no_longer_checked)))
    return PortfolioDiff(tuple(changes), worst_exit(c.exit_code for c in new.clusters))


def _rows(diff: PortfolioDiff) -> list[list[object]]:
    return [[visible(c.cluster), _WORDS.get(c.before, c.before), _WORDS.get(c.after, c.after),
             c.fixed, c.no_longer_checked, c.new, c.certificates] for c in diff.clusters]


HEADERS = ["cluster", "before", "after", "fixed", "no longer checked (not a fix)", "new",
           "certificates changed"]


def render_portfolio_diff(diff: PortfolioDiff, fmt: str) -> str:
    if fmt == "table":  # for the terminal: nothing from the files may move the cursor
        return terminal(tabulate(_rows(diff), headers=HEADERS)) + "\n"
    if fmt == "md":
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(md_escape(v) for v in row) + " |" for row in _rows(diff)]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        from auditor.render.formats import environment

        return environment().get_template("portfolio_diff.html.j2").render(
            headers=HEADERS, rows=_rows(diff), diff=diff)
    if fmt == "json":
        return json.dumps(to_jsonable(diff), indent=2, sort_keys=True,
                          ensure_ascii=False, allow_nan=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(DIFF_FORMATS)}")
