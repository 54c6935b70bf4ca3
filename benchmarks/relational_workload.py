"""The relational workload: a pack of the policies that relate lines, claims and table rows,
its tables, and claims with a history of earlier claims, all generated from one seed.

The pack's rules are the bundled ones of each relational kind (payer_rules/medicare,
medicare-frequency and acme-commercial), over tables of the size CMS publishes: an add-on
code file of a thousand add-ons, fee schedule indicators for every code, 60,000 NCCI pairs,
4,000 MUEs. The codes are generated (families of consecutive five-digit codes, as in
workload.py), with the real E/M, timed therapy and screening colonoscopy codes the rules
name. ``Tables`` holds the same rows for the hand-written checker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

OFFICE_EM = [f"{n}" for n in (*range(99202, 99206), *range(99211, 99216))]
TIMED_THERAPY = ["97110", "97112", "97140", "97530"]
COLONOSCOPY = ["G0105", "G0121"]
EXTERNAL_CAUSES = ["W19.XXXA", "W01.0XXA", "V43.52XA", "X58.XXXA", "Y92.009"]
DIAGNOSES = ["I10", "E11.9", "M54.50", "J06.9", "Z00.00", "M17.11", "L97.412", "D48.5",
             "N18.31", "E55.9", "K57.30", "Z12.11", "R51.9", "S52.501A", "M23.221"]
MODIFIERS = ["25", "59", "26", "TC", "50", "80", "AS", "24", "76", "91", "LT", "RT", "GC", "XS"]
NPIS = ("1234567893", "1245319599", "1326050543")
FIRST_DAY = date(2026, 1, 1)  # the claims checked: 2026-01-01 .. 2026-06-30

PACK_YAML = 'id: relational-bench\nversion: "1"\nname: Relational benchmark\n'

RULES = '''
valueset office_em = hcpcs {99202..99205, 99211..99215}
valueset timed_therapy = hcpcs {97110, 97112, 97140, 97530}
valueset external_causes = icd10 {V00..Y99}

table aoc from "tables/aoc.csv"
  columns addon hcpcs, primary hcpcs, edit_type integer, effective_date date, deletion_date date
  rows effective from effective_date through deletion_date

table mpfs from "tables/mpfs.csv"
  columns hcpcs hcpcs, pctc integer, global_days text, bilateral integer, assistant integer,
          effective_date date, deletion_date date
  rows effective from effective_date through deletion_date

table ncci from "tables/ncci.csv"
  columns column1 hcpcs, column2 hcpcs, modifier_indicator integer, effective_date date,
          deletion_date date
  rows effective from effective_date through deletion_date

table mue from "tables/mue.csv"
  columns code hcpcs, limit integer, adjudication integer, effective_date date, deletion_date date
  rows effective from effective_date through deletion_date

rule AOC-PRIMARY "Type 1 add-on code without one of its primary codes on the date"
  category bundling
  for each line where line.procedure in aoc.addon and aoc[line.procedure].edit_type = 1
  require (any other line where other.service_date = line.service_date
      and other.procedure in aoc[line.procedure].primary)
    or (any earlier line where earlier.service_date = line.service_date
      and earlier.billing_npi = claim.billing_npi
      and earlier.procedure in aoc[line.procedure].primary)
  else deny line CO-107

rule EM-MINOR-25 "Office visit on the day of a minor procedure without modifier 25"
  category modifier
  for each line where line.procedure in office_em and no line.modifier in {25}
  require no other line where other.service_date = line.service_date
    and mpfs[other.procedure].global_days in {"000", "010"}
  else deny line CO-97 M144

rule EM-SAME-DAY "More than one office visit on one date"
  category frequency
  for each line where line.procedure in office_em
  require count of other lines where (other.procedure in office_em
      and other.service_date = line.service_date
      and other.number < line.number) = 0
  else review line CO-97

rule GLOBAL-90-VISIT "Office visit in the 90-day global period of the same provider's surgery"
  category bundling
  for each line where line.procedure in office_em and no line.modifier in {24, 25, 57}
  require no earlier line where earlier.billing_npi = claim.billing_npi
    and mpfs[earlier.procedure].global_days = "090"
    and line.service_date is 1 to 90 days after earlier.service_date
  else deny line CO-97 M144 "in the global period of {earlier.procedure} on {earlier.service_date} (claim {earlier.claim_id})"

rule BILATERAL-UNITS "Modifier 50 on a line of more than one unit"
  category modifier
  for each line where any line.modifier in {50}
  require line.units = 1
  else deny line CO-4

rule BILATERAL-INDICATOR "Modifier 50 on a code the fee schedule does not pay as bilateral"
  category modifier
  for each line where any line.modifier in {50}
  require mpfs[line.procedure].bilateral = 1 or mpfs[line.procedure].bilateral = 3
  else review line CO-4

rule PC-TC-SPLIT "Professional and technical components on two lines of one date"
  category modifier
  for each line where any line.modifier in {26} and mpfs[line.procedure].pctc = 1
  require no other line where other.procedure = line.procedure
    and other.service_date = line.service_date
    and any other.modifier in {TC}
  else review line CO-4

rule ASSISTANT-SURGERY "Assistant at surgery on a code that never pays an assistant"
  category modifier
  for each line where any line.modifier in {80, 81, 82, AS}
  require mpfs[line.procedure].assistant != 1
  else deny line CO-54

rule DUP-SERVICE "Same service, date, provider and modifiers as another claim"
  category duplicate_claim
  for each line where no line.modifier in {76, 77, 91}
  require no earlier line where earlier.procedure = line.procedure
    and earlier.service_date = line.service_date
    and earlier.billing_npi = claim.billing_npi
    and earlier.modifier = line.modifier
  else deny line CO-18 "already billed on claim {earlier.claim_id}"

rule EXTERNAL-CAUSE-FIRST "External cause code listed as the first diagnosis"
  category claim_data
  require claim.first_diagnosis not in external_causes
  else deny claim CO-16 MA63

rule THERAPY-UNITS "More than four units of timed therapy on one date"
  category unit_limit
  for each line where line.procedure in timed_therapy
  require line.units
      + sum of other.units where (other.procedure in timed_therapy
        and other.service_date = line.service_date) <= 4
  else deny line CO-119

rule NCCI-PTP "Column-two code with its column-one code on the date, across claims"
  category bundling
  for each line
  require not bundled per ncci across claims
  else deny line CO-236 N20

rule MUE "Units over the MUE, across the provider's claims of the date"
  category unit_limit
  for each line
  require units within mue across claims
  else deny line CO-151 N362

rule FREQ-COLONOSCOPY "Screening colonoscopy (G0121) within 10 years of the last"
  category frequency
  for each line where line.procedure in {G0121}
  require no earlier line where earlier.procedure in {G0105, G0121}
    and earlier.service_date is 0 to 119 calendar months before line.service_date
  else deny line CO-119
'''


@dataclass
class Tables:
    """The tables' rows, as the pack's CSV files hold them (dates as date or None)."""

    aoc: list = field(default_factory=list)   # (addon, primary, edit_type, start, end)
    mpfs: list = field(default_factory=list)  # (hcpcs, pctc, global_days, bilateral, assistant, start, end)
    ncci: list = field(default_factory=list)  # (column1, column2, indicator, start, end)
    mue: list = field(default_factory=list)   # (code, limit, adjudication, start, end)
    procedures: list = field(default_factory=list)  # every code, most billed first
    by_global: dict = field(default_factory=dict)  # global days -> codes


def _universe(rng: random.Random, size: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < size:  # CPT: families of consecutive codes
        start = rng.randrange(10004, 96000)
        codes.update(f"{n:05d}" for n in range(start, start + rng.randint(4, 30)))
    ordered = sorted(codes - set(OFFICE_EM) - set(TIMED_THERAPY))
    rng.shuffle(ordered)
    return ordered


def _cms_date(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day else "*"


def build_tables(seed: int, pairs: int = 60_000) -> Tables:
    rng = random.Random(seed)
    t = Tables()
    codes = _universe(rng, 6_500)
    start = date(2020, 1, 1)
    for code in codes:
        glob = rng.choices(("000", "010", "090", "ZZZ", "XXX"), (25, 15, 15, 10, 35))[0]
        t.mpfs.append((code, 1 if rng.random() < 0.15 else rng.choice((0, 0, 5, 9)), glob,
                       rng.choices((0, 1, 2, 3, 9), (55, 25, 5, 5, 10))[0],
                       rng.choices((0, 1, 2, 9), (20, 40, 30, 10))[0], start, None))
        t.by_global.setdefault(glob, []).append(code)
    for code in OFFICE_EM + TIMED_THERAPY + COLONOSCOPY:
        t.mpfs.append((code, 0, "XXX", 0, 9, start, None))
    primaries = [c for c in codes if c not in set(t.by_global["ZZZ"])]
    for addon in t.by_global["ZZZ"]:
        kind = rng.choices((1, 2, 3), (80, 10, 10))[0]
        for primary in rng.sample(primaries, rng.randint(1, 4)) if kind != 2 else [None]:
            t.aoc.append((addon, primary, kind, date(2013, 1, 1), None))
    seen = set()
    while len(t.ncci) < pairs:
        c1, c2 = rng.choice(codes[:3000]), rng.choice(codes[:3000])
        if c1 == c2 or (c1, c2) in seen:
            continue
        seen.add((c1, c2))
        begin = date(rng.randrange(2010, 2026), rng.randrange(1, 13), 1)
        end = None if rng.random() < 0.85 else begin + timedelta(days=rng.randrange(30, 3000))
        t.ncci.append((c1, c2, rng.choices((0, 1, 9), (30, 65, 5))[0], begin, end))
    for code in rng.sample(codes, 4_000) + TIMED_THERAPY:
        t.mue.append((code, rng.choice((1, 1, 2, 2, 3, 4, 6, 8)), rng.choices((1, 2, 3), (40, 35, 25))[0],
                      date(2026, 1, 1), date(2026, 6, 30)))
    t.procedures = codes
    return t


def write_pack(tables: Tables, folder: Path) -> Path:
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(PACK_YAML, encoding="utf-8")
    (folder / "main.rules").write_text(RULES.lstrip(), encoding="utf-8")
    files = {
        "aoc.csv": ("addon,primary,edit_type,effective_date,deletion_date",
                    [(a, p or "", k, _cms_date(s), _cms_date(e)) for a, p, k, s, e in tables.aoc]),
        "mpfs.csv": ("hcpcs,pctc,global_days,bilateral,assistant,effective_date,deletion_date",
                     [(*r[:5], _cms_date(r[5]), _cms_date(r[6])) for r in tables.mpfs]),
        "ncci.csv": ("column1,column2,modifier_indicator,effective_date,deletion_date",
                     [(*r[:3], _cms_date(r[3]), _cms_date(r[4])) for r in tables.ncci]),
        "mue.csv": ("code,limit,adjudication,effective_date,deletion_date",
                    [(*r[:3], _cms_date(r[3]), _cms_date(r[4])) for r in tables.mue]),
    }
    for name, (header, rows) in files.items():
        text = header + "\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows)
        (folder / "tables" / name).write_text(text, encoding="utf-8")
    return folder


class ClaimMaker:
    """Claims whose lines meet the relational policies often enough for each to fire: visits
    with minor procedures, add-ons with and without their primaries, bilateral, PC/TC and
    assistant modifiers, timed therapy, external causes listed first, NCCI pairs."""

    def __init__(self, tables: Tables, seed: int, members: int):
        self.rng = random.Random(seed)
        self.t = tables
        self.members = [f"M{n:07d}" for n in range(members)]
        self.popular = tables.procedures[:1500]
        self.addons = {}
        for addon, primary, kind, *_ in tables.aoc:
            self.addons.setdefault(addon, []).append(primary)
        self.addon_codes = sorted(self.addons)
        self.pairs = [(c1, c2) for c1, c2, *_ in tables.ncci[:5000]]

    def _procedures(self, n: int) -> list[tuple[str, list[str], int]]:
        rng, t = self.rng, self.t
        out: list[tuple[str, list[str], int]] = []
        roll = rng.random()
        if roll < 0.25:  # a visit, maybe with a minor procedure, now and then two
            out.append((rng.choice(OFFICE_EM), ["25"] if rng.random() < 0.4 else [], 1))
            if rng.random() < 0.05:
                out.append((rng.choice(OFFICE_EM), [], 1))
        elif roll < 0.32:  # an add-on, with its primary most of the time
            addon = rng.choice(self.addon_codes)
            primary = rng.choice(self.addons[addon])
            if primary and rng.random() < 0.7:
                out.append((primary, [], 1))
            out.append((addon, [], 1))
        elif roll < 0.38:  # timed therapy
            for code in rng.sample(TIMED_THERAPY, rng.randint(1, 3)):
                out.append((code, ["GP"], rng.randint(1, 3)))
        elif roll < 0.42:  # an NCCI pair
            out.extend((code, [], 1) for code in rng.choice(self.pairs))
        elif roll < 0.44:
            out.append((rng.choice(COLONOSCOPY), [], 1))
        while len(out) < n:
            code = rng.choice(self.popular) if rng.random() < 0.8 else rng.choice(t.procedures)
            mods: list[str] = []
            if rng.random() < 0.2:
                mods = rng.sample(MODIFIERS, rng.choice((1, 1, 2)))
            if rng.random() < 0.03:  # professional and technical components
                out.append((code, ["26"], 1))
                mods = ["TC"]
            out.append((code, mods, 1 if rng.random() < 0.95 else rng.choice((2, 3, 4))))
        return out

    def resubmitted(self, claim_id: str, earlier: dict) -> dict:
        """An earlier claim sent again under a new id: its lines are duplicates."""
        return {**earlier, "claim_id": claim_id}

    def claim(self, claim_id: str, first: date, days: int, lines: int | None = None,
              dates: int = 1) -> dict:
        rng = self.rng
        n = lines or rng.choices((1, 2, 3, 4, 5, 6, 8), (22, 24, 18, 13, 10, 8, 5))[0]
        base = first + timedelta(days=rng.randrange(days))
        chosen = self._procedures(n)
        day_of = [base + timedelta(days=rng.randrange(dates)) for _ in chosen] if dates > 1 else None
        rows = []
        for number, (code, mods, units) in enumerate(chosen, 1):
            day = day_of[number - 1] if day_of else (base if rng.random() < 0.9 else base + timedelta(days=1))
            rows.append({"line_number": number, "procedure": code, "modifiers": mods, "units": units,
                         "charge": 100.0, "service_date": day.isoformat(), "diagnosis_pointers": [1]})
        first_dx = rng.choice(EXTERNAL_CAUSES) if rng.random() < 0.02 else rng.choice(DIAGNOSES)
        return {"claim_id": claim_id, "claim_type": "professional", "frequency_code": "1",
                "payer": {"id": "relational-bench", "plan": "PartB"},
                "received_date": (base + timedelta(days=dates + 5)).isoformat(),
                "place_of_service": "11",
                "billing_provider": {"npi": rng.choice(NPIS), "taxonomy": "207Q00000X"},
                "patient": {"member_id": rng.choice(self.members), "birth_date": "1950-05-05", "sex": "F"},
                "diagnoses": [first_dx, rng.choice(DIAGNOSES)], "lines": rows}
