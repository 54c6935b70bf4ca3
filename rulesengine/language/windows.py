"""When a version of a rule applies: its own effective window, less what later packs took over.

A windowed pack (pack.yaml ``effective``) that overrides or disables an inherited rule
takes it over only inside its window; the inherited version stays in force on the dates
outside (``ast.Rule.superseded`` lists the windows that took it over).
"""

from __future__ import annotations

from datetime import date, timedelta

from . import ast

Stretch = tuple[date | None, date | None]  # first and last day, both included; None is open


def dates_in_force(rule: ast.Rule) -> list[Stretch]:
    """The stretches of dates of service on which a version of a rule applies, in date
    order: its own window less the windows in which later packs took it over (empty when
    they cover it all). Raises ValueError on a date that is not on the calendar."""
    stretches = [(_day(rule.effective_from), _day(rule.effective_through))]
    for over in rule.superseded:
        cut_from, cut_to = _day(over.start), _day(over.end)
        left = []
        for start, end in stretches:
            if cut_from is not None and cut_from > date.min and (start is None or start < cut_from):
                before = cut_from - timedelta(days=1)
                left.append((start, before if end is None or end > before else end))
            if cut_to is not None and cut_to < date.max and (end is None or end > cut_to):
                after = cut_to + timedelta(days=1)
                left.append((after if start is None or start < after else start, end))
        stretches = left
    return stretches


def _day(value: ast.DateValue | None) -> date | None:
    return date.fromisoformat(value.text) if value is not None else None
