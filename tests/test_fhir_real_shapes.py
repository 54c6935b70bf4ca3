"""FHIR Claims as real systems write them: the HL7 specification's CMS-1500 example, a Da
Vinci PAS prior-authorization request, a Synthea-shaped Bundle (tests/fixtures/fhir/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import rulesengine
from rulesengine.claims.fhir import claims_from_fhir

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def one(data: dict):
    [item] = list(claims_from_fhir(data, "test.json"))
    return item


def test_the_hl7_cms1500_example_says_what_its_item_lacks_in_the_files_words():
    error = one(load("hl7-cms1500-medical.json"))
    assert isinstance(error, rulesengine.ClaimError)
    assert error.path == "Claim.item[0].revenue"
    assert error.message == ("required element is missing: this Claim's type is institutional, "
                             "and an institutional claim bills each item by its NUBC revenue code")


def test_the_hl7_cms1500_example_as_a_professional_claim_is_read_with_its_place_of_service():
    data = load("hl7-cms1500-medical.json")
    data["type"]["coding"][0]["code"] = "professional"
    claim = one(data)
    assert isinstance(claim, rulesengine.Claim), claim
    # 24 in CMS's system written as the code set's page (lower case, .html): not dropped
    assert claim.place_of_service == "24" and claim.warnings == ()
    assert claim.diagnoses == ("M96.1", "G89.4", "M53.88", "M47.816")
    assert claim.lines[0].diagnoses == ("G89.4", "M47.816")
    assert (claim.lines[0].procedure, claim.lines[0].charge) == ("62264", 12500)
    assert (claim.payer_id, claim.member_id, claim.sex) == ("123456", "H27811234", "M")


@pytest.mark.parametrize("system", [POS, POS.replace("https", "http"), POS.lower() + ".html",
                                    POS + "/", POS.upper()])
def test_place_of_service_is_taken_in_every_spelling_of_cmss_system(system):
    data = load("pas-referral-bundle.json")
    data["entry"][0]["resource"]["item"][1]["locationCodeableConcept"]["coding"][0]["system"] = system
    assert one(data).place_of_service == "11"


def test_a_place_of_service_in_a_system_not_known_is_a_warning_naming_the_element():
    data = load("pas-referral-bundle.json")
    data["entry"][0]["resource"]["item"][1]["locationCodeableConcept"]["coding"][0]["system"] = (
        "http://example.org/pos")
    claim = one(data)
    assert claim.place_of_service is None
    assert claim.warnings[1] == (
        "Bundle.entry[0].resource.item[1].locationCodeableConcept: place of service coded in "
        f"http://example.org/pos, not CMS's place-of-service code set ({POS}): this item is read "
        "without one")


def test_a_pas_request_is_read_with_its_service_type_item_left_out_and_said():
    claim = one(load("pas-referral-bundle.json"))
    assert isinstance(claim, rulesengine.Claim), claim
    assert [ln.procedure for ln in claim.lines] == ["99243"]
    assert claim.lines[0].line_number == 2  # the item keeps its own sequence
    assert claim.warnings == ("Bundle.entry[0].resource.item[0]: coded only with an X12 service "
                              "type code (3), not a CPT or HCPCS code: this item is not checked",)
    assert (claim.payer_id, claim.plan, claim.member_id, claim.billing_npi) == (
        "acme-commercial", "HMO", "12345678901", "1234567893")
    pack = rulesengine.load_pack(Path(__file__).parent.parent / "payer_rules" / "acme-commercial")
    assert pack.check(claim).to_dict()["warnings"] == list(claim.warnings)


def test_a_pas_request_of_only_service_types_has_nothing_to_check_and_says_so():
    data = load("pas-referral-bundle.json")
    items = data["entry"][0]["resource"]["item"]
    items[1] = {**copy.deepcopy(items[0]), "sequence": 2}
    error = one(data)
    assert isinstance(error, rulesengine.ClaimError)
    assert (error.path, error.message) == (
        "Bundle.entry[0].resource.item",
        "no item of the Claim is coded with a CPT or HCPCS code the rules can check")


def test_a_patient_not_in_the_bundle_names_the_reference_it_could_not_resolve():
    data = load("pas-referral-bundle.json")
    del data["entry"][1]
    error = one(data)
    assert error.path == "Bundle.entry[0].resource.patient"
    assert error.message == ("the Patient 'Patient/SubscriberExample' is neither contained in the "
                             "Claim nor an entry of the Bundle; its birth date and sex are needed")


def test_items_without_dates_take_the_claims_billable_period():
    claim = one(load("synthea-style-bundle.json"))
    assert isinstance(claim, rulesengine.Claim), claim
    assert claim.lines[0].service_date.isoformat() == "2026-07-22"
    assert claim.lines[0].service_date_to is None  # a half-hour visit: one day
    data = load("synthea-style-bundle.json")
    del data["entry"][2]["resource"]["billablePeriod"]
    error = one(data)
    assert (error.path, error.message) == (
        "Bundle.entry[2].resource.item[0]",
        "the item has no servicedDate or servicedPeriod, and the Claim no billablePeriod")


def test_diagnoses_coded_only_in_snomed_are_one_message_naming_the_codes():
    data = load("synthea-style-bundle.json")
    data["entry"][1]["resource"]["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "34713006"}]}
    claim = data["entry"][2]["resource"]
    claim["diagnosis"].append({"sequence": 2, "diagnosisCodeableConcept": {
        "coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}})
    error = one(data)
    assert error.path == "Bundle.entry[1].resource.code"
    assert error.message == ("diagnoses coded only in SNOMED CT (34713006, 44054006): rules check "
                             "ICD-10-CM codes, so the claim is not checked; code each in ICD-10-CM "
                             "as well")
