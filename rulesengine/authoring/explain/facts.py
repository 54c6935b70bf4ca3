"""Plain English for ``rulesengine explain``: what a claim holds for each part of a rule.

Truth and values come from the reference interpreter (``reference.truth``, ``value``,
``in_set``, ``scope_lines``, ``lookup_rows``), the plain meaning of every construct; the
sentences for the rule itself come from ``say``.
"""

from __future__ import annotations

from datetime import date

from rulesengine.codes.validity import is_valid
from rulesengine.engine import reference
from rulesengine.engine.runtime import fields_named
from rulesengine.language import ast
from rulesengine.language.fields import FIELDS

from .say import (
    OPPOSITE,
    OPS,
    OWNERS,
    SCOPE_WORDS,
    agreed,
    be,
    family,
    join,
    kind_of,
    noun,
    say,
    say_expr,
    say_set,
    show,
)


def _days(later: date, earlier: date) -> str:
    n = (later - earlier).days
    return f"{abs(n)} day{'' if abs(n) == 1 else 's'}"


def _side(expr, value, other_kind: str) -> str:
    """'the line's date of service plus 1 year (2026-07-01)', or a literal as written."""
    if isinstance(expr, (ast.Number, ast.Text, ast.DateValue)):
        return say_expr(expr, other_kind)
    return f"{say_expr(expr)} ({show(value, kind_of(expr))})"


def _missing(checked, expr, claim, line, env) -> list[str]:
    """The fields of an expression the claim does not have."""
    if isinstance(expr, ast.DateShift):
        return _missing(checked, expr.operand, claim, line, env)
    if isinstance(expr, ast.Arithmetic):
        return _missing(checked, expr.left, claim, line, env) + _missing(checked, expr.right, claim, line, env)
    if (isinstance(expr, (ast.Field, ast.Lookup))
            and reference.value(checked, expr, claim, line, env) in (None, "")):
        return [say_expr(expr)]
    return []


def _age_note(expr, claim, line) -> str:
    """Age is counted on a date: say which, and from which birth date."""
    if isinstance(expr, ast.Field) and expr.path in ("patient.age", "patient.age_days"):
        on = line.service_date if line is not None else claim.first_service_date
        return f" on {on.isoformat()} (born {show(claim.birth_date)})"
    return ""


def facts(checked, leaf, claim, line, env=None) -> str:
    """What the claim holds for one condition, as a clause: 'the patient's age is 68 on ...'."""
    env = env or {}

    def value_of(expr):
        return reference.value(checked, expr, claim, line, env)
    if isinstance(leaf, ast.LineQuantifier):
        return _lines_met(checked, leaf, claim, line, env)
    if isinstance(leaf, ast.DateWindow):
        return _window_facts(leaf, value_of(leaf.subject), value_of(leaf.reference))
    if isinstance(leaf, ast.Comparison):
        missing = _missing(checked, leaf.left, claim, line, env) + _missing(checked, leaf.right, claim, line, env)
        if missing:
            return " and ".join(f"{m} is missing" for m in missing)
        left, right = value_of(leaf.left), value_of(leaf.right)
        holds = reference.truth(checked, leaf, claim, line, env)
        lk, rk = kind_of(leaf.left, checked), kind_of(leaf.right, checked)
        if isinstance(left, tuple) and isinstance(right, tuple):  # lists: the same codes?
            same = "the same codes as" if set(left) == set(right) else "not the same codes as"
            return f"{say_expr(leaf.left)} {be(getattr(leaf.left, 'path', ''))} {show(left, lk)}, {same} {_side(leaf.right, right, lk)}"
        if isinstance(leaf.left, (ast.Number, ast.Text, ast.DateValue)):  # literal first: turn it round
            leaf = ast.Comparison(leaf.right, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(leaf.op, leaf.op),
                                  leaf.left, leaf.pos)
            left, right, lk, rk = right, left, rk, lk
        head = f"{say_expr(leaf.left)} {agreed(leaf.left)} {show(left, lk)}{_age_note(leaf.left, claim, line)}"
        if isinstance(left, date) and isinstance(right, date):
            where = "the same day as" if left == right else f"{_days(left, right)} {'after' if left > right else 'before'}"
            return f"{head}, {where} {_side(leaf.right, right, lk)}"
        if family(leaf.left, leaf.right) == "number" and leaf.op not in ("=", "!="):
            words = OPS["number"][leaf.op if holds else OPPOSITE[leaf.op]][3:]
            if not holds and leaf.op in ("<", ">"):
                words = "not " + OPS["number"][leaf.op][3:]
            return f"{head}, {words} {_side(leaf.right, right, lk)}"
        if not holds and leaf.op == "=":
            return f"{head}, not {_side(leaf.right, right, lk)}"
        if isinstance(leaf.right, ast.Field):
            return f"{head}, and {_side(leaf.right, right, lk)}"
        return head
    if isinstance(leaf, ast.Presence):
        value = value_of(leaf.expr)
        if value in (None, "", ()):
            return f"{say_expr(leaf.expr)} is missing"
        return f"{say_expr(leaf.expr)} is {show(value, kind_of(leaf.expr))}"
    if isinstance(leaf, ast.Membership):
        value = value_of(leaf.expr)
        if value is None:
            return f"{say_expr(leaf.expr)} is missing"
        kind = kind_of(leaf.expr, checked)
        where = say_set(leaf.set, kind, checked, sized=False)
        if isinstance(leaf.set, ast.Lookup):
            values = _lookup_values(checked, leaf.set, claim, line, env)
            if values is None:
                return f"{say_expr(leaf.expr)} is {show(value, kind)}; {say_expr(leaf.set.key)} is missing"
            inside = value in values
            where += f" ({show(tuple(sorted(values)), kind)})" if values else " (none in force)"
        else:
            inside = reference.in_set(checked, leaf.set, kind, value)
        return f"{say_expr(leaf.expr)} is {show(value, kind)}, {'' if inside else 'not '}{where}"
    if isinstance(leaf, ast.Validity):
        path, kind = leaf.field.path, kind_of(leaf.field)
        values = value_of(leaf.field)
        day = line.service_date if line is not None else claim.first_service_date
        if leaf.quantifier is not None and not values:
            owner, plural = OWNERS.get(path, (noun(path), "values"))
            return f"{owner} has no {plural}"
        if leaf.quantifier is None:
            if values in (None, ""):
                return f"{say_expr(leaf.field)} is missing"
            values = (values,)
        answers = {v: is_valid(kind, v, day, checked.icd10) for v in values}
        bad = [v for v, ok in answers.items() if ok is False]
        unknown = [v for v, ok in answers.items() if ok is None]
        head = f"{noun(path)} {be(path)} {show(tuple(values), kind)}"
        if bad:
            return f"{head}; {show(tuple(bad), kind)} {'is' if len(bad) == 1 else 'are'} not valid on {day}"
        if unknown:
            return (f"{head}; whether {show(tuple(unknown), kind)} {'is' if len(unknown) == 1 else 'are'} "
                    f"valid on {day} is unknown (no ICD-10-CM code set of the pack covers {day}: "
                    f"import that fiscal year's with 'rulesengine import icd10cm')")
        return f"{head}; {'it is' if len(values) == 1 else 'all are'} valid on {day}"
    if isinstance(leaf, ast.Quantified):
        path, kind = leaf.field.path, kind_of(leaf.field)
        values = value_of(leaf.field)
        where = say_set(leaf.set, kind, checked, sized=False)
        if not values:
            owner, plural = OWNERS.get(path, (noun(path), "values"))
            return f"{owner} has no {plural}"
        hits = [v for v in values if reference.in_set(checked, leaf.set, kind, v)]
        head = f"{noun(path)} {be(path)} {show(values, kind)}"
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


def deciding(checked, cond, claim, line, env=None) -> list:
    """The leaf conditions that decide a condition's truth on this claim: the false parts of
    a false 'and', the true parts of a true 'or', the unknown parts of an unknown one."""
    if isinstance(cond, ast.Not):
        return deciding(checked, cond.item, claim, line, env)
    if not isinstance(cond, (ast.AllOf, ast.AnyOf)):
        return [cond]
    value = reference.truth(checked, cond, claim, line, env)  # the parts with the whole's value decide it
    return [leaf for item in cond.items if reference.truth(checked, item, claim, line, env) is value
            for leaf in deciding(checked, item, claim, line, env)]


def missing_values(checked, cond, claim, line, env=None) -> list[str]:
    """The fields whose absence makes a condition unknown."""
    names = [noun(p) for leaf in deciding(checked, cond, claim, line, env) for p in fields_named(leaf)
             if FIELDS[p].get(claim, line) in (None, "")]
    return list(dict.fromkeys(names))


# ---- relations: lines met, table rows, windows -------------------------------------------------

LINES_SHOWN = 6


def _line_words(met) -> str:
    """A line as a sentence shows it: '11042 on 2026-01-14 (line 1)'; a recorded line with
    its claim and provider."""
    mods = f"-{'-'.join(met.modifiers)}" if met.modifiers else ""
    if hasattr(met, "claim_id"):  # a line of an earlier claim, from the history
        return (f"{met.procedure}{mods} on {met.service_date} (claim {met.claim_id} line "
                f"{met.line_number}, NPI {met.billing_npi or 'none'})")
    return f"{met.procedure or 'no procedure'}{mods} on {met.service_date} (line {met.line_number})"


def _lookup_values(checked, lookup: ast.Lookup, claim, line, env) -> set | None:
    rows = reference.lookup_rows(checked, lookup, claim, line, env)
    if rows is None:
        return None
    column = checked.tables[lookup.table].index(lookup.column)
    return {r[column] for r in rows if r[column] is not None}


def _lines_met(checked, leaf: ast.LineQuantifier, claim, line, env) -> str:
    """Which lines of the scope make the condition true: 'the tables it reads say ...; of the
    claim's other lines (11042 on 2026-01-14 (line 1)), none meets it'."""
    lines = reference.scope_lines(leaf.scope, claim, line, env)
    met = [m for m in lines
           if reference.truth(checked, leaf.condition, claim, line, {**env, leaf.scope: m}) is True]
    where = SCOPE_WORDS[leaf.scope][1]
    said = []
    for lookup in (n for n in ast.walk(leaf.condition) if isinstance(n, ast.Lookup)):
        if lookup.key is not None and not any(isinstance(f, ast.Field) and f.root in ast.SCOPES
                                              for f in ast.walk(lookup.key)):
            values = _lookup_values(checked, lookup, claim, line, env)
            if values is not None:
                key = show(reference.value(checked, lookup.key, claim, line, env))
                day = reference.lookup_day(lookup, claim, line, env)
                said.append(f"the {lookup.column} of table {lookup.table} for {key} on {day} "
                            f"{'is' if len(values) == 1 else 'are'} {show(tuple(sorted(values))) if values else 'none'}")
    if not lines:
        return join(said + [f"{where}: none" + (" (the claim has no member id)"
                                                 if leaf.scope == "earlier" and not claim.member_id else "")])
    shown = ", ".join(_line_words(m) for m in lines[:LINES_SHOWN])
    if len(lines) > LINES_SHOWN:
        shown += f" and {len(lines) - LINES_SHOWN} more"
    if met:
        meeting = ", ".join(_line_words(m) for m in met[:LINES_SHOWN])
        verdict = f"of {where} ({shown}), {meeting} {'meets' if len(met) == 1 else 'meet'} it"
    else:
        verdict = f"none of {where} ({shown}) meets it"
    return join(said + [verdict])


def _window_facts(leaf: ast.DateWindow, subject, reference_day) -> str:
    if subject is None or reference_day is None:
        missing = [say_expr(e) for e, v in ((leaf.subject, subject), (leaf.reference, reference_day)) if v is None]
        return " and ".join(f"{m} is missing" for m in missing)
    if leaf.unit.startswith("calendar"):
        months = (subject.year * 12 + subject.month) - (reference_day.year * 12 + reference_day.month)
        apart = f"{abs(months)} calendar month{'' if abs(months) == 1 else 's'} {'after' if months >= 0 else 'before'}"
    else:
        apart = f"{_days(subject, reference_day)} {'after' if subject >= reference_day else 'before'}"
        if subject == reference_day:
            apart = "the same day as"
    return (f"{say_expr(leaf.subject)} is {subject}, {apart} {say_expr(leaf.reference)} "
            f"({reference_day})")


