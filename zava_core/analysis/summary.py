"""`sales_summary`: several metrics by up to three dimensions in one call, optionally beside a comparison window.

Answered from the in-memory cube for whole months (store x month x category | product), with partial months
and distinct orders across items from order_items (see `grouping`). The result shape is the one the charts
and the PostgreSQL comparison code against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
from pydantic import Field, WithJsonSchema

from zava_core import hints
from zava_core import limits as L
from zava_core.analysis.cube import SalesCube
from zava_core.analysis.grouping import (
    ITEM_DIMENSIONS,
    TIME_DIMENSIONS,
    Key,
    measure,
    resolve_filters,
    validate_dimensions,
)
from zava_core.analysis.metrics import NEEDS_ORDERS, Number, changes, metric_values, validate_metrics
from zava_core.analysis.window import Window, compare_window, make_window, shift_month
from zava_core.context import Zava
from zava_core.directory import ReferenceSnapshot
from zava_core.errors import InvalidArgument, TooLarge
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

# Flat JSON-schema types instead of anyOf unions: clients validate each of up to 100 rows against them.
Figures = Annotated[dict[str, Number] | None, WithJsonSchema(
    {"type": ["object", "null"], "additionalProperties": {"type": "number"}})]
Changes = Annotated[dict[str, float | None] | None, WithJsonSchema(
    {"type": ["object", "null"], "additionalProperties": {"type": ["number", "null"]}})]


class SummaryRow(Out):
    group: dict[str, str] = Field(description="The row's value of each group_by dimension")
    values: dict[str, Number]
    compare: Figures = Field(None, description="The same metrics in the comparison window")
    change_percent: Changes = Field(None, description="(value - compare) / compare x 100; null where compare is 0")


class SalesSummary(Out):
    group_by: list[str]
    metrics: list[str]
    order_by: str
    rows: list[SummaryRow]
    totals: dict[str, Number] = Field(description="Every matching row together, not only those returned")
    compare_totals: Figures = None
    subtotals: list[SummaryRow] | None = Field(None, description=(
        "With 2-3 dimensions: each value of the first dimension over every matching row (not only those "
        "returned), ranked and capped like rows"))
    subtotal_count: int | None = Field(None, description="Values of the first dimension that matched")
    period: str = Field(description="Dates covered, inclusive")
    compare_period: str | None = None
    stores: list[str]
    categories: list[str] | None
    source: str = Field(description="Which data answered: the rollup, plus order_items for partial months")
    meta: ListMeta


def check_list_lengths(**lists: tuple[Sequence[str] | None, int]) -> None:
    """zava_core checks the filter lengths again, for callers that are not MCP tools."""
    for name, (values, limit) in lists.items():
        if values is not None and len(values) > limit:
            raise InvalidArgument(f"{name} takes at most {limit} values, got {len(values)}")


async def load_cube(zava: Zava, reference: ReferenceSnapshot) -> SalesCube:
    return await zava.cube.get(reference.stores.ids, sorted(reference.categories), sorted(reference.products))


async def sales_summary(zava: Zava, scope: Scope, group_by: str | Sequence[str],
                        metrics: str | Sequence[str] | None = None, start_date: str | None = None,
                        end_date: str | None = None, stores: Sequence[str] | None = None,
                        categories: Sequence[str] | None = None, product_types: Sequence[str] | None = None,
                        skus: Sequence[str] | None = None, order_by: str | None = None, top_n: int | None = 20,
                        compare_to: str | None = None, max_rows: int | None = None) -> SalesSummary:
    """`top_n` None: every row (for exports), refused with TooLarge past `max_rows`."""
    dims = validate_dimensions(group_by, L.MAX_GROUP_BY_DIMENSIONS)
    chosen = validate_metrics(metrics if metrics is None or isinstance(metrics, str) else list(metrics),
                              L.MAX_METRICS)
    order_by = order_by or chosen[0]
    if order_by not in chosen:
        raise InvalidArgument(f"order_by must be one of the metrics asked for: {', '.join(chosen)}")
    check_list_lengths(stores=(stores, L.MAX_STORES_LISTED), categories=(categories, L.MAX_CATEGORIES_LISTED),
                       product_types=(product_types, L.MAX_PRODUCT_TYPES_LISTED), skus=(skus, L.MAX_SKUS_LISTED))
    limit, note = cap_rows(top_n, name="top_n") if top_n is not None else (None, None)
    reference = await zava.reference.get()
    filters = resolve_filters(reference, scope, stores, categories, product_types, skus)
    cube = await load_cube(zava, reference)
    window = make_window(start_date, end_date, cube.months[0] if cube.months else None)
    needs_orders = bool(NEEDS_ORDERS & set(chosen))
    # With several dimensions, the first one alone too: what each band of rows adds up to, cut or not.
    dim_sets = [dims, (), dims[:1]] if len(dims) > 1 else [dims, ()]
    current = await measure(zava, reference, cube, window, filters, dim_sets, needs_orders)
    groups, totals = current.groups[0], current.groups[1].get((), None)
    if max_rows is not None and len(groups) > max_rows:
        raise TooLarge(f"{len(groups):,} rows match, more than the {max_rows:,} that fit: narrow start_date/end_date, "
                       "stores, categories, product_types or skus, or group by fewer dimensions")
    before: dict[Key, np.ndarray] | None = None
    before_bands: dict[Key, np.ndarray] | None = None
    before_totals = None
    compare_label = None
    source = current.source
    shift: int | None = None
    if compare_to:
        cwin, shift = compare_window(window, compare_to)
        _check_time_shift(dims, shift, compare_to)
        previous = await measure(zava, reference, cube, cwin, filters, dim_sets, needs_orders)
        before, before_totals, compare_label = previous.groups[0], previous.groups[1].get((), None), cwin.label
        before_bands = previous.groups[2] if len(dims) > 1 else None
        if previous.source != source:
            source = f"{source}; comparison: {previous.source}"
    rows = _ranked_rows(groups, before, dims, chosen, order_by, shift)
    subtotals = _ranked_rows(current.groups[2], before_bands, dims[:1], chosen, order_by, shift) \
        if len(dims) > 1 else None
    limit = len(rows) if limit is None else limit
    return SalesSummary(
        group_by=list(dims), metrics=list(chosen), order_by=order_by, rows=rows[:limit],
        totals=metric_values(totals, chosen),
        compare_totals=metric_values(before_totals, chosen) if compare_to else None,
        subtotals=subtotals[:limit] if subtotals is not None else None,
        subtotal_count=len(subtotals) if subtotals is not None else None,
        period=window.label, compare_period=compare_label, stores=filters.store_ids,
        categories=filters.category_ids, source=source,
        meta=list_meta(min(len(rows), limit), total=len(rows), notes=[note, _orders_note(dims, chosen)],
                       more=hints.MORE_GROUPS),
    )


def _ranked_rows(groups: dict[Key, np.ndarray], before: dict[Key, np.ndarray] | None, dims: tuple[str, ...],
                 chosen: tuple[str, ...], order_by: str, shift: int | None) -> list[SummaryRow]:
    rows = []
    for key, vector in groups.items():
        row = SummaryRow(group=dict(zip(dims, key, strict=True)), values=metric_values(vector, chosen))
        if before is not None:
            earlier = before.get(_shifted(key, dims, shift))
            row.compare = metric_values(earlier, chosen)
            row.change_percent = changes(vector, earlier, chosen)
        rows.append(row)
    rows.sort(key=_sort_key(dims, order_by))
    return rows


def _sort_key(dims: tuple[str, ...], order_by: str):
    """Time groupings stay in time order; within a period (or without one), largest first."""
    time_positions = [i for i, d in enumerate(dims) if d in TIME_DIMENSIONS]

    def key(row: SummaryRow) -> tuple:
        labels = [row.group[d] for d in dims]
        return (*[labels[i] for i in time_positions], -row.values[order_by], *labels)

    return key


def _check_time_shift(dims: tuple[str, ...], shift: int | None, compare_to: str) -> None:
    for dim in dims:
        if dim not in TIME_DIMENSIONS:
            continue
        step = {"year": 12, "quarter": 3, "month": 1}[dim]
        if shift is None or shift % step:
            raise InvalidArgument(f"compare_to {compare_to} with group_by {dim} needs a window of whole "
                                  f"{dim}s (e.g. 2025-07-01..2025-09-30), or use previous_year")


def _shifted(key: Key, dims: tuple[str, ...], shift: int | None) -> Key:
    """The comparison row for a row: time labels moved back by the comparison's shift."""
    if not shift:
        return key
    out = []
    for dim, label in zip(dims, key, strict=True):
        if dim == "month":
            label = shift_month(label, -shift)
        elif dim == "quarter":
            year, quarter = int(label[:4]), int(label[6])
            n = year * 4 + quarter - 1 - shift // 3
            label = f"{n // 4:04d}-Q{n % 4 + 1}"
        elif dim == "year":
            label = f"{int(label) - shift // 12:04d}"
        out.append(label)
    return tuple(out)


def _orders_note(dims: tuple[str, ...], chosen: tuple[str, ...]) -> str | None:
    if NEEDS_ORDERS & set(chosen) and set(dims) & set(ITEM_DIMENSIONS):
        return "orders per category, type or product count every order with a line in it, so rows overlap"
    return None


def window_for(start_date: str | None, end_date: str | None, cube: SalesCube) -> Window:
    return make_window(start_date, end_date, cube.months[0] if cube.months else None)
