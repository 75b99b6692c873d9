"""Exports: a `sales_summary` answer in full (no 100-row cap) as a CSV file the server keeps for a while.

The server hands out a link to it (an MCP resource link, the official MongoDB MCP server's `export` pattern);
the file is read back with that link. Each export:

- is scoped like the tool it came from: computed with the caller's scope, and readable only by a caller with the
  same scope (another caller is told that no such export exists, as for an id never issued);
- is bounded: at most `EXPORT_MAX_ROWS` rows and `EXPORT_MAX_BYTES` bytes, refused with one line saying how large
  it would be and how to narrow it;
- expires `EXPORT_TTL_SECONDS` after it was made; the exports held by one process stay under
  `EXPORTS_HELD_MAX_BYTES` (the oldest go first).

The CSV: one column per group_by dimension, then each metric, and with compare_to each metric compared and its
change in percent. A text cell that a spreadsheet would read as a formula (=, +, -, @) is written with a leading
apostrophe, so opening the file never runs anything from the data.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Sequence

from zava_core import limits as L
from zava_core.analysis.export_store import ExportFile, scope_key
from zava_core.analysis.summary import SalesSummary, sales_summary
from zava_core.context import Zava
from zava_core.errors import TooLarge
from zava_core.scope import Scope

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def summary_csv(summary: SalesSummary) -> tuple[list[str], str]:
    """The columns and the CSV text of every row of a summary."""
    metrics, compared = summary.metrics, summary.compare_period is not None
    columns = [*summary.group_by, *metrics]
    if compared:
        columns += [f"{m}_compared" for m in metrics] + [f"{m}_change_percent" for m in metrics]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in summary.rows:
        cells = [row.group[d] for d in summary.group_by] + [row.values[m] for m in metrics]
        if compared:
            cells += [(row.compare or {}).get(m) for m in metrics] + [(row.change_percent or {}).get(m)
                                                                       for m in metrics]
        writer.writerow([_cell(c) for c in cells])
    return columns, out.getvalue()


async def export_sales_summary(zava: Zava, scope: Scope, group_by: str | Sequence[str],
                               metrics: str | Sequence[str] | None = None, start_date: str | None = None,
                               end_date: str | None = None, stores: Sequence[str] | None = None,
                               categories: Sequence[str] | None = None, product_types: Sequence[str] | None = None,
                               skus: Sequence[str] | None = None, order_by: str | None = None,
                               compare_to: str | None = None) -> ExportFile:
    """Every row of the summary as a CSV kept in `zava.exports`; TooLarge past the export limits."""
    try:
        summary = await sales_summary(zava, scope, group_by, metrics, start_date, end_date, stores, categories,
                                      product_types, skus, order_by, top_n=None, compare_to=compare_to,
                                      max_rows=L.EXPORT_MAX_ROWS)
    except TooLarge as exc:
        raise TooLarge(f"the export would be too large: {exc}") from None
    columns, text = summary_csv(summary)
    size = len(text.encode())
    if size > L.EXPORT_MAX_BYTES:
        raise TooLarge(f"the export would be too large: {size / 1e6:.1f} MB, more than the "
                       f"{L.EXPORT_MAX_BYTES / 1e6:.1f} MB an export may hold: narrow start_date/end_date, stores, "
                       "categories, product_types or skus, ask for fewer metrics, or group by fewer dimensions")
    now = time.time()
    export_id = "exp_" + secrets.token_hex(8)
    name = f"sales_summary_{'_'.join(summary.group_by)}_{summary.period.replace('..', '_')}.csv"
    export = ExportFile(export_id=export_id, name=name, owner=scope_key(scope), text=text, rows=len(summary.rows),
                        columns=columns, size=size, created_at=now, expires_at=now + L.EXPORT_TTL_SECONDS)
    zava.exports.add(export)
    return export
