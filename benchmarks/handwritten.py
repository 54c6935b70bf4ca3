"""The same policies as the generated pack, checked by hand-written Python.

This is what a competent developer writes when asked to check these policies without a
rule engine: indexes built once (dicts keyed by procedure code, sets, the NCCI file as a
dict of dicts), then per claim a few straightforward loops. Semantics follow the pack:
a rule applies by the line's date of service (the claim's first, for claim rules), a
missing value never fires a rule on its own, an NCCI row in force on the date of service
governs (the latest to take effect; the later in the file on a tie).

It takes the very ``workload.Spec`` the pack was written from, and reads the pack's CSV
tables itself, so nothing is shared with the engine but the claim objects.
"""

from __future__ import annotations

import calendar
import csv
from datetime import date, timedelta
from pathlib import Path

import workload as w


def _flat(code: str) -> str:
    return code.replace(".", "")


class DxList:
    """An ICD-10-CM code list: categories cover the codes below them; answers memoised."""

    __slots__ = ("memo", "ranges", "stems")

    def __init__(self, entries):
        self.stems = frozenset(_flat(e.rstrip("*")) for e in entries if not isinstance(e, tuple))
        self.ranges = tuple((_flat(lo), _flat(hi)) for lo, hi in (e for e in entries if isinstance(e, tuple)))
        self.memo: dict[str, bool] = {}

    def has(self, dx: str) -> bool:
        hit = self.memo.get(dx)
        if hit is None:
            flat = _flat(dx)
            stems = self.stems
            hit = any(flat[:n] in stems for n in range(3, len(flat) + 1)) or any(
                len(flat) >= len(lo) and lo <= flat[: len(lo)] <= hi for lo, hi in self.ranges)
            self.memo[dx] = hit
        return hit


def _expand(entries) -> tuple[set[str], list[str]]:
    """Procedure codes written as codes and ranges -> every code; patterns kept as prefixes."""
    codes, prefixes = set(), []
    for e in entries:
        if isinstance(e, tuple):
            lo, hi = e
            if lo.isdigit():
                codes.update(f"{n:05d}" for n in range(int(lo), int(hi) + 1))
            else:  # a letter and four digits
                codes.update(f"{lo[0]}{n:04d}" for n in range(int(lo[1:]), int(hi[1:]) + 1))
        elif e.endswith("*"):
            prefixes.append(e[:-1])
        else:
            codes.add(e)
    return codes, prefixes


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _limit_date(day: date, amount: int, unit: str) -> date:
    if unit.startswith("day"):
        return day + timedelta(days=amount)
    return _add_months(day, amount if unit.startswith("month") else 12 * amount)


def _read_date(text: str):
    text = text.strip()
    if text in ("", "*"):
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _governing(rows, day):
    for start, end, *values in rows:
        if (start is None or day >= start) and (end is None or day <= end):
            return values
    return None


def _by_start(rows):
    """Latest to take effect first; the later in the file first on a tie."""
    rows.sort(key=lambda r: r[0] or date.min)
    return tuple(reversed(rows))


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b}


class HandChecker:
    def __init__(self, spec: w.Spec, pack_dir: Path):
        dx_lists = {name: DxList(entries) for name, (kind, entries) in spec.valuesets.items()
                    if kind == "icd10"}
        self.mn: dict[str, list] = {}
        self.pa_exact: dict[str, list] = {}
        self.pa_prefixes: list = []
        self.age: dict[str, list] = {}
        self.sex_proc: dict[str, list] = {}
        self.pos: dict[str, list] = {}
        self.mods: dict[str, list] = {}
        self.validity: dict[str, list] = {}
        self.ndc: dict[str, list] = {}
        self.sex_dx: dict[str, list] = {}
        self.filing: list = []
        self.pos_present: list = []
        self.ncci: dict[str, list] = {}
        self.mue: dict[str, list] = {}

        def index(target, entries, item):
            codes, prefixes = _expand(entries)
            assert not prefixes
            for code in codes:
                target.setdefault(code, []).append(item)

        for p in spec.policies:
            if isinstance(p, w.Necessity):
                index(self.mn, p.procs, (p.id, p.start, p.end, p.plans, p.professional_only,
                                         p.claim_wide, dx_lists[p.dx]))
            elif isinstance(p, w.PriorAuth):
                codes, prefixes = _expand(spec.valuesets[p.procs][1])
                item = (p.id, p.start, p.end, p.plans, p.line_auth_counts, p.severity)
                for code in codes:
                    self.pa_exact.setdefault(code, []).append(item)
                self.pa_prefixes.append((tuple(prefixes), codes, item))
            elif isinstance(p, w.AgeEdit):
                index(self.age, p.procs, (p.id, p.start, p.end, p.field == "age_days", _OPS[p.op], p.bound))
            elif isinstance(p, w.SexProcEdit):
                index(self.sex_proc, p.procs, (p.id, p.start, p.end, p.op == "=", p.sex))
            elif isinstance(p, w.PlaceOfServiceEdit):
                index(self.pos, p.procs, (p.id, p.start, p.end, frozenset(p.allowed)))
            elif isinstance(p, w.ModifierEdit):
                index(self.mods, p.procs, (p.id, p.start, p.end, p.quantifier, frozenset(p.modifiers)))
            elif isinstance(p, w.CodeValidity):
                index(self.validity, p.procs, (p.id, p.start, p.end, p.op == "<=", p.day))
            elif isinstance(p, w.NdcRequired):
                index(self.ndc, p.procs, (p.id, p.start, p.end))
            elif isinstance(p, w.SexDiagnosisEdit):
                self.sex_dx.setdefault(p.sex, []).append((p.id, p.start, p.end, dx_lists[p.dx]))
            elif isinstance(p, w.FilingLimit):
                self.filing.append(p)
            elif isinstance(p, w.PlaceOfServicePresent):
                self.pos_present.append((p.id, p.start, p.end))
            elif isinstance(p, w.Bundling):
                self.ncci.setdefault(p.claim_type, []).append((p.id, p.start, p.end, self._load_ncci(pack_dir, p.table)))
            elif isinstance(p, w.UnitLimit):
                self.mue.setdefault(p.claim_type, []).append((p.id, p.start, p.end, self._load_mue(pack_dir, p.table)))
            else:
                raise TypeError(p)
        # prior auth lists with patterns: the rules for a code are worked out on first sight
        self.pa_prefixes = [x for x in self.pa_prefixes if x[0]]
        self._pa_memo: dict[str, tuple] = {}
        # filing limits by plan, worked out on first sight of a plan
        self._filing_by_plan: dict = {}
        self.bypass = frozenset(w.BYPASS)

    # ---- tables -------------------------------------------------------------------------
    @staticmethod
    def _load_ncci(pack_dir: Path, name: str) -> dict:
        pairs: dict[str, dict[str, list]] = {}
        with open(pack_dir / "tables" / f"{name}.csv", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for c1, c2, mi, start, end in reader:
                pairs.setdefault(c2, {}).setdefault(c1, []).append((_read_date(start), _read_date(end), int(mi)))
        return {c2: {c1: _by_start(rows) for c1, rows in col1.items()} for c2, col1 in pairs.items()}

    @staticmethod
    def _load_mue(pack_dir: Path, name: str) -> dict:
        limits: dict[str, list] = {}
        with open(pack_dir / "tables" / f"{name}.csv", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for code, limit, mai, start, end in reader:
                limits.setdefault(code, []).append((_read_date(start), _read_date(end), int(limit), int(mai)))
        return {code: _by_start(rows) for code, rows in limits.items()}

    # ---- lookups --------------------------------------------------------------------------
    def _pa_for(self, proc: str) -> tuple:
        found = self._pa_memo.get(proc)
        if found is None:
            found = list(self.pa_exact.get(proc, ()))
            for prefixes, codes, item in self.pa_prefixes:
                if proc not in codes and any(proc.startswith(x) for x in prefixes):
                    found.append(item)
            found = self._pa_memo[proc] = tuple(found)
        return found

    def _filing_for(self, plan, claim_type) -> list:
        key = (plan, claim_type)
        found = self._filing_by_plan.get(key)
        if found is None:
            found = []
            for p in self.filing:
                # a plan test on a claim without a plan is unknown: the rule does not apply
                if p.plans is not None and (plan is None or (plan in p.plans) == p.plans_negated):
                    continue
                if p.institutional_only and claim_type != "institutional":
                    continue
                found.append(p)
            self._filing_by_plan[key] = found
        return found

    # ---- the check --------------------------------------------------------------------------
    def check(self, claim) -> list[tuple]:
        """(rule id, line number or None, adjustment, message) for each finding."""
        out = []
        plan = claim.plan
        ctype = claim.claim_type
        first = claim.first_service_date
        birth = claim.birth_date
        sex = claim.sex

        received = claim.received_date
        if received is not None:
            for p in self._filing_for(plan, ctype):
                if (p.start and first < p.start) or (p.end and first > p.end):
                    continue
                if p.frequencies is not None and claim.frequency_code not in p.frequencies:
                    continue
                if received > _limit_date(claim.last_service_date, p.amount, p.unit):
                    out.append((p.id, None, "CO-29", f"received {received}, after the filing limit"))

        for rid, start, end, dx in self.sex_dx.get(sex, ()):
            if (start and first < start) or (end and first > end):
                continue
            for d in claim.diagnoses:
                if dx.has(d):
                    out.append((rid, None, "CO-7", f"a diagnosis is inconsistent with the patient's sex ({sex})"))
                    break

        lines = claim.lines
        pos_missing_done = False
        for line in lines:
            proc = line.procedure
            day = line.service_date
            number = line.line_number

            if not pos_missing_done and not (line.place_of_service or claim.place_of_service):
                for rid, start, end in self.pos_present:
                    if (start and day < start) or (end and day > end):
                        continue
                    pos_missing_done = True
                    out.append((rid, None, "CO-16", f"line {number} has no place of service"))

            if proc is None:
                continue

            for rid, start, end, plans, professional_only, claim_wide, dx in self.mn.get(proc, ()):
                if (start and day < start) or (end and day > end):
                    continue
                if plans is not None and plan not in plans:
                    continue
                if professional_only and ctype != "professional":
                    continue
                for d in (claim.diagnoses if claim_wide else line.diagnoses):
                    if dx.has(d):
                        break
                else:
                    out.append((rid, number, "CO-50", f"{proc} is not covered for the diagnoses billed"))

            for rid, start, end, plans, line_auth_counts, severity in self._pa_for(proc):
                if (start and day < start) or (end and day > end):
                    continue
                if plan not in plans:
                    continue
                if claim.prior_authorization or (line_auth_counts and line.prior_authorization):
                    continue
                out.append((rid, number, "CO-197", f"{proc} needs prior authorization on plan {plan}"))

            for rid, start, end, in_days, op, bound in self.age.get(proc, ()):
                if (start and day < start) or (end and day > end) or birth is None:
                    continue
                if not op((day - birth).days if in_days else _age(birth, day), bound):
                    out.append((rid, number, "CO-6", f"{proc} is not payable at age {_age(birth, day)}"))

            for rid, start, end, equal, which in self.sex_proc.get(proc, ()):
                if (start and day < start) or (end and day > end) or sex is None:
                    continue
                if (sex == which) != equal:
                    out.append((rid, number, "CO-7", "Procedure inconsistent with the patient's sex"))

            for rid, start, end, allowed in self.pos.get(proc, ()):
                if (start and day < start) or (end and day > end):
                    continue
                pos = line.place_of_service or claim.place_of_service
                if pos is not None and pos not in allowed:
                    out.append((rid, number, "CO-5", "Procedure not payable in this place of service"))

            for rid, start, end, quantifier, modifiers in self.mods.get(proc, ()):
                if (start and day < start) or (end and day > end):
                    continue
                mods = line.modifiers
                if quantifier == "no":
                    bad = not modifiers.isdisjoint(mods)
                elif quantifier == "any":
                    bad = modifiers.isdisjoint(mods)
                else:
                    bad = not modifiers.issuperset(mods)
                if bad:
                    out.append((rid, number, "CO-4", "Modifier not valid with this procedure"))

            for rid, start, end, until, boundary in self.validity.get(proc, ()):
                if (start and day < start) or (end and day > end):
                    continue
                if (day > boundary) if until else (day < boundary):
                    out.append((rid, number, "CO-181", f"{proc} is not valid on {day}"))

            for rid, start, end in self.ndc.get(proc, ()):
                if (start and day < start) or (end and day > end):
                    continue
                if not line.ndc:
                    out.append((rid, number, "CO-16", "Drug lines need an NDC"))

            for rid, start, end, pairs in self.ncci.get(ctype, ()):
                if (start and day < start) or (end and day > end):
                    continue
                column1 = pairs.get(proc)
                if column1 is None:
                    continue
                for other in lines:
                    if other is line or other.service_date != day:
                        continue
                    rows = column1.get(other.procedure)
                    if rows is None:
                        continue
                    row = _governing(rows, day)
                    if row is None:
                        continue
                    indicator = row[0]
                    if indicator == 9 or (indicator == 1 and not self.bypass.isdisjoint(line.modifiers)):
                        continue
                    out.append((rid, number, "CO-97",
                                f"{proc} is bundled into {other.procedure} (line {other.line_number})"))
                    break

            for rid, start, end, limits in self.mue.get(ctype, ()):
                if (start and day < start) or (end and day > end):
                    continue
                rows = limits.get(proc)
                if rows is None:
                    continue
                row = _governing(rows, day)
                if row is None:
                    continue
                limit, mai = row
                if mai == 1:
                    billed = line.units
                else:
                    billed = 0
                    for other in lines:
                        if other.procedure == proc and other.service_date == day:
                            billed += other.units
                if billed > limit:
                    out.append((rid, number, "CO-151", f"{billed} units of {proc}, more than {limit}"))
        return out
