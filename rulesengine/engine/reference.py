"""The reference interpreter: the rules' meaning, written as plainly as possible.

It walks the syntax tree for every claim, scans tables row by row and matches codes by
reading the written code lists, with no index, cache or precomputation. It is slow on
purpose; the compiled evaluator must give exactly its findings (tests check this on a
generated corpus).

Inside a quantifier or an aggregate over lines, ``env`` says what ``other`` or ``earlier``
stands for (the line met) and holds the claim history the earlier lines come from.
"""

from __future__ import annotations

from datetime import date

from rulesengine.claims.model import Claim, Line
from rulesengine.codes.kinds import normalize
from rulesengine.codes.validity import combine, is_valid
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers
from rulesengine.language.dates import between_shifts, shift
from rulesengine.language.fields import EARLIER_FIELDS, FIELDS

from .boundary import RuleFailed
from .checked import CheckedPack
from .history import HistoryLine, HistoryRequired, window_start
from .results import Finding
from .runtime import RuleFacts, sort_findings, version_key


def evaluate(checked: CheckedPack, facts: dict[tuple, RuleFacts], claim: Claim,
             history=None) -> tuple[Finding, ...]:
    """The findings of every rule; ``history`` (see ``history.History``) is required when a
    rule reads it."""
    needing = [r for r in checked.rules if ast.reads_history(r)]
    if needing and history is None:
        raise HistoryRequired(facts[version_key(needing[0])].pack,
                              list(dict.fromkeys(r.id for r in needing)))
    versions: dict[str, list[ast.Rule]] = {}  # rule id -> its versions (layered packs may leave several)
    for rule in checked.rules:
        versions.setdefault(rule.id, []).append(rule)
    findings: list[Finding] = []
    for rule_id, of_one_rule in versions.items():
        try:
            findings.extend(_apply(checked, facts, of_one_rule, claim, history))
        except Exception as error:  # a bug: say in which rule
            raise RuleFailed(rule_id) from error
    order = {rule.id: i for i, rule in enumerate(checked.rules)}
    return sort_findings(findings, order)


def _apply(checked, facts, versions, claim, history):
    """One rule's findings: on each date of service, those of the version in force then."""
    env = {"history": history}
    rule = in_force([v for v in versions if not v.per_line], claim.first_service_date)
    if (rule is not None and (rule.guard is None or truth(checked, rule.guard, claim, None, env) is True)
            and truth(checked, rule.check.condition, claim, None, env) is False):
        fact = facts[version_key(rule)]
        yield fact.finding(claim, None, found_line(checked, rule, fact, claim, None, env))
    per_line = [v for v in versions if v.per_line]
    claim_level_fired = False
    for line in claim.lines:
        rule = in_force(per_line, line.service_date)
        if rule is None:
            continue
        if rule.guard is not None and truth(checked, rule.guard, claim, None, env) is not True:
            continue
        if rule.where is not None and truth(checked, rule.where, claim, line, env) is not True:
            continue
        extras = _violation(checked, rule.check, claim, line, history)
        if extras is None:
            continue
        extras = extras or found_line(checked, rule, facts[version_key(rule)], claim, line, env)
        if rule.action.scope == "claim":
            # one finding for the claim, from the first line that breaks the rule
            if not claim_level_fired:
                claim_level_fired = True
                yield facts[version_key(rule)].finding(claim, line, extras)
        else:
            yield facts[version_key(rule)].finding(claim, line, extras)


def found_line(checked, rule: ast.Rule, fact: RuleFacts, claim, line, env) -> dict:
    """For a rule that requires 'no other|earlier line where C' and fired: the fields of the
    first line (in claim or history order) for which C is true, that the message names."""
    if not fact.found_fields:
        return {}
    cond = rule.check.condition
    for met in scope_lines(cond.scope, claim, line, env):
        if truth(checked, cond.condition, claim, line, {**env, cond.scope: met}) is True:
            return fact.found_line(claim, met)
    return {}


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
        env = {"history": history}
        return {} if truth(checked, check.condition, claim, line, env) is False else None
    if isinstance(check, ast.RequireUnbundled):
        return bundled(checked, check, claim, line, history)
    if isinstance(check, ast.RequireFrequency):
        return over_frequency(checked, check, claim, line, history)
    if isinstance(check, ast.RequireNoDuplicate):
        return duplicate(claim, line, history)
    return over_units(checked, check, claim, line, history)


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


def same_provider_lines(claim: Claim, day: date, history) -> list[HistoryLine]:
    """The recorded lines of the patient's other claims on ``day`` by this claim's billing
    provider, in claim id and line order: what a check ``across claims`` adds. None
    without a member id or a billing NPI to match them by."""
    if not (claim.member_id and claim.billing_npi):
        return []
    found = [h for h in history.member_lines(claim.member_id)
             if h.claim_id != claim.claim_id and h.service_date == day and h.billing_npi == claim.billing_npi]
    return sorted(found, key=lambda h: (h.claim_id, h.line_number or 0))


def bundled(checked, check: ast.RequireUnbundled, claim: Claim, line: Line, history=None):
    """The line is a column-two code with a column-one code on the same date: on this claim
    (first in claim order) or, across claims, on another claim of the same billing provider."""
    table = checked.tables[check.table]
    c1, c2, mi = table.index("column1"), table.index("column2"), table.index("modifier_indicator")
    bypass = bypass_modifiers(check)
    others = [(o.procedure, o.line_number, claim.claim_id) for o in claim.lines
              if o is not line and o.service_date == line.service_date and o.procedure]
    if check.across_claims:
        others += [(h.procedure, h.line_number, h.claim_id)
                   for h in same_provider_lines(claim, line.service_date, history)]
    for procedure, number, claim_id in others:
        row = row_in_force(table, lambda r: r[c1] == procedure and r[c2] == line.procedure,
                            line.service_date)
        if row is None or row[mi] == 9:
            continue
        if row[mi] == 1 and any(m in bypass for m in line.modifiers):
            continue
        found = {"column1": procedure, "column1_line": number, "modifier_indicator": row[mi]}
        if check.across_claims:
            found["column1_claim"] = claim_id
        return found
    return None


def over_units(checked, check: ast.RequireUnits, claim: Claim, line: Line, history=None):
    """More units than the MUE in force: the line's own (adjudication indicator 1), or every
    line of the code on the date (2 and 3), across claims those of the same billing provider
    too; an earlier line whose units the history does not know counts none."""
    table = checked.tables[check.table]
    code, limit, mai = table.index("code"), table.index("limit"), table.index("adjudication")
    row = row_in_force(table, lambda r: r[code] == line.procedure, line.service_date)
    if row is None:
        return None
    earlier = 0
    if row[mai] in (2, 3):
        billed = sum(o.units for o in claim.lines
                     if o.procedure == line.procedure and o.service_date == line.service_date)
        if check.across_claims:
            earlier = sum(h.units or 0 for h in same_provider_lines(claim, line.service_date, history)
                          if h.procedure == line.procedure)
            billed += earlier
    else:
        billed = line.units
    if billed > row[limit]:
        found = {"limit": row[limit], "units_billed": billed, "adjudication": row[mai]}
        if check.across_claims:
            found["earlier_units"] = earlier
        return found
    return None


# ---- conditions -------------------------------------------------------------------------

def truth(checked, cond, claim, line, env=None):
    """True, False, or None (unknown: the claim lacks a value the condition needs)."""
    env = env or {}
    if isinstance(cond, ast.AllOf):
        values = [truth(checked, c, claim, line, env) for c in cond.items]
        return False if False in values else (None if None in values else True)
    if isinstance(cond, ast.AnyOf):
        values = [truth(checked, c, claim, line, env) for c in cond.items]
        return True if True in values else (None if None in values else False)
    if isinstance(cond, ast.Not):
        got = truth(checked, cond.item, claim, line, env)
        return None if got is None else not got
    if isinstance(cond, ast.Presence):
        got = value(checked, cond.expr, claim, line, env)
        return (got not in (None, "", ())) == cond.present
    if isinstance(cond, ast.Comparison):
        left = value(checked, cond.left, claim, line, env)
        right = value(checked, cond.right, claim, line, env)
        if isinstance(left, tuple) and isinstance(right, tuple):  # lists: the same codes
            return (set(left) == set(right)) == (cond.op == "=")
        return _compare(left, cond.op, right)
    if isinstance(cond, ast.Membership):
        got = value(checked, cond.expr, claim, line, env)
        if got is None:
            return None
        if isinstance(cond.set, ast.Lookup):
            rows = lookup_rows(checked, cond.set, claim, line, env)
            if rows is None:
                return None
            column = checked.tables[cond.set.table].index(cond.set.column)
            inside = got in {r[column] for r in rows if r[column] is not None}
        else:
            inside = in_set(checked, cond.set, _kind(cond.expr), got)
        return not inside if cond.negated else inside
    if isinstance(cond, ast.LineQuantifier):
        met = any(truth(checked, cond.condition, claim, line, {**env, cond.scope: met_line}) is True
                  for met_line in scope_lines(cond.scope, claim, line, env))
        return met if cond.quantifier == "any" else not met
    if isinstance(cond, ast.DateWindow):
        return in_window_of(value(checked, cond.subject, claim, line, env), cond,
                            value(checked, cond.reference, claim, line, env))
    if isinstance(cond, ast.Validity):
        kind = FIELDS[cond.field.path].type if cond.field.root != "other" else FIELDS["line." + cond.field.name].type
        scoped = env.get("other") if cond.field.root == "other" else line
        day = scoped.service_date if scoped is not None else claim.first_service_date
        got = value(checked, cond.field, claim, line, env)
        if cond.quantifier is not None:
            return combine(cond.quantifier, [_matches(is_valid(kind, v, day, checked.icd10), cond.valid)
                                             for v in got])
        return _matches(is_valid(kind, got, day, checked.icd10), cond.valid)
    if isinstance(cond, ast.Quantified):
        kind = _kind(cond.field)
        hits = [in_set(checked, cond.set, kind, v) for v in value(checked, cond.field, claim, line, env)]
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
    if isinstance(expr, ast.Field):
        if expr.root == "other":
            return FIELDS["line." + expr.name].type
        return (EARLIER_FIELDS if expr.root == "earlier" else FIELDS)[expr.path].type
    return "text"


def value(checked, expr, claim, line, env=None):
    env = env or {}
    if isinstance(expr, ast.Field):
        if expr.root == "other":
            return FIELDS["line." + expr.name].get(claim, env["other"])
        if expr.root == "earlier":
            return EARLIER_FIELDS[expr.path].get(env["earlier"])
        return FIELDS[expr.path].get(claim, line)
    if isinstance(expr, (ast.Number, ast.Text)):
        return expr.value
    if isinstance(expr, ast.DateValue):
        return date.fromisoformat(expr.text)
    if isinstance(expr, ast.DateShift):
        base = value(checked, expr.operand, claim, line, env)
        return None if base is None else shift(base, expr.amount, expr.unit)
    if isinstance(expr, ast.Arithmetic):
        left, right = value(checked, expr.left, claim, line, env), value(checked, expr.right, claim, line, env)
        if left is None or right is None:
            return None
        return left + right if expr.op == "+" else left - right
    if isinstance(expr, ast.Lookup):  # as a value: the row that governs
        found = lookup(checked, expr, claim, line, env)
        if found is None:
            return None
        table, matches, day = found
        row = row_in_force(table, matches, day)
        return None if row is None else row[table.index(expr.column)]
    if isinstance(expr, ast.Aggregate):
        return aggregate(checked, expr, claim, line, env)
    raise TypeError(f"not an expression: {expr!r}")


# ---- relations: other lines, earlier lines, table rows ----------------------------------------

def scope_lines(scope: str, claim: Claim, line, env) -> list:
    """The lines ``other`` or ``earlier`` ranges over: the claim's lines but the one in
    hand; the patient's recorded lines of other claims (none without a member id)."""
    if scope == "other":
        return [ln for ln in claim.lines if ln is not line]
    if not claim.member_id:
        return []
    return [h for h in env["history"].member_lines(claim.member_id) if h.claim_id != claim.claim_id]


def aggregate(checked, expr: ast.Aggregate, claim, line, env):
    """A count of the lines for which the condition is true, or the sum of a field over
    them (unknown when one of them lacks the field)."""
    met = [m for m in scope_lines(expr.scope, claim, line, env)
           if expr.condition is None
           or truth(checked, expr.condition, claim, line, {**env, expr.scope: m}) is True]
    if expr.function == "count":
        return len(met)
    values = [value(checked, expr.field, claim, line, {**env, expr.scope: m}) for m in met]
    return None if None in values else sum(values)


def lookup_day(expr: ast.Lookup, claim, line, env) -> date:
    """The date of service whose rows a lookup reads: that of the line its key comes from
    (this line, another line, an earlier line), else the line in hand's, else the claim's first."""
    key = expr.key
    if isinstance(key, ast.Field) and key.root in ast.SCOPES and env.get(key.root) is not None:
        return env[key.root].service_date
    return line.service_date if line is not None else claim.first_service_date


def lookup(checked, expr: ast.Lookup, claim, line, env):
    """(the table, which of its rows the lookup names, the date they must be in force on):
    rows whose first column is the key, or every row when the lookup has no key; None
    when the key has no value."""
    table = checked.tables[expr.table]
    day = lookup_day(expr, claim, line, env)
    if expr.key is None:
        return table, lambda r: True, day
    key = value(checked, expr.key, claim, line, env)
    if key is None:
        return None
    kind = table.kinds[0]
    if kind not in ("integer", "number", "date", "text") and isinstance(key, str):
        key = normalize(kind, key)
    return table, lambda r: r[0] == key, day


def lookup_rows(checked, expr: ast.Lookup, claim, line, env) -> list | None:
    """The rows a lookup names that are in force (None when its key has no value)."""
    found = lookup(checked, expr, claim, line, env)
    if found is None:
        return None
    table, matches, day = found
    return [r for r in table.rows if matches(r) and table.in_force(r, day)]


def in_window_of(subject: date | None, window: ast.DateWindow, reference: date | None) -> bool | None:
    """Whether ``subject`` is ``low`` to ``high`` units after (or before) ``reference``."""
    if subject is None or reference is None:
        return None
    later, earlier = (subject, reference) if window.direction == "after" else (reference, subject)
    if window.unit.startswith("calendar"):
        months = (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month)
        return window.low <= months <= window.high
    return between_shifts(later, earlier, window.low, window.high, window.unit)


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
        if kind == "icd10" and isinstance(item, ast.Code) and item.exact:  # J18 only
            if value.replace(".", "") == entry.replace(".", ""):
                return True
        elif kind == "icd10":
            stem = entry.rstrip("*").rstrip(".").replace(".", "")
            if value.replace(".", "").startswith(stem):
                return True
        elif entry.endswith("*"):
            if value.startswith(entry.rstrip("*")):
                return True
        elif value == entry:
            return True
    return False
