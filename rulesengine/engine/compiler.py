"""Compiles checked rules into closures, indexed by procedure code.

Everything that does not depend on the claim is done here, once: value sets become
``CodeSet``s, dates become ``date``s, a date literal moved by N days is folded, tables
become dicts keyed by code, and each line rule names the procedure codes it can apply
to, so a claim line meets only the rules written for its code. The per-claim path walks
no tree and parses nothing. ``reference`` gives the meaning this must match.
"""

from __future__ import annotations

import copy
from datetime import date
from operator import attrgetter

from rulesengine.claims.model import Claim, Line
from rulesengine.codes.kinds import CodeSet
from rulesengine.language import ast
from rulesengine.language.windows import dates_in_force

from .boundary import RuleFailed
from .checked import CheckedPack
from .checks import FrequencyLimit, PairIndex, UnitIndex, duplicate
from .conditions import MEMO_LIMIT, SetBuilder, compile_test
from .context import ClaimContext
from .history import HistoryRequired
from .results import Finding
from .runtime import RuleFacts, fields_named, sort_findings, version_key

#: claim fields with few distinct values. A guard that reads only these is decided once per
#: combination of their values (a few hundred in a day's claims), not once per claim and rule.
_KEY_FIELDS = {"claim.type": "claim_type", "claim.plan": "plan", "claim.payer": "payer_id",
               "claim.frequency_code": "frequency_code", "patient.sex": "sex"}
_claim_key = attrgetter(*_KEY_FIELDS.values())
_KEY_LIMIT = 10_000


class Evaluator:
    """The compiled rules of one pack. Safe to share between threads: checking a claim
    writes only to per-call lists and to memo dicts whose entries never change."""

    def __init__(self, checked: CheckedPack, facts: dict[tuple, RuleFacts]):
        self._sets = SetBuilder(checked)
        self.order = {rule.id: i for i, rule in enumerate(checked.rules)}
        self.claim_rules = []
        self.line_rules = []
        for rule in checked.rules:
            if rule.per_line:
                compiled = _LineRule(rule, facts[version_key(rule)], checked, self._sets)
                self.line_rules.extend(_by_stretch(compiled, rule))
            else:
                compiled = _ClaimRule(rule, facts[version_key(rule)], self._sets)
                self.claim_rules.extend(_by_stretch(compiled, rule))
        reading = [r for r in checked.rules if ast.reads_history(r)]
        #: the rules that read the claim history, which checking must then be given
        self.history_rules = tuple(dict.fromkeys(r.id for r in reading))
        self._history_pack = facts[version_key(reading[0])].pack if reading else None
        #: procedure -> (its rules for every line, those only for lines with one of their modifiers)
        self._by_code: dict[str | None, tuple[tuple, tuple]] = {}
        self._by_key: dict[tuple, tuple] = {}
        self._index_line_rules()

    def _index_line_rules(self):
        """Each line rule filed under its first trigger's codes, so finding the rules for a
        procedure code looks at a few candidates, not at every rule of the pack."""
        self._position = {rule: i for i, rule in enumerate(self.line_rules)}
        self._exact: dict[str, list] = {}
        self._ranges: list = []    # (low, high, rule)
        self._prefixes: list = []  # (prefix, rule)
        self._always: list = []    # rules with no trigger: every line meets them
        for rule in self.line_rules:
            if not rule.triggers:
                self._always.append(rule)
                continue
            first = rule.triggers[0]
            if isinstance(first, CodeSet):
                exact, prefixes, ranges = first.exact, first.prefixes, first.ranges
            else:
                exact, prefixes, ranges = first, (), ()
            for code in exact:
                self._exact.setdefault(code, []).append(rule)
            self._ranges.extend((r.low, r.high, rule) for r in ranges)
            self._prefixes.extend((p, rule) for p in prefixes)

    def rules_for(self, procedure: str | None) -> tuple[tuple, tuple]:
        """The line rules a line of this code meets: those for every such line, and those
        only for a line with one of their modifiers (``any line.modifier in {50}``)."""
        rules = self._by_code.get(procedure)
        if rules is None:
            if procedure is None:
                candidates = set(self._always)
            else:
                candidates = {*self._always, *self._exact.get(procedure, ()),
                              *(r for low, high, r in self._ranges
                                if len(low) == len(procedure) and low <= procedure <= high),
                              *(r for p, r in self._prefixes if procedure.startswith(p))}
            ordered = sorted((r for r in candidates if r.applies_to(procedure)),
                             key=self._position.__getitem__)
            rules = (tuple(r for r in ordered if r.modifiers is None),
                     tuple(r for r in ordered if r.modifiers is not None))
            if len(self._by_code) < MEMO_LIMIT:
                self._by_code[procedure] = rules
        return rules

    def _decide(self, claim: Claim, key: tuple) -> tuple:
        """For this combination of key fields: the claim rules whose keyed guard holds, and
        the line rules whose keyed guard does not (they are skipped)."""
        x = ClaimContext(claim)
        claim_rules = tuple(r for r in self.claim_rules
                            if r.keyed is None or r.keyed(claim, None, x) is True)
        blocked = frozenset(r for r in self.line_rules
                            if r.keyed is not None and r.keyed(claim, None, x) is not True)
        entry = (claim_rules, blocked)
        if len(self._by_key) < _KEY_LIMIT:
            self._by_key[key] = entry
        return entry

    def findings(self, claim: Claim, history=None) -> tuple[Finding, ...]:
        """The claim's findings, in report order. A rule that raises (a bug) raises
        RuleFailed naming it, with the original exception as the cause."""
        if history is None and self.history_rules:
            raise HistoryRequired(self._history_pack, self.history_rules)
        try:
            return self._findings(claim, history)
        except Exception as error:
            raise RuleFailed(self._failing_rule(claim, history)) from error

    def _failing_rule(self, claim: Claim, history) -> str | None:
        """The first rule that raises on this claim, each rule the fast path would run tried
        alone (only after a failure, so the fast path pays nothing to know which it was)."""
        x = ClaimContext(claim, history)
        try:
            claim_rules, blocked = self._decide(claim, _claim_key(claim))
        except Exception:
            return None  # a claim-key guard: no one rule to name
        tries = [(r, lambda r=r: r.run(claim, [], x)) for r in claim_rules]
        for line in claim.lines:
            rules, by_modifier = self.rules_for(line.procedure)
            rules += tuple(r for r in by_modifier if not r.modifiers.isdisjoint(line.modifiers))
            tries += [(r, lambda r=r, line=line: r.violation(claim, line, x))
                      for r in rules if r not in blocked]
        for rule, attempt in tries:
            try:
                attempt()
            except Exception:
                return rule.facts.rule.id
        return None

    def _findings(self, claim: Claim, history) -> tuple[Finding, ...]:
        found: list[Finding] = []
        key = _claim_key(claim)
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._decide(claim, key)
        claim_rules, blocked = entry
        x = ClaimContext(claim, history)
        for rule in claim_rules:
            rule.run(claim, found, x)
        claim_level_done = None
        by_code = self._by_code
        for line in claim.lines:
            entry = by_code.get(line.procedure)
            if entry is None:
                entry = self.rules_for(line.procedure)
            rules, by_modifier = entry
            if by_modifier and line.modifiers:
                rules = rules + tuple(r for r in by_modifier if not r.modifiers.isdisjoint(line.modifiers))
            for rule in rules:
                if blocked and rule in blocked:
                    continue
                extras = rule.violation(claim, line, x)
                if extras is None:
                    continue
                if rule.claim_scope:
                    # one finding for the claim, from the first line that breaks the rule
                    claim_level_done = claim_level_done or set()
                    if rule.facts.rule.id in claim_level_done:
                        continue
                    claim_level_done.add(rule.facts.rule.id)
                found.append(rule.facts.finding(claim, line, extras))
        if len(found) > 1:
            return sort_findings(found, self.order)
        return tuple(found)


def _split_guard(guard, sets) -> tuple:
    """A guard as (the part decided by the claim key, the rest), each a test or None."""
    if guard is None:
        return None, None
    parts = list(guard.items) if isinstance(guard, ast.AllOf) else [guard]
    keyed = [p for p in parts
             if not ast.relational(p) and all(f in _KEY_FIELDS for f in fields_named(p))]
    rest = [p for p in parts if p not in keyed]

    def join(items):
        if not items:
            return None
        return compile_test(items[0] if len(items) == 1 else ast.AllOf(tuple(items), guard.pos), sets)
    return join(keyed), join(rest)


def _window(rule: ast.Rule) -> tuple[date | None, date | None]:
    start = date.fromisoformat(rule.effective_from.text) if rule.effective_from else None
    end = date.fromisoformat(rule.effective_through.text) if rule.effective_through else None
    return start, end


def _by_stretch(compiled, rule: ast.Rule) -> list:
    """A rule version as compiled, once per stretch of dates it applies on. A later pack's
    window that takes the rule over may split it in two (before and after); each copy keeps
    the single first/last-day test, so the per-line path is the same with layers or without."""
    if not rule.superseded:
        return [compiled]
    copies = []
    for start, end in dates_in_force(rule):
        piece = copy.copy(compiled)  # shares the tests and indexes; only the dates differ
        piece.start, piece.end = start, end
        copies.append(piece)
    return copies


class _FoundLine:
    """For a rule that requires 'no other|earlier line where C' and whose message names the
    line found: that line's fields, worked out only when the rule fires (C is tested again
    over the scope's lines, in their order, until one meets it)."""

    __slots__ = ("facts", "scope", "test")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, sets: SetBuilder):
        self.facts = facts
        self.scope = rule.check.condition.scope
        self.test = compile_test(rule.check.condition.condition, sets)

    def values(self, claim: Claim, line, x: ClaimContext) -> dict:
        scope, test = self.scope, self.test
        try:
            for met in x.lines(scope):
                if met is line:
                    continue
                setattr(x, scope, met)
                if test(claim, line, x) is True:
                    return self.facts.found_line(claim, met)
        finally:
            setattr(x, scope, None)
        return {}


def _found_line(rule: ast.Rule, facts: RuleFacts, sets: SetBuilder):
    return _FoundLine(rule, facts, sets) if facts.found_fields else None


class _ClaimRule:
    __slots__ = ("facts", "start", "end", "keyed", "guard", "require", "found")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, sets: SetBuilder):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.keyed, self.guard = _split_guard(rule.guard, sets)
        self.require = compile_test(rule.check.condition, sets)
        self.found = _found_line(rule, facts, sets)

    def run(self, claim: Claim, found: list, x: ClaimContext) -> None:
        day = claim.first_service_date
        if (self.start and day < self.start) or (self.end and day > self.end):
            return
        if self.guard is not None and self.guard(claim, None, x) is not True:
            return
        if self.require(claim, None, x) is False:
            extras = self.found.values(claim, None, x) if self.found else None
            found.append(self.facts.finding(claim, None, extras))


class _LineRule:
    __slots__ = ("facts", "start", "end", "keyed", "guard", "where", "triggers", "modifiers", "check",
                 "test", "claim_scope", "found")

    def __init__(self, rule: ast.Rule, facts: RuleFacts, checked: CheckedPack, sets: SetBuilder):
        self.facts = facts
        self.start, self.end = _window(rule)
        self.claim_scope = rule.action.scope == "claim"
        self.keyed, self.guard = _split_guard(rule.guard, sets)
        triggers, rest = _split_trigger(rule.where, sets)
        self.where = compile_test(rest, sets) if rest is not None else None
        self.modifiers = _modifier_trigger(rest, sets)
        check = rule.check
        self.test = self.check = None
        self.found = _found_line(rule, facts, sets)
        if isinstance(check, ast.Require):
            self.test = compile_test(check.condition, sets)
        elif isinstance(check, ast.RequireFrequency):
            self.check = FrequencyLimit(check, sets).violation
        elif isinstance(check, ast.RequireNoDuplicate):
            self.check = duplicate
        elif isinstance(check, ast.RequireUnbundled):
            pairs = PairIndex(checked.tables[check.table], check)
            triggers.append(pairs.column2_codes)
            self.check = pairs.violation
        else:
            limits = UnitIndex(checked.tables[check.table], check)
            triggers.append(limits.codes)
            self.check = limits.violation
        self.triggers = tuple(triggers)

    def applies_to(self, procedure: str | None) -> bool:
        return all(procedure in t for t in self.triggers)

    def violation(self, claim: Claim, line: Line, x: ClaimContext) -> dict | None:
        day = line.service_date
        if (self.start and day < self.start) or (self.end and day > self.end):
            return None
        if self.guard is not None and self.guard(claim, None, x) is not True:
            return None
        if self.where is not None and self.where(claim, line, x) is not True:
            return None
        if self.test is not None:  # a plain requirement, tested here: one call less per line
            if self.test(claim, line, x) is not False:
                return None
            return self.found.values(claim, line, x) if self.found else _NO_EXTRAS
        return self.check(claim, line, x)


_NO_EXTRAS: dict = {}


def _modifier_trigger(where, sets) -> frozenset | None:
    """The modifiers of an ``any line.modifier in SET`` at the top of a where clause (joined
    by ``and``): a line without one of them cannot meet the rule, so it is not asked."""
    parts = list(where.items) if isinstance(where, ast.AllOf) else [where]
    for part in parts:
        if (isinstance(part, ast.Quantified) and part.quantifier == "any"
                and part.field.path == "line.modifier"):
            exact = sets.build(part.set, "modifier").exact_codes()
            if exact is not None:
                return exact
    return None


def _split_trigger(where, sets) -> tuple[list, object]:
    """Lift ``line.procedure in SET`` out of a where clause: it becomes an index key. A
    column of a table (``line.procedure in addon_codes.addon``) is a key too, by every code
    the column ever holds; the test stays in the clause for the rows' dates."""
    if where is None:
        return [], None
    parts = list(where.items) if isinstance(where, ast.AllOf) else [where]
    for i, part in enumerate(parts):
        if (isinstance(part, ast.Membership) and not part.negated
                and isinstance(part.expr, ast.Field) and part.expr.path == "line.procedure"):
            if isinstance(part.set, ast.Lookup):
                if part.set.key is not None:
                    continue
                table = sets.checked.tables[part.set.table]
                column = table.index(part.set.column)
                return [frozenset(r[column] for r in table.rows)], where
            rest = parts[:i] + parts[i + 1:]
            if not rest:
                return [sets.build(part.set, "hcpcs")], None
            remaining = rest[0] if len(rest) == 1 else ast.AllOf(tuple(rest), where.pos)
            return [sets.build(part.set, "hcpcs")], remaining
    return [], where
