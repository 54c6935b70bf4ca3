"""Lines grouped by their attributes, each grouping made the first time it is asked for.

A claim's lines, or a patient's recorded lines, are grouped by date of service, by
procedure, by both, as the rules ask: a same-date join is then a dict lookup. The claim's
context builds one per claim; an in-memory history keeps one per member between claims.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import attrgetter


class LineIndex:
    __slots__ = ("lines", "claim_ids", "_groups", "_dates")

    def __init__(self, lines: tuple):
        self.lines = lines
        self.claim_ids: frozenset | None = None  # of recorded lines, worked out when asked
        self._groups: dict = {}
        #: the lines' dates of service when the lines come in date order (a history's do),
        #: to find a window's by bisection; False when they do not
        self._dates: list | bool | None = None

    def group(self, by: tuple[str, ...]) -> dict:
        """{(value, ...): [line, ...]}, the lines in their order (the lists are not to be
        changed)."""
        groups = self._groups.get(by)
        if groups is None:
            groups = {}
            get = attrgetter(*by)
            single = len(by) == 1
            for line in self.lines:
                value = get(line)
                groups.setdefault((value,) if single else value, []).append(line)
            self._groups[by] = groups  # assigned whole: a thread that races builds the same
        return groups

    def between(self, first, last) -> tuple | list:
        """The lines dated from ``first`` through ``last``, in their order."""
        dates = self._dates
        if dates is None:
            dates = [line.service_date for line in self.lines]
            dates = self._dates = dates if all(a <= b for a, b in zip(dates, dates[1:])) else False
        if dates is False:
            return [line for line in self.lines if first <= line.service_date <= last]
        return self.lines[bisect_left(dates, first):bisect_right(dates, last)]

    def holds_claim(self, claim_id: str) -> bool:
        if self.claim_ids is None:
            self.claim_ids = frozenset(line.claim_id for line in self.lines)
        return claim_id in self.claim_ids
