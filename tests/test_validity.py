"""`FIELD is valid`: ICD-10-CM (billable in the FY2026 code set simple-icd-10-cm ships),
CPT/HCPCS (shape) and CMS place-of-service codes (with their effective dates)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

import rulesengine
from rulesengine.claims_io import ClaimError, claim_from_data
from rulesengine.diagnostics import PackError
from rulesengine.validity import combine, is_valid, place_of_service_codes

FY2026 = date(2026, 1, 15)


# ---- the code sets -----------------------------------------------------------------------------

@pytest.mark.parametrize("code,day,expected", [
    ("E11.9", FY2026, True),          # type 2 diabetes without complications: billable
    ("Z00.00", date(2025, 10, 1), True),
    ("E11", FY2026, False),           # a category, not billable
    ("E55.99", FY2026, False),        # no such code
    ("J18", date(2026, 9, 30), False),
    ("E11.9", date(2025, 9, 30), None),  # FY2025: not the code set shipped, so unknown
    ("E11.9", date(2026, 10, 1), None),  # FY2027
    ("11.9", date(2024, 1, 1), False),   # not shaped like ICD-10-CM on any date
])
def test_icd10_is_billable_in_the_fiscal_year_of_the_code_set(code, day, expected):
    assert is_valid("icd10", code, day) is expected


@pytest.mark.parametrize("code,expected", [("99213", True), ("G0439", True), ("0001U", True),
                                           ("J3490", True), ("9921", False), ("G04391", False)])
def test_hcpcs_is_checked_for_shape(code, expected):
    assert is_valid("hcpcs", code, FY2026) is expected


@pytest.mark.parametrize("code,day,expected", [
    ("11", FY2026, True), ("22", FY2026, True), ("99", FY2026, True),
    ("28", FY2026, False), ("00", FY2026, False), ("80", FY2026, False),  # unassigned
    ("10", date(2021, 12, 31), False), ("10", date(2022, 1, 1), True),   # telehealth at home
    ("66", date(2024, 7, 31), False), ("66", date(2024, 8, 1), True),    # PACE center
    ("27", date(2023, 9, 30), False), ("27", date(2023, 10, 1), True),   # outreach site/street
])
def test_place_of_service_in_the_cms_code_set_on_the_date(code, day, expected):
    assert is_valid("pos", code, day) is expected


def test_the_place_of_service_list_is_the_cms_set():
    codes = place_of_service_codes()
    assert len(codes) == 52
    assert {"01", "02", "11", "12", "19", "21", "22", "23", "24", "31", "81", "99"} <= set(codes)
    assert not {"28", "29", "30", "35", "40", "43", "48", "59", "63", "64", "67", "70", "73", "98"} & set(codes)


def test_combining_three_valued_answers():
    assert combine("any", [False, None, True]) is True
    assert combine("any", [False, None]) is None
    assert combine("all", [True, None, False]) is False
    assert combine("all", [True, None]) is None
    assert combine("no", [False, False]) is True
    assert (combine("any", []), combine("all", []), combine("no", [])) == (False, True, True)


# ---- rules -----------------------------------------------------------------------------------------

RULES = """
rule DX-VALID "A diagnosis the line points to is not a billable ICD-10-CM code"
  category code_validity
  for each line
  require all line.diagnosis is valid
  else deny line CO-16 M76 "a diagnosis of line {line.number} is not billable: {line.diagnosis}"

rule POS-VALID "The place of service is not a CMS place-of-service code on the date of service"
  category code_validity
  for each line
  require line.place_of_service is valid
  else deny line CO-16 M77

rule PROC-SHAPE "A procedure code is not shaped like CPT/HCPCS"
  category code_validity
  when any claim.diagnosis is valid
  require not (no claim.procedure is valid)
  else review claim CO-16
"""


def _pack(tmp_path: Path, rules: str = RULES):
    folder = tmp_path / "validity"
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_text("id: validity\nversion: '1'\n", encoding="utf-8")
    (folder / "v.rules").write_text(rules, encoding="utf-8")
    return rulesengine.load_pack(folder)


def _claim(diagnoses, pos="11", day="2026-01-15", procedure="99213", claim_id="V1"):
    made = claim_from_data({
        "claim_id": claim_id, "claim_type": "professional", "frequency_code": "1",
        "payer": {"id": "validity"}, "received_date": day, "place_of_service": pos,
        "billing_provider": {"npi": "1234567893"},
        "patient": {"member_id": "1EG4TE5MK73", "birth_date": "1955-04-02", "sex": "F"},
        "diagnoses": diagnoses,
        "lines": [{"line_number": 1, "procedure": procedure, "units": 1, "service_date": day,
                   "diagnosis_pointers": list(range(1, len(diagnoses) + 1))}]})
    assert not isinstance(made, ClaimError), made
    return made


def _found(pack, claim):
    compiled = pack.check(claim).to_dict()
    assert pack.check_reference(claim).to_dict() == compiled
    return [(f["rule_id"], f["carc"], f["rarc"]) for f in compiled["findings"]]


def test_a_category_code_is_denied_and_a_billable_one_passes(tmp_path):
    pack = _pack(tmp_path)
    assert _found(pack, _claim(["E11.9", "I10"])) == []
    found = pack.check(_claim(["E11", "I10"])).findings
    assert [(f.rule_id, f.carc, f.rarc) for f in found] == [("DX-VALID", "16", ("M76",))]
    assert found[0].message == "a diagnosis of line 1 is not billable: E11, I10"


def test_outside_fiscal_year_2026_the_diagnosis_rule_does_not_fire(tmp_path):
    assert _found(_pack(tmp_path), _claim(["E11"], day="2025-06-02")) == []


def test_an_unassigned_place_of_service_is_denied(tmp_path):
    assert _found(_pack(tmp_path), _claim(["E11.9"], pos="28")) == [("POS-VALID", "16", ["M77"])]
    assert _found(_pack(tmp_path), _claim(["E11.9"], pos="10", day="2021-12-30")) == [
        ("POS-VALID", "16", ["M77"])]


@pytest.mark.parametrize("condition,code", [
    ("line.modifier is valid", "no-code-set"),       # no verified modifier list ships
    ("line.revenue_code is valid", "no-code-set"),
    ("line.diagnosis is valid", "list-field"),
    ("any line.procedure is valid", "single-field"),
    ("line.units is valid", "no-code-set"),
])
def test_the_checker_refuses_what_is_valid_cannot_answer(tmp_path, condition, code):
    rules = f'rule X "x"\n  category code_validity\n  for each line\n  require {condition}\n  else deny line CO-16\n'
    with pytest.raises(PackError) as error:
        _pack(tmp_path, rules)
    assert [d.code for d in error.value.diagnostics] == [code]


def test_valid_is_a_reserved_word(tmp_path):
    with pytest.raises(PackError) as error:
        _pack(tmp_path, "valueset valid = pos {11}\n")
    assert [d.code for d in error.value.diagnostics] == ["syntax"]


def test_compiled_and_reference_agree_on_random_codes(tmp_path):
    pack = _pack(tmp_path)
    rng = random.Random(6)
    diagnoses = ["E11.9", "E11", "E55.9", "E55.99", "I10", "J18.9", "J18", "Z00.00", "M81.0", "R05"]
    places = ["11", "10", "22", "28", "66", "27", "99", "80"]
    days = ["2021-12-31", "2022-01-01", "2024-08-01", "2025-09-30", "2025-10-01", "2026-04-01",
            "2026-09-30", "2026-10-01"]
    fired = set()
    for i in range(400):
        c = _claim(rng.sample(diagnoses, rng.randint(1, 3)), rng.choice(places), rng.choice(days),
                   rng.choice(["99213", "G0439", "0001U"]), f"R{i}")
        compiled = pack.check(c).to_dict()
        assert pack.check_reference(c).to_dict() == compiled
        fired.update(f["rule_id"] for f in compiled["findings"])
    assert {"DX-VALID", "POS-VALID"} <= fired
