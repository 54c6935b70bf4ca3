"""Plain helpers for the rule tests: write and load packs, build claims, and generate a
seeded random corpus of claims for the compiled-versus-reference agreement test."""

from __future__ import annotations

import copy
import random
import textwrap
from datetime import date, timedelta
from pathlib import Path

import rulesengine
from rulesengine.claims import ClaimError, claim_from_data

#: the two evaluators every behaviour test runs against
EVALUATORS = ("check", "check_reference")

FIXTURES = Path(__file__).parent / "fixtures"

DEFAULT_META = "id: test-payer\nversion: '2026.1'\npayer: test\n"


# ---- packs ------------------------------------------------------------------------------

def write_pack(folder: Path, rules, tables: dict | None = None, meta: str | None = None) -> Path:
    """Write a pack: ``rules`` is the text of main.rules or {file name: text}; ``tables`` maps a
    path inside the pack (tables/ncci.csv) to CSV text or to a list of rows (first the header)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(meta if meta is not None else DEFAULT_META, encoding="utf-8")
    files = rules if isinstance(rules, dict) else {"main.rules": rules}
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    for name, content in (tables or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, str):
            content = "\n".join(",".join(str(cell) for cell in row) for row in content) + "\n"
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return folder


def load_pack_from(folder: Path, rules, tables=None, meta=None) -> rulesengine.CompiledPack:
    return rulesengine.load_pack(write_pack(folder, rules, tables, meta))


# ---- claims -------------------------------------------------------------------------------

#: DESIGN.md's example claim: vitamin D testing for a Medicare Part B patient, in the office
BASE_CLAIM = {
    "claim_id": "C1001",
    "claim_type": "professional",
    "frequency_code": "1",
    "payer": {"id": "medicare", "plan": "PartB"},
    "received_date": "2026-03-01",
    "prior_authorization": None,
    "place_of_service": "11",
    "billing_provider": {"npi": "1234567893", "taxonomy": "207Q00000X"},
    "patient": {"member_id": "M1", "birth_date": "1950-04-02", "sex": "F"},
    "diagnoses": ["E55.9", "Z13.21"],
    "lines": [],
}
BASE_LINE = {
    "procedure": "82306", "modifiers": [], "units": 1, "charge": 45.00,
    "service_date": "2026-01-15", "service_date_to": None, "diagnosis_pointers": None,
    "place_of_service": None, "revenue_code": None, "ndc": None, "prior_authorization": None,
}
_NESTED = ("payer", "patient", "billing_provider")


def claim_data(lines=None, **changes) -> dict:
    """A claim as JSON data. Each line dict is laid over BASE_LINE (line numbers default to
    1, 2, ...); payer/patient/billing_provider changes are merged into the defaults."""
    data = copy.deepcopy(BASE_CLAIM)
    for key, value in changes.items():
        if key in _NESTED and isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    data["lines"] = []
    for number, line in enumerate(lines if lines is not None else [{}], 1):
        full = {**copy.deepcopy(BASE_LINE), "line_number": number, **line}
        data["lines"].append(full)
    return data


def build_claim(lines=None, **changes) -> rulesengine.Claim:
    """A valid Claim (see claim_data); fails loudly if the test built an invalid one."""
    built = claim_from_data(claim_data(lines, **changes))
    assert not isinstance(built, ClaimError), str(built)
    return built


def fired(result) -> list[tuple[str, int | None]]:
    """The findings of a result as (rule id, line number) pairs, in result order."""
    return [(f.rule_id, f.line_number) for f in result.findings]


# ---- the random corpus --------------------------------------------------------------------

def _day(text: str) -> date:
    return date.fromisoformat(text)


def _around(rng: random.Random, days: list[str], spread: int = 2) -> date:
    """A date on or within ``spread`` days of one of the boundary ``days``."""
    return _day(rng.choice(days)) + timedelta(days=rng.randint(-spread, spread))


def random_claims(count: int, seed: int, spec: dict) -> list[dict]:
    """``count`` claims as JSON data, reproducible from ``seed``.

    ``spec`` names what to draw from: procedures (inside and outside the pack's sets and
    tables) and column-one/column-two pairs, diagnoses, modifiers, places of service,
    revenue codes, plans, service dates and birth dates near the pack's boundaries, and
    filing offsets (days from the last service to receipt); optionally the billing NPIs
    and the number of members to draw from (few members make claim histories overlap).
    Every claim is valid against the claim schema.
    """
    rng = random.Random(seed)
    return [_random_claim(rng, f"R{seed}-{n:05d}", spec) for n in range(count)]


def _random_claim(rng: random.Random, claim_id: str, spec: dict) -> dict:
    institutional = rng.random() < 0.15
    diagnoses = rng.sample(spec["diagnoses"], rng.randint(0, 4))
    first = _around(rng, spec["service_dates"], 3)
    lines: list[dict] = []
    for number in range(1, rng.randint(1, 5) + 1):
        # often bill both codes of a pair, or repeat a code, so bundling and MUE sums happen
        roll = rng.random()
        if lines and roll < 0.3:
            procedure = rng.choice(spec["pairs"])[rng.randint(0, 1)]
        elif lines and roll < 0.45:
            procedure = rng.choice(lines)["procedure"]
        else:
            procedure = rng.choice(spec["procedures"])
        if institutional and rng.random() < 0.1:
            procedure = None
        service = first if rng.random() < 0.8 else first + timedelta(days=rng.randint(1, 40))
        line = {
            "line_number": number,
            "procedure": procedure,
            "modifiers": rng.sample(spec["modifiers"], rng.choice([0, 0, 0, 1, 1, 2])),
            "units": rng.choice([1, 1, 1, 1, 2, 3, 5, 6, 0.5]),
            "charge": rng.choice([None, round(rng.uniform(5, 900), 2), 750, 800]),
            "service_date": service.isoformat(),
        }
        if rng.random() < 0.1:
            line["service_date_to"] = (service + timedelta(days=rng.randint(0, 10))).isoformat()
        if diagnoses and rng.random() < 0.6:
            line["diagnosis_pointers"] = sorted(rng.sample(
                range(1, len(diagnoses) + 1), rng.randint(1, len(diagnoses))))
        if rng.random() < 0.2:
            line["place_of_service"] = rng.choice(spec["places"])
        if rng.random() < 0.1:
            line["prior_authorization"] = rng.choice(["", f"LPA{rng.randint(1000, 9999)}"])
        if institutional or rng.random() < 0.2:
            line["revenue_code"] = rng.choice(spec["revenue_codes"])
        lines.append(line)
    last = max(_day(ln.get("service_date_to") or ln["service_date"]) for ln in lines)
    received = None
    if rng.random() > 0.1:  # one claim in ten has no received date
        offset = rng.choice(spec["filing_offsets"]) + rng.randint(-2, 2)
        received = (last + timedelta(days=offset)).isoformat()
    if rng.random() < 0.5:
        birth = _around(rng, spec["birth_dates"], 2)
    else:
        birth = date(rng.randint(1930, 2025), rng.randint(1, 12), rng.randint(1, 28))
    if birth > first:
        birth = first - timedelta(days=rng.randint(0, 40))
    return {
        "claim_id": claim_id,
        "claim_type": "institutional" if institutional else "professional",
        "frequency_code": rng.choice(["1", "1", "7"]),
        "payer": {"id": "test", "plan": rng.choice(spec["plans"])},
        "received_date": received,
        "prior_authorization": rng.choice([None, None, None, "", f"PA{rng.randint(1000, 9999)}"]),
        "place_of_service": rng.choice(spec["places"]),
        "billing_provider": {"npi": rng.choice(spec["npis"]) if "npis" in spec else "1234567893",
                             "taxonomy": "207Q00000X"},
        "patient": {"member_id": f"M{rng.randint(1, spec.get('members', 999))}", "birth_date": birth.isoformat(),
                    "sex": rng.choice(["F", "F", "M", "M", "U"])},
        "diagnoses": diagnoses,
        "lines": lines,
    }
