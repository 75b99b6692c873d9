"""An export's CSV (pure: a summary in, text out) and the export store's rules (scope, expiry, room)."""

from __future__ import annotations

import csv
import io
import time

import pytest

from zava_core import limits as L
from zava_core.analysis.export import summary_csv
from zava_core.analysis.export_store import ExportFile, Exports, scope_key
from zava_core.analysis.summary import SalesSummary, SummaryRow
from zava_core.errors import NotFound
from zava_core.scope import Scope, StoreDirectory, StoreRef
from zava_core.shaping import list_meta


def summary(rows: list[SummaryRow], compared: bool) -> SalesSummary:
    return SalesSummary(group_by=["product", "store"], metrics=["revenue", "units"], order_by="revenue", rows=rows,
                        totals={}, period="2025-01-01..2025-12-31",
                        compare_period="2024-01-01..2024-12-31" if compared else None, stores=[], categories=None,
                        source="rollup", meta=list_meta(len(rows)))


def test_the_csv_has_a_column_per_dimension_and_metric_and_the_comparison() -> None:
    rows = [SummaryRow(group={"product": "PTDR000001 Drill, 20V", "store": "Zava Retail Seattle"},
                       values={"revenue": 1234.5, "units": 7}, compare={"revenue": 1000.0, "units": 5},
                       change_percent={"revenue": 23.5, "units": None})]
    columns, text = summary_csv(summary(rows, compared=True))
    parsed = list(csv.reader(io.StringIO(text)))
    assert columns == parsed[0] == ["product", "store", "revenue", "units", "revenue_compared", "units_compared",
                                    "revenue_change_percent", "units_change_percent"]
    assert parsed[1] == ["PTDR000001 Drill, 20V", "Zava Retail Seattle", "1234.5", "7", "1000.0", "5", "23.5", ""]


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB"])
def test_a_name_a_spreadsheet_would_run_is_written_as_text(name: str) -> None:
    rows = [SummaryRow(group={"product": name, "store": "Zava Retail Seattle"}, values={"revenue": 1.0, "units": 1})]
    _, text = summary_csv(summary(rows, compared=False))
    assert list(csv.reader(io.StringIO(text)))[1][0] == "'" + name


def scopes() -> tuple[Scope, Scope]:
    stores = StoreDirectory([StoreRef("store_seattle", "Zava Retail Seattle", "Seattle", False),
                             StoreRef("store_tacoma", "Zava Retail Tacoma", "Tacoma", False)])
    return Scope.for_head_office(stores), Scope.for_store_manager(stores.resolve("seattle"))


def made(owner: Scope, *, size: int = 10, expires_in: float = 60.0, export_id: str = "exp_1") -> ExportFile:
    now = time.time()
    return ExportFile(export_id=export_id, name="x.csv", owner=scope_key(owner), text="a\n", rows=1, columns=["a"],
                      size=size, created_at=now, expires_at=now + expires_in)


def test_an_export_is_read_by_its_own_scope_only_and_says_when_it_expired() -> None:
    head_office, seattle = scopes()
    exports = Exports()
    exports.add(made(seattle))
    assert exports.read("exp_1", seattle).text == "a\n"
    with pytest.raises(NotFound, match="no export exp_1 for you"):
        exports.read("exp_1", head_office)  # a wider scope is another caller: as if it did not exist
    with pytest.raises(NotFound, match="no export exp_9 for you"):
        exports.read("exp_9", seattle)
    exports.add(made(seattle, expires_in=-1, export_id="exp_2"))
    with pytest.raises(NotFound, match=r"export exp_2 expired at \d{4}-\d\d-\d\dT.*make it again"):
        exports.read("exp_2", seattle)


def test_the_exports_held_stay_under_their_byte_cap_oldest_first() -> None:
    _, seattle = scopes()
    exports = Exports()
    third = L.EXPORTS_HELD_MAX_BYTES // 3 + 1
    for n in range(3):
        exports.add(made(seattle, size=third, export_id=f"exp_{n}"))
    with pytest.raises(NotFound, match="exp_0 expired"):
        exports.read("exp_0", seattle)
    assert exports.read("exp_1", seattle) and exports.read("exp_2", seattle)
