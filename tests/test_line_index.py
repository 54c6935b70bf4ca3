"""The indexes behind same-date joins and date windows: a window's range of dates holds
every date the window is true for (so looking lines up by it never loses one)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from rulesengine.engine.history import HistoryLine
from rulesengine.engine.lineindex import LineIndex
from rulesengine.engine.reference import in_window_of
from rulesengine.engine.relations import _window_range
from rulesengine.language import ast

POS = ast.Pos("t.rules", 1, 1)


def _line(day: date, claim="C1", number=1, code="99213") -> HistoryLine:
    return HistoryLine(claim, day, "1234567893", code, (), 1, number, "medicare")


def test_lines_in_date_order_are_found_by_bisection_in_their_order():
    days = [date(2026, 1, 1) + timedelta(days=d) for d in (0, 0, 3, 10, 10, 40)]
    index = LineIndex(tuple(_line(d, f"C{i}") for i, d in enumerate(days)))
    found = index.between(date(2026, 1, 1), date(2026, 1, 11))
    assert [h.claim_id for h in found] == ["C0", "C1", "C2", "C3", "C4"]
    assert index.between(date(2026, 1, 12), date(2026, 2, 9)) == ()


def test_lines_out_of_date_order_are_filtered_in_their_order():
    days = [date(2026, 3, 1), date(2026, 1, 1), date(2026, 2, 1)]
    index = LineIndex(tuple(_line(d, f"C{i}") for i, d in enumerate(days)))
    assert [h.claim_id for h in index.between(date(2026, 1, 15), date(2026, 3, 1))] == ["C0", "C2"]


@pytest.mark.parametrize("unit", ["days", "months", "years", "calendar months"])
@pytest.mark.parametrize("direction", ["after", "before"])
@pytest.mark.parametrize("scope_is_subject", [True, False])
def test_a_window_s_range_holds_every_date_it_is_true_for(unit, direction, scope_is_subject):
    rng = random.Random(f"{unit}{direction}{scope_is_subject}")
    scope_date = ast.Field("earlier", "service_date", POS)
    line_date = ast.Field("line", "service_date", POS)
    for _ in range(25):
        low = rng.randint(0, 3)
        high = low + rng.randint(0, 4 if unit == "years" else 14)
        subject, reference = (scope_date, line_date) if scope_is_subject else (line_date, scope_date)
        window = ast.DateWindow(subject, low, high, unit, direction, reference, POS)
        span_of = _window_range(window, "earlier", None,
                                lambda expr, sets: lambda c, l, x: l.service_date)
        day = date(2024, 1, 31) + timedelta(days=rng.randrange(900))
        first, last = span_of(None, _line(day), None)
        reach = 2700 if unit == "years" else 600
        for offset in range(-reach, reach, 3 if unit == "years" else 1):
            other = day + timedelta(days=offset)
            s, r = (other, day) if scope_is_subject else (day, other)
            if in_window_of(s, window, r):
                assert first <= other <= last, (window, day, other, first, last)
