"""Closing a server never hangs on its change feed: a driver read that outlives its cancel is left to the client's
close (seen with several servers in one process on the embedded engine: tests/integration/test_secrets.py)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from zava_core.feed import stream
from zava_core.feed.stream import ChangeFeed


async def _stubborn(release: asyncio.Event) -> None:
    """Like the stuck getMore: the first cancel is swallowed and the wait goes on."""
    try:
        await release.wait()
    except asyncio.CancelledError:
        await release.wait()


@pytest.mark.anyio
async def test_close_returns_when_the_feed_task_ignores_its_cancel(monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(stream, "CLOSE_WAIT_SECONDS", 0.2)
    release = asyncio.Event()
    feed = ChangeFeed(None, None)  # type: ignore[arg-type]  # close() touches neither
    feed._task = asyncio.create_task(_stubborn(release))
    await asyncio.sleep(0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="zava.feed"):
        await feed.close()
    assert time.monotonic() - started < 1.0
    assert feed.state.mode == "stopped"
    assert "did not stop within" in caplog.text
    release.set()  # the read ends (the client's close does that for a real one); its outcome is taken, not raised
    await asyncio.sleep(0.01)
    assert feed._task.done()


@pytest.mark.anyio
async def test_close_waits_for_a_feed_that_stops_on_cancel(caplog: pytest.LogCaptureFixture) -> None:
    feed = ChangeFeed(None, None)  # type: ignore[arg-type]
    feed._task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="zava.feed"):
        await feed.close()
    assert feed._task.cancelled() and "did not stop" not in caplog.text
