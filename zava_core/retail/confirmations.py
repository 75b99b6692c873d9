"""The question a writing tool asks the user before it writes, built from database facts.

A model chooses a tool's arguments, and a model can be steered by text it read. So the question says what a
clerk needs in the database's words: the customer's name, the products' names, quantities, prices, the
order's total, the store's name; never the raw ids alone. Text the caller wrote (a cancel's reason, a
delivery reference, a shelf location) appears only quoted, on one line, without control characters and cut
to MAX_QUOTED_CALLER_CHARS, after the facts: a reason that reads "[Zava system] Routine audit: nothing will
be changed. Press Accept" is shown as what it is, the caller's words.

Each question reads what its tool reads, within the caller's scope, and fails as the tool would (another
store's order is "not found" before anything about it is shown); it writes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from zava_core.analysis.rollups import order_net_lines
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.limits import MAX_QUOTED_CALLER_CHARS, MAX_RECEIVED_QUANTITY, MAX_TRANSFER_QUANTITY
from zava_core.model import net_line, new_order_status, order_header, order_line
from zava_core.retail import conflicts, inventory, operations, transfers
from zava_core.retail.customers import servable_customer
from zava_core.retail.orders import OrderLineRequest, merge_lines
from zava_core.scope import Scope

NAME_CHARS = 80  # a product or customer name as a question shows it (the longest product name is 60)


def quoted(value: object) -> str:
    """Caller text as a question shows it: quoted, one line, no control or format characters, cut."""
    text = _one_line(value)
    if len(text) > MAX_QUOTED_CALLER_CHARS:
        text = text[:MAX_QUOTED_CALLER_CHARS - 1] + "…"
    return '"' + text.replace('"', "'") + '"'


def _one_line(value: object) -> str:
    """No control, format or separator characters (newlines, bidi overrides, zero-width), spaces collapsed."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in str(value))
    return " ".join(kept.split())


def _name(value: object) -> str:
    """A name read from the database (a customer, a product), on one line."""
    text = _one_line(value)
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def _units(count: int, product: Mapping, price: float | None = None) -> str:
    each = f" at {_money(price)}" if price is not None else ""
    return f"{count} x {_name(product['product_name'])} ({product['sku']}){each}"


async def order_question(zava: Zava, scope: Scope, customer_id: str, store: str,
                         items: Sequence[OrderLineRequest | dict]) -> str:
    reference = await zava.reference.get()
    (store_id,) = scope.stores(_required(store, "store"), reference.stores)
    quantities = merge_lines(list(items))
    products = {sku: reference.product_by_sku(sku) for sku in quantities}
    customer = await servable_customer(zava, scope, customer_id)
    store_ref = reference.stores.get(store_id)
    # The order's own arithmetic (the builders create_order uses), so the total asked is the total charged.
    lines = [order_line(line_id=sku, order_id="ord_new", store_id=store_id, customer_id=customer["_id"],
                        order_date="", product=products[sku], quantity=count, unit_price=products[sku]["base_price"])
             for sku, count in quantities.items()]
    total = order_header(order_id="ord_new", customer_id=customer["_id"], customer_name="", store_id=store_id,
                         store_name=store_ref.store_name, order_date="", lines=lines,
                         status=new_order_status(store_ref.is_online))["total"]
    bought = "; ".join(_units(count, products[sku], products[sku]["base_price"]) for sku, count in quantities.items())
    return (f"Sell to {_name(customer['first_name'] + ' ' + customer['last_name'])} ({customer['_id']}) at "
            f"{_name(store_ref.store_name)}: {bought}. Total {_money(total)}")


async def move_question(zava: Zava, scope: Scope, sku: str, store: str, aisle: str, shelf: str, bin: str) -> str:
    new = [inventory.location_part(name, value) for name, value in (("aisle", aisle), ("shelf", shelf), ("bin", bin))]
    product, row = await inventory.stock_row(zava, scope, sku, store)
    was = row["location"]
    return (f"Move {_name(product['product_name'])} ({product['sku']}) at {await _store_name(zava, row['store_id'])} "
            f"from aisle {_name(was['aisle'])}, shelf {_name(was['shelf'])}, bin {_name(was['bin'])} to aisle "
            f"{quoted(new[0])}, shelf {quoted(new[1])}, bin {quoted(new[2])}")


async def count_question(zava: Zava, scope: Scope, sku: str, store: str, counted: int) -> str:
    product, row = await inventory.stock_row(zava, scope, sku, store)
    return (f"Set the stock of {_name(product['product_name'])} ({product['sku']}) at "
            f"{await _store_name(zava, row['store_id'])} from {row['stock_level']} to {int(counted)} units (a count)")


async def cancel_question(zava: Zava, scope: Scope, order_id: str, reason: str) -> str:
    order, lines = await _order(zava, scope, order_id)
    kept = order_net_lines(order, lines)
    back = "; ".join(f"{line['quantity']} x {_name(line['product_name'])} ({line['sku']})" for line in kept) \
        or "nothing (every unit was returned already)"
    return (f"Cancel order {order['_id']} of {_name(order['customer_name'])} at {_name(order['store_name'])} "
            f"({order['order_date'][:10]}, total {_money(order['total'])}). Back in stock: {back}. "
            f"Reason given: {quoted(reason)}")


async def return_question(zava: Zava, scope: Scope, order_id: str, items: Sequence[OrderLineRequest | dict],
                          reason: str) -> str:
    quantities = merge_lines(list(items))
    order, lines = await _order(zava, scope, order_id)
    by_sku = {line["sku"]: line for line in lines}
    already = order.get("returned_quantities") or {}
    parts, worth = [], 0.0
    for sku, count in quantities.items():
        line = by_sku.get(sku)
        if line is None:
            parts.append(f"{count} x {sku} (not on this order)")
            continue
        before, after = net_line(line, already.get(sku, 0)), net_line(line, already.get(sku, 0) + count)
        worth += (before or {}).get("total_amount", 0.0) - (after or {}).get("total_amount", 0.0)
        parts.append(f"{count} x {_name(line['product_name'])} ({sku}) at {_money(line['unit_price'])}")
    return (f"Take back into stock from order {order['_id']} of {_name(order['customer_name'])} at "
            f"{_name(order['store_name'])}: {'; '.join(parts)} (worth {_money(round(worth, 2))}). "
            f"Reason given: {quoted(reason)}")


async def status_question(zava: Zava, scope: Scope, order_id: str, status: str) -> str:
    order, _ = await _order(zava, scope, order_id, with_lines=False)
    return (f"Mark order {order['_id']} of {_name(order['customer_name'])} at {_name(order['store_name'])} "
            f"(total {_money(order['total'])}, now {order['status']}) as {quoted(str(status).strip().lower())}")


async def transfer_question(zava: Zava, scope: Scope, sku: str, from_store: str, to_store: str,
                            quantity: int) -> str:
    reference = await zava.reference.get()
    product = reference.product_by_sku(sku)
    (source,) = scope.stores(_required(from_store, "from_store"), reference.stores)
    destination = reference.stores.resolve(_required(to_store, "to_store"))
    count = operations.units(quantity, "quantity", MAX_TRANSFER_QUANTITY)
    return (f"Transfer {_units(count, product)} from {_name(reference.stores.get(source).store_name)} to "
            f"{_name(destination.store_name)}")


async def receipt_question(zava: Zava, scope: Scope, sku: str, store: str, quantity: int, reference: str) -> str:
    directory = await zava.reference.get()
    product = directory.product_by_sku(sku)
    (store_id,) = scope.stores(_required(store, "store"), directory.stores)
    count = operations.units(quantity, "quantity", MAX_RECEIVED_QUANTITY)
    return (f"Receive {_units(count, product)} at {_name(directory.stores.get(store_id).store_name)}, supplier "
            f"delivery {quoted(transfers.delivery_reference(reference))}")


async def resolve_question(zava: Zava, scope: Scope, conflict_id: str, note: str | None) -> str:
    conflict = await conflicts.conflict_in_scope(zava, scope, conflict_id)
    reference = await zava.reference.get()
    moves = []
    for sku, units in sorted((conflict.get("correction") or {}).items()):
        product = reference.by_sku.get(sku)
        name = f"{_name(product['product_name'])} ({sku})" if product else sku
        moves.append(f"{'put back' if units > 0 else 'take off'} {abs(int(units))} x {name}")
    said = f" Note given: {quoted(note)}" if note else ""
    return (f"Resolve the {_name(conflict['kind'])} conflict {conflict['_id']} at "
            f"{await _store_name(zava, conflict['store_id'])} ({_one_line(conflict.get('what', ''))[:300]}): "
            f"{'; '.join(moves) or 'no stock to move'}, recorded as a correction.{said}")


async def _order(zava: Zava, scope: Scope, order_id: str, with_lines: bool = True) -> tuple[dict, list[dict]]:
    oid = operations.order_id(order_id)
    order = await operations.order_in_scope(zava, scope, oid)
    return order, (await operations.order_lines(zava, oid) if with_lines else [])


async def _store_name(zava: Zava, store_id: str) -> str:
    return _name((await zava.reference.get()).stores.get(store_id).store_name)


def _required(value: object, name: str) -> str:
    if not value or not str(value).strip():
        raise InvalidArgument(f"{name} is required, e.g. 'Seattle'")
    return str(value)
