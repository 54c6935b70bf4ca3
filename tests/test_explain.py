"""``rulesengine explain``: why each rule fired or passed on a claim, as a biller reads it.

The example claims are explained against the bundled packs and compared with golden text
files (``tests/golden/explain/``), each read by hand for accuracy against the policies and
the claims. ``REGENERATE=1 pytest tests/test_explain.py`` rewrites them; read the diff
before committing it. Every explanation is held to ``pack.check``: a rule explained as
fired is a finding, and every finding is a rule explained as fired.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulesengine
from corpus import FIXTURES, build_claim, random_claims
from rulesengine.claims import claim_from_data
from rulesengine.cli import main
from rulesengine.authoring.explain.claim import explain_claim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "explain"
MEDICARE, ACME = "payer_rules/medicare", "payer_rules/acme-commercial"
CASES = [("dirty.json", MEDICARE, "medicare_dirty.txt", 1),
         ("clean.json", MEDICARE, "medicare_clean.txt", 0),
         ("acme.json", ACME, "acme.txt", 1)]


@pytest.fixture
def run(monkeypatch):
    # rule files are shown from the working folder, as a user at the repository root sees them
    monkeypatch.chdir(ROOT)

    def invoke(*args):
        return CliRunner().invoke(main, ["explain", *args], catch_exceptions=False)
    return invoke


@pytest.fixture(scope="module")
def medicare():
    return rulesengine.load_pack(ROOT / MEDICARE)


def _claims(name):
    return list(rulesengine.read_claims(ROOT / "examples" / "claims" / name))


# ---- the examples, against hand-checked goldens --------------------------------------------------

@pytest.mark.parametrize("claims, pack, golden, status", CASES, ids=[c[2] for c in CASES])
def test_example_explanation_matches_its_golden(run, claims, pack, golden, status):
    result = run(f"examples/claims/{claims}", "--pack", pack)
    path = GOLDEN / golden
    if os.environ.get("REGENERATE"):
        path.write_text(result.output, encoding="utf-8")
    assert result.output == path.read_text(encoding="utf-8")
    assert result.exit_code == status  # 1 when a rule fired, 0 when every claim is clean


@pytest.mark.parametrize("claims, pack", [(c[0], c[1]) for c in CASES])
def test_every_fired_explanation_is_a_finding_of_pack_check(claims, pack):
    loaded = rulesengine.load_pack(ROOT / pack)
    for claim in _claims(claims):
        x = explain_claim(loaded, claim)
        assert not x.disagreements
        fired = sorted((e.rule_id, e.line.line_number if e.line else None)
                       for e in x.explanations if e.fired)
        found = sorted((f.rule_id, f.line_number) for f in loaded.check(claim).findings)
        assert fired == found, claim.claim_id
        for e in x.explanations:
            if e.fired:  # the message shown is the checker's own
                assert e.finding in {f.message for f in loaded.check(claim).findings}


def test_every_rule_of_every_kind_agrees_with_pack_check_on_a_random_corpus():
    """The agreement pack uses every construct and rule kind; a seeded corpus of claims
    near every boundary makes each rule fire somewhere. Explained alone (--rule) or all
    together, the explanation must agree with the compiled evaluator on every claim."""
    from test_agreement import SEED, SPEC
    pack = rulesengine.load_pack(FIXTURES / "agreement_pack")
    fired: set[str] = set()
    for data in random_claims(300, SEED, SPEC):
        claim = claim_from_data(data)
        whole = explain_claim(pack, claim)
        assert not whole.disagreements, (claim.claim_id, whole.disagreements)
        fired |= {e.rule_id for e in whole.explanations if e.fired}
        for rule in pack.rules:
            alone = explain_claim(pack, claim, rule.id)
            assert not alone.disagreements, (claim.claim_id, rule.id, alone.disagreements)
            lines = {e.line for e in alone.explanations}  # every line, or the claim when 'when' fails
            assert lines == set(claim.lines) or lines == {None}
    assert fired == {r.id for r in pack.rules}


def test_a_disagreement_with_pack_check_is_reported_loudly(run, monkeypatch):
    """If the explanation ever disagrees with the checker, the output says so, and the
    command exits with status 123 (an internal error)."""
    real = rulesengine.CompiledPack.check

    def drops_findings(self, claim):
        result = real(self, claim)
        return type(result)(result.claim_id, result.pack, ())
    monkeypatch.setattr(rulesengine.CompiledPack, "check", drops_findings)
    result = CliRunner().invoke(main, ["explain", "examples/claims/dirty.json", "--pack", MEDICARE,
                                       "--claim-id", "TF-LATE"])
    assert result.exit_code == 123
    assert ("!! DISAGREEMENT with rulesengine check: this explanation says TF-PROFESSIONAL fired on "
            "line 1, but pack.check has no such finding. The explanation or the checker is wrong; "
            "please report it.") in " ".join(result.output.split())
    assert "1 claim explained with pack medicare 2026.3: 1 rule fired; 1 DISAGREE" in result.output


# ---- --rule -----------------------------------------------------------------------------------------

def test_rule_that_does_not_apply_says_why_on_every_line(run):
    result = run("examples/claims/dirty.json", "--pack", MEDICARE, "--claim-id", "NCCI-BUNDLED",
                 "--rule", "MN-VITD-82306", "--format", "json")
    assert result.exit_code == 0
    [claim] = json.loads(result.output)
    assert [(e["rule_id"], e["line"], e["applies"], e["fired"]) for e in claim["explanations"]] == [
        ("MN-VITD-82306", 1, False, False), ("MN-VITD-82306", 2, False, False)]
    assert claim["explanations"][1]["reason"] == (
        "does not apply: the rule is only for lines where the line's procedure is one of 82306; "
        "here the line's procedure is 81105, not one of 82306")


def test_rule_outside_its_effective_window_says_so_by_date_of_service(medicare):
    claim = build_claim([{"procedure": "82306", "service_date": "2024-06-01"}], received_date="2024-06-20",
                        diagnoses=["Z13.21"])
    [e] = explain_claim(medicare, claim, "MN-VITD-82306").explanations
    assert (e.outcome, e.window["inside"]) == ("not-applicable", False)
    assert e.reason == ("does not apply: the line's date of service 2024-06-01 is before the rule "
                        "takes effect on 2024-11-28")


def test_rule_whose_claim_condition_is_false_names_the_value(run):
    result = run("examples/claims/dirty.json", "--pack", MEDICARE, "--claim-id", "TF-LATE",
                 "--rule", "PA-OPD-BLEPHAROPLASTY")
    assert result.exit_code == 0
    assert 'here the claim type is "professional", not "institutional"' in " ".join(result.output.split())


def test_rule_disabled_by_a_layer_is_explained_with_its_reason(run):
    result = run("examples/claims/acme.json", "--pack", ACME, "--claim-id", "ACME-TF-LATE",
                 "--rule", "PA-OPD-BLEPHAROPLASTY", "--format", "json")
    [e] = json.loads(result.output)[0]["explanations"]
    assert (e["outcome"], e["pack"], e["source"]) == (
        "disabled", "acme-commercial", {"file": "payer_rules/acme-commercial/filing.rules", "line": 27})
    assert e["reason"].startswith("does not apply: pack acme-commercial disables rule PA-OPD-BLEPHAROPLASTY "
                                  "because \"42 CFR 419.83 governs Medicare's hospital outpatient")


def test_unknown_rule_or_claim_is_a_usage_error_with_a_suggestion(run):
    result = run("examples/claims/dirty.json", "--pack", MEDICARE, "--rule", "MN-VITD-8230")
    assert result.exit_code == 2 and "did you mean 'MN-VITD-82306'?" in result.output
    result = run("examples/claims/acme.json", "--pack", ACME, "--rule", "PA-OPD-BLEPHAROPLASTI")
    assert result.exit_code == 2 and "did you mean 'PA-OPD-BLEPHAROPLASTY'?" in result.output
    result = run("examples/claims/dirty.json", "--pack", MEDICARE, "--claim-id", "TF-LAT")
    assert result.exit_code == 2 and "has no claim TF-LAT; did you mean 'TF-LATE'" in result.output


def test_an_unreadable_claim_is_reported_and_the_others_explained(run):
    result = run("examples/claims/malformed.json", "--pack", MEDICARE, "--rule", "MN-VITD-82306")
    assert result.exit_code == 2
    assert "unreadable: examples/claims/malformed.json: claim 2 (BAD-SERVICE-DATE)" in result.output
    assert "BATCH-OK-1  CLEAN" in result.output and "BATCH-OK-2  CLEAN" in result.output


# ---- the JSON format ----------------------------------------------------------------------------------

def test_json_lists_each_claims_explanations(run, medicare):
    result = run("examples/claims/dirty.json", "--pack", MEDICARE, "--format", "json")
    assert result.exit_code == 1
    claims = json.loads(result.output)
    assert [c["claim_id"] for c in claims] == [c.claim_id for c in _claims("dirty.json")]
    by_id = {c["claim_id"]: c for c in claims}
    tf = by_id["TF-LATE"]
    assert (tf["status"], tf["agrees_with_check"], tf["pack"]["id"]) == ("denied", True, "medicare")
    first, second = [e for e in tf["explanations"] if e["rule_id"] == "TF-PROFESSIONAL"]
    assert {"rule_id", "pack", "source", "applies", "fired", "reason", "values", "fix"} <= first.keys()
    assert first == first | {
        "line": 1, "pack": "medicare", "applies": True, "fired": True, "outcome": "fired",
        "source": {"file": "payer_rules/medicare/filing.rules", "line": 23},
        "values": {"claim.type": "professional", "claim.received_date": "2026-07-15",
                   "line.service_date": "2025-07-01"},
        "reason": "requirement not met: the received date is 2026-07-15, 14 days after the line's "
                  "date of service plus 1 year (2026-07-01)",
        "finding": "received 2026-07-15, more than one year after the date of service 2025-07-01"}
    assert first["fix"].startswith("Filed 14 days late (received 2026-07-15; the last day to file was 2026-07-01")
    assert (second["line"], second["fired"], second["fix"]) == (2, False, None)
    assert first["checks"] == (
        'From 2010-01-01, for claims where the claim type is "professional", for each line: it '
        "requires that the received date is no later than the line's date of service plus 1 year; "
        "otherwise it denies the line (CO-29, N211).")


# ---- what each kind of rule says -------------------------------------------------------------------

def _fired(pack, claim, rule_id):
    [e] = [e for e in explain_claim(pack, claim, rule_id).explanations if e.fired]
    return e


def test_medical_necessity_names_the_diagnoses_seen_and_the_unpointed_covered_one(medicare):
    [claim] = [c for c in _claims("dirty.json") if c.claim_id == "MN-DX-NOT-POINTED"]
    e = _fired(medicare, claim, "MN-VITD-82306")
    assert e.line.line_number == 2
    assert e.reason == ("requirement not met: the line's diagnoses are Z00.00; none of them is in "
                        "vitd_82306_covered")
    assert "The claim has E55.9 (diagnosis 1), in vitd_82306_covered, but line 2 does not point to it" in e.fix
    assert "at least one of the line's diagnoses is in vitd_82306_covered (183 codes)" in e.checks


def test_ncci_indicator_one_suggests_a_bypass_modifier_and_indicator_zero_none(medicare):
    [claim] = [c for c in _claims("dirty.json") if c.claim_id == "NCCI-BUNDLED"]
    e = _fired(medicare, claim, "NCCI-PTP")
    assert e.fix == ("If the service was distinct, add XE/XP/XS/XU (or 59) to the column-two line "
                     "(line 2, 81105); otherwise 81105 is not paid with 0001U.")
    # 0001A/36591 had modifier indicator 0 in 2022-2023
    claim = build_claim([{"procedure": "0001A", "service_date": "2023-03-01"},
                         {"procedure": "36591", "service_date": "2023-03-01", "modifiers": ["59"]}],
                        received_date="2023-03-10")
    e = _fired(medicare, claim, "NCCI-PTP")
    assert "has modifier indicator 0, which no modifier bypasses" in e.reason
    assert e.fix.startswith("No modifier can bypass this pair (modifier indicator 0): 36591 is not paid with 0001A")


def test_mue_counts_the_units_of_the_date_or_of_the_line(medicare, make_pack):
    [claim] = [c for c in _claims("dirty.json") if c.claim_id == "MUE-DOS-SUMMED-ACROSS-LINES"]
    e = next(x for x in explain_claim(medicare, claim, "MUE-PRACTITIONER").explanations if x.fired)
    assert ("the units of 0009U on 2026-09-10, added up over the claim's lines, are 3 (line 1: 2, "
            "line 2: 1), over the MUE of 2 by 1") in e.reason
    assert e.fix.startswith("The units of 0009U summed on 2026-09-10 are 3 (line 1: 2, line 2: 1), 1 over")
    pack = make_pack("""
        table mue from "tables/mue.csv"
          columns code hcpcs, limit integer, adjudication integer
        rule MUE "Units over the MUE"
          category unit_limit
          for each line
          require units within mue
          else deny line CO-151 N362
        """, tables={"tables/mue.csv": [("code", "limit", "adjudication"), ("36415", 2, 1)]})
    claim = build_claim([{"procedure": "36415", "units": 5}])
    e = _fired(pack, claim, "MUE")
    assert e.fix == "Units over the limit by 3: bill at most 2 units of 36415 on this line."


def test_missing_prior_authorization_says_where_to_put_it(run):
    result = run("examples/claims/acme.json", "--pack", ACME, "--claim-id", "ACME-PA-MISSING-EPO",
                 "--rule", "ACME-PA-IMAGING", "--format", "json")
    [e] = json.loads(result.output)[0]["explanations"]
    assert e["reason"] == ("requirement not met: the claim's prior authorization number is missing and "
                           "the line's prior authorization number is missing")
    assert e["fix"] == ("Put the prior authorization number on the claim (claim.prior_authorization; on "
                        "an 837, loop 2300 REF*G1) or on line 1 (line.prior_authorization).")


def test_age_and_sex_compare_the_patient_with_what_the_rule_requires(medicare):
    claims = {c.claim_id: c for c in _claims("dirty.json")}
    age = _fired(medicare, claims["AGE-99392-INFANT"], "AGE-PREVENTIVE-EARLY-CHILDHOOD")
    assert age.reason == ("requirement not met: the patient's age is 0 on 2026-07-28 (born 2026-01-20), "
                          "below 1")  # only the failing half of 'at least 1 and at most 4'
    assert age.fix.startswith("The rule requires that the patient's age is at least 1, and the patient's age is 0")
    sex = _fired(medicare, claims["SEX-59400-MALE"], "SEX-MATERNITY-59400")
    assert sex.fix.startswith('The rule requires that the patient\'s sex is not "M", and the patient\'s sex is "M"')


def test_a_missing_value_is_named_and_never_fires(medicare):
    claim = build_claim([{"procedure": "99213", "service_date": "2025-01-02"}], received_date=None)
    [e] = explain_claim(medicare, claim, "TF-PROFESSIONAL").explanations
    assert (e.outcome, e.applies, e.fired) == ("unknown", True, False)
    assert e.reason.startswith("cannot tell: the received date is missing")


def test_explanations_come_from_the_rule_text_not_its_id(make_pack):
    """A rule the engine has never seen explains itself from its conditions."""
    pack = make_pack("""
        valueset screening = icd10 {Z13.*}
        rule XYZ-1 "Screening diagnoses are not for chest X-rays on HMO plans"
          category medical_necessity
          when claim.plan in {"HMO"} and not patient.age < 18
          for each line where line.procedure in 71045..71048
          require no line.diagnosis in screening or line.units > 2
          else review line CO-50
        """)
    claim = build_claim([{"procedure": "71046", "diagnosis_pointers": [2]}], payer={"plan": "HMO"})
    [e] = explain_claim(pack, claim, "XYZ-1").explanations
    assert e.checks == (
        'For claims where the plan is one of "HMO" and the patient\'s age is at least 18, for each '
        "line where the line's procedure is one of 71045 to 71048: it requires that none of the "
        "line's diagnoses is in screening (1 pattern) or the line's units are above 2; otherwise it "
        "flags the line for review (CO-50).")
    assert e.reason == ("requirement not met: the line's diagnoses are Z13.21, in screening and "
                        "the line's units are 1, not above 2")
