"""A portfolio's roll-up as CSV (spreadsheet-safe cells), HTML and a terminal line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from auditor.common.fileio import write_atomic
from auditor.common.textsafe import visible
from auditor.model.portfolio import PORTFOLIO_FILES, Portfolio, portfolio_json
from auditor.model.verdicts import VERDICTS


def summary_line(portfolio: Portfolio, folder: Path) -> str:
    """One JSON line for CI and AWX ``set_stats``: verdict counts, worst exit, folder."""
    return json.dumps({"clusters": len(portfolio.clusters),
                       "verdicts": portfolio.verdict_counts,
                       "worst_verdict": portfolio.worst_verdict,
                       "exit_code": portfolio.exit_code,
                       "expiring_certificates": len(portfolio.expiring),
                       "folder": str(folder)}, sort_keys=True, allow_nan=False)


CSV_COLUMNS = ("cluster", "folder", "phase", "verdict", "exit_code", "errors", "warnings",
               "notices", "accepted_risks", "unknowns", "blockers", "observed_at", "scope")
#: What a portfolio written before the scope was kept shows for it.
NOT_RECORDED = "not recorded"


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: no formula; control, format and separator
    characters (a tab too) shown as escapes, as every output shows them."""
    text = visible(value).replace("\t", "\\x09")
    return "'" + text if text.startswith(_FORMULA) else text


def portfolio_csv(portfolio: Portfolio) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in portfolio.clusters:
        blockers = "; ".join(f"{b.rule_id} on {b.node} ({b.subject.text})" for b in c.blockers)
        unknowns = "; ".join(f"{u.gadget} on {u.node}" for u in c.unknowns)
        writer.writerow([_cell(v) for v in (
            c.cluster, c.folder, c.phase, c.verdict, c.exit_code, c.errors, c.warnings,
            c.notices, c.accepted_risks, unknowns, blockers, c.observed_at,
            c.scope if c.scope is not None else NOT_RECORDED)])
    return out.getvalue()


def portfolio_html(portfolio: Portfolio) -> str:
    from auditor.render.context import VERDICT_WORDS
    from auditor.render.formats import environment

    words = {**VERDICT_WORDS, "inconclusive": "inconclusive"}
    return environment().get_template("portfolio.html.j2").render(
        portfolio=portfolio, verdict_words=words, verdict_order=VERDICTS,
        not_recorded=NOT_RECORDED)


def write_portfolio(portfolio: Portfolio, folder: Path) -> dict[str, Path]:
    """Write the three portfolio files atomically into ``folder``."""
    return {"json": write_atomic(folder / PORTFOLIO_FILES["json"], portfolio_json(portfolio)),
            "csv": write_atomic(folder / PORTFOLIO_FILES["csv"], portfolio_csv(portfolio)),
            "html": write_atomic(folder / PORTFOLIO_FILES["html"], portfolio_html(portfolio))}
