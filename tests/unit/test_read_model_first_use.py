"""The order book loads on first use (zava_core.readmodels): a server that never answers a customer-orders call never
reads every order and line, and one that does starts the load with its first such call, once. A model that has not
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


async def test_the_order_book_loads_on_its_first_use_and_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    models = ReadModels(SimpleNamespace(inventory=None, customers=None, orders=None, order_items=None))
    models.wanted = MODELS  # as `attach` sets it for the customer-sales server
    loads: list[str] = []
    for name in MODELS:
        async def load(name: str = name) -> None:
            loads.append(name)
            getattr(models, name).loaded = True
        monkeypatch.setattr(getattr(models, name), "load", load)
    models.load_in_background(MODELS)
    await until_idle()
    assert loads == ["stock", "customers"] and models.requested == {"stock", "customers"}
    assert models.use("orders") is models.orders
    models.use("orders")
    await until_idle()
    assert loads == ["stock", "customers", "orders"]  # once, however many calls asked
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
