"""The pure rules of the store operations: a line net of returns, the rollup change of a cancel or a return,
the order life cycle, the till's exact lookups and its scope rule. Expected values are worked out by hand
or by a second, plain-Python route."""

from __future__ import annotations

import pytest

from zava_core.analysis.rollups import (
    RollupAccumulator,
    change_increments,
    net_lines,
    order_increments,
    order_net_lines,
)
from zava_core.errors import InvalidTransition
from zava_core.model import Order, StockMovement, net_line, order_header, order_line, stock_movement
from zava_core.retail import customer_links, order_status
from zava_core.retail.customers import exact_filter
from zava_core.scope import Scope, StoreDirectory, StoreRef

NOW = "2026-12-03T10:00:00Z"
DRILL = {"product_id": "prod_PTDR000001", "sku": "PTDR000001", "product_name": "Drill", "category_id": "cat_power",
         "type_id": "ptype_drills", "cost": 40.2}
SAW = {"product_id": "prod_PTSW000002", "sku": "PTSW000002", "product_name": "Saw", "category_id": "cat_power",
       "type_id": "ptype_saws", "cost": 19.99}
TAPE = {"product_id": "prod_HTTP000003", "sku": "HTTP000003", "product_name": "Tape", "category_id": "cat_hand",
        "type_id": "ptype_tape", "cost": 3.1}


def line(product: dict, quantity: int, price: float, discount: int = 0, order_id: str = "ord_00000001") -> dict:
    return order_line(line_id=f"{order_id}-{product['sku']}", order_id=order_id, store_id="store_seattle",
                      customer_id="cust_000001", order_date=NOW, product=product, quantity=quantity,
                      unit_price=price, discount_percent=discount)


def test_a_line_net_of_returns_reprices_the_units_kept() -> None:
    sold = line(DRILL, 3, 59.99, discount=15)
    assert net_line(sold, 0) == sold
    kept = net_line(sold, 1)
    # 2 x 59.99 = 119.98; 15 % of it = 17.997 -> 18.00; 119.98 - 18.00 = 101.98
    assert (kept["quantity"], kept["discount_amount"], kept["total_amount"]) == (2, 18.0, 101.98)
    assert kept["unit_price"] == 59.99 and kept["order_item_id"] == sold["order_item_id"]
    assert net_line(sold, 3) is None
    # A projection without the money fields keeps only the units.
    assert net_line({"order_id": "o", "sku": "X", "quantity": 4}, 1) == {"order_id": "o", "sku": "X", "quantity": 3}


def test_a_cancel_takes_away_exactly_what_the_sale_added() -> None:
    lines = [line(DRILL, 2, 59.99), line(TAPE, 1, 4.5)]
    sale = order_increments(lines)
    cancel = change_increments(lines, [])
    assert cancel.keys() == sale.keys()
    for cell, inc in sale.items():
        assert cancel[cell] == {path: -value for path, value in inc.items()}


def test_a_return_of_a_whole_line_drops_that_line_and_only_that_orders_count() -> None:
    lines = [line(DRILL, 2, 59.99), line(SAW, 1, 29.99), line(TAPE, 1, 4.5)]
    order = {"status": "completed", "returned_quantities": {"PTDR000001": 2}}
    (change,) = change_increments(lines, order_net_lines(order, lines)).values()
    assert change["totals.units"] == -2 and change["totals.lines"] == -1
    assert change["totals.revenue"] == pytest.approx(-119.98)
    assert change["totals.orders"] == 0, "the order still has lines"
    assert change["categories.cat_power.orders"] == 0, "the saw keeps the category in the order"
    assert change["products.prod_PTDR000001.orders"] == -1
    assert change["products.prod_PTSW000002.units"] == 0
    # Everything back: the order leaves the rollup altogether.
    everything = {"status": "completed", "returned_quantities": {"PTDR000001": 2, "PTSW000002": 1, "HTTP000003": 1}}
    assert order_net_lines(everything, lines) == []
    (gone,) = change_increments(lines, order_net_lines(everything, lines)).values()
    assert gone["totals.orders"] == -1 and gone["categories.cat_hand.orders"] == -1


def test_the_rollup_after_changes_equals_the_rollup_of_the_net_orders() -> None:
    """Applying sale, return and cancel increments lands where summing the net orders afresh lands."""
    first = [line(DRILL, 3, 59.99, 10, "ord_00000001"), line(TAPE, 2, 4.5, 0, "ord_00000001")]
    second = [line(SAW, 4, 29.99, 5, "ord_00000002")]
    returned = {"status": "completed", "returned_quantities": {"PTDR000001": 1}}
    cancelled = {"status": "cancelled"}
    applied = RollupAccumulator()
    for lines in (first, second):
        applied.add_order(lines)
    for before, after in ((first, order_net_lines(returned, first)), (second, order_net_lines(cancelled, second))):
        for cell, inc in change_increments(before, after).items():
            target = applied.cells.setdefault(cell, {})
            for path, value in inc.items():
                target[path] = target.get(path, 0) + value
    fresh = RollupAccumulator()
    fresh.add_order(net_lines([*first, *second], {"ord_00000001": returned, "ord_00000002": cancelled}))
    (cell,) = fresh.cells
    for path in set(applied.cells[cell]) | set(fresh.cells[cell]):
        assert applied.cells[cell].get(path, 0) == pytest.approx(fresh.cells[cell].get(path, 0), abs=1e-9), path


def test_order_life_cycle() -> None:
    assert order_status.next_statuses("processing") == ("shipped",)
    assert order_status.next_statuses("shipped") == ("delivered",)
    assert order_status.next_statuses("delivered") == () == order_status.next_statuses("completed")
    order_status.require_cancellable("ord_00000001", "completed")
    order_status.require_returnable("ord_00000001", "delivered")
    with pytest.raises(InvalidTransition, match="already cancelled"):
        order_status.require_cancellable("ord_00000001", "cancelled")
    with pytest.raises(InvalidTransition, match="mark it delivered"):
        order_status.require_cancellable("ord_00000001", "shipped")
    with pytest.raises(InvalidTransition, match="cancel it with `cancel_order`"):
        order_status.require_returnable("ord_00000001", "processing")


def test_the_new_fields_validate_against_the_model() -> None:
    lines = [line(DRILL, 2, 59.99)]
    header = order_header(order_id="ord_00000001", customer_id="cust_000001", customer_name="Ada L",
                          store_id="store_seattle", store_name="Zava Retail Seattle", order_date=NOW,
                          status="cancelled", lines=lines, returned_quantities={"PTDR000001": 1},
                          cancelled_at=NOW, cancel_reason="duplicate")
    Order.model_validate(header, strict=True, by_alias=True)
    with pytest.raises(ValueError):
        Order.model_validate({**header, "returned_quantities": {"PTDR000001": 0}}, by_alias=True)
    movement = stock_movement(movement_id="m-1", kind="transfer", store_id="store_seattle",
                              to_store_id="store_tacoma", lines={"PTDR000001": 3}, idempotency_key="k-12345678",
                              created_at=NOW)
    assert "order_id" not in movement and "reason" not in movement
    StockMovement.model_validate(movement, strict=True, by_alias=True)


@pytest.mark.parametrize(("query", "expected"), [
    # Never by id: ids are sequential, so a walk over them would find every other store's customer.
    ("cust_000123", None), (" CUST_000123 ", None),
    ("Ada.Lovelace@Example.com", {"email": "ada.lovelace@example.com"}),
    ("2535551234", {"phone": "(253) 555-1234"}),
    ("+1 253 555 1234", {"phone": "(253) 555-1234"}),
    ("(253) 555-1234", {"phone": "(253) 555-1234"}),
    ("ada.lovelace@", None), ("@example.com", None), ("555-1234", None), ("ada lovelace", None), ("cust_", None),
])
def test_the_till_names_a_customer_only_exactly(query: str, expected: dict | None) -> None:
    assert exact_filter(query) == expected


def test_the_till_rule_widens_only_lookups_by_what_a_customer_hands_over() -> None:
    directory = StoreDirectory([StoreRef("store_seattle", "Zava Retail Seattle", "Seattle", False),
                                StoreRef("store_tacoma", "Zava Retail Tacoma", "Tacoma", False)])
    manager = Scope.for_store_manager(directory.get("store_seattle"))
    stranger = {"primary_store_id": "store_tacoma", "stores_shopped": {"store_tacoma": NOW}}
    regular = {"primary_store_id": "store_tacoma", "stores_shopped": {"store_seattle": NOW}}
    assert not manager.can_see_customer(stranger) and not manager.shows_contact(stranger)
    assert not manager.can_serve_customer(stranger, None) and not manager.can_serve_customer(stranger, "_id")
    assert manager.can_serve_customer(stranger, "email") and manager.can_serve_customer(stranger, "phone")
    assert manager.can_serve_customer(regular, None) and manager.shows_contact(regular)
    # The audit's caller names who asked; it never changes what the scope sees.
    assert manager.with_caller("user-7").caller == "user-7" and manager.caller == "store_seattle"
    assert manager.with_caller("user-7") == manager


def test_an_order_stands_until_cancelled_or_returned_whole() -> None:
    lines = [line(DRILL, 2, 59.99), line(TAPE, 1, 4.5)]
    assert customer_links.stands({"status": "completed"}, lines)
    assert customer_links.stands({"status": "delivered", "returned_quantities": {"PTDR000001": 2}}, lines)
    assert not customer_links.stands({"status": "completed",
                                      "returned_quantities": {"PTDR000001": 2, "HTTP000003": 1}}, lines)
    assert not customer_links.stands({"status": "cancelled"}, lines)
    assert not customer_links.stands({"status": "returned"}, lines)  # the seeded history's whole returns
