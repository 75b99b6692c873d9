"""`sales_daily` cells held in memory once read: ranges that start or end inside a month, asked again, need no
database read.

A question such as "revenue from 15 March to 10 August" takes its whole months from the cube and its partial
months from day cells (one per store and day). Read from the embedded engine, the 2 x 8 range reads of a
head-office question cost ~40 ms; held here, a repeat costs what summing the cells costs.

The rule is the cube's: cells answer from memory only while the change feed delivers the rollups (`follow`);
every `sales_daily` event drops the cells it names, a replaced collection (a rebuild's rename) drops them all,
and a read that raced with an event is not kept. A day without sales is held too (as "none"), so a range of
quiet days is not re-read. At most `MAX_CELLS` are held, the least recently used dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta

from zava_core.analysis.cube import REPLACED
from zava_core.model.builders import sales_cell_key
from zava_core.store import Handle

MAX_CELLS = 4_000  # ~a month either side of every store's quarter, several times over; ~1.5 KB each as stored
# A partial edge of a window is under two months; a longer span (an end date far in the future: 9999-12-31 is
# a valid question) is read from the database as one range, never walked day by day.
MAX_SPAN_DAYS = 62


class DayCells:
    def __init__(self, daily: Handle) -> None:
        self._daily = daily
        self._cells: OrderedDict[str, dict | None] = OrderedDict()  # by the cell's `_id` (`sales_cell_key`)
        self._generation = 0  # moves on every event: a read that started before it is not kept
        self._fed: Callable[[], bool] = lambda: False
        self.reads = 0  # database range reads made (what the tests look at)

    @property
    def held(self) -> int:
        """How many (store, day) cells are held, days without sales included."""
        return len(self._cells)

    def follow(self, following: Callable[[], bool]) -> None:
        """`following()` says whether the change feed delivers `sales_daily` changes (else every ask reads)."""
        self._fed = following

    async def on_changes(self, events: Sequence[dict]) -> None:
        self._generation += 1
        if any(event.get("operationType") in REPLACED for event in events):
            self._cells.clear()
            return
        for event in events:
            self._cells.pop((event.get("documentKey") or {}).get("_id"), None)

    async def read(self, store_ids: Iterable[str], ranges: Iterable[tuple[str, str]]) -> list[dict]:
        """The live cells of these stores and inclusive day ranges (`store_ids` already checked against the
        caller's scope)."""
        stores, spans = list(store_ids), list(ranges)
        if not self._fed():
            return [cell for s in stores for first, last in spans for cell in await self._read(s, first, last)]
        cells: list[dict] = []
        for store_id in stores:
            for first, last in spans:
                if (date.fromisoformat(last) - date.fromisoformat(first)).days >= MAX_SPAN_DAYS:
                    cells += await self._read(store_id, first, last)
                    continue
                keys = {day: sales_cell_key(store_id, day) for day in _days(first, last)}
                held = {day: self._cells[key] for day, key in keys.items() if key in self._cells}
                missing = [day for day in keys if day not in held]
                if missing:
                    found = await self._fill(store_id, missing[0], missing[-1])
                    held.update({day: found.get(day) for day in missing})
                for key in keys.values():
                    if key in self._cells:
                        self._cells.move_to_end(key)
                cells += [cell for day in keys if (cell := held[day]) is not None]
        return cells

    async def _fill(self, store_id: str, first: str, last: str) -> dict[str, dict]:
        """Read one store's span and hold it, unless an event came in meanwhile (then it only answers)."""
        generation = self._generation
        found = {cell["day"]: cell for cell in await self._read(store_id, first, last)}
        if generation == self._generation:
            for day in _days(first, last):
                self._cells[sales_cell_key(store_id, day)] = found.get(day)
            while len(self._cells) > MAX_CELLS:
                self._cells.popitem(last=False)
        return found

    async def _read(self, store_id: str, first: str, last: str) -> list[dict]:
        self.reads += 1
        daily = self._daily
        return await daily.find(daily.unscoped(store_id=store_id, day={"$gte": first, "$lte": last})).to_list()


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
