"""A read model whose load fails (the database restarting, a connection pool reset under load) is loaded again
later: before, one failure left the process reading the database for every lookup until it restarted, while the
model's buffer of change events grew without bound."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import zava_core.readmodels as readmodels
from zava_core.readmodels import ReadModels

pytestmark = pytest.mark.anyio


async def test_a_failed_load_is_retried_until_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readmodels, "RETRY_SECONDS", (0.01,))
    models = ReadModels(SimpleNamespace(inventory=None, customers=None, orders=None, order_items=None))
    attempts = []

    async def flaky_load() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("operation cancelled")
        models.stock.loaded = True

    monkeypatch.setattr(models.stock, "load", flaky_load)
    models.wanted = ("stock",)  # as `attach` sets it
    models.use("stock")  # what the first stock lookup does
    for _ in range(200):
        if models.stock.loaded:
            break
        await asyncio.sleep(0.01)
    await models.close()
    assert models.stock.loaded and len(attempts) == 3
    assert "stock" in models.load_seconds  # the attempt that loaded is the one timed
