"""Day cells for partial months, held once read (zava_core/analysis/day_cells.py), on an in-memory handle."""

from __future__ import annotations

import pytest

from tests.fakes import FakeCollections
from zava_core.analysis import day_cells
from zava_core.analysis.day_cells import DayCells
from zava_core.model.builders import sales_cell_key


def cell(store: str, day: str, revenue: float) -> dict:
    return {"_id": sales_cell_key(store, day), "store_id": store, "day": day, "month": day[:7], "deleted": False,
            "totals": {"revenue": revenue}}


@pytest.fixture
def daily():
    handle = FakeCollections().sales_daily
    handle.inner.insert_many([cell("store_a", "2025-03-14", 1.0), cell("store_a", "2025-03-15", 2.0),
                              cell("store_a", "2025-03-17", 4.0), cell("store_b", "2025-03-15", 8.0)])
    return handle


def changed(operation: str, store: str, day: str) -> dict:
    """A change-stream event for one day cell (what the feed hands `on_changes`)."""
    return {"operationType": operation, "documentKey": {"_id": sales_cell_key(store, day)}}


def revenue(cells: list[dict]) -> float:
    return sum(c["totals"]["revenue"] for c in cells)


@pytest.mark.anyio
async def test_a_repeat_is_answered_from_memory_days_without_sales_included(daily) -> None:
    cells = DayCells(daily)
    cells.follow(lambda: True)
    assert revenue(await cells.read(["store_a", "store_b"], [("2025-03-15", "2025-03-18")])) == 14.0
    reads = cells.reads
    assert reads == 2  # one range read per store
    assert revenue(await cells.read(["store_a", "store_b"], [("2025-03-15", "2025-03-18")])) == 14.0
    assert revenue(await cells.read(["store_a"], [("2025-03-16", "2025-03-16")])) == 0.0  # a quiet day, held
    assert cells.reads == reads


@pytest.mark.anyio
async def test_an_event_drops_the_cell_it_names_and_the_next_read_sees_the_change(daily) -> None:
    cells = DayCells(daily)
    cells.follow(lambda: True)
    await cells.read(["store_a"], [("2025-03-15", "2025-03-17")])
    daily.inner.update_one({"_id": sales_cell_key("store_a", "2025-03-15")}, {"$set": {"totals.revenue": 20.0}})
    daily.inner.insert_one(cell("store_a", "2025-03-16", 100.0))  # a device's sale on a quiet day
    await cells.on_changes([changed("update", "store_a", "2025-03-15"), changed("insert", "store_a", "2025-03-16")])
    assert revenue(await cells.read(["store_a"], [("2025-03-15", "2025-03-17")])) == 124.0


@pytest.mark.anyio
async def test_a_replaced_collection_drops_everything(daily) -> None:
    cells = DayCells(daily)
    cells.follow(lambda: True)
    await cells.read(["store_a"], [("2025-03-14", "2025-03-17")])
    daily.inner.delete_many({})
    await cells.on_changes([{"operationType": "rename", "to": {"coll": "sales_daily"}}])
    assert await cells.read(["store_a"], [("2025-03-14", "2025-03-17")]) == []


@pytest.mark.anyio
async def test_without_the_feed_every_ask_reads_the_database(daily) -> None:
    cells = DayCells(daily)  # never told the feed delivers: nothing is held
    await cells.read(["store_a"], [("2025-03-15", "2025-03-15")])
    daily.inner.update_one({"_id": sales_cell_key("store_a", "2025-03-15")}, {"$set": {"totals.revenue": 5.0}})
    assert revenue(await cells.read(["store_a"], [("2025-03-15", "2025-03-15")])) == 5.0
    assert cells.reads == 2


@pytest.mark.anyio
async def test_a_read_that_raced_an_event_answers_but_is_not_kept(daily, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = DayCells(daily)
    cells.follow(lambda: True)
    original = cells._read

    async def read_then_event(store_id: str, first: str, last: str) -> list[dict]:
        found = await original(store_id, first, last)
        await cells.on_changes([changed("update", "store_a", "2025-03-15")])
        return found

    monkeypatch.setattr(cells, "_read", read_then_event)
    assert revenue(await cells.read(["store_a"], [("2025-03-15", "2025-03-15")])) == 2.0
    monkeypatch.setattr(cells, "_read", original)
    await cells.read(["store_a"], [("2025-03-15", "2025-03-15")])
    assert cells.reads == 2  # nothing was kept from the raced read


@pytest.mark.anyio
async def test_the_least_recently_used_cells_go_first(daily, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(day_cells, "MAX_CELLS", 3)
    cells = DayCells(daily)
    cells.follow(lambda: True)
    await cells.read(["store_a"], [("2025-03-14", "2025-03-16")])  # holds 14, 15, 16
    await cells.read(["store_a"], [("2025-03-14", "2025-03-14")])  # 14 used again
    await cells.read(["store_b"], [("2025-03-15", "2025-03-15")])  # evicts store_a 15
    reads = cells.reads
    await cells.read(["store_a"], [("2025-03-14", "2025-03-14")])
    assert cells.reads == reads
    await cells.read(["store_a"], [("2025-03-15", "2025-03-15")])
    assert cells.reads == reads + 1


@pytest.mark.anyio
async def test_a_span_reaching_far_into_the_future_is_one_read_not_a_walk_of_its_days(daily) -> None:
    cells = DayCells(daily)
    cells.follow(lambda: True)
    found = await cells.read(["store_a", "store_b"], [("2025-03-15", "9999-12-31")])  # end_date 9999-12-31
    assert revenue(found) == 14.0
    assert cells.reads == 2 and cells.held == 0  # one range read per store; its ~2.9 million days are not walked
