"""Reading claims: JSON and JSON Lines in, Claim or ClaimError out, one per claim."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest
from jsonschema import Draft202012Validator

from rulesengine.claims import (
    CLAIM_SCHEMA,
    ClaimError,
    iter_claim_files,
    read_claims,
    read_claims_from_text,
    validate_claim,
)
from rulesengine.claims.model import Claim

# Vitamin D screening and a chest X-ray, as DESIGN.md's example claim.
GOOD = {
    "claim_id": "C1001",
    "claim_type": "professional",
    "frequency_code": "1",
    "payer": {"id": "medicare", "plan": "PartB"},
    "received_date": "2026-03-01",
    "prior_authorization": None,
    "place_of_service": "11",
    "billing_provider": {"npi": "1234567893", "taxonomy": "207Q00000X"},
    "patient": {"member_id": "M1", "birth_date": "1950-04-02", "sex": "F"},
    "diagnoses": ["E559", "Z13.21", "J18.9"],
    "lines": [
        {"line_number": 1, "procedure": "82306", "modifiers": ["91"], "units": 1,
         "charge": 45.00, "service_date": "2026-01-15", "service_date_to": None,
         "diagnosis_pointers": [1, 2], "place_of_service": None,
         "revenue_code": None, "ndc": None, "prior_authorization": None},
        {"line_number": 2, "procedure": "71046", "modifiers": ["59", "XS", "LT"],
         "units": 1, "charge": 120.0, "service_date": "2026-01-15",
         "service_date_to": "2026-01-16", "place_of_service": "22"},
    ],
}


def claim(claim_id: str = "C1001", **changes) -> dict:
    data = copy.deepcopy(GOOD)
    data["claim_id"] = claim_id
    data.update(changes)
    return data


def line(**changes) -> dict:
    data = copy.deepcopy(GOOD["lines"][0])
    data.update(changes)
    return data


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(CLAIM_SCHEMA)
    assert validate_claim(GOOD) == []


def test_a_good_claim_becomes_a_claim(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(GOOD))
    [result] = read_claims(path)
    assert isinstance(result, Claim)
    assert result.claim_id == "C1001"
    assert result.diagnoses == ("E55.9", "Z13.21", "J18.9")  # E559 gets its dot
    assert result.birth_date == date(1950, 4, 2)
    assert result.received_date == date(2026, 3, 1)
    first, second = result.lines
    assert first.service_date == date(2026, 1, 15)
    assert first.diagnoses == ("E55.9", "Z13.21")  # pointers 1, 2
    assert second.diagnoses == ("E55.9", "Z13.21", "J18.9")  # no pointers: all of them
    assert second.modifiers == ("59", "XS", "LT")
    assert second.service_date_to == date(2026, 1, 16)
    assert result.last_service_date == date(2026, 1, 16)


def test_claims_key_and_list_are_both_read(tmp_path):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"claims": [claim("C1"), claim("C2")]}))
    assert [c.claim_id for c in read_claims(path)] == ["C1", "C2"]


def test_a_malformed_claim_in_a_list_is_reported_and_the_others_still_read(tmp_path):
    bad = claim("C1002")
    bad["lines"][0]["service_date"] = "2026-13-01"
    path = tmp_path / "claims.json"
    path.write_text(json.dumps([claim("C1001"), bad, claim("C1003")]))
    first, error, third = read_claims(path)
    assert (first.claim_id, third.claim_id) == ("C1001", "C1003")
    assert error == ClaimError(str(path), 2, "C1002", "$.lines[0].service_date", "'2026-13-01' is not a valid date")
    assert str(error) == f"{path}: claim 2 (C1002): $.lines[0].service_date: '2026-13-01' is not a valid date"


def test_json_lines_with_a_broken_line_goes_on_reading(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text(
        json.dumps(claim("C1")) + "\n"
        + "\n"  # blank lines are skipped but still counted
        + '{"claim_id": "C2", "claim_type": "professional",\n'
        + json.dumps(claim("C3")) + "\n"
    )
    first, error, third = read_claims(path)
    assert (first.claim_id, third.claim_id) == ("C1", "C3")
    assert (error.position, error.unit, error.claim_id) == (3, "line", None)
    assert str(error) == f"{path}: line 3: not valid JSON at column 49: Expecting property name enclosed in double quotes"


def test_json_lines_errors_name_the_line_and_claim():
    bad = claim("C7", diagnoses=["E55.9"])
    text = json.dumps(claim("C6")) + "\n" + json.dumps(bad) + "\n"
    _, error = read_claims_from_text(text, "day.ndjson", "jsonl")
    assert str(error) == "day.ndjson: line 2 (C7): $.lines[0].diagnosis_pointers[1]: pointer 2 but the claim has 1 diagnosis"


def test_a_file_that_is_not_json_is_one_error_with_line_and_column(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text('[\n  {"claim_id": "C1",\n   "claim_type" "professional"}\n]\n')
    [error] = read_claims(path)
    assert error.position == 1  # the claim the error is in
    assert str(error) == f"{path}: claim 1: not valid JSON at line 3, column 17: Expecting ':' delimiter"


def test_an_impossible_date_is_rejected():
    [(path, message)] = validate_claim(claim(received_date="2026-02-30"))
    assert (path, message) == ("$.received_date", "'2026-02-30' is not a valid date")


def test_a_misshapen_date_says_what_a_date_looks_like():
    data = claim(lines=[line(service_date="01/15/2026")])
    assert validate_claim(data) == [("$.lines[0].service_date", "'01/15/2026' is not a valid date (for example 2026-01-15)")]


def test_a_pointer_past_the_last_diagnosis():
    data = claim(diagnoses=["E55.9", "Z13.21"], lines=[line(), line(line_number=2, diagnosis_pointers=[3])])
    [error] = read_claims_from_text(json.dumps([data]), "claims.json")
    assert error.path == "$.lines[1].diagnosis_pointers[0]"
    assert error.message == "pointer 3 but the claim has 2 diagnoses"


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        (lambda c: c.pop("claim_id"), "$.claim_id"),
        (lambda c: c["patient"].pop("birth_date"), "$.patient.birth_date"),
        (lambda c: c["lines"][1].pop("service_date"), "$.lines[1].service_date"),
        (lambda c: c["lines"][0].pop("procedure"), "$.lines[0].procedure"),  # professional line
    ],
)
def test_a_missing_required_field_names_its_path(remove, path):
    data = claim()
    remove(data)
    assert validate_claim(data) == [(path, "required field is missing")]


def test_an_institutional_line_needs_a_revenue_code_not_a_procedure():
    data = claim(claim_type="institutional", lines=[line(procedure=None, revenue_code="0450")])
    assert validate_claim(data) == []
    data["lines"][0]["revenue_code"] = None
    assert validate_claim(data) == [("$.lines[0].revenue_code", "expected string, got null")]


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"diagnoses": ["E55-9"]}, "$.diagnoses[0]",
         "'E55-9' is not a valid ICD-10-CM diagnosis code (for example E55.9)"),
        ({"place_of_service": "1"}, "$.place_of_service",
         "'1' is not a valid place-of-service code (for example 11)"),
        ({"lines": [line(procedure="8230")]}, "$.lines[0].procedure",
         "'8230' is not a valid CPT/HCPCS procedure code (for example 82306)"),
        ({"lines": [line(modifiers=["5"])]}, "$.lines[0].modifiers[0]",
         "'5' is not a valid procedure modifier (for example 59)"),
        ({"lines": [line(units=0)]}, "$.lines[0].units", "0 is less than or equal to the minimum of 0"),
        ({"lines": []}, "$.lines", None),
    ],
)
def test_code_shapes_and_limits(changes, path, message):
    [(found_path, found_message)] = validate_claim(claim(**changes))
    assert found_path == path
    if message:
        assert found_message == message


def test_a_span_that_ends_before_it_starts():
    data = claim(lines=[line(service_date_to="2026-01-14")])
    assert validate_claim(data) == [("$.lines[0].service_date_to", "'2026-01-14' is before the service date '2026-01-15'")]


def test_a_repeated_line_number():
    data = claim(lines=[line(), line(procedure="71046")])
    assert validate_claim(data) == [("$.lines[1].line_number", "line number 1 is also used by $.lines[0]")]


def test_not_a_number_is_not_a_charge():
    text = json.dumps(claim()).replace("45.0", "NaN")
    [error] = read_claims_from_text(text, "c.jsonl", "jsonl")
    assert str(error) == ("c.jsonl: line 1 (C1001): $.lines[0].charge: not a finite number "
                          "(written as 1e999, Infinity or NaN)")


def test_format_is_sniffed_when_the_name_does_not_say():
    lines = json.dumps(claim("C1")) + "\n" + json.dumps(claim("C2")) + "\n"
    assert [c.claim_id for c in read_claims_from_text(lines)] == ["C1", "C2"]
    pretty = json.dumps([claim("C1"), claim("C2")], indent=2)
    assert [c.claim_id for c in read_claims_from_text(pretty)] == ["C1", "C2"]
    assert list(read_claims_from_text("\n\n")) == []


def test_json_lines_saved_as_json_is_still_read(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(claim("C1")) + "\n" + json.dumps(claim("C2")) + "\n")
    assert [c.claim_id for c in read_claims(path)] == ["C1", "C2"]


def test_a_top_level_that_is_not_claims():
    [error] = read_claims_from_text("42", "x.json", "json")
    assert str(error) == 'x.json: expected a claim object, a list of claims or {"claims": [...]}'


def test_folders_expand_to_their_claim_files(tmp_path):
    for name in ["b.jsonl", "a.json", "c.ndjson", "notes.txt"]:
        (tmp_path / name).write_text("")
    other = tmp_path / "sub" / "z.json"
    other.parent.mkdir()
    other.write_text("")
    found = iter_claim_files([tmp_path, other, tmp_path / "a.json"])
    assert [p.name for p in found] == ["a.json", "b.jsonl", "c.ndjson", "z.json"]
    with pytest.raises(FileNotFoundError):
        iter_claim_files([tmp_path / "missing.json"])


def test_the_fast_validator_agrees_with_the_python_one():
    """jsonschema-rs decides validity on the fast path; the Python validator words errors.
    They must agree on every claim, valid or not, or a claim could slip through unchecked."""
    from rulesengine.claims.build import _VALIDATOR, _is_valid

    variants = [
        claim(),
        claim(claim_type="institutional", lines=[line(procedure=None, revenue_code="0450")]),
        claim(diagnoses=["E55-9"]), claim(diagnoses=["E559", "j18.9"]),
        claim(place_of_service="1"), claim(place_of_service="022"),
        claim(lines=[line(procedure="8230")]), claim(lines=[line(procedure="G0438")]),
        claim(lines=[line(modifiers=["5"])]), claim(lines=[line(modifiers=["XS", "LT"])]),
        claim(lines=[line(units=0)]), claim(lines=[line(units=2.5)]), claim(lines=[]),
        claim(lines=[line(service_date="2026-02-30")]), claim(lines=[line(service_date="2024-02-29")]),
        claim(lines=[line(service_date="2026-1-05")]), claim(received_date="2026-13-01"),
        claim(claim_type="dental"), claim(claim_id=17), claim(diagnoses="E55.9"),
    ]
    without_patient = claim()
    without_patient.pop("patient")
    variants.append(without_patient)
    answers = [(_is_valid(v), _VALIDATOR.is_valid(v)) for v in variants]
    assert all(fast == slow for fast, slow in answers), answers
    assert {fast for fast, _ in answers} == {True, False}


def _day(count: int) -> list[dict]:
    return [claim(claim_id=f"C{n:05d}") for n in range(count)]


def test_a_json_list_is_read_one_claim_at_a_time_across_chunk_boundaries(tmp_path, monkeypatch):
    import rulesengine.claims.json as claims_io
    monkeypatch.setattr(claims_io, "_CHUNK", 97)  # claims straddle many chunk boundaries
    path = tmp_path / "day.json"
    path.write_text(json.dumps(_day(40), indent=2))
    got = list(read_claims(path))
    assert [c.claim_id for c in got] == [f"C{n:05d}" for n in range(40)]


def test_a_syntax_error_inside_a_long_list_keeps_the_claims_before_it(tmp_path, monkeypatch):
    import rulesengine.claims.json as claims_io
    monkeypatch.setattr(claims_io, "_CHUNK", 128)
    text = json.dumps(_day(3), indent=1)
    text = text[:-2] + ',\n {"claim_id": "C9" "claim_type": "professional"}\n]'
    path = tmp_path / "day.json"
    path.write_text(text)
    *claims, error = read_claims(path)
    assert [c.claim_id for c in claims] == ["C00000", "C00001", "C00002"]
    line = text.count("\n", 0, text.index('"C9"')) + 1
    assert str(error) == f"{path}: claim 4: not valid JSON at line {line}, column 20: Expecting ',' delimiter"


def test_memory_stays_flat_reading_a_long_json_list(tmp_path):
    import tracemalloc
    path = tmp_path / "day.json"
    path.write_text(json.dumps(_day(20_000)))
    assert path.stat().st_size > 15_000_000
    tracemalloc.start()
    count = sum(1 for _ in read_claims(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 20_000
    assert peak < 3_000_000  # a claim and a read-ahead chunk, not the 15 MB file
