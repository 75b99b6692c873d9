"""Every read model loads on its first use (zava_core.readmodels): a server that never answers a lookup never reads
every row, and one that does starts the model's load with the first lookup that reads it, once. A model that has not
begun loading drops the feed's events (its load will read what they changed)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from zava_core.readmodels import MODELS, ReadModels

pytestmark = pytest.mark.anyio


async def until_idle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_each_model_loads_on_its_first_use_and_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    models = ReadModels(SimpleNamespace(inventory=None, customers=None, orders=None, order_items=None))
    models.wanted = MODELS  # as `attach` sets it for the customer-sales server
    loads: list[str] = []
    for name in MODELS:
        async def load(name: str = name) -> None:
            loads.append(name)
            getattr(models, name).loaded = True
        monkeypatch.setattr(getattr(models, name), "load", load)
    await until_idle()
    assert loads == [] and models.requested == set()  # followed, and nothing read until a lookup asks
    assert models.use("customers") is models.customers
    models.use("customers")
    await until_idle()
    assert loads == ["customers"]  # once, however many calls asked
    assert models.use("stock") is models.stock and models.use("orders") is models.orders
    models.use("stock")
    await until_idle()
    assert sorted(loads) == ["customers", "orders", "stock"] and len(loads) == 3
    await models.close()


async def test_a_model_this_process_does_not_follow_is_never_loaded_by_a_use(monkeypatch) -> None:
    models = ReadModels(SimpleNamespace(inventory=None, customers=None, orders=None, order_items=None))
    models.wanted = ("stock",)  # the analysis server
    monkeypatch.setattr(models.orders, "load", lambda: pytest.fail("loaded a model nobody follows"))
    models.use("orders")
    await until_idle()
    assert models.requested == set()
    await models.close()


async def test_events_before_a_load_began_are_dropped_and_those_during_it_are_kept() -> None:
    models = ReadModels(SimpleNamespace(inventory=None, customers=None, orders=None, order_items=None))
    book = models.orders
    applied: list[list[dict]] = []
    book._apply = lambda events: applied.append(list(events))  # type: ignore[method-assign]
    reading = asyncio.Event()

    async def read() -> None:
        await reading.wait()
    book._read = read  # type: ignore[method-assign]
    await book.on_changes([{"before": "the load"}])  # committed before the load's read, which will see it
    loading = asyncio.create_task(book.load())
    await until_idle()
    await book.on_changes([{"during": "the load"}])
    reading.set()
    await loading
    await book.on_changes([{"after": "the load"}])
    assert applied == [[{"during": "the load"}], [{"after": "the load"}]]
