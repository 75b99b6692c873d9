"""RollupAccumulator / order_increments against an independent plain-Python computation."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from zava_core.analysis.rollups import MEASURES, RollupAccumulator, order_increments, rounded
from zava_core.model import sales_cell_key as cell_id

SEED = 990_017
AS_OF = date(2026, 11, 1)
UPDATED_AT = "2026-11-01T00:00:00Z"


def independent_rollup(lines: list[dict]) -> dict[str, dict]:
    """Per store-month: totals, per category and per product, summed straight from the lines.

    `orders` is a count of distinct order ids (per cell, per category, per product), so it does not
    rely on how the lines are grouped when fed to the accumulator.
    """
    sums: dict = defaultdict(lambda: defaultdict(float))
    orders: dict = defaultdict(set)
    for line in lines:
        key = f"{line['store_id']}|{line['order_date'][:7]}"
        values = {
            "revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
            "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
            "units": line["quantity"], "lines": 1,
        }
        for scope in (("totals",), ("categories", line["category_id"]), ("products", line["product_id"])):
            for measure, value in values.items():
                sums[key][(*scope, measure)] += value
            orders[(key, *scope)].add(line["order_id"])
    result: dict[str, dict] = {}
    for key, cell in sums.items():
        doc: dict = {"totals": {}, "categories": defaultdict(dict), "products": defaultdict(dict)}
        for path, value in cell.items():
            target = doc["totals"] if path[0] == "totals" else doc[path[0]][path[1]]
            target[path[-1]] = value
        doc["totals"]["orders"] = len(orders[(key, "totals")])
        for scope in ("categories", "products"):
            for item_id, measures in doc[scope].items():
                measures["orders"] = len(orders[(key, scope, item_id)])
        result[key] = {"totals": doc["totals"], "categories": dict(doc["categories"]),
                       "products": dict(doc["products"])}
    return result


def assert_measures_equal(actual: dict, expected: dict, where: str) -> None:
    assert set(actual) == set(MEASURES), where
    for measure in MEASURES:
        if measure in ("units", "lines", "orders"):
            assert actual[measure] == expected[measure], (where, measure)
            assert isinstance(actual[measure], int), (where, measure)
        else:
            assert round(actual[measure] * 100) == round(expected[measure] * 100), (where, measure)


@pytest.fixture(scope="module")
def generated() -> tuple[list[dict], list[dict]]:
    generator = Generator(load_catalog(), scale="small", seed=SEED, as_of=AS_OF)
    orders: list[dict] = []
    lines: list[dict] = []
    for _, chunk_orders, chunk_lines in generator.order_chunks():
        orders += chunk_orders
        lines += chunk_lines
    return orders, lines


@pytest.fixture(scope="module")
def accumulated(generated) -> list[dict]:
    orders, lines = generated
    by_order: dict[str, list[dict]] = defaultdict(list)
    for line in lines:
        by_order[line["order_id"]].append(line)
    accumulator = RollupAccumulator()
    for order in orders:
        accumulator.add_order(by_order[order["order_id"]])
    return accumulator.documents(UPDATED_AT)


def test_documents_have_one_cell_per_store_month(generated, accumulated) -> None:
    orders, _ = generated
    expected_cells = {cell_id(o["store_id"], o["order_date"][:7]) for o in orders}
    assert [d["_id"] for d in accumulated] == sorted(expected_cells)
    for doc in accumulated:
        store_id, month = doc["_id"].split("|")
        assert (doc["store_id"], doc["month"], doc["year"]) == (store_id, month, int(month[:4]))
        assert doc["updated_at"] == UPDATED_AT


def test_accumulator_equals_an_independent_computation(generated, accumulated) -> None:
    _, lines = generated
    expected = independent_rollup(lines)
    assert {d["_id"] for d in accumulated} == set(expected)
    for doc in accumulated:
        want = expected[doc["_id"]]
        assert_measures_equal(doc["totals"], want["totals"], f"{doc['_id']} totals")
        assert set(doc["categories"]) == set(want["categories"]), doc["_id"]
        for category, measures in doc["categories"].items():
            assert_measures_equal(measures, want["categories"][category], f"{doc['_id']} {category}")
        assert set(doc["products"]) == set(want["products"]), doc["_id"]
        for product, measures in doc["products"].items():
            assert_measures_equal(measures, want["products"][product], f"{doc['_id']} {product}")


def test_totals_agree_with_the_order_headers(generated, accumulated) -> None:
    orders, _ = generated
    per_cell: dict = defaultdict(lambda: [0, 0, 0])
    for order in orders:
        cell = per_cell[cell_id(order["store_id"], order["order_date"][:7])]
        cell[0] += 1
        cell[1] += round(order["total"] * 100)
        cell[2] += order["item_count"]
    for doc in accumulated:
        count, revenue_cents, lines = per_cell[doc["_id"]]
        assert doc["totals"]["orders"] == count
        assert round(doc["totals"]["revenue"] * 100) == revenue_cents
        assert doc["totals"]["lines"] == lines
    assert sum(d["totals"]["orders"] for d in accumulated) == len(orders)


def test_category_orders_count_an_order_once_per_category(generated, accumulated) -> None:
    for doc in accumulated:
        per_category = sum(m["orders"] for m in doc["categories"].values())
        # Every order has at least one category; an order spread over k categories counts k times.
        assert doc["totals"]["orders"] <= per_category <= doc["totals"]["lines"]


def _line(order_id: str, product: str, category: str, quantity: int, unit_price: float, unit_cost: float,
          percent: int) -> dict:
    gross = round(unit_price * quantity, 2)
    discount = round(gross * percent / 100, 2)
    return {
        "order_id": order_id, "store_id": "store_tacoma", "order_date": "2025-04-17T10:30:00Z",
        "category_id": category, "product_id": product, "quantity": quantity, "unit_price": unit_price,
        "unit_cost": unit_cost, "discount_amount": discount, "total_amount": round(gross - discount, 2),
    }


def test_order_increments_for_one_three_line_order() -> None:
    lines = [
        _line("ord_1", "prod_PTDR000001", "cat_power_tools", 2, 99.99, 67.0, 10),
        _line("ord_1", "prod_PTJS000002", "cat_power_tools", 1, 79.5, 53.25, 0),
        _line("ord_1", "prod_HWSC000003", "cat_hardware", 5, 4.1, 2.75, 0),
    ]
    increments = order_increments(lines)
    assert list(increments) == ["store_tacoma|2025-04"]
    inc = rounded(increments["store_tacoma|2025-04"])
    assert inc["totals.orders"] == 1
    assert inc["categories.cat_power_tools.orders"] == 1
    assert inc["categories.cat_hardware.orders"] == 1
    assert inc["totals.lines"] == 3
    assert inc["categories.cat_power_tools.lines"] == 2
    assert inc["totals.units"] == 8
    assert inc["categories.cat_power_tools.units"] == 3
    assert inc["totals.revenue"] == round(sum(line["total_amount"] for line in lines), 2)
    assert inc["categories.cat_power_tools.revenue"] == round(lines[0]["total_amount"] + lines[1]["total_amount"], 2)
    assert inc["totals.discount"] == lines[0]["discount_amount"]
    assert inc["totals.cost"] == round(2 * 67.0 + 53.25 + 5 * 2.75, 2)
    assert inc["totals.gross"] == round(2 * 99.99 + 79.5 + 5 * 4.1, 2)
    for line in lines:
        assert inc[f"products.{line['product_id']}.orders"] == 1
        assert inc[f"products.{line['product_id']}.lines"] == 1
        assert inc[f"products.{line['product_id']}.units"] == line["quantity"]
    # Nothing but totals, the two categories and the three products.
    scopes = {path.rsplit(".", 1)[0] for path in inc}
    assert scopes == {"totals", "categories.cat_power_tools", "categories.cat_hardware",
                      *(f"products.{line['product_id']}" for line in lines)}


def test_accumulating_two_orders_adds_them() -> None:
    first = [_line("ord_1", "prod_A", "cat_x", 1, 10.0, 6.0, 0), _line("ord_1", "prod_B", "cat_x", 2, 5.0, 3.0, 0)]
    second = [_line("ord_2", "prod_A", "cat_x", 3, 10.0, 6.0, 20)]
    accumulator = RollupAccumulator()
    accumulator.add_order(first)
    accumulator.add_order(second)
    [doc] = accumulator.documents(UPDATED_AT)
    assert doc["totals"]["orders"] == 2
    assert doc["categories"]["cat_x"]["orders"] == 2
    assert doc["products"]["prod_A"]["orders"] == 2
    assert doc["products"]["prod_B"]["orders"] == 1
    assert doc["products"]["prod_A"]["units"] == 4
    assert doc["totals"]["revenue"] == round(10.0 + 10.0 + 30.0 * 0.8, 2)
    assert doc["totals"]["discount"] == 6.0
