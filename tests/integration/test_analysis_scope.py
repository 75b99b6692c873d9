"""Row-level scope of the sales-analysis server: for every identity and every tool, arguments aimed at other
stores never bring back a row or a figure of another store.

Each (identity, tool) case calls the tool in-process (the stdio identity) with other stores named every
way the tools accept (`stores=[...]`, `store=...`, ids, short and full names) and with aggregation
pipelines built to reach other stores ($match on their store_id, $lookup into their orders and stock,
$facet around $lookup, $unionWith, $$ROOT and $replaceRoot games, sales_monthly). A store manager is
refused where head office is answered; every structured result is walked for other stores' ids and
names; and the figures a caller gets (revenue, units, orders, stock, demand, date ranges) must equal
those computed here with pymongo from the caller's own documents. Head office sees all 8 stores, which
also shows that the checks would catch a leak.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from mcp import Client
from pymongo import MongoClient

from mcp_servers.sales_analysis.server import build_server
from zava_core.infra.config import Settings
from zava_core.limits import HARD_CAP
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

ALL_STORES = ("store_bellevue", "store_everett", "store_kirkland", "store_online", "store_redmond",
              "store_seattle", "store_spokane", "store_tacoma")
IDENTITIES = [Identity(head_office=False, store=s.removeprefix("store_")) for s in ALL_STORES] + [
    Identity(head_office=True)]
# Customer attributes that name stores without being rows of those stores (a visible customer's home
# store may be another store; stores_shopped lists where they have ordered).
CUSTOMER_STORE_ATTRIBUTES = {"primary_store_id", "stores_shopped"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WINDOW = ("2025-03-15", "2025-06-10")  # starts and ends inside a month: the cube plus order_items edges


# --- the truth, from the documents ----------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    names: dict[str, str]  # store id -> full name
    short: dict[str, str]  # store id -> short name
    lines: list[dict]
    stock: dict[tuple[str, str], int]  # (store id, product id) -> stock level
    sku_of: dict[str, str]  # product id -> sku
    order_dates: dict[str, tuple[str, str]]  # store id -> first and last order date
    order_docs: dict[str, int]  # store id -> orders
    months_of: dict[str, int]  # store id -> sales_monthly documents

    def sums(self, stores: set[str], key: Callable[[dict], str] | None = None, start: str = "",
             end: str = "~") -> dict[str, dict[str, float]]:
        """revenue, units and distinct orders of the lines of `stores` in [start, end], per key."""
        out: dict[str, dict[str, Any]] = {}
        for line in self.lines:
            if line["store_id"] not in stores or not start <= line["order_date"] <= end:
                continue
            cell = out.setdefault(key(line) if key else "all", {"revenue": 0.0, "units": 0, "orders": set()})
            cell["revenue"] += line["total_amount"]
            cell["units"] += line["quantity"]
            cell["orders"].add(line["order_id"])
        return {k: {**v, "orders": len(v["orders"])} for k, v in out.items()}

    def stock_of_sku(self, sku: str, stores: set[str]) -> int:
        return sum(level for (store, product), level in self.stock.items()
                   if store in stores and self.sku_of[product] == sku)


@pytest.fixture(scope="module")
def truth(seeded: Settings) -> Iterator[Truth]:
    client: MongoClient = MongoClient(seeded.mongodb_uri)
    try:
        db = client[seeded.mongodb_database]
        stores = list(db.stores.find({"deleted": False}))
        lines = list(db.order_items.find({"deleted": False}, {
            "_id": 0, "store_id": 1, "order_id": 1, "order_date": 1, "product_id": 1, "quantity": 1,
            "total_amount": 1}))
        dates: dict[str, list[str]] = defaultdict(list)
        for order in db.orders.find({"deleted": False}, {"store_id": 1, "order_date": 1}):
            dates[order["store_id"]].append(order["order_date"])
        months_of: dict[str, int] = defaultdict(int)
        for doc in db.sales_monthly.find({}, {"store_id": 1}):
            months_of[doc["store_id"]] += 1
        yield Truth(
            names={s["_id"]: s["store_name"] for s in stores},
            short={s["_id"]: s["short_name"] for s in stores},
            lines=lines,
            stock={(r["store_id"], r["product_id"]): r["stock_level"]
                   for r in db.inventory.find({"deleted": False}, {"store_id": 1, "product_id": 1,
                                                                      "stock_level": 1})},
            sku_of={p["_id"]: p["sku"] for p in db.products.find({}, {"sku": 1})},
            order_dates={s: (min(d), max(d)) for s, d in dates.items()},
            order_docs={s: len(d) for s, d in dates.items()},
            months_of=dict(months_of),
        )
    finally:
        client.close()


# --- one case: an identity, its client, what it may see ------------------------------------------


@dataclass
class Case:
    client: Client
    truth: Truth
    head_office: bool
    own: str | None  # the manager's store id
    visible: set[str]
    targets: list[str]  # other stores to aim at (every store for head office, as the control)
    results: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "head office" if self.head_office else self.own or ""

    async def ok(self, tool: str, args: dict) -> dict:
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, f"{self.label} {tool}({args}): {result.content[0].text}"
        self.results.append(result.structured_content)
        return result.structured_content

    async def refused(self, tool: str, args: dict, store_id: str) -> None:
        result = await self.client.call_tool(tool, args)
        assert result.is_error, f"{self.label} {tool}({args}) should be refused, got {result.structured_content}"
        assert result.structured_content is None
        text = result.content[0].text
        assert "outside your scope" in text and store_id in text, text
        for other in set(ALL_STORES) - self.visible - {store_id}:  # names only the store asked for
            assert other not in text, text

    async def aimed(self, tool: str, args: dict, store_id: str) -> dict | None:
        """A call naming `store_id`: answered for head office, refused as out of scope for a manager."""
        if store_id in self.visible:
            return await self.ok(tool, args)
        await self.refused(tool, args, store_id)
        return None

    def names_for(self, store_id: str) -> list[str]:
        """Every way a caller can name a store."""
        return [store_id, self.truth.short[store_id], self.truth.names[store_id].lower(),
                store_id.removeprefix("store_").upper()]


def foreign_references(node: Any, case: Case, path: str = "$") -> list[str]:
    """Every other store's id or full name in a result (keys and values, at any depth)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CUSTOMER_STORE_ATTRIBUTES:
                continue
            found += foreign_references(key, case, f"{path}.<key>")
            found += foreign_references(value, case, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += foreign_references(value, case, f"{path}[{i}]")
    elif isinstance(node, str):
        for store_id, name in case.truth.names.items():
            if store_id not in case.visible and (store_id in node or name in node):
                found.append(f"{path}: {node[:120]!r} names {store_id}")
    return found


def approx_money(expected: float) -> Any:
    return pytest.approx(expected, abs=0.05)


def quarter(line: dict) -> str:
    return f"{line['order_date'][:4]}-Q{(int(line['order_date'][5:7]) - 1) // 3 + 1}"


# --- one probe per tool ----------------------------------------------------------------------------


async def probe_get_current_utc_date(case: Case) -> None:
    out = await case.ok("get_current_utc_date", {})
    assert out["date"] == datetime.now(UTC).date().isoformat()


async def probe_get_collection_schemas(case: Case) -> None:
    out = await case.ok("get_collection_schemas", {"collections": []})
    stores = [f"{s} ({case.truth.names[s]})" for s in sorted(case.visible)]
    dates = [case.truth.order_dates[s] for s in case.visible]
    for schema in out["collections"]:
        values = schema["valid_values"]
        for key in ("store_id", "primary_store_id"):
            if key in values:
                assert values[key] == stores, (schema["collection"], values[key])
        if "order_date range" in values:
            assert values["order_date range"] == [min(d[0] for d in dates), max(d[1] for d in dates)]
    # Field meanings and hints name example stores (`e.g. store_seattle`); only the values come from data.
    case.results[-1] = {"valid_values": [schema["valid_values"] for schema in out["collections"]]}


async def probe_sales_summary(case: Case) -> None:
    truth, visible = case.truth, case.visible
    by_store = await case.ok("sales_summary", {"group_by": "store", "top_n": HARD_CAP,
                                               "metrics": ["revenue", "units", "orders"]})
    assert by_store["stores"] == sorted(visible)
    expected = truth.sums(visible, key=lambda ln: ln["store_id"])
    assert {r["group"]["store"]: r["values"]["revenue"] for r in by_store["rows"]} == {
        truth.names[s]: approx_money(f["revenue"]) for s, f in expected.items()}
    total = truth.sums(visible)["all"]
    assert by_store["totals"]["revenue"] == approx_money(total["revenue"])
    assert (by_store["totals"]["units"], by_store["totals"]["orders"]) == (total["units"], total["orders"])

    start, end = WINDOW
    monthly = await case.ok("sales_summary", {"group_by": "month", "metrics": ["units"], "start_date": start,
                                              "end_date": end})
    assert monthly["stores"] == sorted(visible) and "sales_daily" in monthly["source"]
    window = truth.sums(visible, key=lambda ln: ln["order_date"][:7], start=f"{start}T00:00:00Z",
                        end=f"{end}T23:59:59Z")
    assert {r["group"]["month"]: r["values"]["units"] for r in monthly["rows"]} == {
        m: f["units"] for m, f in window.items()}

    yearly = await case.ok("sales_summary", {"group_by": "year", "metrics": "orders"})
    assert {r["group"]["year"]: r["values"]["orders"] for r in yearly["rows"]} == {
        y: f["orders"] for y, f in truth.sums(visible, key=lambda ln: ln["order_date"][:4]).items()}

    for target in case.targets:
        for name in case.names_for(target):
            out = await case.aimed("sales_summary", {"group_by": "store", "stores": [name]}, target)
            if out is not None:
                assert out["stores"] == [target]
                assert out["totals"]["revenue"] == approx_money(truth.sums({target})["all"]["revenue"])
        mixed = [truth.short[case.own or "store_seattle"], truth.short[target]]
        await case.aimed("sales_summary", {"group_by": "category", "stores": mixed, "categories": ["PLUMBING"]},
                         target)


async def probe_export_sales_summary(case: Case) -> None:
    """The export link, and the CSV behind it: the caller's stores only, each summed from its own lines."""
    truth, visible = case.truth, case.visible
    link = await case.ok("export_sales_summary", {"group_by": ["store", "month"], "metrics": ["revenue", "units"]})
    text = (await case.client.read_resource(link["uri"])).contents[0].text
    rows = list(csv.DictReader(io.StringIO(text)))
    case.results.append({"csv": text})  # walked for other stores' names like every answer
    revenue: dict[str, float] = defaultdict(float)
    for row in rows:
        revenue[row["store"]] += float(row["revenue"])
    expected = truth.sums(visible, key=lambda ln: ln["store_id"])
    assert revenue == {truth.names[s]: approx_money(f["revenue"]) for s, f in expected.items()}
    for target in case.targets:
        await case.aimed("export_sales_summary", {"group_by": "store", "stores": [target]}, target)


async def probe_sales_trend(case: Case) -> None:
    truth, visible = case.truth, case.visible
    out = await case.ok("sales_trend", {"period": "quarter"})
    assert out["stores"] == sorted(visible)
    expected = truth.sums(visible, key=quarter)
    assert {p["period"]: (p["revenue"], p["units"], p["orders"]) for p in out["points"]} == {
        q: (approx_money(f["revenue"]), f["units"], f["orders"]) for q, f in expected.items()}
    for target in case.targets:
        one = await case.aimed("sales_trend", {"period": "year", "stores": [truth.short[target]]}, target)
        if one is not None:
            assert one["stores"] == [target]
            assert {p["period"]: p["orders"] for p in one["points"]} == {
                y: f["orders"] for y, f in truth.sums({target}, key=lambda ln: ln["order_date"][:4]).items()}
        await case.aimed("sales_trend", {"start_date": "2024-01-01", "end_date": "2024-03-31",
                                         "stores": [target]}, target)


async def probe_seasonal_profile(case: Case) -> None:
    truth, visible = case.truth, case.visible
    this_year = datetime.now(UTC).year
    out = await case.ok("seasonal_profile", {})
    assert out["stores"] == sorted(visible)
    first, last = (int(y) for y in out["years"].split("-"))
    assert last == this_year - 1
    per_month = truth.sums(visible, key=lambda ln: MONTHS[int(ln["order_date"][5:7]) - 1],
                           start=f"{first}-01-01", end=f"{last}-12-31T23:59:59Z")
    assert {m["month"]: m["revenue"] for m in out["months"]} == {
        m: approx_money(per_month.get(m, {"revenue": 0.0})["revenue"]) for m in MONTHS}
    for target in case.targets:
        one = await case.aimed("seasonal_profile", {"stores": [target]}, target)
        if one is not None:
            assert one["stores"] == [target]
        await case.aimed("seasonal_profile", {"category": "PAINT & FINISHES", "stores": [truth.names[target]]},
                         target)


def _month_days(month: str) -> int:
    start = date.fromisoformat(f"{month}-01")
    following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return (following - start).days


async def probe_inventory_health(case: Case) -> None:
    truth, visible = case.truth, case.visible
    out = await case.ok("inventory_health", {"max_rows": HARD_CAP})
    assert out["stores"] == sorted(visible)
    first, last = out["demand_window"].split("..")
    months = sorted({ln["order_date"][:7] for ln in truth.lines if first <= ln["order_date"][:7] <= last})
    assert len(months) == 3 and (months[0], months[-1]) == (first, last)
    days = sum(_month_days(m) for m in months)
    units: dict[tuple[str, str], int] = defaultdict(int)
    for line in truth.lines:
        if line["store_id"] in visible and first <= line["order_date"][:7] <= last:
            units[line["store_id"], line["product_id"]] += line["quantity"]
    at_risk = slow = 0
    for (store, product), stock in truth.stock.items():
        if store not in visible:
            continue
        demand = units[store, product] / days
        at_risk += stock <= 0 or bool(demand and stock / demand < 14)
        slow += demand == 0 and stock > 0
    assert (out["at_risk_count"], out["slow_mover_count"]) == (at_risk, slow)
    assert out["items_checked"] == len(visible) * len(truth.sku_of)
    product_of = {sku: product for product, sku in truth.sku_of.items()}
    for item in out["at_risk"] + out["slow_movers"]:
        key = (item["store_id"], product_of[item["sku"]])
        assert item["store_id"] in visible
        assert item["stock_level"] == truth.stock[key]
        assert item["daily_demand"] == round(units[key] / days, 3)
    for target in case.targets:
        for name in case.names_for(target):
            one = await case.aimed("inventory_health", {"store": name, "max_rows": 5}, target)
            if one is not None:
                assert one["stores"] == [target]
                assert {i["store_id"] for i in one["at_risk"] + one["slow_movers"]} <= {target}
        await case.aimed("inventory_health", {"store": target, "category": "PLUMBING"}, target)


def escape_pipelines(own: str, other: str) -> list[tuple[str, str, list | str, bool]]:
    """(name, collection, pipeline, empty for a manager): pipelines written to read `other`'s data."""
    return [
        ("match-other", "orders", [{"$match": {"store_id": other}}], True),
        ("match-not-mine", "order_items", [{"$match": {"$or": [{"store_id": other}, {"store_id": {"$ne": own}}]}},
                                           {"$limit": 5}], True),
        ("match-other-stock", "inventory", [{"$match": {"store_id": other}}, {"$limit": 3}], True),
        ("rollup-of-other", "sales_monthly", [{"$match": {"store_id": other}}, {"$limit": 3},
                                              {"$project": {"store_id": 1, "month": 1, "totals": 1}}], True),
        ("rollup-other-by-expr", "sales_monthly",
         [{"$match": {"$expr": {"$eq": ["$store_id", other]}}}, {"$project": {"totals": 1, "store_id": 1}}], True),
        ("lookup-other-orders", "orders",
         [{"$limit": 3}, {"$lookup": {"from": "orders", "pipeline": [{"$match": {"store_id": other}},
                                                                     {"$limit": 3}], "as": "theirs"}},
          {"$match": {"theirs.0": {"$exists": True}}}], True),
        ("lookup-other-stock", "order_items",
         [{"$limit": 3}, {"$lookup": {"from": "inventory", "localField": "product_id", "foreignField": "product_id",
                                      "as": "stock"}}, {"$unwind": "$stock"},
          {"$match": {"stock.store_id": other}}], True),
        ("lookup-let-not-mine", "order_items",
         [{"$limit": 3}, {"$lookup": {"from": "orders", "let": {"s": "$store_id"}, "as": "elsewhere", "pipeline": [
             {"$match": {"$expr": {"$ne": ["$store_id", "$$s"]}}}, {"$limit": 2}]}},
          {"$match": {"elsewhere.0": {"$exists": True}}}], True),
        ("lookup-rollup", "orders",
         [{"$limit": 2}, {"$lookup": {"from": "sales_monthly", "as": "rollup", "pipeline": [
             {"$match": {"store_id": other}}, {"$limit": 2}, {"$project": {"store_id": 1, "month": 1}}]}},
          {"$match": {"rollup.0": {"$exists": True}}}], True),
        ("facet-with-lookup", "orders",
         [{"$facet": {
             "theirs": [{"$match": {"store_id": other}}, {"$limit": 2}],
             "joined": [{"$limit": 2}, {"$lookup": {"from": "order_items", "as": "lines", "pipeline": [
                 {"$match": {"store_id": other}}, {"$limit": 2}]}}],
             "by_customer": [{"$limit": 3}, {"$lookup": {"from": "orders", "localField": "customer_id",
                                                         "foreignField": "customer_id", "as": "all_orders"}},
                             {"$project": {"all_orders.store_id": 1, "all_orders.order_id": 1}}]}},
          {"$project": {"theirs": 1, "joined.lines": 1, "by_customer": 1}}], False),
        ("union-with", "inventory",
         [{"$limit": 1}, {"$unionWith": {"coll": "orders", "pipeline": [{"$match": {"store_id": other}}]}},
          {"$unionWith": "sales_monthly"}, {"$unionWith": {"coll": "order_items", "pipeline": [
              {"$limit": 5}, {"$lookup": {"from": "inventory", "localField": "product_id", "foreignField": "product_id",
                           "as": "stock"}}]}},
          {"$match": {"$or": [{"store_id": other}, {"stock.store_id": other}]}}, {"$limit": 5}], True),
        ("replace-root-then-lookup", "order_items",
         [{"$limit": 3}, {"$replaceRoot": {"newRoot": {"$mergeObjects": ["$$ROOT", {"store_id": other}]}}},
          {"$lookup": {"from": "inventory", "localField": "store_id", "foreignField": "store_id", "as": "inv"}},
          {"$match": {"inv.0": {"$exists": True}}}, {"$project": {"inv": {"$size": "$inv"}}}], True),
        ("replace-with-root", "orders",
         [{"$replaceWith": {"row": "$$ROOT", "store_id": other}}, {"$match": {"row.store_id": other}}], True),
        ("root-in-lookup", "customers",
         [{"$limit": 5}, {"$lookup": {"from": "orders", "let": {"me": "$$ROOT"}, "as": "orders", "pipeline": [
             {"$replaceRoot": {"newRoot": {"$mergeObjects": ["$$ROOT", {"store_id": other}]}}},
             {"$match": {"$expr": {"$eq": ["$customer_id", "$$me.customer_id"]}}}]}},
          {"$lookup": {"from": "orders", "localField": "customer_id", "foreignField": "customer_id",
                       "as": "real"}},
          # orders.store_id is the caller's own literal; the documents behind it keep their store_name
          {"$project": {"customer_id": 1, "orders.store_name": 1, "orders.order_id": 1, "real.store_id": 1,
                        "real.store_name": 1, "real.order_id": 1}}], False),
        ("group-root", "orders",
         [{"$sort": {"order_id": 1}}, {"$limit": 50},
          {"$group": {"_id": None, "rows": {"$push": {"store_id": "$store_id"}}}},
          {"$project": {"stores": {"$setUnion": ["$rows.store_id", [other]]}}},
          {"$project": {"stores": {"$filter": {"input": "$stores", "cond": {"$ne": ["$$this", other]}}}}}], False),
        ("extended-json-text", "order_items", json.dumps(
            [{"$match": {"store_id": other, "order_date": {"$gte": "2020-01-01"}}},
             {"$match": {"$expr": {"$gte": [{"$dateFromString": {"dateString": "$order_date"}},
                                            {"$date": "2021-01-01T00:00:00Z"}]}}}]), True),
    ]


async def probe_run_aggregation(case: Case) -> None:
    truth, visible = case.truth, case.visible
    grouped = await case.ok("run_aggregation", {"collection": "order_items", "max_rows": HARD_CAP, "pipeline": [
        {"$group": {"_id": "$store_id", "revenue": {"$sum": "$total_amount"}, "units": {"$sum": "$quantity"}}},
        {"$sort": {"_id": 1}}]})
    expected = truth.sums(visible, key=lambda ln: ln["store_id"])
    assert [r["_id"] for r in grouped["rows"]] == sorted(visible)
    for row in grouped["rows"]:
        assert row["revenue"] == approx_money(expected[row["_id"]]["revenue"])
        assert row["units"] == expected[row["_id"]]["units"]
    months = await case.ok("run_aggregation", {"collection": "sales_monthly", "max_rows": HARD_CAP, "pipeline": [
        {"$group": {"_id": "$store_id", "months": {"$sum": 1}}}, {"$sort": {"_id": 1}}]})
    assert months["rows"] == [{"_id": s, "months": truth.months_of[s]} for s in sorted(visible)]
    orders = await case.ok("run_aggregation", {"collection": "orders", "max_rows": HARD_CAP, "pipeline": [
        {"$group": {"_id": "$store_id", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]})
    assert orders["rows"] == [{"_id": s, "n": truth.order_docs[s]} for s in sorted(visible)]

    own = case.own or "store_seattle"
    # Two other stores per manager (every store is aimed at by two managers): each pipeline costs up to a
    # second on the embedded engine, and the typed tools above are aimed at all seven.
    position = ALL_STORES.index(own)
    others = ["store_tacoma"] if case.head_office else sorted(
        {case.targets[position % len(case.targets)], case.targets[(position + 3) % len(case.targets)]})
    for other in others:
        for name, collection, pipeline, empty in escape_pipelines(own, other):
            out = await case.ok("run_aggregation", {"collection": collection, "pipeline": pipeline, "max_rows": 20})
            if case.head_office:
                # The control: head office does reach the other store with the same pipelines.
                if empty:
                    assert out["rows"], name
            elif empty:
                assert out["rows"] == [], (name, other, out["rows"][:2])
            else:
                assert out["rows"], name


PROBES: dict[str, Callable[[Case], Awaitable[None]]] = {
    name.removeprefix("probe_"): fn for name, fn in globals().items() if name.startswith("probe_")}


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("tool", sorted(PROBES))
@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda identity: identity.label)
async def test_no_row_or_figure_of_another_store_ever_appears(seeded: Settings, truth: Truth, identity: Identity,
                                                              tool: str) -> None:
    own = None if identity.head_office else f"store_{identity.store}"
    visible = set(ALL_STORES) if identity.head_office else {own}
    async with Client(build_server(seeded, identity)) as client:
        case = Case(client=client, truth=truth, head_office=identity.head_office, own=own, visible=visible,
                    targets=[s for s in ALL_STORES if s != own])
        await PROBES[tool](case)
    assert case.results, "every probe gets at least one answer"
    leaks = [leak for result in case.results for leak in foreign_references(result, case)]
    assert not leaks, "\n".join(leaks[:20])


@pytest.mark.anyio
async def test_every_tool_has_a_probe_and_head_office_sees_all_eight(seeded: Settings, truth: Truth) -> None:
    assert sorted(truth.names) == list(ALL_STORES)
    async with Client(build_server(seeded, Identity(head_office=True))) as client:
        assert {t.name for t in (await client.list_tools()).tools} == set(PROBES)
        summary = (await client.call_tool("sales_summary", {"group_by": "store"})).structured_content
        assert summary["stores"] == list(ALL_STORES)
        assert sorted(r["group"]["store"] for r in summary["rows"]) == sorted(truth.names.values())
        health = (await client.call_tool("inventory_health", {})).structured_content
        assert health["stores"] == list(ALL_STORES)
        schemas = (await client.call_tool("get_collection_schemas", {"collections": ["orders"]})).structured_content
        assert len(schemas["collections"][0]["valid_values"]["store_id"]) == 8


def test_the_walk_reports_other_stores() -> None:
    """The walk itself: another store's id or full name is reported, in keys too; customer attributes are not."""
    names = {s: f"Zava Retail {s[6:].title()}" for s in ALL_STORES}
    truth = Truth(names=names, short={}, lines=[], stock={}, sku_of={}, order_dates={}, order_docs={},
                  months_of={})
    case = Case(client=None, truth=truth, head_office=False, own="store_seattle",  # type: ignore[arg-type]
                visible={"store_seattle"}, targets=[])
    clean = {"rows": [{"store_id": "store_seattle", "store_name": "Zava Retail Seattle",
                       "primary_store_id": "store_tacoma", "stores_shopped": {"store_online": "2024-01-01"}}]}
    assert foreign_references(clean, case) == []
    dirty = {"rows": [{"_id": "store_tacoma"}, {"group": "Zava Retail Everett"}, {"store_online": 1},
                      {"note": "as in store_kirkland"}]}
    assert len(foreign_references(dirty, case)) == 4
