"""CSV claims in: rows grouped by claim id, headers matched loosely, errors by line and column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rulesengine import load_pack

from rulesengine import read_claims
from rulesengine.claims import ClaimError, claim_from_data
from rulesengine.claims.csv import read_csv_claims
from rulesengine.claims.model import Claim

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "csv"

HEADER = ("claim_id,claim_type,payer_id,plan,received_date,patient_member_id,birth_date,sex,"
          "diagnoses,line_number,procedure,modifiers,units,charge,service_date,service_date_to,"
          "diagnosis_pointers,place_of_service,revenue_code,ndc,prior_authorization,"
          "line_prior_authorization,billing_npi,taxonomy,frequency_code")


def row(**values) -> str:
    """A CSV row under HEADER: a vitamin D test for a Medicare patient, changed by ``values``."""
    base = dict(claim_id="C1", claim_type="professional", payer_id="medicare", plan="PartB",
                received_date="2026-03-01", patient_member_id="M1", birth_date="1950-04-02",
                sex="F", diagnoses="E55.9|Z13.21", line_number="1", procedure="82306",
                units="1", charge="45.00", service_date="2026-01-15", diagnosis_pointers="1|2",
                place_of_service="11", billing_npi="1234567893", taxonomy="207Q00000X",
                frequency_code="1")
    base.update(values)
    return ",".join(base.get(name, "") for name in HEADER.split(","))


def read(*rows: str, header: str = HEADER) -> list:
    return list(read_csv_claims(io.StringIO("\n".join([header, *rows]) + "\n"), "day.csv"))


def as_claim(data: dict) -> Claim:
    claim = claim_from_data(data, "<expected>")
    assert isinstance(claim, Claim), claim
    return claim


# fixtures/csv/practice_export.csv, as plain JSON claims
EXPECTED = [
    {"claim_id": "C1001", "claim_type": "professional", "frequency_code": "1",
     "payer": {"id": "medicare", "plan": "PartB"}, "received_date": "2026-03-01",
     "prior_authorization": "PA-2026-0042", "place_of_service": "11",
     "billing_provider": {"npi": "1234567893", "taxonomy": "207Q00000X"},
     "patient": {"member_id": "M1", "birth_date": "1950-04-02", "sex": "F"},
     "diagnoses": ["E55.9", "Z13.21", "J18.9"],
     "lines": [
         {"line_number": 1, "procedure": "82306", "units": 1, "charge": 45.0,
          "service_date": "2026-01-15", "diagnosis_pointers": [1, 2]},
         {"line_number": 2, "procedure": "71046", "modifiers": ["XS", "LT"], "units": 1,
          "charge": 120.0, "service_date": "2026-01-15", "service_date_to": "2026-01-16",
          "diagnosis_pointers": [3], "place_of_service": "22"},
         {"line_number": 3, "procedure": "99213", "modifiers": ["25"], "units": 1,
          "charge": 110.0, "service_date": "2026-01-15", "diagnosis_pointers": [1, 2, 3]}]},
    {"claim_id": "C1002", "claim_type": "professional", "frequency_code": "1",
     "payer": {"id": "medicare", "plan": "PartB"}, "received_date": "2026-02-02",
     "place_of_service": "22", "billing_provider": {"npi": "1234567893"},
     "patient": {"member_id": "1EG4TE5MK73", "birth_date": "1948-11-30", "sex": "M"},
     "diagnoses": ["J18.9"],
     "lines": [{"line_number": 1, "procedure": "71046", "modifiers": ["59"], "units": 1,
                "charge": 1080.0, "service_date": "2026-01-20", "diagnosis_pointers": [1]}]},
    {"claim_id": "C3001", "claim_type": "institutional", "frequency_code": "1",
     "payer": {"id": "medicare", "plan": "PartA"}, "received_date": "2026-02-02",
     "billing_provider": {"npi": "1234567893"},
     "patient": {"member_id": "1EG4TE5MK73", "birth_date": "1948-11-30", "sex": "M"},
     "diagnoses": ["J18.9"],
     "lines": [{"line_number": 1, "revenue_code": "0450", "units": 1, "charge": 640.0,
                "service_date": "2026-01-21", "diagnosis_pointers": [1]},
               {"line_number": 2, "revenue_code": "0450", "procedure": "G0390", "units": 1,
                "charge": 1200.0, "service_date": "2026-01-21", "diagnosis_pointers": [1]}]},
]


def test_a_practice_management_export_with_its_own_column_names():
    # Encounter ID, Insured's ID Number, DX1..DX3, Mod 1/2, DOS From/To, CMS-1500 pointer
    # letters, "$45.00" and "1,080.00", US dates, a revenue code that lost its leading zero,
    # claim-level cells left blank on a claim's later rows, and a Patient Name column to ignore
    claims = list(read_csv_claims(FIXTURES / "practice_export.csv"))
    assert claims == [as_claim(data) for data in EXPECTED]


def test_rows_of_one_claim_become_one_claim_with_its_lines_in_order():
    [claim] = read(row(), row(line_number="2", procedure="71046", modifiers="59|LT",
                               diagnoses="E55.9;Z13.21", diagnosis_pointers="2",
                               place_of_service="22"))
    assert [ln.procedure for ln in claim.lines] == ["82306", "71046"]
    assert claim.lines[1].modifiers == ("59", "LT")
    assert claim.lines[1].place_of_service == "22"  # the claim's is 11, from its first line
    assert claim.place_of_service == "11" and claim.lines[0].place_of_service is None


def test_line_numbers_default_to_the_rows_order_within_the_claim():
    claims = read(row(line_number=""), row(line_number="", procedure="99213"),
                  row(claim_id="C2", line_number=""))
    assert [[ln.line_number for ln in c.lines] for c in claims] == [[1, 2], [1]]


def test_claim_level_columns_that_disagree_name_the_row_and_column():
    claims = read(row(), row(line_number="2", birth_date="1950-04-03"), row(claim_id="C2"))
    error, second = claims
    assert isinstance(error, ClaimError) and isinstance(second, Claim)
    assert (error.position, error.unit, error.claim_id) == (3, "line", "C1")
    assert error.path == "column G (birth_date)"
    assert error.message == ("birth_date is '1950-04-03' here but '1950-04-02' on line 2; "
                             "a claim's rows must agree on it")
    # the same value written another way agrees; a blank cell on a later row is not a change
    same = read(row(), row(line_number="2", birth_date="04/02/1950", payer_id="", sex=""))
    assert isinstance(same[0], Claim)


def test_a_claim_whose_rows_are_not_together_is_an_error_not_two_claims():
    claims = read(row(), row(claim_id="C2"), row(line_number="2", procedure="99213"),
                  row(claim_id="C3"))
    assert [type(c).__name__ for c in claims] == ["Claim", "Claim", "ClaimError", "Claim"]
    error = claims[2]
    assert (error.position, error.claim_id, error.path) == (4, "C1", "column A (claim_id)")
    assert "sort the file by claim id" in error.message


def test_a_bad_date_names_its_csv_line_and_column():
    claims = read(row(), row(claim_id="C2"), row(claim_id="C2", line_number="2",
                                                 service_date="2026-02-30"))
    assert isinstance(claims[0], Claim)
    error = claims[1]
    assert str(error) == "day.csv: line 4 (C2): column O (service_date): '2026-02-30' is not a valid date"
    [error] = read(row(service_date="15.01.2026"))
    assert error.message == "'15.01.2026' is not a date: write 2026-01-15, 01/15/2026 or 20260115"


@pytest.mark.parametrize("changes, column, message", [
    ({"procedure": "8230"}, "column K (procedure)", "'8230' is not a valid CPT/HCPCS procedure code"),
    ({"place_of_service": "111"}, "column R (place_of_service)", "'111' is not a valid place-of-service"),
    ({"diagnoses": "E55.9|Z13-21|J18.9"}, "column I (diagnoses)", "'Z13-21' is not a valid ICD-10-CM"),
    ({"modifiers": "59|5"}, "column L (modifiers)", "'5' is not a valid procedure modifier"),
    ({"units": "two"}, "column M (units)", "'two' is not a number of units"),
    ({"charge": "-5"}, "column N (charge)", "-5.0 is less than the minimum of 0"),
    ({"sex": "W"}, "column H (sex)", "'W' is not a sex: write F, M or U"),
    ({"sex": ""}, "column H (sex)", "required field is missing"),
    ({"diagnosis_pointers": "1|3"}, "column Q (diagnosis_pointers)", "pointer 3 but the claim has 2"),
    ({"diagnosis_pointers": "1/2"}, "column Q (diagnosis_pointers)", "not a list of diagnosis pointers"),
    ({"claim_type": "dental"}, "column B (claim_type)", "'dental' is not a claim type"),
    ({"service_date_to": "2026-01-14"}, "column P (service_date_to)", "is before the service date"),
    ({"billing_npi": "12345"}, "column W (billing_npi)", "'12345' is not a valid NPI"),
])
def test_a_malformed_row_names_its_column(changes, column, message):
    [error] = read(row(**changes))
    assert isinstance(error, ClaimError), error
    assert (error.position, error.path) == (2, column)
    assert message in error.message


def test_a_duplicate_line_number_names_the_other_row():
    [error] = read(row(), row(procedure="99213"))
    assert (error.position, error.path) == (3, "column J (line_number)")
    assert error.message == "line number 1 is also used by the row on line 2"


@pytest.mark.parametrize("header", [
    "Claim ID,DOB,Sex,Date of Service,CPT",
    "CLAIM_ID,Birth Date,GENDER,DOS,Procedure Code",
    " claim id ,date_of_birth,Patient Sex,Service Date From,HCPCS",
    "Claim Number,Patient DOB,gender,dos from,cpt/hcpcs",
    "claim-id;dob;sex;dos;cpt",  # Excel in much of Europe writes semicolons
    "Claim ID\tDOB\tSex\tDOS\tCPT",
])
def test_header_names_match_ignoring_case_spacing_punctuation_and_known_aliases(header):
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    line = delimiter.join(["C9", "1950-04-02", "F", "2026-01-15", "99213"])
    [claim] = read(line, header=header)
    assert isinstance(claim, Claim), claim
    assert (claim.claim_id, claim.lines[0].procedure, claim.sex) == ("C9", "99213", "F")
    assert claim.claim_type == "professional"  # no claim_type column: professional


@pytest.mark.parametrize("written", ["2026-01-15", "01/15/2026", "1/15/2026", "20260115",
                                     "2026-01-15 00:00:00"])
def test_dates_as_exports_write_them(written):
    [claim] = read(row(service_date=written))
    assert str(claim.lines[0].service_date) == "2026-01-15"


def test_a_two_digit_year_is_not_guessed():
    [error] = read(row(birth_date="04/02/50"))
    assert (error.path, error.message) == (
        "column G (birth_date)", "'04/02/50' is not a date: write 2026-01-15, 01/15/2026 or 20260115")


def test_an_excel_sep_line_and_a_pipe_delimited_file():
    text = "sep=|\nClaim ID|DOB|Sex|DOS|CPT|DX\nC1|1950-04-02|F|2026-01-15|82306|E55.9\n"
    [claim] = read_csv_claims(io.StringIO(text), "pipes.csv")
    assert (claim.claim_id, claim.diagnoses) == ("C1", ("E55.9",))


def test_leading_zeros_a_spreadsheet_dropped_are_put_back():
    [claim] = read(row(procedure="1967", place_of_service="2", ndc="409488820"))
    line = claim.lines[0]
    assert (line.procedure, claim.place_of_service, line.ndc) == ("01967", "02", "00409488820")
    [claim] = read(row(claim_type="institutional", procedure="", revenue_code="450"))
    assert claim.lines[0].revenue_code == "0450"


def test_numbered_columns_are_joined_in_order():
    header = "claim_id,dob,sex,dos,cpt,DX 2,DX 1,Modifier 2,Modifier 1,pointer"
    [claim] = read("C1,1950-04-02,M,2026-01-15,71046,J18.9,Z13.21,LT,59,B", header=header)
    assert claim.diagnoses == ("Z13.21", "J18.9")
    assert claim.lines[0].modifiers == ("59", "LT")
    assert claim.lines[0].diagnoses == ("J18.9",)  # pointer B: the second diagnosis


def test_a_header_missing_a_needed_column_or_naming_one_twice_is_one_file_error():
    [error] = read("C1,F,99213", header="claim_id,sex,procedure")
    assert error.position == 0
    assert "has no column for service_date, birth_date" in error.message
    [error] = read("C1,1950-04-02,F,2026-01-15,99213,99214",
                   header="claim_id,dob,sex,dos,CPT,Procedure Code")
    assert error.message == ("line 1: column F (Procedure Code): this column and column E (CPT) "
                             "both mean procedure; rename or remove one")


def test_blank_rows_are_skipped_and_a_row_without_a_claim_id_is_an_error():
    text = "\n".join([HEADER, "", row(), ",,,,", row(claim_id=""), row(claim_id="C2")]) + "\n"
    results = list(read_csv_claims(io.StringIO(text), "x.csv"))
    assert [type(r).__name__ for r in results] == ["Claim", "ClaimError", "Claim"]
    assert (results[1].position, results[1].message) == (5, "no claim id: every row names its claim")


def test_a_byte_order_mark_and_windows_line_ends_from_a_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(("\ufeff" + HEADER + "\r\n" + row() + "\r\n" + row(claim_id="C2", service_date="bad")
                      + "\r\n").encode("utf-8"))
    first, error = read_csv_claims(path)
    assert isinstance(first, Claim)
    assert (error.source, error.position, error.path) == (str(path), 3, "column O (service_date)")


def test_a_file_that_is_not_utf8_is_one_error(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + "\n" + row(patient_member_id="M\u00e9") + "\n").encode("cp1252"))
    [error] = read_csv_claims(path)
    assert error.position == 0 and "save the file as CSV UTF-8" in error.message


def test_claims_are_handed_on_as_soon_as_their_last_row_is_read():
    """Streaming: the first claim comes out before the rest of the file is read."""
    consumed = []

    def lines():
        yield HEADER + "\n"
        for n in range(1, 100_000):
            consumed.append(n)
            yield row(claim_id=f"C{n}") + "\n"

    claims = read_csv_claims(lines(), "big.csv")
    first = next(claims)
    assert first.claim_id == "C1"
    assert len(consumed) == 2  # C1's row, and C2's row that ended it
    assert next(claims).claim_id == "C2" and len(consumed) == 3


# --- the bundled example claims, as CSV: the same claims, the same findings ---

def to_rows(claims: list[dict]) -> list[dict]:
    rows = []
    for c in claims:
        for ln in c["lines"]:
            rows.append({
                "claim_id": c["claim_id"], "claim_type": c["claim_type"],
                "payer_id": c["payer"]["id"], "plan": c["payer"]["plan"],
                "received_date": c["received_date"],
                "patient_member_id": c["patient"]["member_id"],
                "birth_date": c["patient"]["birth_date"], "sex": c["patient"]["sex"],
                "diagnoses": "|".join(c["diagnoses"]), "line_number": ln["line_number"],
                "procedure": ln.get("procedure") or "", "modifiers": "|".join(ln.get("modifiers") or []),
                "units": ln.get("units", 1), "charge": ln.get("charge"),
                "service_date": ln["service_date"], "service_date_to": ln.get("service_date_to") or "",
                "diagnosis_pointers": "|".join(map(str, ln.get("diagnosis_pointers") or [])),
                "place_of_service": ln.get("place_of_service") or c.get("place_of_service") or "",
                "revenue_code": ln.get("revenue_code") or "", "ndc": ln.get("ndc") or "",
                "prior_authorization": c.get("prior_authorization") or "",
                "line_prior_authorization": ln.get("prior_authorization") or "",
                "billing_npi": c["billing_provider"]["npi"],
                "taxonomy": c["billing_provider"]["taxonomy"],
                "frequency_code": c["frequency_code"],
            })
    return rows


@pytest.mark.parametrize("example", ["dirty.json", "clean.json", "acme.json"])
def test_the_example_claims_as_csv_are_the_same_claims(example, tmp_path):
    source = json.loads((ROOT / "examples/claims" / example).read_text())
    path = tmp_path / "claims.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER.split(","))
        writer.writeheader()
        writer.writerows(to_rows(source))
    from_csv = list(read_csv_claims(path))
    assert all(isinstance(c, Claim) for c in from_csv), [str(c) for c in from_csv]
    assert from_csv == list(read_claims(ROOT / "examples/claims" / example))


def test_the_dirty_examples_as_csv_give_the_same_findings_with_medicare(tmp_path):
    source = json.loads((ROOT / "examples/claims/dirty.json").read_text())
    path = tmp_path / "dirty.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER.split(","))
        writer.writeheader()
        writer.writerows(to_rows(source))
    pack = load_pack(ROOT / "payer_rules/medicare")

    def findings(claims):
        return [(r.claim_id, r.status, [(f.rule_id, f.line_number, f.group_code, f.carc, f.message)
                                        for f in r.findings])
                for r in map(pack.check, claims)]

    expected = findings(read_claims(ROOT / "examples/claims/dirty.json"))
    assert findings(read_csv_claims(path)) == expected
    assert all(status == "denied" for _, status, _ in expected)


def test_any_odd_cell_is_an_error_for_that_claim_never_a_crash():
    odd = ["", "x", "-1", "0", "1e999", "nan", "|||", "A|", "00", "é", "12/31/9999", "99999999",
           "1,2,3", ":"]
    count = 0
    for column in HEADER.split(","):
        for value in odd:
            results = read(row(**{column: value}), row(claim_id="C2"))
            assert len(results) == 2 and isinstance(results[1], Claim), (column, value, results)
            first = results[0]
            assert isinstance(first, (Claim, ClaimError))
            if isinstance(first, ClaimError):
                assert first.position == 2, (column, value, first)
            count += 1
    assert count == 25 * len(odd)
