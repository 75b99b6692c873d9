"""The typed sales-analysis tools, one module each; this module gathers them for the servers and callers.

| tool | module |
|---|---|
| `sales_summary` | `summary` (dimensions and filters in `grouping`, metrics in `metrics`) |
| `sales_trend` | `trend` |
| `seasonal_profile` | `seasonality` |
| `inventory_health` | `stock_health` |

Dates are split into whole months and partial edges in `window`; the in-memory rollup is `cube`.
"""

from __future__ import annotations

from zava_core.analysis.grouping import DIMENSIONS
from zava_core.analysis.metrics import METRICS
from zava_core.analysis.seasonality import MONTH_NAMES, MonthShare, SeasonalProfile, seasonal_profile
from zava_core.analysis.stock_health import (
    AT_RISK_DAYS,
    CRITICAL_DAYS,
    InventoryHealth,
    StockHealthItem,
    inventory_health,
    stock_state,
)
from zava_core.analysis.summary import SalesSummary, SummaryRow, load_cube, sales_summary
from zava_core.analysis.trend import PERIODS, SPLITS, SalesTrend, TrendPoint, TrendSeries, sales_trend
from zava_core.analysis.window import COMPARISONS
from zava_core.context import Zava

GROUPINGS = DIMENSIONS

__all__ = [
    "AT_RISK_DAYS", "COMPARISONS", "CRITICAL_DAYS", "GROUPINGS", "METRICS", "MONTH_NAMES", "PERIODS", "SPLITS",
    "InventoryHealth", "MonthShare", "SalesSummary", "SalesTrend", "SeasonalProfile", "StockHealthItem", "SummaryRow",
    "TrendPoint", "TrendSeries", "inventory_health", "sales_summary", "sales_trend", "seasonal_profile",
    "stock_state", "warm_cube",
]


async def warm_cube(zava: Zava) -> None:
    """Load the cube before the first question (the server runs this in the background at start)."""
    await load_cube(zava, await zava.reference.get())
