"""Group commit (`zava_core.store.group_commit`): writes of one key that arrive while its transaction runs share
the next one, each caller gets its own outcome, and a stop leaves no caller waiting. Pure asyncio, no database."""

from __future__ import annotations

import asyncio

import pytest

from zava_core.errors import OutOfStock, Unavailable
from zava_core.store import GroupCommit

pytestmark = pytest.mark.anyio


class Recorder:
    """A `run` that records its batches and holds each one until released."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with = fail_with

    async def __call__(self, key: str, requests: list[str]) -> list[str | BaseException]:
        self.batches.append(list(requests))
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [OutOfStock(f"{r} does not fit") if r.startswith("big") else f"placed {r}" for r in requests]


async def started(*coroutines) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(c) for c in coroutines]
    await asyncio.sleep(0)  # each has queued its request
    await asyncio.sleep(0)
    return tasks


async def test_requests_arriving_while_a_batch_runs_share_the_next_transaction() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=8)
    (first,) = await started(group.submit("store_seattle", "a"))
    later = await started(*(group.submit("store_seattle", r) for r in ("b", "c", "d")))
    assert run.batches == [["a"]]  # b, c and d wait behind a's transaction
    run.release.set()
    assert await asyncio.gather(first, *later) == ["placed a", "placed b", "placed c", "placed d"]
    assert run.batches == [["a"], ["b", "c", "d"]]
    assert (group.batches, group.requests) == (2, 4)


async def test_keys_do_not_wait_for_each_other_and_a_batch_holds_at_most_max_batch() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=2)
    waiting = await started(*(group.submit("store_seattle", r) for r in ("a", "b", "c", "d", "e")),
                            group.submit("store_tacoma", "t"))
    assert run.batches == [["a", "b"], ["t"]]  # Tacoma's order did not queue behind Seattle's
    run.release.set()
    await asyncio.gather(*waiting)
    assert run.batches == [["a", "b"], ["t"], ["c", "d"], ["e"]]


async def test_each_caller_hears_its_own_outcome_and_a_failed_batch_reaches_all_of_its_callers() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=8)
    run.release.set()
    ok, big = await asyncio.gather(group.submit("s", "a"), group.submit("s", "big-b"),
                                   return_exceptions=True)
    assert ok == "placed a"
    assert isinstance(big, OutOfStock) and "big-b does not fit" in str(big)

    run.fail_with = Unavailable("the database went away")
    outcomes = await asyncio.gather(*(group.submit("s", r) for r in ("x", "y")), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["the database went away"] * 2
    run.fail_with = None
    assert await group.submit("s", "z") == "placed z"  # the key's next batch runs as before


async def test_a_caller_that_stops_waiting_leaves_the_others_their_answers() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=8)
    (first,) = await started(group.submit("s", "a"))
    gone, kept = await started(*(group.submit("s", r) for r in ("b", "c")))
    gone.cancel()
    run.release.set()
    assert await first == "placed a" and await kept == "placed c"
    assert gone.cancelled()
    assert run.batches == [["a"], ["b", "c"]]  # like a write already sent, b still went to the database


async def test_close_lets_the_running_batch_finish_and_fails_what_is_queued() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=1)
    (running,) = await started(group.submit("s", "a"))
    (queued,) = await started(group.submit("s", "b"))
    closing = asyncio.create_task(group.close())
    await asyncio.sleep(0)
    run.release.set()
    await closing
    assert await running == "placed a"
    with pytest.raises(Unavailable, match="nothing was written"):
        await queued
    with pytest.raises(Unavailable, match="stopping"):
        await group.submit("s", "c")
    assert run.batches == [["a"]]


async def test_a_batch_cut_short_by_a_stop_tells_its_callers_to_send_again() -> None:
    run = Recorder()
    group = GroupCommit[str, str](run, max_batch=8)  # never released: a transaction that hangs
    (hung,) = await started(group.submit("s", "a"))
    group_close = asyncio.create_task(group.close())
    await asyncio.sleep(0)
    for task in list(group._drains.values()):  # what close() does once CLOSE_WAIT_SECONDS have passed
        task.cancel()
    await group_close
    with pytest.raises(Unavailable, match="send the same call again"):
        await hung


def test_a_group_commit_takes_at_least_one_request_per_batch() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Recorder(), max_batch=0)
