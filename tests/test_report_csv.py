"""The CSV of findings, as a biller opens it in a spreadsheet: one row per finding, every
claim accounted for, values that survive commas and quotes, and no cell run as a formula."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from rulesengine import ClaimError, load_pack, read_claims
from rulesengine.claims import claim_from_data
from rulesengine.reports.json import Summary
from rulesengine.reports.csv import COLUMNS, CsvWriter

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "examples" / "claims"


@pytest.fixture(scope="module")
def medicare():
    # rule files are shown relative to the working folder, as a user at the repo root sees them
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        return load_pack("payer_rules/medicare")


def write_csv(pack, items) -> str:
    """Feed claims (or ClaimErrors) through a CsvWriter as the check command does."""
    out = io.StringIO()
    writer, summary = CsvWriter(out, [pack.info]), Summary()
    for item in items:
        if isinstance(item, ClaimError):
            summary.add_error(item)
            writer.error(item)
            continue
        result = pack.check(item)
        summary.add(result)
        writer.result(result, item)
    writer.close(summary)
    return out.getvalue()


def rows_of(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader)


def test_one_row_per_finding_with_every_column(medicare):
    rows = rows_of(write_csv(medicare, read_claims(str(CLAIMS / "dirty.json"))))
    unsupported = [r for r in rows if r["claim_id"] == "MN-UNSUPPORTED-DX"]
    assert unsupported == [{
        "claim_id": "MN-UNSUPPORTED-DX", "status": "denied", "line_number": "1",
        "rule_id": "MN-VITD-82306", "category": "medical_necessity", "severity": "deny",
        "group_code": "CO", "carc": "50", "rarc": "N115",
        "message": "82306 is not supported by the diagnoses on this line (Z13.21); "
                   "LCD L33996 / A56798 lists the covered ICD-10-CM codes",
        "pack": "medicare", "source": "payer_rules/medicare/necessity.rules:82",
        "citation": "CGS LCD L33996 Vitamin D Assay Testing; billing and coding article A56798, "
                    "ICD-10-CM group 1 (revision effective 11/28/2024)",
        "warnings": "",
    }]
    # a claim with two findings has two rows, one per line
    summed = [r for r in rows if r["claim_id"] == "MUE-DOS-SUMMED-ACROSS-LINES"]
    assert [(r["line_number"], r["rule_id"], r["carc"], r["rarc"]) for r in summed] == [
        ("1", "MUE-PRACTITIONER", "151", "N362"), ("2", "MUE-PRACTITIONER", "151", "N362")]
    # a claim-level finding has no line number
    institutional = next(r for r in rows if r["claim_id"] == "TF-LATE-INSTITUTIONAL")
    assert (institutional["line_number"], institutional["carc"]) == ("", "29")
    bundled = next(r for r in rows if r["claim_id"] == "NCCI-BUNDLED")
    assert (bundled["category"], bundled["group_code"], bundled["carc"], bundled["rarc"],
            bundled["line_number"]) == ("bundling", "CO", "236", "N20", "2")


def test_rows_add_up_to_the_results(medicare):
    claims = [c for path in sorted(CLAIMS.glob("*.json")) for c in read_claims(str(path))]
    results = [medicare.check(c) for c in claims if not isinstance(c, ClaimError)]
    rows = rows_of(write_csv(medicare, claims))
    findings = sum(len(r.findings) for r in results)
    clean = [r.claim_id for r in results if r.status == "clean"]
    assert len(rows) == findings + len(clean) + 1  # + the unreadable claim
    assert sum(1 for r in rows if r["rule_id"]) == findings
    # a clean claim is one row: its id and status, the finding columns empty
    clean_rows = [r for r in rows if r["status"] == "clean"]
    assert [r["claim_id"] for r in clean_rows] == clean
    assert all(v == "" for r in clean_rows for k, v in r.items() if k not in ("claim_id", "status"))


def test_an_unreadable_claim_is_a_row_with_the_error(medicare):
    rows = rows_of(write_csv(medicare, read_claims(str(CLAIMS / "malformed.json"))))
    assert [(r["claim_id"], r["status"]) for r in rows] == [
        ("BATCH-OK-1", "clean"), ("BAD-SERVICE-DATE", "unreadable"), ("BATCH-OK-2", "clean")]
    bad = rows[1]
    assert bad["message"].endswith(
        "malformed.json: claim 2 (BAD-SERVICE-DATE): $.lines[0].service_date: "
        "'2026-09-31' is not a valid date")
    assert all(bad[k] == "" for k in COLUMNS if k not in ("claim_id", "status", "message"))


def test_rows_are_written_as_results_arrive(medicare):
    out = io.StringIO()
    writer = CsvWriter(out, [medicare.info])
    assert out.getvalue() == ",".join(COLUMNS) + "\n"
    claim = next(c for c in read_claims(str(CLAIMS / "dirty.json")) if c.claim_id == "PA-MISSING")
    writer.result(medicare.check(claim), claim)
    assert out.getvalue().splitlines()[1].startswith("PA-MISSING,denied,1,PA-OPD-BLEPHAROPLASTY,")


def test_several_rarcs_commas_and_quotes_survive(medicare):
    claim = next(c for c in read_claims(str(CLAIMS / "dirty.json")) if c.claim_id == "NCCI-BUNDLED")
    result = medicare.check(claim)
    tricky = 'bundled, see "NCCI" manual;\nline 2'
    result = replace(result, findings=(replace(result.findings[0], rarc=("N20", "N211"),
                                               message=tricky),))
    out = io.StringIO()
    CsvWriter(out, [medicare.info]).result(result)
    (row,) = rows_of(out.getvalue())
    assert (row["rarc"], row["message"]) == ("N20 N211", tricky)


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(medicare):
    data = json.loads((CLAIMS / "dirty.json").read_text())[0]  # MN-UNSUPPORTED-DX: denied
    data["claim_id"] = '=HYPERLINK("http://example.invalid","open")'
    claim = claim_from_data(data)
    rows = rows_of(write_csv(medicare, [claim]))
    assert rows[0]["claim_id"] == "'" + data["claim_id"]
    # ordinary values are left exactly as they are
    assert (rows[0]["carc"], rows[0]["source"]) == ("50", "payer_rules/medicare/necessity.rules:82")


def test_a_claims_warnings_ride_on_each_of_its_rows():
    from rulesengine.engine.results import PackInfo, Result
    out = io.StringIO()
    writer = CsvWriter(out, [])
    info = PackInfo("medicare", "2026.3", "sha256:0")
    warned = ("segment 9: PRV-03 '203BF0100Y' is not a current NUCC provider taxonomy code",
              "=a warning that starts like a formula")
    writer.result(Result("C1", info, (), warned))
    writer.result(Result("C2", info))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["warnings"] == ("segment 9: PRV-03 '203BF0100Y' is not a current NUCC provider "
                                   "taxonomy code | =a warning that starts like a formula")
    assert rows[1]["warnings"] == ""
