"""Plain English for ``rulesengine explain``: a rule's conditions as sentences, and what a
claim holds for each of them.

Everything here is generated from the rule's syntax tree and the claim's values, never
from a text written per rule id, so a new rule explains itself. Truth and values come
from the reference interpreter (``reference.truth``, ``value``, ``in_set``), the
plain meaning of every construct.
"""

from __future__ import annotations

from datetime import date

from rulesengine.codes.kinds import CODE_KINDS
from rulesengine.codes.validity import is_valid
from rulesengine.engine import reference
from rulesengine.engine.runtime import display, fields_named
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers
from rulesengine.language.fields import FIELDS

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
    "line.number": "the line number", "line.procedure": "the line's procedure",
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
_PLURAL = {"line.units", "line.modifier", "line.diagnosis", "claim.diagnosis", "claim.procedure"}
_OPS = {  # how a comparison reads, by the family of its values
    "date": {"=": "is", "!=": "is not", "<": "is before", "<=": "is no later than",
             ">": "is after", ">=": "is no earlier than"},
    "number": {"=": "is", "!=": "is not", "<": "is below", "<=": "is at most",
               ">": "is above", ">=": "is at least"},
    "text": {"=": "is", "!=": "is not"},
}
_OPPOSITE = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", "<=": ">", ">": "<="}
_QUANTIFIERS = {"any": "at least one of {} is", "all": "every one of {} is", "no": "none of {} is"}
LIST_LIMIT = 12  # inline code lists longer than this are cut short in sentences


def noun(path: str) -> str:
    return NOUNS.get(path, path)


def _is(path: str) -> str:
    return "are" if path in _PLURAL else "is"


def _verb(expr, words: str = "is") -> str:
    """'is below' -> 'are below' after a plural field (the line's units)."""
    if isinstance(expr, ast.Field) and expr.path in _PLURAL and words.startswith("is"):
        return "are" + words[2:]
    return words


#: list fields, as 'the line has no diagnoses' says them
_OWNERS = {"claim.diagnosis": ("the claim", "diagnoses"), "claim.procedure": ("the claim", "procedures"),
           "line.modifier": ("the line", "modifiers"), "line.diagnosis": ("the line", "diagnoses")}


def show(value, kind: str = "") -> str:
    """A value as a sentence shows it: texts in quotes, codes and dates bare."""
    if value is None or value == "" or value == ():
        return "missing" if not isinstance(value, tuple) else "none"
    if kind == "text" and isinstance(value, str):
        return f'"{value}"'
    return display(value)


def _kind(expr) -> str:
    if isinstance(expr, ast.Field):
        return FIELDS[expr.path].type if expr.path in FIELDS else "text"
    if isinstance(expr, (ast.DateValue, ast.DateShift)):
        return "date"
    return "number" if isinstance(expr, ast.Number) else "text"


def _family(*exprs) -> str:
    kinds = {_kind(e) for e in exprs}
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
    if isinstance(ref, ast.SetName):
        vs = checked.valuesets.get(ref.name)
        size = f" ({set_size(vs)})" if sized and vs is not None else ""
        return f"in {ref.name}{size}"
    items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
    shown = [_item(i, kind) for i in items[:LIST_LIMIT]]
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
        op = _OPPOSITE[cond.op] if negate else cond.op
        family = _family(cond.left, cond.right)
        words = _OPS[family].get(op) or f"is {op}"
        left_kind, right_kind = _kind(cond.left), _kind(cond.right)
        return f"{say_expr(cond.left, right_kind)} {_verb(cond.left, words)} {say_expr(cond.right, left_kind)}"
    if isinstance(cond, ast.Presence):
        present = cond.present != negate
        return f"{say_expr(cond.expr)} is {'present' if present else 'missing'}"
    if isinstance(cond, ast.Membership):
        outside = cond.negated != negate
        return f"{say_expr(cond.expr)} is {'not ' if outside else ''}{say_set(cond.set, _kind(cond.expr), checked)}"
    if isinstance(cond, ast.Validity):
        what = f"a valid {CODE_KINDS.get(_kind(cond.field), 'code')}"
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
        return f"{head} {say_set(cond.set, _kind(cond.field), checked)}"
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


# ---- what the claim holds ---------------------------------------------------------------------

def _days(later: date, earlier: date) -> str:
    n = (later - earlier).days
    return f"{abs(n)} day{'' if abs(n) == 1 else 's'}"


def _side(expr, value, other_kind: str) -> str:
    """'the line's date of service plus 1 year (2026-07-01)', or a literal as written."""
    if isinstance(expr, (ast.Number, ast.Text, ast.DateValue)):
        return say_expr(expr, other_kind)
    return f"{say_expr(expr)} ({show(value, _kind(expr))})"


def _missing(expr, claim, line) -> list[str]:
    """The fields of an expression the claim does not have."""
    if isinstance(expr, ast.DateShift):
        return _missing(expr.operand, claim, line)
    if isinstance(expr, ast.Field) and reference.value(expr, claim, line) in (None, ""):
        return [noun(expr.path)]
    return []


def _age_note(expr, claim, line) -> str:
    """Age is counted on a date: say which, and from which birth date."""
    if isinstance(expr, ast.Field) and expr.path in ("patient.age", "patient.age_days"):
        on = line.service_date if line is not None else claim.first_service_date
        return f" on {on.isoformat()} (born {show(claim.birth_date)})"
    return ""


def facts(checked, leaf, claim, line) -> str:
    """What the claim holds for one condition, as a clause: 'the patient's age is 68 on ...'."""
    if isinstance(leaf, ast.Comparison):
        missing = _missing(leaf.left, claim, line) + _missing(leaf.right, claim, line)
        if missing:
            return " and ".join(f"{m} is missing" for m in missing)
        left, right = reference.value(leaf.left, claim, line), reference.value(leaf.right, claim, line)
        holds = reference.truth(checked, leaf, claim, line)
        lk, rk = _kind(leaf.left), _kind(leaf.right)
        if isinstance(leaf.left, (ast.Number, ast.Text, ast.DateValue)):  # literal first: turn it round
            leaf = ast.Comparison(leaf.right, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(leaf.op, leaf.op),
                                  leaf.left, leaf.pos)
            left, right, lk, rk = right, left, rk, lk
        head = f"{say_expr(leaf.left)} {_verb(leaf.left)} {show(left, lk)}{_age_note(leaf.left, claim, line)}"
        if isinstance(left, date) and isinstance(right, date):
            where = "the same day as" if left == right else f"{_days(left, right)} {'after' if left > right else 'before'}"
            return f"{head}, {where} {_side(leaf.right, right, lk)}"
        if _family(leaf.left, leaf.right) == "number" and leaf.op not in ("=", "!="):
            words = _OPS["number"][leaf.op if holds else _OPPOSITE[leaf.op]][3:]
            if not holds and leaf.op in ("<", ">"):
                words = "not " + _OPS["number"][leaf.op][3:]
            return f"{head}, {words} {_side(leaf.right, right, lk)}"
        if not holds and leaf.op == "=":
            return f"{head}, not {_side(leaf.right, right, lk)}"
        if isinstance(leaf.right, ast.Field):
            return f"{head}, and {_side(leaf.right, right, lk)}"
        return head
    if isinstance(leaf, ast.Presence):
        value = reference.value(leaf.expr, claim, line)
        if value in (None, "", ()):
            return f"{say_expr(leaf.expr)} is missing"
        return f"{say_expr(leaf.expr)} is {show(value, _kind(leaf.expr))}"
    if isinstance(leaf, ast.Membership):
        value = reference.value(leaf.expr, claim, line)
        if value is None:
            return f"{say_expr(leaf.expr)} is missing"
        kind = _kind(leaf.expr)
        inside = reference.in_set(checked, leaf.set, kind, value)
        where = say_set(leaf.set, kind, checked, sized=False)
        return f"{say_expr(leaf.expr)} is {show(value, kind)}, {'' if inside else 'not '}{where}"
    if isinstance(leaf, ast.Validity):
        path, kind = leaf.field.path, _kind(leaf.field)
        values = reference.value(leaf.field, claim, line)
        day = line.service_date if line is not None else claim.first_service_date
        if leaf.quantifier is not None and not values:
            owner, plural = _OWNERS.get(path, (noun(path), "values"))
            return f"{owner} has no {plural}"
        if leaf.quantifier is None:
            if values in (None, ""):
                return f"{say_expr(leaf.field)} is missing"
            values = (values,)
        answers = {v: is_valid(kind, v, day, checked.icd10) for v in values}
        bad = [v for v, ok in answers.items() if ok is False]
        unknown = [v for v, ok in answers.items() if ok is None]
        head = f"{noun(path)} {_is(path)} {show(tuple(values), kind)}"
        if bad:
            return f"{head}; {show(tuple(bad), kind)} {'is' if len(bad) == 1 else 'are'} not valid on {day}"
        if unknown:
            return (f"{head}; whether {show(tuple(unknown), kind)} {'is' if len(unknown) == 1 else 'are'} "
                    f"valid on {day} is unknown (no ICD-10-CM code set of the pack covers {day}: "
                    f"import that fiscal year's with 'rulesengine import icd10cm')")
        return f"{head}; {'it is' if len(values) == 1 else 'all are'} valid on {day}"
    if isinstance(leaf, ast.Quantified):
        path, kind = leaf.field.path, _kind(leaf.field)
        values = reference.value(leaf.field, claim, line)
        where = say_set(leaf.set, kind, checked, sized=False)
        if not values:
            owner, plural = _OWNERS.get(path, (noun(path), "values"))
            return f"{owner} has no {plural}"
        hits = [v for v in values if reference.in_set(checked, leaf.set, kind, v)]
        head = f"{noun(path)} {_is(path)} {show(values, kind)}"
        if leaf.quantifier == "all":
            misses = [v for v in values if v not in hits]
            if not misses:
                return f"{head}; every one is {where}"
            return f"{head}; {show(tuple(misses), kind)} {'is' if len(misses) == 1 else 'are'} not {where}"
        if not hits:
            return f"{head}; none of them is {where}"
        if len(values) == 1:
            return f"{head}, {where}"
        return f"{head}; {show(tuple(hits), kind)} {'is' if len(hits) == 1 else 'are'} {where}"
    return say(leaf, checked)


def deciding(checked, cond, claim, line) -> list:
    """The leaf conditions that decide a condition's truth on this claim: the false parts of
    a false 'and', the true parts of a true 'or', the unknown parts of an unknown one."""
    if isinstance(cond, ast.Not):
        return deciding(checked, cond.item, claim, line)
    if not isinstance(cond, (ast.AllOf, ast.AnyOf)):
        return [cond]
    value = reference.truth(checked, cond, claim, line)  # the parts with the whole's value decide it
    return [leaf for item in cond.items if reference.truth(checked, item, claim, line) is value
            for leaf in deciding(checked, item, claim, line)]


def missing_values(checked, cond, claim, line) -> list[str]:
    """The fields whose absence makes a condition unknown."""
    names = [noun(p) for leaf in deciding(checked, cond, claim, line) for p in fields_named(leaf)
             if FIELDS[p].get(claim, line) in (None, "")]
    return list(dict.fromkeys(names))


def join(parts: list[str]) -> str:
    """'A', 'A and B', 'A; B; and C'."""
    parts = [p for p in parts if p]
    if len(parts) < 3:
        return " and ".join(parts)
    return "; ".join(parts[:-1]) + "; and " + parts[-1]
