"""Customers for the Sales Rep app: find by name, e-mail or phone, and recent orders, within scope.

Searches use indexed prefix ranges on lower-case fields (`last_name_lower`, `email`, `phone`):
the embedded engine does not use an index for an anchored regex (540 ms over 25K customers vs
35 ms for the same range query), and a real MongoDB is faster with ranges too. The store scope
(home store, or ordered there) is checked on every candidate before anything is returned.

At the till (`Scope.can_serve_customer`), another store's customer is found only by the whole e-mail or
phone they hand over (never by id), marked `your_customer: false` and shown by name and id only; each such
lookup, and each exact lookup nobody matches, is counted against the store's hourly allowance and recorded
(`till.record_lookup`). Whom a store may sell to (its own customers, or another store's customer it found at the
till lately) is `sale_customer`'s rule: `create_order` applies it in its transaction, `servable_customer` for a
confirmation's question.
"""

from __future__ import annotations

import re

from pydantic import Field

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import InvalidArgument, NotFound
from zava_core.model import ids
from zava_core.retail import till
from zava_core.retail.sale_customer import may_sell_to
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

_NAME_WORD = re.compile(r"[a-z][a-z'\-]*")


class CustomerSummary(Out):
    customer_id: str
    name: str
    email: str
    phone: str
    home_store_id: str
    stores_shopped: list[str] = Field(description="Your stores where the customer has ordered")
    your_customer: bool = Field(True, description="False: another store's customer, found at the till by their exact "
                                "e-mail or phone to sell to at your store (name and id only)")


class CustomerSearchResult(Out):
    customers: list[CustomerSummary]
    meta: ListMeta


class OrderLineView(Out):
    sku: str
    product_name: str
    quantity: int
    unit_price: float
    discount_percent: int
    total_amount: float


class OrderView(Out):
    order_id: str
    order_date: str
    store_id: str
    store_name: str
    customer_id: str
    customer_name: str
    status: str
    item_count: int
    subtotal: float
    discount_total: float
    total: float
    lines: list[OrderLineView]
    returned_quantities: dict[str, int] = Field(default_factory=dict)
    cancel_reason: str | None = None


class CustomerOrders(Out):
    customer: CustomerSummary
    orders: list[OrderView]
    meta: ListMeta


HIDDEN = "(not shown: another store's customer)"


def customer_summary(doc: dict, scope: Scope) -> CustomerSummary:
    """A store manager sees which of *their* stores the customer shopped at, not where else they shop; another
    store's customer found at the till shows their name and id only (`Scope.shows_contact`)."""
    shown = scope.shows_contact(doc)
    return CustomerSummary(customer_id=doc["customer_id"], name=f"{doc['first_name']} {doc['last_name']}",
                           email=doc["email"] if shown else HIDDEN, phone=doc["phone"] if shown else HIDDEN,
                           home_store_id=doc["primary_store_id"] if shown else HIDDEN,
                           stores_shopped=scope.shopped(doc), your_customer=scope.can_see_customer(doc))


SCAN_CAP = 2_000  # candidates read per search branch before the scope check


def _prefix(field: str, text: str) -> dict:
    return {field: {"$gte": text, "$lt": text + "\uffff"}, "deleted": False}


def search_filters(query: str) -> list[dict]:
    """The indexed MongoDB filters whose union answers a customer query (an id, e-mail, phone or name).

    One filter per index rather than one `$or`: the embedded engine scans the collection for `$or`.
    """
    text = " ".join(str(query).split())
    if len(text) < 2:
        raise InvalidArgument("query needs at least 2 characters: a name, e-mail, phone or customer id")
    lowered = text.lower()
    if ids.is_customer_id(lowered):
        return [{"_id": lowered}]
    if "@" in lowered:
        return [_prefix("email", lowered)]
    digits = re.sub(r"\D", "", text)
    if digits and not re.search(r"[a-zA-Z]", text):
        if len(digits) < 4:
            raise InvalidArgument("a phone search needs at least 4 digits")
        if len(digits) == 11 and digits.startswith("1"):  # +1 country code: the numbers are all US
            digits = digits[1:]
        if len(digits) == 10:
            return [{"phone": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", "deleted": False}]
        return [{"phone": {"$regex": r"\D*".join(digits)}, "deleted": False}]
    words = _NAME_WORD.findall(lowered)
    if not words:
        raise InvalidArgument("query must contain a name, e-mail, phone number or customer id")
    if len(words) == 1:
        return [_prefix("last_name_lower", words[0]), _prefix("first_name_lower", words[0])]
    first, last = words[0], words[-1]
    return [{**_prefix("first_name_lower", first), **_prefix("last_name_lower", last)},
            {**_prefix("last_name_lower", first), **_prefix("first_name_lower", last)}]


def exact_filter(query: str) -> dict | None:
    """The filter of a query that names one customer exactly by what they hand over at the till (a whole
    e-mail, a whole 10-digit phone; `Scope.TILL_DETAILS`). None for ids, names and partial values."""
    text = " ".join(str(query).split())
    lowered = text.lower()
    if _WHOLE_EMAIL.match(lowered):
        return {"email": lowered}
    digits = re.sub(r"\D", "", text)
    if digits and not re.search(r"[a-zA-Z]", text):
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) == 10:
            return {"phone": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"}
    return None


_WHOLE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def _named_by(doc: dict, exact: dict | None) -> str | None:
    """The till detail (`email`, `phone`) that names `doc` exactly, if the query was one."""
    if exact is None or not all(doc.get(k) == v for k, v in exact.items()):
        return None
    return next(iter(exact))


async def find_customers(zava: Zava, scope: Scope, query: str, max_rows: int = 10) -> CustomerSearchResult:
    limit, note = cap_rows(max_rows)
    found: dict[str, dict] = {}
    capped = False
    exact = exact_filter(query)
    for query_filter in search_filters(query):
        docs = await _candidates(zava, scope, query_filter, SCAN_CAP + 1, exact is not None)
        capped |= len(docs) > SCAN_CAP
        for doc in docs[:SCAN_CAP]:
            # The store scope, applied here for every caller: the store's customers, or (the till) another
            # store's customer named by their exact e-mail or phone.
            if not doc.get("deleted") and scope.can_serve_customer(doc, _named_by(doc, exact)):
                found[doc["_id"]] = doc
    foreign = sorted(cid for cid, doc in found.items() if not scope.can_see_customer(doc))
    if exact is not None and not scope.head_office and (foreign or not found):
        await till.record_lookup(zava, scope, next(iter(exact)), foreign)  # counted, recorded, or refused
    ordered = sorted(found.values(), key=lambda d: (d["last_name_lower"], d["first_name_lower"], d["_id"]))
    customers = [customer_summary(d, scope) for d in ordered[:limit]]
    hint = None if customers else f"no customer matched within your scope ({scope.label})"
    cap_note = "many customers matched: add more of the name" if capped else None
    return CustomerSearchResult(customers=customers, meta=list_meta(
        len(customers), total=None if capped else len(ordered), truncated=capped or len(ordered) > limit,
        notes=[note, cap_note, hint]))


async def _candidates(zava: Zava, scope: Scope, query_filter: dict, limit: int, exact: bool) -> list[dict]:
    """Customers matching one search filter: from the directory read model while it is fresh, else one indexed
    query (the same filter either way)."""
    directory = zava.models.use("customers")
    if directory.usable():
        return await _current_links(zava, scope, directory.find(query_filter, limit), every=exact)
    return await zava.collections.customers.find(query_filter).limit(limit).to_list()


async def _current_links(zava: Zava, scope: Scope, docs: list[dict], *, every: bool) -> list[dict]:
    """Read models lag a write by a moment, and for a customer homed elsewhere that moment matters: a sale's
    cancel releases the link that shows their contact details (`customer_links`), and a model still holding it
    would reopen the throw-away-sale loophole until the feed catches up. So the link of such a customer is read
    from the database: of every one for an exact lookup (one or two customers), of those the model shows as
    linked for a name search (the others are hidden either way)."""
    if scope.head_office:
        return docs
    check = [d["_id"] for d in docs if d.get("primary_store_id") not in scope.store_ids and (every or scope.shopped(d))]
    if not check:
        return docs
    fields = {"stores_shopped": 1, "primary_store_id": 1, "deleted": 1}
    current = {d["_id"]: d async for d in zava.collections.customers.find({"_id": {"$in": check}}, fields)}
    return [{**d, **current.get(d["_id"], {"deleted": True})} if d["_id"] in check else d for d in docs]


async def _customer(zava: Zava, scope: Scope, customer_id: str) -> dict | None:
    directory = zava.models.use("customers")
    if directory.usable((customer_id,)):
        found = directory.get(customer_id)
        return (await _current_links(zava, scope, [found], every=True))[0] if found is not None else None
    return await zava.collections.customers.find_one({"_id": customer_id})


async def visible_customer(zava: Zava, scope: Scope, customer_id: str) -> dict:
    """The customer document, if it exists and the scope may see it (else NotFound: never reveal which)."""
    cid = checked_customer_id(customer_id)
    doc = await _customer(zava, scope, cid)
    if not zava.collections.customers.visible(scope, doc):
        raise NotFound(f"no customer {cid} within your scope ({scope.label})")
    return doc


def checked_customer_id(customer_id: str) -> str:
    cid = str(customer_id).strip().lower()
    if not ids.is_customer_id(cid):
        raise InvalidArgument(hints.CUSTOMER_ID_SHAPE())
    return cid


async def servable_customer(zava: Zava, scope: Scope, customer_id: str) -> dict:
    """The customer a sale is for: one of the store's own customers, or another store's customer this store
    found at the till lately (`sale_customer`); the store itself is checked by the sale. The same answer
    whether the customer does not exist or is not yet servable."""
    cid = checked_customer_id(customer_id)
    handle = zava.collections.customers
    doc = await handle.find_one({"_id": cid})  # a sale: decided by the database
    if (await may_sell_to(handle, zava.collections.till_lookups, [(scope, doc)]))[0]:
        return doc
    raise NotFound(hints.NO_CUSTOMER_TO_SERVE(customer_id=cid, scope=scope.label))


def order_view(order: dict, lines: list[dict]) -> OrderView:
    return OrderView(
        order_id=order["order_id"], order_date=order["order_date"], store_id=order["store_id"],
        store_name=order["store_name"], customer_id=order["customer_id"], customer_name=order["customer_name"],
        status=order["status"], item_count=order["item_count"], subtotal=order["subtotal"],
        discount_total=order["discount_total"], total=order["total"],
        lines=[OrderLineView(sku=ln["sku"], product_name=ln["product_name"], quantity=ln["quantity"],
                             unit_price=ln["unit_price"], discount_percent=ln["discount_percent"],
                             total_amount=ln["total_amount"]) for ln in lines],
        returned_quantities=dict(order.get("returned_quantities") or {}), cancel_reason=order.get("cancel_reason"),
    )


async def orders_with_lines(zava: Zava, orders: list[dict]) -> list[OrderView]:
    items = zava.collections.order_items
    order_ids = [o["order_id"] for o in orders]
    lines: dict[str, list[dict]] = {}
    async for line in items.find(items.unscoped(order_id={"$in": order_ids})).sort("sku", 1):
        lines.setdefault(line["order_id"], []).append(line)
    return [order_view(o, lines.get(o["order_id"], [])) for o in orders]


async def get_customer_orders(zava: Zava, scope: Scope, customer_id: str, max_rows: int = 10) -> CustomerOrders:
    limit, note = cap_rows(max_rows)
    book = zava.models.use("orders")  # its load starts with the first call, answered or not; until then: the database
    customer = await visible_customer(zava, scope, customer_id)
    if book.usable(customer["_id"]):
        stores = None if scope.head_office else set(scope.store_ids)
        held = book.customer_orders(customer["_id"], stores, limit + 1)
        orders = [header for header, _ in held]
        views = [order_view(header, lines) for header, lines in held[:limit]]
    else:
        handle = zava.collections.orders
        orders = await handle.find(handle.live(scope, customer_id=customer["_id"])).sort("order_date", -1) \
            .limit(limit + 1).to_list()
        views = await orders_with_lines(zava, orders[:limit])
    scope_note = None if scope.head_office else f"only orders placed at your store(s) ({scope.label})"
    return CustomerOrders(customer=customer_summary(customer, scope), orders=views,
                          meta=list_meta(len(views), truncated=len(orders) > limit, notes=[note, scope_note]))
