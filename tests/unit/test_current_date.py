"""get_current_utc_date (on the sales-analysis server: its tools take dates): today, and the names a model
turns 'last month' or 'this quarter' into dates with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcp_servers.sales_analysis.tools import get_current_utc_date


@pytest.mark.anyio
async def test_get_current_utc_date_is_today() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = (await get_current_utc_date()).model_dump()
    after = datetime.now(UTC)
    now = datetime.strptime(out["utc_now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= now <= after + timedelta(seconds=1)
    assert out["date"] == now.date().isoformat()
    assert out["weekday"] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                              "Sunday"][now.weekday()]
    assert out["month"] == f"{now.year:04d}-{now.month:02d}"
    assert out["quarter"] == f"{now.year}-Q{(now.month + 2) // 3}"

