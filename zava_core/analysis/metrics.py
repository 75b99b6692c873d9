"""The analysis metrics, each computed from a measure vector of the cube (`cube.M`), in one place."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import WithJsonSchema

from zava_core.analysis.cube import M
from zava_core.errors import InvalidArgument

METRICS = ("revenue", "units", "orders", "average_order_value", "gross_margin", "gross_margin_percent",
           "discount_total")
NEEDS_ORDERS = frozenset({"orders", "average_order_value"})
COUNTS = frozenset({"units", "orders"})
# Counts stay integers on the wire; the schema says "number" (not anyOf integer|number), because clients
# validate every result against the output schema and a union per value costs them ~4x more per row.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


def metric_raw(vector: np.ndarray, metric: str) -> float:
    """The metric before rounding (changes are computed from these, not from rounded figures)."""
    revenue, orders, cost = float(vector[M["revenue"]]), float(vector[M["orders"]]), float(vector[M["cost"]])
    if metric == "revenue":
        return revenue
    if metric == "units":
        return float(vector[M["units"]])
    if metric == "orders":
        return orders
    if metric == "average_order_value":
        return revenue / orders if orders else 0.0
    if metric == "gross_margin":
        return revenue - cost
    if metric == "gross_margin_percent":
        return (revenue - cost) / revenue * 100 if revenue else 0.0
    if metric == "discount_total":
        return float(vector[M["discount"]])
    raise InvalidArgument(f"metric must be one of {', '.join(METRICS)}")


def metric_value(vector: np.ndarray, metric: str) -> Number:
    """Counts as integers, money and percentages to two decimals."""
    value = metric_raw(vector, metric)
    return round(value) if metric in COUNTS else round(value, 2)


def metric_values(vector: np.ndarray | None, metrics: tuple[str, ...]) -> dict[str, Number]:
    if vector is None:
        vector = np.zeros(len(M))
    return {m: metric_value(vector, m) for m in metrics}


def changes(vector: np.ndarray | None, before: np.ndarray | None, metrics: tuple[str, ...]) -> dict[str, float | None]:
    zero = np.zeros(len(M))
    return {m: change_percent(metric_raw(zero if vector is None else vector, m),
                              metric_raw(zero if before is None else before, m)) for m in metrics}


def change_percent(value: Number, before: Number | None) -> float | None:
    """Relative change in percent, one decimal; None when there is nothing to compare with."""
    return round((value - before) / abs(before) * 100, 1) if before else None


def validate_metrics(metrics: str | list[str] | tuple[str, ...] | None, max_metrics: int) -> tuple[str, ...]:
    chosen = ("revenue",) if not metrics else ((metrics,) if isinstance(metrics, str) else tuple(metrics))
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise InvalidArgument(f"metrics must be among {', '.join(METRICS)} (got {', '.join(map(str, unknown))})")
    if len(chosen) > max_metrics or len(set(chosen)) != len(chosen):
        raise InvalidArgument(f"metrics takes up to {max_metrics} different metrics, got {list(chosen)}")
    return chosen
