"""``rulesengine diff OLD_PACK NEW_PACK CLAIMS...``: what publishing a pack change would do.

Before a quarterly update goes out (a new NCCI file, a lowered MUE, a retired LCD, a
contract's new filing limit) a compliance lead checks a corpus of claims with both
versions and reads the difference: claims whose outcome changes, findings that appear,
disappear or change (counted by rule, with a few examples each), and the rules, value
sets and tables that differ between the packs. Every claim is checked by both packs,
whatever its payer: the question is what this pack would do in place of that one.

Claims stream through; only counts and at most ``--show`` examples per rule (and per
outcome change) are kept, so a quarter's millions of claims take flat memory.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from rulesengine.claims import ClaimError, read_claims
from rulesengine.claims.build import FILE_ERROR
from rulesengine.codes.icd10cm import builtin_edition
from rulesengine.engine.boundary import checked_or_error
from rulesengine.engine.results import Finding, Result
from rulesengine.language import ast
from rulesengine.language.fields import FIELDS
from rulesengine.packs.load import CompiledPack

# ---- the packs: rules, value sets and tables ---------------------------------------------

#: the parts of a rule a reviewer reads, by the fields that make each up
_RULE_PARTS = (
    ("title", ("title",)), ("category", ("category",)), ("citation", ("citation",)),
    ("effective", ("effective_from", "effective_through", "superseded")), ("when", ("guard",)),
    ("for each line", ("per_line", "where")), ("require", ("check",)),
    ("action", ("action.severity", "action.scope", "action.adjustment", "action.rarcs")),
    ("message", ("action.message",)),
)


def _plain(node):
    """A node with every position dropped, so two trees compare by what they say. The order
    of a rule's clauses (``headers``) and ``override`` change nothing a claim meets."""
    if isinstance(node, ast.Pos):
        return None
    if isinstance(node, (tuple, list)):
        return tuple(_plain(item) for item in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *((f.name, _plain(getattr(node, f.name)))
                                       for f in dataclasses.fields(node)
                                       if f.name not in ("headers", "override")))
    return node


def _part(rule: ast.Rule, name: str):
    value = rule
    for attr in name.split("."):
        value = getattr(value, attr)
    return _plain(value)


def _changed_parts(old: ast.Rule, new: ast.Rule) -> list[str]:
    return [label for label, names in _RULE_PARTS
            if any(_part(old, n) != _part(new, n) for n in names)]


def _category(rule: ast.Rule) -> str:
    return rule.category.name if rule.category else ""


def compare_rules(old: CompiledPack, new: CompiledPack) -> dict:
    """Rules added, removed (deleted, or disabled in a layer) and changed, between the merged
    rule lists of two packs. A rule is compared by id, whatever the layers (see _changes)."""
    before, after = _versions(old), _versions(new)
    added = [{"rule_id": rule_id, "category": _category(now[-1]), "pack": new.facts(now[-1]).pack}
             for rule_id, now in after.items() if rule_id not in before]
    removed = [{"rule_id": rule_id, "category": _category(was[-1]), "pack": old.facts(was[-1]).pack}
               for rule_id, was in before.items() if rule_id not in after]
    changed = []
    for rule_id, now in after.items():
        parts = _changes(old, before[rule_id], new, now) if rule_id in before else []
        if parts:
            changed.append({"rule_id": rule_id, "category": _category(now[-1]),
                            "pack": new.facts(now[-1]).pack, "parts": parts})
    return {"added": added, "removed": removed, "changed": changed}


def _versions(pack: CompiledPack) -> dict[str, list[ast.Rule]]:
    """Rule id -> its versions, base first: one, unless a windowed pack overrides it."""
    found: dict[str, list[ast.Rule]] = {}
    for rule in pack.rules:
        found.setdefault(rule.id, []).append(rule)
    return found


def _changes(old: CompiledPack, was: list[ast.Rule], new: CompiledPack, now: list[ast.Rule]) -> list[str]:
    """The parts that differ between a rule's versions in two packs. Each new version is
    compared with the old version of its layer, else with the old most-derived version; a
    version that comes or goes changes the others' dates (``effective``)."""
    old_of_layer = {old.facts(v).pack: v for v in was}
    differ = {part for v in now
              for part in _changed_parts(old_of_layer.get(new.facts(v).pack, was[-1]), v)}
    return [label for label, _ in _RULE_PARTS if label in differ]


def _entry(item) -> str:
    if isinstance(item, ast.CodeSpan):
        return f"{item.low.text}..{item.high.text}"
    if isinstance(item, ast.Text):
        return json.dumps(item.value)
    return item.text


def _contents(pack: CompiledPack) -> dict[str, tuple]:
    """Every value set and table (they share one set of names): kind, shape, entries."""
    found = {name: ("valueset", vs.kind, tuple(sorted(_entry(i) for i in vs.codes.items)))
             for name, vs in pack._checked.valuesets.items()}
    found.update({name: ("table", (t.columns, t.date_from, t.date_through), t.rows)
                  for name, t in pack._checked.tables.items()})
    # the pack's own ICD-10-CM code sets (the built-in one is the same on both sides)
    found.update({f"icd10cm-{start}": ("codeset", "icd10cm", tuple(
                      code if billable else f"{code} header" for code, billable in e.codes.items()))
                  for start, _, e in pack._checked.icd10.spans if e is not builtin_edition()})
    return found


def _reads_icd10_code_sets(rule: ast.Rule) -> bool:
    return any(isinstance(node, ast.Validity) and FIELDS[node.field.path].type == "icd10"
               for node in ast.walk(rule))


def compare_data(old: CompiledPack, new: CompiledPack) -> list[dict]:
    """Value sets and tables added, removed and changed (codes or rows added and removed),
    each with the rules of either pack that read it. A table row whose deletion date
    changed is one row removed and one added: rows have no key of their own."""
    readers: dict[str, set[str]] = defaultdict(set)
    for pack in (old, new):
        for rule in pack.rules:
            for name in ast.names_read(rule):
                readers[name].add(rule.id)
            if _reads_icd10_code_sets(rule):
                readers["codeset"].add(rule.id)
    before, after = _contents(old), _contents(new)
    found = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        kind = (now or was)[0]
        read_by = sorted(readers.get("codeset" if kind == "codeset" else name, ()))
        if was is not None and now is not None and was[0] == now[0]:
            unit = "row" if now[0] == "table" else "code"
            was_items, now_items = Counter(was[2]), Counter(now[2])
            added = sum((now_items - was_items).values())
            removed = sum((was_items - now_items).values())
            if added or removed or was[1] != now[1]:  # rows in another order change nothing
                found.append({"kind": now[0], "name": name, "change": "changed", "read_by": read_by,
                              "shape_changed": was[1] != now[1],
                              f"{unit}s_added": added, f"{unit}s_removed": removed})
            continue
        for side, change in ((was, "removed"), (now, "added")):
            if side is not None:
                found.append({"kind": side[0], "name": name, "change": change, "read_by": read_by})
    return found


# ---- the claims: what changes, counted --------------------------------------------------

def _codes(f: Finding) -> str:
    return " ".join([f"{f.group_code}-{f.carc}", *f.rarc])


def _signature(f: Finding) -> tuple:
    """What a finding says to a biller: where, which rule, how severe, which codes, why."""
    return (f.rule_id, f.line_number, f.severity, f.group_code, f.carc, f.rarc, f.message)


def _side(f: Finding | None) -> dict | None:
    if f is None:
        return None
    return {"severity": f.severity, "codes": _codes(f), "message": f.message}


@dataclass
class RuleImpact:
    category: str
    appeared: int = 0
    disappeared: int = 0
    changed: int = 0
    examples: list[dict] = field(default_factory=list)


class Impact:
    """Counts of what a pack change does to the claims fed to ``add``; at most ``show``
    examples per rule and per outcome change are kept."""

    def __init__(self, show: int):
        self.show = show
        self.claims = 0
        self.unreadable = 0  # claims not compared, for any reason (by reason: not_checked)
        self.not_checked: Counter = Counter()
        self.unreadable_examples: list[str] = []
        self.outcomes: Counter = Counter()
        self.outcome_examples: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.rules: dict[str, RuleImpact] = {}

    def error(self, error: ClaimError) -> None:
        self.not_checked[error.kind] += 1  # a file error too: the run is not a clean one
        if error.kind == FILE_ERROR:  # about the file: its claims are compared
            return
        self.unreadable += 1
        if len(self.unreadable_examples) < self.show:
            self.unreadable_examples.append(str(error))

    def add(self, old: Result, new: Result) -> None:
        self.claims += 1
        if old.status != new.status:
            move = (old.status, new.status)
            self.outcomes[move] += 1
            if len(self.outcome_examples[move]) < self.show:
                self.outcome_examples[move].append(new.claim_id)
        before = [_signature(f) for f in old.findings]
        after = [_signature(f) for f in new.findings]
        if before == after:  # the common case: the change does not touch this claim
            return
        same = Counter(before) & Counter(after)
        gone = _unmatched(old.findings, before, same)
        came = _unmatched(new.findings, after, same)
        # a finding of the same rule on the same line that says something else has changed;
        # pairing in order keeps the result the same however often a rule fires there
        for key in list(gone):
            while gone[key] and came.get(key):
                self._note(new.claim_id, "changed", gone[key].pop(0), came[key].pop(0))
        for key, findings in gone.items():
            for f in findings:
                self._note(old.claim_id, "disappeared", f, None)
        for key, findings in came.items():
            for f in findings:
                self._note(new.claim_id, "appeared", None, f)

    def _note(self, claim_id: str, change: str, old: Finding | None, new: Finding | None):
        either = new or old
        impact = self.rules.get(either.rule_id)
        if impact is None:
            impact = self.rules[either.rule_id] = RuleImpact(either.category)
        setattr(impact, change, getattr(impact, change) + 1)
        if len(impact.examples) < self.show:
            impact.examples.append({"claim_id": claim_id, "line": either.line_number,
                                    "change": change, "old": _side(old), "new": _side(new)})

    @property
    def appeared(self) -> int:
        return sum(r.appeared for r in self.rules.values())

    @property
    def disappeared(self) -> int:
        return sum(r.disappeared for r in self.rules.values())

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.rules.values())

    @property
    def changed_outcome(self) -> int:
        return sum(self.outcomes.values())

    def any_change(self) -> bool:
        return bool(self.changed_outcome or self.rules)


def _unmatched(findings, signatures, same: Counter) -> dict[tuple, list[Finding]]:
    """The findings not said word for word by the other pack, by (rule, line)."""
    left = Counter(same)
    out: dict[tuple, list[Finding]] = defaultdict(list)
    for f, sig in zip(findings, signatures):
        if left[sig]:
            left[sig] -= 1
        else:
            out[(f.rule_id, f.line_number)].append(f)
    return out


def run_diff(old: CompiledPack, new: CompiledPack, claim_paths, show: int,
             on_error=lambda error: None, history=None) -> Impact:
    """Check every claim of ``claim_paths`` with both packs; ``on_error`` hears of each
    claim that cannot be read (it is counted, and the rest go on). ``history`` is given to
    the packs with frequency or duplicate rules."""
    impact = Impact(show)
    for path in claim_paths:
        for position, item in enumerate(read_claims(path), 1):
            if not isinstance(item, ClaimError):
                item = checked_or_error(lambda c: (old.check(c, history=history),
                                                   new.check(c, history=history)),
                                        item, path, position)
            if isinstance(item, ClaimError):
                impact.error(item)
                on_error(item)
                continue
            impact.add(*item)
    return impact


# ---- the report ----------------------------------------------------------------------------

def _pack(pack: CompiledPack) -> dict:
    return {**pack.info.to_dict(), "layers": list(pack.layers)}


def _by_rule(impact: Impact) -> list[tuple[str, RuleImpact]]:
    """The rules most affected first."""
    return sorted(impact.rules.items(),
                  key=lambda kv: (-(kv[1].appeared + kv[1].disappeared + kv[1].changed), kv[0]))


def summary_line(impact: Impact) -> str:
    text = (f"{_count(impact.claims, 'claim')}: "
            f"{impact.changed_outcome} changed outcome, {impact.appeared} findings appeared, "
            f"{impact.disappeared} disappeared, {impact.changed} changed")
    if impact.unreadable:
        text += f"; {impact.unreadable} unreadable"
    return text


def to_dict(old: CompiledPack, new: CompiledPack, impact: Impact) -> dict:
    return {
        "old_pack": _pack(old), "new_pack": _pack(new),
        "rules": compare_rules(old, new),
        "data": compare_data(old, new),
        "outcomes": [{"from": a, "to": b, "claims": n, "examples": impact.outcome_examples[(a, b)]}
                     for (a, b), n in sorted(impact.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))],
        "findings_by_rule": [{"rule_id": rule_id, "category": r.category, "appeared": r.appeared,
                              "disappeared": r.disappeared, "changed": r.changed,
                              "examples": r.examples} for rule_id, r in _by_rule(impact)],
        "unreadable_examples": impact.unreadable_examples,
        "summary": {"claims": impact.claims, "changed_outcome": impact.changed_outcome,
                    "appeared": impact.appeared, "disappeared": impact.disappeared,
                    "changed": impact.changed, "unreadable": impact.unreadable,
                    "not_checked": dict(impact.not_checked)},
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


_MARK = {"appeared": "+", "disappeared": "-", "changed": "~", "added": "+", "removed": "-"}


def render_text(report: dict, line: str) -> str:
    out = []
    for label, key in (("old", "old_pack"), ("new", "new_pack")):
        p = report[key]
        layers = f"  (layers: {', '.join(p['layers'])})" if len(p["layers"]) > 1 else ""
        out.append(f"{label}  {p['id']} {p['version']}  {p['hash']}{layers}")

    rules, lines = report["rules"], []
    named = [r["rule_id"] for rs in rules.values() for r in rs]
    width = max(map(len, named), default=0)
    for change in ("added", "removed", "changed"):
        for r in rules[change]:
            detail = (f"changed: {', '.join(r['parts'])}" if change == "changed"
                      else f"{change} (defined in {r['pack']})")
            lines.append(f"  {_MARK.get(change, '~')} rule {r['rule_id']:<{width}}  "
                         f"{r['category']:<18} {detail}")
    for d in report["data"]:
        if d["change"] == "changed":
            unit = "row" if d["kind"] == "table" else "code"
            detail = (f"+{_count(d[unit + 's_added'], unit)}, -{_count(d[unit + 's_removed'], unit)}"
                      + ("; columns or row dates changed" if d["shape_changed"] else ""))
        else:
            detail = d["change"]
        readers = f" (read by {', '.join(d['read_by'])})" if d["read_by"] else ""
        lines.append(f"  {_MARK.get(d['change'], '~')} {d['kind']} {d['name']}: {detail}{readers}")
    out.append("")
    out.extend(["Rules and data", *lines] if lines
               else ["Rules and data: no rule, value set or table added, removed or changed"])

    out.append("")
    if report["outcomes"]:
        out.append("Outcomes")
        for o in report["outcomes"]:
            more = ", ..." if o["claims"] > len(o["examples"]) else ""
            shown = f"  {', '.join(o['examples'])}{more}" if o["examples"] else ""
            out.append(f"  {o['from']:>6} -> {o['to']:<7} {o['claims']:>7}{shown}")
    else:
        out.append("Outcomes: no claim changed outcome")

    by_rule = report["findings_by_rule"]
    out.append("")
    if not by_rule:
        out.append("Findings: none appeared, disappeared or changed")
    else:
        width = max(14, *(len(r["rule_id"]) for r in by_rule))
        out.append(f"Findings by rule{'':<{width - 14}}  {'category':<18} {'appeared':>9} "
                   f"{'disappeared':>12} {'changed':>8}")
        for r in by_rule:
            out.append(f"  {r['rule_id']:<{width}}  {r['category']:<18} {'+' + str(r['appeared']):>9} "
                       f"{'-' + str(r['disappeared']):>12} {'~' + str(r['changed']):>8}")
        for r in by_rule:
            if not r["examples"]:
                continue
            total = r["appeared"] + r["disappeared"] + r["changed"]
            out.append("")
            out.append(f"{r['rule_id']}: {len(r['examples'])} of {total}")
            for e in r["examples"]:
                where = f"line {e['line']}" if e["line"] is not None else "claim"
                out.append(f"  {_MARK[e['change']]} {e['claim_id']}  {where}")
                for label in ("old", "new"):
                    side = e[label]
                    if side is not None:
                        out.append(f"      {label}: {side['severity']} {side['codes']}  {side['message']}")
    if report["unreadable_examples"]:
        out.append("")
        out.extend(f"UNREADABLE  {text}" for text in report["unreadable_examples"])
        hidden = report["summary"]["unreadable"] - len(report["unreadable_examples"])
        if hidden:
            out.append(f"... and {hidden} more unreadable")
    out.append("")
    out.append(line)
    return "\n".join(out) + "\n"


# ---- the command ---------------------------------------------------------------------------
