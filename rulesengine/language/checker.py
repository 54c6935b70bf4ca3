"""Checks a pack's parsed files before anything is compiled, in named stages.

Stages, in order: names (``packs.layers.merge``: value sets, tables, rule ids, across the
packs a pack extends) -> parameters (``parameters.bind``) -> value sets (kinds, code shapes,
ranges) -> rules (headers, dates, fields, types, sets, actions, the tables they name) ->
table files (``packs.tables``: columns, rows). Every problem is collected, so an analyst
sees them all at once.
"""

from __future__ import annotations

import re

from rulesengine.codes.kinds import CODE_KINDS, normalize, shape_error
from rulesengine.codes.validity import KINDS as VALIDITY_KINDS

from . import ast
from .dates import UNITS
from .diagnostics import Diagnostic, did_you_mean
from .fields import FIELDS, PLACEHOLDER
from .syntax import parse_date

CATEGORIES = {
    "medical_necessity": "diagnosis does not support the procedure",
    "bundling": "procedure-to-procedure (NCCI) edits",
    "unit_limit": "medically unlikely edits and other unit limits",
    "prior_auth": "prior authorization",
    "filing_limit": "timely filing",
    "age": "procedure or diagnosis inconsistent with age",
    "sex": "procedure or diagnosis inconsistent with sex",
    "frequency": "service repeated too often",
    "duplicate_claim": "the same service already billed on another claim",
    "modifier": "modifier edits",
    "place_of_service": "place-of-service edits",
    "code_validity": "invalid or deleted codes",
    "coverage": "non-covered services",
    "claim_data": "missing or inconsistent claim data",
}
GROUP_CODES = {"CO": "contractual obligation", "PR": "patient responsibility",
               "OA": "other adjustment", "PI": "payer-initiated reduction",
               "CR": "correction and reversal"}
_CARC = re.compile(r"[1-9][0-9]{0,2}|[A-Z][0-9]{1,2}")

#: the columns each table-driven check reads, and their types
TABLE_CHECK_COLUMNS = {
    ast.RequireUnbundled: {"column1": "hcpcs", "column2": "hcpcs", "modifier_indicator": "integer"},
    ast.RequireUnits: {"code": "hcpcs", "limit": ("integer", "number"), "adjudication": "integer"},
}
#: placeholders a message may use besides fields, by check
EXTRA_PLACEHOLDERS = {
    ast.Require: set(),
    ast.RequireUnbundled: {"column1", "column1_line", "modifier_indicator"},
    ast.RequireUnits: {"limit", "units_billed", "adjudication"},
    ast.RequireFrequency: {"limit", "period", "prior_dates"},
    ast.RequireNoDuplicate: {"duplicate_claims", "prior_dates"},
}
#: how far a date may move: 200 years, in each unit (beyond that the calendar ends)
_SHIFT_LIMITS = {"days": 73_000, "months": 2_400, "years": 200}
#: modifiers that bypass an NCCI edit with modifier indicator 1, unless a rule names its own
DEFAULT_BYPASS = ("59", "XE", "XP", "XS", "XU")


def bypass_modifiers(check: ast.RequireUnbundled) -> tuple[str, ...]:
    """The modifiers that bypass a modifier-indicator-1 pair for this check: its own list,
    else the default."""
    if check.bypass is None:
        return DEFAULT_BYPASS
    return tuple(normalize("modifier", c.text) for c in check.bypass.items)


def check(valuesets: dict[str, ast.ValueSet], tables: dict[str, ast.Table],
          rules: list[ast.Rule]) -> list[Diagnostic]:
    """Every problem of the merged value sets and rules; ``tables`` are the declarations
    by name (their files are read by ``packs.tables``)."""
    checker = _Checker(valuesets, tables, rules)
    for vs in valuesets.values():
        checker.check_valueset(vs)
    for rule in rules:
        checker.check_rule(rule)
    return checker.problems


class _Checker:
    def __init__(self, valuesets, table_decls, rules):
        self.problems: list[Diagnostic] = []
        self.valuesets: dict[str, ast.ValueSet] = valuesets
        self.table_decls: dict[str, ast.Table] = table_decls
        self.rules: list[ast.Rule] = rules

    def report(self, code: str, pos: ast.Pos, message: str, hint: str | None = None):
        self.problems.append(Diagnostic(code, pos, message, hint))

    # ---- stage 2: value sets --------------------------------------------------------------
    def check_valueset(self, vs: ast.ValueSet):
        if vs.kind not in CODE_KINDS:
            self.report("unknown-kind", vs.kind_pos, f"'{vs.kind}' is not a kind of code",
                        did_you_mean(vs.kind, CODE_KINDS)
                        or "kinds: " + ", ".join(CODE_KINDS))
            return
        self.check_codes(vs.codes, vs.kind)

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

    # ---- stage 4: rules ---------------------------------------------------------------------
    def check_rule(self, rule: ast.Rule):
        self.check_headers(rule)
        self.check_dates(rule)
        if rule.guard is not None:
            self.check_condition(rule.guard, per_line=False)
        if rule.where is not None:
            self.check_condition(rule.where, per_line=True)
        check = rule.check
        if isinstance(check, ast.Require):
            self.check_condition(check.condition, rule.per_line)
        elif isinstance(check, ast.HISTORY_CHECKS):
            self.check_history_check(rule, check)
        else:
            self.check_table_check(rule, check)
        self.check_action(rule)

    def check_headers(self, rule: ast.Rule):
        counts: dict[str, int] = {}
        for header in rule.headers:
            counts[header.keyword] = counts.get(header.keyword, 0) + 1
            if counts[header.keyword] == 2:
                words = {"scope": "for each line", "when": "when"}
                self.report("duplicate-clause", header.pos,
                            f"rule {rule.id} says '{words.get(header.keyword, header.keyword)}' twice",
                            "join the conditions with 'and'" if header.keyword in words else None)
        if rule.category is None:
            self.report("missing-category", rule.pos, f"rule {rule.id} has no category",
                        "add a line like: category medical_necessity")
        elif rule.category.name not in CATEGORIES:
            self.report("unknown-category", rule.category.pos,
                        f"'{rule.category.name}' is not a category",
                        did_you_mean(rule.category.name, CATEGORIES)
                        or "categories: " + ", ".join(CATEGORIES))

    def check_dates(self, rule: ast.Rule):
        start = self.check_date(rule.effective_from)
        end = self.check_date(rule.effective_through)
        if start and end and end < start:
            self.report("empty-window", rule.effective_through.pos,
                        f"rule {rule.id} would never apply: its window ends {end} before it starts {start}",
                        "swap the two dates")

    def check_date(self, node: ast.DateValue | None):
        if node is None:
            return None
        value = parse_date(node.text)
        if value is None:
            self.report("bad-date", node.pos, f"{node.text} is not a date on the calendar")
        return value

    # conditions and expressions
    def check_condition(self, cond, per_line: bool):
        if isinstance(cond, (ast.AllOf, ast.AnyOf)):
            for item in cond.items:
                self.check_condition(item, per_line)
        elif isinstance(cond, ast.Not):
            self.check_condition(cond.item, per_line)
        elif isinstance(cond, ast.Comparison):
            self.check_comparison(cond, per_line)
        elif isinstance(cond, ast.Presence):
            self.type_of(cond.expr, per_line)
        elif isinstance(cond, ast.Membership):
            kind, is_list = self.type_of(cond.expr, per_line)
            if is_list:
                self.report("list-field", cond.expr.pos,
                            f"{cond.expr.path} holds several values",
                            f"say which: any {cond.expr.path} in ..., all ... or no ...")
            elif kind:
                self.check_set(cond.set, kind)
                spec = FIELDS.get(cond.expr.path) if isinstance(cond.expr, ast.Field) else None
                if spec is not None and spec.values is not None and isinstance(cond.set, ast.CodeList):
                    for item in cond.set.items:
                        if isinstance(item, ast.Text):
                            self.check_literal(spec, item)
        elif isinstance(cond, ast.Validity):
            self.check_validity(cond, per_line)
        elif isinstance(cond, ast.Quantified):
            kind, is_list = self.type_of(cond.field, per_line)
            if kind and not is_list:
                self.report("single-field", cond.pos,
                            f"{cond.field.path} holds one value, so '{cond.quantifier}' does not apply",
                            f"write {cond.field.path} in ...")
            elif kind:
                self.check_set(cond.set, kind)

    def check_validity(self, cond: ast.Validity, per_line: bool):
        if not isinstance(cond.field, ast.Field):
            self.report("type-mismatch", cond.pos, "only a code field can be valid or not",
                        "like: line.place_of_service is valid")
            return
        kind, is_list = self.type_of(cond.field, per_line)
        if not kind:
            return
        if kind not in VALIDITY_KINDS:
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

    def check_comparison(self, cond: ast.Comparison, per_line: bool):
        left, left_list = self.type_of(cond.left, per_line)
        right, right_list = self.type_of(cond.right, per_line)
        if not left or not right:
            return
        for side, is_list in ((cond.left, left_list), (cond.right, right_list)):
            if is_list:
                self.report("list-field", side.pos, f"{side.path} holds several values",
                            f"use any/all/no {side.path} in {{...}}")
                return
        for field_side, other in ((cond.left, cond.right), (cond.right, cond.left)):
            if isinstance(field_side, ast.Field) and isinstance(other, ast.Text):
                self.check_literal(FIELDS[field_side.path], other)
        family = {"date": "date", "number": "number"}
        if family.get(left, "text") != family.get(right, "text"):
            self.report("type-mismatch", cond.pos,
                        f"cannot compare {_type_words(left)} with {_type_words(right)}")
        elif family.get(left, "text") == "text" and cond.op not in ("=", "!="):
            self.report("type-mismatch", cond.pos,
                        f"codes and texts compare with = and != only, not {cond.op}",
                        "to test a range of codes write: in 70551..70553")

    def type_of(self, expr, per_line: bool) -> tuple[str | None, bool]:
        """The type of an expression and whether it holds a list; None after a reported problem."""
        if isinstance(expr, ast.Number):
            return "number", False
        if isinstance(expr, ast.Text):
            return "text", False
        if isinstance(expr, ast.DateValue):
            return ("date" if self.check_date(expr) else None), False
        if isinstance(expr, ast.DateShift):
            if isinstance(expr.amount, int) and abs(expr.amount) > _SHIFT_LIMITS[UNITS[expr.unit]]:
                self.report("bad-number", expr.pos,
                            f"{abs(expr.amount)} {expr.unit} is beyond any filing limit or age",
                            f"dates move by at most {_SHIFT_LIMITS[UNITS[expr.unit]]} {UNITS[expr.unit]}")
                return None, False
            if not isinstance(expr.amount, int):
                self.report("bad-number", expr.pos,
                            f"dates move by whole {expr.unit}, not {abs(expr.amount)}",
                            "for half a month, count days: + 15 days")
                return None, False
            kind, _ = self.type_of(expr.operand, per_line)
            if kind and kind != "date":
                self.report("type-mismatch", expr.pos,
                            f"only dates can be moved by {expr.unit}; this is {_type_words(kind)}")
                return None, False
            return kind, False
        spec = self.field(expr, per_line)
        return (spec.type, spec.is_list) if spec else (None, False)

    def field(self, node: ast.Field, per_line: bool):
        spec = FIELDS.get(node.path)
        if spec is None:
            known = [p for p in FIELDS if p.startswith(node.root + ".")]
            self.report("unknown-field", node.pos, f"there is no field {node.path}",
                        did_you_mean(node.path, known)
                        or f"{node.root} fields: " + ", ".join(sorted(known)))
            return None
        if spec.needs_line and not per_line:
            self.report("line-field-outside-line", node.pos,
                        f"{node.path} belongs to a claim line, and this condition is checked once per claim",
                        "start the rule with 'for each line' (and put line conditions after 'where')")
            return None
        return spec

    def check_set(self, ref, kind: str):
        if isinstance(ref, ast.SetName):
            vs = self.valuesets.get(ref.name)
            if vs is None:
                what = ("a table; rules read tables through 'require units within' or "
                        "'require not bundled per'") if ref.name in self.table_decls else None
                self.report("unknown-name", ref.pos,
                            f"no value set named '{ref.name}'" + (f" ({ref.name} is {what})" if what else ""),
                            did_you_mean(ref.name, self.valuesets))
            elif vs.kind in CODE_KINDS and vs.kind != kind and not (kind == "text" and vs.kind == "text"):
                self.report("type-mismatch", ref.pos,
                            f"value set {ref.name} holds {_kind_plural(vs.kind)}, "
                            f"but this tests {_type_words(kind)}")
            return
        if kind in ("number", "date"):
            self.report("type-mismatch", ref.pos,
                        f"{_kind_plural(kind)} are compared with <, <=, >, >=, not tested 'in' a set")
            return
        self.check_codes(ref, kind)

    # checks that read the claim history
    def check_history_check(self, rule: ast.Rule, check):
        word = "require at most" if isinstance(check, ast.RequireFrequency) else "require no duplicate"
        if not rule.per_line:
            self.report("needs-line-scope", check.pos,
                        f"'{word}' counts services of a line's procedure, so rule {rule.id} "
                        f"needs 'for each line'")
        if not isinstance(check, ast.RequireFrequency):
            return
        if check.counting is not None:
            self.check_counting(check.counting)
        if not isinstance(check.limit, int) or check.limit < 1:
            self.report("bad-number", check.limit_pos,
                        f"a frequency limit is a whole number of services, at least 1, not {check.limit}",
                        "to forbid a service outright, write: require not line.procedure in {...}")
        if check.amount is not None:
            unit = UNITS[check.unit]
            if not isinstance(check.amount, int) or check.amount < 1:
                self.report("bad-number", check.pos,
                            f"a frequency window is a whole number of {unit}, at least 1")
            elif check.amount > _SHIFT_LIMITS[unit]:
                self.report("bad-number", check.pos,
                            f"{check.amount} {check.unit} is longer than a lifetime",
                            "write: per lifetime")

    def check_counting(self, ref):
        """``counting`` names procedure codes one by one: the history is looked up per code."""
        self.check_set(ref, "hcpcs")
        if isinstance(ref, ast.SetName):
            vs = self.valuesets.get(ref.name)
            items = vs.codes.items if vs is not None and vs.kind == "hcpcs" else ()
        else:
            items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
        for item in items:
            if not isinstance(item, (ast.Code, ast.Text)) or "*" in (
                    item.text if isinstance(item, ast.Code) else item.value):
                self.report("bad-code", item.pos, "'counting' names procedure codes one by one",
                            "list them, like {G0402, G0438, G0439}")

    # table-driven checks
    def check_table_check(self, rule: ast.Rule, check):
        word = "require not bundled per" if isinstance(check, ast.RequireUnbundled) else "require units within"
        if not rule.per_line:
            self.report("needs-line-scope", check.pos,
                        f"'{word}' checks lines, so rule {rule.id} needs 'for each line'")
        if isinstance(check, ast.RequireUnbundled) and check.bypass is not None:
            for item in check.bypass.items:
                if not isinstance(item, ast.Code) or "*" in item.text:
                    self.report("bad-code", item.pos, "a bypass list names modifiers one by one",
                                "like {59, XE, XP, XS, XU}")
            self.check_codes(check.bypass, "modifier")
        decl = self.table_decls.get(check.table)
        if decl is None:
            self.report("unknown-name", check.table_pos, f"no table named '{check.table}'",
                        did_you_mean(check.table, self.table_decls))
            return
        declared = {c.name: c.type for c in decl.columns}
        for column, types in TABLE_CHECK_COLUMNS[type(check)].items():
            types = (types,) if isinstance(types, str) else types
            if column not in declared:
                self.report("missing-column", check.table_pos,
                            f"'{word}' needs table {check.table} to have a column '{column}'",
                            f"declare it: {column} {types[0]}")
            elif declared[column] not in types:
                self.report("type-mismatch", check.table_pos,
                            f"column '{column}' of table {check.table} must be {' or '.join(types)}")

    # actions
    def check_action(self, rule: ast.Rule):
        action = rule.action
        if action.scope == "line" and not rule.per_line:
            self.report("line-action-outside-line", action.pos,
                        f"rule {rule.id} denies a line but does not look at lines",
                        "start the rule with 'for each line', or deny the claim")
        group, carc = action.group_code, action.carc
        if group not in GROUP_CODES:
            self.report("bad-group-code", action.adjustment_pos,
                        f"'{group}' is not a claim adjustment group code",
                        did_you_mean(group, GROUP_CODES) or "group codes: " + ", ".join(GROUP_CODES))
        if not _CARC.fullmatch(carc):
            self.report("bad-carc", action.adjustment_pos,
                        f"'{carc}' is not shaped like a claim adjustment reason code",
                        "CARCs are numbers like 50 or a letter and digits like B7")
        if action.message is not None:
            self.check_placeholders(rule, action.message)

    def check_placeholders(self, rule: ast.Rule, message: ast.Text):
        extras = EXTRA_PLACEHOLDERS[type(rule.check)]
        for match in PLACEHOLDER.finditer(message.value):
            name = match.group(1).strip()
            if name in extras:
                continue
            spec = FIELDS.get(name)
            before = message.value[:match.start()]
            escapes = before.count('"') + before.count("\\")  # each was written with a backslash
            pos = ast.Pos(message.pos.file, message.pos.line,
                          message.pos.column + 1 + match.start() + escapes)
            if spec is None:
                self.report("unknown-placeholder", pos, f"the message names {{{name}}}, which is not a field",
                            did_you_mean(name, [*FIELDS, *extras]))
            elif spec.needs_line and not rule.per_line:
                self.report("line-field-outside-line", pos,
                            f"{{{name}}} belongs to a claim line, and rule {rule.id} does not look at lines")


def _kind_plural(kind: str) -> str:
    return {"date": "dates", "number": "numbers", "text": "texts"}.get(
        kind, f"{CODE_KINDS.get(kind, kind)}s")


def _type_words(kind: str) -> str:
    words = {"date": "a date", "number": "a number", "text": "a text"}.get(kind)
    if words is None:
        name = CODE_KINDS.get(kind, kind)
        words = ("an " if name[0] in "AEIOU" else "a ") + name
    return words
