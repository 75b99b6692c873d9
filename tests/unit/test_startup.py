"""A server's readiness (mcp_servers/runtime/startup.py): what /health reports and the benchmarks wait on.

Ready means lookups answer from memory: every read model a lookup has used is loaded, its change feed current,
and its warm-ups done; any one missing keeps it not ready. The first time it was ready is kept when readiness
lapses (a feed behind its writers).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from mcp_servers.runtime.startup import Startup

pytestmark = pytest.mark.anyio


def _zava(loaded: dict[str, bool], current: list[bool], requested: set[str] | None = None):
    """The parts of a context readiness reads; `requested`: the models whose load has started (all by default)."""
    models = SimpleNamespace(**{name: SimpleNamespace(loaded=flag) for name, flag in loaded.items()},
                             load_seconds={}, freshness=SimpleNamespace(following=lambda: current[0]),
                             requested=set(loaded) if requested is None else requested)
    return SimpleNamespace(models=models, feed=SimpleNamespace(state=SimpleNamespace(mode="following")))


async def test_ready_only_once_every_model_is_loaded_the_feed_current_and_warm_ups_done() -> None:
    current = [False]
    zava = _zava({"stock": True, "orders": False}, current)
    warm_up = asyncio.get_running_loop().create_future()
    startup = Startup(zava, ("stock", "orders"), (warm_up,), started=0.0)  # type: ignore[arg-type]
    try:
        assert not startup.ready()
        zava.models.orders.loaded = True
        zava.models.load_seconds.update(stock=0.2, orders=4.04)
        assert not startup.ready()  # the feed is not current yet
        current[0] = True
        assert not startup.ready()  # a warm-up is still running
        warm_up.set_result(None)
        assert startup.ready()
        report = startup.report()
        assert report["ready"] is True and report["read_models"] == {"stock": 0.2, "orders": 4.04}
        assert report["ready_after_seconds"] is not None

        current[0] = False  # a feed that falls behind: lookups read the database again
        lapsed = startup.report()
        assert lapsed["ready"] is False and lapsed["ready_after_seconds"] == report["ready_after_seconds"]
    finally:
        await startup.close()


async def test_a_model_the_server_does_not_load_is_not_waited_for() -> None:
    zava = _zava({"stock": True, "customers": False, "orders": False}, [True])
    startup = Startup(zava, ("stock",), (), started=0.0)  # type: ignore[arg-type]
    try:
        assert startup.ready()
        assert startup.report()["read_models"] == {"stock": None}  # loaded, but its time was not recorded
    finally:
        await startup.close()


async def test_the_watch_records_readiness_without_anyone_asking() -> None:
    current = [False]
    startup = Startup(_zava({"stock": True}, current), ("stock",), (), started=0.0)  # type: ignore[arg-type]
    try:
        current[0] = True
        for _ in range(100):
            if startup.ready_after is not None:
                break
            await asyncio.sleep(0.01)
        assert startup.ready_after is not None
    finally:
        await startup.close()


async def test_a_model_is_waited_for_only_once_it_was_first_used() -> None:
    zava = _zava({"stock": False, "customers": True, "orders": False}, [True], requested={"customers"})
    startup = Startup(zava, ("stock", "customers", "orders"), (), started=0.0)  # type: ignore[arg-type]
    try:
        assert startup.ready()  # no lookup read the stock or a customer's orders: neither is loaded nor awaited
        report = startup.report()["read_models"]
        assert report["stock"] == "on first use" and report["orders"] == "on first use"
        zava.models.requested.add("orders")  # the first get_customer_orders started its load
        assert not startup.ready() and startup.report()["read_models"]["orders"] is None
        zava.models.orders.loaded = True
        zava.models.load_seconds["orders"] = 0.9
        assert startup.ready() and startup.report()["read_models"]["orders"] == 0.9
    finally:
        await startup.close()
