"""The pure parts of multi-dimension sales analysis: windows and comparisons, label shifts, metrics, the rule
for exact orders, the cube reduction against a brute-force sum, and the cube's disk snapshot."""

from __future__ import annotations

import itertools
import os
import random
from collections import defaultdict

import numpy as np
import pytest

from zava_core.analysis import cube_snapshot
from zava_core.analysis.cube import M, SalesCube
from zava_core.analysis.grouping import (
    DIMENSIONS,
    Filters,
    item_level,
    orders_exact,
    reduce,
    validate_dimensions,
)
from zava_core.analysis.metrics import change_percent, metric_value, validate_metrics
from zava_core.analysis.rollups import RollupAccumulator
from zava_core.analysis.summary import _check_time_shift, _shifted
from zava_core.analysis.window import compare_window, make_window
from zava_core.directory import ReferenceSnapshot
from zava_core.errors import InvalidArgument
from zava_core.scope import StoreDirectory, StoreRef

# --- windows and comparisons ------------------------------------------------------------------------------


def test_a_quarter_compares_with_the_same_quarter_a_year_before_and_with_the_quarter_before() -> None:
    q3 = make_window("2025-07-01", "2025-09-30", "2020-01")
    assert (q3.full_first, q3.full_last, q3.edges, q3.whole_months) == ("2025-07", "2025-09", (), 3)
    year, shift = compare_window(q3, "previous_year")
    assert (year.label, year.full_first, year.full_last, shift) == ("2024-07-01..2024-09-30", "2024-07", "2024-09", 12)
    period, shift = compare_window(q3, "previous_period")
    assert (period.label, shift) == ("2025-04-01..2025-06-30", 3)  # Q2 (91 days), not the 92 days before


def test_a_window_of_days_compares_with_as_many_days_before() -> None:
    days = make_window("2025-03-15", "2025-06-10", "2020-01")
    assert days.whole_months is None and len(days.edges) == 2
    before, shift = compare_window(days, "previous_period")
    assert (before.label, shift) == ("2024-12-17..2025-03-14", None)
    leap, _ = compare_window(make_window("2024-02-29", "2024-02-29", "2020-01"), "previous_year")
    assert leap.label == "2023-02-28..2023-02-28"
    with pytest.raises(InvalidArgument, match="compare_to must be one of"):
        compare_window(days, "yesterday")


def test_time_labels_move_back_by_the_comparison_shift() -> None:
    dims = ("store", "month", "quarter", "year")
    assert _shifted(("Seattle", "2025-02", "2025-Q1", "2025"), dims, 12) == ("Seattle", "2024-02", "2024-Q1", "2024")
    assert _shifted(("2025-02", "2025-Q1"), ("month", "quarter"), 3) == ("2024-11", "2024-Q4")
    assert _shifted(("2025-07",), ("month",), None) == ("2025-07",)
    _check_time_shift(("quarter",), 3, "previous_period")
    with pytest.raises(InvalidArgument, match="whole quarters"):
        _check_time_shift(("quarter",), 1, "previous_period")
    with pytest.raises(InvalidArgument, match="whole months"):
        _check_time_shift(("month",), None, "previous_period")


# --- metrics and arguments --------------------------------------------------------------------------------


def vector(**figures: float) -> np.ndarray:
    out = np.zeros(len(M))
    for name, value in figures.items():
        out[M[name]] = value
    return out


def test_metrics_from_a_measure_vector() -> None:
    v = vector(revenue=1000.0, cost=600.0, units=40, orders=8, discount=25.5, lines=12)
    expected = {"revenue": 1000.0, "units": 40, "orders": 8, "average_order_value": 125.0, "gross_margin": 400.0,
                "gross_margin_percent": 40.0, "discount_total": 25.5}
    assert {m: metric_value(v, m) for m in expected} == expected
    assert isinstance(metric_value(v, "units"), int)
    assert metric_value(vector(), "average_order_value") == 0.0 and metric_value(vector(), "gross_margin_percent") == 0
    assert change_percent(110.0, 100.0) == 10.0 and change_percent(5.0, 0) is None
    assert change_percent(-50.0, -100.0) == 50.0  # a loss halved is an improvement


def test_arguments_are_checked_with_the_valid_choices() -> None:
    assert validate_dimensions("store", 3) == ("store",)
    assert validate_dimensions(["store", "month"], 3) == ("store", "month")
    for bad in (["weekday"], [], ["store", "store"], ["store", "month", "year", "category"]):
        with pytest.raises(InvalidArgument, match="group_by"):
            validate_dimensions(bad, 3)
    assert validate_metrics(None, 7) == ("revenue",) and validate_metrics("units", 7) == ("units",)
    with pytest.raises(InvalidArgument, match="metrics must be among"):
        validate_metrics(["profit"], 7)


# --- the reduction against a brute-force sum ----------------------------------------------------------------


STORES = ["store_a", "store_b"]
CATEGORIES = {"cat_x": "X TOOLS", "cat_y": "Y PAINT"}
PRODUCTS = {  # product id -> (category, type id, type name)
    "prod_1": ("cat_x", "ptype_drills", "DRILLS"), "prod_2": ("cat_x", "ptype_drills", "DRILLS"),
    "prod_3": ("cat_x", "ptype_saws", "SAWS"), "prod_4": ("cat_y", "ptype_brushes", "BRUSHES"),
}


def reference() -> ReferenceSnapshot:
    stores = StoreDirectory([StoreRef(s, f"Zava {s[6:].upper()}", s[6:].upper(), False) for s in STORES])
    products = {pid: {"product_id": pid, "sku": pid.upper(), "product_name": f"Product {pid[-1]}", "category_id": c,
                      "type_id": t, "type_name": n} for pid, (c, t, n) in PRODUCTS.items()}
    types = {t: {"type_name": n, "category_id": c} for c, t, n in PRODUCTS.values()}
    return ReferenceSnapshot(stores=stores, categories={c: {"category_name": n} for c, n in CATEGORIES.items()},
                             types=types, products=products, by_sku={p["sku"]: p for p in products.values()},
                             search_text={})


def synthetic_lines(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    lines = []
    for n in range(400):
        store, month = rng.choice(STORES), f"2025-{rng.randint(1, 6):02d}"
        for product in rng.sample(sorted(PRODUCTS), rng.randint(1, 3)):
            quantity, price = rng.randint(1, 4), rng.randint(100, 9000) / 100
            lines.append({"order_id": f"ord_{n}", "store_id": store, "order_date": f"{month}-10T10:00:00Z",
                          "product_id": product, "category_id": PRODUCTS[product][0], "quantity": quantity,
                          "unit_price": price, "unit_cost": round(price * 0.6, 2), "discount_amount": 0.0,
                          "total_amount": round(price * quantity, 2)})
    return lines


def cube_of(lines: list[dict], ref: ReferenceSnapshot) -> SalesCube:
    accumulator = RollupAccumulator()
    by_order: dict[str, list[dict]] = defaultdict(list)
    for line in lines:
        by_order[line["order_id"]].append(line)
    for order in by_order.values():
        accumulator.add_order(order)
    cube = SalesCube(ref.stores.ids, sorted(ref.categories), sorted(ref.products))
    cube.put(accumulator.documents(updated_at="2025-07-01T00:00:00Z"))
    return cube


def filters(ref: ReferenceSnapshot, categories=None, types=None, skus=None) -> Filters:
    products = frozenset(pid for pid, p in ref.products.items()
                         if (categories is None or p["category_id"] in categories)
                         and (types is None or p["type_id"] in types) and (skus is None or p["sku"] in skus))
    return Filters(list(STORES), categories, types, skus, products)


def label(line: dict, dim: str, ref: ReferenceSnapshot) -> str:
    p = ref.products[line["product_id"]]
    month = line["order_date"][:7]
    return {"store": ref.stores.get(line["store_id"]).store_name, "category": CATEGORIES[line["category_id"]],
            "product_type": p["type_name"], "product": f"{p['sku']} {p['product_name']}", "year": month[:4],
            "quarter": f"{month[:4]}-Q{(int(month[5:]) + 2) // 3}", "month": month}[dim]


@pytest.mark.parametrize("dims", [*itertools.combinations(DIMENSIONS, 2), ("store", "category", "month")],
                         ids="+".join)
@pytest.mark.parametrize("item_filter", [{}, {"categories": ["cat_x"]}, {"types": ["ptype_drills", "ptype_brushes"]},
                                         {"skus": ["PROD_3"]}], ids=["all", "category", "types", "sku"])
def test_the_reduction_equals_a_sum_over_the_lines(dims, item_filter) -> None:
    ref = reference()
    lines = synthetic_lines()
    chosen = filters(ref, **item_filter)
    got = reduce(cube_of(lines, ref), dims, chosen, slice(0, 6), ref)
    expected: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
    orders: dict[tuple, set[str]] = defaultdict(set)
    for line in lines:
        if line["product_id"] in chosen.product_ids:
            key = tuple(label(line, d, ref) for d in dims)
            expected[key][0] += line["total_amount"]
            expected[key][1] += line["quantity"]
            expected[key][2] += line["unit_cost"] * line["quantity"]
            orders[key].add(line["order_id"])
    assert set(got) == set(expected)
    for key, (revenue, units, cost) in expected.items():
        assert got[key][M["revenue"]] == pytest.approx(revenue, abs=1e-6)
        assert got[key][M["units"]] == units and got[key][M["cost"]] == pytest.approx(cost, abs=1e-6)
        if orders_exact(dims, chosen):  # where the cube claims exact orders, they are distinct orders
            assert got[key][M["orders"]] == len(orders[key]), key


def test_which_array_answers_and_when_orders_are_exact() -> None:
    ref = reference()
    everything, one, two = filters(ref), filters(ref, categories=["cat_x"]), filters(ref, categories=["cat_x", "cat_y"])
    drills = filters(ref, types=["ptype_drills"])
    assert item_level(("store", "month"), everything) == "none" and orders_exact(("store", "month"), everything)
    assert item_level(("store",), one) == "category" and orders_exact(("store",), one)
    assert not orders_exact(("store",), two) and orders_exact(("category",), two)
    assert item_level(("store",), drills) == "product" and not orders_exact(("store",), drills)
    assert orders_exact(("product",), drills) and not orders_exact(("product_type",), everything)
    assert orders_exact(("store",), filters(ref, skus=["PROD_1"]))


# --- the snapshot ---------------------------------------------------------------------------------------------


def test_the_snapshot_round_trips_only_for_the_same_rollup(tmp_path) -> None:
    ref = reference()
    cube = cube_of(synthetic_lines(), ref)
    fingerprint = cube_snapshot.Fingerprint("zava", "ab12")
    path = cube_snapshot.save(tmp_path / "cache", fingerprint, cube.arrays(), {"months": cube.months})
    assert path is not None and os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "cache").st_mode & 0o777 == 0o700
    arrays, meta = cube_snapshot.load(tmp_path / "cache", fingerprint)
    assert meta["months"] == cube.months
    assert all(np.array_equal(arrays[name], array) for name, array in cube.arrays().items())
    assert cube_snapshot.load(tmp_path / "cache", cube_snapshot.Fingerprint("zava_other", "ab12")) is None
    rebuilt = cube_snapshot.Fingerprint("zava", "cd34")  # a rebuild: a new collection UUID
    assert cube_snapshot.load(tmp_path / "cache", rebuilt) is None
    cube_snapshot.save(tmp_path / "cache", rebuilt, cube.arrays(), {"months": cube.months})
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["cube-zava-cd34.npz"]  # the old one is gone
