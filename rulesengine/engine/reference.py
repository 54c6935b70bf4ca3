"""The reference interpreter: the rules' meaning, written as plainly as possible.

It walks the syntax tree for every claim, scans tables row by row and matches codes by
reading the written code lists, with no index, cache or precomputation. It is slow on
purpose; the compiled evaluator must give exactly its findings (tests check this on a
generated corpus).
"""

from __future__ import annotations

from datetime import date

from rulesengine.claims.model import Claim, Line
from rulesengine.codes.kinds import normalize
from rulesengine.codes.validity import combine, is_valid
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers
from rulesengine.language.dates import shift
from rulesengine.language.fields import FIELDS

from .checked import CheckedPack
from .history import HistoryRequired, window_start
from .results import Finding
from .runtime import RuleFacts, sort_findings, version_key


def evaluate(checked: CheckedPack, facts: dict[tuple, RuleFacts], claim: Claim,
             history=None) -> tuple[Finding, ...]:
    """The findings of every rule; ``history`` (see ``history.History``) is required when a
    rule reads it."""
    needing = [r for r in checked.rules if isinstance(r.check, ast.HISTORY_CHECKS)]
    if needing and history is None:
        raise HistoryRequired(facts[version_key(needing[0])].pack,
                              list(dict.fromkeys(r.id for r in needing)))
    versions: dict[str, list[ast.Rule]] = {}  # rule id -> its versions (layered packs may leave several)
    for rule in checked.rules:
        versions.setdefault(rule.id, []).append(rule)
    findings: list[Finding] = []
    for of_one_rule in versions.values():
        findings.extend(_apply(checked, facts, of_one_rule, claim, history))
    order = {rule.id: i for i, rule in enumerate(checked.rules)}
    return sort_findings(findings, order)


def _apply(checked, facts, versions, claim, history):
    """One rule's findings: on each date of service, those of the version in force then."""
    rule = in_force([v for v in versions if not v.per_line], claim.first_service_date)
    if (rule is not None and (rule.guard is None or truth(checked, rule.guard, claim, None) is True)
            and truth(checked, rule.check.condition, claim, None) is False):
        yield facts[version_key(rule)].finding(claim, None)
    per_line = [v for v in versions if v.per_line]
    claim_level_fired = False
    for line in claim.lines:
        rule = in_force(per_line, line.service_date)
        if rule is None:
            continue
        if rule.guard is not None and truth(checked, rule.guard, claim, None) is not True:
            continue
        if rule.where is not None and truth(checked, rule.where, claim, line) is not True:
            continue
        extras = _violation(checked, rule.check, claim, line, history)
        if extras is None:
            continue
        if rule.action.scope == "claim":
            # one finding for the claim, from the first line that breaks the rule
            if not claim_level_fired:
                claim_level_fired = True
                yield facts[version_key(rule)].finding(claim, line, extras)
        else:
            yield facts[version_key(rule)].finding(claim, line, extras)


def in_force(versions: list[ast.Rule], day: date) -> ast.Rule | None:
    """The version of a rule that applies on ``day``, if any (their dates never overlap)."""
    return next((v for v in versions if in_window(v, day)), None)


def in_window(rule: ast.Rule, day: date) -> bool:
    """Whether ``day`` is in the rule's window, and not in one where a later pack took it over."""
    return (within(rule.effective_from, rule.effective_through, day)
            and not any(within(over.start, over.end, day) for over in rule.superseded))


def within(start: ast.DateValue | None, end: ast.DateValue | None, day: date) -> bool:
    """Whether ``day`` is from ``start`` through ``end`` (None: open)."""
    return ((start is None or day >= date.fromisoformat(start.text))
            and (end is None or day <= date.fromisoformat(end.text)))


def _violation(checked, check, claim, line, history) -> dict | None:
    """None when the line passes the check, else the extra values its message may show."""
    if isinstance(check, ast.Require):
        return {} if truth(checked, check.condition, claim, line) is False else None
    if isinstance(check, ast.RequireUnbundled):
        return bundled(checked, check, claim, line)
    if isinstance(check, ast.RequireFrequency):
        return over_frequency(checked, check, claim, line, history)
    if isinstance(check, ast.RequireNoDuplicate):
        return duplicate(claim, line, history)
    return over_units(checked, check, claim, line)


# ---- history checks -----------------------------------------------------------------------

def over_frequency(checked, check: ast.RequireFrequency, claim: Claim, line: Line, history):
    """The line is one service too many when, with the services counted before it (see
    ``frequency_prior``), it makes more than the limit."""
    if not line.procedure:
        return None
    prior = frequency_prior(checked, check, claim, line, history)
    if len(prior) + 1 > check.limit:
        return {"limit": check.limit, "period": check.period, "prior_dates": prior}
    return None


def counted_codes(checked, check: ast.RequireFrequency, line: Line) -> list[str]:
    """The procedure codes a frequency limit counts: those it names after ``counting``, else
    the line's own."""
    if check.counting is None:
        return [line.procedure]
    ref = check.counting
    items = (checked.valuesets[ref.name].codes.items if isinstance(ref, ast.SetName)
             else ref.items if isinstance(ref, ast.CodeList) else (ref,))
    return [normalize("hcpcs", i.text if isinstance(i, ast.Code) else i.value) for i in items]


def frequency_prior(checked, check: ast.RequireFrequency, claim: Claim, line: Line,
                    history) -> tuple[date, ...]:
    """The dates of the services a frequency limit counts before this line, sorted: the
    recorded services of the member and procedure in the window ending on the line's date
    (other claims only: a claim's own recorded copy is not counted), and the earlier lines
    of this claim in that window (by date, then by order on the claim)."""
    start = window_start(line.service_date, check.amount, check.unit)
    codes = counted_codes(checked, check, line)
    prior = []
    if claim.member_id:
        for code in codes:
            for recorded in history.lines_for(claim.member_id, code):
                if recorded.claim_id == claim.claim_id:
                    continue
                if (start is None or recorded.service_date >= start) and recorded.service_date <= line.service_date:
                    prior.append(recorded.service_date)
    here = claim.lines.index(line)
    for i, other in enumerate(claim.lines):
        if other.procedure not in codes:
            continue
        if (other.service_date, i) >= (line.service_date, here):
            continue  # not earlier than this line
        if start is None or other.service_date >= start:
            prior.append(other.service_date)
    return tuple(sorted(prior))


def duplicate(claim: Claim, line: Line, history):
    """Another recorded claim has a line of the same member, procedure, date of service and
    billing provider NPI."""
    if not (line.procedure and claim.member_id and claim.billing_npi):
        return None
    others = set()
    for recorded in history.lines_for(claim.member_id, line.procedure):
        if (recorded.claim_id != claim.claim_id and recorded.service_date == line.service_date
                and recorded.billing_npi == claim.billing_npi):
            others.add(recorded.claim_id)
    if others:
        return {"duplicate_claims": tuple(sorted(others)), "prior_dates": (line.service_date,)}
    return None


# ---- table-driven checks ------------------------------------------------------------

def row_in_force(table, matches, day):
    """The row that governs ``day`` among those ``matches`` accepts: in force on the day,
    and of several, the one that took effect last (the later in the file on a tie)."""
    best = None
    start_at = table.date_from
    for row in table.rows:
        if matches(row) and table.in_force(row, day):
            if best is None or start_at is None or (row[start_at] or date.min) >= (best[start_at] or date.min):
                best = row
    return best


def bundled(checked, check: ast.RequireUnbundled, claim: Claim, line: Line):
    table = checked.tables[check.table]
    c1, c2, mi = table.index("column1"), table.index("column2"), table.index("modifier_indicator")
    bypass = bypass_modifiers(check)
    for other in claim.lines:
        if other is line or other.service_date != line.service_date or not other.procedure:
            continue
        row = row_in_force(table, lambda r: r[c1] == other.procedure and r[c2] == line.procedure,
                            line.service_date)
        if row is None or row[mi] == 9:
            continue
        if row[mi] == 1 and any(m in bypass for m in line.modifiers):
            continue
        return {"column1": other.procedure, "column1_line": other.line_number,
                "modifier_indicator": row[mi]}
    return None


def over_units(checked, check: ast.RequireUnits, claim: Claim, line: Line):
    table = checked.tables[check.table]
    code, limit, mai = table.index("code"), table.index("limit"), table.index("adjudication")
    row = row_in_force(table, lambda r: r[code] == line.procedure, line.service_date)
    if row is None:
        return None
    if row[mai] in (2, 3):
        billed = sum(o.units for o in claim.lines
                     if o.procedure == line.procedure and o.service_date == line.service_date)
    else:
        billed = line.units
    if billed > row[limit]:
        return {"limit": row[limit], "units_billed": billed, "adjudication": row[mai]}
    return None


# ---- conditions -------------------------------------------------------------------------

def truth(checked, cond, claim, line):
    """True, False, or None (unknown: the claim lacks a value the condition needs)."""
    if isinstance(cond, ast.AllOf):
        values = [truth(checked, c, claim, line) for c in cond.items]
        return False if False in values else (None if None in values else True)
    if isinstance(cond, ast.AnyOf):
        values = [truth(checked, c, claim, line) for c in cond.items]
        return True if True in values else (None if None in values else False)
    if isinstance(cond, ast.Not):
        got = truth(checked, cond.item, claim, line)
        return None if got is None else not got
    if isinstance(cond, ast.Presence):
        got = value(cond.expr, claim, line)
        return (got not in (None, "", ())) == cond.present
    if isinstance(cond, ast.Comparison):
        return _compare(value(cond.left, claim, line), cond.op, value(cond.right, claim, line))
    if isinstance(cond, ast.Membership):
        got = value(cond.expr, claim, line)
        if got is None:
            return None
        inside = in_set(checked, cond.set, _kind(cond.expr), got)
        return not inside if cond.negated else inside
    if isinstance(cond, ast.Validity):
        kind = FIELDS[cond.field.path].type
        day = line.service_date if line is not None else claim.first_service_date
        got = value(cond.field, claim, line)
        if cond.quantifier is not None:
            return combine(cond.quantifier, [_matches(is_valid(kind, v, day, checked.icd10), cond.valid)
                                             for v in got])
        return _matches(is_valid(kind, got, day, checked.icd10), cond.valid)
    if isinstance(cond, ast.Quantified):
        kind = FIELDS[cond.field.path].type
        hits = [in_set(checked, cond.set, kind, v) for v in value(cond.field, claim, line)]
        if cond.quantifier == "any":
            return any(hits)
        if cond.quantifier == "all":
            return all(hits)
        return not any(hits)
    raise TypeError(f"not a condition: {cond!r}")


def _matches(answer: bool | None, want: bool) -> bool | None:
    """A validity answer against ``is valid`` (want True) or ``is not valid``; unknown stays unknown."""
    return None if answer is None else answer == want


def _compare(left, op, right):
    if left is None or right is None:
        return None
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _kind(expr) -> str:
    return FIELDS[expr.path].type if isinstance(expr, ast.Field) else "text"


def value(expr, claim, line):
    if isinstance(expr, ast.Field):
        return FIELDS[expr.path].get(claim, line)
    if isinstance(expr, (ast.Number, ast.Text)):
        return expr.value
    if isinstance(expr, ast.DateValue):
        return date.fromisoformat(expr.text)
    if isinstance(expr, ast.DateShift):
        base = value(expr.operand, claim, line)
        return None if base is None else shift(base, expr.amount, expr.unit)
    raise TypeError(f"not an expression: {expr!r}")


def in_set(checked, ref, kind: str, value: str) -> bool:
    if isinstance(ref, ast.SetName):
        vs = checked.valuesets[ref.name]
        return _in_items(vs.codes.items, vs.kind, value)
    items = ref.items if isinstance(ref, ast.CodeList) else (ref,)
    return _in_items(items, kind, value)


def _in_items(items, kind: str, value: str) -> bool:
    for item in items:
        if isinstance(item, ast.CodeSpan):
            low, high = normalize(kind, item.low.text), normalize(kind, item.high.text)
            if kind == "icd10":
                # a range of categories covers the codes below them: E20.0..E21.5 holds E21.01
                flat, lo, hi = value.replace(".", ""), low.replace(".", ""), high.replace(".", "")
                if len(flat) >= len(lo) and lo <= flat[: len(lo)] <= hi:
                    return True
            elif len(value) == len(low) and low <= value <= high:
                return True
            continue
        written = item.text if isinstance(item, ast.Code) else item.value
        entry = written if kind == "text" else normalize(kind, written)
        if kind == "icd10":
            stem = entry.rstrip("*").rstrip(".").replace(".", "")
            if value.replace(".", "").startswith(stem):
                return True
        elif entry.endswith("*"):
            if value.startswith(entry.rstrip("*")):
                return True
        elif value == entry:
            return True
    return False
