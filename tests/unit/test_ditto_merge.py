"""The connector simulation's merge (tests/ditto_connector.py) on plain dicts: Ditto's CRDT rules, as the change-feed
tests rely on them. Expected documents are written out by hand from the rules, not from the code."""

from __future__ import annotations

import pytest
from ditto_connector import is_counter, load_statement, merge

BASE_ROW = {"_id": "inv-1", "store_id": "store_seattle", "sku": "PTDR000001", "stock_level": 10,
            "location": {"aisle": "A1", "shelf": "S1", "bin": "B1"}, "updated_at": "2026-12-07T10:00:00Z"}


def test_a_counter_is_the_base_plus_each_devices_increment() -> None:
    a = {**BASE_ROW, "stock_level": 8, "updated_at": "2026-12-07T10:01:00Z"}  # sold 2
    b = {**BASE_ROW, "stock_level": 7, "updated_at": "2026-12-07T10:02:00Z"}  # sold 3
    assert merge("inventory", BASE_ROW, [(1, a), (2, b)])["stock_level"] == 5
    # The last unit sold on two devices: below zero, as Ditto converges it.
    one = {**BASE_ROW, "stock_level": 1}
    assert merge("inventory", one, [(1, {**one, "stock_level": 0}), (2, {**one, "stock_level": 0})])[
        "stock_level"] == -1


def test_a_counter_absent_from_the_base_starts_at_zero() -> None:
    order = {"_id": "ord_1", "status": "completed", "updated_at": "t0"}
    cancelled = {**order, "status": "cancelled", "cancel_count": 1}
    merged = merge("orders", order, [(3, {**cancelled, "cancelled_at": "t1"}),
                                     (4, {**cancelled, "cancelled_at": "t2"})])
    assert merged["cancel_count"] == 2
    assert (merged["status"], merged["cancelled_at"]) == ("cancelled", "t2")


def test_a_map_of_counters_merges_key_by_key_and_adds_per_key() -> None:
    order = {"_id": "ord_1", "returned_quantities": {"PTDR000001": 1}}
    a = {"_id": "ord_1", "returned_quantities": {"PTDR000001": 3}}  # +2 of the line already returned against
    b = {"_id": "ord_1", "returned_quantities": {"PTDR000001": 2, "HTHM000002": 4}}  # +1, and a new key
    assert merge("orders", order, [(1, a), (2, b)])["returned_quantities"] == {"PTDR000001": 4, "HTHM000002": 4}


def test_registers_take_the_last_writer_and_untouched_fields_keep_the_base() -> None:
    a = {**BASE_ROW, "updated_at": "from-a", "location": {**BASE_ROW["location"], "bin": "B7"}}
    b = {**BASE_ROW, "updated_at": "from-b", "location": {**BASE_ROW["location"], "shelf": "S9"}}
    merged = merge("inventory", BASE_ROW, [(5, b), (4, a)])  # b wrote last, whatever the list order
    assert merged["updated_at"] == "from-b"
    # A map (not strict mode) merges per key: both devices' moves survive.
    assert merged["location"] == {"aisle": "A1", "shelf": "S9", "bin": "B7"}
    assert merged["sku"] == "PTDR000001"


def test_a_field_removed_on_the_last_writer_is_gone_and_new_documents_are_taken_whole() -> None:
    base = {"_id": "c1", "note": "old", "stores_shopped": {"store_seattle": "t0"}}
    removed = {"_id": "c1", "stores_shopped": {"store_seattle": "t0"}}
    assert "note" not in merge("customers", base, [(1, {**base, "note": "new"}), (2, removed)])
    assert merge("customers", base, [(2, {**base, "note": "new"}), (1, removed)])["note"] == "new"
    line = {"_id": "line-1", "order_id": "ord_1", "quantity": 2, "total_amount": 19.98}
    assert merge("order_items", None, [(1, line)]) == line


def test_only_the_declared_fields_are_counters() -> None:
    assert is_counter("inventory", ("stock_level",))
    assert is_counter("orders", ("returned_quantities", "PTDR000001"))
    assert is_counter("orders", ("cancel_count",))
    assert not is_counter("orders", ("returned_quantities",))
    assert not is_counter("order_items", ("quantity",))
    assert not is_counter("orders", ("total",))
    # A plain number field is a register: two devices setting it keep the later one, not the sum.
    order = {"_id": "ord_1", "total": 10.0}
    assert merge("orders", order, [(1, {**order, "total": 12.0}), (2, {**order, "total": 11.0})])["total"] == 11.0


def test_devices_load_counters_as_counters() -> None:
    assert load_statement("inventory", BASE_ROW) == (
        "INSERT INTO COLLECTION inventory (stock_level COUNTER) DOCUMENTS (:doc) ON ID CONFLICT DO UPDATE")
    statement = load_statement("orders", {"_id": "o", "returned_quantities": {"PTDR000001": 1, "HTHM000002": 2}})
    assert "returned_quantities MAP(HTHM000002 COUNTER, PTDR000001 COUNTER)" in statement
    assert "cancel_count COUNTER" in statement
    assert load_statement("stores", {"_id": "s"}) == "INSERT INTO stores DOCUMENTS (:doc) ON ID CONFLICT DO UPDATE"
    with pytest.raises(ValueError, match="not a SKU"):
        load_statement("orders", {"_id": "o", "returned_quantities": {"x COUNTER) SET deleted = true": 1}})
