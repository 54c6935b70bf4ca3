"""Conditions compiled into closures: ``compile_test(condition)`` is a function of the claim
and the line in hand answering True, False or None (unknown), in three-valued logic.

Value sets become ``CodeSet``s once (``SetBuilder``, shared by every rule that names a set),
a plain code list a frozenset whose membership test runs in C; constants are folded
(a literal date moved by N days is a date); ``is valid`` remembers each code's shape.
``reference`` gives the meaning these must match.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from rulesengine.claims.model import Claim, Line
from rulesengine.codes.icd10cm import Editions
from rulesengine.codes.kinds import CodeRange, CodeSet, normalize, shape_error
from rulesengine.codes.validity import combine, is_valid
from rulesengine.language import ast
from rulesengine.language.dates import UNITS, shift
from rulesengine.language.fields import FIELDS

from .checked import CheckedPack

Test = Callable[[Claim, Line | None], bool | None]
Value = Callable[[Claim, Line | None], object]

#: how many distinct codes a memo keeps (a day's claims hold far fewer)
MEMO_LIMIT = 200_000


class SetBuilder:
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

def compile_value(expr, sets) -> Value:
    if isinstance(expr, ast.Field):
        return FIELDS[expr.path].get
    if isinstance(expr, ast.DateShift):
        if isinstance(expr.operand, ast.DateValue):  # fold: a literal date moved is a constant
            constant = shift(date.fromisoformat(expr.operand.text), expr.amount, expr.unit)
            return lambda c, l: constant
        base, amount, unit = compile_value(expr.operand, sets), expr.amount, expr.unit
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


def compile_test(cond, sets: SetBuilder) -> Test:
    if isinstance(cond, ast.AllOf):
        return _junction(tuple(compile_test(c, sets) for c in cond.items), decisive=False)
    if isinstance(cond, ast.AnyOf):
        return _junction(tuple(compile_test(c, sets) for c in cond.items), decisive=True)
    if isinstance(cond, ast.Not):
        inner = compile_test(cond.item, sets)

        def negation(c, l):
            value = inner(c, l)
            return None if value is None else not value
        return negation
    if isinstance(cond, ast.Presence):
        get, present = compile_value(cond.expr, sets), cond.present

        def presence(c, l):
            value = get(c, l)
            return (value is not None and value != "" and value != ()) == present
        return presence
    if isinstance(cond, ast.Comparison):
        return _comparison(cond, sets)
    if isinstance(cond, ast.Membership):
        kind = FIELDS[cond.expr.path].type if isinstance(cond.expr, ast.Field) else "text"
        codes, get = _fastest(sets.build(cond.set, kind)), compile_value(cond.expr, sets)
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
            if len(memo) < MEMO_LIMIT:
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
        left = compile_value(cond.left, sets)

        def against_constant(c, l):
            value = left(c, l)
            return None if value is None else op(value, right)
        return against_constant
    left, right_value = compile_value(cond.left, sets), compile_value(cond.right, sets)

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
