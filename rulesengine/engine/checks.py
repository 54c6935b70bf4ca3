"""The checks that are not a condition: NCCI pairs and MUE limits read from a table, and
frequency limits and duplicates read from the claim history.

Each is built once per rule (a table becomes a dict keyed by code, its rows in the order
that makes the first row in force on a date the one that governs) and answers, for a line,
the evidence of a violation or None.
"""

from __future__ import annotations

from datetime import date

from rulesengine.claims.model import Claim, Line
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers

from .conditions import SetBuilder
from .history import window_start


def _rows_by_key(table, key) -> dict:
    """Rows grouped by key, each group ordered so the first row in force on a date is the
    one that governs it: the latest to take effect, the later in the file on a tie."""
    start_at = table.date_from
    groups: dict = {}
    for row in table.rows:
        groups.setdefault(key(row), []).append(row)
    for k, rows in groups.items():
        if start_at is not None:
            rows.sort(key=lambda r: r[start_at] or date.min)
        groups[k] = tuple(reversed(rows))
    return groups


def _dated(table, groups: dict, *columns) -> dict:
    """Each group's rows as (first day, last day, the columns asked for), in the same order."""
    start, end = table.date_from, table.date_through
    return {k: tuple((r[start] if start is not None else None, r[end] if end is not None else None,
                      *(r[c] for c in columns)) for r in rows) for k, rows in groups.items()}


class PairIndex:
    """NCCI procedure-to-procedure pairs: column-two code -> column-one code -> rows."""

    def __init__(self, table, check: ast.RequireUnbundled):
        self.table = table
        c1, c2 = table.index("column1"), table.index("column2")
        self.indicator = table.index("modifier_indicator")
        by_pair = _dated(table, _rows_by_key(table, lambda r: (r[c2], r[c1])), self.indicator)
        self.pairs: dict[str, dict[str, tuple]] = {}
        for (col2, col1), rows in by_pair.items():
            self.pairs.setdefault(col2, {})[col1] = rows
        self.column2_codes = frozenset(self.pairs)
        self.bypass = frozenset(bypass_modifiers(check))

    def violation(self, claim: Claim, line: Line):
        column1 = self.pairs[line.procedure]
        day = line.service_date
        for other in claim.lines:
            if other is line or other.service_date != day:
                continue
            rows = column1.get(other.procedure)
            if rows is None:
                continue
            for start, end, indicator in rows:  # the first row in force governs
                if (start is None or day >= start) and (end is None or day <= end):
                    break
            else:
                continue
            if indicator == 9:
                continue
            if indicator == 1 and not self.bypass.isdisjoint(line.modifiers):
                continue
            return {"column1": other.procedure, "column1_line": other.line_number,
                    "modifier_indicator": indicator}
        return None


class UnitIndex:
    """Medically unlikely edits: code -> rows (limit, adjudication indicator)."""

    def __init__(self, table):
        self.table = table
        code = table.index("code")
        self.limit, self.mai = table.index("limit"), table.index("adjudication")
        self.rows = _dated(table, _rows_by_key(table, lambda r: r[code]), self.limit, self.mai)
        self.codes = frozenset(self.rows)

    def violation(self, claim: Claim, line: Line):
        day = line.service_date
        for start, end, limit, mai in self.rows[line.procedure]:  # the first row in force governs
            if (start is None or day >= start) and (end is None or day <= end):
                break
        else:
            return None
        if mai == 2 or mai == 3:  # a date-of-service edit: all lines of the code on the date
            billed = sum(o.units for o in claim.lines
                         if o.procedure == line.procedure and o.service_date == line.service_date)
        else:
            billed = line.units
        if billed > limit:
            return {"limit": limit, "units_billed": billed, "adjudication": mai}
        return None


# ---- history checks -------------------------------------------------------------------------

class FrequencyLimit:
    """At most ``limit`` services of the line's procedure in the window ending on its date."""

    def __init__(self, check: ast.RequireFrequency, sets: SetBuilder):
        self.limit, self.amount, self.unit = check.limit, check.amount, check.unit
        self.period = check.period
        #: the codes counted together (``counting``), or None: the line's own procedure
        self.codes = (tuple(sorted(sets.build(check.counting, "hcpcs").exact_codes()))
                      if check.counting is not None else None)

    def violation(self, claim: Claim, line: Line, history):
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
        for other in claim.lines:  # this claim's lines before this one, by date then order
            if other is line:
                break
            if other.procedure in codes and start <= other.service_date <= day:
                prior.append(other.service_date)
        for other in claim.lines[claim.lines.index(line) + 1:]:
            if other.procedure in codes and start <= other.service_date < day:
                prior.append(other.service_date)
        if len(prior) + 1 > self.limit:
            return {"limit": self.limit, "period": self.period, "prior_dates": tuple(sorted(prior))}
        return None


def duplicate(claim: Claim, line: Line, history):
    npi = claim.billing_npi
    if not (line.procedure and claim.member_id and npi):
        return None
    day, own = line.service_date, claim.claim_id
    others = sorted({h.claim_id for h in history.lines_for(claim.member_id, line.procedure)
                     if h.service_date == day and h.billing_npi == npi and h.claim_id != own})
    return {"duplicate_claims": tuple(others), "prior_dates": (day,)} if others else None


