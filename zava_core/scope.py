"""Who is calling, and which stores they may see: the row-level security of the original, done right.

A caller is head office (every store) or the manager of one store. There is no default: code that
reads or writes store-scoped data takes a `Scope` argument, and a `Scope` exists only for an
identity that was established at the door (launch flags on stdio, a verified token on HTTP).
No tool argument can widen it: a requested store outside the scope is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from zava_core.errors import InvalidArgument, OutOfScope, echo


@dataclass(frozen=True)
class StoreRef:
    store_id: str
    store_name: str
    short_name: str
    is_online: bool


class StoreDirectory:
    """Resolves a store named by id (`store_seattle`), short name (`Seattle`) or full name, any case."""

    def __init__(self, stores: list[StoreRef]) -> None:
        self.stores = sorted(stores, key=lambda s: s.store_id)
        self._by_key: dict[str, StoreRef] = {}
        for store in self.stores:
            for key in (store.store_id, store.store_name, store.short_name, store.store_id.removeprefix("store_")):
                self._by_key[_norm(key)] = store

    @property
    def ids(self) -> list[str]:
        return [s.store_id for s in self.stores]

    def get(self, store_id: str) -> StoreRef:
        return self.resolve(store_id)

    def resolve(self, name: str) -> StoreRef:
        store = self._by_key.get(_norm(name))
        if store is None:
            valid = ", ".join(s.short_name for s in self.stores)
            raise InvalidArgument(f"unknown store {echo(name)}; use one of: {valid} (or an id such as store_seattle)")
        return store


def _norm(text: str) -> str:
    return " ".join(str(text).lower().replace("_", " ").split())


@dataclass(frozen=True)
class Scope:
    """The stores a caller may see. Build it with `head_office()` or `store_manager()` only."""

    store_ids: frozenset[str]
    head_office: bool
    label: str

    @classmethod
    def for_head_office(cls, directory: StoreDirectory) -> Scope:
        return cls(frozenset(directory.ids), True, "head office")

    @classmethod
    def for_store_manager(cls, store: StoreRef) -> Scope:
        return cls(frozenset({store.store_id}), False, f"manager of {store.store_name}")

    def stores(self, requested: str | None, directory: StoreDirectory) -> list[str]:
        """The store ids to query: the requested one (if visible) or every visible store."""
        if requested is None or not str(requested).strip():
            return sorted(self.store_ids)
        store = directory.resolve(requested)
        self.require(store.store_id)
        return [store.store_id]

    def require(self, store_id: str) -> None:
        if store_id not in self.store_ids:
            raise OutOfScope(f"store {store_id} is outside your scope ({self.label}); you can use "
                             + ", ".join(sorted(self.store_ids)))

    def store_filter(self, store_ids: list[str] | None = None, field: str = "store_id") -> dict:
        """A query filter restricted to the scope (and to `store_ids`, already checked with `stores()`).

        Head office asking for every store gets no store condition at all (so queries keep their
        index); one store is an equality; an empty intersection matches nothing.
        """
        ids = sorted(self.store_ids if store_ids is None else set(store_ids) & self.store_ids)
        if self.head_office and len(ids) == len(self.store_ids):
            return {}
        if not ids:
            return {field: {"$in": []}}
        return {field: ids[0]} if len(ids) == 1 else {field: {"$in": ids}}

    # The store-scope rule, once. A collection's kind (`model.CollectionSpec.store_scope`) says how its
    # documents belong to stores: "store_id", one store; "customer", the home store (`primary_store_id`) and
    # every store the customer ordered at (the keys of `stores_shopped`); "none", no store. The query
    # filter and the predicate below are the same rule in two forms, tested against each other.

    def filter_for(self, kind: str) -> dict:
        """A MongoDB filter matching the documents of a collection of `kind` that this scope may see."""
        if self.head_office or kind == "none":
            return {}
        ids = sorted(self.store_ids)
        if kind == "store_id":
            return {"store_id": {"$in": ids}}
        if kind == "customer":
            return {"$or": [{"primary_store_id": {"$in": ids}},
                            *({f"stores_shopped.{s}": {"$exists": True}} for s in ids)]}
        raise ValueError(f"unknown store scope kind {kind!r}")

    def sees(self, kind: str, doc: dict) -> bool:
        """Whether this scope may see `doc`, a document of a collection of `kind` (the filter's rule)."""
        if self.head_office or kind == "none":
            return True
        if kind == "store_id":
            return doc.get("store_id") in self.store_ids
        if kind == "customer":
            shopped = doc.get("stores_shopped")
            shopped = shopped if isinstance(shopped, dict) else {}
            return doc.get("primary_store_id") in self.store_ids or any(s in shopped for s in self.store_ids)
        raise ValueError(f"unknown store scope kind {kind!r}")

    def can_see_customer(self, customer: dict) -> bool:
        return self.sees("customer", customer)

    # The till rule, once: a store manager serves whoever walks in. A customer named *exactly* (customer
    # id, whole e-mail address, whole phone number: what the customer hands over at the till) may be found
    # and sold to at the manager's own store, wherever their home store is; the first order there makes
    # them the store's customer (`stores_shopped`). Name search, partial e-mails and phones, and browsing
    # stay limited to `can_see_customer`, so no search lists another store's customers.

    def can_serve_customer(self, customer: dict, named_exactly: bool) -> bool:
        """Whether this scope may find `customer` to serve them at one of its own stores."""
        return named_exactly or self.can_see_customer(customer)
