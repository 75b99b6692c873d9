"""A warm analysis server sees an order created after it loaded its cube.

The analysis server holds the rollup in memory; create_order (another process's server, here another
server object on the same database) writes the order, and the change feed folds it into `sales_monthly`. The next
question on the warm server must include the order: answered from the rollup (whole months), not by
reloading from scratch and not by reading order_items.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, datetime

import pytest
from folding import recent_orders, until_settled
from mcp.client import Client
from polling import eventually
from pymongo import MongoClient

from mcp_servers.customer_sales.server import build_server as build_sales_server
from mcp_servers.sales_analysis.server import build_server as build_analysis_server
from zava_core.feed import rebuild
from zava_core.infra import db as zdb
from zava_core.scope import Identity
from zava_core.store import Collections

pytestmark = pytest.mark.integration

SEATTLE = Identity(head_office=False, store="seattle")


def this_month() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1).isoformat(), today.replace(day=last).isoformat()


async def seattle_revenue(client: Client, start: str, end: str) -> tuple[float, str]:
    result = await client.call_tool("sales_summary", {"group_by": "store", "start_date": start, "end_date": end})
    assert not result.is_error, result.content[0].text
    out = result.structured_content
    return out["totals"]["revenue"], out["source"]


@pytest.mark.anyio
async def test_a_warm_analysis_server_sees_an_order_created_after_it_loaded(writable) -> None:
    db = MongoClient(writable.mongodb_uri)[writable.mongodb_database]
    product = next(p for p in db.products.find({"deleted": False}).sort("sku", 1)
                   if (db.inventory.find_one({"product_id": p["_id"], "store_id": "store_seattle"}) or {})
                   .get("stock_level", 0) >= 3)
    customer = db.customers.find_one({"primary_store_id": "store_seattle", "deleted": False})
    start, end = this_month()

    async with Client(build_analysis_server(writable, SEATTLE)) as analysis:
        await until_settled(writable, recent_orders(db))  # what earlier tests wrote is folded before we look
        before, source = await seattle_revenue(analysis, start, end)  # loads the cube
        assert "rollup" in source and "order_items" not in source, source

        async with Client(build_sales_server(writable, SEATTLE)) as sales:
            created = await sales.call_tool("create_order", {
                "customer_id": customer["_id"], "store": "Seattle", "idempotency_key": f"warm-{uuid.uuid4()}",
                "items": [{"sku": product["sku"], "quantity": 2}]})
            assert not created.is_error, created.content[0].text
            total = created.structured_content["order"]["total"]
        assert total == round(product["base_price"] * 2, 2)
        # The analysis server's own change feed folds the order (the sales server, closed, no longer runs one).
        await until_settled(writable, [created.structured_content["order"]["order_id"]])

        # The fold's own write to the rollup reaches the cube as the feed's next event: a moment after settling.
        async def includes_the_order() -> bool:
            after, source = await seattle_revenue(analysis, start, end)
            assert "rollup" in source and "order_items" not in source, source
            return round(after - before, 2) == total

        assert await eventually(includes_the_order, 20.0), "the warm cube never counted the new order"
    db.client.close()


@pytest.mark.anyio
async def test_a_warm_analysis_server_follows_a_rebuild_made_elsewhere(writable) -> None:
    """An operator's `zava_ops fold rebuild` (or another process's feed) replaces the rollup whole; a warm cube
    must answer from the new collection, not keep the cells it held."""
    db = MongoClient(writable.mongodb_uri)[writable.mongodb_database]
    damaged = next(db.sales_monthly.find({"store_id": "store_seattle", "deleted": False}).sort("month", -1))
    year, month = int(damaged["month"][:4]), int(damaged["month"][5:7])
    start, end = f"{damaged['month']}-01", f"{damaged['month']}-{calendar.monthrange(year, month)[1]:02d}"
    async with Client(build_analysis_server(writable, SEATTLE)) as analysis:
        await until_settled(writable, recent_orders(db))
        true_revenue, _ = await seattle_revenue(analysis, start, end)
        # A cell damaged by hand (no order behind it): the feed hands the change to the warm cube.
        db.sales_monthly.update_one({"_id": damaged["_id"]}, {"$inc": {"totals.revenue": 1000.0}})

        async def revenue_is(expected: float) -> bool:
            return round((await seattle_revenue(analysis, start, end))[0], 2) == round(expected, 2)

        assert await eventually(lambda: revenue_is(true_revenue + 1000.0), 20.0), "the warm cube missed a rollup change"
        async with await zdb.connect(writable) as client:
            await rebuild.rebuild(Collections(zdb.database(client, writable)))  # what `zava_ops fold rebuild` runs
        assert await eventually(lambda: revenue_is(true_revenue), 20.0), "the warm cube kept cells the rebuild replaced"
    db.client.close()

