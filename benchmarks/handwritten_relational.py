"""The relational policies of relational_workload, checked by hand-written Python.

What a competent developer writes for these policies without a rule engine: each table made
a dict keyed by code once, the patient's earlier lines indexed by member and date once, and
per claim the claim's lines grouped by date, then a loop per policy. It follows the pack's
meaning: a table row counts on a date when it is in force then, a code with no row is not
judged, earlier lines are the patient's lines on other claims.
"""

from __future__ import annotations

from collections import defaultdict

import relational_workload as w

OFFICE_EM = frozenset(w.OFFICE_EM)
TIMED = frozenset(w.TIMED_THERAPY)
COLONOSCOPY = frozenset(w.COLONOSCOPY)


def _in_force(start, end, day) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _first_in_force(rows, day):
    for row in rows:
        if _in_force(row[-2], row[-1], day):
            return row
    return None


class HandRelational:
    def __init__(self, tables: w.Tables, earlier_claims):
        self.aoc = defaultdict(list)  # add-on -> rows (primary, type, start, end)
        for addon, primary, kind, start, end in tables.aoc:
            self.aoc[addon].append((primary, kind, start, end))
        self.mpfs = {}  # code -> (pctc, global, bilateral, assistant, start, end); one row each
        for code, *rest in tables.mpfs:
            self.mpfs[code] = tuple(rest)
        self.ncci = defaultdict(dict)  # column2 -> column1 -> (indicator, start, end)
        for c1, c2, mi, start, end in tables.ncci:
            self.ncci[c2][c1] = (mi, start, end)
        self.mue = {code: (limit, mai, start, end) for code, limit, mai, start, end in tables.mue}
        # member -> date -> [(claim id, npi, procedure, modifiers, units, line number)]
        self.earlier = defaultdict(lambda: defaultdict(list))
        for claim in earlier_claims:
            for ln in claim.lines:
                self.earlier[claim.member_id][ln.service_date].append(
                    (claim.claim_id, claim.billing_npi, ln.procedure, ln.modifiers, ln.units, ln.line_number))
        for by_day in self.earlier.values():
            for lines in by_day.values():
                lines.sort(key=lambda e: (e[0], e[5]))

    def _mpfs(self, code, day):
        row = self.mpfs.get(code)
        return row if row is not None and _in_force(row[4], row[5], day) else None

    def findings(self, claim) -> list[tuple[str, int | None]]:
        found: list[tuple[str, int | None]] = []
        first = claim.diagnoses[0] if claim.diagnoses else None
        if first is not None and first[0] in "VWXY":
            found.append(("EXTERNAL-CAUSE-FIRST", None))
        by_day = defaultdict(list)
        for ln in claim.lines:
            by_day[ln.service_date].append(ln)
        history = self.earlier.get(claim.member_id, {}) if claim.member_id else {}
        own, npi = claim.claim_id, claim.billing_npi
        for ln in claim.lines:
            code, day, mods = ln.procedure, ln.service_date, ln.modifiers
            same_day = [o for o in by_day[day] if o is not ln]
            earlier_day = [e for e in history.get(day, ()) if e[0] != own]
            if code in self.aoc:
                rows = [r for r in self.aoc[code] if _in_force(r[2], r[3], day)]
                governing = max(rows, key=lambda r: r[2], default=None)
                if governing is not None and governing[1] == 1:
                    primaries = {r[0] for r in rows}
                    if not (any(o.procedure in primaries for o in same_day)
                            or any(e[1] == npi and e[2] in primaries for e in earlier_day)):
                        found.append(("AOC-PRIMARY", ln.line_number))
            if code in OFFICE_EM:
                if "25" not in mods:
                    for o in same_day:
                        row = self._mpfs(o.procedure, day)
                        if row is not None and row[1] in ("000", "010"):
                            found.append(("EM-MINOR-25", ln.line_number))
                            break
                if any(o.procedure in OFFICE_EM and o.line_number < ln.line_number for o in same_day):
                    found.append(("EM-SAME-DAY", ln.line_number))
                if not {"24", "25", "57"} & set(mods) and self._in_global(history, own, npi, day):
                    found.append(("GLOBAL-90-VISIT", ln.line_number))
            if "50" in mods:
                if ln.units != 1:
                    found.append(("BILATERAL-UNITS", ln.line_number))
                row = self._mpfs(code, day)
                if row is not None and row[2] is not None and row[2] not in (1, 3):
                    found.append(("BILATERAL-INDICATOR", ln.line_number))
            if "26" in mods:
                row = self._mpfs(code, day)
                if row is not None and row[0] == 1 and any(
                        o.procedure == code and "TC" in o.modifiers for o in same_day):
                    found.append(("PC-TC-SPLIT", ln.line_number))
            if {"80", "81", "82", "AS"} & set(mods):
                row = self._mpfs(code, day)
                if row is not None and row[3] == 1:
                    found.append(("ASSISTANT-SURGERY", ln.line_number))
            if not {"76", "77", "91"} & set(mods):
                wanted = set(mods)
                if any(e[2] == code and e[1] == npi and set(e[3]) == wanted for e in earlier_day):
                    found.append(("DUP-SERVICE", ln.line_number))
            if code in TIMED:
                total = ln.units + sum(o.units for o in same_day if o.procedure in TIMED)
                if total > 4:
                    found.append(("THERAPY-UNITS", ln.line_number))
            if code in self.ncci and self._bundled(self.ncci[code], ln, same_day, earlier_day, npi):
                found.append(("NCCI-PTP", ln.line_number))
            if code in self.mue and self._over_units(ln, by_day[day], earlier_day, npi):
                found.append(("MUE", ln.line_number))
            if code == "G0121" and self._screened(history, own, day):
                found.append(("FREQ-COLONOSCOPY", ln.line_number))
        return found

    def _in_global(self, history, own, npi, day) -> bool:
        for earlier_day, lines in history.items():
            gap = (day - earlier_day).days
            if not 1 <= gap <= 90:
                continue
            for e in lines:
                if e[0] != own and e[1] == npi:
                    row = self._mpfs(e[2], earlier_day)
                    if row is not None and row[1] == "090":
                        return True
        return False

    @staticmethod
    def _bundled(column1, ln, same_day, earlier_day, npi) -> bool:
        day = ln.service_date
        others = [o.procedure for o in same_day] + [e[2] for e in earlier_day if e[1] == npi]
        for other in others:
            row = column1.get(other)
            if row is None or not _in_force(row[1], row[2], day) or row[0] == 9:
                continue
            if row[0] == 1 and {"59", "XE", "XP", "XS", "XU"} & set(ln.modifiers):
                continue
            return True
        return False

    def _over_units(self, ln, day_lines, earlier_day, npi) -> bool:
        limit, mai, start, end = self.mue[ln.procedure]
        if not _in_force(start, end, ln.service_date):
            return False
        if mai in (2, 3):
            billed = sum(o.units for o in day_lines if o.procedure == ln.procedure)
            billed += sum(e[4] or 0 for e in earlier_day if e[1] == npi and e[2] == ln.procedure)
        else:
            billed = ln.units
        return billed > limit

    @staticmethod
    def _screened(history, own, day) -> bool:
        month = day.year * 12 + day.month
        for earlier_day, lines in history.items():
            if 0 <= month - (earlier_day.year * 12 + earlier_day.month) <= 119:
                if any(e[0] != own and e[2] in COLONOSCOPY for e in lines):
                    return True
        return False
