"""The rollups' range reads use an index (the index rule in zava_core/model/collections.py: `deleted` follows the
equality keys). Before, `sales_daily`'s index lacked `deleted`, so the engine scanned all 17K day cells (~1 s at
the default scale) for each store's edge of a range that starts or ends inside a month (grouping.read_days)."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from zava_core.infra.config import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("rollup", "period", "first", "last"), [
    ("sales_daily", "day", "2025-03-15", "2025-03-31"),
    ("sales_monthly", "month", "2025-01", "2025-06"),
])
def test_a_stores_range_of_cells_is_read_through_an_index(seeded: Settings, rollup: str, period: str, first: str,
                                                          last: str) -> None:
    client = MongoClient(seeded.mongodb_uri)
    try:
        db = client[seeded.mongodb_database]
        # The filter the live reads send: Handle.unscoped(store_id=..., day=...) adds `deleted: False`.
        query = {"store_id": "store_seattle", period: {"$gte": first, "$lte": last}, "deleted": False}
        plan = db.command("explain", {"find": rollup, "filter": query})["queryPlanner"]["winningPlan"]
        found = list(db[rollup].find(query))
    finally:
        client.close()
    assert "COLLSCAN" not in str(plan), plan
    assert found and all(doc["store_id"] == "store_seattle" and first <= doc[period] <= last for doc in found)
