"""`seasonal_profile`: revenue by calendar month over complete years, indexed to the average month."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from zava_core.analysis.cube import M
from zava_core.analysis.grouping import reduce, resolve_filters
from zava_core.analysis.summary import load_cube
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.infra.timeutil import utc_now
from zava_core.scope import Scope
from zava_core.shaping import Out

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class MonthShare(Out):
    month: str
    revenue: float
    index: float = Field(description="Revenue / average month (1.0 = average)")


class SeasonalProfile(Out):
    category: str | None
    stores: list[str]
    years: str = Field(description="Complete years used")
    months: list[MonthShare]
    peak_months: list[str]
    low_months: list[str]
    source: str


async def seasonal_profile(zava: Zava, scope: Scope, category: str | None = None,
                           stores: Sequence[str] | None = None) -> SeasonalProfile:
    reference = await zava.reference.get()
    filters = resolve_filters(reference, scope, stores, [category] if category else None)
    cube = await load_cube(zava, reference)
    this_year = utc_now().year
    full_years = sorted({m[:4] for m in cube.months if int(m[:4]) < this_year})
    if not full_years:
        raise InvalidArgument("no complete year of sales yet")
    months = cube.month_slice(f"{full_years[0]}-01", f"{full_years[-1]}-12")
    per_calendar = np.zeros(12)
    for (label,), vector in reduce(cube, ("month",), filters, months, reference).items():
        per_calendar[int(label[5:7]) - 1] += vector[M["revenue"]]
    mean = per_calendar.mean() or 1.0
    shares = [MonthShare(month=MONTH_NAMES[i], revenue=round(float(per_calendar[i]), 2),
                         index=round(float(per_calendar[i] / mean), 3)) for i in range(12)]
    ranked = sorted(shares, key=lambda s: -s.revenue)
    ids = filters.category_ids
    name = reference.categories[ids[0]]["category_name"] if ids else None
    return SeasonalProfile(category=name, stores=filters.store_ids, years=f"{full_years[0]}-{full_years[-1]}",
                           months=shares, peak_months=[s.month for s in ranked[:3]],
                           low_months=[s.month for s in ranked[-3:][::-1]], source="rollup sales_monthly")
