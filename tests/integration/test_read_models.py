"""Read models (zava_core.readmodels): lookups answered from memory say exactly what the database says, follow
every writer through the change feed, show a caller its own writes at once, and step aside when behind.

Each equivalence test asks the same question twice, once with the model answering and once with it set aside
(the database path), and compares the whole answers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from pymongo.database import Database

from zava_core import limits
from zava_core.context import Zava
from zava_core.errors import NotFound
from zava_core.infra.config import Settings
from zava_core.infra.timeutil import now_iso
from zava_core.limits import HARD_CAP
from zava_core.readmodels import MODELS
from zava_core.retail import customers, inventory, products
from zava_core.scope import Scope

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def _ready(zava: Zava, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    models = zava.models
    for name in MODELS:
        models.use(name)  # what the first lookup that reads each does (every model loads on first use)
    while not (models.stock.loaded and models.customers.loaded and models.orders.loaded
               and models.freshness.following()):
        assert time.monotonic() < deadline, f"read models not ready: {models.load_seconds}, {zava.feed.state}"
        await _sleep(0.05)


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


async def _open(settings: Settings) -> Zava:
    zava = await Zava.open(settings)
    await zava.start_feed(MODELS)
    await _ready(zava)
    return zava


@pytest.fixture
async def seeded_zava(seeded: Settings) -> AsyncIterator[Zava]:
    zava = await _open(seeded)
    try:
        yield zava
    finally:
        await zava.close()


class _SetAside:
    """Within the block, every model is set aside: lookups read the database."""

    def __init__(self, zava: Zava) -> None:
        self.models = (zava.models.stock, zava.models.customers, zava.models.orders)

    def __enter__(self) -> None:
        for model in self.models:
            model.loaded = False

    def __exit__(self, *exc: object) -> None:
        for model in self.models:
            model.loaded = True


async def both(zava: Zava, ask, *args, **kwargs) -> tuple:
    held = await ask(zava, *args, **kwargs)
    with _SetAside(zava):
        read = await ask(zava, *args, **kwargs)
    return held, read


async def test_lookups_from_memory_equal_the_database(seeded_zava: Zava, sdb: Database,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Dozens of exact e-mail and phone lookups per manager, twice each: the till's hourly limit is not what
    # this compares (test_store_operations.py checks it).
    monkeypatch.setattr(limits, "MAX_TILL_LOOKUPS_PER_HOUR", 10_000)
    zava = seeded_zava
    stores = (await zava.reference.get()).stores
    scopes = [Scope.for_head_office(stores), Scope.for_store_manager(stores.get("store_seattle")),
              Scope.for_store_manager(stores.get("store_online"))]
    skus = [p["sku"] for p in sdb.products.find({}, {"sku": 1}).sort("sku", 1).limit(400)][::40]
    people = list(sdb.customers.find({}, {"last_name": 1, "email": 1, "phone": 1}).sort("_id", 1).limit(2000))[::97]
    queries = [*(p["last_name"][:3] for p in people), *(p["email"] for p in people), *(p["email"][:6] for p in people),
               *(p["phone"] for p in people), *(p["phone"][-4:] for p in people), *(p["_id"] for p in people),
               "john smi", "mar", "anderson"]
    for scope in scopes:
        for sku in skus:
            held, read = await both(zava, inventory.get_inventory, scope, sku)
            assert held == read, (scope.label, sku)
        for threshold in (0, 10, 60):
            held, read = await both(zava, inventory.get_low_stock_items, scope, threshold=threshold,
                                    max_rows=HARD_CAP)
            assert held == read, (scope.label, threshold)
        held, read = await both(zava, products.find_products_by_name, scope, "drill", HARD_CAP)
        assert held == read
        for query in queries:
            held, read = await both(zava, customers.find_customers, scope, query, HARD_CAP)
            assert held == read, (scope.label, query)
        for person in people:
            try:
                held, read = await both(zava, customers.get_customer_orders, scope, person["_id"], HARD_CAP)
            except NotFound:  # not this manager's customer: the database path must say so too
                with _SetAside(zava), pytest.raises(NotFound):
                    await customers.get_customer_orders(zava, scope, person["_id"], HARD_CAP)
                continue
            assert held == read, (scope.label, person["_id"])


async def test_a_foreign_write_reaches_the_models_and_an_own_write_shows_at_once(writable: Settings,
                                                                                  wdb: Database) -> None:
    zava = await _open(writable)
    try:
        scope = Scope.for_head_office((await zava.reference.get()).stores)
        row = wdb.inventory.find_one({"store_id": "store_tacoma", "deleted": False}, sort=[("sku", 1)])
        level = row["stock_level"]
        # Another writer (a device through the connector, a script): visible once the feed delivers it.
        written = time.monotonic()
        wdb.inventory.update_one({"_id": row["_id"]}, {"$set": {"stock_level": level + 5, "updated_at": now_iso()}})
        while True:
            rows = zava.models.stock.rows([row["product_id"]], ["store_tacoma"])
            if rows and rows[0]["stock_level"] == level + 5:
                break
            assert time.monotonic() - written < 5, "the stock model never saw the foreign write"
            await _sleep(0.01)
        # Our own write: the next lookup shows it, model or not (it reads the database until the feed catches up).
        counted = await inventory.update_stock_count(zava, scope, row["sku"], "Tacoma", level + 9)
        assert counted.stock_level == level + 9
        report = await inventory.get_inventory(zava, scope, row["sku"], "Tacoma")
        assert report.stores[0].stock_level == level + 9
        # A model whose feed stops answers nothing: lookups go back to the database.
        await zava.feed.close()
        assert zava.models.stock.rows([row["product_id"]], ["store_tacoma"]) is None
        wdb.inventory.update_one({"_id": row["_id"]}, {"$set": {"stock_level": level}})
        report = await inventory.get_inventory(zava, scope, row["sku"], "Tacoma")
        assert report.stores[0].stock_level == level
    finally:
        await zava.close()
