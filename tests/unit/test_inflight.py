"""run_aggregation admission (`InFlight`): pure asyncio, no database. Pipelines are stand-ins that run until
released, as a pipeline the engine works on past its deadline does."""

from __future__ import annotations

import asyncio

import pytest

from zava_core import limits as L
from zava_core.analysis.inflight import AggregationBusy, InFlight
from zava_core.scope import Scope, StoreRef

pytestmark = pytest.mark.anyio

STORES = [StoreRef(f"store_{name}", f"Zava {name}", name, False)
          for name in ("seattle", "tacoma", "everett", "redmond", "bellevue", "spokane", "kirkland")]


def manager(index: int) -> Scope:
    return Scope.for_store_manager(STORES[index])


class Held:
    """Starts pipelines that hold their slot until `release()`."""

    def __init__(self) -> None:
        self.release_event = asyncio.Event()

    def work(self):
        async def run() -> tuple[list[dict], None]:
            await self.release_event.wait()
            return [], None
        return run

    def release(self) -> None:
        self.release_event.set()


async def test_two_callers_holding_slots_never_shut_out_a_third() -> None:
    """Two store managers re-issuing pipelines that run to the deadline kept head office out (22 of 22 over
    45 s): whoever holds none must still get in."""
    inflight, held = InFlight(), Held()
    seattle, tacoma = manager(0), manager(1)
    head_office = Scope(frozenset(s.store_id for s in STORES), True, "head office")
    tasks = [inflight.start(seattle, held.work()), inflight.start(tacoma, held.work())]
    # Re-issuing while their pipeline still runs gains them nothing: one slot per caller.
    for scope in (seattle, tacoma):
        with pytest.raises(AggregationBusy, match="another aggregation of yours"):
            inflight.start(scope, held.work())
    tasks.append(inflight.start(head_office, held.work()))  # refused today: both slots were taken
    held.release()
    await asyncio.gather(*tasks)
    assert not inflight.tasks and not inflight.by_caller


@pytest.mark.parametrize("holders", [1, 2])
async def test_any_caller_holding_none_gets_in_while_at_most_two_others_hold_slots(holders: int) -> None:
    inflight, held = InFlight(), Held()
    tasks = [inflight.start(manager(i), held.work()) for i in range(holders)]
    for newcomer in range(holders, len(STORES)):
        task = inflight.start(manager(newcomer), held.work())
        task.cancel()  # leaves again: the next newcomer meets the same `holders` others
        await asyncio.gather(task, return_exceptions=True)
    held.release()
    await asyncio.gather(*tasks)


async def test_the_process_cap_still_holds_and_says_whose_slots_are_taken() -> None:
    inflight, held = InFlight(), Held()
    tasks = [inflight.start(manager(i), held.work()) for i in range(L.MAX_AGGREGATIONS_IN_FLIGHT)]
    with pytest.raises(AggregationBusy, match="aggregations of other callers are already running") as refused:
        inflight.start(manager(L.MAX_AGGREGATIONS_IN_FLIGHT), held.work())
    assert "another aggregation of yours" not in str(refused.value)
    held.release()
    await asyncio.gather(*tasks)
    # Finished means free again, for anyone.
    again = Held()
    again.release()
    await inflight.start(manager(L.MAX_AGGREGATIONS_IN_FLIGHT), again.work())
