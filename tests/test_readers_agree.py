"""Every reader gives the same claim for the same content: one claim written by hand in
each format (tests/fixtures/same-claim/README.md), read by every reader, compared field
for field, and checked to the same result."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

import rulesengine
from rulesengine.claims import claim_from_data, read_claims_from_binary

FIXTURES = Path(__file__).parent / "fixtures" / "same-claim"
FILES = ["claim.json", "claim-lower-case.jsonl", "claim.csv", "claim.837p", "claim.fhir.json"]
#: what a format has no element for
NOT_CARRIED = {"claim.fhir.json": {"frequency_code"}}


def read(name: str) -> rulesengine.Claim:
    [claim] = list(rulesengine.read_claims(FIXTURES / name))
    assert isinstance(claim, rulesengine.Claim), claim
    return claim


@pytest.fixture(scope="module")
def expected() -> rulesengine.Claim:
    return read("claim.json")


@pytest.mark.parametrize("name", FILES)
def test_every_reader_gives_the_same_claim(name, expected):
    claim = read(name)
    left_out = {f: None for f in NOT_CARRIED.get(name, ())}
    assert claim == dataclasses.replace(expected, **left_out)
    assert claim.lines[1].modifiers == ("XS", "LT") and claim.diagnoses == ("E55.9", "Z13.21")


@pytest.mark.parametrize("name", FILES)
def test_the_same_claim_from_bytes_as_from_its_file(name):
    # the service and the Spark reader hand bytes to the readers, the CLI a file
    fmt = {"json": "json", "jsonl": "jsonl", "csv": "csv", "837p": "x12"}.get(name.rsplit(".", 1)[1])
    [claim] = list(read_claims_from_binary(io.BufferedReader(io.BytesIO((FIXTURES / name).read_bytes())),
                                           name, fmt))
    assert claim == read(name)


def test_every_reader_checks_to_the_same_result(expected):
    pack = rulesengine.load_pack(Path(__file__).parent.parent / "payer_rules" / "medicare")
    results = {name: pack.check(read(name)).to_dict() for name in FILES}
    assert len({json.dumps(r, sort_keys=True) for r in results.values()}) == 1


def test_lower_case_codes_are_read_in_capitals_and_a_wrong_one_is_named_so():
    data = json.loads((FIXTURES / "claim.json").read_text())
    data["lines"][1]["modifiers"] = ["xs", "l"]
    error = claim_from_data(data)
    assert isinstance(error, rulesengine.ClaimError)
    assert (error.path, error.message) == ("$.lines[1].modifiers[1]",
                                           "'L' is not a valid procedure modifier (for example 59)")
    original = json.loads((FIXTURES / "claim.json").read_text())
    original["lines"][1]["modifiers"] = ["xs", "lt"]
    copy = json.loads(json.dumps(original))
    assert isinstance(claim_from_data(original), rulesengine.Claim)
    assert original == copy  # the caller's data is left as it was
