"""Compiles checked rules into closures, indexed by procedure code.

Everything that does not depend on the claim is done here, once: value sets become
``CodeSet``s, dates become ``date``s, a date literal moved by N days is folded, tables
become dicts keyed by code, and each line rule names the procedure codes it can apply
to, so a claim line meets only the rules written for its code. The per-claim path walks
no tree and parses nothing. ``reference`` gives the meaning this must match.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from operator import attrgetter

from . import ast
from .checker import DEFAULT_BYPASS, CheckedPack
from .codes import CodeRange, CodeSet, normalize
from .dates import shift
from .fields import FIELDS
from .model import Claim, Line
from .results import Finding
from .runtime import RuleFacts, sort_findings

Test = Callable[[Claim, Line | None], bool | None]
Value = Callable[[Claim, Line | None], object]

#: how many distinct procedure codes keep their list of rules in memory
_MEMO_LIMIT = 200_000


class Evaluator:
    """The compiled rules of one pack. Safe to share between threads: checking a claim
    writes only to per-call lists and to memo dicts whose entries never change."""

    def __init__(self, checked: CheckedPack, facts: dict[str, RuleFacts]):
        self._sets = _SetBuilder(checked)
        self.order = {rule.id: i for i, rule in enumerate(checked.rules)}
        self.claim_rules = []
        self.line_rules = []
        for rule in checked.rules:
            if rule.per_line:
                self.line_rules.append(_LineRule(rule, facts[rule.id], checked, self._sets))
            else:
                self.claim_rules.append(_ClaimRule(rule, facts[rule.id], self._sets))
        self._by_code: dict[str | None, tuple[_LineRule, ...]] = {}

    def rules_for(self, procedure: str | None) -> tuple["_LineRule", ...]:
        rules = self._by_code.get(procedure)
        if rules is None:
            rules = tuple(r for r in self.line_rules if r.applies_to(procedure))
            if len(self._by_code) < _MEMO_LIMIT:
                self._by_code[procedure] = rules
        return rules

    def findings(self, claim: Claim) -> tuple[Finding, ...]:
        found: list[Finding] = []
        for rule in self.claim_rules:
            rule.run(claim, found)
        claim_level_done = None
        for line in claim.lines:
            for rule in self.rules_for(line.procedure):
                extras = rule.violation(claim, line)
                if extras is None:
                    continue
                if rule.claim_scope:
                    # one finding for the claim, from the first line that breaks the rule
                    claim_level_done = claim_level_done or set()
                    if rule.facts.rule.id in claim_level_done:
                        continue
                    claim_level_done.add(rule.facts.rule.id)
                found.append(rule.facts.finding(claim, line, extras))
        if len(found) > 1:
            return sort_findings(found, self.order)
        return tuple(found)


def _window(rule: ast.Rule) -> tuple[date | None, date | None]:
    start = date.fromisoformat(rule.effective_from.text) if rule.effective_from else None
    end = date.fromisoformat(rule.effective_through.text) if rule.effective_through else None
    return start, end


class _ClaimRule:
    __slots__ = ("facts", "start", "end", "guard", "require")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, sets: "_SetBuilder"):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.guard = _test(rule.guard, sets) if rule.guard is not None else None
        self.require = _test(rule.check.condition, sets)

    def run(self, claim: Claim, found: list) -> None:
        day = claim.first_service_date
        if (self.start and day < self.start) or (self.end and day > self.end):
            return
        if self.guard is not None and self.guard(claim, None) is not True:
            return
        if self.require(claim, None) is False:
            found.append(self.facts.finding(claim, None))


class _LineRule:
    __slots__ = ("facts", "start", "end", "guard", "where", "triggers", "check", "claim_scope")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, checked: CheckedPack, sets: "_SetBuilder"):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.claim_scope = rule.action.scope == "claim"
        self.guard = _test(rule.guard, sets) if rule.guard is not None else None
        triggers, rest = _split_trigger(rule.where, sets)
        self.where = _test(rest, sets) if rest is not None else None
        check = rule.check
        if isinstance(check, ast.Require):
            self.check = _require(_test(check.condition, sets))
        elif isinstance(check, ast.RequireUnbundled):
            pairs = _PairIndex(checked.tables[check.table], check)
            triggers.append(pairs.column2_codes)
            self.check = pairs.violation
        else:
            limits = _UnitIndex(checked.tables[check.table])
            triggers.append(limits.codes)
            self.check = limits.violation
        self.triggers = tuple(triggers)

    def applies_to(self, procedure: str | None) -> bool:
        return all(procedure in t for t in self.triggers)

    def violation(self, claim: Claim, line: Line) -> dict | None:
        day = line.service_date
        if (self.start and day < self.start) or (self.end and day > self.end):
            return None
        if self.guard is not None and self.guard(claim, None) is not True:
            return None
        if self.where is not None and self.where(claim, line) is not True:
            return None
        return self.check(claim, line)


_NO_EXTRAS: dict = {}


def _require(test: Test):
    def violation(claim, line):
        return _NO_EXTRAS if test(claim, line) is False else None
    return violation


def _split_trigger(where, sets) -> tuple[list, object]:
    """Lift ``line.procedure in SET`` out of a where clause: it becomes an index key."""
    if where is None:
        return [], None
    parts = list(where.items) if isinstance(where, ast.AllOf) else [where]
    for i, part in enumerate(parts):
        if (isinstance(part, ast.Membership) and not part.negated
                and isinstance(part.expr, ast.Field) and part.expr.path == "line.procedure"):
            rest = parts[:i] + parts[i + 1:]
            if not rest:
                return [sets.build(part.set, "hcpcs")], None
            remaining = rest[0] if len(rest) == 1 else ast.AllOf(tuple(rest), where.pos)
            return [sets.build(part.set, "hcpcs")], remaining
    return [], where


# ---- table-driven checks --------------------------------------------------------------

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


def _governing(table, rows, day):
    for row in rows:
        if table.in_force(row, day):
            return row
    return None


class _PairIndex:
    """NCCI procedure-to-procedure pairs: column-two code -> column-one code -> rows."""

    def __init__(self, table, check: ast.RequireUnbundled):
        self.table = table
        c1, c2 = table.index("column1"), table.index("column2")
        self.indicator = table.index("modifier_indicator")
        by_pair = _rows_by_key(table, lambda r: (r[c2], r[c1]))
        self.pairs: dict[str, dict[str, tuple]] = {}
        for (col2, col1), rows in by_pair.items():
            self.pairs.setdefault(col2, {})[col1] = rows
        self.column2_codes = frozenset(self.pairs)
        bypass = (check.bypass.items if check.bypass is not None else ())
        self.bypass = frozenset(normalize("modifier", c.text) for c in bypass) or frozenset(DEFAULT_BYPASS)

    def violation(self, claim: Claim, line: Line):
        column1 = self.pairs[line.procedure]
        day = line.service_date
        for other in claim.lines:
            if other is line or other.service_date != day:
                continue
            rows = column1.get(other.procedure)
            if rows is None:
                continue
            row = _governing(self.table, rows, day)
            if row is None:
                continue
            indicator = row[self.indicator]
            if indicator == 9:
                continue
            if indicator == 1 and not self.bypass.isdisjoint(line.modifiers):
                continue
            return {"column1": other.procedure, "column1_line": other.line_number,
                    "modifier_indicator": indicator}
        return None


class _UnitIndex:
    """Medically unlikely edits: code -> rows (limit, adjudication indicator)."""

    def __init__(self, table):
        self.table = table
        code = table.index("code")
        self.limit, self.mai = table.index("limit"), table.index("adjudication")
        self.rows = _rows_by_key(table, lambda r: r[code])
        self.codes = frozenset(self.rows)

    def violation(self, claim: Claim, line: Line):
        row = _governing(self.table, self.rows[line.procedure], line.service_date)
        if row is None:
            return None
        limit, mai = row[self.limit], row[self.mai]
        if mai == 2 or mai == 3:  # a date-of-service edit: all lines of the code on the date
            billed = sum(o.units for o in claim.lines
                         if o.procedure == line.procedure and o.service_date == line.service_date)
        else:
            billed = line.units
        if billed > limit:
            return {"limit": limit, "units_billed": billed, "adjudication": mai}
        return None


# ---- value sets -------------------------------------------------------------------------

class _SetBuilder:
    """Builds each set once; a named value set is shared by every rule that names it."""

    def __init__(self, checked: CheckedPack):
        self.checked = checked
        self.named: dict[str, CodeSet] = {}

    def build(self, ref, kind: str) -> CodeSet:
        if isinstance(ref, ast.SetName):
            found = self.named.get(ref.name)
            if found is None:
                vs = self.checked.valuesets[ref.name]
                found = self.named[ref.name] = self.build(vs.codes, vs.kind)
            return found
        items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
        entries: list[str | CodeRange] = []
        for item in items:
            if isinstance(item, ast.CodeSpan):
                low, high = normalize(kind, item.low.text), normalize(kind, item.high.text)
                if kind == "icd10":
                    low, high = low.replace(".", ""), high.replace(".", "")
                entries.append(CodeRange(low, high))
            else:
                written = item.text if isinstance(item, ast.Code) else item.value
                entries.append(written if kind == "text" else normalize(kind, written))
        return CodeSet(kind, entries)


# ---- conditions ---------------------------------------------------------------------------

def _value(expr, sets) -> Value:
    if isinstance(expr, ast.Field):
        return FIELDS[expr.path].get
    if isinstance(expr, ast.DateShift):
        if isinstance(expr.operand, ast.DateValue):  # fold: a literal date moved is a constant
            constant = shift(date.fromisoformat(expr.operand.text), expr.amount, expr.unit)
            return lambda c, l: constant
        base, amount, unit = _value(expr.operand, sets), expr.amount, expr.unit

        def shifted(c, l):
            day = base(c, l)
            return None if day is None else shift(day, amount, unit)
        return shifted
    constant = date.fromisoformat(expr.text) if isinstance(expr, ast.DateValue) else expr.value
    return lambda c, l: constant


def _constant(expr):
    """The value of an expression that does not depend on the claim, else a marker."""
    if isinstance(expr, (ast.Number, ast.Text)):
        return expr.value
    if isinstance(expr, ast.DateValue):
        return date.fromisoformat(expr.text)
    if isinstance(expr, ast.DateShift) and isinstance(expr.operand, ast.DateValue):
        return shift(date.fromisoformat(expr.operand.text), expr.amount, expr.unit)
    return _constant


_OPS = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _test(cond, sets: _SetBuilder) -> Test:
    if isinstance(cond, ast.AllOf):
        return _junction(tuple(_test(c, sets) for c in cond.items), decisive=False)
    if isinstance(cond, ast.AnyOf):
        return _junction(tuple(_test(c, sets) for c in cond.items), decisive=True)
    if isinstance(cond, ast.Not):
        inner = _test(cond.item, sets)

        def negation(c, l):
            value = inner(c, l)
            return None if value is None else not value
        return negation
    if isinstance(cond, ast.Presence):
        get, present = _value(cond.expr, sets), cond.present

        def presence(c, l):
            value = get(c, l)
            return (value is not None and value != "" and value != ()) == present
        return presence
    if isinstance(cond, ast.Comparison):
        return _comparison(cond, sets)
    if isinstance(cond, ast.Membership):
        kind = FIELDS[cond.expr.path].type if isinstance(cond.expr, ast.Field) else "text"
        codes, get = sets.build(cond.set, kind), _value(cond.expr, sets)
        if cond.negated:
            def not_member(c, l):
                value = get(c, l)
                return None if value is None else value not in codes
            return not_member

        def member(c, l):
            value = get(c, l)
            return None if value is None else value in codes
        return member
    if isinstance(cond, ast.Quantified):
        codes = sets.build(cond.set, FIELDS[cond.field.path].type)
        get = FIELDS[cond.field.path].get
        if cond.quantifier == "any":
            return lambda c, l: any(v in codes for v in get(c, l))
        if cond.quantifier == "all":
            return lambda c, l: all(v in codes for v in get(c, l))
        return lambda c, l: not any(v in codes for v in get(c, l))
    raise TypeError(f"not a condition: {cond!r}")


def _comparison(cond: ast.Comparison, sets) -> Test:
    op = _OPS[cond.op]
    right = _constant(cond.right)
    if right is not _constant:  # the usual case: a field against a constant
        left = _value(cond.left, sets)

        def against_constant(c, l):
            value = left(c, l)
            return None if value is None else op(value, right)
        return against_constant
    left, right_value = _value(cond.left, sets), _value(cond.right, sets)

    def compare(c, l):
        a, b = left(c, l), right_value(c, l)
        return None if a is None or b is None else op(a, b)
    return compare


def _junction(tests: tuple[Test, ...], decisive: bool) -> Test:
    """``and`` (decisive False) or ``or`` (decisive True) in three-valued logic: one decisive
    answer settles it; otherwise any unknown makes the whole unknown."""
    def junction(c, l):
        unknown = False
        for test in tests:
            value = test(c, l)
            if value is decisive:
                return decisive
            if value is None:
                unknown = True
        return None if unknown else not decisive
    return junction
