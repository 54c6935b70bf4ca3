"""ICD-10-CM by date of service: `rulesengine import icd10cm` brings a fiscal year's code
set into a pack, and `is valid`, explain and lint ask the code set of each line's date.

ICD-10-CM facts used here, from CMS's code sets: in FY2025 G35 (multiple sclerosis) and
R10.2 (pelvic and perineal pain) were billable and E11.A (type 2 diabetes in remission)
did not exist; FY2026 (2025-10-01, the built-in code set) made G35 and R10.2 headers
over new codes (G35.A, G35.B0..., R10.20...) and added E11.A. The fixture
icd10cm_order_2025.excerpt.txt holds ten categories of the FY2025 order file in its
published layout (tests/fixtures/importers/README.md).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulesengine
from rulesengine.cli import main
from rulesengine.language.diagnostics import PackError
from rulesengine.codes.icd10cm import Editions, Edition, fiscal_year
from rulesengine.cms.writing import effective_from_name
from rulesengine.authoring.lint.pack import lint_pack

from corpus import build_claim

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
ORDER_2025 = FIXTURES / "icd10cm_order_2025.excerpt.txt"

RULES = """
rule DX-VALID "Every diagnosis a line points to is a billable ICD-10-CM code on its date"
  category code_validity
  citation "HIPAA code set rule, 45 CFR 162.1002: ICD-10-CM as maintained by CMS and NCHS"
  for each line
  require all line.diagnosis is valid
  else deny line CO-16 M76 "line {line.number}: {line.diagnosis} not billable on {line.service_date}"
"""


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def pack(tmp_path) -> Path:
    folder = tmp_path / "dx"
    folder.mkdir()
    (folder / "pack.yaml").write_text("id: dx\nversion: '1'\n", encoding="utf-8")
    (folder / "dx.rules").write_text(RULES, encoding="utf-8")
    return folder


def claim(diagnoses: list[str], day: str, claim_id: str = "I1"):
    return build_claim(claim_id=claim_id, diagnoses=diagnoses, received_date=day,
                       lines=[{"procedure": "99213", "service_date": day,
                               "diagnosis_pointers": list(range(1, len(diagnoses) + 1))}])


def denied(loaded, made) -> list[str]:
    compiled = loaded.check(made).to_dict()
    assert loaded.check_reference(made).to_dict() == compiled
    return [f["message"] for f in compiled["findings"]]


# ---- editions and their dates --------------------------------------------------------------------

def test_fiscal_years_start_on_october_first():
    assert (fiscal_year(date(2026, 9, 30)), fiscal_year(date(2026, 10, 1))) == (2026, 2027)


def _edition(start: date, *billable: str) -> Edition:
    return Edition(start, f"test {start}", lambda: dict.fromkeys(billable, True))


def test_each_edition_is_in_force_until_the_next_starts_and_never_past_its_fiscal_year():
    fy2025, april = _edition(date(2024, 10, 1), "G35"), _edition(date(2025, 4, 1), "G35", "E11A")
    editions = Editions([fy2025, april])
    spans = [(start, end, e.label) for start, end, e in editions.spans]
    assert spans == [(date(2024, 10, 1), date(2025, 3, 31), "test 2024-10-01"),
                     (date(2025, 4, 1), date(2025, 9, 30), "test 2025-04-01"),
                     (date(2025, 10, 1), date(2026, 9, 30), editions.spans[2][2].label)]
    assert editions.spans[2][2].year == "FY2026"  # the built-in code set
    assert editions.billable("E11.A", date(2025, 3, 31)) is False
    assert editions.billable("E11.A", date(2025, 4, 1)) is True
    assert editions.billable("G35", date(2024, 9, 30)) is None   # FY2024: no code set
    assert editions.billable("E11.9", date(2026, 10, 1)) is None  # FY2027: none yet


# ---- import ----------------------------------------------------------------------------------------

def test_importing_the_fy2025_order_file_writes_a_code_set_for_its_dates(pack):
    result = run("import", "icd10cm", ORDER_2025, "--pack", pack)
    assert result.exit_code == 0, result.output
    written = pack / "codesets" / "icd10cm-2024-10-01.txt"
    lines = written.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ("# ICD-10-CM code set in force for dates of service from 2024-10-01 "
                        "(fiscal year 2025)")
    codes = [line for line in lines if not line.startswith("#")]
    assert len(codes) == 227 and codes[:4] == ["A00 header", "A000", "A001", "A009"]
    assert "G35" in codes and "R10 header" in codes and "R102" in codes
    assert not any(line.startswith("E11A") for line in codes)
    assert "icd10cm: 227 rows read, 227 written, 0 skipped, 0 duplicate keys" in result.output
    assert "in force for dates of service from 2024-10-01 through 2025-09-30 (FY2025)" in result.output
    # what changed against the next year's code set is not asked; the year before has none
    assert "no code set of the pack is in force on 2024-09-30 to compare with" in result.output
    assert "pack dx 1 loads: 1 rule" in result.output


def test_a_claim_is_checked_in_the_code_set_of_its_date_of_service(pack):
    assert run("import", "icd10cm", ORDER_2025, "--pack", pack).exit_code == 0
    loaded = rulesengine.load_pack(pack)
    # FY2025 (the imported code set): G35 and R10.2 billable, E11.A not yet a code
    assert denied(loaded, claim(["G35", "R10.2"], "2025-03-03")) == []
    assert denied(loaded, claim(["E11.A"], "2025-03-03")) == [
        "line 1: E11.A not billable on 2025-03-03"]
    # FY2026 (built in): G35 and R10.2 became headers; E11.A is billable
    assert denied(loaded, claim(["G35", "R10.2"], "2026-03-03")) == [
        "line 1: G35, R10.2 not billable on 2026-03-03"]
    assert denied(loaded, claim(["E11.A"], "2026-03-03")) == []
    # FY2027: no code set in the pack, so no answer and no finding
    assert denied(loaded, claim(["G35"], "2026-11-02")) == []
    # FY2024: the excerpt's year starts on 2024-10-01
    assert denied(loaded, claim(["E11.A"], "2024-09-30")) == []


def test_without_an_imported_code_set_fy2025_dates_get_no_answer(pack):
    assert denied(rulesengine.load_pack(pack), claim(["E11.A"], "2025-03-03")) == []


def test_a_pack_extending_another_has_its_code_sets_and_its_own_of_a_date_wins(pack, tmp_path):
    assert run("import", "icd10cm", ORDER_2025, "--pack", pack).exit_code == 0
    child = tmp_path / "child"
    child.mkdir()
    (child / "pack.yaml").write_text("id: child\nversion: '1'\nextends: [dx]\n", encoding="utf-8")
    (child / "child.rules").write_text(
        'valueset unused_here = text {"x"}\n', encoding="utf-8")
    assert denied(rulesengine.load_pack(child), claim(["E11.A"], "2025-03-03")) == [
        "line 1: E11.A not billable on 2025-03-03"]
    # the child's own FY2025 file: a (constructed) code set where E11.A is billable
    (child / "codesets").mkdir()
    (child / "codesets" / "icd10cm-2024-10-01.txt").write_text(
        "# constructed for the test\nE11 header\nE11A\n", encoding="utf-8")
    assert denied(rulesengine.load_pack(child), claim(["E11.A"], "2025-03-03")) == []
    assert denied(rulesengine.load_pack(child), claim(["G35"], "2025-03-03")) == [
        "line 1: G35 not billable on 2025-03-03"]


def test_the_zip_cms_publishes_is_read_and_its_name_tells_an_april_update(pack, tmp_path):
    archive = tmp_path / "april-1-2025-code-descriptions-tabular-order.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("icd10cm_codes_2025.txt", "A000    Cholera due to Vibrio cholerae 01\n")
        z.write(ORDER_2025, "Code Descriptions/icd10cm-order-April-2025.txt")
    result = run("import", "icd10cm", archive, "--pack", pack)
    assert result.exit_code == 0, result.output
    assert (pack / "codesets" / "icd10cm-2025-04-01.txt").is_file()
    assert "from 2025-04-01 through 2025-09-30 (FY2025)" in result.output


@pytest.mark.parametrize("name,expected", [
    ("icd10cm_order_2027.txt", date(2026, 10, 1)),
    ("icd10cm-order-2025.txt", date(2024, 10, 1)),
    ("2026-code-descriptions-tabular-order.zip", date(2025, 10, 1)),
    ("icd10cm-order-April-2025.txt", date(2025, 4, 1)),
    ("april-1-2026-code-descriptions-tabular-order.zip", date(2026, 4, 1)),
    ("order.txt", None),
])
def test_the_first_day_is_told_by_the_file_name(name, expected):
    assert effective_from_name(name) == expected


def test_a_name_that_tells_no_year_needs_effective(pack, tmp_path):
    plain = tmp_path / "order.txt"
    shutil.copy(ORDER_2025, plain)
    result = run("import", "icd10cm", plain, "--pack", pack)
    assert result.exit_code == 2
    assert "does not say which fiscal year it is" in result.output and "--effective" in result.output
    assert not (pack / "codesets").exists()
    result = run("import", "icd10cm", plain, "--pack", pack, "--effective", "2024-10-01")
    assert result.exit_code == 0 and (pack / "codesets" / "icd10cm-2024-10-01.txt").is_file()


def test_the_changes_against_the_code_set_before_are_shown(pack):
    # constructed: the FY2025 excerpt given as if it were FY2027's, so the code set before it
    # is the built-in FY2026 one. In the excerpt's categories FY2026 made G35 and R10.2
    # headers; everything outside its ten categories is "no longer billable"
    result = run("import", "icd10cm", ORDER_2025, "--pack", pack, "--effective", "2026-10-01")
    assert result.exit_code == 0, result.output
    (note,) = [line for line in result.output.splitlines() if "newly billable" in line]
    assert note.startswith("note: against ICD-10-CM FY2026 (the CMS code set of April 1, 2026): "
                           "2 codes newly billable (G35, R10.2), ")
    assert "codes no longer billable (deleted, or now a header) (A01.00, A01.01, " in note


def test_the_codes_file_is_refused_with_a_pointer_to_the_order_file(pack, tmp_path):
    codes = tmp_path / "icd10cm_codes_2025.txt"
    codes.write_text("A000    Cholera due to Vibrio cholerae 01, biovar cholerae\n"
                     "A001    Cholera due to Vibrio cholerae 01, biovar eltor\n", encoding="utf-8")
    result = run("import", "icd10cm", codes, "--pack", pack)
    assert result.exit_code == 2
    assert f"{codes}:1: this is the codes file (icd10cm_codes_YYYY.txt)" in result.output
    assert "give the order file (icd10cm_order_YYYY.txt)" in result.output
    assert not (pack / "codesets").exists()


def test_malformed_lines_are_reported_by_line_and_nothing_is_written(pack, tmp_path):
    lines = ORDER_2025.read_text(encoding="latin-1").splitlines()
    lines[9] = lines[9][:14] + "2" + lines[9][15:]     # a flag that is neither 0 nor 1
    lines[20] = "00021 E1!3    1 Type 2 diabetes"        # not a code
    broken = tmp_path / "icd10cm_order_2025.txt"
    broken.write_text("\n".join(lines) + "\n", encoding="latin-1")
    result = run("import", "icd10cm", broken, "--pack", pack)
    assert result.exit_code == 2
    assert f"{broken}:10: '{lines[9][:40]}' is not a line of the ICD-10-CM order file" in result.output
    assert f"{broken}:21: " in result.output
    assert "2 malformed rows: nothing written" in result.output
    assert not (pack / "codesets").exists()
    result = run("import", "icd10cm", broken, "--pack", pack, "--skip-bad-rows")
    assert result.exit_code == 0
    assert "icd10cm: 227 rows read, 225 written, 2 skipped" in result.output


# ---- the pack's code set files -------------------------------------------------------------------

def test_a_broken_code_set_file_is_reported_at_its_line(pack):
    (pack / "codesets").mkdir()
    (pack / "codesets" / "icd10cm-2024-10-01.txt").write_text(
        "# FY2025\nE11 header\nE11.9\nE11 9\n", encoding="utf-8")
    with pytest.raises(PackError) as error:
        rulesengine.load_pack(pack)
    (problem,) = error.value.diagnostics
    assert (problem.code, problem.pos.line, problem.pos.column) == ("bad-codeset", 4, 1)
    assert problem.message == "'E11 9' is not an ICD-10-CM code, alone or followed by 'header'"


def test_a_code_set_file_must_be_named_for_its_first_day(pack):
    (pack / "codesets").mkdir()
    (pack / "codesets" / "fy2025.txt").write_text("E119\n", encoding="utf-8")
    with pytest.raises(PackError) as error:
        rulesengine.load_pack(pack)
    (problem,) = error.value.diagnostics
    assert problem.code == "bad-codeset" and "icd10cm-YYYY-MM-DD.txt" in problem.hint


def test_the_code_set_is_part_of_the_pack_hash(pack):
    before = rulesengine.load_pack(pack).info.hash
    assert run("import", "icd10cm", ORDER_2025, "--pack", pack).exit_code == 0
    assert rulesengine.load_pack(pack).info.hash != before


# ---- explain and lint --------------------------------------------------------------------------

def test_explain_says_which_code_sets_a_date_has_none_in(pack, tmp_path):
    made = tmp_path / "claim.json"
    made.write_text(
        '{"claim_id": "X1", "claim_type": "professional", "payer": {"id": "dx"},'
        ' "patient": {"birth_date": "1960-01-01", "sex": "M"}, "diagnoses": ["G35"],'
        ' "lines": [{"line_number": 1, "procedure": "99213", "units": 1,'
        ' "service_date": "2026-11-02", "diagnosis_pointers": [1]}]}', encoding="utf-8")
    result = run("explain", made, "--pack", pack)
    assert "no ICD-10-CM code set of the pack covers 2026-11-02" in result.output
    assert "rulesengine import icd10cm" in result.output


def test_lint_checks_each_entry_in_the_code_sets_in_force_where_its_rule_applies(pack):
    (pack / "dx.rules").write_text(RULES + """
valueset ms = icd10 {R10.2, E11.A}

rule MN-EXAMPLE "An example rule that uses the value set"
  category medical_necessity
  citation "example"
  effective 2024-10-01 through 2026-09-30
  for each line where line.procedure in {J1826}
  require any line.diagnosis in ms
  else deny line CO-50
""", encoding="utf-8")
    found = lambda report: sorted((p.severity, p.diagnostic.code, p.diagnostic.message)  # noqa: E731
                                  for p in report.problems)
    # the built-in FY2026 alone: E11.A is a code; R10.2 a header (over R10.20...)
    assert [(s, c) for s, c, _ in found(lint_pack(pack))] == [("warning", "icd10-not-billable")]
    assert run("import", "icd10cm", ORDER_2025, "--pack", pack).exit_code == 0
    report = lint_pack(pack)
    # FY2025 too: E11.A is no code then, and lint says in which code set
    assert [(s, c) for s, c, _ in found(report)] == [("error", "unknown-icd10"),
                                                     ("warning", "icd10-not-billable")]
    assert "E11.A is not a code in ICD-10-CM FY2025 from 2024-10-01 (dx/codesets/icd10cm-2024-10-01.txt)" \
        in found(report)[0][2]
    assert report.icd10_code_set.startswith("ICD-10-CM FY2026 (the CMS code set of April 1, 2026); "
                                            "ICD-10-CM FY2025 from 2024-10-01")
    # DX-VALID applies at every date; MN-MS only in FY2025-FY2026, which are covered
    assert report.icd10_not_checked == []


def test_diff_shows_an_imported_code_set_and_the_findings_it_brings(pack, tmp_path):
    new = tmp_path / "new" / "dx"
    shutil.copytree(pack, new)
    assert run("import", "icd10cm", ORDER_2025, "--pack", new).exit_code == 0
    claims = tmp_path / "claims.jsonl"
    rows = [{"claim_id": cid, "claim_type": "professional", "payer": {"id": "dx"},
             "patient": {"birth_date": "1960-01-01", "sex": "F"}, "diagnoses": dx,
             "lines": [{"line_number": 1, "procedure": "99213", "units": 1, "service_date": day,
                        "diagnosis_pointers": [1]}]}
            for cid, dx, day in (("D1", ["E11.A"], "2025-03-03"), ("D2", ["G35"], "2025-03-03"),
                                 ("D3", ["E11.A"], "2026-03-03"))]
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run("diff", pack, new, claims)
    assert "  + codeset icd10cm-2024-10-01: added (read by DX-VALID)" in result.output
    # D1 is denied now that FY2025 answers; D2 (G35, billable in FY2025) stays clean
    assert "   clean -> denied        1  D1\n" in result.output
    assert result.output.endswith("3 claims: 1 changed outcome, 1 findings appeared, 0 disappeared, "
                                  "0 changed\n")


def test_lint_names_the_dates_between_and_around_the_code_sets(pack):
    # constructed: the FY2025 excerpt given as FY2024's (from 2023-10-01), so FY2025 has none
    assert run("import", "icd10cm", ORDER_2025, "--pack", pack, "--effective", "2023-10-01").exit_code == 0
    (pack / "dx.rules").write_text(RULES + """
valueset vitd = icd10 {E55.9}

rule MN-VITD "Vitamin D testing needs a covered diagnosis"
  category medical_necessity
  citation "LCD L33996"
  effective 2023-01-01
  for each line where line.procedure in {82306}
  require any line.diagnosis in vitd
  else deny line CO-50 N115
""", encoding="utf-8")
    report = lint_pack(pack)
    assert report.icd10_not_checked == [(date(2023, 1, 1), date(2023, 9, 30)),
                                        (date(2024, 10, 1), date(2025, 9, 30)),
                                        (date(2026, 10, 1), None)]
    assert report.coverage_note().startswith(
        "note: ICD-10-CM codes were not checked for dates of service 2023-01-01 through "
        "2023-09-30 and 2024-10-01 through 2025-09-30 and from 2026-10-01: no code set of the "
        "pack covers them. Import the FY2027 code set")
