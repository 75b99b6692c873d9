"""The customer directory in memory: what `find_customers` searches and the scope checks read, 25,000 customers
at the default scale (50,000 at full) held as small tuples with the indexes the searches use.

It answers the same filters `retail.customers.search_filters` builds for the database (an id, an e-mail prefix,
a whole phone number, digits of a phone, name prefixes), so the search rules have one home and two engines.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from zava_core.readmodels.following import FollowingModel
from zava_core.readmodels.freshness import Freshness
from zava_core.store import Handle

# The fields kept, in tuple order (what the tools show and the scope rule reads).
FIELDS = ("_id", "first_name", "last_name", "first_name_lower", "last_name_lower", "email", "phone",
          "primary_store_id", "stores_shopped")
PROJECTION = {name: 1 for name in (*FIELDS, "deleted")}
_HIGH = "\uffff"
_AT: dict[str, int] = {name: i for i, name in enumerate(FIELDS)} | {"customer_id": 0}


class CustomerDirectory(FollowingModel):
    def __init__(self, customers: Handle, freshness: Freshness) -> None:
        super().__init__(freshness)
        self._customers = customers
        self._by_id: dict[str, tuple] = {}
        # Per searched field, customer ids ordered by (value, id): an exact value and a prefix are both a binary
        # search. Ids only, not (value, id) pairs (the row holds the value; a pair costs 64 bytes a customer a
        # field, a dict by value about as much).
        self._sorted: dict[str, list[str]] = {name: [] for name in ("email", "phone", "last_name_lower",
                                                                    "first_name_lower")}

    async def _read(self) -> None:
        by_id: dict[str, tuple] = {}
        async for doc in self._customers.scan(self._customers.unscoped(), PROJECTION):
            if isinstance(doc["_id"], str):  # another writer's object id: no lookup names it, and it would not sort
                by_id[doc["_id"]] = _row(doc)
        self._by_id = by_id
        for field in self._sorted:
            self._sorted[field] = sorted(by_id, key=self._sort_key(field))

    def _apply(self, events: Iterable[dict]) -> None:
        for event in events:
            doc = event.get("fullDocument")
            key = (event.get("documentKey") or {}).get("_id")
            self._remove(key)
            if doc is not None and not doc.get("deleted"):
                self._add(doc)

    def _add(self, doc: Mapping[str, Any]) -> None:
        row = _row(doc)
        self._by_id[row[0]] = row
        for field, ids in self._sorted.items():
            bisect.insort(ids, row[0], key=self._sort_key(field))  # the key is applied to the id too

    def _remove(self, customer_id: object) -> None:
        row = self._by_id.get(customer_id)  # type: ignore[arg-type]
        if row is None:
            return
        for field, ids in self._sorted.items():  # found by the row's values: before the row goes
            at = bisect.bisect_left(ids, (_text(row[_AT[field]]), customer_id), key=self._sort_key(field))
            if at < len(ids) and ids[at] == customer_id:
                del ids[at]
        del self._by_id[customer_id]  # type: ignore[arg-type]

    def _sort_key(self, field: str) -> Callable[[str], tuple]:
        at, by_id = _AT[field], self._by_id
        return lambda cid: (_text(by_id[cid][at]), cid)

    def _between(self, field: str, low: str, high: str) -> list[str]:
        """The ids whose `field` is in [low, high), in (value, id) order."""
        ids, key = self._sorted[field], self._sort_key(field)
        return ids[bisect.bisect_left(ids, (low, ""), key=key):bisect.bisect_left(ids, (high, ""), key=key)]

    # --- reads: None means "ask the database" ----------------------------------------------------------

    def usable(self, customer_ids: Iterable[str] = ()) -> bool:
        return self.loaded and self._freshness.following() and self._freshness.settled(
            *(("customers", cid) for cid in customer_ids)) and self._freshness.settled_all("customers")

    def get(self, customer_id: str) -> dict | None:
        row = self._by_id.get(customer_id)
        return None if row is None else _doc(row)

    def find(self, query: Mapping[str, Any], limit: int) -> list[dict]:
        """The live customers matching one of `search_filters`' filters, at most `limit` (candidates first by the
        index the database would use, then every condition checked)."""
        # Rows are checked as tuples; only the matches become documents (a name prefix reads hundreds).
        if query.get("deleted", False) is not False:
            return []  # the model holds live customers only
        conditions = [(_AT.get(field), condition) for field, condition in query.items() if field != "deleted"]
        out = []
        for row in self._candidates(query):
            if _matches(row, conditions):
                out.append(_doc(row))
                if len(out) >= limit:
                    break
        return out

    def _candidates(self, query: Mapping[str, Any]) -> Iterator[tuple]:
        if "_id" in query:
            row = self._by_id.get(query["_id"])
            yield from ([row] if row is not None else [])
            return
        for field in ("email", "phone"):
            value = query.get(field)
            if isinstance(value, str):  # an exact value: the ids with it, the smallest string after it excluded
                yield from (self._by_id[cid] for cid in self._between(field, value, value + "\0"))
                return
        for field in ("email", "last_name_lower", "first_name_lower"):
            bounds = query.get(field)
            if isinstance(bounds, Mapping) and "$gte" in bounds:
                high = bounds.get("$lt", bounds["$gte"] + _HIGH)
                yield from (self._by_id[cid] for cid in self._between(field, bounds["$gte"], high))
                return
        yield from self._by_id.values()  # a phone's digits: every customer, the regex decides


def _row(doc: Mapping[str, Any]) -> tuple:
    """A customer as a tuple in `FIELDS` order: store ids shared (interned), the stores shopped as (store, date)
    pairs (a dict per customer cost ~150 bytes more; pairs become one again in a single C call: a name search
    turns hundreds of rows into documents)."""
    row = [doc.get(name) for name in FIELDS]
    row[_AT["primary_store_id"]] = _shared(row[_AT["primary_store_id"]])
    shopped = row[_AT["stores_shopped"]]
    shopped = shopped if isinstance(shopped, Mapping) else {}  # as the scope rule reads a value that is not a map
    row[_AT["stores_shopped"]] = tuple((_shared(store), day) for store, day in shopped.items())
    return tuple(row)


def _text(value: Any) -> str:
    """A searched field as the indexes sort it: a document another writer left without it sorts first (and no
    search matches it: the conditions are checked on the row's own value)."""
    return value if isinstance(value, str) else ""


def _shared(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _doc(row: tuple) -> dict:
    doc = dict(zip(FIELDS, row, strict=True))
    doc["stores_shopped"] = dict(doc["stores_shopped"])
    doc["customer_id"] = doc["_id"]
    doc["deleted"] = False
    return doc


def _matches(row: tuple, conditions: list[tuple[int | None, Any]]) -> bool:
    """The filter subset `search_filters` uses, on a row: equality, $gte/$lt ranges, $regex (a field the row does
    not hold reads as missing)."""
    for at, condition in conditions:
        value = row[at] if at is not None else None
        if isinstance(condition, Mapping):
            if "$gte" in condition and not (isinstance(value, str) and value >= condition["$gte"]):
                return False
            if "$lt" in condition and not (isinstance(value, str) and value < condition["$lt"]):
                return False
            if "$regex" in condition and not (isinstance(value, str) and re.search(condition["$regex"], value)):
                return False
        elif value != condition:
            return False
    return True
