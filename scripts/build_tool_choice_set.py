"""Writes tests/data/tool_choice.json: the tool-choice evaluation set, authored here case by case.

    python scripts/build_tool_choice_set.py

Each case is a user message from one of four personas (a store manager, a head-office analyst, a sales rep on
the floor, a stock worker), the identity it runs as, and the call or calls a good agent makes: every argument
given is one the suite runs with; those named in `vary` may take another value (or be left out) without the
call being wrong. `alternatives` lists other call sequences that answer as well. An analysis case's `figure`
names its key figure (which call, which metric, which row, point or total) and the filter that computes it
independently from the order lines.

The entities (SKUs, customers, orders, stock) are those of the `small` dataset the tests seed (seed 424242,
as of 2026-11-01: orders from 2020-01-03 to 2026-10-31).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tool_choice.json"
CASES: list[dict[str, Any]] = []
PREFIX = {"store_manager": "sm", "analyst": "an", "sales_rep": "sr", "stock_worker": "sw"}
# Arguments a model may add to an analysis call without making it wrong: ranking, extra metrics, row counts.
LOOSE = ("top_n", "order_by", "metrics", "max_rows")


def _arguments() -> dict[str, set[str]]:
    """Each tool's argument names, from the servers' contract (built offline)."""
    from mcp_servers.contract import SERVERS, contract

    return {t["name"]: set(t["inputSchema"].get("properties", {}))
            for server in SERVERS for t in asyncio.run(contract(server))["tools"]}


ARGUMENTS = _arguments()


def call(tool: str, *, vary: tuple[str, ...] = (), optional: bool = False, **arguments: Any) -> dict[str, Any]:
    """An expected call; `vary` may name generic sets (a manager's own store, ranking options): the names the
    tool does not have are dropped."""
    out: dict[str, Any] = {"tool": tool, "arguments": arguments}
    vary = tuple(name for name in vary if name in ARGUMENTS[tool])
    if vary:
        out["vary"] = sorted(set(vary))
    if optional:
        out["optional"] = True
    return out


def fig(metric: str, *, call_index: int = -1, row: dict | None = None, point: str | None = None,
        series: str | None = None, **where: Any) -> dict[str, Any]:
    pick: dict[str, Any] = {"totals": True}
    if row is not None:
        pick = {"row": row}
    elif point is not None:
        pick = {"point": point} if series is None else {"series": series, "point": point}
    return {"call": call_index, "metric": metric, "pick": pick, "where": where}


def stock_fig(sku: str, store_id: str, call_index: int = -1) -> dict[str, Any]:
    return {"call": call_index, "metric": "stock_level", "pick": {"stock": store_id}, "where": {"skus": [sku]}}


def case(persona: str, identity: str, message: str, *calls: dict[str, Any], figure: dict | None = None,
         alternatives: list[list[dict]] | None = None) -> None:
    number = sum(c["persona"] == persona for c in CASES) + 1
    item: dict[str, Any] = {"id": f"{PREFIX[persona]}-{number:03d}", "persona": persona, "identity": identity,
                            "message": message, "calls": list(calls)}
    if alternatives:
        item["alternatives"] = alternatives
    if figure:
        item["figure"] = figure
    CASES.append(item)


def summary(vary: tuple[str, ...] = (), **arguments: Any) -> dict[str, Any]:
    return call("sales_summary", vary=(*LOOSE, *vary), **arguments)


def trend(vary: tuple[str, ...] = (), **arguments: Any) -> dict[str, Any]:
    return call("sales_trend", vary=vary, **arguments)


def today() -> dict[str, Any]:
    return call("get_current_utc_date", optional=True)


SEA, TAC, BEL, SPO, KIR, RED, EVE, ONL = (f"store_{s}" for s in (
    "seattle", "tacoma", "bellevue", "spokane", "kirkland", "redmond", "everett", "online"))
NAME = {SEA: "Zava Retail Seattle", TAC: "Zava Retail Tacoma", BEL: "Zava Retail Bellevue",
        SPO: "Zava Retail Spokane", KIR: "Zava Retail Kirkland", RED: "Zava Retail Redmond",
        EVE: "Zava Retail Everett", ONL: "Zava Retail Online"}
Y25 = {"start": "2025-01-01", "end": "2025-12-31"}
Y24 = {"start": "2024-01-01", "end": "2024-12-31"}


def dates(where: dict[str, str]) -> dict[str, str]:
    return {"start_date": where["start"], "end_date": where["end"]}


# --- a store manager -------------------------------------------------------------------------------------------
M = "store_manager"
OWN = ("stores", "store")  # a manager's own store is the default: naming it or not is the same call

case(M, "store:seattle", "How much revenue did my store make in Q3 2026?",
     summary(vary=(*OWN, "group_by"), group_by="quarter", start_date="2026-07-01", end_date="2026-09-30"),
     figure=fig("revenue", stores=[SEA], start="2026-07-01", end="2026-09-30"))
case(M, "store:seattle", "Which categories brought in the most revenue here in 2025?",
     summary(vary=OWN, group_by="category", **dates(Y25)),
     figure=fig("revenue", row={"category": "PLUMBING"}, stores=[SEA], categories=["PLUMBING"], **Y25))
case(M, "store:seattle", "Compare our September 2026 sales with September last year.",
     summary(vary=(*OWN, "group_by"), group_by="month", start_date="2026-09-01", end_date="2026-09-30",
             compare_to="previous_year"),
     figure=fig("revenue", stores=[SEA], start="2026-09-01", end="2026-09-30"))
case(M, "store:seattle", "Show me the month-by-month revenue trend for my store in 2025.",
     trend(vary=OWN, period="month", **dates(Y25)),
     figure=fig("revenue", point="2025-07", stores=[SEA], start="2025-07-01", end="2025-07-31"))
case(M, "store:seattle", "What was our gross margin percentage on power tools in 2025?",
     summary(vary=(*OWN, "group_by"), group_by="category", metrics="gross_margin_percent",
             categories=["POWER TOOLS"], **dates(Y25)),
     figure=fig("gross_margin_percent", stores=[SEA], categories=["POWER TOOLS"], **Y25))
case(M, "store:seattle", "Which items are running low on the shelves here?",
     call("get_low_stock_items", vary=(*OWN, "max_rows", "threshold")),
     alternatives=[[call("inventory_health", vary=(*OWN, "max_rows"))]])
case(M, "store:seattle", "Given recent sales, which products will run out first at my store?",
     call("inventory_health", vary=(*OWN, "max_rows")))
case(M, "store:seattle", "When is the peak season for plumbing at my store?",
     call("seasonal_profile", vary=OWN, category="PLUMBING"))
case(M, "store:seattle", "How many orders did we take in October 2026, and what was the average order value?",
     summary(vary=(*OWN, "group_by"), group_by="month", metrics=["orders", "average_order_value"],
             start_date="2026-10-01", end_date="2026-10-31"),
     figure=fig("orders", stores=[SEA], start="2026-10-01", end="2026-10-31"))
case(M, "store:seattle", "How much did we give away in discounts during 2025?",
     summary(vary=(*OWN, "group_by"), group_by="year", metrics="discount_total", **dates(Y25)),
     figure=fig("discount_total", stores=[SEA], **Y25))
case(M, "store:seattle", "Break down my 2025 revenue by quarter.",
     summary(vary=OWN, group_by="quarter", **dates(Y25)),
     figure=fig("revenue", row={"quarter": "2025-Q2"}, stores=[SEA], start="2025-04-01", end="2025-06-30"))
case(M, "store:seattle", "Which electrical product types sold best here in 2025?",
     summary(vary=OWN, group_by="product_type", categories=["ELECTRICAL"], **dates(Y25)),
     figure=fig("revenue", row={"product_type": "OUTLETS"}, stores=[SEA], product_types=["OUTLETS"], **Y25))
case(M, "store:seattle", "How many of the Cascade 18V drill kits (PTDR000001) did we sell in 2025?",
     summary(vary=(*OWN, "group_by"), group_by="product", metrics="units", skus=["PTDR000001"], **dates(Y25)),
     figure=fig("units", stores=[SEA], skus=["PTDR000001"], **Y25))
case(M, "store:seattle", "How many PLTO000901 toilet flappers do we have in the store?",
     call("get_inventory", vary=OWN, sku="PLTO000901"), figure=stock_fig("PLTO000901", SEA))
case(M, "store:seattle", "Pull up Lauren Hale's recent orders.",
     call("find_customers", vary=("max_rows",), query="Lauren Hale"),
     call("get_customer_orders", vary=("max_rows",), customer_id="cust_000003"))
case(M, "store:seattle", "Compare each month of Q2 2026 with the same month last year.",
     summary(vary=OWN, group_by="month", start_date="2026-04-01", end_date="2026-06-30",
             compare_to="previous_year"),
     figure=fig("revenue", row={"month": "2026-05"}, stores=[SEA], start="2026-05-01", end="2026-05-31"))
case(M, "store:seattle", "Which category grew the most from January-September 2025 to January-September 2026?",
     summary(vary=OWN, group_by="category", start_date="2026-01-01", end_date="2026-09-30",
             compare_to="previous_year"),
     figure=fig("revenue", row={"category": "GARDEN & OUTDOOR"}, stores=[SEA], categories=["GARDEN & OUTDOOR"],
                start="2026-01-01", end="2026-09-30"))
case(M, "store:seattle", "What were my best-selling products by units in August 2026? Top 10.",
     summary(vary=OWN, group_by="product", metrics="units", order_by="units", top_n=10,
             start_date="2026-08-01", end_date="2026-08-31"),
     figure=fig("units", stores=[SEA], start="2026-08-01", end="2026-08-31"))
case(M, "store:seattle", "Units sold per year since 2020 at my store, please.",
     trend(vary=(*OWN, "start_date", "end_date"), period="year"),
     figure=fig("units", point="2022", stores=[SEA], start="2022-01-01", end="2022-12-31"))
case(M, "store:seattle", "What's the gross margin in dollars for hardware at my store in 2024?",
     summary(vary=(*OWN, "group_by"), group_by="category", metrics="gross_margin", categories=["HARDWARE"],
             **dates(Y24)),
     figure=fig("gross_margin", stores=[SEA], categories=["HARDWARE"], **Y24))
case(M, "store:tacoma", "How did Tacoma do in 2025, category by category?",
     summary(vary=OWN, group_by="category", **dates(Y25)),
     figure=fig("revenue", row={"category": "HAND TOOLS"}, stores=[TAC], categories=["HAND TOOLS"], **Y25))
case(M, "store:tacoma", "Quarterly revenue trend for my store over the last two full years (2024 and 2025).",
     trend(vary=OWN, period="quarter", start_date="2024-01-01", end_date="2025-12-31"),
     figure=fig("revenue", point="2024-Q4", stores=[TAC], start="2024-10-01", end="2024-12-31"))
case(M, "store:tacoma", "How many units of lumber did we move in Q1 2026?",
     summary(vary=(*OWN, "group_by"), group_by="category", metrics="units",
             categories=["LUMBER & BUILDING MATERIALS"], start_date="2026-01-01", end_date="2026-03-31"),
     figure=fig("units", stores=[TAC], categories=["LUMBER & BUILDING MATERIALS"], start="2026-01-01",
                end="2026-03-31"))
case(M, "store:tacoma", "Show paint & finishes sales per month for 2025, split by product type.",
     trend(vary=OWN, period="month", categories=["PAINT & FINISHES"], split_by="product_type", **dates(Y25)),
     figure=fig("revenue", point="2025-06", stores=[TAC], categories=["PAINT & FINISHES"], start="2025-06-01",
                end="2025-06-30"))
case(M, "store:tacoma", "What's low in stock in my garden & outdoor section?",
     call("get_low_stock_items", vary=(*OWN, "max_rows", "threshold"), category="GARDEN & OUTDOOR"),
     alternatives=[[call("inventory_health", vary=(*OWN, "max_rows"), category="GARDEN & OUTDOOR")]])
case(M, "store:tacoma", "Average order value at my store in 2024 versus 2023?",
     summary(vary=(*OWN, "group_by"), group_by="year", metrics="average_order_value", **dates(Y24),
             compare_to="previous_year"),
     alternatives=[[summary(vary=OWN, group_by="year", metrics="average_order_value", start_date="2023-01-01",
                            end_date="2024-12-31")]],
     figure=fig("average_order_value", stores=[TAC], **Y24))
case(M, "store:tacoma", "Which months are strongest for garden products at my store?",
     call("seasonal_profile", vary=OWN, category="GARDEN & OUTDOOR"))
case(M, "store:bellevue", "Revenue at my store in March 2026?",
     summary(vary=(*OWN, "group_by"), group_by="month", start_date="2026-03-01", end_date="2026-03-31"),
     figure=fig("revenue", stores=[BEL], start="2026-03-01", end="2026-03-31"))
case(M, "store:bellevue", "How many orders per month did we have in the first half of 2026?",
     summary(vary=OWN, group_by="month", metrics="orders", start_date="2026-01-01", end_date="2026-06-30"),
     alternatives=[[trend(vary=OWN, period="month", start_date="2026-01-01", end_date="2026-06-30")]],
     figure=fig("orders", row={"month": "2026-02"}, stores=[BEL], start="2026-02-01", end="2026-02-28"))
case(M, "store:bellevue", "Which SKUs in plumbing are at risk of running out here?",
     call("inventory_health", vary=(*OWN, "max_rows"), category="PLUMBING"))
case(M, "store:bellevue", "Discounts given per category in 2025 at my store.",
     summary(vary=OWN, group_by="category", metrics="discount_total", **dates(Y25)),
     figure=fig("discount_total", row={"category": "ELECTRICAL"}, stores=[BEL], categories=["ELECTRICAL"],
                **Y25))
case(M, "store:bellevue", "Where in the store is the Universal 2 in Toilet Flapper, and how many are there?",
     call("get_products_by_name", vary=("max_rows",), product_name="toilet flapper"),
     call("get_inventory", vary=OWN, sku="PLTO000901"),
     alternatives=[[call("semantic_search_products", vary=("max_rows", "mode", "in_stock_only", "category",
                                                           "query_description"),
                         query_description="universal 2 in toilet flapper"),
                    call("get_inventory", vary=OWN, sku="PLTO000901")]],
     figure=stock_fig("PLTO000901", BEL))
case(M, "store:spokane", "Give me this store's revenue for each year since 2020.",
     trend(vary=(*OWN, "start_date", "end_date"), period="year"),
     alternatives=[[summary(vary=(*OWN, "start_date", "end_date"), group_by="year")]],
     figure=fig("revenue", point="2021", stores=[SPO], start="2021-01-01", end="2021-12-31"))
case(M, "store:spokane", "How much hand tools revenue did we make in December 2025?",
     summary(vary=(*OWN, "group_by"), group_by="category", categories=["HAND TOOLS"], start_date="2025-12-01",
             end_date="2025-12-31"),
     figure=fig("revenue", stores=[SPO], categories=["HAND TOOLS"], start="2025-12-01", end="2025-12-31"))
case(M, "store:spokane", "What share of our 2025 revenue came from each product type in storage & organization?",
     summary(vary=OWN, group_by="product_type", categories=["STORAGE & ORGANIZATION"], **dates(Y25)),
     figure=fig("revenue", row={"product_type": "SHELVING"}, stores=[SPO], product_types=["SHELVING"], **Y25))
case(M, "store:spokane", "Which products haven't been selling but are taking up stock?",
     call("inventory_health", vary=(*OWN, "max_rows", "category")))
case(M, "store:kirkland", "Gross margin % by category for Q2 2026 against Q2 2025.",
     summary(vary=OWN, group_by="category", metrics="gross_margin_percent", start_date="2026-04-01",
             end_date="2026-06-30", compare_to="previous_year"),
     figure=fig("gross_margin_percent", row={"category": "HARDWARE"}, stores=[KIR], categories=["HARDWARE"],
                start="2026-04-01", end="2026-06-30"))
case(M, "store:kirkland", "How many faucets (PLFC000301) did we sell last year, 2025?",
     summary(vary=(*OWN, "group_by"), group_by="product", metrics="units", skus=["PLFC000301"], **dates(Y25)),
     figure=fig("units", stores=[KIR], skus=["PLFC000301"], **Y25))
case(M, "store:redmond", "Redmond's revenue by month for the summer of 2025 (June to August).",
     summary(vary=OWN, group_by="month", start_date="2025-06-01", end_date="2025-08-31"),
     alternatives=[[trend(vary=OWN, period="month", start_date="2025-06-01", end_date="2025-08-31")]],
     figure=fig("revenue", row={"month": "2025-07"}, stores=[RED], start="2025-07-01", end="2025-07-31"))
case(M, "store:redmond", "What's today's date? I need to plan this month's review.",
     call("get_current_utc_date"))
case(M, "store:everett", "Total revenue, units and orders at my store for all of 2024.",
     summary(vary=(*OWN, "group_by"), group_by="year", metrics=["revenue", "units", "orders"], **dates(Y24)),
     figure=fig("units", stores=[EVE], **Y24))
case(M, "store:everett", "Seasonality of my store's revenue overall: which months peak?",
     call("seasonal_profile", vary=(*OWN, "category")))

# --- a head-office analyst -------------------------------------------------------------------------------------
A, HQ = "analyst", "head-office"

case(A, HQ, "Revenue by store for 2025.",
     summary(group_by="store", **dates(Y25)),
     figure=fig("revenue", row={"store": NAME[SEA]}, stores=[SEA], **Y25))
case(A, HQ, "Revenue, units and gross margin % by store and category for Q3 2025 against Q3 2024.",
     summary(group_by=["store", "category"], metrics=["revenue", "units", "gross_margin_percent"],
             start_date="2025-07-01", end_date="2025-09-30", compare_to="previous_year", top_n=100),
     figure=fig("revenue", row={"store": NAME[BEL], "category": "PLUMBING"}, stores=[BEL], categories=["PLUMBING"],
                start="2025-07-01", end="2025-09-30"))
case(A, HQ, "How much did the online store sell in 2025?",
     summary(vary=("group_by",), group_by="store", stores=["Online"], **dates(Y25)),
     figure=fig("revenue", stores=[ONL], **Y25))
case(A, HQ, "Show the yearly revenue trend for the whole chain since 2020.",
     trend(vary=("start_date", "end_date"), period="year"),
     figure=fig("revenue", point="2023", start="2023-01-01", end="2023-12-31"))
case(A, HQ, "Quarterly revenue trend for garden & outdoor in 2024.",
     trend(period="quarter", categories=["GARDEN & OUTDOOR"], **dates(Y24)),
     figure=fig("revenue", point="2024-Q2", categories=["GARDEN & OUTDOOR"], start="2024-04-01", end="2024-06-30"))
case(A, HQ, "Monthly revenue in 2025 with one line per store.",
     trend(period="month", split_by="store", **dates(Y25)),
     figure=fig("revenue", point="2025-03", series=NAME[TAC], stores=[TAC], start="2025-03-01", end="2025-03-31"))
case(A, HQ, "Which store had the highest average order value in 2025?",
     summary(group_by="store", metrics="average_order_value", **dates(Y25)),
     figure=fig("average_order_value", row={"store": NAME[SEA]}, stores=[SEA], **Y25))
case(A, HQ, "Discount totals by category for 2024.",
     summary(group_by="category", metrics="discount_total", **dates(Y24)),
     figure=fig("discount_total", row={"category": "POWER TOOLS"}, categories=["POWER TOOLS"], **Y24))
case(A, HQ, "Gross margin in dollars per category for 2025, highest first.",
     summary(group_by="category", metrics="gross_margin", **dates(Y25)),
     figure=fig("gross_margin", row={"category": "ELECTRICAL"}, categories=["ELECTRICAL"], **Y25))
case(A, HQ, "Total chain revenue in 2025 compared with 2024.",
     summary(vary=("group_by",), group_by="year", **dates(Y25), compare_to="previous_year"),
     alternatives=[[summary(group_by="year", start_date="2024-01-01", end_date="2025-12-31")]],
     figure=fig("revenue", **Y25))
case(A, HQ, "How many orders did the chain take each quarter of 2025?",
     summary(group_by="quarter", metrics="orders", **dates(Y25)),
     alternatives=[[trend(period="quarter", **dates(Y25))]],
     figure=fig("orders", row={"quarter": "2025-Q3"}, start="2025-07-01", end="2025-09-30"))
case(A, HQ, "Which plumbing product types grew most in 2025 against 2024?",
     summary(group_by="product_type", categories=["PLUMBING"], compare_to="previous_year", **dates(Y25)),
     figure=fig("revenue", row={"product_type": "FAUCETS"}, product_types=["FAUCETS"], **Y25))
case(A, HQ, "Combined revenue of Seattle and Bellevue in March 2026.",
     summary(vary=("group_by",), group_by="store", stores=["Seattle", "Bellevue"], start_date="2026-03-01",
             end_date="2026-03-31"),
     figure=fig("revenue", stores=[SEA, BEL], start="2026-03-01", end="2026-03-31"))
case(A, HQ, "Units sold of PTDR000002 and PTDR000005 per store in 2025.",
     summary(group_by=["store", "product"], metrics="units", skus=["PTDR000002", "PTDR000005"], **dates(Y25),
             top_n=100),
     figure=fig("units", skus=["PTDR000002", "PTDR000005"], **Y25))
case(A, HQ, "Revenue per month for electrical across the chain in the first half of 2026.",
     summary(group_by="month", categories=["ELECTRICAL"], start_date="2026-01-01", end_date="2026-06-30"),
     alternatives=[[trend(period="month", categories=["ELECTRICAL"], start_date="2026-01-01",
                          end_date="2026-06-30")]],
     figure=fig("revenue", row={"month": "2026-04"}, categories=["ELECTRICAL"], start="2026-04-01",
                end="2026-04-30"))
case(A, HQ, "Revenue by category and quarter for 2024.",
     summary(group_by=["category", "quarter"], **dates(Y24), top_n=100),
     figure=fig("revenue", row={"category": "HARDWARE", "quarter": "2024-Q3"}, categories=["HARDWARE"],
                start="2024-07-01", end="2024-09-30"))
case(A, HQ, "What was the gross margin % for the whole chain in 2023?",
     summary(vary=("group_by",), group_by="year", metrics="gross_margin_percent", start_date="2023-01-01",
             end_date="2023-12-31"),
     figure=fig("gross_margin_percent", start="2023-01-01", end="2023-12-31"))
case(A, HQ, "Tacoma's units by product type in hand tools during 2025.",
     summary(group_by="product_type", metrics="units", stores=["Tacoma"], categories=["HAND TOOLS"],
             **dates(Y25)),
     figure=fig("units", row={"product_type": "HAMMERS"}, stores=[TAC], product_types=["HAMMERS"], **Y25))
case(A, HQ, "Kirkland vs Redmond: revenue in Q4 2025.",
     summary(group_by="store", stores=["Kirkland", "Redmond"], start_date="2025-10-01", end_date="2025-12-31"),
     figure=fig("revenue", row={"store": NAME[KIR]}, stores=[KIR], start="2025-10-01", end="2025-12-31"))
case(A, HQ, "Revenue trend by category per quarter across 2025.",
     trend(period="quarter", split_by="category", **dates(Y25)),
     figure=fig("revenue", point="2025-Q2", series="PLUMBING", categories=["PLUMBING"], start="2025-04-01",
                end="2025-06-30"))
case(A, HQ, "Revenue for the partial period 10 to 20 October 2026 for the chain.",
     summary(vary=("group_by",), group_by="store", start_date="2026-10-10", end_date="2026-10-20"),
     figure=fig("revenue", start="2026-10-10", end="2026-10-20"))
case(A, HQ, "Everett's revenue in the week of 5 to 11 October 2026, by category.",
     summary(group_by="category", stores=["Everett"], start_date="2026-10-05", end_date="2026-10-11"),
     figure=fig("revenue", stores=[EVE], start="2026-10-05", end="2026-10-11"))
case(A, HQ, "Units of interior paint sold chain-wide in 2025.",
     summary(vary=("group_by",), group_by="product_type", metrics="units", product_types=["INTERIOR PAINT"],
             **dates(Y25)),
     figure=fig("units", product_types=["INTERIOR PAINT"], **Y25))
case(A, HQ, "Orders per store in 2024.",
     summary(group_by="store", metrics="orders", **dates(Y24)),
     figure=fig("orders", row={"store": NAME[KIR]}, stores=[KIR], **Y24))
case(A, HQ, "Seasonal profile of garden & outdoor across all stores.",
     call("seasonal_profile", category="GARDEN & OUTDOOR", vary=("stores",)))
case(A, HQ, "Stock health of power tools at Spokane: what runs out first, what doesn't move?",
     call("inventory_health", vary=("max_rows",), store="Spokane", category="POWER TOOLS"))
case(A, HQ, "What collections are there and what fields do orders have?",
     call("get_collection_schemas", vary=("collections",), collections=["orders"]))
case(A, HQ, "Describe the sales_monthly rollup: its fields and what they mean.",
     call("get_collection_schemas", collections=["sales_monthly"]))
case(A, HQ, "How many orders are there in each status?",
     call("run_aggregation", vary=("pipeline", "max_rows"), collection="orders",
          pipeline=[{"$group": {"_id": "$status", "orders": {"$sum": 1}}}, {"$sort": {"orders": -1}}]))
case(A, HQ, "How many distinct customers ordered online in 2025?",
     call("run_aggregation", vary=("pipeline", "max_rows"), collection="orders",
          pipeline=[{"$match": {"store_id": "store_online", "order_date": {"$gte": "2025-01-01",
                                                                           "$lt": "2026-01-01"}}},
                    {"$group": {"_id": "$customer_id"}}, {"$count": "customers"}]))
case(A, HQ, "Which customers placed the most orders overall? Top 5 customer ids.",
     call("run_aggregation", vary=("pipeline", "max_rows"), collection="orders",
          pipeline=[{"$group": {"_id": "$customer_id", "orders": {"$sum": 1}}}, {"$sort": {"orders": -1}},
                    {"$limit": 5}]))
case(A, HQ, "Average number of lines per order in 2025?",
     call("run_aggregation", vary=("pipeline", "max_rows"), collection="order_items",
          pipeline=[{"$match": {"order_date": {"$gte": "2025-01-01", "$lt": "2026-01-01"}}},
                    {"$group": {"_id": "$order_id", "lines": {"$sum": 1}}},
                    {"$group": {"_id": None, "average": {"$avg": "$lines"}}}]))
case(A, HQ, "What is today's date in UTC?", call("get_current_utc_date"))
case(A, HQ, "Revenue so far this year compared with the same period last year.",
     today(),
     summary(vary=("group_by", "start_date", "end_date"), group_by="year", start_date="2026-01-01",
             end_date="2026-10-31", compare_to="previous_year"),
     figure=fig("revenue", start="2026-01-01", end="2026-10-31"))
case(A, HQ, "Sales by store last month.",
     today(),
     summary(vary=("start_date", "end_date"), group_by="store", start_date="2026-10-01", end_date="2026-10-31"),
     figure=fig("revenue", row={"store": NAME[ONL]}, stores=[ONL], start="2026-10-01", end="2026-10-31"))
case(A, HQ, "Items at risk of running out in the online store.",
     call("inventory_health", vary=("max_rows", "category"), store="Online"),
     alternatives=[[call("get_low_stock_items", vary=("max_rows", "threshold", "category"), store="Online")]])
case(A, HQ, "Low stock across all stores for electrical items.",
     call("get_low_stock_items", vary=("max_rows", "threshold"), category="ELECTRICAL"),
     alternatives=[[call("inventory_health", vary=("max_rows",), category="ELECTRICAL")]])
case(A, HQ, "Seasonality of plumbing at Seattle and Tacoma together.",
     call("seasonal_profile", category="PLUMBING", stores=["Seattle", "Tacoma"]))
case(A, HQ, "Top 15 products by revenue in 2025 chain-wide.",
     summary(group_by="product", top_n=15, **dates(Y25)),
     figure=fig("revenue", **Y25))
case(A, HQ, "Average order value by month in 2025 for the online store.",
     summary(group_by="month", metrics="average_order_value", stores=["Online"], **dates(Y25)),
     figure=fig("average_order_value", row={"month": "2025-11"}, stores=[ONL], start="2025-11-01",
                end="2025-11-30"))
case(A, HQ, "Revenue for drills and impact drivers by store in 2025.",
     summary(group_by="store", product_types=["DRILLS", "IMPACT DRIVERS"], **dates(Y25)),
     figure=fig("revenue", row={"store": NAME[SPO]}, stores=[SPO], product_types=["DRILLS", "IMPACT DRIVERS"],
                **Y25))
case(A, HQ, "Monthly units for hoses and sprinklers in 2025.",
     trend(period="month", categories=["GARDEN & OUTDOOR"], split_by="product_type", **dates(Y25)),
     alternatives=[[summary(group_by=["month", "product_type"], metrics="units",
                            product_types=["HOSES", "SPRINKLERS"], **dates(Y25))]],
     figure=fig("units", point="2025-05", categories=["GARDEN & OUTDOOR"], start="2025-05-01", end="2025-05-31"))
case(A, HQ, "Gross margin by store for the first quarter of 2026 against the quarter before.",
     summary(group_by="store", metrics="gross_margin", start_date="2026-01-01", end_date="2026-03-31",
             compare_to="previous_period"),
     figure=fig("gross_margin", row={"store": NAME[RED]}, stores=[RED], start="2026-01-01", end="2026-03-31"))
case(A, HQ, "What were total discounts chain-wide in 2022?",
     summary(vary=("group_by",), group_by="year", metrics="discount_total", start_date="2022-01-01",
             end_date="2022-12-31"),
     figure=fig("discount_total", start="2022-01-01", end="2022-12-31"))
case(A, HQ, "Which stores sell the most lumber? 2025 revenue by store for lumber & building materials.",
     summary(group_by="store", categories=["LUMBER & BUILDING MATERIALS"], **dates(Y25)),
     figure=fig("revenue", row={"store": NAME[EVE]}, stores=[EVE], categories=["LUMBER & BUILDING MATERIALS"],
                **Y25))
case(A, HQ, "Find products matching 'cordless drill' so I can analyse them.",
     call("semantic_search_products", vary=("max_rows", "mode", "in_stock_only", "category", "similarity_threshold"),
          query_description="cordless drill"),
     alternatives=[[call("get_products_by_name", vary=("max_rows",), product_name="cordless drill")]])
case(A, HQ, "Product details for SKU GOSK001101 (price and cost).",
     call("get_product_details", sku="GOSK001101"))

# --- a sales rep on the floor ----------------------------------------------------------------------------------
R = "sales_rep"
SEARCH_VARY = ("max_rows", "mode", "in_stock_only", "category", "similarity_threshold", "query_description")

case(R, "store:seattle", "A customer says their toilet keeps running after flushing. What can we sell them?",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="toilet keeps running after flushing"))
case(R, "store:seattle", "Someone needs something to unclog a bathroom sink drain.",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="unclog a bathroom sink drain"))
case(R, "store:seattle", "Do we carry a 20 amp circuit breaker?",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="20 amp circuit breaker"),
     alternatives=[[call("get_products_by_name", vary=("max_rows", "product_name"), product_name="20 amp")]])
case(R, "store:seattle", "Customer is looking for a cordles dril for light jobs around the house.",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="cordless drill for light jobs"))
case(R, "store:seattle", "Is the Zava Pro 20V hammer drill in stock here?",
     call("get_products_by_name", vary=("max_rows", "product_name"), product_name="hammer drill"),
     call("get_inventory", vary=("store",), sku="PTDR000002"),
     alternatives=[[call("semantic_search_products", vary=SEARCH_VARY, query_description="Zava Pro 20V hammer drill"),
                    call("get_inventory", vary=("store",), sku="PTDR000002")]],
     figure=stock_fig("PTDR000002", SEA))
case(R, "store:seattle", "What does PFIP000002 cost and what are its specifications?",
     call("get_product_details", sku="PFIP000002"))
case(R, "store:seattle", "How many PTDR000001 do we have on the shelf and where?",
     call("get_inventory", vary=("store",), sku="PTDR000001"), figure=stock_fig("PTDR000001", SEA))
case(R, "store:seattle", "Find the customer with the e-mail lauren.hale.3@example.com.",
     call("find_customers", vary=("max_rows",), query="lauren.hale.3@example.com"))
case(R, "store:seattle", "Look up the customer whose phone is (360) 232-8077.",
     call("find_customers", vary=("max_rows",), query="(360) 232-8077"))
case(R, "store:seattle", "What has Matthew Smith bought from us recently?",
     call("find_customers", vary=("max_rows",), query="Matthew Smith"),
     call("get_customer_orders", vary=("max_rows",), customer_id="cust_000010"))
case(R, "store:seattle", "Show me cust_000021's last orders.",
     call("get_customer_orders", vary=("max_rows",), customer_id="cust_000021"))
case(R, "store:seattle", "Ring up 2 toilet flappers PLTO000901 for customer cust_000003 here in Seattle.",
     call("create_order", vary=("idempotency_key", "store"), customer_id="cust_000003", store="Seattle",
          items=[{"sku": "PLTO000901", "quantity": 2}], idempotency_key="eval-sr-order-1"))
case(R, "store:seattle", "Customer cust_000006 wants one PTDR000001 drill kit and two HTHM001600 hammers.",
     call("create_order", vary=("idempotency_key", "store"), customer_id="cust_000006", store="Seattle",
          items=[{"sku": "PTDR000001", "quantity": 1}, {"sku": "HTHM001600", "quantity": 2}],
          idempotency_key="eval-sr-order-2"))
case(R, "store:seattle", "Order ord_00008050 is coming back: one GOSE000901 is damaged. Take it back.",
     call("return_items", vary=("idempotency_key", "reason"), order_id="ord_00008050",
          items=[{"sku": "GOSE000901", "quantity": 1}], reason="damaged", idempotency_key="eval-sr-return-1"))
case(R, "store:seattle", "Cancel order ord_00008054, the customer changed their mind.",
     call("cancel_order", vary=("idempotency_key", "reason"), order_id="ord_00008054",
          reason="customer changed their mind", idempotency_key="eval-sr-cancel-1"))
case(R, "store:seattle", "Do we have any garden hoses in stock?",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="garden hose", in_stock_only=True),
     alternatives=[[call("get_products_by_name", vary=("max_rows",), product_name="hose")]])
case(R, "store:seattle", "A customer wants paint for a bathroom that won't get mouldy.",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="mold resistant bathroom paint"))
case(R, "store:seattle", "Search our catalog for 'deadbolt'.",
     call("get_products_by_name", vary=("max_rows",), product_name="deadbolt"),
     alternatives=[[call("semantic_search_products", vary=SEARCH_VARY, query_description="deadbolt")]])
case(R, "store:seattle", "Which other stores have the Ridgeline hand crank drain auger PLDC000201 in stock?",
     call("get_product_details", sku="PLDC000201"),
     alternatives=[[call("get_inventory", sku="PLDC000201")]])
case(R, "store:tacoma", "A contractor needs exterior deck screws, what do we have?",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="exterior deck screws"))
case(R, "store:tacoma", "Find customer Aaron Hood.",
     call("find_customers", vary=("max_rows",), query="Aaron Hood"))
case(R, "store:tacoma", "Sell 3 PLTO000903 fill valves to cust_000013 at Tacoma.",
     call("create_order", vary=("idempotency_key", "store"), customer_id="cust_000013", store="Tacoma",
          items=[{"sku": "PLTO000903", "quantity": 3}], idempotency_key="eval-sr-order-3"))
case(R, "store:tacoma", "Order ord_00008059: the customer is returning the PLPV000702, it was the wrong size.",
     call("return_items", vary=("idempotency_key", "reason"), order_id="ord_00008059",
          items=[{"sku": "PLPV000702", "quantity": 1}], reason="wrong size", idempotency_key="eval-sr-return-2"))
case(R, "store:tacoma", "Please cancel ord_00008060.",
     call("cancel_order", vary=("idempotency_key", "reason"), order_id="ord_00008060", reason="requested by customer",
          idempotency_key="eval-sr-cancel-2"))
case(R, "store:tacoma", "Something to stop a dripping outdoor tap?",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="stop a dripping outdoor faucet"))
case(R, "store:tacoma", "How much is the 50 ft expandable garden hose, and do we have it?",
     call("get_products_by_name", vary=("max_rows", "product_name"), product_name="expandable garden hose"),
     alternatives=[[call("semantic_search_products", vary=SEARCH_VARY,
                         query_description="50 ft expandable garden hose")]])
case(R, "store:bellevue", "Look up customer Cassandra Collins and her orders.",
     call("find_customers", vary=("max_rows",), query="Cassandra Collins"),
     call("get_customer_orders", vary=("max_rows",), customer_id="cust_000012"))
case(R, "store:bellevue", "Sell one PFPR000005 metal primer to cust_000015.",
     call("create_order", vary=("idempotency_key", "store"), customer_id="cust_000015", store="Bellevue",
          items=[{"sku": "PFPR000005", "quantity": 1}], idempotency_key="eval-sr-order-4"))
case(R, "store:bellevue", "Order ord_00008044: take back the ELCB015101 breaker, customer bought the wrong one.",
     call("return_items", vary=("idempotency_key", "reason"), order_id="ord_00008044",
          items=[{"sku": "ELCB015101", "quantity": 1}], reason="wrong breaker",
          idempotency_key="eval-sr-return-3"))
case(R, "store:bellevue", "A customer needs a light switch with a motion sensor.",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="motion sensor light switch"))
case(R, "store:online", "Mark online order ord_00008061 as shipped.",
     call("update_order_status", order_id="ord_00008061", status="shipped"))
case(R, "store:online", "Order ord_00008040 was delivered today, update it.",
     call("update_order_status", order_id="ord_00008040", status="delivered"))
case(R, "store:online", "Cancel online order ord_00008062, it hasn't shipped yet.",
     call("cancel_order", vary=("idempotency_key", "reason"), order_id="ord_00008062",
          reason="customer cancelled before shipping", idempotency_key="eval-sr-cancel-3"))
case(R, "store:online", "What's the status of customer cust_000996's online order?",
     call("get_customer_orders", vary=("max_rows",), customer_id="cust_000996"))
case(R, "store:spokane", "Customer asks for the best wood stain for an outdoor fence.",
     call("semantic_search_products", vary=SEARCH_VARY, query_description="wood stain for outdoor fence"))
case(R, "store:spokane", "Sell two GOSK001101 sprinklers to cust_000026 at Spokane.",
     call("create_order", vary=("idempotency_key", "store"), customer_id="cust_000026", store="Spokane",
          items=[{"sku": "GOSK001101", "quantity": 2}], idempotency_key="eval-sr-order-5"))
case(R, "store:spokane", "Full details of the Oscillating Lawn Sprinkler, please.",
     call("get_products_by_name", vary=("max_rows", "product_name"), product_name="oscillating lawn sprinkler"),
     call("get_product_details", sku="GOSK001101"),
     alternatives=[[call("semantic_search_products", vary=SEARCH_VARY, query_description="oscillating lawn sprinkler"),
                    call("get_product_details", sku="GOSK001101")]])
case(R, "store:kirkland", "Do we have the Cascade kitchen faucet PLFC000301 here?",
     call("get_inventory", vary=("store",), sku="PLFC000301"), figure=stock_fig("PLFC000301", KIR))
case(R, "store:kirkland", "Customer wants to return 2 of the 4 PLFC000301 faucets from ord_00007895.",
     call("return_items", vary=("idempotency_key", "reason"), order_id="ord_00007895",
          items=[{"sku": "PLFC000301", "quantity": 2}], reason="bought too many",
          idempotency_key="eval-sr-return-4"))

# --- a stock worker --------------------------------------------------------------------------------------------
W = "stock_worker"

case(W, "store:seattle", "Where is PLTO000903 kept in this store?",
     call("get_inventory", vary=("store",), sku="PLTO000903"), figure=stock_fig("PLTO000903", SEA))
case(W, "store:seattle", "What's low in stock in electrical?",
     call("get_low_stock_items", vary=("max_rows", "threshold", "store"), category="ELECTRICAL"))
case(W, "store:seattle", "List everything with 5 units or fewer on hand.",
     call("get_low_stock_items", vary=("max_rows", "store"), threshold=5))
case(W, "store:seattle", "We moved PTDR000001 to aisle A03, shelf S2, bin B07.",
     call("move_inventory", vary=("store",), sku="PTDR000001", store="Seattle", aisle="A03", shelf="S2", bin="B07"))
case(W, "store:seattle", "I counted 14 units of HWCA001001 on the shelf.",
     call("update_stock_count", vary=("store",), sku="HWCA001001", store="Seattle", counted_quantity=14))
case(W, "store:seattle", "Delivery PO-2026-0412 arrived with 40 units of PLTO000901.",
     call("receive_stock", vary=("store",), sku="PLTO000901", store="Seattle", quantity=40, reference="PO-2026-0412"))
case(W, "store:seattle", "Send 5 units of ELCB020102 from Seattle over to Tacoma.",
     call("transfer_stock", vary=("idempotency_key",), sku="ELCB020102", from_store="Seattle", to_store="Tacoma",
          quantity=5, idempotency_key="eval-sw-transfer-1"))
case(W, "store:seattle", "How many ELCD100105 are left? The bin looks empty.",
     call("get_inventory", vary=("store",), sku="ELCD100105"), figure=stock_fig("ELCD100105", SEA))
case(W, "store:seattle", "Stock count for ELCD100105: there are actually 3 on the shelf.",
     call("update_stock_count", vary=("store",), sku="ELCD100105", store="Seattle", counted_quantity=3))
case(W, "store:seattle", "What are the product details of HWCA001001? I need to know what it looks like.",
     call("get_product_details", sku="HWCA001001"))
case(W, "store:seattle", "Which plumbing items are below 20 units?",
     call("get_low_stock_items", vary=("max_rows", "store"), category="PLUMBING", threshold=20))
case(W, "store:seattle", "Move the ELLF006003 stock to aisle A12, shelf S1, bin B09.",
     call("move_inventory", vary=("store",), sku="ELLF006003", store="Seattle", aisle="A12", shelf="S1", bin="B09"))
case(W, "store:seattle", "Find the SKU for the 3 ft toilet auger so I can shelve it.",
     call("get_products_by_name", vary=("max_rows", "product_name"), product_name="toilet auger"),
     alternatives=[[call("semantic_search_products", vary=SEARCH_VARY, query_description="3 ft toilet auger")]])
case(W, "store:tacoma", "Where do we keep ELET034202 and how many are there?",
     call("get_inventory", vary=("store",), sku="ELET034202"), figure=stock_fig("ELET034202", TAC))
case(W, "store:tacoma", "Low stock report for Tacoma, please.",
     call("get_low_stock_items", vary=("max_rows", "threshold", "store")))
case(W, "store:tacoma", "Counted ELSW000505: 11 on hand.",
     call("update_stock_count", vary=("store",), sku="ELSW000505", store="Tacoma", counted_quantity=11))
case(W, "store:tacoma", "Supplier delivery ACME-88213 just came in: 120 x HWHG003510.",
     call("receive_stock", vary=("store",), sku="HWHG003510", store="Tacoma", quantity=120, reference="ACME-88213"))
case(W, "store:tacoma", "Transfer 10 PTDR000001 drill kits from Tacoma to Kirkland.",
     call("transfer_stock", vary=("idempotency_key",), sku="PTDR000001", from_store="Tacoma", to_store="Kirkland",
          quantity=10, idempotency_key="eval-sw-transfer-2"))
case(W, "store:tacoma", "Put HWHG003510 in aisle A08, shelf S1, bin B01 from now on.",
     call("move_inventory", vary=("store",), sku="HWHG003510", store="Tacoma", aisle="A08", shelf="S1", bin="B01"))
case(W, "store:tacoma", "Which garden items are low?",
     call("get_low_stock_items", vary=("max_rows", "threshold", "store"), category="GARDEN & OUTDOOR"))
case(W, "store:bellevue", "How many PFWS000004 do we have, and where are they?",
     call("get_inventory", vary=("store",), sku="PFWS000004"), figure=stock_fig("PFWS000004", BEL))
case(W, "store:bellevue", "Recount of ELOT015303: we have 7.",
     call("update_stock_count", vary=("store",), sku="ELOT015303", store="Bellevue", counted_quantity=7))
case(W, "store:bellevue", "Receive 25 units of PFWS000004 on delivery note DN-55017.",
     call("receive_stock", vary=("store",), sku="PFWS000004", store="Bellevue", quantity=25, reference="DN-55017"))
case(W, "store:bellevue", "Move HWLK000303 to aisle A07, shelf S1, bin B02.",
     call("move_inventory", vary=("store",), sku="HWLK000303", store="Bellevue", aisle="A07", shelf="S1", bin="B02"))
case(W, "store:bellevue", "Send 4 ELOT015303 outlets to Redmond.",
     call("transfer_stock", vary=("idempotency_key",), sku="ELOT015303", from_store="Bellevue", to_store="Redmond",
          quantity=4, idempotency_key="eval-sw-transfer-3"))
case(W, "store:bellevue", "Anything in hardware under 10 units?",
     call("get_low_stock_items", vary=("max_rows", "store", "threshold"), category="HARDWARE", threshold=10))
case(W, "store:spokane", "Where's ELLF003004 on the floor?",
     call("get_inventory", vary=("store",), sku="ELLF003004"), figure=stock_fig("ELLF003004", SPO))
case(W, "store:spokane", "Count for GOOL000602: 18 units.",
     call("update_stock_count", vary=("store",), sku="GOOL000602", store="Spokane", counted_quantity=18))
case(W, "store:spokane", "Delivery PO-7781 came in with 60 ELSW000505 timer switches.",
     call("receive_stock", vary=("store",), sku="ELSW000505", store="Spokane", quantity=60, reference="PO-7781"))
case(W, "store:spokane", "What's the low stock list for paint & finishes?",
     call("get_low_stock_items", vary=("max_rows", "threshold", "store"), category="PAINT & FINISHES"))
case(W, "store:kirkland", "How many HWCA001001 are here?",
     call("get_inventory", vary=("store",), sku="HWCA001001"), figure=stock_fig("HWCA001001", KIR))
case(W, "store:kirkland", "Transfer 20 HWCA001001 from Kirkland to Seattle, they are short.",
     call("transfer_stock", vary=("idempotency_key",), sku="HWCA001001", from_store="Kirkland", to_store="Seattle",
          quantity=20, idempotency_key="eval-sw-transfer-4"))
case(W, "store:kirkland", "Shelf count of PLTO000901: 140.",
     call("update_stock_count", vary=("store",), sku="PLTO000901", store="Kirkland", counted_quantity=140))
case(W, "store:kirkland", "Move PLTO000901 to aisle A09, shelf S3, bin B11.",
     call("move_inventory", vary=("store",), sku="PLTO000901", store="Kirkland", aisle="A09", shelf="S3", bin="B11"))
case(W, "store:redmond", "Received 12 PTDR000004 hammer drills on PO-2026-0999.",
     call("receive_stock", vary=("store",), sku="PTDR000004", store="Redmond", quantity=12, reference="PO-2026-0999"))
case(W, "store:redmond", "Which tools are low in stock here?",
     call("get_low_stock_items", vary=("max_rows", "threshold", "store", "category")))
case(W, "store:everett", "Where is LBDW580408 stored and how much is there?",
     call("get_inventory", vary=("store",), sku="LBDW580408"), figure=stock_fig("LBDW580408", EVE))
case(W, "store:everett", "Counted LBDW580408 drywall: 64 sheets.",
     call("update_stock_count", vary=("store",), sku="LBDW580408", store="Everett", counted_quantity=64))

# The store devices' offline conflicts (#28): a manager's questions.
case(M, "store:seattle", "Did the tills' offline sales leave any sync conflicts I need to sort out?",
     call("list_sync_conflicts", vary=(*OWN, "max_rows", "status")))
case(M, "store:seattle", "Which sync conflicts have we already resolved here?",
     call("list_sync_conflicts", vary=(*OWN, "max_rows"), status="resolved"),
     alternatives=[[call("list_sync_conflicts", vary=(*OWN, "max_rows"), status="all")]])


def main() -> None:
    # The dataset the entities come from: `python -m seeding --scale small --seed 424242 --as-of 2026-11-01`.
    OUT.write_text(json.dumps({"about": __doc__.split("\n\n")[2].replace("\n", " "), "scale": "small",
                               "seed": 424242, "as_of": "2026-11-01", "cases": CASES},
                              indent=1, ensure_ascii=False) + "\n")
    counts = {persona: sum(c["persona"] == persona for c in CASES) for persona in PREFIX}
    figures = sum("figure" in c and c["figure"]["metric"] != "stock_level" for c in CASES)
    print(f"wrote {len(CASES)} cases to {OUT.relative_to(OUT.parents[2])}: {counts}; {figures} analysis figures")


if __name__ == "__main__":
    main()
