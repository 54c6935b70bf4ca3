"""Conditions compiled into closures: ``compile_test(condition)`` is a function of the claim,
the line in hand and the claim's context (``context.ClaimContext``) answering True, False
or None (unknown), in three-valued logic; ``compile_value(expression)`` the same for a value.

Value sets become ``CodeSet``s once (``SetBuilder``, shared by every rule that names a set),
a plain code list a frozenset whose membership test runs in C; constants are folded
(a literal date moved by N days is a date); ``is valid`` remembers each code's shape.
Quantifiers and aggregates over lines, table lookups and date windows are compiled by
``relations``. ``reference`` gives the meaning these must match.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from rulesengine.codes.icd10cm import Editions
from rulesengine.codes.kinds import CodeRange, CodeSet, Only, normalize, shape_error
from rulesengine.codes.validity import combine, is_valid
from rulesengine.language import ast
from rulesengine.language.dates import UNITS, shift
from rulesengine.language.fields import EARLIER_FIELDS, FIELDS, OTHER_FIELDS

from . import relations
from .checked import CheckedPack

Test = Callable[..., bool | None]  # (claim, line or None, ClaimContext)
Value = Callable[..., object]

#: how many distinct codes a memo keeps (a day's claims hold far fewer)
MEMO_LIMIT = 200_000


class SetBuilder:
    """Builds each set once; a named value set is shared by every rule that names it, and
    each table's lookup index by every lookup of the table."""

    def __init__(self, checked: CheckedPack):
        self.checked = checked
        self.named: dict[str, CodeSet] = {}
        self.lookups: dict[str, relations.LookupIndex] = {}

    def build(self, ref, kind: str) -> CodeSet:
        if isinstance(ref, ast.SetName):
            found = self.named.get(ref.name)
            if found is None:
                vs = self.checked.valuesets[ref.name]
                found = self.named[ref.name] = self.build(vs.codes, vs.kind)
            return found
        items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
        entries: list[str | CodeRange | Only] = []
        for item in items:
            if isinstance(item, ast.CodeSpan):
                low, high = normalize(kind, item.low.text), normalize(kind, item.high.text)
                if kind == "icd10":
                    low, high = low.replace(".", ""), high.replace(".", "")
                entries.append(CodeRange(low, high))
            elif isinstance(item, ast.Code) and item.exact:
                entries.append(Only(normalize(kind, item.text)))
            else:
                written = item.text if isinstance(item, ast.Code) else item.value
                entries.append(written if kind == "text" else normalize(kind, written))
        return CodeSet(kind, entries)

    def lookup_index(self, table: str) -> relations.LookupIndex:
        found = self.lookups.get(table)
        if found is None:
            found = self.lookups[table] = relations.LookupIndex(self.checked.tables[table])
        return found


def kind_of(expr) -> str:
    """The code kind (or type) of an expression, as the checker typed it."""
    if isinstance(expr, ast.Field):
        if expr.root == "other":
            return OTHER_FIELDS[expr.path].type
        return (EARLIER_FIELDS if expr.root == "earlier" else FIELDS)[expr.path].type
    return "text"


def is_list(expr) -> bool:
    if not isinstance(expr, ast.Field):
        return False
    table = OTHER_FIELDS if expr.root == "other" else EARLIER_FIELDS if expr.root == "earlier" else FIELDS
    return table[expr.path].is_list


# ---- values -------------------------------------------------------------------------------

def compile_value(expr, sets) -> Value:
    if isinstance(expr, ast.Field):
        return _field(expr)
    if isinstance(expr, ast.DateShift):
        if isinstance(expr.operand, ast.DateValue):  # fold: a literal date moved is a constant
            constant = shift(date.fromisoformat(expr.operand.text), expr.amount, expr.unit)
            return lambda c, l, x: constant
        base, amount, unit = compile_value(expr.operand, sets), expr.amount, expr.unit
        if UNITS[unit] == "days":
            delta = timedelta(days=amount)

            def shifted_days(c, l, x):
                day = base(c, l, x)
                try:
                    return None if day is None else day + delta
                except OverflowError:  # off the calendar: unknown
                    return None
            return shifted_days

        def shifted(c, l, x):
            day = base(c, l, x)
            return None if day is None else shift(day, amount, unit)
        return shifted
    if isinstance(expr, ast.Arithmetic):
        left, right, plus = compile_value(expr.left, sets), compile_value(expr.right, sets), expr.op == "+"

        def arithmetic(c, l, x):
            a, b = left(c, l, x), right(c, l, x)
            if a is None or b is None:
                return None
            return a + b if plus else a - b
        return arithmetic
    if isinstance(expr, ast.Lookup):
        return relations.lookup_value(expr, sets.lookup_index(expr.table), compile_value(expr.key, sets)
                                      if expr.key is not None else None)
    if isinstance(expr, ast.Aggregate):
        return relations.aggregate(expr, _plan(expr.scope, expr.condition, sets),
                                   _field(expr.field) if expr.field is not None else None)
    constant = date.fromisoformat(expr.text) if isinstance(expr, ast.DateValue) else expr.value
    return lambda c, l, x: constant


def _field(expr: ast.Field) -> Value:
    """A field's getter: the claim's own fields read directly; ``other.`` fields read the
    line a quantifier holds in the context, ``earlier.`` fields the recorded line."""
    if expr.root == "other":
        get = OTHER_FIELDS[expr.path].get
        return lambda c, l, x: get(c, x.other)
    if expr.root == "earlier":
        get = EARLIER_FIELDS[expr.path].get
        return lambda c, l, x: get(x.earlier)
    return FIELDS[expr.path].get


def _plan(scope: str, condition, sets) -> relations.Plan:
    return relations.Plan(scope, condition, sets, compile_test, compile_value)


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


# ---- conditions ---------------------------------------------------------------------------

def compile_test(cond, sets: SetBuilder) -> Test:
    if isinstance(cond, ast.AllOf):
        return _junction(tuple(compile_test(c, sets) for c in cond.items), decisive=False)
    if isinstance(cond, ast.AnyOf):
        return _junction(tuple(compile_test(c, sets) for c in cond.items), decisive=True)
    if isinstance(cond, ast.Not):
        inner = compile_test(cond.item, sets)

        def negation(c, l, x):
            value = inner(c, l, x)
            return None if value is None else not value
        return negation
    if isinstance(cond, ast.Presence):
        get, present = compile_value(cond.expr, sets), cond.present

        def presence(c, l, x):
            value = get(c, l, x)
            return (value is not None and value != "" and value != ()) == present
        return presence
    if isinstance(cond, ast.Comparison):
        return _comparison(cond, sets)
    if isinstance(cond, ast.Membership):
        return _membership(cond, sets)
    if isinstance(cond, ast.Validity):
        return _validity(cond, sets.checked.icd10)
    if isinstance(cond, ast.Quantified):
        return _quantified(cond, sets)
    if isinstance(cond, ast.LineQuantifier):
        return relations.line_quantifier(cond, _plan(cond.scope, cond.condition, sets))
    if isinstance(cond, ast.DateWindow):
        return relations.date_window(cond, compile_value(cond.subject, sets),
                                     compile_value(cond.reference, sets))
    raise TypeError(f"not a condition: {cond!r}")


def _membership(cond: ast.Membership, sets) -> Test:
    get = compile_value(cond.expr, sets)
    if isinstance(cond.set, ast.Lookup):
        values = relations.lookup_set(cond.set, sets.lookup_index(cond.set.table),
                                      compile_value(cond.set.key, sets) if cond.set.key is not None else None)
        negated = cond.negated

        def in_lookup(c, l, x):
            value = get(c, l, x)
            if value is None:
                return None
            found = values(c, l, x)
            return None if found is None else (value in found) != negated
        return in_lookup
    codes = _fastest(sets.build(cond.set, kind_of(cond.expr)))
    if cond.negated:
        def not_member(c, l, x):
            value = get(c, l, x)
            return None if value is None else value not in codes
        return not_member

    def member(c, l, x):
        value = get(c, l, x)
        return None if value is None else value in codes
    return member


def _quantified(cond: ast.Quantified, sets) -> Test:
    code_set = sets.build(cond.set, kind_of(cond.field))
    get = compile_value(cond.field, sets)
    exact = code_set.exact_codes()
    if exact is not None:  # a plain list: the set operations run in C
        if cond.quantifier == "any":
            return lambda c, l, x: not exact.isdisjoint(get(c, l, x))
        if cond.quantifier == "all":
            return lambda c, l, x: exact.issuperset(get(c, l, x))
        return lambda c, l, x: exact.isdisjoint(get(c, l, x))
    memo = code_set._memo  # read the remembered answers without a method call per code

    def any_in(c, l, x):
        for v in get(c, l, x):
            hit = memo.get(v)
            if hit is None:
                hit = v in code_set
            if hit:
                return True
        return False
    if cond.quantifier == "any":
        return any_in
    if cond.quantifier == "all":
        def all_in(c, l, x):
            for v in get(c, l, x):
                hit = memo.get(v)
                if hit is None:
                    hit = v in code_set
                if not hit:
                    return False
            return True
        return all_in
    return lambda c, l, x: not any_in(c, l, x)


def _validity(cond: ast.Validity, icd10: Editions) -> Test:
    """``is valid``. A code's shape is judged once and remembered; ICD-10-CM answers then
    come from the edition of the date of service (a search among a few dates and a dict
    lookup); place-of-service and modifier answers are a dict lookup and date comparisons."""
    kind, get, quantifier, want = kind_of(cond.field), _field(cond.field), cond.quantifier, cond.valid
    memo: dict = {}  # code -> "" when malformed, else the code as its code set writes it
    edition_on = icd10.at
    of_other = cond.field.root == "other"

    def answer(code, day):
        if kind in ("pos", "modifier"):
            return is_valid(kind, code, day)
        flat = memo.get(code)
        if flat is None:
            flat = "" if shape_error(kind, code) else code.replace(".", "")
            if len(memo) < MEMO_LIMIT:
                memo[code] = flat
        if not flat:  # malformed
            return False
        if kind == "hcpcs":
            return True
        edition = edition_on(day)
        return None if edition is None else edition.codes.get(flat) is True

    def at(c, l, x):
        if of_other:
            return x.other.service_date
        return l.service_date if l is not None else c.first_service_date

    if quantifier is None:
        def single(c, l, x):
            code = get(c, l, x)
            if not code:
                return None
            found = answer(code, at(c, l, x))
            return None if found is None else found == want
        return single
    if want:
        return lambda c, l, x: combine(quantifier, [answer(code, at(c, l, x)) for code in get(c, l, x)])
    return lambda c, l, x: combine(quantifier, [None if (a := answer(code, at(c, l, x))) is None else not a
                                                for code in get(c, l, x)])


def _fastest(codes: CodeSet):
    """A plain list of codes as a frozenset, whose membership test runs in C."""
    exact = codes.exact_codes()
    return codes if exact is None else exact


def _comparison(cond: ast.Comparison, sets) -> Test:
    if is_list(cond.left) and is_list(cond.right):  # other.modifier = line.modifier
        left, right, equal = compile_value(cond.left, sets), compile_value(cond.right, sets), cond.op == "="
        return lambda c, l, x: (set(left(c, l, x)) == set(right(c, l, x))) == equal
    op = _OPS[cond.op]
    right = _constant(cond.right)
    if right is not _constant:  # the usual case: a field against a constant
        left = compile_value(cond.left, sets)

        def against_constant(c, l, x):
            value = left(c, l, x)
            return None if value is None else op(value, right)
        return against_constant
    left, right_value = compile_value(cond.left, sets), compile_value(cond.right, sets)

    def compare(c, l, x):
        a, b = left(c, l, x), right_value(c, l, x)
        return None if a is None or b is None else op(a, b)
    return compare


def _junction(tests: tuple[Test, ...], decisive: bool) -> Test:
    """``and`` (decisive False) or ``or`` (decisive True) in three-valued logic: one decisive
    answer settles it; otherwise any unknown makes the whole unknown."""
    def junction(c, l, x):
        unknown = False
        for test in tests:
            value = test(c, l, x)
            if value is decisive:
                return decisive
            if value is None:
                unknown = True
        return None if unknown else not decisive
    return junction
