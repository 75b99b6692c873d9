"""Both sides' answers compared to the cent (bench/peer/compare.py) and read from either sales_summary shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.peer import questions
from bench.peer.compare import MAX_LINES_PER_QUESTION, mismatches, same


@pytest.mark.parametrize(("ours", "exact", "expected"), [
    (123.45, Decimal("123.454"), True),  # ours is the exact figure rounded to the cent
    (123.45, Decimal("123.456"), False),  # rounds to 123.46: a cent off
    (0.13, Decimal("0.125"), True),  # exactly half a cent: either rounding is right
    (0.12, Decimal("0.125"), True),
    (100.00, Decimal("100.01"), False),
])
def test_money_agrees_within_half_a_cent_of_the_exact_value(ours: float, exact: Decimal, expected: bool) -> None:
    assert same("revenue", ours, exact) is expected


def test_counts_text_and_nulls_must_be_equal() -> None:
    assert same("units", 10, Decimal(10)) and not same("units", 10, 11)
    assert same("store", "Zava Retail Seattle", "Zava Retail Seattle") and not same("store", "a", "b")
    assert same("change_percent", None, None) and not same("change_percent", None, 0)


def test_percentages_agree_to_the_digit_ours_prints() -> None:
    assert same("yoy_percent", -12.0, Decimal("-12.0403"))
    assert not same("yoy_percent", -4.8, Decimal("-12.0403"))
    assert same("gross_margin_percent", 33.41, Decimal("33.4149")) and not same("gross_margin_percent", 33.41,
                                                                                Decimal("33.4251"))


def test_mismatch_lines_name_the_question_the_row_and_the_field() -> None:
    ours = {"Seattle": {"revenue": 10.0}, "Tacoma": {"revenue": 5.0}}
    theirs = {"Seattle": {"revenue": Decimal("10.02")}, "Online": {"revenue": Decimal("1")}}
    lines = mismatches("revenue by store", ours, theirs)
    assert lines == [
        "mismatch revenue by store: 'Online' only in the original {'revenue': Decimal('1')}",
        "mismatch revenue by store: 'Seattle' revenue: ours 10, original 10.02",
        "mismatch revenue by store: 'Tacoma' only in ours {'revenue': 5.0}",
    ]
    assert mismatches("same", {"a": {"units": 1}}, {"a": {"units": 1}}) == []


def test_mismatch_lines_are_capped_and_an_empty_answer_is_a_mismatch() -> None:
    ours = {str(i): {"units": i} for i in range(20)}
    lines = mismatches("q", ours, {})
    assert len(lines) == MAX_LINES_PER_QUESTION + 1 and lines[-1] == "mismatch q: ... and 14 more"
    assert mismatches("q", {}, {}) == ["mismatch q: both sides answered nothing (the question checks nothing)"]


def test_summary_results_of_both_shapes_read_the_same() -> None:
    old = {"group_by": "product", "metric": "units",
           "rows": [{"group": "PTDR000001 Cordless Drill", "value": 12.0}]}
    new = {"group_by": ["product"], "metrics": ["units"],
           "rows": [{"group": {"product": "PTDR000001 Cordless Drill"}, "values": {"units": 12}}]}
    assert questions.summary_canonical([old], "units") == questions.summary_canonical([new], "units") == {
        "PTDR000001": {"units": 12}}
    two = {"group_by": ["store", "category"], "rows": [
        {"group": {"store": "Zava Retail Seattle", "category": "HARDWARE"}, "values": {"revenue": 1.5}}]}
    per_store = {"group_by": "category", "rows": [{"group": "HARDWARE", "value": 1.5}]}
    assert questions.summary_canonical([two], "revenue") == questions.summary_canonical(
        [per_store], "revenue", prefix=["Zava Retail Seattle"]) == {"Zava Retail Seattle|HARDWARE": {"revenue": 1.5}}


def test_summary_arguments_follow_the_contract_served() -> None:
    assert questions.summary_arguments(True, ["store", "category"], "revenue", top_n=5) == {
        "group_by": ["store", "category"], "metrics": ["revenue"], "top_n": 5}
    assert questions.summary_arguments(False, ["category"], "gross_margin_percent") == {
        "group_by": "category", "metric": "gross_margin"}
    with pytest.raises(ValueError, match="one dimension"):
        questions.summary_arguments(False, ["store", "category"], "revenue")
