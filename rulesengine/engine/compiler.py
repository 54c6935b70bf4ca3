"""Compiles checked rules into closures, indexed by procedure code.

Everything that does not depend on the claim is done here, once: value sets become
``CodeSet``s, dates become ``date``s, a date literal moved by N days is folded, tables
become dicts keyed by code, and each line rule names the procedure codes it can apply
to, so a claim line meets only the rules written for its code. The per-claim path walks
no tree and parses nothing. ``reference`` gives the meaning this must match.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, timedelta
from operator import attrgetter

from rulesengine.language import ast
from .checked import CheckedPack
from rulesengine.language.checker import bypass_modifiers
from rulesengine.codes.kinds import CodeRange, CodeSet, normalize, shape_error
from rulesengine.language.dates import UNITS, shift
from rulesengine.language.fields import FIELDS
from .history import HistoryRequired, window_start
from rulesengine.codes.icd10cm import Editions
from rulesengine.language.windows import dates_in_force
from rulesengine.claims.model import Claim, Line
from .results import Finding
from .runtime import RuleFacts, fields_named, sort_findings, version_key
from rulesengine.codes.validity import combine, is_valid

Test = Callable[[Claim, Line | None], bool | None]
Value = Callable[[Claim, Line | None], object]

#: how many distinct procedure codes keep their list of rules in memory
_MEMO_LIMIT = 200_000


#: claim fields with few distinct values. A guard that reads only these is decided once per
#: combination of their values (a few hundred in a day's claims), not once per claim and rule.
_KEY_FIELDS = {"claim.type": "claim_type", "claim.plan": "plan", "claim.payer": "payer_id",
               "claim.frequency_code": "frequency_code", "patient.sex": "sex"}
_claim_key = attrgetter(*_KEY_FIELDS.values())
_KEY_LIMIT = 10_000


class Evaluator:
    """The compiled rules of one pack. Safe to share between threads: checking a claim
    writes only to per-call lists and to memo dicts whose entries never change."""

    def __init__(self, checked: CheckedPack, facts: dict[tuple, RuleFacts]):
        self._sets = _SetBuilder(checked)
        self.order = {rule.id: i for i, rule in enumerate(checked.rules)}
        self.claim_rules = []
        self.line_rules = []
        for rule in checked.rules:
            if rule.per_line:
                compiled = _LineRule(rule, facts[version_key(rule)], checked, self._sets)
                self.line_rules.extend(_by_stretch(compiled, rule))
            else:
                compiled = _ClaimRule(rule, facts[version_key(rule)], self._sets)
                self.claim_rules.extend(_by_stretch(compiled, rule))
        reading = [r for r in checked.rules if isinstance(r.check, ast.HISTORY_CHECKS)]
        #: the rules that read the claim history, which checking must then be given
        self.history_rules = tuple(dict.fromkeys(r.id for r in reading))
        self._history_pack = facts[version_key(reading[0])].pack if reading else None
        self._by_code: dict[str | None, tuple[_LineRule, ...]] = {}
        self._by_key: dict[tuple, tuple] = {}
        self._index_line_rules()

    def _index_line_rules(self):
        """Each line rule filed under its first trigger's codes, so finding the rules for a
        procedure code looks at a few candidates, not at every rule of the pack."""
        self._position = {rule: i for i, rule in enumerate(self.line_rules)}
        self._exact: dict[str, list] = {}
        self._ranges: list = []    # (low, high, rule)
        self._prefixes: list = []  # (prefix, rule)
        self._always: list = []    # rules with no trigger: every line meets them
        for rule in self.line_rules:
            if not rule.triggers:
                self._always.append(rule)
                continue
            first = rule.triggers[0]
            if isinstance(first, CodeSet):
                exact, prefixes, ranges = first.exact, first.prefixes, first.ranges
            else:
                exact, prefixes, ranges = first, (), ()
            for code in exact:
                self._exact.setdefault(code, []).append(rule)
            self._ranges.extend((r.low, r.high, rule) for r in ranges)
            self._prefixes.extend((p, rule) for p in prefixes)

    def rules_for(self, procedure: str | None) -> tuple["_LineRule", ...]:
        rules = self._by_code.get(procedure)
        if rules is None:
            if procedure is None:
                candidates = set(self._always)
            else:
                candidates = {*self._always, *self._exact.get(procedure, ()),
                              *(r for low, high, r in self._ranges
                                if len(low) == len(procedure) and low <= procedure <= high),
                              *(r for p, r in self._prefixes if procedure.startswith(p))}
            rules = tuple(sorted((r for r in candidates if r.applies_to(procedure)),
                                 key=self._position.__getitem__))
            if len(self._by_code) < _MEMO_LIMIT:
                self._by_code[procedure] = rules
        return rules

    def _decide(self, claim: Claim, key: tuple) -> tuple:
        """For this combination of key fields: the claim rules whose keyed guard holds, and
        the line rules whose keyed guard does not (they are skipped)."""
        claim_rules = tuple(r for r in self.claim_rules
                            if r.keyed is None or r.keyed(claim, None) is True)
        blocked = frozenset(r for r in self.line_rules
                            if r.keyed is not None and r.keyed(claim, None) is not True)
        entry = (claim_rules, blocked)
        if len(self._by_key) < _KEY_LIMIT:
            self._by_key[key] = entry
        return entry

    def findings(self, claim: Claim, history=None) -> tuple[Finding, ...]:
        if history is None and self.history_rules:
            raise HistoryRequired(self._history_pack, self.history_rules)
        found: list[Finding] = []
        key = _claim_key(claim)
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._decide(claim, key)
        claim_rules, blocked = entry
        for rule in claim_rules:
            rule.run(claim, found)
        claim_level_done = None
        by_code = self._by_code
        for line in claim.lines:
            rules = by_code.get(line.procedure)
            if rules is None:
                rules = self.rules_for(line.procedure)
            for rule in rules:
                if rule in blocked:
                    continue
                extras = rule.violation(claim, line, history)
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


def _split_guard(guard, sets) -> tuple:
    """A guard as (the part decided by the claim key, the rest), each a test or None."""
    if guard is None:
        return None, None
    parts = list(guard.items) if isinstance(guard, ast.AllOf) else [guard]
    keyed = [p for p in parts if all(f in _KEY_FIELDS for f in fields_named(p))]
    rest = [p for p in parts if p not in keyed]

    def join(items):
        if not items:
            return None
        return _test(items[0] if len(items) == 1 else ast.AllOf(tuple(items), guard.pos), sets)
    return join(keyed), join(rest)


def _window(rule: ast.Rule) -> tuple[date | None, date | None]:
    start = date.fromisoformat(rule.effective_from.text) if rule.effective_from else None
    end = date.fromisoformat(rule.effective_through.text) if rule.effective_through else None
    return start, end


def _by_stretch(compiled, rule: ast.Rule) -> list:
    """A rule version as compiled, once per stretch of dates it applies on. A later pack's
    window that takes the rule over may split it in two (before and after); each copy keeps
    the single first/last-day test, so the per-line path is the same with layers or without."""
    if not rule.superseded:
        return [compiled]
    copies = []
    for start, end in dates_in_force(rule):
        piece = copy.copy(compiled)  # shares the tests and indexes; only the dates differ
        piece.start, piece.end = start, end
        copies.append(piece)
    return copies


class _ClaimRule:
    __slots__ = ("facts", "start", "end", "keyed", "guard", "require")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, sets: "_SetBuilder"):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.keyed, self.guard = _split_guard(rule.guard, sets)
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
    __slots__ = ("facts", "start", "end", "keyed", "guard", "where", "triggers", "check", "test",
                 "claim_scope", "uses_history")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, checked: CheckedPack, sets: "_SetBuilder"):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.claim_scope = rule.action.scope == "claim"
        self.keyed, self.guard = _split_guard(rule.guard, sets)
        triggers, rest = _split_trigger(rule.where, sets)
        self.where = _test(rest, sets) if rest is not None else None
        check = rule.check
        self.test = self.check = None
        self.uses_history = isinstance(check, ast.HISTORY_CHECKS)
        if isinstance(check, ast.Require):
            self.test = _test(check.condition, sets)
        elif isinstance(check, ast.RequireFrequency):
            self.check = _FrequencyLimit(check, sets).violation
        elif isinstance(check, ast.RequireNoDuplicate):
            self.check = _duplicate
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

    def violation(self, claim: Claim, line: Line, history=None) -> dict | None:
        day = line.service_date
        if (self.start and day < self.start) or (self.end and day > self.end):
            return None
        if self.guard is not None and self.guard(claim, None) is not True:
            return None
        if self.where is not None and self.where(claim, line) is not True:
            return None
        if self.test is not None:  # a plain requirement, tested here: one call less per line
            return _NO_EXTRAS if self.test(claim, line) is False else None
        if self.uses_history:
            return self.check(claim, line, history)
        return self.check(claim, line)


_NO_EXTRAS: dict = {}


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


def _dated(table, groups: dict, *columns) -> dict:
    """Each group's rows as (first day, last day, the columns asked for), in the same order."""
    start, end = table.date_from, table.date_through
    return {k: tuple((r[start] if start is not None else None, r[end] if end is not None else None,
                      *(r[c] for c in columns)) for r in rows) for k, rows in groups.items()}


class _PairIndex:
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


class _UnitIndex:
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

class _FrequencyLimit:
    """At most ``limit`` services of the line's procedure in the window ending on its date."""

    def __init__(self, check: ast.RequireFrequency, sets: "_SetBuilder"):
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
                prior.extend(d for c, d, _ in history.lines_for(claim.member_id, code)
                             if start <= d <= day and c != claim.claim_id)
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


def _duplicate(claim: Claim, line: Line, history):
    npi = claim.billing_npi
    if not (line.procedure and claim.member_id and npi):
        return None
    day, own = line.service_date, claim.claim_id
    others = sorted({c for c, d, n in history.lines_for(claim.member_id, line.procedure)
                     if d == day and n == npi and c != own})
    return {"duplicate_claims": tuple(others), "prior_dates": (day,)} if others else None


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
        if UNITS[unit] == "days":
            delta = timedelta(days=amount)

            def shifted_days(c, l):
                day = base(c, l)
                return None if day is None else day + delta
            return shifted_days

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
        codes, get = _fastest(sets.build(cond.set, kind)), _value(cond.expr, sets)
        if cond.negated:
            def not_member(c, l):
                value = get(c, l)
                return None if value is None else value not in codes
            return not_member

        def member(c, l):
            value = get(c, l)
            return None if value is None else value in codes
        return member
    if isinstance(cond, ast.Validity):
        return _validity(cond, sets.checked.icd10)
    if isinstance(cond, ast.Quantified):
        code_set = sets.build(cond.set, FIELDS[cond.field.path].type)
        get = FIELDS[cond.field.path].get
        exact = code_set.exact_codes()
        if exact is not None:  # a plain list: the set operations run in C
            if cond.quantifier == "any":
                return lambda c, l: not exact.isdisjoint(get(c, l))
            if cond.quantifier == "all":
                return lambda c, l: exact.issuperset(get(c, l))
            return lambda c, l: exact.isdisjoint(get(c, l))
        memo = code_set._memo  # read the remembered answers without a method call per code

        def any_in(c, l):
            for v in get(c, l):
                hit = memo.get(v)
                if hit is None:
                    hit = v in code_set
                if hit:
                    return True
            return False
        if cond.quantifier == "any":
            return any_in
        if cond.quantifier == "all":
            def all_in(c, l):
                for v in get(c, l):
                    hit = memo.get(v)
                    if hit is None:
                        hit = v in code_set
                    if not hit:
                        return False
                return True
            return all_in
        return lambda c, l: not any_in(c, l)
    raise TypeError(f"not a condition: {cond!r}")


def _validity(cond: ast.Validity, icd10: Editions) -> Test:
    """``is valid``. A code's shape is judged once and remembered; ICD-10-CM answers then
    come from the edition of the date of service (a search among a few dates and a dict
    lookup); place-of-service and modifier answers are a dict lookup and date comparisons."""
    spec = FIELDS[cond.field.path]
    kind, get, quantifier, want = spec.type, spec.get, cond.quantifier, cond.valid
    memo: dict = {}  # code -> "" when malformed, else the code as its code set writes it
    edition_on = icd10.at

    def answer(code, day):
        if kind in ("pos", "modifier"):
            return is_valid(kind, code, day)
        flat = memo.get(code)
        if flat is None:
            flat = "" if shape_error(kind, code) else code.replace(".", "")
            if len(memo) < _MEMO_LIMIT:
                memo[code] = flat
        if not flat:  # malformed
            return False
        if kind == "hcpcs":
            return True
        edition = edition_on(day)
        return None if edition is None else edition.codes.get(flat) is True

    def at(c, l):
        return l.service_date if l is not None else c.first_service_date

    if quantifier is None:
        def single(c, l):
            code = get(c, l)
            if not code:
                return None
            found = answer(code, at(c, l))
            return None if found is None else found == want
        return single
    if want:
        return lambda c, l: combine(quantifier, [answer(code, at(c, l)) for code in get(c, l)])
    return lambda c, l: combine(quantifier, [None if (a := answer(code, at(c, l))) is None else not a
                                             for code in get(c, l)])


def _fastest(codes: CodeSet):
    """A plain list of codes as a frozenset, whose membership test runs in C."""
    exact = codes.exact_codes()
    return codes if exact is None else exact


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
