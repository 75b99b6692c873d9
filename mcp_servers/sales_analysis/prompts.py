"""The sales-analysis server's prompts: workflows a store manager or analyst starts from the host's menu.

| prompt | tools it expects |
|---|---|
| `weekly_store_review` | sales_summary, sales_trend, inventory_health |
| `category_deep_dive` | sales_summary, sales_trend, seasonal_profile |
| `restock_plan` | inventory_health, sales_summary, seasonal_profile |
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from mcp_servers.features.completions import register_completions
from mcp_servers.features.prompting import (
    CLOSING,
    CategoryArgument,
    DayArgument,
    MonthArgument,
    OptionalCategory,
    StoreArgument,
    prompt_reference,
    prompt_store,
    steps,
    today,
    zava_prompt,
)
from mcp_servers.runtime import caller
from mcp_servers.tools.names import ToolName
from zava_core.analysis.window import next_month
from zava_core.errors import InvalidArgument


def _uses(*tools: ToolName) -> str:
    return f"Uses {', '.join(tools)}."


def _call(tool: ToolName, **arguments: object) -> str:
    return f"`{tool}` {json.dumps({k: v for k, v in arguments.items() if v is not None})}"


def register_analysis_prompts(server: MCPServer) -> None:
    """The prompts, and completion of their store, category and SKU arguments."""
    caller.install(server)
    register_completions(server)

    @zava_prompt(server, title="Weekly store review", description=(
        "A store's week against the week before: categories, best sellers, the longer trend and stock at risk. " +
        _uses(ToolName.SALES_SUMMARY, ToolName.SALES_TREND, ToolName.INVENTORY_HEALTH)))
    async def weekly_store_review(store: StoreArgument = None, week_ending: DayArgument = None) -> str:
        ref, _ = await prompt_store(store)
        end = date.fromisoformat(week_ending) if week_ending else date.fromisoformat(today()) - timedelta(days=1)
        start, year_ago = end - timedelta(days=6), (end.replace(day=1) - timedelta(days=365)).replace(day=1)
        window = {"stores": [ref.short_name], "start_date": str(start), "end_date": str(end)}
        return (f"Review the week {start}..{end} of {ref.store_name} for its manager.\n\n" + steps([
            "What moved against the week before: " + _call(
                ToolName.SALES_SUMMARY, group_by=["category"],
                metrics=["revenue", "units", "orders", "gross_margin_percent"], compare_to="previous_period", **window),
            "Best sellers of the week: " + _call(ToolName.SALES_SUMMARY, group_by=["product"],
                                                 metrics=["revenue", "units"], top_n=10, **window),
            "The longer trend: " + _call(ToolName.SALES_TREND, period="month", stores=[ref.short_name],
                                         start_date=str(year_ago), end_date=str(end)),
            "Stock at risk and slow movers: " + _call(ToolName.INVENTORY_HEALTH, store=ref.short_name, max_rows=15),
            "Write the review: headline figures with their change, three things that went well, three to act "
            "on this week, and the items to restock first.",
        ]) + f"\n\n{CLOSING}")

    @zava_prompt(server, title="Category deep-dive", description=(
        "One category over a month range: product types, stores, best products, margin, the year before and "
        "its seasonality. " + _uses(ToolName.SALES_SUMMARY, ToolName.SALES_TREND, ToolName.SEASONAL_PROFILE)))
    async def category_deep_dive(
        category: CategoryArgument, start_month: MonthArgument, end_month: MonthArgument,
        store: StoreArgument = None,
    ) -> str:
        reference = await prompt_reference()
        name = reference.categories[reference.category_id(category)]["category_name"]
        if start_month > end_month:
            raise InvalidArgument(f"start_month {start_month} is after end_month {end_month}")
        stores = [(await prompt_store(store))[0].short_name] if store else None
        start = f"{start_month}-01"
        end = str(next_month(date.fromisoformat(f"{end_month}-01")) - timedelta(days=1))
        window = {"categories": [name], "stores": stores, "start_date": start, "end_date": end}
        where = f" at {stores[0]}" if stores else " across your stores"
        return (f"A deep-dive into {name}{where}, {start}..{end}.\n\n" + steps([
            "Product types against the year before: " + _call(
                ToolName.SALES_SUMMARY, group_by=["product_type"],
                metrics=["revenue", "units", "gross_margin_percent"], compare_to="previous_year", **window),
            "Where it sells: " + _call(ToolName.SALES_SUMMARY, group_by=["store"],
                                       metrics=["revenue", "average_order_value", "gross_margin_percent"], **window),
            "Best and weakest products by margin: " + _call(
                ToolName.SALES_SUMMARY, group_by=["product"], metrics=["gross_margin", "revenue", "discount_total"],
                top_n=15, **window),
            "Month by month, one line per product type: " + _call(
                ToolName.SALES_TREND, period="month", categories=[name], stores=stores, start_date=start, end_date=end,
                split_by="product_type"),
            "Its seasonality: " + _call(ToolName.SEASONAL_PROFILE, category=name, stores=stores),
            "Summarise: what grew or shrank and why it may have, margin pressure (discounts), where stores "
            "differ, and two or three actions for the buyer.",
        ]) + f"\n\n{CLOSING}")

    @zava_prompt(server, title="Restock plan", description=(
        "What a store should reorder: days of cover, recent demand per product and the season ahead. " +
        _uses(ToolName.INVENTORY_HEALTH, ToolName.SALES_SUMMARY, ToolName.SEASONAL_PROFILE)))
    async def restock_plan(
        store: StoreArgument = None, category: OptionalCategory = None,
        cover_days: Annotated[int, Field(ge=1, le=180, description="Days of stock to plan for")] = 21,
    ) -> str:
        ref, reference = await prompt_store(store)
        name = reference.categories[reference.category_id(category)]["category_name"] if category else None
        this_month = date.fromisoformat(today()).replace(day=1)
        first = (this_month - timedelta(days=1)).replace(day=1)
        for _ in range(2):
            first = (first - timedelta(days=1)).replace(day=1)
        last = this_month - timedelta(days=1)
        return (f"A restock plan for {ref.store_name}" + (f", {name}" if name else "") +
                f", covering {cover_days} days.\n\n" + steps([
                    "Items at risk of running out and slow movers: " + _call(
                        ToolName.INVENTORY_HEALTH, store=ref.short_name, category=name, max_rows=50),
                    "Demand of the last three full months per product: " + _call(
                        ToolName.SALES_SUMMARY, group_by=["product"], metrics=["units", "revenue"],
                        stores=[ref.short_name],
                        categories=[name] if name else None, start_date=str(first), end_date=str(last), top_n=50,
                        compare_to="previous_year"),
                    "The season ahead: " + _call(ToolName.SEASONAL_PROFILE, category=name, stores=[ref.short_name]),
                    f"For each item at risk, propose an order quantity: daily demand x {cover_days} days, scaled by "
                    "the coming months' seasonal index against the recent ones, minus the stock on hand (never "
                    "below zero). Give a table: SKU, product, stock, daily demand, days of cover, quantity to "
                    "order, and one line of reasoning. List slow movers not to reorder.",
                ]) + f"\n\n{CLOSING}")
