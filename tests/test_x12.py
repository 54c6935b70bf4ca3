"""Reading X12 5010 837P/837I files: envelopes, separators, loops, fields, errors.

The fixtures in tests/fixtures/x12 are ICD-10 claims written for these tests; the public
samples in ../shared/data/x12 (ICD-9 coded, 2005-era) are read when present.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from rulesengine.claims import ClaimError
from rulesengine.claims.model import Claim
from rulesengine.claims.x12.envelope import X12Error, is_x12, iter_segments, iter_transactions
from rulesengine.claims.x12.reader import read_837

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "x12"


def fixture(name: str) -> Path:
    return FIXTURES / name


def text(name: str) -> str:
    return fixture(name).read_text()


def read(path_or_text, **options) -> list:
    return list(read_837(path_or_text, **options))


def claims(items) -> dict[str, Claim]:
    return {c.claim_id: c for c in items if isinstance(c, Claim)}


def errors(items) -> list[ClaimError]:
    return [e for e in items if isinstance(e, ClaimError)]


def only_error(items) -> ClaimError:
    found = errors(items)
    assert len(found) == 1, found
    return found[0]


# --- the 837P fixture: two claims, a subscriber who is the patient and a dependent -------

def test_professional_claims_are_read_with_every_field():
    items = read(fixture("professional-two-claims.837p"))
    assert errors(items) == []
    vitd, cxr = items
    assert vitd.claim_id == "VITD-1001" and cxr.claim_id == "CXR-1002"

    assert vitd.claim_type == "professional"
    assert vitd.frequency_code == "1"
    assert vitd.place_of_service == "11"
    assert (vitd.payer_id, vitd.plan) == ("06102", "PartB")
    assert vitd.received_date == date(2026, 1, 20)  # BHT04
    assert (vitd.billing_npi, vitd.taxonomy) == ("1234567893", "207Q00000X")
    # the subscriber is the patient: DMG of loop 2010BA
    assert (vitd.member_id, vitd.birth_date, vitd.sex) == ("1EG4TE5MK73", date(1950, 4, 2), "F")
    assert vitd.diagnoses == ("E55.9", "Z13.21")
    vitamin_d, venipuncture = vitd.lines
    assert (vitamin_d.procedure, vitamin_d.charge, vitamin_d.units) == ("82306", 45, 1)
    assert vitamin_d.service_date == date(2026, 1, 15) and vitamin_d.service_date_to is None
    assert vitamin_d.diagnosis_pointers == (1,) and vitamin_d.diagnoses == ("E55.9",)
    assert venipuncture.diagnosis_pointers == (1, 2)


def test_a_dependent_patient_has_their_own_birth_date_and_the_subscriber_s_member_id():
    cxr = claims(read(fixture("professional-two-claims.837p")))["CXR-1002"]
    assert (cxr.member_id, cxr.birth_date, cxr.sex) == ("HMO445566", date(2012, 6, 8), "F")
    assert (cxr.payer_id, cxr.plan) == ("PHMO1", "HMO")


def test_procedures_modifiers_units_pointers_and_prior_authorizations():
    cxr = claims(read(fixture("professional-two-claims.837p")))["CXR-1002"]
    assert cxr.diagnoses == ("J18.9", "R06.02")
    assert cxr.prior_authorization == "PA2026011601"  # REF*G1 in loop 2300
    visit, xray, nebulizer = cxr.lines
    assert (visit.procedure, visit.modifiers, visit.charge) == ("99214", ("25",), 165)
    assert (xray.procedure, xray.modifiers, xray.diagnoses) == ("71046", (), ("J18.9",))
    assert xray.prior_authorization == "PA2026011602"  # REF*G1 in loop 2400
    assert (nebulizer.procedure, nebulizer.modifiers, nebulizer.units) == ("94640", ("59",), 2)
    assert nebulizer.diagnoses == ("R06.02",)
    assert visit.prior_authorization is None


def test_a_referral_number_is_kept_apart_from_the_prior_authorization():
    data = {d["claim_id"]: d for d in read(fixture("professional-two-claims.837p"), as_dict=True)}
    assert data["CXR-1002"]["referral_number"] == "REF55120"
    assert data["CXR-1002"]["prior_authorization"] == "PA2026011601"
    only_referral = text("professional-two-claims.837p").replace("REF*G1*PA2026011601~\n", "")
    cxr = claims(read(only_referral))["CXR-1002"]
    assert cxr.prior_authorization is None


def test_as_dict_gives_the_normalised_claim_with_its_extra_fields():
    vitd, cxr = read(fixture("professional-two-claims.837p"), as_dict=True)
    assert vitd["payer"] == {"id": "06102", "plan": "PartB", "name": "MEDICARE PART B"}
    assert vitd["total_charge"] == 85
    assert cxr["rendering_provider"] == {"npi": "1987654328", "taxonomy": "208000000X"}
    assert list(vitd["lines"][0])[:12] == [
        "line_number", "procedure", "modifiers", "units", "charge", "service_date", "service_date_to",
        "diagnosis_pointers", "place_of_service", "revenue_code", "ndc", "prior_authorization"]


# --- the 837I fixture ------------------------------------------------------------------

def test_institutional_claim_with_revenue_codes_statement_dates_and_attending():
    (er,) = read(fixture("institutional-outpatient.837i"))
    assert er.claim_type == "institutional"
    assert er.claim_id == "ER-2026-0042"
    assert (er.payer_id, er.plan) == ("06101", "PartA")
    assert er.place_of_service is None  # CLM05-1 is the facility type on an 837I
    assert (er.birth_date, er.sex) == (date(1948, 3, 12), "M")
    assert er.prior_authorization == "AUTH778899"
    # ABK, APR (the same code: counted once), ABF, ABF; the occurrence code (BH) is not a diagnosis
    assert er.diagnoses == ("R07.89", "I10", "E11.9")
    emergency, lab = er.lines
    assert (emergency.revenue_code, emergency.procedure, emergency.modifiers) == ("0450", "99284", ("25",))
    assert (lab.revenue_code, lab.procedure, lab.charge) == ("0300", "84484", 132.5)
    assert lab.diagnoses == er.diagnoses  # no pointers on an 837I: every diagnosis applies
    assert emergency.service_date == date(2026, 2, 3)


def test_institutional_extra_fields():
    (er,) = read(fixture("institutional-outpatient.837i"), as_dict=True)
    assert er["type_of_bill"] == "131"
    assert er["facility_type_code"] == "13"
    assert (er["statement_from"], er["statement_to"]) == ("2026-02-03", "2026-02-03")
    assert er["attending_provider"] == {"npi": "1678901236", "taxonomy": "207P00000X"}


# --- several groups and transactions, other separators ---------------------------------

def test_an_interchange_with_two_groups_three_transactions_and_its_own_separators():
    # element '|', component '>', CRLF after each '~'
    items = read(fixture("interchange-two-groups.x12"))
    assert errors(items) == []
    assert [c.claim_id for c in items] == ["PODI-1003", "O2-2026-03", "IP-2026-0107"]
    podiatry, oxygen, inpatient = items
    assert [ln.modifiers for ln in podiatry.lines] == [("T5",), ("XS", "T6")]
    assert podiatry.plan == "PPO"
    assert oxygen.frequency_code == "7"
    assert oxygen.place_of_service == "12"
    assert oxygen.lines[0].place_of_service == "12"  # SV1-05
    assert (oxygen.lines[0].service_date, oxygen.lines[0].service_date_to) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (oxygen.first_service_date, oxygen.last_service_date) == (date(2026, 3, 1), date(2026, 3, 31))
    assert inpatient.claim_type == "institutional" and inpatient.plan == "PartA"


def test_inpatient_lines_without_dates_take_the_statement_dates():
    inpatient = claims(read(fixture("interchange-two-groups.x12")))["IP-2026-0107"]
    room, pharmacy = inpatient.lines
    assert (room.revenue_code, room.procedure, room.units) == ("0120", None, 3)
    assert (room.service_date, room.service_date_to) == (date(2026, 2, 10), date(2026, 2, 13))
    assert pharmacy.service_date == date(2026, 2, 10)
    assert inpatient.diagnoses == ("J18.9", "R06.02", "J44.9", "I10")
    data = {d["claim_id"]: d for d in read(fixture("interchange-two-groups.x12"), as_dict=True)}
    assert data["IP-2026-0107"]["lines"][0]["unit_basis"] == "DA"


def test_one_long_line_reads_like_one_segment_per_line():
    flat = text("professional-two-claims.837p").replace("\n", "")
    assert read(flat) == read(fixture("professional-two-claims.837p"))


def test_a_line_break_can_be_the_segment_terminator():
    original = text("professional-two-claims.837p")
    assert read(original.replace("~\n", "\n")) == read(original)
    assert read(original.replace("~\n", "\r\n")) == read(original)  # CR declared, LF after it


def test_two_interchanges_with_different_separators_in_one_file():
    both = text("professional-two-claims.837p") + text("interchange-two-groups.x12")
    items = read(both)
    assert errors(items) == []
    assert [c.claim_id for c in items] == ["VITD-1001", "CXR-1002", "PODI-1003", "O2-2026-03", "IP-2026-0107"]


def test_a_component_separator_other_than_the_declared_one_is_tolerated():
    original = text("professional-two-claims.837p")
    isa, rest = original.split("~", 1)
    assert isa.endswith(":")  # ISA16 declares ':'
    written_with_gt = isa + "~" + rest.replace(":", ">")
    assert read(written_with_gt) == read(original)


def test_a_path_a_string_and_a_stream_give_the_same_claims():
    path = fixture("professional-two-claims.837p")
    from_stream = read(io.StringIO(path.read_text()), source=str(path))
    assert read(path) == read(str(path)) == read(path.read_text()) == from_stream


def test_received_date_and_payer_ids_given_by_the_caller():
    items = read(fixture("professional-two-claims.837p"), received_date="2026-02-01",
                 payer_ids={"06102": "medicare"})
    vitd, cxr = items
    assert vitd.received_date == cxr.received_date == date(2026, 2, 1)
    assert (vitd.payer_id, cxr.payer_id) == ("medicare", "PHMO1")
    with pytest.raises(ValueError):
        read_837(fixture("professional-two-claims.837p"), received_date="2026-02-30")
    with pytest.raises(ValueError, match="icd9 must be"):
        read_837(fixture("professional-two-claims.837p"), icd9="ignore")


def test_reading_streams_a_chunk_at_a_time():
    big = _many_claims(2000)

    class Counting(io.StringIO):
        read_so_far = 0

        def read(self, size=-1):
            chunk = super().read(size)
            Counting.read_so_far += len(chunk)
            return chunk

    stream = Counting(big)
    first = next(iter(read_837(stream)))
    assert first.claim_id == "VITD-1001-00000"
    assert Counting.read_so_far < len(big) / 10


def _many_claims(count: int) -> str:
    """The 837P fixture's two subscriber loops repeated, HL ids and claim ids made unique."""
    segments = [s.strip() for s in text("professional-two-claims.837p").split("~") if s.strip()]
    first_hl = next(i for i, s in enumerate(segments) if s.startswith("HL*2*"))
    se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    head, block, tail = segments[:first_hl], segments[first_hl:se], segments[se + 1:]
    out, hl = list(head), 1
    for k in range(count // 2):
        renumber = {}
        for seg in block:
            parts = seg.split("*")
            if parts[0] == "HL":
                hl += 1
                renumber[parts[1]] = str(hl)
                parts[1], parts[2] = str(hl), renumber.get(parts[2], parts[2])
            elif parts[0] == "CLM":
                parts[1] = f"{parts[1]}-{k:05d}"
            out.append("*".join(parts))
    out.append(f"SE*{len(out) - 1}*0001")
    return "".join(s + "~\n" for s in out + tail)


def test_a_generated_file_of_many_claims_reads_without_errors():
    items = read(_many_claims(1000))
    assert errors(items) == []
    assert len(items) == 1000


# --- malformed files: the message, and the good claims still read ----------------------

def test_a_bad_segment_in_the_middle_loses_only_its_claim():
    items = read(fixture("bad-segment-in-middle.837p"))
    assert list(claims(items)) == ["GOOD-2001", "GOOD-2003"]
    error = only_error(items)
    assert (error.position, error.unit, error.claim_id) == (30, "segment", "BAD-2002")
    assert str(error) == (
        f"{fixture('bad-segment-in-middle.837p')}: segment 30 (BAD-2002): 'PLEASE CALL THE BILLING "
        "OFFICE' is not a segment: a segment starts with an id of 2 or 3 letters and digits, then "
        "the element separator '*'")
    assert [type(i).__name__ for i in items] == ["Claim", "ClaimError", "Claim"]  # file order


def test_a_missing_element_names_its_segment_and_element():
    items = read(fixture("missing-element.837p"))
    assert list(claims(items)) == ["GOOD-2001", "GOOD-2003"]
    error = only_error(items)
    assert (error.position, error.path, error.claim_id) == (31, "SV1-02", "BAD-2002")
    assert error.message == "required element is missing (line item charge)"
    # with one segment per line, the segment number is the line number
    assert text("missing-element.837p").splitlines()[30] == "SV1*HC:71046**UN*1***1~"


def test_an_element_separator_other_than_the_declared_one():
    items = read(fixture("wrong-element-separator.837p"))
    assert claims(items) == {}
    assert [(e.position, e.message) for e in items] == [
        (2, ("'GS|HC|SUBMITTER01|RECEIVER0...' is not a segment: it looks separated by '|', but the "
            "ISA declares '*' as the element separator")),
        (0, "the file ends inside the interchange of segment 1 (no IEA)"),
    ]


def test_a_segment_terminator_other_than_the_declared_one():
    error = only_error(read(fixture("wrong-segment-terminator.837p")))
    assert error.position == 2
    assert error.message == ("a line break inside a segment ('GS*HC*SUBMITTER01*RECEIVER01*2'...): "
                             "the ISA declares '~' as the segment terminator, but this segment is "
                             "not ended by one")


def _edit(name: str, old: str, new: str) -> str:
    """The fixture with one change, its SE segment counts kept right."""
    original = text(name)
    assert old in original
    return _recount(original.replace(old, new, 1))


def _recount(source: str) -> str:
    lines, count = [], 0
    for line in source.splitlines(keepends=True):
        count = 1 if line.startswith("ST*") else count + 1
        if line.startswith("SE*"):
            line = f"SE*{count}*{line.split('*', 2)[2]}"
        lines.append(line)
    return "".join(lines)


def _segment_of(source: str, start: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if line.startswith(start))


@pytest.mark.parametrize("old, new, start, element, message", [
    ("DTP*472*D8*20260115~", "DTP*472*D8*20260230~", "DTP*472*D8*20260230", "DTP-03",
     "'20260230' is not a date (CCYYMMDD)"),
    ("SV1*HC:82306*45*", "SV1*HC:8230*45*", "SV1*HC:8230*", "SV1-01-2",
     "'8230' is not a valid CPT/HCPCS procedure code (for example 82306)"),
    ("SV1*HC:82306*45*UN*1***1~", "SV1*HC:82306*45*UN*1***3~", "SV1*HC:82306", "SV1-07-1",
     "pointer 3 but the claim has 2 diagnoses"),
    ("SV1*HC:82306*45*UN*1***1~", "SV1*HC:82306*45*UN*1***A~", "SV1*HC:82306", "SV1-07-1",
     "'A' is not a diagnosis pointer (1 to 12)"),
    ("SV1*HC:82306*45*", "SV1*HC:82306*4O.00*", "SV1*HC:82306", "SV1-02",
     "'4O.00' is not a number (line item charge)"),
    ("SV1*HC:82306*45*UN*1***1~", "SV1*HC:82306*45*UN*0***1~", "SV1*HC:82306", "SV1-04",
     "0 is less than or equal to the minimum of 0"),
    ("HI*ABK:E559*ABF:Z1321~", "HI*ABK:E559*ABF:1321~", "HI*ABK", "HI-02-2",
     "'132.1' is not a valid ICD-10-CM diagnosis code (for example E55.9)"),
    ("DMG*D8*19500402*F~", "DMG*D8*19500402*X~", "DMG*D8*19500402", "DMG-03",
     "'X' is not a sex code (F, M or U)"),
    ("SBR*P*18*******MB~", "SBR*P*18*******M8~", "SBR*P*18", "SBR-09",
     "'M8' is not a claim filing indicator code"),
    ("CLM*VITD-1001*85***11:B:1*", "CLM*VITD-1001*85***1:B:1*", "CLM*VITD-1001", "CLM-05-1",
     "'1' is not a valid place-of-service code (for example 11)"),
])
def test_element_problems_in_the_first_claim(old, new, start, element, message):
    source = _edit("professional-two-claims.837p", old, new)
    items = read(source)
    error = only_error(items)
    assert (error.position, error.path, error.message) == (_segment_of(source, start), element, message)
    assert error.claim_id == "VITD-1001"
    assert list(claims(items)) == ["CXR-1002"]


def test_a_problem_in_the_billing_provider_loop_is_reported_for_each_claim_under_it():
    source = _edit("professional-two-claims.837p", "XX*1234567893~", "XX*123456789~")
    items = read(source)
    assert [(e.claim_id, e.position, e.path) for e in items] == [
        ("VITD-1001", 10, "NM1-09"), ("CXR-1002", 10, "NM1-09")]
    assert items[0].message == "'123456789' is not a valid NPI (for example 1234567893)"


def test_a_missing_patient_dmg():
    source = _edit("professional-two-claims.837p", "DMG*D8*20120608*F~\n", "")
    items = read(source)
    error = only_error(items)
    assert (error.claim_id, error.position, error.path) == ("CXR-1002", _segment_of(source, "NM1*QC"), "DMG-02")
    assert error.message == ("no DMG segment in loop 2010CA (patient): age and sex edits need the "
                             "birth date and sex")


def test_a_line_without_a_date_of_service():
    source = _edit("professional-two-claims.837p", "DTP*472*D8*20260115~\n", "")
    error = only_error(read(source))
    assert (error.claim_id, error.position) == ("VITD-1001", _segment_of(source, "LX*1"))
    assert error.message == "service line 1 has no date of service (DTP*472)"


def test_an_institutional_service_line_on_a_professional_claim():
    source = _edit("professional-two-claims.837p", "SV1*HC:82306*45*UN*1***1~", "SV2*0300*HC:82306*45*UN*1~")
    error = only_error(read(source))
    assert error.message == "SV2 is not a service line of an 837P (professional) claim"


def test_a_wrong_hierarchical_parent():
    source = _edit("professional-two-claims.837p", "HL*4*3*23*0~", "HL*4*2*23*0~")
    error = only_error(read(source))
    assert (error.claim_id, error.path) == ("CXR-1002", "HL-02")
    assert error.message.startswith("parent '2': this HL of level 23 follows HL '3'")


def test_envelope_counts_and_control_numbers_are_checked_and_the_claims_still_read():
    source = text("professional-two-claims.837p").replace("SE*56*0001~", "SE*50*0002~")
    source = source.replace("GE*1*101~", "GE*2*101~").replace("IEA*1*000000101~", "IEA*1*000000999~")
    items = read(source)
    assert list(claims(items)) == ["VITD-1001", "CXR-1002"]
    assert [(e.path, e.message) for e in errors(items)] == [
        ("SE-01", "SE says the transaction has 50 segments; it has 56"),
        ("SE-02", "control number '0002' does not match ST-02 '0001'"),
        ("GE-01", "GE says 2 transaction sets; there are 1"),
        ("IEA-02", "control number '000000999' does not match ISA-13 '000000101'"),
    ]
    # about the file, not a claim: each a file error, and both claims read
    assert {e.kind for e in errors(items)} == {"envelope"}


def test_an_envelope_error_is_a_file_error_in_every_report_and_the_claims_count_as_checked(tmp_path):
    import json as json_module

    from click.testing import CliRunner

    from rulesengine.cli import main
    path = tmp_path / "day.837p"
    path.write_text(text("professional-two-claims.837p").replace("IEA*1*000000101~", "IEA*1*000000999~"))
    pack = str(Path(__file__).parent.parent / "payer_rules" / "medicare")
    runner = CliRunner()
    out = runner.invoke(main, ["check", str(path), "--pack", pack])
    assert out.exit_code == 2  # the file would be rejected: not a clean run
    assert "FILE ERROR  " in out.output and "IEA-02: control number '000000999'" in out.output
    assert "File errors       1" in out.output
    assert out.output.rstrip().splitlines()[-1].startswith(
        "2 claims checked: 2 clean, 0 review, 0 denied (100% clean); 1 file error; 0 findings")
    assert "unreadable" not in out.output.rstrip().splitlines()[-1]
    document = json_module.loads(runner.invoke(main, ["check", str(path), "--pack", pack, "--format", "json"]).stdout)
    assert document["summary"]["claims"] == 2 and document["summary"]["file_errors"] == 1
    assert document["summary"]["not_checked"]["unreadable"] == 0
    assert [e["kind"] for e in document["errors"]] == ["envelope"]


def test_a_short_interchange_with_an_empty_group_has_no_phantom_segment():
    # ISA, GS, GE*0, IEA on their own lines: a stray terminator was read as segment 5
    lines = text("professional-two-claims.837p").splitlines()
    assert read("\n".join(lines[:2] + ["GE*0*101~", lines[-1]]) + "\n") == []


def test_a_file_cut_short_reports_its_last_claim_as_possibly_incomplete():
    original = text("professional-two-claims.837p")
    cut = original[: original.index("LX*3~")]
    items = read(cut)
    assert list(claims(items)) == ["VITD-1001"]
    assert [(e.claim_id, e.message) for e in errors(items)] == [
        ("CXR-1002", "the transaction ends without its SE after this claim, which may have been cut short"),
        (None, "the file ends inside transaction 0001 (segment 3): no SE"),
        (None, "the file ends inside the functional group of segment 2 (no GE)"),
        (None, "the file ends inside the interchange of segment 1 (no IEA)"),
    ]


def test_transactions_that_are_not_5010_claims_are_reported_and_skipped():
    source = text("professional-two-claims.837p")
    old_version = source.replace("005010X222A2", "004010X098A1")
    error = only_error(read(old_version))
    assert (error.position, error.path) == (3, "ST-03")
    assert error.message == ("'004010X098A1' (X12 4010, retired for HIPAA claims since 2012) is not an "
                             "implementation this reader reads (837P 005010X222A2, 005010X222A1; "
                             "837I 005010X223A3, 005010X223A2, 005010X223A1); skipped")
    # the earlier errata it names are read
    assert [c.claim_id for c in read(source.replace("005010X222A2", "005010X222A1"))] == ["VITD-1001", "CXR-1002"]
    remittance = source.replace("ST*837*0001*005010X222A2", "ST*835*0001*005010X221A1")
    assert only_error(read(remittance)).message == "transaction set '835' is not an 837 claim; skipped"


def test_a_file_that_is_not_x12():
    error = only_error(read(io.StringIO('{"claim_id": "C1"}')))
    assert (error.position, error.message) == (1, ("expected an ISA segment to start an interchange, found "
                                                   "'{\"claim_id\": \"C1\"}'"))
    assert not is_x12('{"claim_id": "C1"}') and is_x12("\ufeff\nISA*00*")


def test_a_terminator_that_never_comes_stops_the_file_instead_of_buffering_it():
    isa, rest = text("professional-two-claims.837p").split("~", 1)
    run_on = isa + "~" + rest.replace("~\n", "!").replace("\n", "") * 2000
    error = only_error(read(run_on))
    assert (error.position, error.message) == (
        2, "no segment terminator ('~', declared by the ISA) in 1,048,576 characters")


def test_an_isa_whose_separators_collide():
    broken = text("professional-two-claims.837p").replace("*T*:~", "*T***", 1)
    error = only_error(read(broken))
    assert (error.position, error.path) == (1, "ISA-16")
    assert error.message.startswith("'*' cannot be the component separator")


# --- ICD-9-CM ----------------------------------------------------------------------------

ICD9 = ("HI*ABK:E559*ABF:Z1321~", "HI*BK:2689~")  # 268.9: vitamin D deficiency, unspecified (ICD-9-CM)


def test_an_icd9_claim_for_services_after_icd10_began_is_an_error():
    source = _edit("professional-two-claims.837p", *ICD9)
    items = read(source)
    error = only_error(items)
    assert (error.claim_id, error.position, error.path) == ("VITD-1001", _segment_of(source, "HI*BK"), "HI-01-1")
    assert error.message == ("'BK' marks an ICD-9-CM diagnosis code (2689); rules check ICD-10-CM codes "
                             "(HI qualifiers ABK, ABF), which replaced ICD-9-CM for services from "
                             "2015-10-01 (this claim's services are on 2026-01-15)")
    assert list(claims(items)) == ["CXR-1002"]


def _before_icd10(source: str) -> str:
    return source.replace("DTP*472*D8*20260115~", "DTP*472*D8*20150930~")


def test_an_icd9_claim_for_services_before_icd10_began_is_read_with_its_codes_kept_and_said():
    source = _before_icd10(_edit("professional-two-claims.837p", *ICD9))
    vitd = claims(read(source))["VITD-1001"]
    assert vitd.diagnoses == () and vitd.lines[0].service_date == date(2015, 9, 30)
    assert vitd.warnings == (f"segment {_segment_of(source, 'HI*BK')}: coded in ICD-9-CM (2689): read "
                             "with those codes kept apart (icd9_diagnoses) and no ICD-10-CM diagnoses, "
                             "so no rule on a diagnosis matches it",)
    [as_dict, _] = read(source, as_dict=True)
    assert as_dict["icd9_diagnoses"] == ["2689"]
    # refused when asked (check --refuse-icd9), in words that say so
    error = only_error(read(source, icd9="error"))
    assert error.message.endswith("; ICD-9-CM claims are refused here (--refuse-icd9)")


def test_check_refuses_icd9_claims_when_asked(tmp_path):
    from click.testing import CliRunner

    from rulesengine.cli import main
    path = tmp_path / "old.837p"
    path.write_text(_before_icd10(_edit("professional-two-claims.837p", *ICD9)))
    pack = str(Path(__file__).parent.parent / "payer_rules" / "medicare")
    kept = CliRunner().invoke(main, ["check", str(path), "--pack", pack])
    assert "warning: segment" in kept.output and "coded in ICD-9-CM (2689)" in kept.output
    assert "UNREADABLE" not in kept.output
    refused = CliRunner().invoke(main, ["check", str(path), "--pack", pack, "--refuse-icd9"])
    assert refused.exit_code == 2 and "UNREADABLE" in refused.output and "--refuse-icd9" in refused.output


def test_an_icd9_claim_can_be_read_without_its_diagnoses():
    source = _edit("professional-two-claims.837p", *ICD9)
    vitd, _cxr = read(source, icd9="keep", as_dict=True)
    assert vitd["diagnoses"] == []
    assert vitd["icd9_diagnoses"] == ["2689"]
    assert vitd["lines"][1]["icd9_diagnosis_pointers"] == [1, 2]  # SV1-07 as written
    assert "diagnosis_pointers" not in vitd["lines"][0]
    claim = claims(read(source, icd9="keep"))["VITD-1001"]
    assert claim.diagnoses == () and claim.lines[0].procedure == "82306"


def test_a_claim_mixing_icd9_and_icd10_is_an_error_even_when_icd9_is_kept():
    source = _edit("professional-two-claims.837p", "HI*ABK:E559*ABF:Z1321~", "HI*ABK:E559*BF:2689~")
    error = only_error(read(source, icd9="keep"))
    assert error.message == "the claim mixes ICD-9-CM (BF 2689) and ICD-10-CM (HI-01-2) diagnosis codes"


# --- the segment reader ------------------------------------------------------------------

def test_segments_are_numbered_across_the_file_and_elements_are_one_based():
    segments = list(iter_segments(io.StringIO(text("interchange-two-groups.x12"))))
    assert all(not isinstance(s, X12Error) for s in segments)
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))
    sv1 = next(s for s in segments if s.id == "SV1")
    assert (sv1.get(1), sv1.components(1), sv1.get(2), sv1.get(99)) == ("HC>11721>T5", ["HC", "11721", "T5"], "95", "")
    assert sv1.where(1, 2) == "SV1-01-2"
    delimiters = segments[0].delimiters
    assert (delimiters.element, delimiters.repetition, delimiters.component, delimiters.segment) == ("|", "^", ">", "~")


def test_transactions_carry_their_implementation():
    found = [t for t in iter_transactions(io.StringIO(text("interchange-two-groups.x12")))]
    assert [(t.control_number, t.implementation) for t in found] == [
        ("3101", "005010X222A2"), ("3102", "005010X222A2"), ("3201", "005010X223A3")]


# --- the public samples (../shared/data/x12), when present -------------------------------

def samples() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file())


needs_samples = pytest.mark.skipif(not samples(), reason="../shared/data/x12 is not present")

# three samples bill with taxonomy codes NUCC has retired (none ends in X)
RETIRED_TAXONOMY = {"institutional-claim.837i": "203BA0200N", "demo.example1.837": "203BF0100Y",
                    "demo.example2.837": "203BF0100Y"}


@needs_samples
@pytest.mark.parametrize("path", samples(), ids=lambda p: p.name)
def test_every_sample_is_read_and_its_icd9_coding_reported(path):
    # the samples date from 1996 to 2006: ICD-9-CM then, read with their codes kept apart
    items = read(path)
    assert items and all(isinstance(item, Claim) for item in items), path
    assert all(any("coded in ICD-9-CM" in w for w in item.warnings) for item in items)
    for item in read(path, icd9="error"):
        assert isinstance(item, ClaimError)
        assert item.claim_id and item.unit == "segment"
        assert item.path == "HI-01-1"
        assert item.message.startswith("'BK' marks an ICD-9-CM diagnosis code")


@needs_samples
def test_with_icd9_kept_every_sample_claim_is_read():
    read_claims, failed = [], []
    for path in samples():
        for item in read(path, icd9="keep"):
            (read_claims if isinstance(item, Claim) else failed).append((path.name, item))
    assert failed == []
    assert len(read_claims) == 23
    # the retired taxonomy codes: a warning each, the claim read and checked
    warned = {name: claim.warnings[0] for name, claim in read_claims if "PRV-03" in claim.warnings[0]}
    assert sorted(warned) == sorted(RETIRED_TAXONOMY)
    for name, warning in warned.items():
        assert warning == (f"segment 9: PRV-03 '{RETIRED_TAXONOMY[name]}' is not a current NUCC "
                           f"provider taxonomy code (ten characters ending in X): the claim is "
                           f"checked without the billing provider's taxonomy")
    kinds = {c.claim_type for _, c in read_claims}
    assert kinds == {"professional", "institutional"}


def sample(name: str) -> list:
    path = next(p for p in samples() if p.name == name)
    return read(path, icd9="keep", as_dict=True)


@needs_samples
def test_sample_two_institutional_claims_under_one_provider():
    first, second = sample("two-claims-single-provider.837i")
    assert (first["claim_id"], second["claim_id"]) == ("756048Q", "756049Q")
    assert first["payer"] == {"id": "99999", "plan": "TRICARE", "name": "TRICARE"}
    assert first["billing_provider"] == {"npi": "1234567890", "taxonomy": "282N00000X"}
    assert (first["type_of_bill"], first["statement_from"]) == ("131", "2005-03-15")
    assert [(ln["revenue_code"], ln["procedure"], ln["units"]) for ln in first["lines"]] == [
        ("0305", "85025", 1), ("0730", "93005", 3)]
    assert first["icd9_diagnoses"] == ["3669", "4019", "79431"]
    assert second["patient"] == {"member_id": "123405074", "birth_date": "1962-12-10", "sex": "M"}
    assert second["attending_provider"] == {"npi": "9999999999", "taxonomy": "363LP0200N"}


@needs_samples
def test_sample_drug_claim_with_ndcs_and_service_spans():
    (claim,) = sample("demo.drug.example10.2.837")
    assert claim["place_of_service"] == "12"
    assert claim["payer"]["id"] == "PLANID12345"  # NM108 XV: a CMS plan id
    line = claim["lines"][1]
    assert (line["procedure"], line["units"], line["ndc"], line["place_of_service"]) == (
        "S5001", 7, "00004196501", "12")
    assert (line["service_date"], line["service_date_to"]) == ("2004-02-01", "2004-02-07")


@needs_samples
def test_sample_anesthesia_claim_written_with_another_component_separator():
    (claim,) = sample("demo.example9.837")  # ISA16 ':' but composites written with '>'
    assert claim["place_of_service"] == "22"
    (line,) = claim["lines"]
    assert (line["procedure"], line["modifiers"]) == ("00142", ["QK", "QS", "P1"])
    assert (line["units"], line["unit_basis"]) == (61, "MJ")  # minutes of anesthesia
    assert line["icd9_diagnosis_pointers"] == [1]  # written "1.00"


@needs_samples
def test_sample_coordination_of_benefits_does_not_leak_into_the_claim():
    (claim,) = sample("demo.cob.example3.B.837")
    # loop 2330B names KEY INSURANCE COMPANY and 2320's SBR says 12 (PPO): both other payers
    assert claim["payer"] == {"id": "567890", "plan": "Commercial", "name": "GREAT PRAIRIES HEALTH"}
    assert claim["patient"] == {"member_id": "222334444", "birth_date": "1973-05-01", "sex": "M"}
    assert claim["rendering_provider"] == {"npi": "1999996666", "taxonomy": "204C00000X"}
    assert [ln["icd9_diagnosis_pointers"] for ln in claim["lines"]] == [[1, 2, 3, 4], [1, 2], [1, 2]]


@pytest.mark.parametrize("start", ["GS*HC*SUBMITTER01*RECEIVER01*20260120*0930*101*X*005010X222A2~",
                                   "ST*837*0001*005010X222A2~"])
def test_a_file_that_starts_inside_the_envelope_is_told_as_x12(tmp_path, start):
    # a clearinghouse export cut from its ISA: X12's words, not a CSV header's
    from rulesengine.claims import read_claims, read_claims_from_binary
    path = tmp_path / "cut.txt"
    path.write_text(start + "\nBHT*0019*00*BATCH0001*20260120*0930*CH~\n")
    for read in (lambda: read_claims(path), lambda: read_claims_from_binary(io.BytesIO(path.read_bytes()))):
        [error] = list(read())
        assert error.unit == "segment" and error.position == 1
        assert error.message.startswith("expected an ISA segment to start an interchange, found ")
        assert f"(a {start[:2]} segment with no interchange envelope around it)" in error.message


def test_a_retired_shape_taxonomy_is_a_warning_and_the_claim_is_read_and_checked():
    # 203BF0100Y: a NUCC code of an older shape (ending in Y), seen in public sample files
    text = (FIXTURES / "professional-two-claims.837p").read_text().replace(
        "PRV*BI*PXC*207Q00000X", "PRV*BI*PXC*203BF0100Y")
    claims = list(read(io.StringIO(text)))
    assert [c.claim_id for c in claims] == ["VITD-1001", "CXR-1002"]
    assert all(c.taxonomy is None for c in claims)
    assert claims[0].warnings == (
        "segment 9: PRV-03 '203BF0100Y' is not a current NUCC provider taxonomy code (ten "
        "characters ending in X): the claim is checked without the billing provider's taxonomy",)
    import rulesengine
    result = rulesengine.load_pack(Path(__file__).parent.parent / "payer_rules" / "medicare").check(claims[0])
    assert result.to_dict()["warnings"] == list(claims[0].warnings)
    # a current code: no warning, and no "warnings" in the result at all
    [clean, _] = list(read(io.StringIO((FIXTURES / "professional-two-claims.837p").read_text())))
    assert clean.warnings == () and clean.taxonomy == "207Q00000X"
