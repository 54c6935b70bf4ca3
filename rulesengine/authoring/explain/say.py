"""Plain English for ``rulesengine explain``: what a rule says, as sentences.

Everything here is generated from the rule's syntax tree, never from a text written per
rule id, so a new rule explains itself; ``facts`` says what a claim holds for each part.
"""

from __future__ import annotations

from rulesengine.codes.kinds import CODE_KINDS
from rulesengine.engine.runtime import display
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers
from rulesengine.language.fields import EARLIER_FIELDS, FIELDS, OTHER_FIELDS

#: how each field reads in a sentence
NOUNS = {
    "claim.id": "the claim id", "claim.type": "the claim type",
    "claim.frequency_code": "the claim frequency code", "claim.payer": "the payer id",
    "claim.plan": "the plan", "claim.received_date": "the received date",
    "claim.prior_authorization": "the claim's prior authorization number",
    "claim.place_of_service": "the claim's place of service",
    "claim.billing_npi": "the billing provider's NPI",
    "claim.taxonomy": "the billing provider's taxonomy",
    "claim.diagnosis": "the claim's diagnoses", "claim.procedure": "the claim's procedures",
    "claim.first_service_date": "the claim's first date of service",
    "claim.last_service_date": "the claim's last date of service",
    "claim.line_count": "the number of lines on the claim",
    "patient.member_id": "the member id", "patient.sex": "the patient's sex",
    "patient.birth_date": "the patient's birth date", "patient.age": "the patient's age",
    "patient.age_days": "the patient's age in days",
    "line.number": "the line's number", "line.procedure": "the line's procedure",
    "line.modifier": "the line's modifiers", "line.units": "the line's units",
    "line.charge": "the line's charge", "line.service_date": "the line's date of service",
    "line.service_date_to": "the line's last date of service",
    "line.diagnosis": "the line's diagnoses",
    "line.place_of_service": "the line's place of service",
    "line.revenue_code": "the line's revenue code", "line.ndc": "the line's NDC",
    "line.prior_authorization": "the line's prior authorization number",
    # the extra values of the table checks
    "column1": "the column-one code", "column1_line": "the column-one line",
    "modifier_indicator": "the modifier indicator", "limit": "the limit",
    "units_billed": "the units counted", "adjudication": "the adjudication indicator",
}
#: a field of the line a quantifier meets reads like the line in hand's, of "the other line"
NOUNS.update({"other." + p[5:]: NOUNS[p].replace("the line's", "the other line's")
              for p in list(NOUNS) if p.startswith("line.")})
NOUNS.update({
    "claim.first_diagnosis": "the claim's first diagnosis", "line.first_diagnosis": "the line's first diagnosis",
    "other.first_diagnosis": "the other line's first diagnosis",
    "earlier.procedure": "the earlier line's procedure", "earlier.modifier": "the earlier line's modifiers",
    "earlier.service_date": "the earlier line's date of service", "earlier.units": "the earlier line's units",
    "earlier.billing_npi": "the earlier claim's billing NPI", "earlier.claim_id": "the earlier claim's id",
    "earlier.payer": "the earlier claim's payer", "earlier.number": "the earlier line's number",
    "column1_claim": "the column-one claim", "earlier_units": "the units on earlier claims",
})
_PLURAL = {"line.units", "line.modifier", "line.diagnosis", "claim.diagnosis", "claim.procedure",
           "other.units", "other.modifier", "other.diagnosis", "earlier.units", "earlier.modifier"}
#: the lines a quantifier or aggregate ranges over, as a sentence names them
SCOPE_WORDS = {"other": ("another line of the claim", "the claim's other lines"),
                "earlier": ("a line of the patient's earlier claims", "the patient's earlier claims' lines")}
OPS = {  # how a comparison reads, by the family of its values
    "date": {"=": "is", "!=": "is not", "<": "is before", "<=": "is no later than",
             ">": "is after", ">=": "is no earlier than"},
    "number": {"=": "is", "!=": "is not", "<": "is below", "<=": "is at most",
               ">": "is above", ">=": "is at least"},
    "text": {"=": "is", "!=": "is not"},
}
OPPOSITE = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", "<=": ">", ">": "<="}
_QUANTIFIERS = {"any": "at least one of {} is", "all": "every one of {} is", "no": "none of {} is"}
LIST_LIMIT = 12  # inline code lists longer than this are cut short in sentences


def noun(path: str) -> str:
    return NOUNS.get(path, path)


def be(path: str) -> str:
    return "are" if path in _PLURAL else "is"


def agreed(expr, words: str = "is") -> str:
    """'is below' -> 'are below' after a plural field (the line's units)."""
    if isinstance(expr, ast.Field) and expr.path in _PLURAL and words.startswith("is"):
        return "are" + words[2:]
    return words


#: list fields, as 'the line has no diagnoses' says them
OWNERS = {"claim.diagnosis": ("the claim", "diagnoses"), "claim.procedure": ("the claim", "procedures"),
           "line.modifier": ("the line", "modifiers"), "line.diagnosis": ("the line", "diagnoses")}


def show(value, kind: str = "") -> str:
    """A value as a sentence shows it: texts in quotes, codes and dates bare."""
    if value is None or value == "" or value == ():
        return "missing" if not isinstance(value, tuple) else "none"
    if kind == "text" and isinstance(value, str):
        return f'"{value}"'
    return display(value)


def kind_of(expr, checked=None) -> str:
    if isinstance(expr, ast.Field):
        spec = FIELDS.get(expr.path) or OTHER_FIELDS.get(expr.path) or EARLIER_FIELDS.get(expr.path)
        return spec.type if spec else "text"
    if isinstance(expr, (ast.DateValue, ast.DateShift)):
        return "date"
    if isinstance(expr, (ast.Number, ast.Aggregate, ast.Arithmetic)):
        return "number"
    if isinstance(expr, ast.Lookup) and checked is not None and expr.table in checked.tables:
        table = checked.tables[expr.table]
        kind = table.kinds[table.index(expr.column)] if table.kinds else "text"
        return {"integer": "number"}.get(kind, kind)
    return "text"


def family(*exprs) -> str:
    kinds = {kind_of(e) for e in exprs}
    return "date" if "date" in kinds else "number" if "number" in kinds else "text"


# ---- what a rule says ----------------------------------------------------------------------

def say_expr(expr, kind: str = "text") -> str:
    if isinstance(expr, ast.Field):
        return noun(expr.path)
    if isinstance(expr, ast.Text):
        return f'"{expr.value}"' if kind == "text" else expr.value
    if isinstance(expr, ast.Number):
        return display(expr.value)
    if isinstance(expr, ast.DateValue):
        return expr.text
    if isinstance(expr, ast.DateShift):
        amount = abs(expr.amount)
        unit = expr.unit.rstrip("s") + ("" if amount == 1 else "s")
        sign = "minus" if expr.amount < 0 else "plus"
        return f"{say_expr(expr.operand)} {sign} {display(amount)} {unit}"
    if isinstance(expr, ast.Lookup):
        if expr.key is None:
            return f"the {expr.column} values of table {expr.table}"
        return f"the {expr.column} of table {expr.table} for {say_expr(expr.key)}"
    if isinstance(expr, ast.Aggregate):
        lines = SCOPE_WORDS[expr.scope][1]
        where = f" where {say(expr.condition, None)}" if expr.condition is not None else ""
        if expr.function == "count":
            return f"the number of {lines}{where}"
        return f"the sum of {noun(expr.field.path)} over {lines}{where}"
    if isinstance(expr, ast.Arithmetic):
        return f"{say_expr(expr.left)} {'plus' if expr.op == '+' else 'minus'} {say_expr(expr.right)}"
    return str(expr)


def _item(item, kind: str) -> str:
    if isinstance(item, ast.CodeSpan):
        return f"{item.low.text} to {item.high.text}"
    if isinstance(item, ast.Text):
        return f'"{item.value}"' if kind == "text" else item.value
    return item.text


def set_size(vs: ast.ValueSet) -> str:
    """'183 codes', or '3 codes, 1 range and 2 patterns'."""
    items = vs.codes.items
    ranges = sum(isinstance(i, ast.CodeSpan) for i in items)
    patterns = sum(isinstance(i, ast.Code) and i.text.endswith("*") for i in items)
    codes = len(items) - ranges - patterns
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in
             ((codes, "code"), (ranges, "range"), (patterns, "pattern")) if n]
    return " and ".join(parts) if len(parts) < 3 else f"{parts[0]}, {parts[1]} and {parts[2]}"


def say_set(ref, kind: str, checked, sized: bool = True) -> str:
    """'one of 82306, 82652' or 'in vitd_support (183 codes)' (after 'is')."""
    if isinstance(ref, ast.Lookup):
        return "among " + say_expr(ref)
    if isinstance(ref, ast.SetName):
        vs = checked.valuesets.get(ref.name) if checked is not None else None
        size = f" ({set_size(vs)})" if sized and vs is not None else ""
        return f"in {ref.name}{size}"
    items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
    shown = [_item(i, kind) + (" (itself only)" if getattr(i, "exact", False) else "")
             for i in items[:LIST_LIMIT]]
    more = f", ... ({len(items)} in all)" if len(items) > LIST_LIMIT else ""
    return "one of " + ", ".join(shown) + more


def say(cond, checked, negate: bool = False, nested: bool = False) -> str:
    """A condition as a sentence; ``negate`` says its opposite (pushed inwards, De Morgan)."""
    if isinstance(cond, (ast.AllOf, ast.AnyOf)):
        joins_all = isinstance(cond, ast.AllOf) != negate
        parts = [say(c, checked, negate, nested=True) for c in cond.items]
        text = ", ".join(parts[:-1]) + (" and " if joins_all else " or ") + parts[-1]
        return (("both " if joins_all else "either ") + text) if nested else text
    if isinstance(cond, ast.Not):
        return say(cond.item, checked, not negate, nested)
    if isinstance(cond, ast.Comparison):
        op = OPPOSITE[cond.op] if negate else cond.op
        fam = family(cond.left, cond.right)
        words = OPS[fam].get(op) or f"is {op}"
        left_kind, right_kind = kind_of(cond.left), kind_of(cond.right)
        return f"{say_expr(cond.left, right_kind)} {agreed(cond.left, words)} {say_expr(cond.right, left_kind)}"
    if isinstance(cond, ast.Presence):
        present = cond.present != negate
        return f"{say_expr(cond.expr)} is {'present' if present else 'missing'}"
    if isinstance(cond, ast.Membership):
        outside = cond.negated != negate
        return f"{say_expr(cond.expr)} is {'not ' if outside else ''}{say_set(cond.set, kind_of(cond.expr), checked)}"
    if isinstance(cond, ast.Validity):
        what = f"a valid {CODE_KINDS.get(kind_of(cond.field), 'code')}"
        if cond.quantifier is None:
            valid = cond.valid != negate
            return f"{say_expr(cond.field)} is {'' if valid else 'not '}{what}"
        what = what if cond.valid else f"not {what}"
        quantifier = {"any": "no", "no": "any"}.get(cond.quantifier, "all") if negate else cond.quantifier
        head = _QUANTIFIERS[quantifier].format(noun(cond.field.path))
        if negate and cond.quantifier == "all":
            head = f"not every one of {noun(cond.field.path)} is"
        return f"{head} {what}"
    if isinstance(cond, ast.Quantified):
        quantifier = {"any": "no", "no": "any"}.get(cond.quantifier, "all") if negate else cond.quantifier
        head = _QUANTIFIERS[quantifier].format(noun(cond.field.path))
        if negate and cond.quantifier == "all":
            head = f"not every one of {noun(cond.field.path)} is"
        return f"{head} {say_set(cond.set, kind_of(cond.field), checked)}"
    if isinstance(cond, ast.LineQuantifier):
        some, _ = SCOPE_WORDS[cond.scope]
        exists = (cond.quantifier == "any") != negate
        what = some if exists else "no " + some.split(" ", 1)[1].replace("line of the claim", "other line of the claim")
        return f"there is {what} where {say(cond.condition, checked)}"
    if isinstance(cond, ast.DateWindow):
        unit = cond.unit if cond.high != 1 else cond.unit.rstrip("s")
        return (f"{say_expr(cond.subject)} is {'not ' if negate else ''}{display(cond.low)} to "
                f"{display(cond.high)} {unit} {cond.direction} {say_expr(cond.reference)}")
    return str(cond)


def say_window(start: ast.DateValue | None, end: ast.DateValue | None) -> str:
    if start and end:
        return f"from {start.text} through {end.text}"
    return f"from {start.text}" if start else f"through {end.text}" if end else ""


def _window(rule: ast.Rule) -> str:
    """The rule's dates, less those where a later pack took it over (a windowed override)."""
    gaps = [f"{say_window(o.start, o.end)} (when pack {o.pack} "
            f"{'disables it' if o.disabled else 'has its own version'})" for o in rule.superseded]
    own = say_window(rule.effective_from, rule.effective_through)
    return ", ".join([own] * bool(own) + (["except " + " and ".join(gaps)] if gaps else []))


def say_table_check(check, checked) -> str:
    if isinstance(check, ast.RequireFrequency):
        per = ("in the member's lifetime" if check.amount is None else
               f"in any {check.amount} {check.unit} ending on the line's date of service"
               + (" (whole calendar months)" if check.unit in ("month", "months", "year", "years") else ""))
        what = ("the line's procedure" if check.counting is None else
                say_set(check.counting, "hcpcs", checked).removeprefix("one of "))
        return (f"the member has at most {check.limit} of {what} {per}, counting "
                f"the claim history (other claims) and the earlier lines of this claim")
    if isinstance(check, ast.RequireNoDuplicate):
        return ("no other recorded claim bills the line's procedure for the member on the same "
                "date of service with the same billing provider NPI")
    table = checked.tables.get(check.table)
    rows = f"{len(table.rows):,} rows" if table else "rows"
    if table is not None and table.date_from is not None:
        through = f" through its {table.columns[table.date_through]}" if table.date_through is not None else ""
        rows += f", each in force from its {table.columns[table.date_from]}{through}"
    if isinstance(check, ast.RequireUnbundled):
        mods = bypass_modifiers(check)
        bypass = mods[0] if len(mods) == 1 else ", ".join(mods[:-1]) + " or " + mods[-1]
        return (f"the line's procedure is not the column-two code of a procedure on another line "
                f"on the same date of service, per table {check.table} ({rows}); "
                f"modifier indicator 0: no modifier bypasses the pair; 1: modifier {bypass} on "
                f"the column-two line bypasses it; 9: the pair is not applied")
    return (f"the units of the line's procedure are within its limit in table {check.table} "
            f"({rows}): adjudication indicator 1 counts the line's own units, 2 and 3 the "
            f"units of the code on every line of the date of service")




def say_rule(rule: ast.Rule, checked) -> str:
    """What the rule checks, as one sentence: window, claims, lines, requirement, action."""
    lead = [_window(rule)] if _window(rule) else []
    if rule.guard is not None:
        lead.append(f"for claims where {say(rule.guard, checked)}")
    if rule.per_line:
        lead.append("for each line" + (f" where {say(rule.where, checked)}" if rule.where else ""))
    else:
        lead.append("once per claim")
    check = rule.check
    need = say(check.condition, checked) if isinstance(check, ast.Require) else say_table_check(check, checked)
    action = rule.action
    verb, after = {"deny": ("denies", ""), "review": ("flags", " for review"),
                   "info": ("notes", " for information")}[action.severity]
    once = " once, from the first line that fails" if rule.per_line and action.scope == "claim" else ""
    codes = ", ".join([action.adjustment, *(r.text for r in action.rarcs)])
    text = (f"{', '.join(lead)}: it requires that {need}; otherwise it {verb} the {action.scope}"
            f"{after}{once} ({codes}).")
    return text[0].upper() + text[1:]


def join(parts: list[str]) -> str:
    """'A', 'A and B', 'A; B; and C'."""
    parts = [p for p in parts if p]
    if len(parts) < 3:
        return " and ".join(parts)
    return "; ".join(parts[:-1]) + "; and " + parts[-1]
