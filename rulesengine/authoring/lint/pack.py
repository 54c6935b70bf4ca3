"""``rulesengine lint PACK``: what loads but is probably wrong.

A pack that loads is well formed; lint looks for what the checker cannot call wrong
but an analyst would want to know, each problem with a severity:

* ``error``, surely wrong: an ICD-10-CM entry that matches no billable code, a CPT/HCPCS
  range that runs across kinds of code, versions of one rule whose windows overlap;
* ``warning``, probably wrong: a dotted ICD-10-CM header where a billable code was likely
  meant, a range end that is not a code, an unassigned CPT/HCPCS code, a rule without a
  citation, a value set or table no rule uses, rules that repeat or contradict each other;
* ``info``: what lint could not check (ICD-10-CM codes for dates of service that no
  ICD-10-CM code set of the pack covers).

Lint looks at the pack as claims meet it: merged with the packs it extends, without the
rules it disables. Exit status: 0 nothing (or only warnings and info), 1 errors (with
``--strict``, warnings too), 2 the pack does not load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rulesengine.codes.icd10cm import fiscal_year
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic, source_line
from rulesengine.packs.layers import merge, read_layers
from rulesengine.packs.load import CompiledPack, load_pack

from .codes import ERROR, INFO, WARNING, Window, check_codes, describe
from .rules import compare_rules

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_BROKEN = 0, 1, 2
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True)
class LintProblem:
    severity: str  # error, warning or info
    diagnostic: Diagnostic

    @property
    def sort_key(self):
        d = self.diagnostic
        return d.pos.file, d.pos.line, d.pos.column, SEVERITIES.index(self.severity), d.code

    def render(self, sources: dict[str, str]) -> str:
        """``file:line:col: severity: code: message``, the source line, a caret and the hint."""
        d = self.diagnostic
        return d.render(source_line(sources, d.pos), self.severity)

    def to_dict(self, sources: dict[str, str]) -> dict:
        d = self.diagnostic
        return {"file": d.pos.file, "line": d.pos.line, "column": d.pos.column,
                "severity": self.severity, "code": d.code, "message": d.message,
                "hint": d.hint, "source_line": source_line(sources, d.pos)}


@dataclass
class LintReport:
    pack: CompiledPack
    problems: list[LintProblem]
    icd10_code_set: str | None  # the ICD-10-CM editions codes were checked against, if any
    sources: dict[str, str] = field(default_factory=dict)
    #: dates of service where ICD-10-CM entries apply but no code set of the pack covers them
    icd10_not_checked: list[Window] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for p in self.problems if p.severity == severity)

    def exit_code(self, strict: bool = False) -> int:
        failing = {ERROR, WARNING} if strict else {ERROR}
        return EXIT_PROBLEMS if any(p.severity in failing for p in self.problems) else EXIT_CLEAN

    def summary(self) -> str:
        def n(count, word):
            return f"{count} {word}{'s' if count != 1 and word != 'info' else ''}"
        line = (f"lint {self.pack.id} {self.pack.version}: {n(self.count(ERROR), 'error')}, "
                f"{n(self.count(WARNING), 'warning')}")
        if self.count(INFO):
            line += f", {n(self.count(INFO), 'info')}"
        if self.icd10_code_set:
            line += f"; ICD-10-CM codes checked against {self.icd10_code_set}"
        return line

    def coverage_note(self) -> str | None:
        """What lint could not check for want of an ICD-10-CM code set, and how to mend it."""
        if not self.icd10_not_checked:
            return None
        dates = " and ".join(describe(w) for w in self.icd10_not_checked)
        newest = self.pack._checked.icd10.spans[-1][1] if self.pack._checked.icd10.spans else None
        later = newest is not None and any(end is None or end > newest for _, end in self.icd10_not_checked)
        wanted = (f"the FY{fiscal_year(newest + timedelta(days=1))} code set" if later
                  else "the code sets of those fiscal years")
        return (f"note: ICD-10-CM codes were not checked for dates of service {dates}: no code "
                f"set of the pack covers them. Import {wanted} from CMS's ICD-10-CM files with "
                "'rulesengine import icd10cm FILE --pack PACK' (docs/import-cms-files.md).")

    def to_dict(self) -> dict:
        return {"pack": {"id": self.pack.id, "version": self.pack.version,
                         "hash": self.pack.info.hash, "layers": self.pack.layers},
                "icd10_code_set": self.icd10_code_set,
                "icd10_not_checked": [{"from": start and start.isoformat(),
                                       "through": end and end.isoformat()}
                                      for start, end in self.icd10_not_checked],
                "problems": [p.to_dict(self.sources) for p in self.problems],
                "summary": {"errors": self.count(ERROR), "warnings": self.count(WARNING),
                            "info": self.count(INFO)}}


def lint_pack(path: str | Path) -> LintReport:
    """Lint the pack in folder ``path``; raises PackError when it does not load."""
    pack = load_pack(path)
    sources: dict[str, str] = {}
    # the layers again, as written: to tell a set used only by a disabled rule from an unused one
    layers, _ = read_layers(Path(path), sources)
    merged, _ = merge(layers)
    checked = pack._checked
    found, code_set, gaps = check_codes(pack.rules, checked.valuesets, merged.tables,
                                        checked.tables, checked.icd10)
    found += _missing_citations(pack.rules)
    found += _unused(pack, merged, layers)
    found += compare_rules(pack.rules, checked.valuesets)
    problems = sorted((LintProblem(s, d) for s, d in found), key=lambda p: p.sort_key)
    return LintReport(pack, problems, code_set, sources, gaps)


def _missing_citations(rules: list[ast.Rule]) -> list[tuple[str, Diagnostic]]:
    return [(WARNING, Diagnostic(
        "missing-citation", rule.citation.pos if rule.citation else rule.pos,
        f"rule {rule.id} " + ("has an empty citation" if rule.citation else "has no citation"),
        'name the policy it encodes, like: citation "LCD L33996, billing and coding article A56798"'))
        for rule in rules if rule.citation is None or not rule.citation.value.strip()]


def _unused(pack: CompiledPack, merged, layers) -> list[tuple[str, Diagnostic]]:
    """Value sets and tables no rule in force reads; a rule disabled or overridden by a pack
    above does not count, and the message says so."""
    used = {name for rule in pack.rules for name in ast.names_read(rule)}
    in_force = {rule.id: pack.facts(rule).pack for rule in pack.rules}  # the most-derived layer
    disabled_by = {off.rule_id: layer.id for layer in layers for f in layer.files
                   for off in f.disables}
    readers: dict[str, list[str]] = {}  # name -> why each rule that was written to read it does not
    for layer in layers:
        for f in layer.files:
            for rule in f.rules:
                for name in ast.names_read(rule):
                    if rule.id in in_force:
                        why = (f"rule {rule.id} as pack {layer.id} wrote it, which pack "
                               f"{in_force[rule.id]} overrides")
                    else:
                        why = (f"rule {rule.id} of pack {layer.id}, which pack "
                               f"{disabled_by.get(rule.id, '?')} disables")
                    if why not in readers.setdefault(name, []):
                        readers[name].append(why)
    problems = []
    items = [("value set", vs.name, vs.pos) for vs in merged.valuesets.values()]
    items += [("table", decl.name, decl.pos) for decl, _ in merged.tables.values()]
    for noun, name, pos in items:
        if name in used:
            continue
        why = readers.get(name)
        message = (f"{noun} {name} is used only by " + "; ".join(why) if why
                   else f"{noun} {name} is not used by any rule")
        if why:
            hint = (f"nothing in pack {pack.id} reads it any more; name it in a rule of "
                    f"{pack.id} if it is still meant to be checked")
        elif noun == "value set":
            hint = "delete it, or name it in a rule"
        else:
            hint = "delete it, or check lines with it: require not bundled per / require units within"
        problems.append((WARNING, Diagnostic(f"unused-{noun.replace(' ', '')}", pos, message, hint)))
    return problems


# ---- the command ------------------------------------------------------------------------------
