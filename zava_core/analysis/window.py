"""A question's date range, split into whole months (answered by the cube) and partial edges (order_items),
and the comparison windows (`previous_period`, `previous_year`) derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from zava_core.errors import InvalidArgument
from zava_core.infra.timeutil import parse_user_date, utc_now

EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
COMPARISONS = ("previous_period", "previous_year")


@dataclass(frozen=True)
class Window:
    """A question's date range split into whole months (cube) and partial edges (order_items)."""

    start: str  # inclusive timestamps
    end: str
    full_first: str | None  # YYYY-MM, inclusive; None when no whole month is inside
    full_last: str | None
    edges: tuple[tuple[str, str], ...]  # [start, end) timestamp ranges read from order_items

    @property
    def label(self) -> str:
        return f"{self.start[:10]}..{self.end[:10]}"

    @property
    def whole_months(self) -> int | None:
        """How many calendar months the window spans when it is exactly whole months, else None."""
        if self.edges or self.full_first is None or self.full_last is None:
            return None
        return month_number(self.full_last) - month_number(self.full_first) + 1


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_number(month: str) -> int:
    """YYYY-MM as a count of months, so months can be subtracted."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def shift_month(month: str, months: int) -> str:
    n = month_number(month) + months
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def make_window(start_date: str | None, end_date: str | None, first_month: str | None) -> Window:
    """`first_month` (YYYY-MM) is where the data starts: the default start."""
    try:
        start = parse_user_date(start_date) if start_date else None
        end = parse_user_date(end_date, end_of_day=True) if end_date else None
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    today = utc_now().date()
    first_day = date.fromisoformat((first_month or today.strftime("%Y-%m")) + "-01")
    # Clamped to years with room on both sides for the month arithmetic below; no order lies outside.
    start_day = max(date.fromisoformat(start[:10]) if start else first_day, EARLIEST)
    end_day = min(date.fromisoformat(end[:10]) if end else today, LATEST)
    if start_day > end_day:
        raise InvalidArgument(f"start_date {start_day} is after end_date {end_day}")
    start_ts = max(start or "", f"{start_day}T00:00:00Z")
    end_ts = min(end or "~", f"{end_day}T23:59:59Z")
    return _split(start_day, end_day, start_ts, end_ts, today)


def _split(start_day: date, end_day: date, start_ts: str, end_ts: str, today: date) -> Window:
    # Whole months: those lying entirely inside [start_day, end_day].
    first_full = start_day if start_day.day == 1 and start_ts.endswith("T00:00:00Z") else next_month(start_day)
    after_end = end_day + timedelta(days=1)
    last_full_end = month_start(after_end) if end_ts.endswith("T23:59:59Z") else month_start(end_day)
    if end_day >= today:  # the rollup holds every order up to now: this month needs no edge read
        last_full_end = next_month(today)
    edges: list[tuple[str, str]] = []
    if first_full < last_full_end:
        full = (first_full.strftime("%Y-%m"), (last_full_end - timedelta(days=1)).strftime("%Y-%m"))
        if start_ts < f"{first_full}T00:00:00Z":
            edges.append((start_ts, f"{first_full}T00:00:00Z"))
        if f"{last_full_end}T00:00:00Z" <= end_ts:
            edges.append((f"{last_full_end}T00:00:00Z", after(end_ts)))
        return Window(start_ts, end_ts, full[0], full[1], tuple(edges))
    return Window(start_ts, end_ts, None, None, ((start_ts, after(end_ts)),))


def after(timestamp: str) -> str:
    """The exclusive bound just after an inclusive timestamp (fixed-width strings compare in order)."""
    return timestamp[:-1] + "~"  # '~' sorts after every digit and 'Z'


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def compare_window(window: Window, compare_to: str) -> tuple[Window, int | None]:
    """The window to compare with, and the shift in months that maps a time label of the window to the
    same label of the comparison (None when the comparison is not a whole number of months away)."""
    if compare_to not in COMPARISONS:
        raise InvalidArgument(f"compare_to must be one of {', '.join(COMPARISONS)} (or left out)")
    start_day, end_day = date.fromisoformat(window.start[:10]), date.fromisoformat(window.end[:10])
    if max(start_day, end_day).year <= EARLIEST.year:
        raise InvalidArgument("there is nothing before this window to compare with")
    today = utc_now().date()
    if compare_to == "previous_year":
        first, last, shift = _year_earlier(start_day), _year_earlier(end_day), 12
    elif window.whole_months is not None and window.full_first is not None:
        # Whole months compare with the same number of whole months before (Q3 with Q2, not 92 days).
        months = window.whole_months
        first = date.fromisoformat(shift_month(window.full_first, -months) + "-01")
        last = date.fromisoformat(window.full_first + "-01") - timedelta(days=1)
        shift = months
    else:
        days = (end_day - start_day).days + 1
        first, last, shift = start_day - timedelta(days=days), start_day - timedelta(days=1), None
    first = max(first, EARLIEST)
    start_ts = f"{first}T{window.start[11:]}" if compare_to == "previous_year" else f"{first}T00:00:00Z"
    end_ts = f"{last}T{window.end[11:]}" if compare_to == "previous_year" else f"{last}T23:59:59Z"
    return _split(first, last, start_ts, end_ts, today), shift
