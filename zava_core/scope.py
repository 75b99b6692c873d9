"""Who is calling, and which stores they may see: the row-level security of the original, done right.

A caller is head office (every store) or the manager of one store. There is no default: code that
reads or writes store-scoped data takes a `Scope` argument, and a `Scope` exists only for an
`Identity` that was established at the door (launch flags on stdio, a verified token on HTTP) and
checked against the stores in the database. No tool argument can widen it: a requested store outside
the scope is refused.

The rule has one home, here, in the two forms a query needs, tested against each other:
`Scope.filter` (a MongoDB filter) and `Scope.sees` (a predicate on a document), both driven by a
collection's kind (`model.CollectionSpec.store_scope`); likewise what a manager sees of a customer's
`stores_shopped`: `Scope.shopped` (Python) and `Scope.shopped_expression` (an aggregation expression).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from typing import Any

from zava_core.errors import InvalidArgument, NoIdentity, OutOfScope, echo
from zava_core.model.collections import StoreScope
from zava_core.model.ids import store_key

# What a caller without an identity is told, wherever the call arrives (a tool, a resource, a completion).
NO_IDENTITY = "no identity: start the server with --store or --head-office, or send a bearer token"
HEAD_OFFICE_LABEL = "head-office"
STORE_LABEL_PREFIX = "store:"


@dataclass(frozen=True)
class Identity:
    """Who a caller is, before it is checked against the stores in the database (`scope_for`)."""

    head_office: bool
    store: str | None = None

    @property
    def label(self) -> str:
        """How a token store keeps an identity (`head-office`, `store:seattle`)."""
        return HEAD_OFFICE_LABEL if self.head_office else f"{STORE_LABEL_PREFIX}{self.store}"

    @classmethod
    def parse(cls, label: str) -> Identity:
        """The identity a stored label names (the tokens file and collection keep labels)."""
        if label == HEAD_OFFICE_LABEL:
            return cls(head_office=True)
        if label.startswith(STORE_LABEL_PREFIX) and label[len(STORE_LABEL_PREFIX):]:
            return cls(head_office=False, store=label[len(STORE_LABEL_PREFIX):])
        raise ValueError(f"unknown identity {label!r}")


def require_identity(identity: Identity | None) -> Identity:
    """Fail closed: no identity, no data."""
    if identity is None:
        raise NoIdentity(NO_IDENTITY)
    return identity


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
            for key in (store.store_id, store.store_name, store.short_name, store_key(store.store_id)):
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
    """The stores a caller may see. Build it with `scope_for`, `for_head_office()` or `for_store_manager()`."""

    store_ids: frozenset[str]
    head_office: bool
    label: str
    who: str = field(default="", compare=False)

    @classmethod
    def for_head_office(cls, directory: StoreDirectory) -> Scope:
        return cls(frozenset(directory.ids), True, "head office")

    @classmethod
    def for_store_manager(cls, store: StoreRef) -> Scope:
        return cls(frozenset({store.store_id}), False, f"manager of {store.store_name}")

    @property
    def name(self) -> str:
        """For logs, spans and per-caller limits: `head-office` or the store ids."""
        return HEAD_OFFICE_LABEL if self.head_office else ",".join(sorted(self.store_ids))

    def stores(self, requested: str | None, directory: StoreDirectory) -> list[str]:
        """The store ids to query: the requested one (if visible) or every visible store."""
        if requested is None or not str(requested).strip():
            return sorted(self.store_ids)
        store = directory.resolve(requested)
        self.require(store.store_id)
        return [store.store_id]

    def covers(self, store_id: str) -> bool:
        return store_id in self.store_ids

    def require(self, store_id: str) -> None:
        if not self.covers(store_id):
            raise OutOfScope(f"store {store_id} is outside your scope ({self.label}); you can use "
                             + ", ".join(sorted(self.store_ids)))

    # The store-scope rule, once. A collection's kind says how its documents belong to stores: "store_id",
    # one store; "customer", the home store (`primary_store_id`) and every store the customer ordered at (the
    # keys of `stores_shopped`); "none", no store. `stores` narrows the scope further (stores a caller asked
    # for, already checked with `stores()`): a store outside the scope is never added by it.

    def filter(self, kind: StoreScope, stores: Iterable[str] | None = None) -> dict[str, Any]:
        """A MongoDB filter matching the documents of a collection of `kind` that this scope may see.

        Head office asking for every store gets no store condition at all (so queries keep their index);
        one store is an equality; an empty intersection matches nothing.
        """
        _check_kind(kind)
        ids = self._within(stores)
        if kind == "none" or self._everything(ids):
            return {}
        if kind == "store_id":
            if len(ids) == 1:
                return {"store_id": ids[0]}
            return {"store_id": {"$in": ids}}
        if not ids:
            return {"_id": {"$in": []}}
        return {"$or": [{"primary_store_id": {"$in": ids}},
                        *({f"stores_shopped.{s}": {"$exists": True}} for s in ids)]}

    def sees(self, kind: StoreScope, doc: Mapping[str, Any], stores: Iterable[str] | None = None) -> bool:
        """Whether this scope (narrowed to `stores`) may see `doc`, a document of a collection of `kind`."""
        _check_kind(kind)
        if stores is None:  # the common case, asked per document: no sorting
            if kind == "none" or self.head_office:
                return True
            ids: Set[str] = self.store_ids
        else:
            within = self._within(stores)
            if kind == "none" or self._everything(within):
                return True
            ids = set(within)
        if kind == "store_id":
            return doc.get("store_id") in ids
        shopped = doc.get("stores_shopped")
        shopped = shopped if isinstance(shopped, Mapping) else {}
        return doc.get("primary_store_id") in ids or any(s in shopped for s in ids)

    def _within(self, stores: Iterable[str] | None) -> list[str]:
        return sorted(self.store_ids if stores is None else set(stores) & self.store_ids)

    def _everything(self, ids: list[str]) -> bool:
        """Head office asking for every store: no store condition at all (documents of any store, or none)."""
        return self.head_office and len(ids) == len(self.store_ids)

    # What a manager sees of a customer's `stores_shopped`: their own stores only (where else a customer
    # shops is not theirs to see). The Python form shapes find_customers' rows; the expression form is put
    # after every read of customers in run_aggregation.

    def shopped(self, customer: Mapping[str, Any]) -> list[str]:
        """The stores of this scope where the customer has shopped, sorted."""
        shopped = customer.get("stores_shopped")
        if not isinstance(shopped, Mapping):
            return []
        return sorted(s for s in shopped if s in self.store_ids)

    def shopped_expression(self) -> dict[str, Any]:
        """An aggregation expression for `stores_shopped` cut to this scope's stores (the map form kept): a
        value that is not a map is removed."""
        kept = {"$arrayToObject": {"$filter": {"input": {"$objectToArray": "$stores_shopped"},
                                               "cond": {"$in": ["$$this.k", sorted(self.store_ids)]}}}}
        return {"$cond": [{"$eq": [{"$type": "$stores_shopped"}, "object"]}, kept, "$$REMOVE"]}

    # The store's customers: those whose home store it is, and those with a standing sale there. The link
    # (`stores_shopped.<store>`) exists only while one stands: create_order adds it, and a cancel or a full
    # return that leaves no standing order at that store removes it in the same transaction (a throw-away
    # order no longer makes anyone the store's customer). Only they are listed by search, readable by id, and
    # shown with their contact details.

    def can_see_customer(self, customer: Mapping[str, Any]) -> bool:
        return self.sees("customer", customer)

    def shows_contact(self, customer: Mapping[str, Any]) -> bool:
        """Whether this scope is shown `customer`'s e-mail and phone: only the store's own customers'."""
        return self.can_see_customer(customer)

    # The till rule, once: a store manager serves whoever walks in. Another store's customer is found only by
    # the exact e-mail or phone the customer hands over (never by customer id: ids are sequential, a walk
    # would list everyone), is shown by name and id only, and may be sold to at the manager's own store after
    # such a lookup (`retail.till`: each lookup is counted against the store's hourly limit and recorded).
    # Name search, partial values, ids and order history stay within `can_see_customer`.

    TILL_DETAILS = ("email", "phone")  # what a customer hands over at the till

    def can_serve_customer(self, customer: Mapping[str, Any], named_by: str | None) -> bool:
        """Whether this scope may find `customer`, named by the exact value of the field `named_by` (None: not
        named exactly), to serve them at one of its own stores."""
        return self.can_see_customer(customer) or named_by in self.TILL_DETAILS

    @property
    def caller(self) -> str:
        """Who asks, as an audit record keeps it: the identity provider's subject or the token's identity when
        the server knows it (`with_caller`), else the scope itself."""
        return self.who or self.name

    def with_caller(self, who: str | None) -> Scope:
        """The same scope, naming who asks (for audit records only: it widens and narrows nothing)."""
        return replace(self, who=str(who or "")[:200])


def _check_kind(kind: str) -> None:
    if kind not in ("none", "store_id", "customer"):
        raise ValueError(f"unknown store scope kind {kind!r}")


def scope_for(identity: Identity, directory: StoreDirectory) -> Scope:
    """The scope of an identity, checked against the stores in the database (an unknown store is refused)."""
    if identity.head_office:
        return Scope.for_head_office(directory)
    return Scope.for_store_manager(directory.resolve(identity.store or ""))
