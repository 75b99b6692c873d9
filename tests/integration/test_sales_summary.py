"""sales_summary with several dimensions and metrics, checked against plain Python over the raw documents.

The expected figures are summed here from every live order line read with the sync driver (no cube, no
rollup, no numpy): a different way from the one the tool takes. Every pair of dimensions is asked with every
metric at once, for head office over whole months (the cube alone) and for a store manager over a window
that starts and ends inside months (the cube plus order_items), and for the "done when" question of the
issue: revenue, units and margin % by store and category for Q3 2025 beside Q3 2024.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable

import pytest
from mcp import Client
from pymongo import MongoClient

from mcp_servers.sales_analysis.server import build_server
from zava_core.analysis import analytics
from zava_core.context import Zava
from zava_core.limits import HARD_CAP
from zava_core.scope import Identity, Scope

pytestmark = pytest.mark.integration

DIMENSIONS = ("store", "category", "product_type", "product", "year", "quarter", "month")
METRICS = ("revenue", "units", "orders", "average_order_value", "gross_margin", "gross_margin_percent",
           "discount_total")
MONEY = {"revenue", "gross_margin", "discount_total"}


async def scope_of(zava: Zava, store: str | None) -> Scope:
    directory = (await zava.reference.get()).stores
    return Scope.for_head_office(directory) if store is None else Scope.for_store_manager(directory.resolve(store))


def label_of(raw: dict, dim: str) -> Callable[[dict], str]:
    """How a line is labelled along a dimension, written from the documents' own fields."""
    product = raw["products"]
    return {
        "store": lambda ln: raw["stores"][ln["store_id"]],
        "category": lambda ln: raw["categories"][ln["category_id"]],
        "product_type": lambda ln: product[ln["product_id"]]["type_name"],
        "product": lambda ln: f"{product[ln['product_id']]['sku']} {product[ln['product_id']]['product_name']}",
        "year": lambda ln: ln["order_date"][:4],
        "quarter": lambda ln: f"{ln['order_date'][:4]}-Q{(int(ln['order_date'][5:7]) + 2) // 3}",
        "month": lambda ln: ln["order_date"][:7],
    }[dim]


def expected_groups(raw: dict, dims: tuple[str, ...], start: str, end: str, stores: set[str] | None = None,
                    keep: Callable[[dict], bool] = lambda ln: True) -> dict[tuple, dict[str, float]]:
    """Every metric per group, summed line by line; orders are distinct order ids."""
    labels = [label_of(raw, d) for d in dims]
    sums: dict[tuple, dict] = defaultdict(lambda: {"revenue": 0.0, "units": 0, "cost": 0.0, "discount": 0.0,
                                                   "orders": set()})
    for line in raw["lines"]:
        if not f"{start}T00:00:00Z" <= line["order_date"] <= f"{end}T23:59:59Z":
            continue
        if (stores is not None and line["store_id"] not in stores) or not keep(line):
            continue
        cell = sums[tuple(f(line) for f in labels)]
        cell["revenue"] += line["total_amount"]
        cell["units"] += line["quantity"]
        cell["cost"] += line["unit_cost"] * line["quantity"]
        cell["discount"] += line["discount_amount"]
        cell["orders"].add(line["order_id"])
    out = {}
    for key, c in sums.items():
        orders = len(c["orders"])
        out[key] = {"revenue": c["revenue"], "units": c["units"], "orders": orders,
                    "average_order_value": c["revenue"] / orders, "gross_margin": c["revenue"] - c["cost"],
                    "gross_margin_percent": (c["revenue"] - c["cost"]) / c["revenue"] * 100 if c["revenue"] else 0.0,
                    "discount_total": c["discount"]}
    return out


def assert_metrics(actual: dict, expected: dict, what: str) -> None:
    for metric, value in actual.items():
        if metric in MONEY:  # to the cent
            assert value == pytest.approx(round(expected[metric], 2), abs=1e-6), (what, metric)
        elif metric in ("units", "orders"):
            assert value == expected[metric], (what, metric)
        else:
            assert value == pytest.approx(expected[metric], abs=0.01), (what, metric)


CASES = [  # (store manager or head office, window): whole months only, and a window with partial months
    (None, "2024-04-01", "2025-03-31", "rollup sales_monthly"),
    ("Tacoma", "2025-02-10", "2025-08-20", "rollup sales_monthly + sales_daily for partial months"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("store", "start", "end", "source"), CASES, ids=["head-office-whole-months",
                                                                           "tacoma-partial-months"])
@pytest.mark.parametrize("dims", list(itertools.combinations(DIMENSIONS, 2)), ids="+".join)
async def test_every_pair_of_dimensions_and_every_metric(zava, raw, store, start, end, source, dims) -> None:
    scope = await scope_of(zava, store)
    result = await analytics.sales_summary(zava, scope, list(dims), list(METRICS), start, end, top_n=HARD_CAP)
    stores = {f"store_{store.lower()}"} if store else None
    expected = expected_groups(raw, dims, start, end, stores)
    assert result.source.startswith(source)
    assert result.group_by == list(dims) and result.metrics == list(METRICS) and result.order_by == "revenue"
    assert result.meta.total == len(expected)
    assert len(result.rows) == min(len(expected), HARD_CAP)
    assert result.meta.truncated == (len(expected) > 100)
    for row in result.rows:
        key = tuple(row.group[d] for d in dims)
        assert key in expected, key
        assert_metrics(row.values, expected[key], key)
        assert row.compare is None and row.change_percent is None
    everything = expected_groups(raw, (), start, end, stores)[()]
    assert_metrics(result.totals, everything, "totals")
    time_dims = [i for i, d in enumerate(dims) if d in ("year", "quarter", "month")]
    if not time_dims:  # ranked: the rows returned are the largest, largest first
        revenues = [r.values["revenue"] for r in result.rows]
        assert revenues == sorted(revenues, reverse=True)
        left_out = sorted((v["revenue"] for v in expected.values()), reverse=True)[len(result.rows):]
        assert not left_out or revenues[-1] >= round(left_out[0], 2)
    else:  # time groupings in time order
        periods = [tuple(r.group[dims[i]] for i in time_dims) for r in result.rows]
        assert periods == sorted(periods)


@pytest.mark.anyio
async def test_q3_2025_against_q3_2024_by_store_and_category_to_the_cent(zava, raw) -> None:
    """The issue's question in one call: revenue, units and margin % by store and category for Q3 2025,
    compared with Q3 2024."""
    scope = await scope_of(zava, None)
    result = await analytics.sales_summary(
        zava, scope, ["store", "category"], ["revenue", "units", "gross_margin_percent"], "2025-07-01", "2025-09-30",
        top_n=HARD_CAP, compare_to="previous_year")
    now = expected_groups(raw, ("store", "category"), "2025-07-01", "2025-09-30")
    before = expected_groups(raw, ("store", "category"), "2024-07-01", "2024-09-30")
    assert (result.period, result.compare_period) == ("2025-07-01..2025-09-30", "2024-07-01..2024-09-30")
    assert result.source == "rollup sales_monthly"
    assert len(result.rows) == len(now) and len(now) > 40
    nothing = {"revenue": 0.0, "units": 0, "gross_margin_percent": 0.0}
    compared = 0
    for row in result.rows:
        key = (row.group["store"], row.group["category"])
        assert_metrics(row.values, now[key], key)
        assert_metrics(row.compare, before.get(key, nothing), key)
        for metric in ("revenue", "units", "gross_margin_percent"):
            was, is_ = before.get(key, nothing)[metric], now[key][metric]
            if not was:
                assert row.change_percent[metric] is None
                continue
            compared += 1
            assert row.change_percent[metric] == pytest.approx((is_ - was) / abs(was) * 100, abs=0.06), (key, metric)
    assert compared > 100
    assert_metrics(result.totals, expected_groups(raw, (), "2025-07-01", "2025-09-30")[()], "totals")
    assert_metrics(result.compare_totals, expected_groups(raw, (), "2024-07-01", "2024-09-30")[()], "compare")


@pytest.mark.anyio
async def test_previous_period_of_whole_months_is_the_same_number_of_months_before(zava, raw) -> None:
    scope = await scope_of(zava, None)
    result = await analytics.sales_summary(zava, scope, ["quarter"], ["revenue", "orders"], "2025-04-01",
                                           "2025-09-30", compare_to="previous_period")
    assert result.compare_period == "2024-10-01..2025-03-31"
    now = expected_groups(raw, ("quarter",), "2025-04-01", "2025-09-30")
    before = expected_groups(raw, ("quarter",), "2024-10-01", "2025-03-31")
    assert [r.group["quarter"] for r in result.rows] == ["2025-Q2", "2025-Q3"]
    for row, earlier in zip(result.rows, ["2024-Q4", "2025-Q1"], strict=True):
        assert_metrics(row.compare, before[(earlier,)], earlier)
        assert_metrics(row.values, now[(row.group["quarter"],)], row.group)
    with pytest.raises(Exception, match="whole"):
        await analytics.sales_summary(zava, scope, "month", start_date="2025-04-10", end_date="2025-05-20",
                                      compare_to="previous_period")


@pytest.mark.anyio
async def test_product_type_and_sku_filters_are_answered_from_the_product_grain(zava, raw) -> None:
    scope = await scope_of(zava, "Seattle")
    products = raw["products"]
    drills = next(p["type_name"] for p in products.values() if p["type_name"] == "DRILLS")
    skus = sorted(p["sku"] for p in products.values() if p["category_id"] == "cat_plumbing")[:3]
    chosen = {pid for pid, p in products.items() if p["type_name"] == drills or p["sku"] in skus}

    result = await analytics.sales_summary(zava, scope, ["month"], ["revenue", "units", "gross_margin"],
                                           "2025-01-01", "2025-06-30", product_types=[drills.lower()])
    expected = expected_groups(raw, ("month",), "2025-01-01", "2025-06-30", {"store_seattle"},
                               keep=lambda ln: products[ln["product_id"]]["type_name"] == drills)
    assert result.source == "rollup sales_monthly"
    assert {r.group["month"]: r.values["revenue"] for r in result.rows} == {
        k[0]: pytest.approx(round(v["revenue"], 2), abs=1e-6) for k, v in expected.items()}

    with pytest.raises(Exception, match="no product matches"):  # filters intersect: plumbing SKUs are no drills
        await analytics.sales_summary(zava, scope, ["product", "year"], ["units"], skus=skus, product_types=[drills])
    by_sku = await analytics.sales_summary(zava, scope, "category", ["orders", "average_order_value"], skus=skus)
    expected = expected_groups(raw, ("category",), "2000-01-01", "2999-12-31", {"store_seattle"},
                               keep=lambda ln: products[ln["product_id"]]["sku"] in skus)
    assert "distinct orders counted from order_items" in by_sku.source  # three SKUs are not a whole category
    for row in by_sku.rows:
        assert_metrics(row.values, expected[(row.group["category"],)], row.group)
    assert chosen


@pytest.mark.anyio
async def test_orders_across_several_categories_are_distinct_orders(zava, raw) -> None:
    scope = await scope_of(zava, None)
    result = await analytics.sales_summary(zava, scope, "store", ["orders", "revenue"], "2025-01-01", "2025-12-31",
                                           categories=["Power Tools", "PLUMBING"])
    keep = {"cat_power_tools", "cat_plumbing"}
    expected = expected_groups(raw, ("store",), "2025-01-01", "2025-12-31", keep=lambda ln: ln["category_id"] in keep)
    for row in result.rows:
        assert_metrics(row.values, expected[(row.group["store"],)], row.group)
    assert result.totals["orders"] == expected_groups(raw, (), "2025-01-01", "2025-12-31",
                                                      keep=lambda ln: ln["category_id"] in keep)[()]["orders"]


@pytest.mark.anyio
async def test_bad_arguments_say_what_to_do(zava) -> None:
    scope = await scope_of(zava, None)
    for kwargs, message in [
        ({"group_by": ["store", "store"]}, "different dimensions"),
        ({"group_by": ["store", "category", "month", "year"]}, "up to 3"),
        ({"group_by": "store", "metrics": ["profit"]}, "metrics must be among"),
        ({"group_by": "store", "metrics": ["units"], "order_by": "revenue"}, "order_by must be one of the metrics"),
        ({"group_by": "store", "product_types": ["hovercraft"]}, "unknown product type"),
        ({"group_by": "store", "skus": ["NOPE0001"]}, "no product with SKU"),
        ({"group_by": "store", "compare_to": "last_week"}, "compare_to must be one of"),
        ({"group_by": "store", "skus": [f"S{i:07d}" for i in range(60)]}, "at most 50"),
    ]:
        with pytest.raises(Exception, match=message):
            await analytics.sales_summary(zava, scope, **kwargs)


@pytest.mark.anyio
async def test_trend_split_by_category_gives_one_series_per_category(zava, raw) -> None:
    scope = await scope_of(zava, "Redmond")
    trend = await analytics.sales_trend(zava, scope, "quarter", "2024-01-01", "2025-12-31", split_by="category")
    expected = expected_groups(raw, ("category", "quarter"), "2023-01-01", "2025-12-31", {"store_redmond"})
    assert trend.split_by == "category" and len(trend.series) == 9
    totals = [sum(p.revenue for p in s.points) for s in trend.series]
    assert totals == sorted(totals, reverse=True)
    for series in trend.series:
        for point in series.points:
            figures = expected[(series.name, point.period)]
            assert (point.units, point.orders) == (figures["units"], figures["orders"])
            assert point.revenue == pytest.approx(round(figures["revenue"], 2), abs=1e-6)
            last_year = expected.get((series.name, str(int(point.period[:4]) - 1) + point.period[4:]))
            if last_year is None:
                assert point.yoy_percent is None
                continue
            was = last_year["revenue"]
            assert point.yoy_percent == pytest.approx((figures["revenue"] - was) / was * 100, abs=0.06)
    overall = expected_groups(raw, ("quarter",), "2024-01-01", "2025-12-31", {"store_redmond"})
    assert [(p.period, p.orders) for p in trend.points] == [(k[0], v["orders"]) for k, v in sorted(overall.items())]


@pytest.mark.anyio
async def test_through_the_mcp_client_the_result_has_the_agreed_shape(seeded) -> None:
    async with Client(build_server(seeded, Identity(head_office=False, store="everett"))) as client:
        result = await client.call_tool("sales_summary", {
            "group_by": ["store", "category"], "metrics": ["revenue", "units", "gross_margin_percent"],
            "start_date": "2025-07-01", "end_date": "2025-09-30", "compare_to": "previous_year", "top_n": 5})
        assert not result.is_error, result.content[0].text
        out = result.structured_content
        assert set(out) == {"group_by", "metrics", "order_by", "rows", "totals", "compare_totals", "subtotals",
                            "subtotal_count", "period", "compare_period", "stores", "categories", "source", "meta"}
        assert out["stores"] == ["store_everett"] and len(out["rows"]) == 5 and out["meta"]["truncated"]
        row = out["rows"][0]
        assert set(row) == {"group", "values", "compare", "change_percent"}
        assert row["group"]["store"] == "Zava Retail Everett" and isinstance(row["values"]["units"], int)
        single = await client.call_tool("sales_summary", {"group_by": "month", "metrics": "units"})
        assert single.structured_content["group_by"] == ["month"]
        assert single.structured_content["subtotals"] is None  # one dimension: the rows are the subtotals
        refused = await client.call_tool("sales_summary", {"group_by": ["store", "month", "year", "quarter"]})
        assert refused.is_error and "group_by" in refused.content[0].text


@pytest.mark.anyio
async def test_a_second_process_starts_from_the_snapshot_and_sees_later_changes(writable, tmp_path) -> None:
    """The disk snapshot answers exactly as the rollup does, and a cell changed after it was written (what
    create_order does: $inc and a new updated_at) is applied on top; a rebuilt rollup is not trusted."""
    from dataclasses import replace

    import anyio

    from zava_core.infra.timeutil import now_iso

    settings = replace(writable, data_dir=tmp_path)
    question = {"group_by": ["store", "month"], "metrics": ["revenue", "units", "orders"], "top_n": HARD_CAP,
                "start_date": "2024-01-01", "end_date": "2024-12-31"}
    first = await Zava.open(settings)
    try:
        before = await analytics.sales_summary(first, await scope_of(first, None), **question)
        assert first.cube.loaded_from == "rollup"
    finally:
        await first.close()
    with anyio.fail_after(30):
        while not list((tmp_path / "cache").glob("cube-*.npz")):  # written in the background
            await anyio.sleep(0.1)
    client = MongoClient(settings.mongodb_uri)
    try:
        client[settings.mongodb_database]["sales_monthly"].update_one(
            {"_id": "store_seattle|2024-03"}, {"$inc": {"totals.revenue": 100.0, "totals.units": 2},
                                               "$set": {"updated_at": now_iso()}})
        second = await Zava.open(settings)
        try:
            after = await analytics.sales_summary(second, await scope_of(second, None), **question)
            assert second.cube.loaded_from == "snapshot"
        finally:
            await second.close()
        changed = ("Zava Retail Seattle", "2024-03")
        old = {(r.group["store"], r.group["month"]): r.values for r in before.rows}
        new = {(r.group["store"], r.group["month"]): r.values for r in after.rows}
        assert new[changed]["revenue"] == pytest.approx(old[changed]["revenue"] + 100.0, abs=1e-6)
        assert new[changed]["units"] == old[changed]["units"] + 2
        assert {k: v for k, v in new.items() if k != changed} == {k: v for k, v in old.items() if k != changed}
    finally:
        client[settings.mongodb_database]["sales_monthly"].update_one(
            {"_id": "store_seattle|2024-03"}, {"$inc": {"totals.revenue": -100.0, "totals.units": -2}})
        client.close()
    for snapshot in (tmp_path / "cache").glob("cube-*.npz"):  # another collection (a rebuild) is not this one
        snapshot.rename(snapshot.with_name(f"cube-{settings.mongodb_database}-0000.npz"))
    third = await Zava.open(settings)
    try:
        await analytics.warm_cube(third)
        assert third.cube.loaded_from == "rollup"
    finally:
        await third.close()


@pytest.mark.anyio
async def test_subtotals_are_whole_bands_whatever_rows_were_cut(seeded, raw) -> None:
    """Two dimensions cut to a few rows still say what each band of the first dimension adds up to: every
    line of the band in each window, summed from order_items, ranked by the metric."""
    question = {"group_by": ["store", "category"], "metrics": ["revenue", "gross_margin_percent"],
                "start_date": "2025-07-01", "end_date": "2025-09-30", "compare_to": "previous_year", "top_n": 6}
    async with Client(build_server(seeded, Identity(head_office=True))) as client:
        out = (await client.call_tool("sales_summary", question)).structured_content
    now = expected_groups(raw, ("store",), "2025-07-01", "2025-09-30")
    before = expected_groups(raw, ("store",), "2024-07-01", "2024-09-30")
    assert out["meta"]["truncated"] and out["subtotal_count"] == len(now) == 8 and len(out["subtotals"]) == 6
    ranked = sorted(now, key=lambda k: -now[k]["revenue"])
    assert [(s["group"]["store"],) for s in out["subtotals"]] == ranked[:6]
    for band in out["subtotals"]:
        key = (band["group"]["store"],)
        assert_metrics(band["values"], now[key], f"{key} now")
        assert_metrics(band["compare"], before[key], f"{key} a year before")
