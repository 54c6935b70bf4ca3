"""What both evaluators share once they have decided that a rule fires: the finding.

Deciding *whether* a rule fires is done twice, independently: by the compiled evaluator
(``compiler``) and by the reference interpreter (``reference``). Turning that decision
into a finding (message, evidence, codes, source) is done here, once.

Truth is three-valued: a comparison with a value the claim does not have is *unknown*
(None). A rule selects a line only when its conditions are true, and fires only when its
requirement is false, so a missing value never causes a denial by itself; rules that
need a value say so with ``is present``.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rulesengine.claims.model import Claim, Line
from rulesengine.language import ast
from rulesengine.language.fields import EARLIER_FIELDS, FIELDS, OTHER_FIELDS, PLACEHOLDER

from .results import Finding


def fields_named(node) -> list[str]:
    """The claim, line and patient fields a condition reads, in the order written, each
    once (``other.`` and ``earlier.`` fields name many lines, so they are not evidence)."""
    found: list[str] = []
    for part in ast.walk(node):
        if isinstance(part, ast.Field) and part.root not in ast.SCOPES and part.path not in found:
            found.append(part.path)
    return found


def display(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ", ".join(display(v) for v in value) if value else "(none)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def version_key(rule: ast.Rule) -> tuple[str, ast.Pos]:
    """What tells apart the versions of one rule id that layered packs leave in force (a
    windowed pack's override keeps the inherited version outside its window): the id and
    the place the version is written."""
    return rule.id, rule.pos


@dataclass(frozen=True)
class RuleFacts:
    """What a finding of one rule always carries, worked out once when the pack loads."""

    rule: ast.Rule
    pack: str
    source_file: str
    evidence_fields: tuple[str, ...]
    #: the message split once into literal text and the names of its placeholders
    message_parts: tuple[tuple[str, str | None], ...] = ()
    #: what every finding of the rule repeats, and the evidence getters, worked out once
    constant: tuple = ()
    getters: tuple = ()
    #: the fields of the line 'no other|earlier line where' found that the message names
    found_fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: ast.Rule, pack: str, pack_dir: Path, shown_file: str | None = None) -> "RuleFacts":
        """The facts of a rule of ``pack`` read from ``pack_dir``; ``shown_file`` names its
        file as findings show it, when worked out where the pack was loaded (``shown_path``)."""
        paths: list[str] = []
        for part in (rule.guard, rule.where,
                     rule.check.condition if isinstance(rule.check, ast.Require) else None):
            for p in fields_named(part) if part is not None else ():
                if p not in paths:
                    paths.append(p)
        seen_by_table_check = {
            ast.RequireUnbundled: ("line.procedure", "line.service_date", "line.modifier"),
            ast.RequireUnits: ("line.procedure", "line.service_date", "line.units"),
            ast.RequireFrequency: ("patient.member_id", "line.procedure", "line.service_date"),
            ast.RequireNoDuplicate: ("patient.member_id", "line.procedure", "line.service_date",
                                     "claim.billing_npi"),
        }.get(type(rule.check), ())
        paths = [p for p in seen_by_table_check if p not in paths] + paths
        if not rule.per_line:
            paths = [p for p in paths if not FIELDS[p].needs_line]
        template = rule.action.message.value if rule.action.message else None
        action = rule.action
        source_file = shown_file or shown_path(Path(rule.pos.file), pack_dir)
        constant = (rule.id, rule.category.name if rule.category else "", action.severity,
                    action.scope == "line", action.group_code, action.carc,
                    tuple(r.text for r in action.rarcs), source_file, rule.pos.line,
                    rule.citation.value if rule.citation else None, pack)
        parts = _split_message(template) if template is not None else ()
        scope = ast.found_scope(rule)
        found = tuple(dict.fromkeys(name for _, name in parts
                                    if name and scope and name.startswith(scope + ".")))
        return cls(rule, pack, source_file, tuple(paths), parts, constant,
                   tuple((p, FIELDS[p].get) for p in paths), found)

    def found_line(self, claim: Claim, found) -> dict:
        """The extra values of a finding whose rule found a line (``found``: a line of the
        claim, or a recorded line of the history): the fields of it the message names."""
        values = {}
        for name in self.found_fields:
            if name in OTHER_FIELDS:
                values[name] = OTHER_FIELDS[name].get(claim, found)
            else:
                values[name] = EARLIER_FIELDS[name].get(found)
        return values

    def finding(self, claim: Claim, line: Line | None, extras: dict | None = None) -> Finding:
        rule_id, category, severity, line_scope, group, carc, rarc, file, at, citation, pack = self.constant
        evidence = {p: get(claim, line) for p, get in self.getters}
        if extras:
            evidence.update(extras)
        on_line = line_scope and line is not None
        return Finding(rule_id, category, severity, "line" if on_line else "claim",
                       line.line_number if on_line else None, group, carc, rarc,
                       self.message(claim, line, extras or {}), evidence, file, at, citation, pack)

    def message(self, claim: Claim, line: Line | None, extras: dict) -> str:
        if self.rule.action.message is None:
            return self.rule.title
        out = []
        for text, name in self.message_parts:
            out.append(text)
            if name is not None:
                value = extras[name] if name in extras else FIELDS[name].get(claim, line)
                out.append(display(value))
        return "".join(out)


def _split_message(template: str) -> tuple[tuple[str, str | None], ...]:
    """'{line.procedure} is late' -> (('', 'line.procedure'), (' is late', None))."""
    parts, at = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append((template[at:match.start()], match.group(1).strip()))
        at = match.end()
    parts.append((template[at:], None))
    return tuple(parts)


def sort_findings(findings: list[Finding], order: dict[str, int]) -> tuple[Finding, ...]:
    """Claim-level findings first, then by line, then in the pack's rule order."""
    return tuple(sorted(findings, key=lambda f: (
        f.line_number is not None, f.line_number or 0, order[f.rule_id])))


@functools.lru_cache(maxsize=1024)  # a pack's rules share a few files: resolve each once
def shown_path(file: Path, pack_dir: Path) -> str:
    """A rule file's path as a finding shows it: from the working folder when the pack is
    under it (payer_rules/medicare/necessity.rules), else from the pack's own folder."""
    file = file.resolve()
    try:
        return file.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return (Path(pack_dir.name) / file.relative_to(pack_dir.resolve())).as_posix()
