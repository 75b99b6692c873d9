"""The customer directory in memory: what `find_customers` searches and the scope checks read, 25,000 customers
at the default scale (50,000 at full) held as small tuples with the indexes the searches use.

It answers the same filters `retail.customers.search_filters` builds for the database (an id, an e-mail prefix,
a whole phone number, digits of a phone, name prefixes), so the search rules have one home and two engines.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
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
        self._by_email: dict[str, str] = {}
        self._by_phone: dict[str, set[str]] = {}
        self._sorted: dict[str, list[tuple[str, str]]] = {"email": [], "last_name_lower": [], "first_name_lower": []}

    async def _read(self) -> None:
        docs = await self._customers.find(self._customers.unscoped(), PROJECTION).to_list()
        self._by_id = {d["_id"]: _row(d) for d in docs}
        self._by_email = {d["email"]: d["_id"] for d in docs}
        self._by_phone = {}
        for d in docs:
            self._by_phone.setdefault(d["phone"], set()).add(d["_id"])
        for field in self._sorted:
            self._sorted[field] = sorted((d[field], d["_id"]) for d in docs)

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
        self._by_email[doc["email"]] = row[0]
        self._by_phone.setdefault(doc["phone"], set()).add(row[0])
        for field, entries in self._sorted.items():
            bisect.insort(entries, (doc[field], row[0]))

    def _remove(self, customer_id: object) -> None:
        row = self._by_id.pop(customer_id, None)
        if row is None:
            return
        doc = dict(zip(FIELDS, row, strict=True))
        if self._by_email.get(doc["email"]) == customer_id:
            del self._by_email[doc["email"]]
        self._by_phone.get(doc["phone"], set()).discard(customer_id)
        for field, entries in self._sorted.items():
            at = bisect.bisect_left(entries, (doc[field], customer_id))
            if at < len(entries) and entries[at] == (doc[field], customer_id):
                del entries[at]

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
        email, phone = query.get("email"), query.get("phone")
        if isinstance(email, str):
            cid = self._by_email.get(email)
            yield from ([self._by_id[cid]] if cid is not None else [])
            return
        if isinstance(phone, str):
            yield from (self._by_id[cid] for cid in sorted(self._by_phone.get(phone, ())))
            return
        for field in ("email", "last_name_lower", "first_name_lower"):
            bounds = query.get(field)
            if isinstance(bounds, Mapping) and "$gte" in bounds:
                entries = self._sorted[field]
                at = bisect.bisect_left(entries, (bounds["$gte"], ""))
                end = bisect.bisect_left(entries, (bounds.get("$lt", bounds["$gte"] + _HIGH), ""))
                yield from (self._by_id[cid] for _, cid in entries[at:end])
                return
        yield from self._by_id.values()  # a phone's digits: every customer, the regex decides


def _row(doc: Mapping[str, Any]) -> tuple:
    return tuple(dict(doc.get(name) or {}) if name == "stores_shopped" else doc.get(name) for name in FIELDS)


def _doc(row: tuple) -> dict:
    doc = dict(zip(FIELDS, row, strict=True))
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
