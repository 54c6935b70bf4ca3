"""The NCCI and MUE walk-throughs of ``rulesengine explain``: a table check on one line.

For a bundling check (NCCI PTP), each pair the line's code makes with another line's code
and why it does or does not deny the line (another date, a row not in force, modifier
indicator 9, a bypass modifier); for a units check (MUE), the row in force, how the
adjudication indicator counts units, and the limit. Each walk-through is held to the
reference interpreter's own verdict (``reference.bundled``, ``reference.over_units``): a
difference is recorded as the explanation's ``problem``, reported as a disagreement.
"""

from __future__ import annotations


from rulesengine.engine import reference
from rulesengine.engine.history import window_start
from rulesengine.language import ast
from rulesengine.language.checker import bypass_modifiers

from .explanation import Explanation
from .say import join, show


def _row_dates(table, rows) -> str:
    """' (from 2018-07-01 through 2026-06-30)': when the rows are in force; nothing when the
    table has no row dates."""
    if table.date_from is None:
        return ""
    spans = []
    for row in rows[:3]:
        start, end = row[table.date_from], row[table.date_through] if table.date_through is not None else None
        spans.append(f"from {start.isoformat() if start else 'the start'}"
                     + (f" through {end.isoformat()}" if end else " with no end date"))
    return f" ({'; '.join(spans)})"


def explain_bundling(checked, check: ast.RequireUnbundled, claim, line, e: Explanation, history=None):
    """Fill in ``e`` for an NCCI PTP check on ``line``: the pairs its code makes (across
    claims, with the same provider's earlier claims of the date too), the one that denies it
    if any, and the fix its modifier indicator allows."""
    table, bypass = checked.tables[check.table], bypass_modifiers(check)
    c1, c2, mi = table.index("column1"), table.index("column2"), table.index("modifier_indicator")
    day, code, name = line.service_date, line.procedure, check.table
    # the rows with this code in column two, read once: a quarter's NCCI file is large
    mine = table.with_rows(tuple(r for r in table.rows if r[c2] == code))
    notes, first = [], None  # why each pair on the claim does or does not deny this line
    others = [o for o in claim.lines if o is not line and o.procedure]
    if check.across_claims:
        others += reference.same_provider_lines(claim, day, history)
    for other in others:
        rows = [r for r in mine.rows if r[c1] == other.procedure]
        row = reference.row_in_force(mine, lambda r, o=other: r[c1] == o.procedure, day)
        pair = f"{name} pairs {code} with {other.procedure} ({_where(other)})"
        if not rows:
            continue
        if other.service_date != day:
            notes.append(f"{pair}, but that line is on another date, {other.service_date}")
        elif row is None:
            notes.append(f"{pair}, but {'its row is' if len(rows) == 1 else 'its rows are'} not in "
                         f"force on {day}{_row_dates(table, rows)}")
        elif row[mi] == 9:
            notes.append(f"{pair}, with modifier indicator 9 on {day}, so the pair is not applied")
        elif row[mi] == 1 and (used := [m for m in line.modifiers if m in bypass]):
            notes.append(f"{pair}, with modifier indicator 1, and modifier {', '.join(used)} on "
                         "this line bypasses it")
        elif first is None:
            first = (other, row)
    verdict = reference.bundled(checked, check, claim, line, history)
    if (first is None) != (verdict is None) or (first and first[0].line_number != verdict["column1_line"]):
        e.problem = (f"{e.rule_id} on line {line.line_number}: the explanation's reading of {name} "
                     "differs from the reference interpreter's")
    if verdict is None or first is None:
        e.reason = "requirement met: " + (join(notes) or f"in {name}, {code} is not the column-two code of any other line's procedure")
        return
    (other, row), indicator = first, verdict["modifier_indicator"]
    e.outcome = "fired"
    e.values.update(verdict)
    tail = {0: ", which no modifier bypasses",
            1: f", and this line has none of the bypass modifiers {', '.join(bypass)} (its modifiers: "
               f"{show(line.modifiers)})"}.get(indicator, "")
    e.reason = (f"requirement not met: {code} is the column-two code of {other.procedure} on "
                f"{_where(other)}, both on {day}; the row of {name} for the pair"
                f"{' in force then' if table.date_from is not None else ''}{_row_dates(table, [row])} "
                f"has modifier indicator {indicator}{tail}")
    if indicator == 1:
        x = [m for m in bypass if m != "59"]
        mods = "/".join(x) + (" (or 59)" if "59" in bypass and x else "59" if "59" in bypass else "")
        e.fix = (f"If the service was distinct, add {mods} to the column-two line (line "
                 f"{line.line_number}, {code}); otherwise {code} is not paid with {other.procedure}.")
    elif indicator == 0:
        e.fix = (f"No modifier can bypass this pair (modifier indicator 0): {code} is not paid with "
                 f"{other.procedure} on the same date of service.")


def _where(other) -> str:
    """'line 2', or 'claim C9 line 1 by the same provider' for a line of an earlier claim."""
    if hasattr(other, "claim_id"):
        return f"claim {other.claim_id} line {other.line_number} by the same billing provider"
    return f"line {other.line_number}"


def explain_units(checked, check: ast.RequireUnits, claim, line, e: Explanation, history=None):
    """Fill in ``e`` for an MUE check on ``line``: the row in force, the units counted the way
    its adjudication indicator says (across claims, with the same provider's earlier claims
    of the date), and the limit."""
    table, name = checked.tables[check.table], check.table
    code_at, limit_at, mai_at = table.index("code"), table.index("limit"), table.index("adjudication")
    day, code = line.service_date, line.procedure
    row, over = reference.row_in_force(table, lambda r: r[code_at] == code, day), False
    if row is None:
        rows = [r for r in table.rows if r[code_at] == code]
        e.reason = "requirement met: " + (
            f"the rows of {name} for {code} are not in force on {day}{_row_dates(table, rows)}"
            if rows else f"{name} has no limit for {code}")
    else:
        mai, limit = row[mai_at], row[limit_at]
        same = [o for o in claim.lines if o.procedure == code and o.service_date == day]
        if check.across_claims and mai in (2, 3):
            same += [h for h in reference.same_provider_lines(claim, day, history) if h.procedure == code]
        lines = ", ".join(f"{_where(o)}: {show(o.units)}" for o in same)
        if mai in (2, 3):  # a date-of-service edit: the day's units of the code, as reference.over_units counts them
            billed = sum(o.units or 0 for o in same)
            how = (f"adjudication indicator {mai} (a date-of-service edit, {'policy' if mai == 2 else 'clinical'}): "
                   f"the units of {code} on {day}, added up over the claim's lines, are {show(billed)} ({lines})")
        else:
            billed = line.units
            how = f"adjudication indicator {mai} (a claim-line edit): the line has {_units_of(billed)}"
        over, by = billed > limit, billed - limit
        e.values.update({"limit": limit, "units_billed": billed, "adjudication": mai})
        e.reason = (f"requirement {'not met' if over else 'met'}: {how}, "
                    + (f"over the MUE of {show(limit)} by {show(by)}" if over else f"within the MUE of {show(limit)}"))
        if over and mai not in (2, 3):
            e.fix = f"Units over the limit by {show(by)}: bill at most {_units_of(limit)} of {code} on this line."
        elif over:
            e.fix = (f"The units of {code} summed on {day} are {show(billed)} ({lines}), {show(by)} over the "
                     f"limit of {show(limit)}. " + (
                         "Indicator 2 is an absolute limit based on policy: units above it are not paid; "
                         f"bill at most {_units_of(limit)} of {code} on that date." if mai == 2 else
                         "Indicator 3 is a limit based on clinical data: units above it may be paid on "
                         "appeal with documentation of medical necessity."))
    verdict = reference.over_units(checked, check, claim, line, history)
    if over != (verdict is not None):
        e.problem = (f"{e.rule_id} on line {line.line_number}: the explanation's count of units "
                     "differs from the reference interpreter's")
    if verdict is not None:
        e.outcome = "fired"
        e.values.update(verdict)


def _units_of(n) -> str:
    return f"{show(n)} unit{'' if n == 1 else 's'}"


def explain_history(checked, check, claim, line, history, e: Explanation):
    """Fill in ``e`` for a frequency or duplicate check on ``line``: what the history holds."""
    code, day, member = line.procedure, line.service_date, claim.member_id
    if isinstance(check, ast.RequireFrequency):
        prior = reference.frequency_prior(checked, check, claim, line, history) if code else ()
        start = window_start(day, check.amount, check.unit)
        span = "in the member's lifetime" if start is None else f"from {start} through {day}"
        seen = ", ".join(d.isoformat() for d in prior) or "none"
        counted = " or ".join(reference.counted_codes(checked, check, line))
        count = f"{len(prior)} earlier {counted} {span} ({seen}); this line makes {len(prior) + 1}"
        whose = f"member {member}" if member else "the claim (no member id: the history is not read)"
        if len(prior) + 1 > check.limit:
            e.reason = f"requirement not met for {whose}: {count}, over the limit of {check.limit} per {check.period}"
            e.fix = (f"{code} is limited to {check.limit} per {check.period}. If this claim corrects an "
                     "earlier one, send it under the same claim id with frequency code 7.")
        else:
            e.reason = f"requirement met for {whose}: {count}, within {check.limit} per {check.period}"
        verdict = reference.over_frequency(checked, check, claim, line, history)
    else:
        verdict = reference.duplicate(claim, line, history)
        if not (code and member and claim.billing_npi):
            e.reason = "requirement met: without a member id, billing NPI and procedure no claim can duplicate this line"
        elif verdict:
            others = ", ".join(verdict["duplicate_claims"])
            e.reason = (f"requirement not met: claim {others} already bills {code} on {day} for member "
                        f"{member} by NPI {claim.billing_npi}")
            e.fix = (f"If this is the same service as claim {others}, do not send it again; if it corrects "
                     "that claim, send it under the same claim id with frequency code 7; a repeat service "
                     "takes modifier 76 or 77.")
        else:
            e.reason = (f"requirement met: no other recorded claim bills {code} on {day} for member "
                        f"{member} by NPI {claim.billing_npi}")
    if verdict is not None:
        e.outcome = "fired"
        e.values.update(verdict)
