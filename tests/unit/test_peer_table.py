"""The side-by-side table (bench/peer/table.py): percentiles, the ratio, the markdown."""

from __future__ import annotations

import pytest

from bench.peer.table import Row, goals, percentile, ratio_text, render


def test_nearest_rank_percentiles() -> None:
    samples = [float(x) for x in (10, 1, 9, 2, 8, 3, 7, 4, 6, 5)]
    assert percentile(samples, 50) == 5.0
    assert percentile(samples, 95) == 10.0
    assert percentile(samples, 0) == 1.0 and percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(samples, 101)


@pytest.mark.parametrize(("ours", "original", "text"), [
    (2.0, 28.4, "14.2x"), (10.0, 4.0, "0.4x"), (100.0, 3.0, "0.03x"), (5.0, 5.0, "1.0x"),
])
def test_ratio_is_the_originals_time_over_ours(ours: float, original: float, text: str) -> None:
    assert ratio_text(ours, original) == text


def test_ratio_needs_positive_times() -> None:
    with pytest.raises(ValueError):
        ratio_text(0.0, 1.0)


def test_table_rows_line_up_with_the_header() -> None:
    rows = [Row("revenue by store", "head office", [1.0, 2.0, 3.0], [30.0, 40.0, 500.0]),
            Row("semantic search", "head office", status="not compared: pgvector is not installed"),
            Row("stock", "head office", [0.9, 1.1], [0.5, 0.6], group="lookup", server_ms=[0.25, 0.31])]
    text = render(rows, "## heading")
    lines = text.splitlines()
    assert lines[0] == "## heading"
    header, body = lines[2], lines[4:lines.index("", 4)]  # the goals line follows the table
    assert all(line.count("|") == header.count("|") for line in body)
    assert body[0] == "| revenue by store | head office | 2.0 | 3.0 |  | 40.0 | 500 | 20.0x | same |"
    assert body[1].endswith("|  |  |  |  |  |  | not compared: pgvector is not installed |")
    # The server's own time beside the round trip; the ratio stays the round trip's (what a caller waits).
    assert body[2] == "| stock | head office | 0.90 | 1.1 | 0.25 | 0.50 | 0.60 | 0.6x | same |"


def test_goals_name_each_question_that_misses() -> None:
    rows = [Row("stock", "head office", [1.0], [2.5], group="lookup"),  # faster, but not 3x
            Row("orders", "Seattle manager", [1.0], [3.0], group="lookup"),  # exactly 3x: met
            Row("trend", "head office", [10.0], [9.0]),  # slower than the original
            Row("by store", "head office", [1.0], [60.0]),
            Row("semantic search", "head office", status="not compared: pgvector is not installed")]
    assert goals(rows) == ("Goals: at least as fast as the original on 3 of 4 (missed: trend as head office); "
                           "lookups at least 3x faster: 1 of 2 (missed: stock as head office).")
    assert render(rows, "## h").splitlines()[-1] == goals(rows)
