"""Each kind of payer rule, with its edge cases, checked by both evaluators.

Every test here takes the ``evaluate`` fixture, so it runs twice: once with the compiled
evaluator (``pack.check``) and once with the reference interpreter (``pack.check_reference``).
"""

from __future__ import annotations

import pytest

import rulesengine
from corpus import build_claim, fired

# ---- medical necessity ---------------------------------------------------------------------

VITD = """
    valueset vitd_support = icd10 {E55.*, E83.52, M81.0..M81.8}

    rule MN-VITD "Vitamin D testing must be supported by a listed diagnosis"
      category medical_necessity
      citation "LCD L33996"
      for each line where line.procedure in {82306, 82652}
      require any line.diagnosis in vitd_support
      else deny line CO-50 N115 "{line.procedure} is not supported by the diagnoses on this line"

    rule MN-VITD-CLAIM "Vitamin D testing needs a listed diagnosis somewhere on the claim"
      category medical_necessity
      for each line where line.procedure in {82306, 82652}
      require any claim.diagnosis in vitd_support
      else review line CO-50 N115
"""


@pytest.fixture
def vitd(make_pack):
    return make_pack(VITD)


def test_a_line_pointing_to_a_listed_diagnosis_is_clean(vitd, evaluate):
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": [1]}],
                        diagnoses=["E55.9", "Z13.21"])
    result = evaluate(vitd, claim)
    assert result.status == "clean"
    assert result.findings == ()


def test_line_diagnosis_sees_only_the_pointed_diagnoses(vitd, evaluate):
    # E55.9 is on the claim, but the vitamin D line points only to Z13.21 (screening)
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": [2]}],
                        diagnoses=["E55.9", "Z13.21"])
    result = evaluate(vitd, claim)
    assert fired(result) == [("MN-VITD", 1)]
    finding = result.findings[0]
    assert (finding.group_code, finding.carc, finding.rarc) == ("CO", "50", ("N115",))
    assert finding.message == "82306 is not supported by the diagnoses on this line"
    assert finding.evidence["line.diagnosis"] == ("Z13.21",)
    assert finding.citation == "LCD L33996"
    assert result.status == "denied"


def test_claim_diagnosis_sees_every_diagnosis_whatever_the_pointers(vitd, evaluate):
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": [2]}],
                        diagnoses=["E55.9", "Z13.21"])
    assert "MN-VITD-CLAIM" not in [rule for rule, _ in fired(evaluate(vitd, claim))]
    unsupported = build_claim([{"procedure": "82306"}], diagnoses=["Z13.21", "J18.9"])
    assert fired(evaluate(vitd, unsupported)) == [("MN-VITD", 1), ("MN-VITD-CLAIM", 1)]


def test_a_line_without_pointers_sees_all_the_claim_diagnoses(vitd, evaluate):
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": None}],
                        diagnoses=["Z13.21", "E55.9"])
    assert evaluate(vitd, claim).status == "clean"


def test_a_claim_without_diagnoses_is_not_supported(vitd, evaluate):
    claim = build_claim([{"procedure": "82652"}], diagnoses=[])
    assert fired(evaluate(vitd, claim)) == [("MN-VITD", 1), ("MN-VITD-CLAIM", 1)]


def test_only_lines_the_rule_selects_are_checked(vitd, evaluate):
    claim = build_claim([{"procedure": "71046"}, {"procedure": "82306"}], diagnoses=["J18.9"])
    assert fired(evaluate(vitd, claim)) == [("MN-VITD", 2), ("MN-VITD-CLAIM", 2)]


@pytest.mark.parametrize("diagnosis, supported", [
    ("E55.9", True),     # under the E55.* pattern
    ("E55.0", True),
    ("E83.52", True),    # exact
    ("E83.51", False),   # a sibling of an exact code
    ("M81.0", True),     # range low end
    ("M81.6", True),     # inside the range
    ("M81.8", True),     # range high end
    ("M80.00XA", False),  # outside the range
    ("E56.0", False),    # E55 does not cover E56
])
def test_icd10_patterns_codes_and_ranges(vitd, evaluate, diagnosis, supported):
    claim = build_claim([{"procedure": "82306"}], diagnoses=[diagnosis])
    assert (fired(evaluate(vitd, claim)) == []) is supported


def test_diagnoses_written_without_the_dot_match(vitd, evaluate):
    claim = build_claim([{"procedure": "82306"}], diagnoses=["E559"])
    assert evaluate(vitd, claim).status == "clean"


# ---- ICD-10 hierarchy and code sets ----------------------------------------------------------

HIERARCHY = """
    valueset pneumonia_category = icd10 {J18}
    valueset pneumonia_pattern  = icd10 {J18.*}
    valueset dyspnea            = icd10 {R06.0*}
    valueset vitd_category      = icd10 {E55}

    rule CXR-CAT "by category" category medical_necessity
      for each line where line.procedure in {71046}
      require any line.diagnosis in pneumonia_category
      else deny line CO-50
    rule CXR-PAT "by pattern" category medical_necessity
      for each line where line.procedure in {71046}
      require any line.diagnosis in pneumonia_pattern
      else deny line CO-50
    rule CXR-DYS "dyspnea" category medical_necessity
      for each line where line.procedure in {71046}
      require any line.diagnosis in dyspnea
      else deny line CO-50
    rule VITD-CAT "E55 category" category medical_necessity
      for each line where line.procedure in {82306}
      require any line.diagnosis in vitd_category
      else deny line CO-50
"""


@pytest.mark.parametrize("diagnosis, passing", [
    ("J18.9", {"CXR-CAT", "CXR-PAT"}),
    ("J18", {"CXR-CAT", "CXR-PAT"}),
    ("J15.9", set()),
    ("R06.02", {"CXR-DYS"}),
    ("R06.00", {"CXR-DYS"}),
    ("R06.1", set()),
])
def test_icd10_category_and_pattern_cover_the_codes_below(make_pack, evaluate, diagnosis, passing):
    pack = make_pack(HIERARCHY)
    result = evaluate(pack, build_claim([{"procedure": "71046"}], diagnoses=[diagnosis]))
    denied = {rule for rule, _ in fired(result)}
    assert denied == {"CXR-CAT", "CXR-PAT", "CXR-DYS"} - passing


@pytest.mark.parametrize("diagnosis, covered", [("E55.9", True), ("E55", True), ("E56.0", False)])
def test_a_category_covers_its_codes_and_no_neighbours(make_pack, evaluate, diagnosis, covered):
    pack = make_pack(HIERARCHY)
    result = evaluate(pack, build_claim([{"procedure": "82306"}], diagnoses=[diagnosis]))
    assert (result.status == "clean") is covered


IMAGING = """
    valueset advanced_imaging = hcpcs {70551..70553, 72141, 72148}
    valueset office_visits    = hcpcs {9920*}

    rule PA-IMG "Advanced imaging needs prior authorization"
      category prior_auth
      for each line where line.procedure in advanced_imaging
      require claim.prior_authorization is present or line.prior_authorization is present
      else deny line CO-197 N54 "{line.procedure} needs prior authorization"

    rule PA-VISIT "New-patient visits are reviewed"
      category prior_auth
      for each line where line.procedure in office_visits
      require claim.prior_authorization is present
      else review line CO-197
"""


@pytest.mark.parametrize("procedure, rule", [
    ("70551", "PA-IMG"), ("70552", "PA-IMG"), ("70553", "PA-IMG"), ("72148", "PA-IMG"),
    ("70550", None), ("70554", None), ("72146", None),
    ("99203", "PA-VISIT"), ("99205", "PA-VISIT"), ("99213", None), ("99202", "PA-VISIT"),
])
def test_cpt_ranges_and_prefix_patterns(make_pack, evaluate, procedure, rule):
    pack = make_pack(IMAGING)
    result = evaluate(pack, build_claim([{"procedure": procedure}]))
    assert fired(result) == ([(rule, 1)] if rule else [])


# ---- prior authorization -----------------------------------------------------------------------

@pytest.mark.parametrize("claim_auth, line_auth, denied", [
    (None, None, True),
    ("PA123456", None, False),
    (None, "LPA998", False),
    ("", None, True),  # an empty authorization number is no authorization
])
def test_prior_auth_at_claim_or_line_level(make_pack, evaluate, claim_auth, line_auth, denied):
    pack = make_pack(IMAGING)
    claim = build_claim([{"procedure": "70553", "prior_authorization": line_auth}],
                        prior_authorization=claim_auth)
    result = evaluate(pack, claim)
    assert fired(result) == ([("PA-IMG", 1)] if denied else [])
    if denied:
        finding = result.findings[0]
        assert (finding.group_code, finding.carc, finding.rarc) == ("CO", "197", ("N54",))
        assert finding.message == "70553 needs prior authorization"


PA_SCOPED = """
    valueset advanced_imaging = hcpcs {70551..70553}

    rule PA-HMO "HMO and EPO members need prior authorization for advanced imaging"
      category prior_auth
      when claim.plan in {"HMO", "EPO"} and claim.type = "professional"
      effective 2026-01-01
      for each line where line.procedure in advanced_imaging and line.place_of_service in {22}
      require claim.prior_authorization is present
      else deny line CO-197
"""


@pytest.mark.parametrize("plan, claim_type, pos, line_pos, day, denied", [
    ("HMO", "professional", "22", None, "2026-01-15", True),
    ("EPO", "professional", "22", None, "2026-01-15", True),
    ("PPO", "professional", "22", None, "2026-01-15", False),   # another plan
    ("HMO", "institutional", "22", None, "2026-01-15", False),  # another claim type
    ("HMO", "professional", "11", None, "2026-01-15", False),   # the office
    ("HMO", "professional", "11", "22", "2026-01-15", True),    # the line's own POS wins
    ("HMO", "professional", "22", "11", "2026-01-15", False),
    ("HMO", "professional", "22", None, "2026-01-01", True),    # the start date itself
    ("HMO", "professional", "22", None, "2025-12-31", False),   # before the start date
])
def test_prior_auth_only_for_a_plan_claim_type_and_place_of_service(
        make_pack, evaluate, plan, claim_type, pos, line_pos, day, denied):
    pack = make_pack(PA_SCOPED)
    claim = build_claim(
        [{"procedure": "70551", "service_date": day, "place_of_service": line_pos,
          "revenue_code": "0610"}],
        payer={"plan": plan}, claim_type=claim_type, place_of_service=pos)
    assert fired(evaluate(pack, claim)) == ([("PA-HMO", 1)] if denied else [])


@pytest.mark.parametrize("pos, denied", [("22", True), ("19", True), ("11", False), ("21", False)])
def test_prior_auth_only_for_claims_from_an_outpatient_hospital(make_pack, evaluate, pos, denied):
    pack = make_pack("""
        rule PA-OPH "Outpatient hospital imaging needs prior authorization"
          category prior_auth
          when claim.place_of_service in {22, 19}
          for each line where line.procedure in 70551..70553
          require claim.prior_authorization is present
          else deny line CO-197
    """)
    claim = build_claim([{"procedure": "70553"}, {"procedure": "99213"}], place_of_service=pos)
    assert fired(evaluate(pack, claim)) == ([("PA-OPH", 1)] if denied else [])


def test_prior_auth_start_date_applies_line_by_line(make_pack, evaluate):
    pack = make_pack(PA_SCOPED)
    claim = build_claim([
        {"procedure": "70551", "service_date": "2025-12-31"},
        {"procedure": "70552", "service_date": "2026-01-02"},
    ], payer={"plan": "HMO"}, place_of_service="22")
    assert fired(evaluate(pack, claim)) == [("PA-HMO", 2)]


# ---- bundling (NCCI procedure-to-procedure) ------------------------------------------------

NCCI_RULES = """
    table ncci from "tables/ncci.csv"
      columns column1 hcpcs, column2 hcpcs, modifier_indicator integer,
              effective_date date, deletion_date date
      rows effective from effective_date through deletion_date

    rule NCCI-PTP "NCCI procedure-to-procedure edit"
      category bundling
      citation "NCCI PTP edits, practitioner"
      for each line
      require not bundled per ncci
      else deny line CO-97 M80 "{line.procedure} is bundled into {column1} (line {column1_line})"
"""
NCCI_ROWS = [
    ["column1", "column2", "modifier_indicator", "effective_date", "deletion_date"],
    ["0001U", "81105", 1, 20180101, "*"],
    ["0001A", "36591", 0, 20220101, "*"],
    ["99213", "36415", 9, 20100101, "*"],
]


@pytest.fixture
def ncci(make_pack):
    return make_pack(NCCI_RULES, {"tables/ncci.csv": NCCI_ROWS})


def _pair(column1, column2, mods2=(), mods1=(), day1="2026-01-15", day2="2026-01-15"):
    return build_claim([
        {"procedure": column1, "modifiers": list(mods1), "service_date": day1},
        {"procedure": column2, "modifiers": list(mods2), "service_date": day2},
    ])


@pytest.mark.parametrize("modifiers", [[], ["59"], ["XS"], ["59", "XU"], ["LT"]])
def test_indicator_0_is_denied_whatever_the_modifiers(ncci, evaluate, modifiers):
    result = evaluate(ncci, _pair("0001A", "36591", modifiers))
    assert fired(result) == [("NCCI-PTP", 2)]
    finding = result.findings[0]
    assert (finding.group_code, finding.carc, finding.rarc) == ("CO", "97", ("M80",))
    assert finding.message == "36591 is bundled into 0001A (line 1)"
    assert finding.evidence["column1"] == "0001A"
    assert finding.evidence["column1_line"] == 1
    assert finding.evidence["modifier_indicator"] == 0
    assert finding.evidence["line.modifier"] == tuple(modifiers)


@pytest.mark.parametrize("modifier", ["59", "XE", "XP", "XS", "XU"])
def test_indicator_1_is_bypassed_by_a_distinct_service_modifier_on_the_column_2_line(
        ncci, evaluate, modifier):
    assert evaluate(ncci, _pair("0001U", "81105", [modifier])).status == "clean"
    assert evaluate(ncci, _pair("0001U", "81105", ["LT", modifier])).status == "clean"


@pytest.mark.parametrize("mods2, mods1", [
    ([], []),
    (["LT"], []),        # not a bypass modifier
    (["25"], []),
    ([], ["59"]),        # the modifier is on the column-1 line, not the column-2 line
    ([], ["XS"]),
])
def test_indicator_1_without_a_bypass_on_the_column_2_line_is_denied(ncci, evaluate, mods2, mods1):
    result = evaluate(ncci, _pair("0001U", "81105", mods2, mods1))
    assert fired(result) == [("NCCI-PTP", 2)]
    assert result.findings[0].evidence["modifier_indicator"] == 1


def test_indicator_9_is_never_applied(ncci, evaluate):
    assert evaluate(ncci, _pair("99213", "36415")).status == "clean"


def test_the_column_2_line_is_denied_whichever_order_the_lines_come_in(ncci, evaluate):
    claim = build_claim([{"procedure": "81105"}, {"procedure": "71046"}, {"procedure": "0001U"}])
    result = evaluate(ncci, claim)
    assert fired(result) == [("NCCI-PTP", 1)]
    assert result.findings[0].evidence["column1_line"] == 3
    assert result.findings[0].message == "81105 is bundled into 0001U (line 3)"


def test_the_column_1_code_alone_and_unrelated_pairs_are_clean(ncci, evaluate):
    assert evaluate(ncci, build_claim([{"procedure": "0001U"}])).status == "clean"
    assert evaluate(ncci, build_claim([{"procedure": "81105"}])).status == "clean"
    assert evaluate(ncci, _pair("0001U", "36591")).status == "clean"


def test_different_dates_of_service_are_not_bundled(ncci, evaluate):
    claim = _pair("0001A", "36591", day1="2026-01-15", day2="2026-01-16")
    assert evaluate(ncci, claim).status == "clean"


def test_both_column_2_lines_of_one_column_1_line_are_denied(ncci, evaluate):
    claim = build_claim([{"procedure": "36591"}, {"procedure": "0001A"}, {"procedure": "36591"}])
    assert fired(evaluate(ncci, claim)) == [("NCCI-PTP", 1), ("NCCI-PTP", 3)]


def test_a_custom_bypass_list_replaces_the_default(make_pack, evaluate):
    rules = NCCI_RULES.replace("require not bundled per ncci",
                               "require not bundled per ncci bypass modifiers {59, XE}")
    pack = make_pack(rules, {"tables/ncci.csv": NCCI_ROWS})
    assert evaluate(pack, _pair("0001U", "81105", ["59"])).status == "clean"
    assert evaluate(pack, _pair("0001U", "81105", ["XE"])).status == "clean"
    assert fired(evaluate(pack, _pair("0001U", "81105", ["XS"]))) == [("NCCI-PTP", 2)]
    assert fired(evaluate(pack, _pair("0001U", "81105", ["XU"]))) == [("NCCI-PTP", 2)]


@pytest.mark.parametrize("bypass, column", [('{"59", XE}', 50), ("{XE..XU}", 50), ("{X*}", 50)])
def test_a_bypass_list_names_plain_modifiers(make_pack, bypass, column):
    rules = NCCI_RULES.replace("require not bundled per ncci",
                               f"require not bundled per ncci bypass modifiers {bypass}")
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(rules, {"tables/ncci.csv": NCCI_ROWS})
    problem = caught.value.diagnostics[0]
    assert problem.code == "bad-code"
    assert (problem.pos.line, problem.pos.column) == (10, column)


# row dates: effective and deletion dates are both inclusive; '*' leaves a row open
WINDOW_ROWS = [
    ["column1", "column2", "modifier_indicator", "effective_date", "deletion_date"],
    ["0001A", "36591", 0, "20220101", "20231231"],
    ["0001U", "81105", 0, "2024-04-01", "*"],
]


@pytest.mark.parametrize("column1, column2, day, denied", [
    ("0001A", "36591", "2021-12-31", False),
    ("0001A", "36591", "2022-01-01", True),   # the effective date
    ("0001A", "36591", "2023-12-31", True),   # the deletion date
    ("0001A", "36591", "2024-01-01", False),
    ("0001U", "81105", "2024-03-31", False),
    ("0001U", "81105", "2024-04-01", True),   # ISO dates work as well as YYYYMMDD
    ("0001U", "81105", "2031-06-30", True),   # '*' = not deleted
])
def test_a_table_row_applies_from_its_effective_through_its_deletion_date(
        make_pack, evaluate, column1, column2, day, denied):
    pack = make_pack(NCCI_RULES, {"tables/ncci.csv": WINDOW_ROWS})
    result = evaluate(pack, _pair(column1, column2, ["59"], day1=day, day2=day))
    assert fired(result) == ([("NCCI-PTP", 2)] if denied else [])


# the same pair listed twice: indicator 0 until 2023, then 1; and an overlap where the
# later row must win
REPEATED_ROWS = [
    ["column1", "column2", "modifier_indicator", "effective_date", "deletion_date"],
    ["0001A", "36591", 0, "20220101", "20231231"],
    ["0001A", "36591", 1, "20240101", "*"],
    ["0001U", "81105", 0, "20180101", "*"],
    ["0001U", "81105", 1, "20250101", "*"],
]


@pytest.mark.parametrize("column1, column2, day, modifiers, indicator", [
    ("0001A", "36591", "2023-06-01", ["59"], 0),     # the 0 row governs: 59 does not help
    ("0001A", "36591", "2024-06-01", ["59"], None),  # the 1 row governs: 59 bypasses
    ("0001A", "36591", "2024-06-01", [], 1),
    ("0001U", "81105", "2024-12-31", ["XS"], 0),
    ("0001U", "81105", "2025-01-01", ["XS"], None),  # both rows in force: the later one wins
    ("0001U", "81105", "2025-01-01", [], 1),
])
def test_of_rows_for_one_pair_the_one_in_force_on_the_date_wins(
        make_pack, evaluate, column1, column2, day, modifiers, indicator):
    pack = make_pack(NCCI_RULES, {"tables/ncci.csv": REPEATED_ROWS})
    result = evaluate(pack, _pair(column1, column2, modifiers, day1=day, day2=day))
    if indicator is None:
        assert result.status == "clean"
    else:
        assert fired(result) == [("NCCI-PTP", 2)]
        assert result.findings[0].evidence["modifier_indicator"] == indicator


# ---- unit limits (MUE) ------------------------------------------------------------------------

MUE_RULES = """
    table mue from "tables/mue.csv"
      columns code hcpcs, limit integer, adjudication integer,
              effective_date date, deletion_date date
      rows effective from effective_date through deletion_date

    rule MUE "Medically unlikely edit"
      category unit_limit
      for each line
      require units within mue
      else deny line CO-151 N362 "{units_billed} units of {line.procedure} billed; at most {limit} allowed"
"""
MUE_ROWS = [
    ["code", "limit", "adjudication", "effective_date", "deletion_date"],
    ["82306", 1, 3, "20180101", "*"],   # date-of-service edit, clinical
    ["71046", 1, 2, "20180101", "*"],   # date-of-service edit, policy
    ["36415", 1, 1, "20180101", "*"],   # per-line edit
    ["0001U", 1, 3, "20180101", "20251231"],
    ["0001U", 2, 3, "20260101", "*"],
]


@pytest.fixture
def mue(make_pack):
    return make_pack(MUE_RULES, {"tables/mue.csv": MUE_ROWS})


def test_a_line_over_its_limit_is_denied(mue, evaluate):
    result = evaluate(mue, build_claim([{"procedure": "36415", "units": 3}]))
    assert fired(result) == [("MUE", 1)]
    finding = result.findings[0]
    assert (finding.group_code, finding.carc, finding.rarc) == ("CO", "151", ("N362",))
    assert finding.message == "3 units of 36415 billed; at most 1 allowed"
    assert finding.evidence["limit"] == 1
    assert finding.evidence["units_billed"] == 3
    assert finding.evidence["adjudication"] == 1
    assert finding.evidence["line.units"] == 3


def test_units_at_the_limit_pass(mue, evaluate):
    assert evaluate(mue, build_claim([{"procedure": "36415", "units": 1}])).status == "clean"


@pytest.mark.parametrize("procedure", ["82306", "71046"])
def test_mai_2_and_3_sum_the_units_of_a_code_on_a_date_and_deny_every_line(
        mue, evaluate, procedure):
    claim = build_claim([{"procedure": procedure, "units": 1}, {"procedure": "36415"},
                         {"procedure": procedure, "units": 1}])
    result = evaluate(mue, claim)
    assert fired(result) == [("MUE", 1), ("MUE", 3)]
    assert [f.evidence["units_billed"] for f in result.findings] == [2, 2]
    assert result.findings[0].message == f"2 units of {procedure} billed; at most 1 allowed"


def test_mai_1_judges_each_line_alone(mue, evaluate):
    claim = build_claim([{"procedure": "36415", "units": 1}, {"procedure": "36415", "units": 1}])
    assert evaluate(mue, claim).status == "clean"


def test_mai_3_does_not_sum_different_dates_of_service(mue, evaluate):
    claim = build_claim([{"procedure": "82306", "service_date": "2026-01-15"},
                         {"procedure": "82306", "service_date": "2026-01-16"}])
    assert evaluate(mue, claim).status == "clean"


def test_a_code_without_a_limit_is_not_limited(mue, evaluate):
    assert evaluate(mue, build_claim([{"procedure": "80053", "units": 9}])).status == "clean"


@pytest.mark.parametrize("day, units, denied", [
    ("2025-12-31", 2, True), ("2026-01-01", 2, False), ("2026-01-01", 3, True),
])
def test_the_limit_in_force_on_the_date_of_service_applies(mue, evaluate, day, units, denied):
    claim = build_claim([{"procedure": "0001U", "units": units, "service_date": day}])
    assert (evaluate(mue, claim).status == "denied") is denied


def test_fractional_units_are_shown_as_billed(mue, evaluate):
    result = evaluate(mue, build_claim([{"procedure": "36415", "units": 1.5}]))
    assert result.findings[0].message == "1.5 units of 36415 billed; at most 1 allowed"


# ---- filing limits -----------------------------------------------------------------------------

def _filing_rule(limit: str, anchor: str = "claim.last_service_date") -> str:
    return f"""
        rule TF "Timely filing"
          category filing_limit
          require claim.received_date <= {anchor} + {limit}
          else deny claim CO-29 "received {{claim.received_date}}, after the limit"
    """


@pytest.mark.parametrize("limit, service, received, late", [
    ("90 days", "2026-01-15", "2026-04-15", False),   # exactly on the limit
    ("90 days", "2026-01-15", "2026-04-16", True),    # one day after
    ("90 days", "2026-01-15", "2026-01-15", False),
    ("6 months", "2025-08-31", "2026-02-28", False),  # Aug 31 + 6 months = Feb 28
    ("6 months", "2025-08-31", "2026-03-01", True),
    ("1 month", "2024-01-31", "2024-02-29", False),   # month-end clamping, leap year
    ("1 month", "2024-01-31", "2024-03-01", True),
    ("1 year", "2024-02-29", "2025-02-28", False),    # leap day + 1 year
    ("1 year", "2024-02-29", "2025-03-01", True),
    ("1 year", "2025-06-30", "2026-06-30", False),
    ("1 year", "2025-06-30", "2026-07-01", True),
    ("2 years", "2024-02-29", "2026-02-28", False),
    ("2 years", "2024-02-29", "2026-03-01", True),
])
def test_filing_limits_in_days_months_and_years(make_pack, evaluate, limit, service, received, late):
    pack = make_pack(_filing_rule(limit))
    claim = build_claim([{"service_date": service}], received_date=received)
    result = evaluate(pack, claim)
    assert fired(result) == ([("TF", None)] if late else [])
    if late:
        finding = result.findings[0]
        assert (finding.scope, finding.group_code, finding.carc) == ("claim", "CO", "29")
        assert finding.message == f"received {received}, after the limit"
        assert finding.evidence["claim.received_date"].isoformat() == received


def test_filing_limit_from_the_earliest_or_the_latest_date_of_service(make_pack, evaluate):
    earliest = make_pack(_filing_rule("90 days", "claim.first_service_date"))
    latest = make_pack(_filing_rule("90 days", "claim.last_service_date"))
    claim = build_claim([{"service_date": "2026-01-01"}, {"service_date": "2026-03-01"}],
                        received_date="2026-04-15")
    assert fired(evaluate(earliest, claim)) == [("TF", None)]
    assert fired(evaluate(latest, claim)) == []


def test_the_last_date_of_service_includes_a_span_end(make_pack, evaluate):
    pack = make_pack(_filing_rule("90 days"))
    claim = build_claim([{"service_date": "2026-01-01", "service_date_to": "2026-01-31"}],
                        received_date="2026-04-30")
    assert fired(evaluate(pack, claim)) == []
    claim = build_claim([{"service_date": "2026-01-01"}], received_date="2026-04-30")
    assert fired(evaluate(pack, claim)) == [("TF", None)]


def test_a_missing_received_date_is_unknown_so_the_limit_does_not_fire(make_pack, evaluate):
    pack = make_pack(_filing_rule("90 days"))
    claim = build_claim([{"service_date": "2020-01-01"}], received_date=None)
    assert evaluate(pack, claim).status == "clean"


def test_is_present_fires_on_a_missing_received_date(make_pack, evaluate):
    pack = make_pack("""
        rule RCV "The received date is required"
          category claim_data
          require claim.received_date is present
          else deny claim CO-16 MA130
    """)
    missing = evaluate(pack, build_claim(received_date=None))
    assert fired(missing) == [("RCV", None)]
    assert missing.findings[0].rarc == ("MA130",)
    assert missing.findings[0].message == "The received date is required"  # the title
    assert evaluate(pack, build_claim(received_date="2026-03-01")).status == "clean"


def test_a_claim_level_rule_needs_no_when(make_pack, evaluate):
    pack = make_pack("""
        rule TF-90 "Claims must be received within 90 days of service"
          category filing_limit
          require claim.received_date <= claim.last_service_date + 90 days
          else deny claim CO-29
    """)
    late = build_claim([{"service_date": "2026-01-15"}], received_date="2026-04-16")
    on_time = build_claim([{"service_date": "2026-01-15"}], received_date="2026-04-15")
    assert fired(evaluate(pack, late)) == [("TF-90", None)]
    assert fired(evaluate(pack, on_time)) == []


# ---- age and sex ------------------------------------------------------------------------------

AGE_SEX = """
    rule AGE-65 "Initial preventive visit for a patient 65 or older"
      category age
      for each line where line.procedure in {99387}
      require patient.age >= 65
      else deny line CO-6 "age {patient.age} on {line.service_date}"

    rule AGE-NEWBORN "Normal newborn care in the first 28 days"
      category age
      for each line where line.procedure in {99460}
      require patient.age_days <= 28
      else deny line CO-6

    rule SEX-HYST "Hysterectomy for a female patient"
      category sex
      for each line where line.procedure in {58150}
      require patient.sex = "F"
      else deny line CO-7

    rule SEX-PSA "Screening PSA for a male patient"
      category sex
      for each line where line.procedure in {G0103}
      require patient.sex != "F"
      else deny line CO-7
"""


@pytest.mark.parametrize("birth, service, denied", [
    ("1961-01-15", "2026-01-15", False),  # the 65th birthday is the date of service
    ("1961-01-16", "2026-01-15", True),   # one day short of 65
    ("1961-01-14", "2026-01-15", False),
    ("1960-02-29", "2025-02-28", True),   # born on a leap day: 65 on March 1 in a common year
    ("1960-02-29", "2025-03-01", False),
])
def test_age_is_counted_on_the_date_of_service(make_pack, evaluate, birth, service, denied):
    pack = make_pack(AGE_SEX)
    claim = build_claim([{"procedure": "99387", "service_date": service}],
                        patient={"birth_date": birth})
    result = evaluate(pack, claim)
    assert fired(result) == ([("AGE-65", 1)] if denied else [])
    if denied:
        assert result.findings[0].group_code + "-" + result.findings[0].carc == "CO-6"
        assert result.findings[0].message == f"age 64 on {service}"
        assert result.findings[0].evidence["patient.age"] == 64


def test_age_follows_each_line_date_of_service(make_pack, evaluate):
    pack = make_pack(AGE_SEX)
    claim = build_claim([{"procedure": "99387", "service_date": "2026-01-14"},
                         {"procedure": "99387", "service_date": "2026-01-15"}],
                        patient={"birth_date": "1961-01-15"})
    assert fired(evaluate(pack, claim)) == [("AGE-65", 1)]


@pytest.mark.parametrize("service, denied", [
    ("2026-01-01", False), ("2026-01-29", False), ("2026-01-30", True),
])
def test_newborn_age_in_days(make_pack, evaluate, service, denied):
    pack = make_pack(AGE_SEX)
    claim = build_claim([{"procedure": "99460", "service_date": service}],
                        patient={"birth_date": "2026-01-01"}, diagnoses=["Z38.00"])
    result = evaluate(pack, claim)
    assert fired(result) == ([("AGE-NEWBORN", 1)] if denied else [])
    if denied:
        assert result.findings[0].evidence["patient.age_days"] == 29


@pytest.mark.parametrize("procedure, sex, rule", [
    ("58150", "F", None), ("58150", "M", "SEX-HYST"), ("58150", "U", "SEX-HYST"),
    ("G0103", "M", None), ("G0103", "F", "SEX-PSA"), ("G0103", "U", None),
])
def test_sex_edits(make_pack, evaluate, procedure, sex, rule):
    pack = make_pack(AGE_SEX)
    claim = build_claim([{"procedure": procedure}], patient={"sex": sex})
    result = evaluate(pack, claim)
    assert fired(result) == ([(rule, 1)] if rule else [])
    if rule:
        assert (result.findings[0].group_code, result.findings[0].carc) == ("CO", "7")
        assert result.findings[0].category == "sex"


# ---- effective windows --------------------------------------------------------------------------

WINDOWED = """
    rule MN-CXR "Chest X-ray must be supported by a listed diagnosis"
      category medical_necessity
      citation "LCD L00000, article A00000"
      effective 2025-10-01 through 2026-09-30
      for each line where line.procedure in 71045..71048
      require any line.diagnosis in {J15.*, J18.*, R05.*, R06.0*, R50.9}
      else deny line CO-50 N115
"""


@pytest.mark.parametrize("day, in_force", [
    ("2025-09-30", False), ("2025-10-01", True), ("2026-09-30", True), ("2026-10-01", False),
])
def test_a_rule_applies_by_the_date_of_service(make_pack, evaluate, day, in_force):
    pack = make_pack(WINDOWED)
    claim = build_claim([{"procedure": "71046", "service_date": day}], diagnoses=["E55.9"],
                        received_date="2026-12-01")
    assert fired(evaluate(pack, claim)) == ([("MN-CXR", 1)] if in_force else [])


def test_windows_follow_the_date_of_service_not_today(make_pack, evaluate):
    pack = make_pack("""
        rule OLD "A policy retired long ago" category coverage
          effective 2018-01-01 through 2019-12-31
          for each line where line.procedure in {82306}
          require line.units < 1
          else deny line CO-96
        rule FUTURE "A policy decades away" category coverage
          effective 2090-01-01
          for each line where line.procedure in {82306}
          require line.units < 1
          else deny line CO-96
    """)
    assert fired(evaluate(pack, build_claim([{"service_date": "2019-06-01"}]))) == [("OLD", 1)]
    assert fired(evaluate(pack, build_claim([{"service_date": "2026-01-15"}]))) == []
    assert fired(evaluate(pack, build_claim([{"service_date": "2090-01-01"}]))) == [("FUTURE", 1)]


def test_each_line_is_judged_by_its_own_date_of_service(make_pack, evaluate):
    pack = make_pack(WINDOWED)
    claim = build_claim([{"procedure": "71046", "service_date": "2026-09-30"},
                         {"procedure": "71046", "service_date": "2026-10-01"}],
                        diagnoses=["E55.9"])
    assert fired(evaluate(pack, claim)) == [("MN-CXR", 1)]


def test_a_claim_level_rule_applies_by_the_first_date_of_service(make_pack, evaluate):
    pack = make_pack("""
        rule TF-NEW "New filing limit"
          category filing_limit
          effective 2026-01-01
          when claim.type = "professional"
          require claim.received_date <= claim.last_service_date + 30 days
          else deny claim CO-29
    """)
    before = build_claim([{"service_date": "2025-12-31"}, {"service_date": "2026-01-10"}],
                         received_date="2026-06-01")
    after = build_claim([{"service_date": "2026-01-01"}], received_date="2026-06-01")
    assert fired(evaluate(pack, before)) == []
    assert fired(evaluate(pack, after)) == [("TF-NEW", None)]


# ---- conditions: operators, quantifiers, three-valued logic -------------------------------------

CONDITIONS = """
    valueset pneumonia = icd10 {J18.*}
    valueset screening = icd10 {Z13.*}

    rule ALL-DX "every diagnosis is pneumonia" category medical_necessity
      for each line where line.procedure in {71046}
      require all line.diagnosis in pneumonia
      else info line CO-50
    rule NO-SCREEN "no screening diagnosis on a chest X-ray" category medical_necessity
      for each line where line.procedure in {71046}
      require no line.diagnosis in screening
      else review line CO-50
    rule MOD-LR "laterality modifiers are not for chest X-rays" category modifier
      for each line where line.procedure in {71046}
      require no line.modifier in {LT, RT}
      else deny line CO-4
    rule CHARGE "charges over 1000 are reviewed" category claim_data
      for each line where line.charge > 1000 or line.units >= 10
      require line.charge != line.charge
      else review line CO-16
"""


@pytest.mark.parametrize("diagnoses, pointers, expected", [
    (["J18.9"], None, []),
    (["J18.9", "Z13.21"], None, ["ALL-DX", "NO-SCREEN"]),
    (["J18.9", "Z13.21"], [1], []),
    (["E55.9"], None, ["ALL-DX"]),
    ([], None, []),  # all of nothing is true, and no screening diagnosis is there
])
def test_all_and_no_quantifiers(make_pack, evaluate, diagnoses, pointers, expected):
    pack = make_pack(CONDITIONS)
    claim = build_claim([{"procedure": "71046", "diagnosis_pointers": pointers}],
                        diagnoses=diagnoses)
    assert [rule for rule, _ in fired(evaluate(pack, claim))] == expected


@pytest.mark.parametrize("modifiers, denied", [([], False), (["LT"], True), (["26", "RT"], True),
                                               (["59"], False)])
def test_no_modifier_in_a_list(make_pack, evaluate, modifiers, denied):
    pack = make_pack(CONDITIONS)
    claim = build_claim([{"procedure": "71046", "modifiers": modifiers}], diagnoses=["J18.9"])
    assert fired(evaluate(pack, claim)) == ([("MOD-LR", 1)] if denied else [])


@pytest.mark.parametrize("charge, units, reviewed", [
    (1000, 1, False), (1000.01, 1, True), (None, 1, False), (None, 10, True), (20, 9, False),
])
def test_or_and_comparisons_with_missing_values(make_pack, evaluate, charge, units, reviewed):
    # line.charge != line.charge is false for any charge, unknown for none: a missing value
    # never causes a finding by itself
    pack = make_pack(CONDITIONS)
    claim = build_claim([{"procedure": "99213", "charge": charge, "units": units}])
    result = evaluate(pack, claim)
    assert fired(result) == ([("CHARGE", 1)] if reviewed and charge is not None else [])
    if reviewed and charge is not None:
        assert result.status == "review"


PRECEDENCE = """
    rule PREC "a or b and c" category coverage
      for each line where line.procedure in {99213}
      require patient.sex = "F" or patient.age >= 18 and line.units < 2
      else deny line CO-96
    rule PAREN "(a or b) and c" category coverage
      for each line where line.procedure in {99213}
      require (patient.sex = "F" or patient.age >= 18) and line.units < 2
      else deny line CO-96
    rule NOT "not a and b" category coverage
      for each line where line.procedure in {99213}
      require not patient.sex = "M" and line.units < 2
      else deny line CO-96
"""


@pytest.mark.parametrize("sex, birth, units, expected", [
    ("F", "2015-01-01", 5, ["PAREN", "NOT"]),  # F or ... is true alone under PREC
    ("M", "1980-01-01", 1, ["NOT"]),
    ("M", "2015-01-01", 1, ["PREC", "PAREN", "NOT"]),
    ("U", "1980-01-01", 5, ["PREC", "PAREN", "NOT"]),
    ("U", "1980-01-01", 1, []),
])
def test_and_binds_tighter_than_or(make_pack, evaluate, sex, birth, units, expected):
    pack = make_pack(PRECEDENCE)
    claim = build_claim([{"procedure": "99213", "units": units}],
                        patient={"sex": sex, "birth_date": birth})
    assert [rule for rule, _ in fired(evaluate(pack, claim))] == expected


@pytest.mark.parametrize("op, units, holds", [
    ("=", 2, True), ("=", 3, False), ("!=", 3, True), ("!=", 2, False),
    ("<", 1, True), ("<", 2, False), ("<=", 2, True), ("<=", 3, False),
    (">", 3, True), (">", 2, False), (">=", 2, True), (">=", 1, False),
])
def test_every_comparison_operator(make_pack, evaluate, op, units, holds):
    pack = make_pack(f"""
        rule OP "units {op} 2" category unit_limit
          for each line
          require line.units {op} 2
          else deny line CO-151
    """)
    result = evaluate(pack, build_claim([{"units": units}]))
    assert (result.status == "clean") is holds


@pytest.mark.parametrize("plan, pos, expected", [
    ("HMO", "11", []), ("PPO", "11", ["IN"]), ("HMO", "22", ["NOTIN"]), ("PPO", "22", ["IN", "NOTIN"]),
])
def test_in_and_not_in(make_pack, evaluate, plan, pos, expected):
    pack = make_pack("""
        rule IN "plan in" category coverage
          when claim.type = "professional"
          require claim.plan in {"HMO", "EPO"}
          else deny claim CO-109
        rule NOTIN "pos not in" category place_of_service
          for each line
          require line.place_of_service not in {22, 23}
          else deny line CO-5 "{line.procedure} billed in place of service {line.place_of_service}"
    """)
    claim = build_claim([{}], payer={"plan": plan}, place_of_service=pos)
    result = evaluate(pack, claim)
    assert [rule for rule, _ in fired(result)] == expected
    if "NOTIN" in expected:
        assert result.findings[-1].message == "82306 billed in place of service 22"


def test_not_in_on_a_missing_value_is_unknown(make_pack, evaluate):
    pack = make_pack("""
        rule NOTIN "plan not in" category coverage
          when claim.type = "professional"
          require claim.plan not in {"HMO"}
          else deny claim CO-109
    """)
    assert evaluate(pack, build_claim(payer={"plan": None})).status == "clean"
    assert evaluate(pack, build_claim(payer={"plan": "HMO"})).status == "denied"


# ---- actions, status, messages and evidence -------------------------------------------------------

def test_status_is_clean_review_or_denied(make_pack, evaluate):
    pack = make_pack("""
        rule INFO "informational" category coverage
          for each line where line.procedure in {99213}
          require line.units < 1
          else info line CO-45
        rule REVIEW "review" category coverage
          for each line where line.procedure in {71046}
          require line.units < 1
          else review line CO-45
        rule DENY "deny" category coverage
          for each line where line.procedure in {82306}
          require line.units < 1
          else deny line CO-45
    """)
    assert evaluate(pack, build_claim([{"procedure": "36415"}])).status == "clean"
    info = evaluate(pack, build_claim([{"procedure": "99213"}]))
    assert info.status == "review"
    assert info.findings[0].severity == "info"
    review = evaluate(pack, build_claim([{"procedure": "99213"}, {"procedure": "71046"}]))
    assert review.status == "review"
    denied = evaluate(pack, build_claim([{"procedure": "71046"}, {"procedure": "82306"}]))
    assert denied.status == "denied"
    assert denied.to_dict()["status"] == "denied"


def test_a_claim_scoped_action_of_a_line_rule_fires_once_per_claim(make_pack, evaluate):
    pack = make_pack("""
        rule PA-CLAIM "Imaging without authorization holds the whole claim"
          category prior_auth
          for each line where line.procedure in 70551..70553
          require line.prior_authorization is present
          else deny claim CO-197 "first unauthorized: line {line.number}, {line.procedure}"
    """)
    claim = build_claim([{"procedure": "99213"}, {"procedure": "70553"}, {"procedure": "70551"}])
    result = evaluate(pack, claim)
    assert fired(result) == [("PA-CLAIM", None)]
    finding = result.findings[0]
    assert finding.scope == "claim"
    assert finding.message == "first unauthorized: line 2, 70553"
    assert finding.evidence["line.procedure"] == "70553"


def test_claim_findings_come_first_then_lines_in_order(make_pack, evaluate):
    pack = make_pack("""
        rule B-LINE "line rule" category coverage
          for each line
          require line.units < 2
          else deny line CO-151
        rule A-CLAIM "claim rule" category filing_limit
          when claim.type = "professional"
          require claim.received_date <= claim.last_service_date + 30 days
          else deny claim CO-29
    """)
    claim = build_claim([{"line_number": 2, "units": 5}, {"line_number": 1, "units": 5}],
                        received_date="2026-12-31")
    assert fired(evaluate(pack, claim)) == [("A-CLAIM", None), ("B-LINE", 1), ("B-LINE", 2)]


def test_a_finding_as_json(make_pack, evaluate):
    pack = make_pack(VITD)
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": [2]}],
                        claim_id="C2002", diagnoses=["E55.9", "Z13.21"])
    out = evaluate(pack, claim).to_dict()
    assert out["claim_id"] == "C2002"
    assert out["status"] == "denied"
    assert out["pack"]["id"] == "test-payer"
    assert out["pack"]["version"] == "2026.1"
    assert out["pack"]["hash"].startswith("sha256:")
    first = out["findings"][0]
    assert {k: first[k] for k in ("rule_id", "category", "severity", "scope", "line_number",
                                   "group_code", "carc", "rarc", "citation")} == {
        "rule_id": "MN-VITD", "category": "medical_necessity", "severity": "deny",
        "scope": "line", "line_number": 1, "group_code": "CO", "carc": "50",
        "rarc": ["N115"], "citation": "LCD L33996"}
    assert first["evidence"] == {"line.procedure": "82306", "line.diagnosis": ["Z13.21"]}
    assert first["source"]["file"].endswith("main.rules")
    assert first["source"]["line"] == 3


def test_bundling_evidence_names_the_line_and_the_pair(ncci, evaluate):
    result = evaluate(ncci, _pair("0001U", "81105", ["LT"]))
    assert result.to_dict()["findings"][0]["evidence"] == {
        "line.procedure": "81105", "line.service_date": "2026-01-15", "line.modifier": ["LT"],
        "column1": "0001U", "column1_line": 1, "modifier_indicator": 1}
