"""FHIR R4 Claim resources in: the same Claim as the equivalent JSON claim, errors by FHIR path."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from pathlib import Path

import pytest

from rulesengine import load_pack

from rulesengine import read_claims
from rulesengine.claims import ClaimError, claim_from_data
from rulesengine.claims.fhir import claims_from_fhir, is_fhir, read_fhir_claims
from rulesengine.claims.model import Claim

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
NPI = "http://hl7.org/fhir/sid/us-npi"
REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"
C4BB = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType"

# fixtures/fhir/claim.json as a plain JSON claim: what the FHIR reader must produce
C1001 = {
    "claim_id": "C1001", "claim_type": "professional", "frequency_code": None,
    "payer": {"id": "medicare", "plan": "PartB"},
    "received_date": "2026-03-01",  # supportingInfo clmrecvddate, not created (02-27)
    "prior_authorization": "PA-2026-0042", "place_of_service": "11",
    "billing_provider": {"npi": "1234567893", "taxonomy": "207Q00000X"},
    "patient": {"member_id": "M1", "birth_date": "1950-04-02", "sex": "F"},
    "diagnoses": ["E55.9", "Z13.21", "J18.9"],  # by sequence, not by array order
    "lines": [
        {"line_number": 1, "procedure": "82306", "modifiers": [], "units": 1, "charge": 45.0,
         "service_date": "2026-01-15", "diagnosis_pointers": [1, 2]},
        {"line_number": 2, "procedure": "71046", "modifiers": ["XS", "LT"], "units": 1,
         "charge": 120.0, "service_date": "2026-01-15", "service_date_to": "2026-01-16",
         "diagnosis_pointers": [3], "place_of_service": "22"},
        {"line_number": 3, "procedure": "99213", "modifiers": ["25"], "units": 1,
         "charge": 110.0, "service_date": "2026-01-15", "diagnosis_pointers": [1, 2, 3]},
    ],
}

PATIENT_7 = {"member_id": "1EG4TE5MK73", "birth_date": "1948-11-30", "sex": "M"}
C2001 = {
    "claim_id": "C2001", "claim_type": "professional", "payer": {"id": "medicare", "plan": "PartB"},
    "received_date": "2026-02-02", "place_of_service": "11",
    "billing_provider": {"npi": "1234567893"}, "patient": PATIENT_7,
    "diagnoses": ["J18.9", "E55.9"],
    "lines": [
        {"line_number": 1, "procedure": "99213", "units": 1, "charge": 95.0,
         "service_date": "2026-01-20", "diagnosis_pointers": [1]},
        {"line_number": 2, "procedure": "82306", "modifiers": ["59"], "units": 1, "charge": 42.0,
         "service_date": "2026-01-20", "diagnosis_pointers": [2]},
    ],
}
C2003 = {
    "claim_id": "C2003", "claim_type": "institutional", "frequency_code": "1",  # bill type 0131
    "payer": {"id": "medicare", "plan": "PartB"}, "received_date": "2026-02-02",
    "billing_provider": {"npi": "1234567893"}, "patient": PATIENT_7, "diagnoses": ["J18.9"],
    "lines": [
        {"line_number": 1, "revenue_code": "0450", "units": 1, "charge": 640.0,
         "service_date": "2026-01-21", "diagnosis_pointers": [1]},
        {"line_number": 2, "revenue_code": "0450", "procedure": "G0390", "units": 1,
         "charge": 1200.0, "service_date": "2026-01-21", "diagnosis_pointers": [1]},
    ],
}


def as_claim(data: dict) -> Claim:
    claim = claim_from_data(data, "<expected>")
    assert isinstance(claim, Claim), claim
    return claim


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_a_claim_resource_reads_as_the_equivalent_json_claim():
    [claim] = read_fhir_claims(FIXTURES / "claim.json")
    assert claim == as_claim(C1001)
    assert claim.lines[1].diagnoses == ("J18.9",)  # diagnosisSequence 3 is the third by sequence


def test_a_bundle_reads_its_claims_and_reports_the_broken_one_by_fhir_path():
    results = list(read_fhir_claims(FIXTURES / "bundle.json"))
    # Patient, Organization, Coverage, Practitioner and Encounter entries are not claims
    assert len(results) == 3
    first, broken, third = results
    assert first == as_claim(C2001)
    assert third == as_claim(C2003)
    assert isinstance(broken, ClaimError)
    assert (broken.position, broken.claim_id) == (2, "C2002")
    assert broken.path == "Bundle.entry[6].resource.item[0].servicedDate"
    assert str(broken) == (f"{FIXTURES / 'bundle.json'}: claim 2 (C2002): "
                           "Bundle.entry[6].resource.item[0].servicedDate: "
                           "'2026-02-30' is not a valid date")


def test_a_stream_and_parsed_json_read_the_same():
    text = (FIXTURES / "bundle.json").read_text()
    from_stream = list(read_fhir_claims(io.StringIO(text), "day.json"))
    from_data = list(claims_from_fhir(json.loads(text), "day.json"))
    assert from_stream == from_data
    assert from_stream[1].source == "day.json"


def bundle_error(change) -> ClaimError:
    """The error for C2001 (Bundle.entry[5]) after ``change`` edits the Bundle; the other
    claims must still be read."""
    bundle = load("bundle.json")
    change(bundle, bundle["entry"][5]["resource"])
    first, _, third = claims_from_fhir(bundle, "b.json")
    assert third == as_claim(C2003)
    assert isinstance(first, ClaimError), first
    return first


C = "Bundle.entry[5].resource"


@pytest.mark.parametrize("change, path, message", [
    (lambda b, c: c["item"][1]["modifier"][0]["coding"][0].update(code="5"),
     f"{C}.item[1].modifier[0].coding[0].code", "'5' is not a valid procedure modifier"),
    (lambda b, c: c["diagnosis"][0].update(diagnosisCodeableConcept={"coding": [
        {"system": "http://snomed.info/sct", "code": "233604007"}]}),
     f"{C}.diagnosis[0].diagnosisCodeableConcept",
     "diagnosis coded only in SNOMED CT (233604007): rules check ICD-10-CM codes, so the claim "
     "is not checked; code each in ICD-10-CM as well"),
    (lambda b, c: c["item"][0].update(diagnosisSequence=[4]),
     f"{C}.item[0].diagnosisSequence[0]", "no diagnosis has sequence 4"),
    (lambda b, c: c["item"][1].update(sequence=1),
     f"{C}.item[1].sequence", f"line number 1 is also used by {C}.item[0]"),
    (lambda b, c: c["item"][0].update(productOrService={"coding": [
        {"system": "http://snomed.info/sct", "code": "390906007"}]}),
     f"{C}.item[0].productOrService", "no CPT or HCPCS coding"),
    (lambda b, c: c["item"][0].update(quantity={"value": "one"}),
     f"{C}.item[0].quantity.value", 'expected a number, got "one"'),
    (lambda b, c: c["item"][0].update(servicedDate="2026-01"),
     f"{C}.item[0].servicedDate", "only a partial date"),
    (lambda b, c: c["item"][0].pop("servicedDate"),
     f"{C}.item[0]", "no servicedDate or servicedPeriod"),
    (lambda b, c: c["item"][0].update(locationCodeableConcept={"coding": [
        {"system": POS, "code": "111"}]}),
     f"{C}.item[0].locationCodeableConcept.coding[0].code", "'111' is not a valid place-of-service"),
    (lambda b, c: c["type"]["coding"][0].update(code="oral"),
     f"{C}.type.coding[0].code", "claim type 'oral' is not checked here"),
    (lambda b, c: c.update(item={"sequence": 1}),
     f"{C}.item", "expected an array"),
    (lambda b, c: c.update(item=[]), f"{C}.item", "has no items"),
    (lambda b, c: c.update(patient={"reference": "Patient/nobody"}),
     f"{C}.patient", "neither contained in the Claim nor an entry of the Bundle"),
    (lambda b, c: c.update(provider={"identifier": {"system": NPI, "value": "123"}}),
     f"{C}.provider.identifier.value", "'123' is not a valid NPI"),
])
def test_a_broken_claim_names_its_fhir_path_and_the_others_are_still_read(change, path, message):
    error = bundle_error(change)
    assert error.path == path
    assert message in error.message
    assert error.claim_id == "C2001"


def test_a_problem_in_the_patient_names_the_patient_element():
    bundle = load("bundle.json")
    bundle["entry"][0]["resource"]["birthDate"] = "1948-02-30"
    errors = list(claims_from_fhir(bundle, "b.json"))
    # the Patient is shared, so every claim about them fails, at the Patient's own element
    assert {(e.path, e.message) for e in errors} == {
        ("Bundle.entry[0].resource.birthDate", "'1948-02-30' is not a valid date")}
    assert [e.claim_id for e in errors] == ["C2001", "C2002", "C2003"]
    claim = load("claim.json")
    claim["contained"][0].pop("gender")
    [error] = claims_from_fhir(claim)
    assert (error.path, error.message) == ("Claim.contained[0].gender", "required field is missing")
    claim["contained"][0]["gender"] = "woman"
    [error] = claims_from_fhir(claim)
    assert error.path == "Claim.contained[0].gender"
    assert "not a FHIR administrative gender" in error.message


def test_ndjson_export_one_resource_per_line():
    claim = load("claim.json")
    lines = [json.dumps({"resourceType": "Patient", "id": "x"}), json.dumps(claim), "",
             json.dumps(dict(claim, identifier=[{"value": "C1002"}])), "{not json"]
    results = list(read_fhir_claims(io.StringIO("\n".join(lines)), "claims.ndjson"))
    assert [getattr(r, "claim_id", None) for r in results[:2]] == ["C1001", "C1002"]
    assert results[0] == as_claim(C1001)
    error = results[2]
    assert isinstance(error, ClaimError) and (error.unit, error.position) == ("line", 5)


def test_identifier_or_id_names_the_claim_and_other_resources_are_skipped():
    claim = load("claim.json")
    claim.pop("identifier")
    [result] = claims_from_fhir(claim)
    assert result.claim_id == "claim-c1001"
    # a Patient on its own line of an NDJSON export is skipped; a file of one is an error
    assert list(claims_from_fhir({"resourceType": "Patient", "id": "p"}, "x.ndjson", 3)) == []
    [error] = claims_from_fhir({"resourceType": "Patient", "id": "p"}, "p.json")
    assert "a FHIR Patient resource: expected a Claim" in error.message
    [error] = claims_from_fhir({"resourceType": "Bundle", "entry": []}, "b.json")
    assert "holds no Claim" in error.message
    [error] = claims_from_fhir({"claims": []}, "x.json")
    assert "not a FHIR resource" in error.message
    assert is_fhir(claim) and not is_fhir({"claim_id": "C1"})


def test_payer_plan_and_member_fall_back_to_coverage_and_references():
    bundle = load("bundle.json")
    claim = bundle["entry"][5]["resource"]
    claim.pop("insurer")  # the payer then comes from Coverage.payor
    bundle["entry"][0]["resource"]["identifier"] = []  # member id: Coverage.subscriberId
    bundle["entry"][2]["resource"].pop("class")  # plan: the coverage reference's display
    claim["insurance"][0]["coverage"]["display"] = "HMO"
    claim["insurance"][0]["preAuthRef"] = ["AUTH-77"]
    first = next(claims_from_fhir(bundle))
    assert (first.payer_id, first.plan, first.member_id) == ("medicare", "HMO", "1EG4TE5MK73")
    assert first.prior_authorization == "AUTH-77"


def test_unit_price_times_quantity_when_there_is_no_net():
    claim = load("claim.json")
    claim["item"][1]["quantity"] = {"value": 2}
    [result] = claims_from_fhir(claim)
    assert (result.lines[1].units, result.lines[1].charge) == (2, 240.0)


# --- the bundled example claims, as FHIR: the same claims, the same findings ---

def cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def to_fhir(data: dict) -> dict:
    """A JSON claim as a FHIR R4 Claim with a contained Patient and Coverage."""
    patient = data["patient"]
    gender = {"M": "male", "F": "female", "U": "unknown"}[patient["sex"]]
    contained = [
        {"resourceType": "Patient", "id": "pat", "gender": gender, "birthDate": patient["birth_date"],
         "identifier": [{"type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MB"),
                         "value": patient["member_id"]}]},
        {"resourceType": "Coverage", "id": "cov", "status": "active",
         "class": [{"type": cc("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                    "value": data["payer"]["plan"]}]},
    ]
    items = []
    for line in data["lines"]:
        code = line.get("procedure")
        item = {"sequence": line["line_number"],
                "productOrService": cc(HCPCS if code and code[0].isalpha() else CPT, code)
                if code else cc("http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                "not-applicable"),
                "modifier": [cc(CPT, m) for m in line.get("modifiers") or []],
                "quantity": {"value": line.get("units", 1)},
                "net": {"value": line["charge"], "currency": "USD"},
                "diagnosisSequence": line.get("diagnosis_pointers") or []}
        if line.get("service_date_to"):
            item["servicedPeriod"] = {"start": line["service_date"], "end": line["service_date_to"]}
        else:
            item["servicedDate"] = line["service_date"]
        pos = line.get("place_of_service") or data.get("place_of_service")
        if pos:
            item["locationCodeableConcept"] = cc(POS, pos)
        if line.get("revenue_code"):
            item["revenue"] = cc(REVENUE, line["revenue_code"])
        items.append(item)
    claim = {
        "resourceType": "Claim", "id": data["claim_id"].lower(), "contained": contained,
        "identifier": [{"value": data["claim_id"]}], "status": "active", "use": "claim",
        "type": cc("http://terminology.hl7.org/CodeSystem/claim-type", data["claim_type"]),
        "patient": {"reference": "#pat"}, "created": data["received_date"],
        "insurer": {"identifier": {"value": data["payer"]["id"]}},
        "provider": {"identifier": {"system": NPI, "value": data["billing_provider"]["npi"]}},
        "priority": cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "#cov"},
                       "preAuthRef": [data["prior_authorization"]]
                       if data.get("prior_authorization") else []}],
        "diagnosis": [{"sequence": n, "diagnosisCodeableConcept": cc(ICD, code)}
                      for n, code in enumerate(data["diagnoses"], 1)],
        "item": items,
    }
    if data["claim_type"] == "institutional":  # hospital outpatient bill type, with its frequency
        claim["supportingInfo"] = [{"sequence": 1, "category": cc(C4BB, "typeofbill"),
                                    "code": cc("https://www.nubc.org/CodeSystem/TypeOfBill",
                                               "013" + data["frequency_code"])}]
    return claim


def without_untranslated(claim: Claim) -> Claim:
    """FHIR R4 has no element for a professional claim's frequency or the provider's taxonomy
    in this translation: compare the rest."""
    changes = {"taxonomy": None}
    if claim.claim_type == "professional":
        changes["frequency_code"] = None
    return dataclasses.replace(claim, **changes)


def test_the_dirty_examples_as_a_fhir_bundle_give_the_same_findings():
    source = json.loads((ROOT / "examples/claims/dirty.json").read_text())
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": to_fhir(copy.deepcopy(c))} for c in source]}
    from_fhir = list(claims_from_fhir(bundle, "dirty-fhir.json"))
    from_json = list(read_claims(ROOT / "examples/claims/dirty.json"))
    assert all(isinstance(c, Claim) for c in from_fhir), [str(c) for c in from_fhir]
    assert [without_untranslated(c) for c in from_fhir] == [without_untranslated(c) for c in from_json]
    pack = load_pack(ROOT / "payer_rules/medicare")

    def findings(claims):
        return [(r.claim_id, r.status, [(f.rule_id, f.line_number, f.group_code, f.carc)
                                        for f in r.findings])
                for r in map(pack.check, claims)]

    expected = findings(from_json)
    assert findings(from_fhir) == expected
    assert sum(len(f) for _, _, f in expected) >= 12  # every dirty claim has a finding


def _element_paths(node, prefix=()):
    if prefix:
        yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _element_paths(child, (*prefix, key))


def test_any_element_of_the_wrong_shape_is_an_error_for_that_claim_never_a_crash():
    original = load("claim.json")
    odd_values = [None, 7, True, "x", [], {}, ["x"], [{}], {"coding": "x"}]
    count = 0
    for path in _element_paths(original):
        if path == ("resourceType",):
            continue  # then it is no longer a Claim
        for value in odd_values:
            claim = copy.deepcopy(original)
            parent = claim
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            [result] = claims_from_fhir(claim, "odd.json")
            assert isinstance(result, (Claim, ClaimError))
            if isinstance(result, ClaimError):
                assert result.path.startswith("Claim"), (path, value, result)
            count += 1
    assert count > 1000
