"""Lint, rule against rule: duplicates, contradictions and overlapping versions.

Only what the syntax tree decides exactly: two rules are compared by the *structure* of
their parts, positions ignored, value sets replaced by their codes, ``and``/``or`` parts
taken in any order. No reasoning about what conditions imply: ``patient.age < 18`` and
``patient.age <= 17`` are different here, and that is accepted.

* same lines (``when``, ``for each line where`` equal) and the same requirement, on dates
  where both apply: the later rule only repeats the earlier one's findings
  (``shadowed-rule``), or, when they act differently, one of the two actions is wrong
  (``contradictory-actions``);
* same category, same lines and the same *kind* of requirement (equal once value sets,
  numbers, texts and dates are left out: ``any line.diagnosis in vitd_2025`` and
  ``... in vitd_2026``) with effective windows that differ and overlap: versions of one
  rule that both check a claim in the overlap (``overlapping-versions``, an error).
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from itertools import combinations

from rulesengine.codes.kinds import normalize
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic
from rulesengine.language.fields import field_spec
from rulesengine.language.windows import dates_in_force

from .codes import ERROR, WARNING, Window, describe, intersect, rule_window


class _Shape:
    """Structural keys of conditions: exact (codes resolved) or skeletal (values left out)."""

    def __init__(self, valuesets: dict[str, ast.ValueSet], skeleton: bool):
        self.valuesets = valuesets
        self.skeleton = skeleton

    def of(self, node, kind: str = "text"):
        if node is None:
            return None
        if isinstance(node, ast.SetName):
            vs = self.valuesets.get(node.name)
            if self.skeleton or vs is None:
                return ("set",) if self.skeleton else ("set", node.name)
            return ("set", self._codes(vs.codes.items, vs.kind))
        if isinstance(node, (ast.CodeList, ast.Code, ast.CodeSpan)):
            items = node.items if isinstance(node, ast.CodeList) else (node,)
            return ("set",) if self.skeleton else ("set", self._codes(items, kind))
        if isinstance(node, ast.Membership):
            return ("in", self.of(node.expr), node.negated, self.of(node.set, _kind(node.expr)))
        if isinstance(node, ast.Quantified):
            return ("q", node.quantifier, node.field.path, self.of(node.set, _kind(node.field)))
        if isinstance(node, ast.Comparison):
            return ("cmp", self.of(node.left), node.op, self.of(node.right))
        if isinstance(node, ast.Presence):
            return ("present", self.of(node.expr), node.present)
        if isinstance(node, (ast.AllOf, ast.AnyOf)):
            return (type(node).__name__, frozenset(self.of(i) for i in node.items))
        if isinstance(node, ast.Not):
            return ("not", self.of(node.item))
        if isinstance(node, ast.Field):
            return ("field", node.path)
        if isinstance(node, (ast.Number, ast.Text, ast.DateValue)):
            value = node.text if isinstance(node, ast.DateValue) else node.value
            return (type(node).__name__,) if self.skeleton else (type(node).__name__, value)
        if isinstance(node, ast.DateShift):
            amount = () if self.skeleton else (node.amount, node.unit)
            return ("shift", self.of(node.operand), *amount)
        if isinstance(node, ast.Require):
            return ("require", self.of(node.condition))
        if isinstance(node, ast.RequireUnbundled):
            bypass = self.of(node.bypass, "modifier") if node.bypass else None
            return ("bundled",) if self.skeleton else ("bundled", node.table, bypass, node.across_claims)
        if isinstance(node, ast.RequireUnits):
            return ("units",) if self.skeleton else ("units", node.table, node.across_claims)
        if isinstance(node, ast.Validity):
            return ("valid", node.quantifier, node.field.path, node.valid)
        if isinstance(node, ast.RequireFrequency):
            return ("frequency",) if self.skeleton else ("frequency", node.limit, node.period)
        if isinstance(node, ast.RequireNoDuplicate):
            return ("duplicate",)
        if isinstance(node, ast.Lookup):
            return ("lookup", node.table, self.of(node.key), node.column)
        if isinstance(node, ast.LineQuantifier):
            return ("lines", node.quantifier, node.scope, self.of(node.condition))
        if isinstance(node, ast.Aggregate):
            return ("aggregate", node.function, node.scope, self.of(node.field), self.of(node.condition))
        if isinstance(node, ast.Arithmetic):
            return ("arithmetic", self.of(node.left), node.op, self.of(node.right))
        if isinstance(node, ast.DateWindow):
            window = () if self.skeleton else (node.low, node.high, node.unit, node.direction)
            return ("window", self.of(node.subject), *window, self.of(node.reference))
        raise TypeError(f"no shape for {type(node).__name__}")

    @staticmethod
    def _codes(items, kind: str) -> frozenset:
        def one(item):
            if isinstance(item, ast.CodeSpan):
                return ("range", normalize(kind, item.low.text), normalize(kind, item.high.text))
            text = item.value if isinstance(item, ast.Text) else item.text
            if kind == "text":
                return text
            code = normalize(kind, text)
            # ICD-10-CM matches by hierarchy: E55, E55.* and E55* cover the same codes
            return code.rstrip("*").rstrip(".").replace(".", "") if kind == "icd10" else code
        return frozenset(one(i) for i in items)


def _kind(expr) -> str:
    spec = field_spec(expr.path) if isinstance(expr, ast.Field) else None
    return spec.type if spec else "text"


def _contains(outer: Window, inner: Window) -> bool:
    return ((outer[0] is None or (inner[0] is not None and outer[0] <= inner[0]))
            and (outer[1] is None or (inner[1] is not None and inner[1] <= outer[1])))


def _where(rule: ast.Rule, seen_from: ast.Rule) -> str:
    """Where ``rule`` is, as read from ``seen_from``'s place."""
    if rule.pos.file == seen_from.pos.file:
        return f"line {rule.pos.line}"
    return f"{rule.pos.file}:{rule.pos.line}"


def _action(rule: ast.Rule) -> str:
    a = rule.action
    return " ".join([a.severity, a.scope, a.adjustment, *(r.text for r in a.rarcs)])


def compare_rules(rules: list[ast.Rule], valuesets: dict[str, ast.ValueSet]) -> list[tuple[str, Diagnostic]]:
    """Problems between pairs of rules that read the same lines; ``rules`` in pack order."""
    exact, skeleton = _Shape(valuesets, False), _Shape(valuesets, True)
    groups: dict[tuple, list[ast.Rule]] = {}
    for rule in rules:
        trigger = (rule.per_line, exact.of(rule.guard), exact.of(rule.where))
        groups.setdefault(trigger, []).extend(_stretches(rule))
    problems, told = [], set()
    for group in groups.values():
        for first, later in combinations(group, 2):
            found = _compare(first, later, exact, skeleton)
            # one problem of each kind per rule: a third copy need not be told twice
            if found and (found[1].pos, found[1].code) not in told:
                told.add((found[1].pos, found[1].code))
                problems.append(found)
    return problems


def _stretches(rule: ast.Rule) -> list[ast.Rule]:
    """A rule once per stretch of dates it applies on: a version that a windowed pack took
    over in the middle of its window applies before and after, and is compared as two rules
    (two versions of one id never overlap: merging gives each its own dates)."""
    if not rule.superseded:
        return [rule]

    def written(day: date | None, as_written: ast.DateValue | None):
        if day is None:
            return None
        if as_written is not None and as_written.text == day.isoformat():
            return as_written  # keeps its place in the file, where a problem is reported
        return ast.DateValue(day.isoformat(), rule.pos)
    return [dataclasses.replace(rule, effective_from=written(start, rule.effective_from),
                                effective_through=written(end, rule.effective_through), superseded=())
            for start, end in dates_in_force(rule)]


def _compare(first: ast.Rule, later: ast.Rule, exact: _Shape, skeleton: _Shape):
    w1, w2 = rule_window(first), rule_window(later)
    overlap = intersect(w1, w2)
    if overlap is None:
        return None  # versions one after the other: the way to change a rule from a date
    same_category = (first.category and later.category
                     and first.category.name == later.category.name)
    if (w1 != w2 and same_category and skeleton.of(first.check) == skeleton.of(later.check)):
        return _overlapping(first, later, overlap)
    if exact.of(first.check) != exact.of(later.check):
        return None
    a, b = first.action, later.action
    if (a.severity, a.adjustment) != (b.severity, b.adjustment):
        when = "" if w1 == w2 else f" on dates of service {describe(overlap)}"
        return (WARNING, Diagnostic(
            "contradictory-actions", later.pos,
            f"rules {first.id} ({_where(first, later)}) and {later.id} check the same lines for the "
            f"same requirement{when} but act differently: {first.id} says "
            f"'{_action(first)}', {later.id} '{_action(later)}'",
            "keep one of them: a line that fails the requirement gets both findings"))
    if _contains(w1, w2) or _contains(w2, w1):
        kept, extra = (first, later) if _contains(w1, w2) else (later, first)
        return (WARNING, Diagnostic(
            "shadowed-rule", extra.pos,
            f"rule {extra.id} repeats rule {kept.id} ({_where(kept, extra)}): the same lines, the same "
            f"requirement and action, and {kept.id} applies on every date {extra.id} does, so "
            f"{extra.id} only duplicates its findings",
            f"delete one of them, or change what {extra.id} checks"))
    return None


def _overlapping(first, later, overlap):
    # report at the rule that starts later: its start date is the usual slip (sorted is
    # stable, so on equal starts the later rule in the pack is the one reported)
    early, late = sorted((first, later), key=lambda r: rule_window(r)[0] or date.min)
    ew, lw = rule_window(early), rule_window(late)
    fixes = []  # only fixes that leave each rule some days of its own
    if lw[0] is not None and (ew[0] is None or ew[0] < lw[0]):
        fixes.append(f"end {early.id} on {lw[0] - timedelta(days=1)}")
    if ew[1] is not None and (lw[1] is None or ew[1] < lw[1]):
        fixes.append(f"start {late.id} on {ew[1] + timedelta(days=1)}")
    pos = late.effective_from.pos if late.effective_from else late.pos
    return (ERROR, Diagnostic(
        "overlapping-versions", pos,
        f"rules {early.id} ({describe(ew)}) and {late.id} ({describe(lw)}) are versions of one "
        f"check (category {late.category.name}, the same lines, the same kind of requirement) "
        f"and both apply {describe(overlap)}: a claim in the overlap is checked by both",
        (" or ".join(fixes) if fixes else "give them effective windows that do not overlap")))
