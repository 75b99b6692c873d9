"""One timestamp format everywhere: ISO-8601 UTC, fixed width, `2024-12-05T14:22:00Z`.

Fixed width matters: the timestamps sort and compare as strings in MongoDB and in Ditto.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # Not strftime: on Linux %Y does not zero-pad years before 1000, and the width must stay fixed.
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def now_iso() -> str:
    return iso(utc_now())


def parse_iso(text: str) -> datetime:
    """Parse a stored timestamp back to an aware datetime."""
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)


def parse_user_date(text: str, *, end_of_day: bool = False) -> str:
    """Turn a user's date (`2024-03-01` or a full ISO timestamp) into the stored format.

    A bare date means the start of that day, or its last second when `end_of_day` is set,
    so a range `2024-03-01..2024-03-31` includes the whole of March 31.
    Raises ValueError with the accepted forms.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return iso(datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0, 0)))
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except (ValueError, OverflowError):  # OverflowError: an offset that moves past year 1 or 9999
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD or an ISO-8601 timestamp") from None


def current_date() -> dict[str, str]:
    """Today in UTC, for resolving relative dates ("last month") before calling other tools."""
    now = utc_now()
    return {"utc_now": iso(now), "date": now.date().isoformat(), "weekday": now.strftime("%A"),
            "month": now.strftime("%Y-%m"), "quarter": f"{now.year}-Q{(now.month - 1) // 3 + 1}"}
