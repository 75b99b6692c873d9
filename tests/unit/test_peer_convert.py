"""Our documents as rows of the PostgreSQL original's tables (bench/peer/convert.py): pure, no server."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache

import pytest

from bench.peer import convert
from seeding.catalog_loader import load_catalog
from seeding.generate import Generator


@cache
def generator() -> Generator:
    return Generator(load_catalog(), scale="small", seed=7, as_of=date(2026, 11, 1))


def test_money_is_the_exact_decimal_of_the_cents() -> None:
    assert convert.money(0.1 + 0.2) == Decimal("0.30")  # 0.30000000000000004 as a float
    assert convert.money(19.99) == Decimal("19.99")
    assert convert.money(1234.5).as_tuple().exponent == -2


@pytest.mark.parametrize(("value", "prefix", "expected"), [
    ("cust_000123", "cust", 123), ("cust_1234567", "cust", 1_234_567), ("ord_00000012", "ord", 12),
])
def test_numbered_ids_keep_their_number(value: str, prefix: str, expected: int) -> None:
    assert convert.numbered_id(value, prefix) == expected


@pytest.mark.parametrize(("value", "prefix"), [("store_seattle", "cust"), ("cust_12", "cust"),
                                               ("ord_000001", "ord"), ("cust_000001", "ord")])
def test_other_ids_are_refused(value: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="is not a"):
        convert.numbered_id(value, prefix)


def test_order_key_is_the_inverse_of_the_order_number() -> None:
    for order_id in ("ord_00000001", "ord_00098765"):
        assert convert.order_key(convert.numbered_id(order_id, "ord")) == order_id


def test_an_order_keeps_its_utc_day() -> None:
    assert convert.order_day("2025-03-01T23:59:59Z") == date(2025, 3, 1)


def test_store_managers_get_the_originals_ids_and_unknown_stores_a_stable_one() -> None:
    assert str(convert.rls_user_id("Zava Retail Seattle")) == "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    other = convert.rls_user_id("Zava Retail Olympia")
    assert other == convert.rls_user_id("Zava Retail Olympia")
    assert other not in {convert.rls_user_id(n) for n in convert.ORIGINAL_RLS_USER_IDS}


def test_reference_rows_number_in_order_and_keep_their_links() -> None:
    g = generator()
    products, categories, types = g.product_documents(), g.category_documents(), g.product_type_documents()
    _, rows = convert.reference_rows(g.store_documents(), categories, types, products)
    assert [r[0] for r in rows["stores"]] == list(range(1, len(g.store_documents()) + 1))
    assert rows["stores"][0][1] == "Zava Retail Seattle"  # the original's order: Seattle is store 1
    assert all(len(r) == len(convert.COLUMNS[t]) for t, table in rows.items() for r in table)
    # Each product row still names its own category and type, checked through the names.
    category_name = {r[0]: r[1] for r in rows["categories"]}
    type_name = {r[0]: r[2] for r in rows["product_types"]}
    for doc, row in zip(products, rows["products"], strict=True):
        assert (row[1], category_name[row[3]], type_name[row[4]]) == (doc["sku"], doc["category_name"],
                                                                    doc["type_name"])
        assert row[5] == Decimal(str(doc["cost"])) and row[6] == Decimal(str(doc["base_price"]))
    with pytest.raises(ValueError, match="duplicate"):
        convert.IdMap.numbering(["a", "b", "a"])


def test_order_lines_keep_every_cent_and_are_numbered_without_gaps() -> None:
    g = generator()
    ids, _ = convert.reference_rows(g.store_documents(), g.category_documents(), g.product_type_documents(),
                                    g.product_documents())
    _, headers, lines = next(g.order_chunks())
    rows = list(convert.order_item_rows(ids, lines, first_id=101))
    assert [r[0] for r in rows] == list(range(101, 101 + len(lines)))
    for *_, quantity, unit_price, _, discount, total in rows:
        assert unit_price * quantity - discount == total  # exact in DECIMAL: nothing lost in conversion
    order_total = {}
    for row in rows:
        order_total[row[1]] = order_total.get(row[1], Decimal(0)) + row[8]
    for header in headers:
        assert order_total[convert.numbered_id(header["order_id"], "ord")] == Decimal(f"{header['total']:.2f}")
    orders = convert.order_rows(ids, headers)
    assert all(isinstance(o[3], date) and not isinstance(o[3], datetime) for o in orders)
