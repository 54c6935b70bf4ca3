"""``rulesengine explain``: why each rule did or did not fire on a claim, in plain English.

For every rule that could apply to the claim (its claim rules, and its line rules whose
procedure trigger matches a line; with ``--rule``, that one rule on every line), the
explanation says what the rule checks, what it saw, whether it fired and which part of
it decided, whether the date of service was outside its window, where it lives, and a
suggested fix where the kind of rule has one.

Decisions come from the reference interpreter's own functions (``reference.truth``,
``bundled``, ``over_units``...), so the explanation means what the rules mean; and every
explanation is held to ``pack.check``: a rule explained as fired must be a finding of the
compiled evaluator, and the reverse. A disagreement is a bug and is reported loudly.

The sentences come from ``say`` and ``facts``, the NCCI and MUE walk-throughs from
``tables``, and the text report from ``report``.
"""

from __future__ import annotations

from pathlib import Path

from rulesengine.claims.model import Claim, Line
from rulesengine.engine import reference
from rulesengine.engine.results import Result
from rulesengine.engine.runtime import fields_named
from rulesengine.language import ast
from rulesengine.language.fields import FIELDS
from rulesengine.packs.load import CompiledPack

from .explanation import ClaimExplanation, Explanation
from .facts import deciding, facts, missing_values
from .say import join, noun, say, say_expr, say_rule, say_set, say_window, show
from .tables import explain_bundling, explain_history, explain_units


def explain_claim(pack: CompiledPack, claim: Claim, rule_id: str | None = None,
                  history=None) -> ClaimExplanation:
    """Explain the rules of ``pack`` on ``claim`` (only ``rule_id``, on every line, if given);
    ``history`` is what frequency and duplicate rules read (required when the pack has any)."""
    rules = [r for r in pack._checked.rules if rule_id is None or r.id == rule_id]
    checked = pack._checked
    # a line rule whose claim condition ('when') fails is explained once, for the whole claim
    env = {"history": history}
    every = [_explain(pack, rule, claim, line, history) for rule in rules for line in (
        claim.lines if rule.per_line and (rule.guard is None
                                          or reference.truth(checked, rule.guard, claim, None, env))
        else (None,))]
    for e in every:
        e.listed = e.listed or rule_id is not None or e.fired
    result = _check(pack, claim, history)
    disagreements = _agreement(every, result, {r.id for r in rules})
    payers = [pack.id, *map(str, pack.meta.get("payer_ids") or [])]
    note = (None if claim.payer_id in payers else
            f"the claim's payer is '{claim.payer_id}'; pack {pack.id} is for payer {', '.join(payers)}")
    shown = sorted((e for e in every if e.listed), key=lambda e: e.line.line_number if e.line else 0)
    return ClaimExplanation(claim, result, shown, disagreements, note)


# ---- one rule on one claim or line ----------------------------------------------------------

def _check(pack: CompiledPack, claim: Claim, history):
    return pack.check(claim, history=history) if history is not None else pack.check(claim)


def _explain(pack: CompiledPack, rule: ast.Rule, claim: Claim, line: Line | None, history=None) -> Explanation:
    checked, facts_of = pack._checked, pack.facts(rule)
    env = {"history": history}
    day = line.service_date if line is not None else claim.first_service_date
    action = rule.action
    e = Explanation(
        rule.id, rule.title, facts_of.pack, facts_of.source_file, rule.pos.line,
        rule.citation.value if rule.citation else None, line, say_rule(rule, checked),
        " ".join([action.severity, action.scope, action.adjustment, *(r.text for r in action.rarcs)]),
        {"from": rule.effective_from.text if rule.effective_from else None,
         "through": rule.effective_through.text if rule.effective_through else None,
         "date_of_service": day.isoformat(), "inside": reference.in_window(rule, day)},
        "passed", "", {p: get(claim, line) for p, get in facts_of.getters
                       if line is not None or not FIELDS[p].needs_line},
        listed=_triggered(checked, rule, claim, line, env) and _speaks_for(pack, rule, claim, line))
    outside = _not_selected(checked, rule, claim, line, day, env)
    if outside:
        e.outcome, e.reason = "not-applicable", "does not apply: " + join(outside)
        return e
    check = rule.check
    if isinstance(check, ast.Require):
        _require(checked, rule, claim, line, e, env)
    elif isinstance(check, ast.RequireUnbundled):
        explain_bundling(checked, check, claim, line, e, history)
    elif isinstance(check, ast.HISTORY_CHECKS):
        explain_history(checked, check, claim, line, history, e)
    else:
        explain_units(checked, check, claim, line, e, history)
    return e


def _not_selected(checked, rule, claim, line, day, env) -> list[str]:
    """Why the rule does not look at this claim or line, in the reference's order."""
    why = []
    if not reference.in_window(rule, day) and (line is not None or not rule.per_line):
        what = "the line's date of service" if line is not None else "the claim's first date of service"
        start, end = rule.effective_from, rule.effective_through
        over = next((o for o in rule.superseded if reference.within(o.start, o.end, day)), None)
        if start and day.isoformat() < start.text:
            why.append(f"{what} {day.isoformat()} is before the rule takes effect on {start.text}")
        elif end and day.isoformat() > end.text:
            why.append(f"{what} {day.isoformat()} is after the rule's last day, {end.text}")
        else:
            instead = "disables the rule" if over.disabled else "has its own version of the rule"
            why.append(f"{what} {day.isoformat()} is in pack {over.pack}'s window "
                       f"({say_window(over.start, over.end)}), where pack {over.pack} {instead}")
    for cond, what, on in ((rule.guard, "claims", None), (rule.where, "lines", line)):
        if cond is None or (what == "lines" and line is None):
            continue
        if reference.truth(checked, cond, claim, on, env) is not True:
            seen = join([facts(checked, leaf, claim, on, env) for leaf in deciding(checked, cond, claim, on, env)])
            why.append(f"the rule is only for {what} where {say(cond, checked)}; here {seen}")
    return why


def _triggered(checked, rule, claim, line, env) -> bool:
    """Whether a rule is worth showing without --rule: a claim rule always; a line rule
    when the procedure part of its 'where' matches the line (its whole 'where' when none
    names the procedure) and, for a table check, the table has a row for the line's code."""
    if line is None:  # a claim rule; or a line rule whose 'when' fails, shown if a line triggers it
        return not rule.per_line or any(_triggered(checked, rule, claim, ln, env) for ln in claim.lines)
    if rule.where is not None:
        parts = rule.where.items if isinstance(rule.where, ast.AllOf) else (rule.where,)
        on_code = [p for p in parts if "line.procedure" in fields_named(p)] or [rule.where]
        if not all(reference.truth(checked, p, claim, line, env) is True for p in on_code):
            return False
    check = rule.check
    if isinstance(check, ast.RequireUnbundled):
        table = checked.tables[check.table]
        c1, c2 = table.index("column1"), table.index("column2")
        others = {o.procedure for o in claim.lines if o is not line}
        if check.across_claims:
            others |= {h.procedure for h in reference.same_provider_lines(claim, line.service_date, env["history"])}
        return any(r[c2] == line.procedure and r[c1] in others for r in table.rows)
    if isinstance(check, ast.RequireUnits):
        table = checked.tables[check.table]
        return any(r[table.index("code")] == line.procedure for r in table.rows)
    return True


def _speaks_for(pack: CompiledPack, rule: ast.Rule, claim: Claim, line: Line | None) -> bool:
    """Whether this version of a rule is the one to show for the dates explained. A rule that
    a windowed pack overrides has a version per layer: on a date, the version in force speaks;
    where none is, each version no later pack took over there says why it does not apply.
    The others are shown only when asked for with --rule."""
    versions = [r for r in pack.rules if r.id == rule.id]
    if len(versions) == 1:
        return True
    days = ([line.service_date] if line is not None else
            [ln.service_date for ln in claim.lines] if rule.per_line else [claim.first_service_date])

    def speaks(day):
        if reference.in_window(rule, day):
            return True
        if any(reference.in_window(v, day) for v in versions):
            return False
        return not any(reference.within(o.start, o.end, day) for o in rule.superseded)
    return any(speaks(day) for day in days)


# ---- plain requirements ---------------------------------------------------------------------------

def _require(checked, rule, claim, line, e: Explanation, env):
    cond = rule.check.condition
    value = reference.truth(checked, cond, claim, line, env)
    leaves = deciding(checked, cond, claim, line, env)
    seen = join([facts(checked, leaf, claim, line, env) for leaf in leaves])
    if value is None:
        e.outcome = "unknown"
        missing = missing_values(checked, cond, claim, line, env)
        # unknown without a missing value: a code whose validity no code set can answer
        e.reason = (f"cannot tell: {join([m + ' is missing' for m in missing]) or seen}, "
                    "so the requirement is unknown and the rule does not fire (a rule never fires on "
                    f"{'missing data' if missing else 'what cannot be known'})")
    elif value:
        e.reason = f"requirement met: {seen}"
    else:
        e.outcome, e.reason = "fired", f"requirement not met: {seen}"
        fixes = []
        places = [_AUTH_PLACES[leaf.expr.path].format(line=line.line_number if line else "")
                  for leaf in leaves if isinstance(leaf, ast.Presence) and leaf.present
                  and getattr(leaf.expr, "path", "") in _AUTH_PLACES]
        if places:
            fixes.append("Put the prior authorization number " + " or ".join(places) + ".")
        for leaf in leaves:
            for fix in _leaf_fix(checked, leaf, claim, line, env):
                if fix not in fixes:
                    fixes.append(fix)
        e.fix = " ".join(fixes) or None


#: where a prior authorization number goes, for the fields a rule accepts it in
_AUTH_PLACES = {
    "claim.prior_authorization": "on the claim (claim.prior_authorization; on an 837, loop 2300 REF*G1)",
    "line.prior_authorization": "on line {line} (line.prior_authorization)",
}


def _leaf_fix(checked, leaf, claim, line, env):
    """Suggestions for one failing part of a requirement, by what it tests."""
    if reference.truth(checked, leaf, claim, line, env) is not False:
        return
    paths = fields_named(leaf)
    if isinstance(leaf, ast.Presence) and leaf.present:
        path = leaf.expr.path if isinstance(leaf.expr, ast.Field) else ""
        if path and path not in _AUTH_PLACES:
            yield f"Fill in {noun(path)} ({path})."
    elif isinstance(leaf, ast.Comparison) and "claim.received_date" in paths:
        if (late := _days_late(checked, leaf, claim, line)):
            yield late
    elif isinstance(leaf, ast.Quantified) and leaf.field.path.endswith(".diagnosis"):
        if (text := _diagnosis_fix(checked, leaf, claim, line)):
            yield text
    elif any(p.startswith("patient.") for p in paths):
        sex = "patient.sex" in paths
        seen = ", ".join(f"{noun(p)} is {show(FIELDS[p].get(claim, line), FIELDS[p].type)}"
                         for p in paths if p.startswith("patient."))
        if not sex and line is not None:
            seen += f" on {line.service_date.isoformat()} (born {show(claim.birth_date)})"
        code = f"{line.procedure} is" if line is not None and line.procedure else "the procedure codes are"
        yield (f"The rule requires that {say(leaf, checked)}, and {seen}: check the patient's "
               f"{'recorded sex' if sex else 'birth date'}, and that {code} right for this patient.")


def _days_late(checked, leaf: ast.Comparison, claim, line) -> str | None:
    """'Filed 14 days late ...' for a filing limit: the received date must come first."""
    left, right = reference.value(checked, leaf.left, claim, line), reference.value(checked, leaf.right, claim, line)
    received_left = "claim.received_date" in fields_named(leaf.left)
    if leaf.op in ("=", "!=") or received_left != (leaf.op in ("<", "<=")) or left is None or right is None:
        return None
    late = abs((left - right).days) + (1 if leaf.op in ("<", ">") else 0)
    limit_side = leaf.right if received_left else leaf.left
    plain_received = isinstance(leaf.left if received_left else leaf.right, ast.Field)
    last = right if received_left else left
    if leaf.op in ("<", ">"):
        last = None  # the last day is the day before; say only how late
    deadline = (f" (received {claim.received_date.isoformat()}; the last day to file was "
                f"{last.isoformat()}, {say_expr(limit_side)})" if plain_received and last else "")
    return (f"Filed {late} day{'s' if late != 1 else ''} late{deadline}. Correcting the claim cannot "
            "make it timely; only an exception to the filing limit that the payer accepts can.")


def _diagnosis_fix(checked, leaf: ast.Quantified, claim, line) -> str | None:
    """For 'any ... diagnosis in SET': the diagnoses seen, none in the set, and any diagnosis
    of the claim in the set that the line does not point to."""
    if leaf.quantifier != "any":
        return None  # the reason names the diagnoses that break 'all' or 'no'
    values = reference.value(checked, leaf.field, claim, line)
    where = say_set(leaf.set, "icd10", checked, sized=False)
    owner = f"line {line.line_number}" if leaf.field.path == "line.diagnosis" and line else "the claim"
    text = (f"The diagnoses on {owner} are {show(values)}, and none of them is {where}: if the "
            f"medical record supports a diagnosis {where}, code it and point the line to it.")
    if owner != "the claim":
        unpointed = [f"{d} (diagnosis {n})" for n, d in enumerate(claim.diagnoses, 1)
                     if d not in values and reference.in_set(checked, leaf.set, "icd10", d)]
        if unpointed:
            text += (f" The claim has {', '.join(unpointed)}, {where}, but {owner} does not point "
                     "to it: add the pointer if it is the reason for the service.")
    return text


# ---- held to pack.check ------------------------------------------------------------------------

def _agreement(every: list[Explanation], result: Result, rule_ids: set[str]) -> list[str]:
    """Every rule explained as fired is a finding of pack.check, and every finding of the rules
    explained is explained as fired. Also fills in each fired explanation's finding message."""
    scopes = {}
    expected: list[tuple[str, int | None]] = []
    for e in every:
        if not e.fired:
            continue
        on_line = e.line is not None and e.action.split()[1] == "line"
        key = (e.rule_id, e.line.line_number if on_line else None)
        if key not in expected:
            expected.append(key)
            scopes[key] = e
        else:  # a line rule that denies the claim reports it once, from its first failing line
            e.reason += f"; the claim's one finding for this rule comes from line {scopes[key].line.line_number}"
    actual = [(f.rule_id, f.line_number) for f in result.findings if f.rule_id in rule_ids]
    problems = [e.problem for e in every if e.problem]
    where = (lambda key: f"line {key[1]}" if key[1] is not None else "the claim")
    for key in actual:
        if key not in expected:
            problems.append(f"pack.check reports {key[0]} on {where(key)}, but this explanation says it did not fire")
    for key in expected:
        if key not in actual:
            problems.append(f"this explanation says {key[0]} fired on {where(key)}, but pack.check has no such finding")
    for f in result.findings:
        if (f.rule_id, f.line_number) in scopes:
            scopes[(f.rule_id, f.line_number)].finding = f.message
    return problems


# ---- the command ---------------------------------------------------------------------------------

def disabled_rule(pack_dir: str, rule_id: str | None):
    """The layer that disables ``rule_id`` (where, and why), or None; with no id, every
    disabled rule id. The compiled pack keeps no trace of a disabled rule, so read the layers."""
    from rulesengine.engine.runtime import shown_path
    from rulesengine.packs.layers import read_layers
    layers, _ = read_layers(Path(pack_dir), {})
    offs = [(layer, off) for layer in layers for f in layer.files for off in f.disables]
    if rule_id is None:
        return [off.rule_id for _, off in offs]
    for layer, off in offs:
        if off.rule_id == rule_id:
            return layer.id, shown_path(Path(off.pos.file), layer.dir), off.pos.line, off.reason.value
    return None


def explain_disabled(pack, claim, rule_id, disabled, history=None) -> ClaimExplanation:
    layer, file, line, reason = disabled
    e = Explanation(rule_id, "", layer, file, line, None, None, "", "", {}, "disabled",
                    f"does not apply: pack {layer} disables rule {rule_id} because \"{reason}\"")
    return ClaimExplanation(claim, _check(pack, claim, history), [e], [])
