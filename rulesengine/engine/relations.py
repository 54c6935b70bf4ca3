"""Relations compiled: quantifiers and aggregates over lines, table lookups, date windows.

A quantifier's condition is taken apart once, when the pack compiles (``Plan``): an
equality of the line met with the line in hand on the date of service or the procedure
(``other.service_date = line.service_date``), or a procedure in a set that does not depend
on the line met (``other.procedure in addon_codes[line.procedure].primary``), becomes the
key of a dict the claim's lines (or the patient's earlier lines) are grouped in, once per
claim (``ClaimContext.group``); so a same-date join is a lookup, not a scan of every line
for every line. The rest is tested on the lines the key finds; the part of it that does
not read the line in hand is tested once per claim and key, and the answer remembered,
so a claim of ten thousand lines costs about what ten claims of a thousand do.

A table looked up by a line's code (``LookupIndex``) is a dict from the first column to
its rows, ordered so the first row in force on a date is the one that governs.
"""

from __future__ import annotations

from datetime import date, timedelta

from rulesengine.codes.kinds import CODE_KINDS, normalize
from rulesengine.language import ast
from rulesengine.language.dates import UNITS, between_shifts

_EQUALITY_KEYS = ("service_date", "procedure")  # what a line met is grouped by
_SET_LIMIT = 100_000  # remembered lookup answers per table


# ---- table lookups ----------------------------------------------------------------------------

def rows_by_key(table, key) -> dict:
    """Rows grouped by key, each group ordered so the first row in force on a date is the
    one that governs it: the latest to take effect, the later in the file on a tie."""
    start_at = table.date_from
    groups: dict = {}
    for row in table.rows:
        k = key(row)
        group = groups.get(k)
        if group is None:
            groups[k] = [row]
        else:
            group.append(row)
    first_day = (lambda r: r[start_at] or date.min) if start_at is not None else None
    for k, rows in groups.items():
        if len(rows) == 1:  # most keys have one row: nothing to order (a million-row table)
            groups[k] = (rows[0],)
            continue
        groups[k] = governing_order(rows, first_day)
    return groups


def governing_order(rows, first_day=None) -> tuple:
    """Rows ordered so the first in force on a date governs: the latest to take effect
    (``first_day`` of a row) first, the later in the file on a tie."""
    if first_day is not None:
        rows = sorted(rows, key=first_day)
    return tuple(reversed(rows))


def dated(table, groups: dict, *columns) -> dict:
    """Each group's rows as (first day, last day, the columns asked for), in the same order."""
    start, end = table.date_from, table.date_through
    return {k: tuple((r[start] if start is not None else None, r[end] if end is not None else None,
                      *(r[c] for c in columns)) for r in rows) for k, rows in groups.items()}


class LookupIndex:
    """A table keyed by its first column: key -> ((first day, last day, row), ...) in
    governing order; and every row, for a lookup without a key."""

    def __init__(self, table):
        self.table = table
        self.kind = table.kinds[0] if table.kinds else "text"
        start, end = table.date_from, table.date_through

        def span(row):
            return (row[start] if start is not None else None, row[end] if end is not None else None, row)
        self.rows = {k: tuple(map(span, rows)) for k, rows in rows_by_key(table, lambda r: r[0]).items()}
        self.every = tuple(map(span, rows_by_key(table, lambda r: 0).get(0, ())))
        self._sets: dict = {}

    def row(self, key, day: date):
        """The row that governs ``key`` on ``day``, or None."""
        for start, end, row in self.rows.get(key, ()):
            if (start is None or day >= start) and (end is None or day <= end):
                return row
        return None

    def values(self, key, column: int, day: date) -> frozenset:
        """A column's values in the rows in force on ``day`` (every row when ``key`` is
        None and the lookup has no key), remembered per key, column and day."""
        memo = (key, column, day)
        found = self._sets.get(memo)
        if found is None:
            rows = self.rows.get(key, ()) if key is not None else self.every
            found = frozenset(row[column] for start, end, row in rows
                              if (start is None or day >= start) and (end is None or day <= end)
                              and row[column] is not None)
            if len(self._sets) < _SET_LIMIT:
                self._sets[memo] = found
        return found


def _lookup_day(expr: ast.Lookup):
    """How a lookup finds its date of service: from the line its key is read from."""
    key = expr.key
    if isinstance(key, ast.Field) and key.root == "other":
        return lambda c, l, x: x.other.service_date
    if isinstance(key, ast.Field) and key.root == "earlier":
        return lambda c, l, x: x.earlier.service_date
    return lambda c, l, x: l.service_date if l is not None else c.first_service_date


def _key(expr: ast.Lookup, index: LookupIndex, key_value):
    """The key's value as the table holds it: a literal code put in its normal form once."""
    if isinstance(expr.key, ast.Text) and index.kind in CODE_KINDS and index.kind != "text":
        constant = normalize(index.kind, expr.key.value)
        return lambda c, l, x: constant
    return key_value


def lookup_value(expr: ast.Lookup, index: LookupIndex, key_value):
    """A lookup as a value: the column of the row that governs, or None."""
    column, day_of = index.table.index(expr.column), _lookup_day(expr)
    if key_value is None:
        every = index.every

        def unkeyed(c, l, x):
            day = day_of(c, l, x)
            for start, end, row in every:
                if (start is None or day >= start) and (end is None or day <= end):
                    return row[column]
            return None
        return unkeyed
    key_of, find = _key(expr, index, key_value), index.row

    def value(c, l, x):
        key = key_of(c, l, x)
        if key is None:
            return None
        row = find(key, day_of(c, l, x))
        return None if row is None else row[column]
    return value


def lookup_set(expr: ast.Lookup, index: LookupIndex, key_value):
    """A lookup after ``in``: the column's values in every row in force (None: no key)."""
    column, day_of, values = index.table.index(expr.column), _lookup_day(expr), index.values
    if key_value is None:
        return lambda c, l, x: values(None, column, day_of(c, l, x))
    key_of = _key(expr, index, key_value)

    def found(c, l, x):
        key = key_of(c, l, x)
        return None if key is None else values(key, column, day_of(c, l, x))
    return found


# ---- quantifiers and aggregates over lines ----------------------------------------------------

#: the range a window falls back to when its ends are off the calendar: a superset, as
#: every range here is (the window itself is still tested on each line)
_WHOLE_CALENDAR = (date.min, date.max)


def _window_range(part, scope: str, sets, compile_value):
    """For a window between a date of the scope's line and a date that is not (``line.
    service_date is 1 to 90 days after earlier.service_date``): a function giving the first
    and last date of service the scope's line may have (None: the other date is missing), a
    superset for months and years (the window itself is still tested); None for any other
    condition."""
    if not isinstance(part, ast.DateWindow):
        return None
    for mine, theirs, subject in ((part.subject, part.reference, True), (part.reference, part.subject, False)):
        if (isinstance(mine, ast.Field) and mine.root == scope and mine.name == "service_date"
                and not _reads_scope(theirs, scope)):
            break
    else:
        return None
    other = compile_value(theirs, sets)
    later = subject == (part.direction == "after")  # the scope's date comes after the other
    low, high = part.low, part.high
    if part.unit.startswith("calendar"):
        def calendar_months(c, l, x):
            day = other(c, l, x)
            if day is None:
                return None
            month = day.year * 12 + day.month - 1
            first, last = (month + low, month + high) if later else (month - high, month - low)
            try:
                end = date(last // 12, last % 12 + 1, 1) + timedelta(days=31)
                return date(first // 12, first % 12 + 1, 1), end - timedelta(days=end.day)
            except (ValueError, OverflowError):
                return _WHOLE_CALENDAR  # a range past the calendar's end: every date (the test decides)
        return calendar_months
    shortest, longest, slack = {"days": (1, 1, 0), "months": (28, 31, 3), "years": (365, 366, 3)}[UNITS[part.unit]]
    near, far = timedelta(days=low * shortest - slack), timedelta(days=high * longest + slack)

    def days(c, l, x):
        day = other(c, l, x)
        if day is None:
            return None
        try:
            return (day + near, day + far) if later else (day - far, day - near)
        except OverflowError:
            return _WHOLE_CALENDAR
    return days


class Plan:
    """How to find the lines of a scope (``other`` or ``earlier``) that make a condition
    true for the line in hand: the keys to look them up by, and the tests for the rest."""

    def __init__(self, scope: str, condition, sets, compile_test, compile_value):
        self.scope = scope
        parts = list(condition.items) if isinstance(condition, ast.AllOf) else (
            [condition] if condition is not None else [])
        self.keys: dict[str, object] = {}  # service_date / procedure -> the value it must equal
        self.codes = None  # a procedure set to look the lines up by: a frozenset, or its closure
        rest = []
        for part in parts:
            if not self._take_key(part, sets, compile_value):
                rest.append(part)
        #: the dates of service a window (``is 1 to 90 days after earlier.service_date``)
        #: leaves the scope's lines, as a function of the line in hand; the window stays a test
        self.window = next((w for w in (_window_range(p, scope, sets, compile_value) for p in rest)
                            if w is not None), None)
        fixed = [p for p in rest if not _reads_line_in_hand(p)]
        varying = [p for p in rest if _reads_line_in_hand(p)]
        self.fixed = _all(fixed, sets, compile_test)
        self.varying = _all(varying, sets, compile_test)
        self.by = tuple(k for k in _EQUALITY_KEYS
                        if k in self.keys or (k == "procedure" and self.codes is not None))
        self.date_only = ("service_date",) if "service_date" in self.keys else ()
        self.day_of, self.code_of = self.keys.get("service_date"), self.keys.get("procedure")

    def _take_key(self, part, sets, compile_value) -> bool:
        scope = self.scope
        if isinstance(part, ast.Comparison) and part.op == "=":
            for mine, theirs in ((part.left, part.right), (part.right, part.left)):
                if (isinstance(mine, ast.Field) and mine.root == scope and mine.name in _EQUALITY_KEYS
                        and mine.name not in self.keys and not _reads_scope(theirs, scope)):
                    if mine.name == "procedure" and self.codes is not None:
                        return False
                    self.keys[mine.name] = compile_value(theirs, sets)
                    return True
        if (isinstance(part, ast.Membership) and not part.negated and isinstance(part.expr, ast.Field)
                and part.expr.root == scope and part.expr.name == "procedure"
                and "procedure" not in self.keys and self.codes is None
                and not _reads_scope(part.set, scope)):
            if isinstance(part.set, ast.Lookup):
                index = sets.lookup_index(part.set.table)
                key = compile_value(part.set.key, sets) if part.set.key is not None else None
                self.codes = lookup_set(part.set, index, key)
                return True
            exact = sets.build(part.set, "hcpcs").exact_codes()
            if exact is not None:
                self.codes = exact
                return True
        return False

    def matches(self, c, l, x) -> Found:
        """The scope's lines with the keys' values that pass the tests not reading the line
        in hand (remembered per claim and key), the line in hand among them."""
        day = code = None
        if self.day_of is not None:
            day = self.day_of(c, l, x)
            if day is None:
                return _NONE
        if self.code_of is not None:
            code = self.code_of(c, l, x)
            if code is None:
                return _NONE
        codes = self.codes
        candidates = span = None
        if self.window is not None and not self.by and codes is None:
            span = self.window(c, l, x)
            if span is None:  # the line in hand has no date: no line is in the window
                return _NONE
            candidates = x.index(self.scope).between(*span)
            if not candidates:
                return _NONE
        elif codes is None:
            if self.by:  # looked up by date and code: most keys have no line at all
                candidates = x.group(self.scope, self.by).get(
                    (day, code) if len(self.by) == 2 else (day if self.by[0] == "service_date" else code,))
                if candidates is None:
                    return _NONE
        elif not isinstance(codes, frozenset):
            codes = codes(c, l, x)
            if codes is None:
                return _NONE
        memo_key = (self, day, code, codes, span)
        found = x.memo.get(memo_key)
        if found is None:
            found = x.memo[memo_key] = Found(self._search(c, l, x, day, code, codes, candidates))
        return found

    def _search(self, c, l, x, day, code, codes, candidates) -> tuple:
        if candidates is not None:
            pass
        elif not self.by:
            candidates = x.lines(self.scope)
        else:  # a set of procedures: look each up, or filter the date's lines, whichever is less
            base = (x.group(self.scope, self.date_only).get((day,), ()) if self.date_only
                    else x.lines(self.scope))
            if len(codes) <= len(base):
                grouped = x.group(self.scope, self.by)
                candidates = [m for each in codes
                              for m in grouped.get((day, each) if self.date_only else (each,), ())]
            else:
                candidates = [m for m in base if m.procedure in codes]
        if self.fixed is None:
            return tuple(candidates)
        return tuple(_meeting(self.fixed, candidates, self.scope, c, l, x, skip=None))

    def each(self, c, l, x, first: bool = False) -> list:
        """The lines that make the whole condition true, the line in hand left out; with
        ``first``, only the first of them (a quantifier stops there)."""
        varying = self.varying
        lines = self.matches(c, l, x).lines
        if varying is None:
            found = [m for m in lines if m is not l]
            return found[:1] if first else found
        return _meeting(varying, lines, self.scope, c, l, x, skip=l, first=first)


def _meeting(test, lines, scope: str, c, l, x, skip, first: bool = False) -> list:
    """The lines (but ``skip``) for which ``test`` is true while the scope's slot of the
    context holds each; with ``first``, the first of them only."""
    found = []
    other = scope == "other"
    try:
        for m in lines:
            if m is skip:
                continue
            if other:
                x.other = m
            else:
                x.earlier = m
            if test(c, l, x) is True:
                found.append(m)
                if first:
                    break
    finally:
        x.other = x.earlier = None
    return found


class Found:
    """The lines a plan found for one key, and (asked for only by counts over long lists)
    which objects they are, to tell whether the line in hand is among them."""

    __slots__ = ("lines", "_ids")

    def __init__(self, lines: tuple):
        self.lines = lines
        self._ids: frozenset | None = None

    def holds(self, line) -> bool:
        if line is None:
            return False
        if len(self.lines) < 8:
            return any(m is line for m in self.lines)
        if self._ids is None:
            self._ids = frozenset(map(id, self.lines))
        return id(line) in self._ids


_NONE = Found(())


def line_quantifier(cond: ast.LineQuantifier, plan: Plan):
    """``any``/``no`` ``other``/``earlier`` ``line where``: never unknown."""
    want = cond.quantifier == "any"
    if plan.varying is None:
        def quick(c, l, x):
            for m in plan.matches(c, l, x).lines:
                if m is not l:
                    return want
            return not want
        return quick
    return lambda c, l, x: bool(plan.each(c, l, x, first=True)) == want


def aggregate(expr: ast.Aggregate, plan: Plan, field):
    """``count of ... lines where (...)``; ``sum of X.field where (...)``, unknown when a
    line it adds up lacks the field."""
    if expr.function == "count":
        if plan.varying is None:
            def count(c, l, x):
                found = plan.matches(c, l, x)
                return len(found.lines) - found.holds(l)
            return count
        return lambda c, l, x: len(plan.each(c, l, x))
    slot = plan.scope

    def total(c, l, x):
        values = []
        for m in plan.each(c, l, x):
            setattr(x, slot, m)
            values.append(field(c, l, x))
        setattr(x, slot, None)
        return None if None in values else sum(values)
    return total


def date_window(cond: ast.DateWindow, subject, reference):
    """``A is low to high units after (before) B``, both ends included; unknown without A or B."""
    low, high, after = cond.low, cond.high, cond.direction == "after"
    if cond.unit.startswith("calendar"):
        def calendar_months(c, l, x):
            a, b = subject(c, l, x), reference(c, l, x)
            if a is None or b is None:
                return None
            later, earlier = (a, b) if after else (b, a)
            return low <= (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month) <= high
        return calendar_months
    if UNITS[cond.unit] == "days":
        first, last = timedelta(days=low), timedelta(days=high)

        def days(c, l, x):
            a, b = subject(c, l, x), reference(c, l, x)
            if a is None or b is None:
                return None
            later, earlier = (a, b) if after else (b, a)
            return earlier + first <= later <= earlier + last
        return days
    unit = cond.unit

    def shifted(c, l, x):
        a, b = subject(c, l, x), reference(c, l, x)
        if a is None or b is None:
            return None
        later, earlier = (a, b) if after else (b, a)
        return between_shifts(later, earlier, low, high, unit)
    return shifted


# ---- what a condition reads ----------------------------------------------------------------------

def _reads_scope(node, scope: str) -> bool:
    return any(isinstance(n, ast.Field) and n.root == scope for n in ast.walk(node))


def _reads_line_in_hand(node) -> bool:
    """Whether a condition inside a quantifier reads the line in hand: a ``line.`` or
    ``patient.`` field (an age is on the line's date), or a lookup whose date is the
    line's (one not keyed by a field of the line met)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Field) and n.root in ("line", "patient"):
            return True
        if isinstance(n, ast.Lookup) and not (isinstance(n.key, ast.Field) and n.key.root in ast.SCOPES):
            return True
    return False


def _all(parts: list, sets, compile_test):
    if not parts:
        return None
    return compile_test(parts[0] if len(parts) == 1 else ast.AllOf(tuple(parts), parts[0].pos), sets)
