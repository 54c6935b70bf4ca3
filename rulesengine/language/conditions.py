"""What conditions and expressions mean in types: the checking stage a rule's conditions go
through, with every problem at its place.

Each expression has a type (a date, a number, a text, or a kind of code) and holds one
value or a list. A condition is checked where it stands (``At``): in a claim rule or a
line rule (``line.`` fields exist only in line rules), and inside a quantifier or an
aggregate over lines, which binds ``other.`` (this claim's other lines) or ``earlier.``
(the patient's earlier claims) for its condition and nowhere else. Lookups name a table
declared in the pack, a column it has, and a key of the type of its first column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from rulesengine.codes.kinds import CODE_KINDS, normalize, shape_error
from rulesengine.codes.validity import KINDS as VALIDITY_KINDS

from . import ast
from .dates import UNITS, shift
from .diagnostics import Diagnostic, did_you_mean
from .fields import EARLIER_FIELDS, FIELDS, OTHER_FIELDS, field_spec
from .syntax import parse_date

#: how far a date may move: 200 years, in each unit (beyond that the calendar ends)
SHIFT_LIMITS = {"days": 73_000, "months": 2_400, "years": 200}
#: a table column's type as the type of the values a lookup reads from it
COLUMN_FAMILY = {"integer": "number", "number": "number", "date": "date"}


@dataclass(frozen=True)
class At:
    """Where a condition is checked: in a line rule (``line.`` fields exist), and inside a
    quantifier or aggregate over which lines (``other`` or ``earlier``), if any."""

    per_line: bool
    scope: str | None = None


class ConditionChecker:
    """Checks conditions, expressions and code lists; ``checker._Checker`` runs it over a pack."""

    def __init__(self, valuesets: dict[str, ast.ValueSet], table_decls: dict[str, ast.Table]):
        self.problems: list[Diagnostic] = []
        self.valuesets = valuesets
        self.table_decls = table_decls

    def report(self, code: str, pos: ast.Pos, message: str, hint: str | None = None):
        self.problems.append(Diagnostic(code, pos, message, hint))

    # ---- codes -------------------------------------------------------------------------
    def check_codes(self, codes: ast.CodeList | ast.Code | ast.CodeSpan, kind: str):
        items = codes.items if isinstance(codes, ast.CodeList) else (codes,)
        for item in items:
            if isinstance(item, ast.CodeSpan):
                self.check_code(item.low, kind)
                self.check_code(item.high, kind)
                low, high = normalize(kind, item.low.text), normalize(kind, item.high.text)
                if "*" in low + high:
                    self.report("bad-range", item.pos, "a range joins two codes, not patterns")
                elif len(low) != len(high):
                    self.report("bad-range", item.pos,
                                f"{low}..{high} joins codes of different lengths")
                elif low > high:
                    self.report("bad-range", item.pos, f"{low}..{high} runs backwards",
                                f"write {high}..{low}")
            elif isinstance(item, ast.Text) and kind != "text":
                self.check_code(ast.Code(item.value, item.pos), kind)
            elif isinstance(item, ast.Code):
                self.check_code(item, kind)
                if item.exact and kind != "icd10":
                    self.report("bad-code", item.pos,
                                f"'only' keeps an ICD-10-CM code from covering the codes below it; "
                                f"{_kind_plural(kind)} match only themselves already",
                                f"write {item.text}")
                elif item.exact and "*" in item.text:
                    self.report("bad-code", item.pos, f"{item.text} is a pattern: it cannot match only itself",
                                f"write {item.text.rstrip('*').rstrip('.')} only")

    def check_literal(self, spec, text: ast.Text):
        """A text compared with a field must be a value the field can hold."""
        if spec.values is not None and text.value not in spec.values:
            self.report("impossible-value", text.pos,
                        f"{spec.path} is never \"{text.value}\"; it is one of "
                        + ", ".join(f'"{v}"' for v in sorted(spec.values)),
                        did_you_mean(text.value, spec.values)
                        or next((f'did you mean "{v}"?' for v in spec.values
                                 if v.lower() == text.value.lower()), None))
        elif spec.type in CODE_KINDS and spec.type != "text":
            self.check_code(ast.Code(text.value, text.pos), spec.type)

    def check_code(self, code: ast.Code, kind: str):
        problem = shape_error(kind, normalize(kind, code.text))
        if problem:
            # show the code as it was written, not its normal form (82306, not 823.06)
            self.report("bad-code", code.pos, problem.replace(
                f"'{normalize(kind, code.text)}'", f"'{code.text}'", 1))

    # ---- conditions --------------------------------------------------------------------
    def check_condition(self, cond, at: At):
        if isinstance(cond, (ast.AllOf, ast.AnyOf)):
            for item in cond.items:
                self.check_condition(item, at)
        elif isinstance(cond, ast.Not):
            self.check_condition(cond.item, at)
        elif isinstance(cond, ast.Comparison):
            self.check_comparison(cond, at)
        elif isinstance(cond, ast.Presence):
            self.type_of(cond.expr, at)
        elif isinstance(cond, ast.Membership):
            self.check_membership(cond, at)
        elif isinstance(cond, ast.Validity):
            self.check_validity(cond, at)
        elif isinstance(cond, ast.Quantified):
            kind, is_list = self.type_of(cond.field, at)
            if kind and not is_list:
                self.report("single-field", cond.pos,
                            f"{cond.field.path} holds one value, so '{cond.quantifier}' does not apply",
                            f"write {cond.field.path} in ...")
            elif kind:
                self.check_set(cond.set, kind, at)
        elif isinstance(cond, ast.LineQuantifier):
            self.check_line_quantifier(cond, at)
        elif isinstance(cond, ast.DateWindow):
            self.check_window(cond, at)

    def check_membership(self, cond: ast.Membership, at: At):
        kind, is_list = self.type_of(cond.expr, at)
        if is_list:
            self.report("list-field", cond.expr.pos, f"{_shown(cond.expr)} holds several values",
                        f"say which: any {_shown(cond.expr)} in ..., all ... or no ...")
        elif kind:
            self.check_set(cond.set, kind, at)
            spec = field_spec(cond.expr.path) if isinstance(cond.expr, ast.Field) else None
            if spec is not None and spec.values is not None and isinstance(cond.set, ast.CodeList):
                for item in cond.set.items:
                    if isinstance(item, ast.Text):
                        self.check_literal(spec, item)

    def check_validity(self, cond: ast.Validity, at: At):
        if not isinstance(cond.field, ast.Field):
            self.report("type-mismatch", cond.pos, "only a code field can be valid or not",
                        "like: line.place_of_service is valid")
            return
        kind, is_list = self.type_of(cond.field, at)
        if not kind:
            return
        if cond.field.root == "earlier":
            self.report("no-code-set", cond.field.pos,
                        "the history keeps no date-by-date code sets: test the codes of the "
                        "claim in hand", f"test line.{cond.field.name} instead")
        elif kind not in VALIDITY_KINDS:
            self.report("no-code-set", cond.field.pos,
                        f"{cond.field.path} holds {_kind_plural(kind)}, and 'is valid' knows only "
                        + ", ".join(_kind_plural(k) for k in VALIDITY_KINDS),
                        "the NUBC revenue code list is licensed, so none ships with the engine: "
                        "test revenue codes 'in' a value set or a table" if kind == "revenue" else None)
        elif is_list and cond.quantifier is None:
            self.report("list-field", cond.field.pos, f"{cond.field.path} holds several values",
                        f"say which: any/all/no {cond.field.path} is valid")
        elif not is_list and cond.quantifier is not None:
            self.report("single-field", cond.pos,
                        f"{cond.field.path} holds one value, so '{cond.quantifier}' does not apply",
                        f"write {cond.field.path} is valid")

    def check_comparison(self, cond: ast.Comparison, at: At):
        left, left_list = self.type_of(cond.left, at)
        right, right_list = self.type_of(cond.right, at)
        if not left or not right:
            return
        if left_list and right_list:  # other.modifier = line.modifier: the same codes
            if left != right:
                self.report("type-mismatch", cond.pos,
                            f"cannot compare {_kind_plural(left)} with {_kind_plural(right)}")
            elif cond.op not in ("=", "!="):
                self.report("type-mismatch", cond.pos,
                            f"lists compare with = and != only (the same codes, in any order), not {cond.op}")
            return
        for side, is_list in ((cond.left, left_list), (cond.right, right_list)):
            if is_list:
                self.report("list-field", side.pos, f"{_shown(side)} holds several values",
                            f"use any/all/no {_shown(side)} in {{...}}, or compare it with another list")
                return
        for field_side, other in ((cond.left, cond.right), (cond.right, cond.left)):
            if isinstance(field_side, ast.Field) and isinstance(other, ast.Text):
                self.check_literal(field_spec(field_side.path), other)
        family = {"date": "date", "number": "number"}
        if family.get(left, "text") != family.get(right, "text"):
            self.report("type-mismatch", cond.pos,
                        f"cannot compare {_type_words(left)} with {_type_words(right)}")
        elif family.get(left, "text") == "text" and cond.op not in ("=", "!="):
            self.report("type-mismatch", cond.pos,
                        f"codes and texts compare with = and != only, not {cond.op}",
                        "to test a range of codes write: in 70551..70553")

    def check_line_quantifier(self, cond: ast.LineQuantifier, at: At):
        if at.scope is not None:
            self.report("nested-quantifier", cond.pos,
                        f"'{cond.quantifier} {cond.scope} line' inside a condition about "
                        f"{at.scope} lines: quantifiers over lines do not nest",
                        "write two rules, or test the line in hand instead")
            return
        if cond.quantifier == "all":
            self.report("bad-quantifier", cond.pos, f"'all {cond.scope} lines where' is not a quantifier",
                        f"to require every {cond.scope} line to pass, write: "
                        f"no {cond.scope} line where not (...)")
        self.check_condition(cond.condition, replace(at, scope=cond.scope))

    def check_window(self, cond: ast.DateWindow, at: At):
        for side in (cond.subject, cond.reference):
            kind, _ = self.type_of(side, at)
            if kind and kind != "date":
                self.report("type-mismatch", side.pos,
                            f"'is ... {cond.direction}' compares dates; this is {_type_words(kind)}")
        unit = "months" if cond.unit.startswith("calendar") else UNITS[cond.unit]
        for number in (cond.low, cond.high):
            if not isinstance(number, int):
                self.report("bad-number", cond.pos, f"a window counts whole {unit}, not {number}")
                return
        if cond.low > cond.high:
            self.report("empty-window", cond.pos, f"{cond.low} to {cond.high} holds no day",
                        f"write {cond.high} to {cond.low}")
        elif cond.high > SHIFT_LIMITS[unit]:
            self.report("bad-number", cond.pos, f"{cond.high} {unit} is longer than any policy's window",
                        f"windows reach at most {SHIFT_LIMITS[unit]} {unit}")

    # ---- expressions -------------------------------------------------------------------
    def type_of(self, expr, at: At) -> tuple[str | None, bool]:
        """The type of an expression and whether it holds a list; None after a reported problem."""
        if isinstance(expr, ast.Number):
            return "number", False
        if isinstance(expr, ast.Text):
            return "text", False
        if isinstance(expr, ast.DateValue):
            return ("date" if self.check_date(expr) else None), False
        if isinstance(expr, ast.DateShift):
            return self.type_of_shift(expr, at), False
        if isinstance(expr, ast.Lookup):
            return self.type_of_lookup(expr, at), False
        if isinstance(expr, ast.Aggregate):
            return self.type_of_aggregate(expr, at), False
        if isinstance(expr, ast.Arithmetic):
            for side in (expr.left, expr.right):
                kind, is_list = self.type_of(side, at)
                if kind and (kind != "number" or is_list):
                    self.report("type-mismatch", side.pos,
                                f"only numbers add up; {_shown(side)} is {_type_words(kind)}",
                                "to move a date, write: DATE + 30 days" if kind == "date" else None)
                    return None, False
            return "number", False
        spec = self.field(expr, at)
        return (spec.type, spec.is_list) if spec else (None, False)

    def type_of_shift(self, expr: ast.DateShift, at: At) -> str | None:
        if isinstance(expr.amount, int) and abs(expr.amount) > SHIFT_LIMITS[UNITS[expr.unit]]:
            self.report("bad-number", expr.pos,
                        f"{abs(expr.amount)} {expr.unit} is beyond any filing limit or age",
                        f"dates move by at most {SHIFT_LIMITS[UNITS[expr.unit]]} {UNITS[expr.unit]}")
            return None
        if not isinstance(expr.amount, int):
            self.report("bad-number", expr.pos,
                        f"dates move by whole {expr.unit}, not {abs(expr.amount)}",
                        "for half a month, count days: + 15 days")
            return None
        kind, _ = self.type_of(expr.operand, at)
        if kind and kind != "date":
            self.report("type-mismatch", expr.pos,
                        f"only dates can be moved by {expr.unit}; this is {_type_words(kind)}")
            return None
        if isinstance(expr.operand, ast.DateValue) and _off_calendar(expr):
            self.report("bad-date", expr.pos,
                        f"{expr.operand.text} moved by {expr.amount} {expr.unit} is off the calendar "
                        f"(after 9999-12-31 or before 0001-01-01)",
                        "move a date inside the calendar, or compare with the date itself")
            return None
        return kind

    def type_of_lookup(self, expr: ast.Lookup, at: At) -> str | None:
        """The type of the column a lookup reads; the key must have the first column's type."""
        decl = self.table_decls.get(expr.table)
        if decl is None:
            what = " (it is a value set: test membership with 'in')" if expr.table in self.valuesets else ""
            self.report("unknown-name", expr.table_pos, f"no table named '{expr.table}'{what}",
                        did_you_mean(expr.table, self.table_decls))
            return None
        columns = {c.name: c.type for c in decl.columns}
        if expr.key is not None:
            key_kind, key_list = self.type_of(expr.key, at)
            first = decl.columns[0]
            wanted = COLUMN_FAMILY.get(first.type, first.type)
            if key_list:
                self.report("list-field", expr.key.pos, f"{_shown(expr.key)} holds several values, "
                            f"and a table is looked up by one", "look up by a single field")
            elif key_kind and _family(key_kind) != _family(wanted):
                self.report("type-mismatch", expr.key.pos,
                            f"table {expr.table} is looked up by its first column, {first.name} "
                            f"({_type_words(wanted)}); {_shown(expr.key)} is {_type_words(key_kind)}")
            elif key_kind and key_kind in CODE_KINDS and wanted in CODE_KINDS and key_kind != wanted:
                self.report("type-mismatch", expr.key.pos,
                            f"table {expr.table} is looked up by {_kind_plural(wanted)} "
                            f"(its first column, {first.name}); {_shown(expr.key)} holds "
                            f"{_kind_plural(key_kind)}")
        if expr.column not in columns:
            self.report("unknown-column", expr.column_pos,
                        f"table {expr.table} has no column '{expr.column}'",
                        did_you_mean(expr.column, columns) or "its columns: " + ", ".join(columns))
            return None
        return COLUMN_FAMILY.get(columns[expr.column], columns[expr.column])

    def type_of_aggregate(self, expr: ast.Aggregate, at: At) -> str | None:
        if at.scope is not None:
            self.report("nested-quantifier", expr.pos,
                        f"'{expr.function} of {expr.scope} lines' inside a condition about "
                        f"{at.scope} lines: quantifiers over lines do not nest")
            return None
        inner = replace(at, scope=expr.scope)
        if expr.field is not None:
            kind, _ = self.type_of(expr.field, inner)
            if kind and kind != "number":
                self.report("type-mismatch", expr.field.pos,
                            f"'sum of' adds numbers; {expr.field.path} is {_type_words(kind)}",
                            f"to count lines, write: count of {expr.scope} lines where (...)")
        if expr.condition is not None:
            self.check_condition(expr.condition, inner)
        return "number"

    def field(self, node: ast.Field, at: At):
        spec = field_spec(node.path)
        if spec is None:
            known = [p for p in (*FIELDS, *_scope_paths(node.root)) if p.startswith(node.root + ".")]
            self.report("unknown-field", node.pos, f"there is no field {node.path}",
                        did_you_mean(node.path, known)
                        or f"{node.root} fields: " + ", ".join(sorted(known)))
            return None
        if node.root in ast.SCOPES and at.scope != node.root:
            where = (f"this condition is about {at.scope} lines" if at.scope
                     else "no quantifier names them here")
            self.report("scope-field-outside", node.pos,
                        f"{node.path} is a field of the {node.root} line a quantifier meets, and {where}",
                        f"write it inside one: any {node.root} line where {node.path} ..., or "
                        f"count of {node.root} lines where (...)")
            return None
        if spec.needs_line and not at.per_line:
            self.report("line-field-outside-line", node.pos,
                        f"{node.path} belongs to a claim line, and this condition is checked once per claim",
                        "start the rule with 'for each line' (and put line conditions after 'where')")
            return None
        return spec

    def check_date(self, node: ast.DateValue | None):
        if node is None:
            return None
        value = parse_date(node.text)
        if value is None:
            self.report("bad-date", node.pos, f"{node.text} is not a date on the calendar")
        return value

    def check_set(self, ref, kind: str, at: At):
        if isinstance(ref, ast.SetName):
            vs = self.valuesets.get(ref.name)
            if vs is None:
                what = ("a table; name one of its columns, like "
                        f"{ref.name}.{self.table_decls[ref.name].columns[0].name}"
                        if ref.name in self.table_decls else None)
                self.report("unknown-name", ref.pos,
                            f"no value set named '{ref.name}'" + (f" ({ref.name} is {what})" if what else ""),
                            did_you_mean(ref.name, self.valuesets))
            elif vs.kind in CODE_KINDS and vs.kind != kind and not (kind == "text" and vs.kind == "text"):
                self.report("type-mismatch", ref.pos,
                            f"value set {ref.name} holds {_kind_plural(vs.kind)}, "
                            f"but this tests {_type_words(kind)}")
            return
        if isinstance(ref, ast.Lookup):
            column = self.type_of_lookup(ref, at)
            if column and _family(column) != _family(kind):
                self.report("type-mismatch", ref.pos,
                            f"column {ref.column} of table {ref.table} holds {_kind_plural(column)}, "
                            f"but this tests {_type_words(kind)}")
            elif column and column in CODE_KINDS and kind in CODE_KINDS and column != kind and "text" not in (column, kind):
                self.report("type-mismatch", ref.pos,
                            f"column {ref.column} of table {ref.table} holds {_kind_plural(column)}, "
                            f"but this tests {_type_words(kind)}")
            return
        if kind in ("number", "date"):
            self.report("type-mismatch", ref.pos,
                        f"{_kind_plural(kind)} are compared with <, <=, >, >=, not tested 'in' a set")
            return
        self.check_codes(ref, kind)


def _scope_paths(root: str) -> list[str]:
    return list(OTHER_FIELDS if root == "other" else EARLIER_FIELDS if root == "earlier" else ())


def _family(kind: str) -> str:
    return kind if kind in ("date", "number") else "text"


def _shown(expr) -> str:
    """An expression as an analyst wrote it, for a message."""
    if isinstance(expr, ast.Field):
        return expr.path
    if isinstance(expr, ast.Lookup):
        return f"{expr.table}[...].{expr.column}" if expr.key is not None else f"{expr.table}.{expr.column}"
    if isinstance(expr, ast.Aggregate):
        return f"{expr.function} of {expr.scope} lines"
    return "this"


def _kind_plural(kind: str) -> str:
    return {"date": "dates", "number": "numbers", "text": "texts"}.get(
        kind, f"{CODE_KINDS.get(kind, kind)}s")


def _off_calendar(expr: ast.DateShift) -> bool:
    try:
        day = date.fromisoformat(expr.operand.text)
    except ValueError:
        return False  # not a date at all: check_date says so
    return shift(day, expr.amount, expr.unit) is None


def _type_words(kind: str) -> str:
    words = {"date": "a date", "number": "a number", "text": "a text"}.get(kind)
    if words is None:
        name = CODE_KINDS.get(kind, kind)
        words = ("an " if name[0] in "AEIOU" else "a ") + name
    return words
