"""Waiting, in tests, for something another task or process brings about (a change feed's fold, a reload)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio


async def eventually(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0, every: float = 0.1) -> bool:
    """Whether `predicate()` held within `seconds`, asked every `every` seconds (and once more at the end)."""
    deadline = time.monotonic() + seconds
    while True:
        if await predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        await anyio.sleep(every)
