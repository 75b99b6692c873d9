"""verify's seasonality checks on generated data (no database): steady on real datasets, failing without seasonality.

The datasets are generated at `default` scale (about 2 s each) because the per-category checks only run from
`default` up; revenue and lines are summed here the way `seeding verify` sums them from `order_items`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from seeding import figures as ref
from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from seeding.verify import _seasonality_checks, peak_months
from zava_core.model import MONTHS

CATALOG = load_catalog()


def seasonality(seed: int, as_of: date) -> dict[str, bool]:
    """Each seasonality check of a generated `default` dataset: name -> passed."""
    revenue: dict[str, list[float]] = defaultdict(lambda: [0.0] * 12)
    lines: dict[str, list[float]] = defaultdict(lambda: [0.0] * 12)
    generator = Generator(CATALOG, scale="default", seed=seed, as_of=as_of)
    for _, _, items in generator.order_chunks():
        for item in items:
            if int(item["order_date"][:4]) < as_of.year:  # full years only, as verify counts them
                month = int(item["order_date"][5:7]) - 1
                revenue[item["category_id"]][month] += item["total_amount"]
                lines[item["category_id"]][month] += 1
    return {c.name: c.ok for c in _seasonality_checks(CATALOG, revenue, lines, "default")}


def test_peak_months_are_the_top_three_and_any_month_close_to_the_highest() -> None:
    multipliers = dict.fromkeys(MONTHS, 1.0) | {"oct": 2.0, "apr": 1.9, "nov": 1.8, "may": 1.6, "sep": 1.59}
    assert peak_months(multipliers) == ["oct", "apr", "nov", "may"]  # 1.6 is 80 % of 2.0; 1.59 is not
    flat_top = dict.fromkeys(MONTHS, 1.0) | {"jul": 3.0}
    assert peak_months(flat_top)[0] == "jul" and len(peak_months(flat_top)) == 3


@pytest.mark.parametrize(("seed", "as_of"), [(ref.DEFAULT_SEED, date(2026, 12, 1)), (3, date(2025, 7, 1)),
                                             (20, date(2026, 4, 20))])
def test_generated_datasets_pass_every_seasonality_check(seed: int, as_of: date) -> None:
    """Datasets on which "peak in the top three" failed (plumbing in May, electrical in June)."""
    checks = seasonality(seed, as_of)
    assert len(checks) == 1 + 2 * len(CATALOG.categories)
    assert [name for name, ok in checks.items() if not ok] == []


def test_a_generator_without_per_category_seasonality_fails_the_peak_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ref, "SEASONAL_CATEGORY_PICK", 0.0)  # every order's category drawn uniformly
    checks = seasonality(ref.DEFAULT_SEED, date(2026, 12, 1))
    failed_peaks = [name for name, ok in checks.items() if name.startswith("revenue peak") and not ok]
    assert len(failed_peaks) >= 2, checks
