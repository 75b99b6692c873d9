"""The connector's input, proven: create_order produces the change events Ditto's MongoDB Connector reads.

Change streams are opened on orders, order_items and inventory (full documents looked up on update,
pre-images where the server keeps them) before an order is created on the `writable` dataset; the test
then expects exactly the order's insert, one insert per line and one stock update per line whose
post-image holds the decremented stock.
"""

from __future__ import annotations

import time
import uuid

import anyio
import pytest
from pymongo.asynchronous.change_stream import AsyncChangeStream

from zava_core.context import Zava
from zava_core.infra.config import Settings
from zava_core.retail.orders import create_order
from zava_core.scope import Scope

pytestmark = pytest.mark.integration

WAIT_S = 15.0


async def _collect(stream: AsyncChangeStream, expected: int) -> list[dict]:
    events: list[dict] = []
    deadline = time.monotonic() + WAIT_S
    while len(events) < expected and time.monotonic() < deadline:
        event = await stream.try_next()
        if event is None:
            await anyio.sleep(0.05)
        else:
            events.append(event)
    return events


def _supports_pre_images(version: str) -> bool:
    # fullDocumentBeforeChange exists from MongoDB 6.0.
    return int(version.split(".")[0]) >= 6


@pytest.mark.anyio
async def test_create_order_emits_the_events_the_connector_syncs(writable: Settings) -> None:
    zava = await Zava.open(writable)
    try:
        db = zava.db
        scope = Scope.for_head_office((await zava.reference.get()).stores)
        info = await zava.client.server_info()
        pre_images = _supports_pre_images(str(info["version"]))
        store_id = "store_bellevue"
        lines = await db.inventory.find(
            {"store_id": store_id, "deleted": False, "stock_level": {"$gte": 10}}).sort("sku", 1).limit(2).to_list()
        assert len(lines) == 2
        quantities = {lines[0]["sku"]: 3, lines[1]["sku"]: 1}
        before = {ln["_id"]: ln["stock_level"] for ln in lines}
        customer = await db.customers.find_one({"deleted": False, "primary_store_id": store_id})

        options: dict = {"full_document": "updateLookup"}
        if pre_images:
            options["full_document_before_change"] = "whenAvailable"
        # Only this order's documents: other tests share the writable dataset.
        line_ids = list(before)
        streams = {
            "orders": await db.orders.watch([{"$match": {"operationType": "insert"}}], **options),
            "order_items": await db.order_items.watch([{"$match": {"operationType": "insert"}}], **options),
            "inventory": await db.inventory.watch(
                [{"$match": {"documentKey._id": {"$in": line_ids}}}], **options),
        }
        try:
            created = await create_order(zava, scope, customer["_id"], store_id,
                                         [{"sku": sku, "quantity": q} for sku, q in quantities.items()],
                                         idempotency_key=f"change-streams-{uuid.uuid4().hex}")
            order_id = created.order.order_id
            orders = await _collect(streams["orders"], 1)
            items = await _collect(streams["order_items"], len(quantities))
            stock = await _collect(streams["inventory"], len(quantities))
        finally:
            for stream in streams.values():
                await stream.close()

        stored_order = await db.orders.find_one({"_id": order_id})
        stored_lines = await db.order_items.find({"order_id": order_id}).to_list()
        assert [e["operationType"] for e in orders] == ["insert"]
        assert orders[0]["documentKey"] == {"_id": order_id}
        assert orders[0]["fullDocument"] == stored_order
        assert len(items) == len(stored_lines) == len(quantities)
        assert {e["operationType"] for e in items} == {"insert"}
        assert sorted((e["fullDocument"]["sku"], e["fullDocument"]["quantity"]) for e in items) == sorted(
            quantities.items())
        assert {e["documentKey"]["_id"] for e in items} == {ln["_id"] for ln in stored_lines}
        assert {e["fullDocument"]["order_id"] for e in items} == {order_id}

        assert len(stock) == len(quantities)
        for event in stock:
            line_id = event["documentKey"]["_id"]
            sku = event["fullDocument"]["sku"]
            assert event["operationType"] == "update"
            assert event["fullDocument"]["stock_level"] == before[line_id] - quantities[sku]
            assert event["updateDescription"]["updatedFields"]["stock_level"] == before[line_id] - quantities[sku]
            assert created.stock_after[sku] == before[line_id] - quantities[sku]
            if pre_images:
                # Seeding enabled pre- and post-images (what the connector requires), so the server keeps them.
                assert event["fullDocumentBeforeChange"]["stock_level"] == before[line_id]
    finally:
        await zava.close()


@pytest.mark.anyio
async def test_cancel_and_transfer_emit_the_events_the_connector_syncs(writable: Settings) -> None:
    """A cancel updates the order (status, with its pre-image) and puts stock back; a transfer updates two stock
    rows: the connector sees each as an update whose post-image holds the new values."""
    from zava_core.retail.cancellations import cancel_order
    from zava_core.retail.transfers import transfer_stock

    zava = await Zava.open(writable)
    try:
        db = zava.db
        scope = Scope.for_head_office((await zava.reference.get()).stores)
        pre_images = _supports_pre_images(str((await zava.client.server_info())["version"]))
        source, destination = "store_everett", "store_spokane"
        (row,) = await db.inventory.find({"store_id": source, "deleted": False,
                                             "stock_level": {"$gte": 10}}).sort("sku", -1).limit(1).to_list()
        sku, product_id = row["sku"], row["product_id"]
        rows = {r["store_id"]: r for r in await db.inventory.find(
            {"product_id": product_id, "store_id": {"$in": [source, destination]}}).to_list()}
        customer = await db.customers.find_one({"deleted": False, "primary_store_id": source})
        created = await create_order(zava, scope, customer["_id"], source, [{"sku": sku, "quantity": 2}],
                                     idempotency_key=f"change-streams-{uuid.uuid4().hex}")
        order_id = created.order.order_id
        level_after_sale = created.stock_after[sku]

        options: dict = {"full_document": "updateLookup"}
        if pre_images:
            options["full_document_before_change"] = "whenAvailable"
        streams = {
            "orders": await db.orders.watch([{"$match": {"documentKey._id": order_id}}], **options),
            "inventory": await db.inventory.watch(
                [{"$match": {"documentKey._id": {"$in": [r["_id"] for r in rows.values()]}}}], **options),
        }
        try:
            await cancel_order(zava, scope, order_id, "change-stream test", f"cs-cancel-{uuid.uuid4().hex}")
            order_events = await _collect(streams["orders"], 1)
            cancel_stock = await _collect(streams["inventory"], 1)
            await transfer_stock(zava, scope, sku, source, destination, 3, f"cs-transfer-{uuid.uuid4().hex}")
            transfer_stock_events = await _collect(streams["inventory"], 2)
        finally:
            for stream in streams.values():
                await stream.close()

        (event,) = order_events
        assert event["operationType"] == "update"
        assert event["updateDescription"]["updatedFields"]["status"] == "cancelled"
        assert event["fullDocument"]["status"] == "cancelled" and event["fullDocument"]["deleted"] is False
        if pre_images:
            assert event["fullDocumentBeforeChange"]["status"] == "completed"
        (restock,) = cancel_stock
        assert restock["documentKey"]["_id"] == rows[source]["_id"]
        assert restock["fullDocument"]["stock_level"] == level_after_sale + 2 == rows[source]["stock_level"]
        by_store = {e["fullDocument"]["store_id"]: e for e in transfer_stock_events}
        assert set(by_store) == {source, destination}
        assert by_store[source]["fullDocument"]["stock_level"] == rows[source]["stock_level"] - 3
        assert by_store[destination]["fullDocument"]["stock_level"] == rows[destination]["stock_level"] + 3
        if pre_images:
            assert by_store[destination]["fullDocumentBeforeChange"]["stock_level"] == rows[destination]["stock_level"]
    finally:
        await zava.close()
