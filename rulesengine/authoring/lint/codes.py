"""Lint, the code lists: ICD-10-CM entries that match no billable code, and CPT/HCPCS codes
that have a valid shape but cannot be real (the checker accepts them).

ICD-10-CM changes every October (``icd10cm``): an entry is checked against each edition
of the pack's code sets in force on some date of service the rules that use it apply to
(the built-in FY2026 edition, and those the pack imports); where the rules apply only
outside every edition, lint says plainly that it could not check them. An ICD-10-CM entry
is a *pattern*: it covers itself and every code below it (the engine matches by
hierarchy), so the question is which billable codes (leaves) it covers.
"""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from pathlib import Path

from rulesengine.codes.icd10cm import Edition, Editions, dotted, some_codes
from rulesengine.codes.kinds import normalize
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic
from rulesengine.language.fields import field_spec
from rulesengine.language.windows import dates_in_force

ERROR, WARNING, INFO = "error", "warning", "info"

Window = tuple[date | None, date | None]  # first and last day, both included; None is open
ALWAYS: Window = (None, None)

#: at most this many problems per table and check; a table is data and may be huge
TABLE_CAP = 20


# ---- dates ---------------------------------------------------------------------------------

def rule_window(rule: ast.Rule) -> Window:
    start, end = rule.effective_from, rule.effective_through
    return (date.fromisoformat(start.text) if start else None,
            date.fromisoformat(end.text) if end else None)


def intersect(a: Window, b: Window) -> Window | None:
    start = max((d for d in (a[0], b[0]) if d), default=None)
    end = min((d for d in (a[1], b[1]) if d), default=None)
    return None if start and end and end < start else (start, end)


def describe(window: Window) -> str:
    start, end = window
    if start and end:
        return f"{start} through {end}"
    if start:
        return f"from {start}"
    return f"through {end}" if end else "on every date"


# ---- ICD-10-CM -------------------------------------------------------------------------------

def icd10_item(item, icd: Edition) -> list[tuple[str, Diagnostic]]:
    """What is wrong with one entry of an ICD-10-CM set (a code, a pattern or a range)."""
    if isinstance(item, ast.Text):
        item = ast.Code(item.value, item.pos)
    if isinstance(item, ast.CodeSpan):
        return _icd10_range(item, icd)
    written = normalize("icd10", item.text)
    flat = written.rstrip("*").rstrip(".").replace(".", "")
    covered = icd.under(flat)
    if not covered:
        near = icd.nearest(flat)
        what = (f"{written} matches no billable code in {icd.label}" if written.endswith("*") else
                f"{written} is not a code in {icd.label}, and no billable code falls under it")
        hint = (f"the billable codes under {dotted(near[0])} are {some_codes(near[1], 8)}" if near else
                f"no category {flat[:3]} in {icd.year}; check the code against the CMS code files")
        return [(ERROR, Diagnostic("unknown-icd10", item.pos, what, hint))]
    if getattr(item, "exact", False) and not icd.billable(flat):  # "E11 only": itself alone
        what = (f"{written} only matches {written} itself, a header in {icd.label} that no claim "
                f"can bill" if icd.exists(flat) else f"{written} only matches {written} itself, "
                f"which is not a code in {icd.label}")
        return [(WARNING, Diagnostic("icd10-not-billable", item.pos, what,
                                     f"drop 'only' to cover the {len(covered)} billable codes under it "
                                     f"({some_codes(covered)}), or name a billable code"))]
    if written.endswith("*") or icd.billable(flat) or len(flat) == 3:
        return []  # a category (E55) or a pattern (E55.*) is a hierarchy entry by intent
    what = (f"{written} is a header in {icd.label}, not a billable code" if icd.exists(flat) else
            f"{written} is not itself a code in {icd.label}")
    return [(WARNING, Diagnostic(
        "icd10-not-billable", item.pos,
        f"{what}: as an entry it covers {len(covered)} billable "
        f"code{'s' if len(covered) != 1 else ''} ({some_codes(covered)})",
        f"write {written}* if you mean all of them, or list the codes you mean"))]


def _icd10_range(span: ast.CodeSpan, icd: Edition) -> list[tuple[str, Diagnostic]]:
    problems = []
    low, high = (normalize("icd10", end.text).replace(".", "") for end in (span.low, span.high))
    for end, flat in ((span.low, low), (span.high, high)):
        if not icd.exists(flat):
            near = icd.nearest(flat)
            problems.append((WARNING, Diagnostic(
                "icd10-range-end", end.pos,
                f"range end {dotted(flat)} is not a code in {icd.label}",
                f"the billable codes under {dotted(near[0])} are {some_codes(near[1], 8)}" if near else None)))
    if not icd.in_range(low, high):
        problems.append((ERROR, Diagnostic(
            "unknown-icd10", span.pos,
            f"{dotted(low)}..{dotted(high)} matches no billable code in {icd.label}")))
    return problems


# ---- CPT/HCPCS ------------------------------------------------------------------------------

#: HCPCS Level II letters that no section uses (A-V is the shape; these are unassigned)
_UNUSED_LETTERS = set("FINO")
#: CPT codes with a letter suffix all start with 0: Category III (T), PLA (U), MAAA (M), A
_SUFFIX_EXAMPLES = {"T": "0042T", "U": "0001U", "M": "0002M", "A": "0001A"}


def hcpcs_family(code: str) -> str:
    """Which numbering a well-shaped CPT/HCPCS code belongs to."""
    if code[0].isalpha():
        return f"HCPCS Level II {code[0]} codes"
    if code.isdigit():
        return "CPT Category I codes (5 digits)"
    return {"F": "CPT Category II codes (ending in F)", "T": "CPT Category III codes (ending in T)",
            "U": "CPT PLA codes (ending in U)", "M": "CPT MAAA codes (ending in M)"}.get(
        code[-1], f"CPT codes ending in {code[-1]}")


def _could_be_hcpcs(stem: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{0,4}|[A-V][0-9]{0,3}", stem))


def hcpcs_code(code: str, pos: ast.Pos) -> list[tuple[str, Diagnostic]]:
    """A well-shaped code (or a pattern's stem) that no code list assigns."""
    if code[:1] in _UNUSED_LETTERS:
        hint = (f"CPT Category II codes end in F: did you mean {code[1:]}F?"
                if code[0] == "F" and len(code) == 5 else None)
        return [(WARNING, Diagnostic(
            "unassigned-hcpcs", pos,
            f"{code} cannot be a HCPCS Level II code: no section uses the letter {code[0]} "
            "(they use A-E, G, H, J-M and P-V)", hint))]
    if len(code) == 5 and code[-1] in _SUFFIX_EXAMPLES and code[0] != "0":
        return [(WARNING, Diagnostic(
            "unassigned-hcpcs", pos,
            f"{code} cannot be a CPT code: the {hcpcs_family(code)} all start with 0",
            f"they look like {_SUFFIX_EXAMPLES[code[-1]]}"))]
    return []


def hcpcs_item(item) -> list[tuple[str, Diagnostic]]:
    """What is wrong with one entry of a CPT/HCPCS set that the checker let through."""
    if isinstance(item, ast.Text):
        item = ast.Code(item.value, item.pos)
    if isinstance(item, ast.Code):
        code = normalize("hcpcs", item.text)
        if code.endswith("*"):
            stem = code.rstrip("*")
            if not _could_be_hcpcs(stem):
                return [(ERROR, Diagnostic(
                    "impossible-pattern", item.pos,
                    f"{code} matches no CPT/HCPCS code: codes are 5 digits, 4 digits and F, T, U, "
                    "M or A, or a letter A-V and 4 digits",
                    "write the first characters of a code before the '*', like 9920* or G04*"))]
            return hcpcs_code(stem, item.pos)
        return hcpcs_code(code, item.pos)
    low, high = normalize("hcpcs", item.low.text), normalize("hcpcs", item.high.text)
    problems = hcpcs_code(low, item.low.pos) + hcpcs_code(high, item.high.pos)
    families = hcpcs_family(low), hcpcs_family(high)
    if families[0] != families[1]:
        both_level_two = low[0].isalpha() and high[0].isalpha()
        problems.append((WARNING if both_level_two else ERROR, Diagnostic(
            "range-spans-families", item.pos,
            f"{low}..{high} runs from {families[0]} to {families[1]}: a range compares codes "
            "character by character, so it also takes in everything between",
            "write one range per kind of code, like 0001U..0999U and 80047..80076")))
    return problems


# ---- where the codes are ------------------------------------------------------------------

def rule_code_lists(rule: ast.Rule):
    """(kind, item) for every code written inline in a rule's conditions, with its kind."""
    for part in (rule.guard, rule.where,
                 rule.check.condition if isinstance(rule.check, ast.Require) else None):
        for node in ast.walk(part):
            if isinstance(node, (ast.Membership, ast.Quantified)):
                field = node.expr if isinstance(node, ast.Membership) else node.field
                spec = field_spec(field.path) if isinstance(field, ast.Field) else None
                ref = node.set
                if spec is not None and not isinstance(ref, (ast.SetName, ast.Lookup)):
                    for item in (ref.items if isinstance(ref, ast.CodeList) else (ref,)):
                        yield spec.type, item
            elif isinstance(node, ast.Comparison):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    spec = field_spec(side.path) if isinstance(side, ast.Field) else None
                    if spec is not None and isinstance(other, ast.Text):
                        yield spec.type, other


def table_cells(decl: ast.Table, pack_dir: Path, data, kinds: tuple[str, ...]):
    """(kind, code, position, row) for each cell of a code column of ``kinds``; ``data`` is the
    loaded table, whose rows follow the file's non-blank rows in order."""
    wanted = [(c.name, c.type) for c in decl.columns if c.type in kinds]
    if not wanted:
        return
    path = pack_dir / decl.path.value
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        columns = [(header.index(name), data.index(name), kind) for name, kind in wanted]
        rows = iter(data.rows)
        for raw in reader:
            if not any(cell.strip() for cell in raw):
                continue  # as load_table skips it
            row = next(rows)
            for at, index, kind in columns:
                # the cell's column in the line (exact unless an earlier cell was quoted)
                column = 1 + sum(len(cell) + 1 for cell in raw[:at])
                yield kind, row[index], ast.Pos(str(path), reader.line_num, column), row


# ---- the pass ----------------------------------------------------------------------------------

class _Icd10Lint:
    """ICD-10-CM entries checked against the editions in force where they apply; the dates
    no edition covers are gathered for one note."""

    def __init__(self, editions: Editions):
        self.editions = editions
        self.used: dict[str, None] = {}  # labels of the editions asked, in order
        self.uncovered: list[Window] = []

    def editions_for(self, windows: list[Window]) -> list[Edition]:
        """The editions in force on some day of the windows, newest first."""
        found: dict[date, Edition] = {}
        for window in windows:
            found.update((start, e) for start, _, e in self.editions.covering(*window))
            self.uncovered += _outside(window, self.editions.spans)
        chosen = [found[start] for start in sorted(found, reverse=True)]
        self.used.update((e.label, None) for e in chosen)
        return chosen

    def problems(self, item, editions: list[Edition]) -> list[tuple[str, Diagnostic]]:
        """What is wrong with the entry in each edition; a problem of one kind is reported
        once, for the newest edition that has it."""
        found, seen = [], set()
        for edition in editions:
            for severity, diagnostic in icd10_item(item, edition):
                if (diagnostic.code, diagnostic.pos) not in seen:
                    seen.add((diagnostic.code, diagnostic.pos))
                    found.append((severity, diagnostic))
        return found

    def gaps(self) -> list[Window]:
        """The dates of service, joined, on which some ICD-10-CM entry applies but no edition
        is in force to check it against."""
        return _union(self.uncovered)


def _outside(window: Window, spans) -> list[Window]:
    """The parts of a window that no span covers (spans sorted, not overlapping)."""
    start, end = window
    parts: list[Window] = []
    for first, last, _ in spans:
        if start is not None and last < start:
            continue
        if end is not None and end < first:
            break
        if start is None or start < first:
            parts.append((start, first - timedelta(days=1)))
        start = last + timedelta(days=1)
        if end is not None and end < start:
            return parts
    return [*parts, (start, end)]


def _union(windows: list[Window]) -> list[Window]:
    """Overlapping or adjacent windows joined, in order."""
    low, high = date.min, date.max
    joined: list[list[date]] = []
    for start, end in sorted((s or low, e or high) for s, e in windows):
        if joined and (joined[-1][1] == high or start <= joined[-1][1] + timedelta(days=1)):
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(None if s == low else s, None if e == high else e) for s, e in joined]


def check_codes(rules: list[ast.Rule], valuesets: dict, tables: dict, table_data: dict,
                editions: Editions) -> tuple[list[tuple[str, Diagnostic]], str | None, list[Window]]:
    """Every code problem of a merged pack, the ICD-10-CM editions used (None: none needed),
    and the dates of service on which ICD-10-CM entries apply but no edition could check them.

    ``tables`` maps a name to its declaration and pack folder, ``table_data`` to its rows;
    ``editions`` are the pack's ICD-10-CM code sets."""
    problems: list[tuple[str, Diagnostic]] = []
    users: dict[str, list[ast.Rule]] = {}  # value set or table -> the rules reading it
    for rule in rules:
        for name in ast.names_read(rule):
            users.setdefault(name, []).append(rule)
    icd = _Icd10Lint(editions)

    def not_checked(pos, what: str, windows: list[Window]):
        spans = "; ".join(sorted({describe(w) for w in windows}))
        problems.append((INFO, Diagnostic(
            "icd10-not-checked", pos,
            f"{what} applies only to dates of service no ICD-10-CM code set of the pack covers "
            f"({spans}), so its ICD-10-CM codes were not checked",
            "import the code sets of those fiscal years: rulesengine import icd10cm FILE --pack PACK")))

    def check_items(kind, items, windows, pos, what):
        if kind == "hcpcs":
            for item in items:
                problems.extend(hcpcs_item(item))
        elif kind == "icd10":
            in_force = icd.editions_for(windows)
            if not in_force:
                not_checked(pos, what, windows)
            for item in items:
                problems.extend(icd.problems(item, in_force))

    for vs in valuesets.values():
        # an unused set is checked as if for any date (lint reports it unused besides)
        windows = [w for r in users.get(vs.name, []) for w in dates_in_force(r)] or [ALWAYS]
        check_items(vs.kind, vs.codes.items, windows, vs.pos, f"value set {vs.name}")
    for rule in rules:
        inline: dict[str, list] = {}
        for kind, item in rule_code_lists(rule):
            inline.setdefault(kind, []).append(item)
        for kind, items in inline.items():
            at = rule.effective_from.pos if rule.effective_from else rule.pos
            check_items(kind, items, dates_in_force(rule), at, f"rule {rule.id}")
    for name, (decl, pack_dir) in tables.items():
        if name in table_data:
            windows = [w for r in users.get(name, []) for w in dates_in_force(r)] or [ALWAYS]
            problems.extend(_table_codes(decl, pack_dir, table_data[name], windows, icd))
    return problems, "; ".join(icd.used) or None, icd.gaps()


def _table_codes(decl, pack_dir, data, windows, icd: _Icd10Lint):
    problems, skipped, shown = [], 0, {}
    for kind, code, pos, row in table_cells(decl, pack_dir, data, ("icd10", "hcpcs")):
        if code is None or code == "":
            continue
        if kind == "hcpcs":
            found = hcpcs_code(code, pos)
        else:
            row_window = (row[data.date_from] if data.date_from is not None else None,
                          row[data.date_through] if data.date_through is not None else None)
            in_force = icd.editions_for([w for w in (intersect(row_window, w) for w in windows) if w])
            if not in_force:
                skipped += 1
                continue
            found = icd.problems(ast.Code(code, pos), in_force)
        for severity, diagnostic in found:
            count = shown[diagnostic.code] = shown.get(diagnostic.code, 0) + 1
            if count <= TABLE_CAP:
                problems.append((severity, diagnostic))
            elif count == TABLE_CAP + 1:
                problems.append((severity, Diagnostic(
                    diagnostic.code, decl.pos,
                    f"table {decl.name} has more {diagnostic.code} problems than the "
                    f"{TABLE_CAP} shown", "fix those and lint again")))
    if skipped:
        problems.append((INFO, Diagnostic(
            "icd10-not-checked", decl.pos,
            f"{skipped} row{'s' if skipped != 1 else ''} of table {decl.name} "
            f"appl{'y' if skipped != 1 else 'ies'} only to dates of service no ICD-10-CM code "
            "set of the pack covers, so their ICD-10-CM codes were not checked",
            "import the code sets of those fiscal years: rulesengine import icd10cm FILE --pack PACK")))
    return problems
