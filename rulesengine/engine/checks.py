"""The checks that are not a condition: NCCI pairs and MUE limits read from a table, and
frequency limits and duplicates read from the claim history.

Each is built once per rule (a table becomes a dict keyed by code, its rows in the order
that makes the first row in force on a date the one that governs) and answers, for a line,
the evidence of a violation or None.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from operator import itemgetter

from rulesengine.claims.model import Claim, Line
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers

from .conditions import SetBuilder
from .context import ClaimContext
from .history import window_start
from .relations import dated, governing_order, rows_by_key


#: a claim of at most this many lines is read line by line rather than grouped by date
_SCAN_LINES = 12


def pair_spans(table) -> dict:
    """An NCCI table as column two -> column one -> ((first day, last day, modifier
    indicator), ...), days as ordinals (None: open), each pair's rows in governing order
    (as ``rows_by_key``). Built once per table and kept in ``table.prepared``, which the
    pack cache holds as plain data. Tuples of numbers, so the cycle collector passes over
    them once and never again."""
    spans = table.prepared.get("pairs")
    if spans is not None:
        return spans
    start, end = table.date_from, table.date_through
    days = {None: None}  # date -> ordinal: a table holds few distinct dates
    for at in (start, end):
        if at is not None:
            days.update((d, d.toordinal()) for d in set(map(itemgetter(at), table.rows)) if d is not None)
    # the first and last day's columns (a table without one: a column that is always None)
    get = itemgetter(table.index("column2"), table.index("column1"),
                     start if start is not None else len(table.columns),
                     end if end is not None else len(table.columns), table.index("modifier_indicator"))
    rows = table.rows if start is not None and end is not None else [(*r, None) for r in table.rows]
    spans: dict = defaultdict(dict)
    several = []  # (column-one dict, code) of the pairs with more than one row
    for two, one, first, last, indicator in map(get, rows):
        single = ((days[first], days[last], indicator),)
        by_one = spans[two]
        found = by_one.setdefault(one, single)
        if found is not single:
            if len(found) == 1:
                several.append((by_one, one))
            by_one[one] = found + single
    for by_one, one in several:
        by_one[one] = governing_order(by_one[one], lambda r: r[0] if r[0] is not None else 0)
    spans = table.prepared["pairs"] = dict(spans)
    return spans


class PairIndex:
    """NCCI procedure-to-procedure pairs: column-two code -> column-one code -> rows."""

    def __init__(self, table, check: ast.RequireUnbundled):
        self.table = table
        self.pairs: dict[str, dict[str, tuple]] = pair_spans(table)
        self.column2_codes = frozenset(self.pairs)
        self.bypass = frozenset(bypass_modifiers(check))
        self.across = check.across_claims

    def violation(self, claim: Claim, line: Line, x: ClaimContext):
        column1 = self.pairs[line.procedure]
        day = line.service_date
        if len(claim.lines) <= _SCAN_LINES:  # a few lines: reading them beats grouping them
            same_day = claim.lines
        else:
            same_day = x.group("other", ("service_date",)).get((day,), ())
            if len(same_day) > len(column1):  # fewer column-one codes than lines: look them up
                by_code = x.group("other", ("service_date", "procedure"))
                same_day = sorted((o for code in column1 for o in by_code.get((day, code), ())),
                                  key=x.position)
        found = self._first(column1, same_day, line, day)  # in claim order: the first is the evidence
        if found is None and self.across:
            found = self._first(column1, same_provider(claim, day, x), line, day)
        if found is None:
            return None
        other, indicator = found
        evidence = {"column1": other.procedure, "column1_line": other.line_number,
                    "modifier_indicator": indicator}
        if self.across:
            evidence["column1_claim"] = getattr(other, "claim_id", claim.claim_id)
        return evidence

    def _first(self, column1: dict, lines, line, day):
        """The first of ``lines`` on ``day`` whose code bundles the line, with the indicator."""
        for other in lines:
            if other is line or other.service_date != day:
                continue
            rows = column1.get(other.procedure)
            if rows is None:  # most lines are not the code's column-one codes
                continue
            indicator = self._bundles(rows, day.toordinal(), line)
            if indicator is not None:
                return other, indicator
        return None

    def _bundles(self, rows, day: int, line):
        """The modifier indicator of the pair's row in force on ``day`` (an ordinal) that
        denies the line (0 or 1); None when no row is in force, the pair is not applied (9)
        or a modifier bypasses it."""
        for start, end, indicator in rows:  # the first row in force governs
            if (start is None or day >= start) and (end is None or day <= end):
                break
        else:
            return None
        if indicator == 9 or (indicator == 1 and not self.bypass.isdisjoint(line.modifiers)):
            return None
        return indicator


class UnitIndex:
    """Medically unlikely edits: code -> rows (limit, adjudication indicator)."""

    def __init__(self, table, check: ast.RequireUnits):
        self.table = table
        code = table.index("code")
        self.limit, self.mai = table.index("limit"), table.index("adjudication")
        self.rows = dated(table, rows_by_key(table, lambda r: r[code]), self.limit, self.mai)
        self.codes = frozenset(self.rows)
        self.across = check.across_claims

    def violation(self, claim: Claim, line: Line, x: ClaimContext):
        day = line.service_date
        for start, end, limit, mai in self.rows[line.procedure]:  # the first row in force governs
            if (start is None or day >= start) and (end is None or day <= end):
                break
        else:
            return None
        earlier = 0
        if mai == 2 or mai == 3:  # a date-of-service edit: all lines of the code on the date
            key = (day, line.procedure)
            if len(claim.lines) <= _SCAN_LINES:
                billed = sum(o.units for o in claim.lines if o.procedure == line.procedure and o.service_date == day)
            else:
                billed = x.memo.get(("units", key))
                if billed is None:
                    billed = x.memo[("units", key)] = sum(
                        o.units for o in x.group("other", ("service_date", "procedure")).get(key, ()))
            if self.across:
                earlier = x.memo.get(("earlier units", key))
                if earlier is None:
                    earlier = x.memo[("earlier units", key)] = sum(
                        h.units or 0 for h in same_provider(claim, day, x) if h.procedure == line.procedure)
                billed += earlier
        else:
            billed = line.units
        if billed > limit:
            found = {"limit": limit, "units_billed": billed, "adjudication": mai}
            if self.across:
                found["earlier_units"] = earlier
            return found
        return None


def same_provider(claim: Claim, day, x: ClaimContext) -> tuple:
    """The patient's recorded lines of other claims on ``day`` by this claim's billing
    provider, in claim id and line order (what a check across claims adds): a history lists
    a member's lines by date, claim id and line number, and a group keeps that order."""
    npi = claim.billing_npi
    if not npi:
        return ()
    key = ("same provider", day)
    found = x.memo.get(key)
    if found is None:
        found = x.memo[key] = tuple(h for h in x.group("earlier", ("service_date",)).get((day,), ())
                                    if h.billing_npi == npi)
    return found


# ---- history checks -------------------------------------------------------------------------

class FrequencyLimit:
    """At most ``limit`` services of the line's procedure in the window ending on its date."""

    def __init__(self, check: ast.RequireFrequency, sets: SetBuilder):
        self.limit, self.amount, self.unit = check.limit, check.amount, check.unit
        self.period = check.period
        #: the codes counted together (``counting``), or None: the line's own procedure
        self.codes = (tuple(sorted(sets.build(check.counting, "hcpcs").exact_codes()))
                      if check.counting is not None else None)

    def violation(self, claim: Claim, line: Line, x: ClaimContext):
        history = x.history
        procedure, day = line.procedure, line.service_date
        if procedure is None:
            return None
        codes = self.codes or (procedure,)
        start = window_start(day, self.amount, self.unit) or date.min
        prior = []
        if claim.member_id:
            for code in codes:
                prior.extend(h.service_date for h in history.lines_for(claim.member_id, code)
                             if start <= h.service_date <= day and h.claim_id != claim.claim_id)
        here, by_code = (day, x.position(line)), x.group("other", ("procedure",))
        for code in codes:  # this claim's lines before this one, by date then claim order
            for other in by_code.get((code,), ()):
                if start <= other.service_date and (other.service_date, x.position(other)) < here:
                    prior.append(other.service_date)
        if len(prior) + 1 > self.limit:
            return {"limit": self.limit, "period": self.period, "prior_dates": tuple(sorted(prior))}
        return None


def duplicate(claim: Claim, line: Line, x: ClaimContext):
    history = x.history
    npi = claim.billing_npi
    if not (line.procedure and claim.member_id and npi):
        return None
    day, own = line.service_date, claim.claim_id
    others = sorted({h.claim_id for h in history.lines_for(claim.member_id, line.procedure)
                     if h.service_date == day and h.billing_npi == npi and h.claim_id != own})
    return {"duplicate_claims": tuple(others), "prior_dates": (day,)} if others else None


