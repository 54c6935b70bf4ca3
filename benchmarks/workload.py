"""A payer's policies as data, written out as a rule pack, and a stream of claims to check.

Everything is drawn from one ``random.Random(seed)``, so a seed names a workload. The
policies (``Spec``) are the single source: ``write_pack`` turns them into rule files and
CSV tables, ``handwritten.HandChecker`` turns the very same objects into hand-written
Python, and ``claim_dicts`` draws claims that meet them often enough to fire.

Shapes follow real files: CPT codes are five digits in clusters (a family of codes sits
on consecutive numbers, which is what ranges like ``70551..70553`` describe), HCPCS Level
II codes a letter and four digits, ICD-10-CM codes a category (letter, digit, digit) and
up to four characters after the dot. The NCCI table has CMS's columns and dates
(``YYYYMMDD``, ``*`` for "not deleted"), repeats some pairs with successive windows, and
the MUE table carries adjudication indicators 1 (per line), 2 and 3 (per date of service).
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

# ---- policies as data ----------------------------------------------------------------------
#
# A code set entry is a code ("82306", "E83.52"), a pattern ("J9*", "J18.*", "R06.0*") or an
# inclusive range, written as a (low, high) tuple. ICD-10-CM entries match by hierarchy.

PLANS = ("PartB", "HMO", "PPO", "EPO", "POS", "Medicaid")
BYPASS = ("59", "XE", "XP", "XS", "XU")


@dataclass
class Policy:
    id: str
    title: str
    start: date | None = None
    end: date | None = None
    citation: str | None = None


@dataclass
class Necessity(Policy):
    """The line's diagnoses (or the claim's) must include one the LCD lists."""
    procs: tuple = ()
    dx: str = ""               # value set name
    claim_wide: bool = False   # any claim.diagnosis instead of any line.diagnosis
    plans: frozenset | None = None
    professional_only: bool = False


@dataclass
class PriorAuth(Policy):
    procs: str = ""            # value set name (hcpcs)
    plans: frozenset = frozenset()
    line_auth_counts: bool = True  # a line-level authorization number also satisfies it
    severity: str = "deny"


@dataclass
class AgeEdit(Policy):
    procs: tuple = ()
    field: str = "age"         # age or age_days
    op: str = "<"
    bound: int = 18


@dataclass
class SexProcEdit(Policy):
    procs: tuple = ()
    op: str = "="              # patient.sex = "F"  /  patient.sex != "M"
    sex: str = "F"


@dataclass
class SexDiagnosisEdit(Policy):
    """A claim for a patient of one sex must not carry diagnoses of the other."""
    sex: str = "M"             # the guard: when patient.sex = sex
    dx: str = ""


@dataclass
class FilingLimit(Policy):
    plans: frozenset | None = None
    plans_negated: bool = False    # when not claim.plan in {...}
    frequencies: frozenset | None = None
    institutional_only: bool = False
    amount: int = 90
    unit: str = "days"


@dataclass
class PlaceOfServiceEdit(Policy):
    procs: tuple = ()
    allowed: tuple = ()


@dataclass
class ModifierEdit(Policy):
    procs: tuple = ()
    quantifier: str = "no"     # no / any / all
    modifiers: tuple = ()


@dataclass
class CodeValidity(Policy):
    procs: tuple = ()
    op: str = "<="             # deleted: service_date <= day; new: service_date >= day
    day: date = date(2026, 1, 1)


@dataclass
class NdcRequired(Policy):
    procs: tuple = ()


@dataclass
class PlaceOfServicePresent(Policy):
    """Every line needs a place of service (its own or the claim's); one finding per claim."""


@dataclass
class Bundling(Policy):
    table: str = ""
    claim_type: str = "professional"


@dataclass
class UnitLimit(Policy):
    table: str = ""
    claim_type: str = "professional"


@dataclass
class Spec:
    valuesets: dict = field(default_factory=dict)   # name -> (kind, entries)
    policies: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)      # name -> (columns, rows)
    procedures: list = field(default_factory=list)  # by popularity, most billed first
    proc_weights: list = field(default_factory=list)
    diagnoses: list = field(default_factory=list)
    supporting_dx: dict = field(default_factory=dict)  # procedure -> [diagnoses an LCD accepts, per LCD]
    pairs_by_code: dict = field(default_factory=dict)  # column2 -> [column1, ...]

    @property
    def rule_count(self) -> int:
        return len(self.policies)


# ---- code universes -----------------------------------------------------------------------

def _procedure_universe(rng: random.Random) -> list[str]:
    codes: set[str] = set()
    while len(codes) < 5200:  # CPT: families of consecutive codes
        start = rng.randrange(10004, 99600)
        for n in range(start, min(start + rng.randint(4, 30), 100000)):
            codes.add(f"{n:05d}")
    letters = "AEGJKLQ"
    while len(codes) < 6600:  # HCPCS Level II
        letter = rng.choice(letters)
        start = rng.randrange(0, 9900)
        for n in range(start, start + rng.randint(3, 20)):
            if n < 10000:
                codes.add(f"{letter}{n:04d}")
    while len(codes) < 6700:  # CPT category III and PLA codes
        codes.add(f"{rng.randrange(1, 999):04d}{rng.choice('TU')}")
    ordered = sorted(codes)
    rng.shuffle(ordered)  # the shuffle is the popularity order
    return ordered


def _diagnosis_universe(rng: random.Random) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTVZ"
    categories: set[str] = set()
    while len(categories) < 520:
        categories.add(f"{rng.choice(letters)}{rng.randrange(0, 100):02d}")
    codes: list[str] = []
    for cat in sorted(categories):
        shape = rng.random()
        if shape < 0.08:
            codes.append(cat)  # a billable category, like I10
            continue
        subs: set[str] = set()
        for _ in range(rng.randint(2, 9)):
            if cat[0] in "ST" and rng.random() < 0.7:
                subs.add(f"{rng.randrange(0, 10)}{rng.randrange(0, 10)}{rng.randrange(0, 10)}{rng.choice('ADS')}")
            elif rng.random() < 0.45:
                subs.add(f"{rng.randrange(0, 10)}{rng.randrange(0, 10)}")
            else:
                subs.add(str(rng.randrange(0, 10)))
        codes.extend(f"{cat}.{s}" for s in sorted(subs))
    return codes


def _flat(dx: str) -> str:
    return dx.replace(".", "")


def icd_matches(entries, dx: str) -> bool:
    """Does an ICD-10-CM code list cover ``dx``? (Used only to draw claims that fire.)"""
    flat = _flat(dx)
    for e in entries:
        if isinstance(e, tuple):
            lo, hi = _flat(e[0]), _flat(e[1])
            if len(flat) >= len(lo) and lo <= flat[: len(lo)] <= hi:
                return True
        elif flat.startswith(_flat(e.rstrip("*").rstrip("."))):
            return True
    return False


def hcpcs_matches(entries, code: str) -> bool:
    for e in entries:
        if isinstance(e, tuple):
            if len(code) == len(e[0]) and e[0] <= code <= e[1]:
                return True
        elif e.endswith("*"):
            if code.startswith(e[:-1]):
                return True
        elif code == e:
            return True
    return False


# ---- the policies ---------------------------------------------------------------------------

def _icd_entries(rng: random.Random, by_category: dict, categories: list, n: int) -> list:
    entries: list = []
    for cat in rng.sample(categories, n):
        subs = by_category[cat]
        roll = rng.random()
        if roll < 0.30 or len(subs) == 1:
            entries.append(cat)                                  # E55: the category and below
        elif roll < 0.45:
            entries.append(f"{cat}.*")                           # J18.*
        elif roll < 0.60 and len(subs[0]) > 5:
            entries.append(subs[0][:5] + "*")                    # R06.0*
        elif roll < 0.80:
            entries.append(rng.choice(subs))                     # E83.52
        else:
            same = [s for s in subs if len(s) == len(subs[0])]
            if len(same) >= 2:
                lo, hi = sorted(rng.sample(same, 2))
                entries.append((lo, hi))                         # M81.0..M81.8
            else:
                entries.append(rng.choice(subs))
    if rng.random() < 0.25:  # a range of categories, as LCDs write E08..E13
        cat = rng.choice(categories)
        num = int(cat[1:])
        if num <= 95:
            entries.append((cat, f"{cat[0]}{num + rng.randint(1, 4):02d}"))
    return entries


def _hcpcs_entries(rng: random.Random, pool: list, universe: set, n: int, ranges=True) -> list:
    """n codes from ``pool``, some widened to the family of consecutive codes around them."""
    entries: list = []
    for code in rng.sample(pool, n):
        if ranges and code.isdigit() and rng.random() < 0.25:
            hi = int(code)
            while f"{hi + 1:05d}" in universe and hi - int(code) < 4:
                hi += 1
            if hi > int(code):
                entries.append((code, f"{hi:05d}"))
                continue
        entries.append(code)
    return entries


def build_spec(seed: int, pairs: int) -> Spec:
    rng = random.Random(seed)
    spec = Spec()
    procs = _procedure_universe(rng)
    spec.procedures = procs
    spec.proc_weights = list(itertools.accumulate(1.0 / (i + 8) ** 1.05 for i in range(len(procs))))
    universe = set(procs)
    common, usual = procs[:600], procs[:2500]
    rarer = procs[1500:5000]  # edits that seldom fire: age, sex, place of service
    dxs = _diagnosis_universe(rng)
    spec.diagnoses = dxs
    by_category: dict[str, list[str]] = {}
    for d in dxs:
        by_category.setdefault(d[:3], []).append(d)
    categories = sorted(by_category)
    P = spec.policies
    V = spec.valuesets

    # medical necessity: ~230 rules, some LCDs revised on 2026-01-01 (two windows)
    n = 0
    for k in range(150):
        name = f"lcd_{k:03d}_dx"
        V[name] = ("icd10", _icd_entries(rng, by_category, categories, rng.randint(3, 14)))
        codes = _hcpcs_entries(rng, usual if k % 3 else common, universe, rng.randint(1, 5))
        revised = rng.random() < 0.35
        windows = ([(date(2025, 7, 1), date(2025, 12, 31)), (date(2026, 1, 1), None)] if revised
                   else [rng.choice([(None, None), (date(2025, 10, 1), date(2026, 9, 30)),
                                     (date(2025, 1, 1), None)])])
        for w, (start, end) in enumerate(windows):
            dx_name = name
            if w == 1:  # the revision adds diagnoses
                dx_name = f"lcd_{k:03d}_dx_r2"
                V[dx_name] = ("icd10", V[name][1] + _icd_entries(rng, by_category, categories, 2))
            n += 1
            roll = rng.random()
            P.append(Necessity(
                id=f"MN-{n:04d}", title=f"LCD L3{4000 + k} coverage indications", start=start,
                end=end, citation=f"LCD L3{4000 + k}, article A5{6000 + k}", procs=tuple(codes),
                dx=dx_name, claim_wide=roll < 0.1,
                plans=frozenset(rng.sample(PLANS, 2)) if 0.1 <= roll < 0.2 else None,
                professional_only=0.2 <= roll < 0.3))
    for policy in P:
        if isinstance(policy, Necessity):
            entries = V[policy.dx][1]
            support = [d for d in dxs if icd_matches(entries, d)]
            for code in universe_codes(policy.procs, universe):
                spec.supporting_dx.setdefault(code, []).append(support)

    # prior authorization: 60 code lists, each for a set of plans
    for k in range(60):
        name = f"pa_list_{k:02d}"
        entries = _hcpcs_entries(rng, procs[200:3000], universe, rng.randint(2, 12))
        if k % 15 == 0:  # whole families: J9* chemotherapy drugs, 0*U lab tests
            entries.append(rng.choice(["J9*", "J1*", "E0*", "L3*"]) if k else "J9*")
        V[name] = ("hcpcs", entries)
        plans = frozenset(rng.sample(["HMO", "EPO", "POS", "Medicaid", "PPO"], rng.randint(1, 3)))
        start = rng.choice([None, date(2025, 10, 1), date(2026, 1, 1)])
        P.append(PriorAuth(id=f"PA-{k + 1:03d}", title="Prior authorization required", start=start,
                           citation=f"Prior authorization list, {2026 if start else 2025}",
                           procs=name, plans=plans, line_auth_counts=rng.random() < 0.7,
                           severity="review" if k % 7 == 0 else "deny"))

    # age edits
    for k in range(40):
        codes = tuple(_hcpcs_entries(rng, rarer, universe, rng.randint(1, 6)))
        field_, op, bound = rng.choice([("age", "<", 18), ("age", ">=", 65), ("age", ">=", 18),
                                        ("age", "<", 22), ("age_days", "<=", 28),
                                        ("age", "<=", 2), ("age", ">=", 50)])
        P.append(AgeEdit(id=f"AGE-{k + 1:03d}", title=f"Procedure limited to patients with {field_} {op} {bound}",
                         procs=codes, field=field_, op=op, bound=bound,
                         start=rng.choice([None, None, date(2025, 10, 1)])))
    # sex edits: by procedure (line), and by diagnosis (claim)
    for k in range(30):
        codes = tuple(_hcpcs_entries(rng, rarer, universe, rng.randint(1, 5)))
        op, sex = rng.choice([("=", "F"), ("=", "M"), ("!=", "M"), ("!=", "F")])
        P.append(SexProcEdit(id=f"SEX-P{k + 1:03d}", title="Procedure inconsistent with the patient's sex",
                             procs=codes, op=op, sex=sex))
    for k in range(8):
        name = f"sex_dx_{k}"
        V[name] = ("icd10", [rng.choice(dxs) for _ in range(rng.randint(1, 3))])
        P.append(SexDiagnosisEdit(id=f"SEX-D{k + 1:03d}", title="Diagnosis inconsistent with the patient's sex",
                                  sex="M" if k % 2 else "F", dx=name))

    # filing limits
    filing = [
        ("TF-PARTB", frozenset({"PartB"}), False, None, False, 1, "year", None, None),
        ("TF-HMO-2025", frozenset({"HMO", "EPO"}), False, None, False, 180, "days", date(2000, 1, 1), date(2025, 12, 31)),
        ("TF-HMO-2026", frozenset({"HMO", "EPO"}), False, None, False, 90, "days", date(2026, 1, 1), None),
        ("TF-PPO", frozenset({"PPO", "POS"}), False, None, False, 180, "days", None, None),
        ("TF-MCD", frozenset({"Medicaid"}), False, None, False, 12, "months", None, None),
        ("TF-MCD-INST", frozenset({"Medicaid"}), False, None, True, 6, "months", date(2025, 10, 1), None),
        ("TF-REPL", None, False, frozenset({"7", "8"}), False, 365, "days", None, None),
        ("TF-OUTER", None, False, None, False, 2, "years", None, None),
        ("TF-NONPARTB", frozenset({"PartB"}), True, None, False, 18, "months", None, None),
        ("TF-INST", None, False, None, True, 270, "days", None, None),
        ("TF-POS-2026", frozenset({"POS"}), False, None, False, 120, "days", date(2026, 1, 1), None),
        ("TF-EPO-REPL", frozenset({"EPO"}), False, frozenset({"7"}), False, 60, "days", None, None),
    ]
    for id_, plans, neg, freqs, inst, amount, unit, start, end in filing:
        P.append(FilingLimit(id=id_, title="Timely filing", plans=plans, plans_negated=neg,
                             frequencies=freqs, institutional_only=inst, amount=amount, unit=unit,
                             start=start, end=end, citation="Provider manual, chapter 4"))

    # place of service, modifiers, code validity, drug lines
    for k in range(20):
        P.append(PlaceOfServiceEdit(
            id=f"POS-{k + 1:03d}", title="Procedure not payable in this place of service",
            procs=tuple(_hcpcs_entries(rng, rarer, universe, rng.randint(1, 4))),
            allowed=tuple(sorted(rng.sample(["11", "19", "21", "22", "23", "24", "02", "10", "12"],
                                            rng.randint(2, 5))))))
    for k in range(20):
        quant, mods = rng.choice([("no", ("50",)), ("no", ("LT", "RT")), ("any", ("26", "TC")),
                                  ("all", ("95", "GT", "GQ", "FQ", "93")), ("no", ("80", "82", "AS"))])
        P.append(ModifierEdit(id=f"MOD-{k + 1:03d}", title="Modifier not valid with this procedure",
                              procs=tuple(_hcpcs_entries(rng, usual, universe, rng.randint(1, 5))),
                              quantifier=quant, modifiers=mods))
    for k in range(20):
        op = "<=" if k % 2 else ">="
        day = date(2025, 12, 31) if op == "<=" else date(2026, 1, 1)
        P.append(CodeValidity(id=f"CV-{k + 1:03d}", title="Code not valid on the date of service",
                              procs=tuple(_hcpcs_entries(rng, usual, universe, rng.randint(1, 4), ranges=False)),
                              op=op, day=day))
    j_codes = [c for c in usual if c.startswith("J")]
    for k in range(8):
        P.append(NdcRequired(id=f"NDC-{k + 1:03d}", title="Drug lines need an NDC",
                             procs=tuple(_hcpcs_entries(rng, j_codes, universe, min(6, len(j_codes)), ranges=False))))
    P.append(PlaceOfServicePresent(id="DATA-POS", title="Every line needs a place of service"))

    # tables: NCCI pairs and MUEs, professional and facility
    ncci_rows, spec.pairs_by_code = _ncci_rows(rng, procs, pairs)
    spec.tables["ncci_pro"] = (("column1", "column2", "modifier_indicator", "effective_date", "deletion_date"), ncci_rows)
    fac_rows, _ = _ncci_rows(rng, procs, max(2000, pairs // 5))
    spec.tables["ncci_fac"] = (("column1", "column2", "modifier_indicator", "effective_date", "deletion_date"), fac_rows)
    spec.tables["mue_pro"] = (("code", "limit", "adjudication", "effective_date", "deletion_date"), _mue_rows(rng, procs, 4500))
    spec.tables["mue_fac"] = (("code", "limit", "adjudication", "effective_date", "deletion_date"), _mue_rows(rng, procs, 3000))
    P.append(Bundling(id="NCCI-PRO", title="NCCI procedure-to-procedure edit (practitioner)",
                      table="ncci_pro", claim_type="professional", citation="CMS NCCI PTP, practitioner"))
    P.append(Bundling(id="NCCI-FAC", title="NCCI procedure-to-procedure edit (hospital outpatient)",
                      table="ncci_fac", claim_type="institutional", citation="CMS NCCI PTP, outpatient hospital"))
    P.append(UnitLimit(id="MUE-PRO", title="Units over the medically unlikely edit (practitioner)",
                       table="mue_pro", claim_type="professional", citation="CMS MUE, practitioner"))
    P.append(UnitLimit(id="MUE-FAC", title="Units over the medically unlikely edit (facility)",
                       table="mue_fac", claim_type="institutional", citation="CMS MUE, facility outpatient"))
    return spec


def universe_codes(entries, universe: set) -> list[str]:
    return [c for c in universe if hcpcs_matches(entries, c)] if any(
        isinstance(e, tuple) or e.endswith("*") for e in entries) else [e for e in entries if e in universe]


def _yyyymmdd(day: date | None) -> str:
    return "*" if day is None else day.strftime("%Y%m%d")


def _ncci_rows(rng: random.Random, procs: list[str], count: int):
    """column1, column2, indicator, effective, deletion: dense among common codes, as real
    edits are; about 3% of pairs appear twice, the old row deleted when the new one starts."""
    rows, seen = [], set()
    by_col2: dict[str, list[str]] = {}
    hot, warm = procs[:400], procs[:3000]
    while len(rows) < count:
        pool = hot if rng.random() < 0.05 else warm
        c1, c2 = rng.choice(pool), rng.choice(pool)
        if c1 == c2 or (c1, c2) in seen:
            continue
        seen.add((c1, c2))
        by_col2.setdefault(c2, []).append(c1)
        mi = rng.choices((0, 1, 9), (25, 70, 5))[0]
        start = date(rng.choice([1996, 2002, 2010, 2015, 2019, 2022, 2024, 2025]), rng.choice([1, 4, 7, 10]), 1)
        end = None
        if rng.random() < 0.04:
            end = date(2025, 9, 30)  # deleted before most claims
        if rng.random() < 0.03:  # re-issued with another indicator from 2026-01-01
            rows.append((c1, c2, mi, _yyyymmdd(start), "20251231"))
            mi = rng.choices((0, 1, 9), (30, 65, 5))[0]
            start, end = date(2026, 1, 1), None
        rows.append((c1, c2, mi, _yyyymmdd(start), _yyyymmdd(end)))
    rng.shuffle(rows)
    return rows, {k: sorted(v) for k, v in by_col2.items()}


def _mue_rows(rng: random.Random, procs: list[str], count: int):
    rows = []
    for code in rng.sample(procs[:5000], count):
        limit = rng.choices((1, 2, 3, 4, 6, 10, 30), (35, 20, 12, 10, 9, 8, 6))[0]
        mai = rng.choices((1, 2, 3), (25, 50, 25))[0]
        if rng.random() < 0.05:  # the limit changed at the start of 2026
            rows.append((code, limit, mai, "20200101", "20251231"))
            rows.append((code, limit + rng.choice((-1, 1, 2)) if limit > 1 else 2, mai, "20260101", "*"))
        else:
            rows.append((code, limit, mai, _yyyymmdd(date(rng.choice([2007, 2013, 2020]), 1, 1)), "*"))
    return rows


# ---- the pack, as an analyst would write it ----------------------------------------------------

def _code(entry) -> str:
    return f"{entry[0]}..{entry[1]}" if isinstance(entry, tuple) else entry


def _codes(entries) -> str:
    return "{" + ", ".join(_code(e) for e in entries) + "}"


def _texts(values) -> str:
    return "{" + ", ".join(f'"{v}"' for v in sorted(values)) + "}"


def _header(p: Policy, category: str) -> list[str]:
    lines = [f'rule {p.id} "{p.title}"', f"  category {category}"]
    if p.citation:
        lines.append(f'  citation "{p.citation}"')
    if p.start and p.end:
        lines.append(f"  effective {p.start} through {p.end}")
    elif p.start:
        lines.append(f"  effective {p.start}")
    return lines


def rule_text(p: Policy) -> str:
    if isinstance(p, Necessity):
        out = _header(p, "medical_necessity")
        if p.plans:
            out.append(f"  when claim.plan in {_texts(p.plans)}")
        where = f"line.procedure in {_codes(p.procs)}"
        if p.professional_only:
            where += ' and claim.type = "professional"'
        out.append(f"  for each line where {where}")
        out.append(f"  require any {'claim' if p.claim_wide else 'line'}.diagnosis in {p.dx}")
        out.append('  else deny line CO-50 N115 "{line.procedure} is not covered for the diagnoses billed"')
    elif isinstance(p, PriorAuth):
        out = _header(p, "prior_auth")
        out.append(f"  when claim.plan in {_texts(p.plans)}")
        out.append(f"  for each line where line.procedure in {p.procs}")
        need = "claim.prior_authorization is present"
        if p.line_auth_counts:
            need += " or line.prior_authorization is present"
        out.append(f"  require {need}")
        out.append(f'  else {p.severity} line CO-197 N54 "{{line.procedure}} needs prior authorization on plan {{claim.plan}}"')
    elif isinstance(p, AgeEdit):
        out = _header(p, "age")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append(f"  require patient.{p.field} {p.op} {p.bound}")
        out.append('  else deny line CO-6 "{line.procedure} is not payable at age {patient.age}"')
    elif isinstance(p, SexProcEdit):
        out = _header(p, "sex")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append(f'  require patient.sex {p.op} "{p.sex}"')
        out.append("  else deny line CO-7")
    elif isinstance(p, SexDiagnosisEdit):
        out = _header(p, "sex")
        out.append(f'  when patient.sex = "{p.sex}"')
        out.append(f"  require no claim.diagnosis in {p.dx}")
        out.append('  else deny claim CO-7 "a diagnosis is inconsistent with the patient\'s sex ({patient.sex})"')
    elif isinstance(p, FilingLimit):
        out = _header(p, "filing_limit")
        guards = []
        if p.plans is not None:
            guards.append(("not " if p.plans_negated else "") + f"claim.plan in {_texts(p.plans)}")
        if p.frequencies is not None:
            guards.append(f"claim.frequency_code in {_texts(p.frequencies)}")
        if p.institutional_only:
            guards.append('claim.type = "institutional"')
        if guards:
            out.append("  when " + " and ".join(guards))
        out.append(f"  require claim.received_date <= claim.last_service_date + {p.amount} {p.unit}")
        out.append('  else deny claim CO-29 "received {claim.received_date}, after the filing limit"')
    elif isinstance(p, PlaceOfServiceEdit):
        out = _header(p, "place_of_service")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append(f"  require line.place_of_service in {_codes(p.allowed)}")
        out.append("  else deny line CO-5 M77")
    elif isinstance(p, ModifierEdit):
        out = _header(p, "modifier")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append(f"  require {p.quantifier} line.modifier in {_codes(p.modifiers)}")
        out.append("  else deny line CO-4")
    elif isinstance(p, CodeValidity):
        out = _header(p, "code_validity")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append(f"  require line.service_date {p.op} {p.day}")
        out.append('  else deny line CO-181 "{line.procedure} is not valid on {line.service_date}"')
    elif isinstance(p, NdcRequired):
        out = _header(p, "claim_data")
        out.append(f"  for each line where line.procedure in {_codes(p.procs)}")
        out.append("  require line.ndc is present")
        out.append("  else deny line CO-16 M119")
    elif isinstance(p, PlaceOfServicePresent):
        out = _header(p, "claim_data")
        out.append("  for each line")
        out.append("  require line.place_of_service is present")
        out.append('  else deny claim CO-16 M77 "line {line.number} has no place of service"')
    elif isinstance(p, Bundling):
        out = _header(p, "bundling")
        out.append(f'  when claim.type = "{p.claim_type}"')
        out.append("  for each line")
        out.append(f"  require not bundled per {p.table} bypass modifiers {_codes(BYPASS)}")
        out.append('  else deny line CO-97 M80 "{line.procedure} is bundled into {column1} (line {column1_line})"')
    elif isinstance(p, UnitLimit):
        out = _header(p, "unit_limit")
        out.append(f'  when claim.type = "{p.claim_type}"')
        out.append("  for each line")
        out.append(f"  require units within {p.table}")
        out.append('  else deny line CO-151 "{units_billed} units of {line.procedure}, more than {limit}"')
    else:
        raise TypeError(p)
    return "\n".join(out) + "\n"


_FILES = {
    Necessity: "necessity.rules", PriorAuth: "prior_auth.rules", FilingLimit: "filing.rules",
    Bundling: "ncci.rules", UnitLimit: "ncci.rules",
}


def write_pack(spec: Spec, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text("id: bench\nversion: \"2026.1\"\npayer: Acme Health\n"
                                      "description: generated benchmark pack\n")
    (folder / "tables").mkdir(exist_ok=True)
    texts: dict[str, list[str]] = {}
    # value sets go with the first file that names them
    vs_lines = [f"valueset {name} = {kind} {_codes(entries)}" for name, (kind, entries) in spec.valuesets.items()]
    texts["valuesets.rules"] = ["# value sets: LCD diagnosis lists, prior-authorization lists\n" + "\n".join(vs_lines) + "\n"]
    decls = []
    for name, (columns, _) in spec.tables.items():
        types = {"column1": "hcpcs", "column2": "hcpcs", "modifier_indicator": "integer", "code": "hcpcs",
                 "limit": "integer", "adjudication": "integer", "effective_date": "date", "deletion_date": "date"}
        decls.append(f'table {name} from "tables/{name}.csv"\n  columns '
                     + ", ".join(f"{c} {types[c]}" for c in columns)
                     + "\n  rows effective from effective_date through deletion_date\n")
    texts["ncci.rules"] = decls
    for p in spec.policies:
        texts.setdefault(_FILES.get(type(p), "edits.rules"), []).append(rule_text(p))
    for name, parts in texts.items():
        (folder / name).write_text("\n".join(parts), encoding="utf-8")
    for name, (columns, rows) in spec.tables.items():
        with open(folder / "tables" / f"{name}.csv", "w", encoding="utf-8") as out:
            out.write(",".join(columns) + "\n")
            out.writelines(",".join(str(v) for v in row) + "\n" for row in rows)
    return folder


# ---- claims ------------------------------------------------------------------------------------

_MODIFIERS = ["25", "59", "XS", "XU", "26", "TC", "LT", "RT", "50", "91", "GT", "95", "80", "AS", "76"]
_POS = ["11", "11", "11", "11", "22", "21", "23", "19", "02", "12", "24", "10"]
_REVENUE = ["0250", "0300", "0320", "0450", "0510", "0636", "0730", "0120"]


#: claim shapes: lines per claim (weights), and how often a line's diagnosis supports it
SHAPES = {
    "mixed": {"lines": ((1, 2, 3, 4, 5, 6, 7, 8), (24, 22, 17, 12, 9, 7, 5, 4)), "support": 0.97},
    # a high-volume feed of single services, most of them unsupported: many findings
    "one-line": {"lines": ((1,), (1,)), "support": 0.3},
}


def claim_dicts(spec: Spec, count: int, seed: int, shape: str = "mixed"):
    """``count`` claims in the JSON shape of DESIGN.md, one dict each, of a ``SHAPES`` shape."""
    rng = random.Random(seed * 7919 + 1)
    procs, cum = spec.procedures, spec.proc_weights
    total = cum[-1]
    dxs = spec.diagnoses
    support = spec.supporting_dx
    pairs = spec.pairs_by_code
    pair_keys = sorted(pairs)
    first_day = date(2025, 7, 1)
    plan_weights = (18, 22, 20, 10, 8, 12, 5)
    plans = PLANS + (None,)
    line_counts, line_weights = SHAPES[shape]["lines"]
    support_rate = SHAPES[shape]["support"]

    def draw_proc():
        return procs[bisect.bisect(cum, rng.random() * total)]

    for i in range(count):
        institutional = rng.random() < 0.15
        base = first_day + timedelta(days=rng.randrange(365))
        n_lines = rng.choices(line_counts, line_weights)[0]
        chosen: list[str] = []
        if n_lines >= 2 and rng.random() < 0.05:  # a known column-one/column-two pair
            col2 = rng.choice(pair_keys)
            chosen = [col2, rng.choice(pairs[col2])]
        while len(chosen) < n_lines:
            chosen.append(draw_proc())
        diagnoses: list[str] = []
        lines = []
        for number, proc in enumerate(chosen, 1):
            line_dx = []
            for accepted in support.get(proc, ()):  # usually a diagnosis each LCD accepts
                if rng.random() < support_rate:
                    line_dx.append(rng.choice(accepted))
            if not line_dx or rng.random() < 0.3:
                line_dx.append(rng.choice(dxs))
            line_dx = list(dict.fromkeys(line_dx))[:4]  # an 837P line points to 4 at most
            pointers = []
            for d in line_dx:
                if d not in diagnoses:
                    diagnoses.append(d)
                pointers.append(diagnoses.index(d) + 1)
            day = base if rng.random() < 0.85 else base + timedelta(days=rng.randrange(1, 4))
            mods = rng.sample(_MODIFIERS, rng.choice((1, 1, 1, 2))) if rng.random() < 0.25 else []
            units = 1 if rng.random() < 0.96 else rng.choice((2, 2, 3, 4, 5, 8, 12))
            line = {
                "line_number": number,
                "procedure": None if institutional and rng.random() < 0.1 else proc,
                "modifiers": mods,
                "units": units,
                "charge": None if rng.random() < 0.02 else round(rng.uniform(12, 2400), 2),
                "service_date": day.isoformat(),
                "service_date_to": None,
                "diagnosis_pointers": None if rng.random() < 0.2 else sorted(set(pointers)),
                "place_of_service": rng.choice(_POS) if rng.random() < 0.1 else None,
                "revenue_code": rng.choice(_REVENUE) if institutional else None,
                "ndc": f"{rng.randrange(10**11):011d}" if proc.startswith("J") and rng.random() < 0.85 else None,
                "prior_authorization": f"L{rng.randrange(10**6)}" if rng.random() < 0.05 else None,
            }
            lines.append(line)
        while len(diagnoses) < 12 and rng.random() < 0.25:
            d = rng.choice(dxs)
            if d not in diagnoses:
                diagnoses.append(d)
        last = max(date.fromisoformat(ln["service_date"]) for ln in lines)
        late = rng.random()
        if late < 0.03:
            received = None
        elif late < 0.90:
            received = last + timedelta(days=rng.randrange(1, 35))
        elif late < 0.98:
            received = last + timedelta(days=rng.randrange(35, 200))
        else:
            received = last + timedelta(days=rng.randrange(200, 800))
        age_roll = rng.random()
        if age_roll < 0.02:
            birth = base - timedelta(days=rng.randrange(0, 60))
        elif age_roll < 0.2:
            birth = base - timedelta(days=rng.randrange(60, 18 * 365))
        else:
            birth = base - timedelta(days=rng.randrange(18 * 365, 95 * 365))
        yield {
            "claim_id": f"C{i:07d}",
            "claim_type": "institutional" if institutional else "professional",
            "frequency_code": rng.choices(("1", "7", "8", None), (88, 6, 1, 5))[0],
            "payer": {"id": "acme", "plan": rng.choices(plans, plan_weights)[0]},
            "received_date": received.isoformat() if received else None,
            "prior_authorization": f"A{rng.randrange(10**7)}" if rng.random() < 0.3 else None,
            "place_of_service": None if rng.random() < 0.01 else rng.choice(_POS),
            "billing_provider": {"npi": "1234567893", "taxonomy": "207Q00000X"},
            "patient": {"member_id": f"M{rng.randrange(10**6)}", "birth_date": birth.isoformat(),
                        "sex": rng.choices(("F", "M", "U"), (50, 49, 1))[0]},
            "diagnoses": diagnoses,
            "lines": lines,
        }


def write_claims(dicts, path: Path) -> int:
    with open(path, "w", encoding="utf-8") as out:
        n = 0
        for d in dicts:
            out.write(json.dumps(d, separators=(",", ":")) + "\n")
            n += 1
    return n
