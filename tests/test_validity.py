"""`FIELD is valid`: ICD-10-CM (billable in the FY2026 code set simple-icd-10-cm ships),
CPT/HCPCS (shape), CMS place-of-service codes and modifiers (with their effective dates)."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import pytest

import rulesengine
from rulesengine.claims import ClaimError, claim_from_data
from rulesengine.language.diagnostics import PackError
from rulesengine.codes.kinds import shape_error
from rulesengine.codes.validity import combine, is_valid, modifier_codes, place_of_service_codes

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
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text("id: validity\nversion: '1'\n", encoding="utf-8")
    (folder / "v.rules").write_text(rules, encoding="utf-8")
    return rulesengine.load_pack(folder)


def _claim(diagnoses, pos="11", day="2026-01-15", procedure="99213", claim_id="V1", modifiers=()):
    made = claim_from_data({
        "claim_id": claim_id, "claim_type": "professional", "frequency_code": "1",
        "payer": {"id": "validity"}, "received_date": day, "place_of_service": pos,
        "billing_provider": {"npi": "1234567893"},
        "patient": {"member_id": "1EG4TE5MK73", "birth_date": "1955-04-02", "sex": "F"},
        "diagnoses": diagnoses,
        "lines": [{"line_number": 1, "procedure": procedure, "units": 1, "service_date": day,
                   "modifiers": list(modifiers),
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
    ("line.modifier is valid", "list-field"),        # several modifiers: say any/all/no
    ("line.revenue_code is valid", "no-code-set"),   # the NUBC list is licensed
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


# ---- modifiers ---------------------------------------------------------------------------------

DATA = Path(rulesengine.__file__).parent / "codes" / "validity_data"


@pytest.mark.parametrize("code", [
    "25", "59", "91", "95",      # CPT
    "1P",                        # CPT category II (performance measure exclusion)
    "XS", "LT", "RT", "GA", "KX", "JW", "TC", "GP",  # HCPCS Level II
    "P3",                        # ASA physical status
    "RH", "HX",                  # ambulance: residence to hospital; X is a destination
    " xs", "lt",                 # normalized like a modifier on a claim
])
def test_published_modifiers_are_valid(code):
    assert is_valid("modifier", code, FY2026) is True


@pytest.mark.parametrize("code", [
    "ZZ", "Y1", "00",            # in no list
    "XH",                        # X is never an ambulance origin
    "ABC",                       # not even two characters
])
def test_codes_in_no_modifier_list_are_invalid(code):
    assert is_valid("modifier", code, FY2026) is False


@pytest.mark.parametrize("code,day,expected", [
    ("SZ", date(2017, 12, 31), True), ("SZ", date(2018, 1, 1), False),   # habilitative, retired
    ("QV", date(2007, 12, 31), True), ("QV", date(2008, 1, 1), False),   # replaced by Q0/Q1
    ("Q1", date(2007, 12, 31), False), ("Q1", date(2008, 1, 1), True),
    ("QA", date(2007, 12, 31), True), ("QA", date(2008, 1, 1), False),   # retired, then reused
    ("QA", date(2018, 3, 31), False), ("QA", date(2018, 4, 1), True),    # for oxygen flow
    ("G0", date(2018, 12, 31), False), ("G0", date(2019, 1, 1), True),   # acute stroke telehealth
    ("FY", date(2017, 12, 31), False), ("FY", date(2018, 1, 1), True),
])
def test_modifiers_are_valid_only_in_their_periods(code, day, expected):
    assert is_valid("modifier", code, day) is expected


def test_the_modifier_file_is_codes_kinds_dates_and_documented_sources():
    with open(DATA / "modifiers.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["code", "kind", "effective_from", "effective_through", "source"]
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for row in rows:
        assert shape_error("modifier", row["code"]) is None, row
        assert row["kind"] in {"cpt", "cpt_category_ii", "anesthesia_physical_status",
                               "hcpcs_level_ii", "ambulance_origin_destination"}, row
        start, end = row["effective_from"], row["effective_through"]
        assert not (start and end) or date.fromisoformat(start) <= date.fromisoformat(end), row
        assert f"`{row['source']}`" in readme, row
    kinds = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    assert kinds["ambulance_origin_destination"] == 10 * 11  # X only as a destination
    assert kinds["anesthesia_physical_status"] == 6
    assert set(modifier_codes()) == {row["code"] for row in rows}


# the example of docs/history-and-validity.md, so the documented rule is the one tested
MODIFIER_RULES = next(
    block.split("```")[0] for block in
    (Path(__file__).parents[1] / "docs" / "history-and-validity.md").read_text(encoding="utf-8")
    .split("```rules\n")[1:] if "MOD-VALID" in block)


def _with_modifiers(modifiers, day="2026-01-15", claim_id="M1"):
    return _claim(["E11.9"], day=day, claim_id=claim_id, modifiers=modifiers)


def test_an_unpublished_modifier_is_denied_with_carc_4(tmp_path):
    pack = _pack(tmp_path, MODIFIER_RULES)
    assert _found(pack, _with_modifiers(["25", "LT"])) == []
    assert _found(pack, _with_modifiers([])) == []
    found = pack.check(_with_modifiers(["LT", "ZZ"])).findings
    assert [(f.rule_id, f.group_code, f.carc, f.line_number) for f in found] == [
        ("MOD-VALID", "CO", "4", 1)]
    assert found[0].message == "line 1 has a modifier that is not published: LT, ZZ"
    assert _found(pack, _with_modifiers(["SZ"], day="2017-12-29")) == []
    assert _found(pack, _with_modifiers(["SZ"], day="2018-01-02")) == [("MOD-VALID", "4", [])]


def test_compiled_and_reference_agree_on_random_modifiers(tmp_path):
    pack = _pack(tmp_path, MODIFIER_RULES)
    rng = random.Random(4)
    modifiers = ["25", "59", "XS", "GA", "KX", "RH", "SZ", "QA", "G0", "ZZ", "Y1", "XH", "P1"]
    days = ["2007-12-31", "2012-06-01", "2017-12-31", "2018-04-01", "2019-01-01", "2026-01-15"]
    fired = 0
    for i in range(300):
        c = _with_modifiers(rng.sample(modifiers, rng.randint(0, 3)), rng.choice(days), f"R{i}")
        compiled = pack.check(c).to_dict()
        assert pack.check_reference(c).to_dict() == compiled
        fired += len(compiled["findings"])
    assert 0 < fired < 300


def test_revenue_codes_have_no_code_set_and_the_checker_says_why(tmp_path):
    rules = ('rule X "x"\n  category code_validity\n  for each line\n'
             '  require line.revenue_code is valid\n  else deny line CO-16\n')
    with pytest.raises(PackError) as error:
        _pack(tmp_path, rules)
    (problem,) = error.value.diagnostics
    assert problem.code == "no-code-set"
    assert "procedure modifiers" in problem.message  # what 'is valid' does know
    assert "NUBC revenue code list is licensed" in problem.hint



NEGATED_RULES = """
rule MOD-NOT-VALID "Deny a line one of whose modifiers is not published"
  category code_validity
  citation "CMS HCPCS Level II modifiers; CPT Appendix A"
  for each line where any line.modifier is not valid
  require line.procedure is absent
  else deny line CO-4 "line {line.number} has a modifier that is not published: {line.modifier}"
"""


@pytest.mark.parametrize("modifiers,fires", [
    (["25", "LT"], False), ([], False), (["LT", "ZZ"], True), (["ZZ"], True)])
def test_any_modifier_is_not_valid_selects_the_lines_all_is_valid_denies(tmp_path, modifiers, fires):
    negated, plain = _pack(tmp_path / "n", NEGATED_RULES), _pack(tmp_path / "p", MODIFIER_RULES)
    claim = _with_modifiers(modifiers)
    assert bool(_found(negated, claim)) == fires == bool(_found(plain, claim))
    assert negated.check_reference(claim).to_dict() == negated.check(claim).to_dict()


def test_no_diagnosis_is_not_valid_reads_as_every_diagnosis_valid(tmp_path):
    rules = ('rule DX-ALL-VALID "Every diagnosis is billable"\n  category code_validity\n'
             '  citation "ICD-10-CM FY2026"\n  require no claim.diagnosis is not valid\n'
             '  else deny claim CO-16 M76\n')
    pack = _pack(tmp_path, rules)
    assert _found(pack, _claim(["E11.9", "Z00.00"])) == []
    assert _found(pack, _claim(["E11.9", "E11"])) == [("DX-ALL-VALID", "16", ["M76"])]
    assert _found(pack, _claim(["E11"], day="2027-01-15")) == []  # outside the code set's year
