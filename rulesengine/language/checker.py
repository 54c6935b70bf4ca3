"""Checks a pack's parsed files before anything is compiled, in named stages.

Stages, in order: names (``packs.layers.merge``: value sets, tables, rule ids, across the
packs a pack extends) -> parameters (``parameters.bind``) -> value sets (kinds, code shapes,
ranges) -> rules (headers, dates, fields, types, sets, actions, the tables they name) ->
table files (``packs.tables``: columns, rows). Every problem is collected, so an analyst
sees them all at once.
"""

from __future__ import annotations

import re

from rulesengine.codes.kinds import CODE_KINDS, normalize

from . import ast
from .conditions import SHIFT_LIMITS, At, ConditionChecker
from .dates import UNITS
from .diagnostics import Diagnostic, did_you_mean
from .fields import FIELDS, PLACEHOLDER, field_spec

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
#: and those a check "across claims" adds: the other claim; the units billed on earlier claims
ACROSS_PLACEHOLDERS = {ast.RequireUnbundled: {"column1_claim"}, ast.RequireUnits: {"earlier_units"}}
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


class _Checker(ConditionChecker):
    def __init__(self, valuesets, table_decls, rules):
        super().__init__(valuesets, table_decls)
        self.rules: list[ast.Rule] = rules

    # ---- stage 2: value sets --------------------------------------------------------------
    def check_valueset(self, vs: ast.ValueSet):
        if vs.kind not in CODE_KINDS:
            self.report("unknown-kind", vs.kind_pos, f"'{vs.kind}' is not a kind of code",
                        did_you_mean(vs.kind, CODE_KINDS)
                        or "kinds: " + ", ".join(CODE_KINDS))
            return
        self.check_codes(vs.codes, vs.kind)

    # ---- stage 4: rules ---------------------------------------------------------------------
    def check_rule(self, rule: ast.Rule):
        self.check_headers(rule)
        self.check_dates(rule)
        if rule.guard is not None:
            self.check_condition(rule.guard, At(per_line=False))
        if rule.where is not None:
            self.check_condition(rule.where, At(per_line=True))
        check = rule.check
        if isinstance(check, ast.Require):
            self.check_condition(check.condition, At(rule.per_line))
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
            elif check.amount > SHIFT_LIMITS[unit]:
                self.report("bad-number", check.pos,
                            f"{check.amount} {check.unit} is longer than a lifetime",
                            "write: per lifetime")

    def check_counting(self, ref):
        """``counting`` names procedure codes one by one: the history is looked up per code."""
        self.check_set(ref, "hcpcs", At(per_line=True))
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
        if getattr(rule.check, "across_claims", False):
            extras = extras | ACROSS_PLACEHOLDERS[type(rule.check)]
        for match in PLACEHOLDER.finditer(message.value):
            name = match.group(1).strip()
            if name in extras:
                continue
            spec = FIELDS.get(name)
            found = ast.found_scope(rule)
            if found is not None and name.startswith(found + ".") and field_spec(name):
                continue  # a field of the line 'no ... line where' found
            before = message.value[:match.start()]
            escapes = before.count('"') + before.count("\\")  # each was written with a backslash
            pos = ast.Pos(message.pos.file, message.pos.line,
                          message.pos.column + 1 + match.start() + escapes)
            if spec is None and name.split(".")[0] in ast.SCOPES and field_spec(name):
                self.report("unknown-placeholder", pos,
                            f"the message names {{{name}}}, a field of another line, and this "
                            "rule's requirement finds no one line",
                            f"a message names the fields of the line found only when the rule "
                            f"requires 'no {name.split('.')[0]} line where ...'")
            elif spec is None:
                self.report("unknown-placeholder", pos, f"the message names {{{name}}}, which is not a field",
                            did_you_mean(name, [*FIELDS, *extras]))
            elif spec.needs_line and not rule.per_line:
                self.report("line-field-outside-line", pos,
                            f"{{{name}}} belongs to a claim line, and rule {rule.id} does not look at lines")
