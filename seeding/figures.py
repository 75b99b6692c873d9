"""The reference figures of the Zava DIY dataset (docs/dataset.md section 1), as generation inputs.

These are the statistics the MongoDB version reproduces; `verify` checks the generated data
against them. The catalog itself (taxonomy and products) lives in `catalog/` as data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoreFigures:
    key: str  # id suffix and short name, lower case
    name: str
    customer_weight: int
    order_frequency: float
    order_value: float
    is_online: bool
    address: str
    city: str
    postal_code: str
    latitude: float
    longitude: float
    manager_name: str


STORES: tuple[StoreFigures, ...] = (
    StoreFigures("seattle", "Zava Retail Seattle", 30, 3.0, 1.30, False,
                 "1521 Westlake Ave", "Seattle", "98101", 47.6101, -122.3421, "Maya Thompson"),
    StoreFigures("bellevue", "Zava Retail Bellevue", 25, 2.6, 1.20, False,
                 "10455 NE 8th St", "Bellevue", "98004", 47.6163, -122.2006, "Daniel Okafor"),
    StoreFigures("tacoma", "Zava Retail Tacoma", 20, 2.4, 1.10, False,
                 "2502 S 38th St", "Tacoma", "98409", 47.2206, -122.4686, "Priya Raman"),
    StoreFigures("spokane", "Zava Retail Spokane", 8, 2.0, 1.00, False,
                 "808 W Main Ave", "Spokane", "99201", 47.6580, -117.4235, "Colin Murphy"),
    StoreFigures("everett", "Zava Retail Everett", 7, 1.8, 0.95, False,
                 "1402 SE Everett Mall Way", "Everett", "98208", 47.9098, -122.2101, "Ana Silva"),
    StoreFigures("redmond", "Zava Retail Redmond", 6, 1.6, 0.90, False,
                 "16495 NE 74th St", "Redmond", "98052", 47.6703, -122.1175, "Kenji Watanabe"),
    StoreFigures("kirkland", "Zava Retail Kirkland", 4, 1.4, 0.85, False,
                 "12410 120th Ave NE", "Kirkland", "98034", 47.7140, -122.1847, "Grace Lindqvist"),
    StoreFigures("online", "Zava Retail Online", 30, 3.0, 1.50, True,
                 "4300 Shilshole Ave NW (fulfilment)", "Seattle", "98107", 47.6610, -122.3840, "Omar Haddad"),
)

FIRST_YEAR = 2020
YEAR_WEIGHTS: dict[int, float] = {
    2020: 1.000, 2021: 1.100, 2022: 1.210, 2023: 1.150, 2024: 1.265, 2025: 1.392, 2026: 1.531,
}
# Years after the last reference year keep growing at the last year's rate.
YEAR_GROWTH_AFTER = 1.10

ORDERS_PER_CUSTOMER = ((0, 1, 2, 3, 4, 5), (20, 40, 20, 10, 7, 3))
ITEMS_PER_ORDER = ((1, 2, 3, 4, 5), (40, 30, 15, 10, 5))
QUANTITY_PER_LINE = ((1, 2, 3, 4, 5), (60, 25, 10, 3, 2))
DISCOUNT_SHARE = 0.15
DISCOUNT_PERCENTS = (5, 10, 15, 20, 25)
SEASONAL_CATEGORY_PICK = 0.85  # share of orders whose category is drawn by the month's seasonality
SAME_CATEGORY_LINE = 0.90  # share of lines from the order's category
HOME_STORE_SHARE = 0.70  # share of a customer's orders placed at the home store
PRICE_VARIATION = (0.8, 1.2)
GROSS_MARGIN = 0.33  # selling price = cost / (1 - margin)
STOCK_BASE = (10, 100)
STOCK_NOISE = (0.5, 1.5)
# A few rows are drawn low so the worker app's low-stock alerts have something to show (the
# reference formula never goes under ~18 units).
LOW_STOCK_SHARE = 0.03
LOW_STOCK_RANGE = (0, 12)

SCALES: dict[str, int] = {"small": 2_000, "default": 25_000, "full": 50_000}
DEFAULT_SEED = 20_240_601


def price_from_cost(cost: float) -> float:
    return round(cost / (1 - GROSS_MARGIN), 2)


def year_weight(year: int) -> float:
    if year in YEAR_WEIGHTS:
        return YEAR_WEIGHTS[year]
    last = max(YEAR_WEIGHTS)
    return YEAR_WEIGHTS[last] * YEAR_GROWTH_AFTER ** (year - last)
