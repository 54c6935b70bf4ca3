"""`rulesengine import ncci-ptp|mue|mce`: CMS's published files into a pack, as an analyst
runs it each quarter. The real excerpts in ../shared are used when present (skipped
otherwise); the malformed and odd-layout cases are this project's own fixtures."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulesengine
from rulesengine.cli import imports as importers
from rulesengine.cms import files as cms_files, writing
from rulesengine.cli import main
from corpus import build_claim, fired, write_pack

ROOT = Path(__file__).resolve().parent.parent
MEDICARE = ROOT / "payer_rules" / "medicare"
FIXTURES = Path(__file__).parent / "fixtures" / "importers"
SHARED = ROOT.parent / "shared" / "data" / "cms"
NCCI_BUNDLED = MEDICARE / "tables" / "ncci_ptp_practitioner.csv"
MUE_BUNDLED = MEDICARE / "tables" / "mue_practitioner.csv"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"shared CMS sample {name} not present (../shared is optional)")
    return path


def run(*args):
    return CliRunner().invoke(main, ["import", *[str(a) for a in args]], catch_exceptions=False)


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def pack(tmp_path) -> Path:
    """A copy of the bundled medicare pack."""
    folder = tmp_path / "medicare"
    shutil.copytree(MEDICARE, folder)
    return folder


def removed(pack: Path, table: str) -> Path:
    """The pack's table file, deleted so that only an import can bring it back."""
    path = pack / "tables" / table
    path.unlink()
    return path


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


# ---- NCCI PTP -------------------------------------------------------------------------------

def test_ncci_excerpt_reproduces_the_bundled_table(pack):
    written = removed(pack, "ncci_ptp_practitioner.csv")
    result = run("ncci-ptp", shared("ncci_ptp_practitioner_2026q3.excerpt.txt"), "--pack", pack)
    assert result.exit_code == 0, result.output
    assert rows(written) == rows(NCCI_BUNDLED)
    assert written.read_bytes() == NCCI_BUNDLED.read_bytes()
    assert "ncci-ptp: 27 rows read, 27 written, 0 skipped, 0 duplicate keys" in result.output
    assert "3 rows never in force" in result.output and "kept" in result.output
    assert "pack medicare 2026.3 loads: 18 rules" in result.output
    assert leftovers(pack) == []


def test_imported_pack_gives_the_same_results_on_the_example_claims(pack):
    removed(pack, "ncci_ptp_practitioner.csv")
    removed(pack, "mue_practitioner.csv")
    first = run("ncci-ptp", shared("ncci_ptp_practitioner_2026q3.excerpt.txt"), "--pack", pack)
    # written, but the pack cannot load until its MUE table is back: said, and exit 2
    assert first.exit_code == 2 and (pack / "tables" / "ncci_ptp_practitioner.csv").is_file()
    assert "table file 'tables/mue_practitioner.csv' not found" in first.stderr
    assert run("mue", shared("mue_practitioner_2026q3.excerpt.csv"), "--pack", pack,
               "--effective", "2026-07-01").exit_code == 0
    bundled, imported = rulesengine.load_pack(MEDICARE), rulesengine.load_pack(pack)
    claims = [c for p in sorted((ROOT / "examples" / "claims").glob("*.json"))
              for c in rulesengine.read_claims(p) if not isinstance(c, rulesengine.ClaimError)]
    assert len(claims) > 20
    def findings(pack, claim):  # the rule files sit in another folder: compare all but that
        return [dataclasses.replace(f, source_file=Path(f.source_file).name) for f in pack.check(claim).findings]

    got = [findings(imported, c) for c in claims]
    assert got == [findings(bundled, c) for c in claims]
    # the comparison means something: the example claims break both imported tables
    rule_ids = {f.rule_id for claim in got for f in claim}
    assert {"NCCI-PTP", "MUE-PRACTITIONER"} <= rule_ids


def test_parts_saved_from_a_spreadsheet_and_without_a_header_are_read_in_order(pack):
    removed(pack, "ncci_ptp_practitioner.csv")
    # part 1: Windows-1252, CRLF, the header as one row of quoted multi-line cells;
    # part 2: no header at all, blank lines at the end
    result = run("ncci-ptp", FIXTURES / "ncci_part1_excel.txt", FIXTURES / "ncci_part2_noheader.txt",
                 "--pack", pack)
    assert result.exit_code == 0, result.output
    assert rows(pack / "tables" / "ncci_ptp_practitioner.csv") == rows(NCCI_BUNDLED)
    assert "ncci_part2_noheader.txt: no NCCI PTP header found; rows read from line 1" in result.output


def test_a_part_saved_as_unicode_text_utf16_is_read(tmp_path, pack):
    part = tmp_path / "part.txt"
    part.write_text((FIXTURES / "ncci_part2_noheader.txt").read_text(), encoding="utf-16")
    out = tmp_path / "ptp.csv"
    result = run("ncci-ptp", part, "--pack", pack, "--output", out)
    assert result.exit_code == 0, result.output
    assert rows(out)[1:] == rows(NCCI_BUNDLED)[15:]


def test_duplicate_pairs_are_kept_and_counted_never_active_rows_dropped_on_request(tmp_path, pack):
    out = tmp_path / "ptp.csv"
    result = run("ncci-ptp", FIXTURES / "ncci_dups.txt", "--pack", pack, "--output", out)
    assert result.exit_code == 0, result.output
    assert "4 rows read, 4 written, 0 skipped, 1 duplicate key" in result.output
    assert [r[:2] for r in rows(out)[1:]].count(["0001U", "0029U"]) == 2

    result = run("ncci-ptp", FIXTURES / "ncci_dups.txt", "--pack", pack, "--output", out,
                 "--drop-never-active")
    assert "4 rows read, 3 written" in result.output
    assert "1 row never in force (deleted the day they took effect, indicator 9): left out" in result.output
    assert ["0001A", "90473"] not in [r[:2] for r in rows(out)]


def test_malformed_ncci_rows_are_all_reported_by_line_and_nothing_is_written(pack):
    target = pack / "tables" / "ncci_ptp_practitioner.csv"
    target.write_text("column1,column2\n", encoding="utf-8")  # last quarter's file stays as it was
    result = run("ncci-ptp", FIXTURES / "ncci_bad.txt", "--pack", pack)
    assert result.exit_code == 2
    bad = str(FIXTURES / "ncci_bad.txt")
    assert f"{bad}:8: effective date '20221301' is not a date in the form YYYYMMDD" in result.stderr
    assert f"{bad}:9: modifier indicator '2' is not 0, 1 or 9" in result.stderr
    assert f"{bad}:10: 4 cells where 7 are expected" in result.stderr
    assert f"{bad}:11: column 2 code: '3659' is not shaped like a CPT/HCPCS procedure code" in result.stderr
    assert f"{bad}:7:" not in result.stderr and f"{bad}:12:" not in result.stderr
    assert "4 malformed rows: nothing written" in result.stderr
    assert target.read_text(encoding="utf-8") == "column1,column2\n"
    assert leftovers(pack) == []


def test_skip_bad_rows_writes_the_good_ones_and_still_reports_the_bad(tmp_path, pack):
    out = tmp_path / "ptp.csv"
    result = run("ncci-ptp", FIXTURES / "ncci_bad.txt", "--pack", pack, "--output", out, "--skip-bad-rows")
    assert result.exit_code == 0
    assert f"{FIXTURES / 'ncci_bad.txt'}:8:" in result.stderr
    assert "6 rows read, 2 written, 4 skipped" in result.output
    assert [r[:2] for r in rows(out)[1:]] == [["0001U", "81105"], ["0001A", "96160"]]


def test_many_malformed_rows_are_shown_up_to_a_cap_then_counted(tmp_path, pack):
    bad = tmp_path / "ptp.txt"
    lines = (FIXTURES / "ncci_bad.txt").read_text().splitlines()[:6]
    lines += [f"0001A\t9{n:04d}\t\t20220101\t*\t7\tMutually exclusive procedures" for n in range(25)]
    bad.write_text("\n".join(lines) + "\n")
    result = run("ncci-ptp", bad, "--pack", pack, "--output", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert result.stderr.count("modifier indicator '7'") == cms_files.MAX_SHOWN == 20
    assert f"{bad}:26:" in result.stderr and f"{bad}:27:" not in result.stderr
    assert "... and 5 more malformed rows" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_a_crash_halfway_leaves_the_old_table_and_no_temporary_file(pack, monkeypatch):
    target = pack / "tables" / "ncci_ptp_practitioner.csv"
    target.write_text("old\n", encoding="utf-8")
    calls = []

    def failing(cells):
        calls.append(cells)
        if len(calls) == 3:
            raise RuntimeError("disk gone")
        return real(cells)

    real = importers.ncci_row
    monkeypatch.setattr(importers, "ncci_row", failing)
    result = run("ncci-ptp", FIXTURES / "ncci_part2_noheader.txt", "--pack", pack)
    assert result.exit_code == 123 and "internal error: RuntimeError: disk gone" in result.stderr
    assert target.read_text(encoding="utf-8") == "old\n"
    assert leftovers(pack) == []


def test_the_wrong_file_is_reported_not_imported(pack):
    removed(pack, "ncci_ptp_practitioner.csv")
    result = run("ncci-ptp", FIXTURES / "mue_bad.csv", "--pack", pack)
    assert result.exit_code == 2
    assert "mue_bad.csv:1: no NCCI PTP header and no rows found" in result.stderr
    assert not (pack / "tables" / "ncci_ptp_practitioner.csv").exists()


def test_a_table_the_pack_declares_is_found_by_name_and_an_undeclared_one_gets_a_hint(tmp_path, pack):
    result = run("ncci-ptp", FIXTURES / "ncci_part2_noheader.txt", "--pack", pack, "--table", "ncci_ptp",
                 "--skip-bad-rows")
    assert result.exit_code == 0
    assert len(rows(pack / "tables" / "ncci_ptp_practitioner.csv")) == 14  # header + 13 rows
    result = run("ncci-ptp", FIXTURES / "ncci_part2_noheader.txt", "--pack", pack, "--table", "ncci_2026q4")
    assert (pack / "tables" / "ncci_2026q4.csv").is_file()
    assert 'table ncci_2026q4 from "tables/ncci_2026q4.csv"' in result.output


def test_a_pack_that_no_longer_loads_is_reported_with_its_errors(tmp_path):
    folder = write_pack(tmp_path / "p", """
        table mue from "tables/mue.csv"
          columns code hcpcs, mue_value integer, adjudication integer,
                  effective_date date, deletion_date date
          rows effective from effective_date through deletion_date

        rule MUE "Units over the MUE"
          category unit_limit
          for each line
          require units within mue
          else deny line CO-151 N362
        """)
    result = run("mue", FIXTURES / "mue_bad.csv", "--pack", folder, "--table", "mue",
                 "--effective", "2026-07-01", "--skip-bad-rows")
    assert result.exit_code == 2
    assert (folder / "tables" / "mue.csv").is_file()
    assert "does not load with the imported file" in result.stderr
    assert "table file 'tables/mue.csv' has no column 'mue_value'" in result.stderr


def test_not_a_pack_is_a_usage_error(tmp_path):
    result = run("ncci-ptp", FIXTURES / "ncci_dups.txt", "--pack", tmp_path)
    assert result.exit_code == 2 and "has no pack.yaml" in result.output


# ---- MUE ------------------------------------------------------------------------------------

def test_mue_excerpt_reproduces_the_bundled_table(pack):
    removed(pack, "mue_practitioner.csv")
    result = run("mue", shared("mue_practitioner_2026q3.excerpt.csv"), "--pack", pack, "--effective", "2026-07-01")
    assert result.exit_code == 0, result.output
    assert rows(pack / "tables" / "mue_practitioner.csv") == rows(MUE_BUNDLED)
    assert "rows in force 2026-07-01 through 2026-09-30 (the end of that quarter" in result.output
    assert "mue: 14 rows read, 14 written, 0 skipped, 0 duplicate keys" in result.output


def test_mue_indicator_text_becomes_its_number_and_through_is_kept(tmp_path, pack):
    out = tmp_path / "mue.csv"
    result = run("mue", FIXTURES / "mue_bad.csv", "--pack", pack, "--output", out, "--skip-bad-rows",
                 "--effective", "2026-07-01", "--through", "2026-12-31")
    assert result.exit_code == 0
    assert rows(out) == [list(importers.MUE_COLUMNS),
                         ["0001U", "1", "2", "Code Descriptor / CPT Instruction", "20260701", "20261231"],
                         ["0003M", "1", "3", "Nature of Analyte", "20260701", "20261231"]]


def test_malformed_mue_rows_are_reported_by_line_and_nothing_is_written(pack):
    removed(pack, "mue_practitioner.csv")
    result = run("mue", FIXTURES / "mue_bad.csv", "--pack", pack, "--effective", "2026-07-01")
    assert result.exit_code == 2
    bad = str(FIXTURES / "mue_bad.csv")
    assert f"{bad}:7: MUE value 'one' is not a whole number" in result.stderr
    assert f"{bad}:8: adjudication indicator '4 Date of Service Edit: Policy' is not 1, 2 or 3" in result.stderr
    assert "2 malformed rows: nothing written" in result.stderr
    assert not (pack / "tables" / "mue_practitioner.csv").exists()
    assert leftovers(pack) == []


@pytest.mark.parametrize("args, message", [
    (["--effective", "2026-07-32"], "'2026-07-32' is not a date in the form YYYY-MM-DD"),
    (["--effective", "2026-07-01", "--through", "2026-06-30"], "2026-06-30 is before --effective"),
])
def test_mue_window_options_are_checked(pack, args, message):
    result = run("mue", FIXTURES / "mue_bad.csv", "--pack", pack, *args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("day, end", [("2026-07-01", "2026-09-30"), ("2026-10-01", "2026-12-31"),
                                      ("2024-02-29", "2024-03-31"), ("2026-06-15", "2026-06-30")])
def test_quarter_end(day, end):
    assert writing.quarter_end(date.fromisoformat(day)) == date.fromisoformat(end)


# ---- MUE: a new quarter keeps the earlier ones ---------------------------------------------

# the bundled table's 14 rows of 2026 Q3, then a 2026 Q4 file changed from it (made up: 0009U
# MUE 2 -> 3, 0041U no longer listed, 0042U new; see the fixture's first cell)
MUE_Q4 = FIXTURES / "mue_2026q4_constructed.csv"
MUE_TABLE = ("tables", "mue_practitioner.csv")


def import_q4(pack, *more):
    return run("mue", MUE_Q4, "--pack", pack, "--effective", "2026-10-01", *more)


def mue_messages(evaluate, loaded, procedure, units, day):
    """The MUE findings of a one-line claim, as their messages."""
    claim = build_claim([{"procedure": procedure, "units": units, "service_date": day}],
                        received_date="2026-10-20", place_of_service="81", diagnoses=["C50.911"])
    return [f.message for f in evaluate(loaded, claim).findings if f.rule_id == "MUE-PRACTITIONER"]


def test_a_claim_is_checked_by_the_mue_of_its_date_of_service_after_the_next_quarter(pack, evaluate):
    result = import_q4(pack)
    assert result.exit_code == 0, result.output
    assert "kept the table's 14 earlier rows for dates of service before 2026-10-01" in result.output
    assert ("against the rows in force on 2026-09-30: 12 codes unchanged, 1 changed, 1 new, "
            "1 no longer listed") in result.output
    assert "  changed: 0009U MUE 2 -> 3" in result.output
    assert "  new: 0042U" in result.output
    assert "  no longer listed (no MUE from 2026-10-01): 0041U" in result.output
    assert "mue: 14 rows read, 14 written, 0 skipped" in result.output
    # the Q3 rows are left as they were (they ended 2026-09-30); Q4's follow them
    table = pack.joinpath(*MUE_TABLE).read_bytes()
    assert table.startswith(MUE_BUNDLED.read_bytes())
    added = rows(pack.joinpath(*MUE_TABLE))[15:]
    assert len(added) == 14 and {tuple(r[4:]) for r in added} == {("20261001", "20261231")}
    assert ["0009U", "3", "3", "Nature of Analyte", "20261001", "20261231"] in added

    loaded = rulesengine.load_pack(pack)
    assert mue_messages(evaluate, loaded, "0009U", 3, "2026-09-10") == [
        "3 units of 0009U on 2026-09-10 exceed the MUE of 2 (adjudication indicator 3)"]
    assert mue_messages(evaluate, loaded, "0009U", 3, "2026-10-14") == []
    assert mue_messages(evaluate, loaded, "0009U", 4, "2026-10-14") == [
        "4 units of 0009U on 2026-10-14 exceed the MUE of 3 (adjudication indicator 3)"]
    # a code that left the file keeps its limit for Q3 only; a new one has it from Q4
    assert mue_messages(evaluate, loaded, "0041U", 2, "2026-09-30") != []
    assert mue_messages(evaluate, loaded, "0041U", 2, "2026-10-01") == []
    assert mue_messages(evaluate, loaded, "0042U", 2, "2026-09-30") == []
    assert mue_messages(evaluate, loaded, "0042U", 2, "2026-10-01") == [
        "2 units of 0042U on 2026-10-01 exceed the MUE of 1 (adjudication indicator 2)"]


def test_importing_the_same_quarter_again_changes_nothing(pack):
    assert import_q4(pack).exit_code == 0
    once = pack.joinpath(*MUE_TABLE).read_bytes()
    again = import_q4(pack)
    assert again.exit_code == 0, again.output
    assert "replaced the table's 14 rows in force from 2026-10-01 (this quarter was imported before)" in again.output
    assert "12 codes unchanged, 1 changed, 1 new, 1 no longer listed" in again.output
    assert pack.joinpath(*MUE_TABLE).read_bytes() == once
    assert len(rows(pack.joinpath(*MUE_TABLE))) == 1 + 14 + 14


def test_the_bundled_excerpt_imported_again_leaves_the_bundled_table_as_it_is(pack):
    result = run("mue", shared("mue_practitioner_2026q3.excerpt.csv"), "--pack", pack, "--effective", "2026-07-01")
    assert result.exit_code == 0, result.output
    assert "replaced the table's 14 rows in force from 2026-07-01" in result.output
    assert "no row of the table was in force on 2026-06-30: nothing to compare the file with" in result.output
    assert pack.joinpath(*MUE_TABLE).read_bytes() == MUE_BUNDLED.read_bytes()


def test_replace_writes_the_new_quarter_alone(pack, evaluate):
    result = import_q4(pack, "--replace")
    assert result.exit_code == 0, result.output
    assert "--replace: the table's earlier rows were dropped" in result.output
    written = rows(pack.joinpath(*MUE_TABLE))
    assert len(written) == 1 + 14 and {tuple(r[4:]) for r in written[1:]} == {("20261001", "20261231")}
    loaded = rulesengine.load_pack(pack)
    assert mue_messages(evaluate, loaded, "0009U", 3, "2026-09-10") == []  # Q3 no longer checked
    assert mue_messages(evaluate, loaded, "0009U", 4, "2026-10-14") != []


def test_an_older_quarter_after_a_newer_one_is_refused_and_nothing_written(pack):
    assert import_q4(pack).exit_code == 0
    before = pack.joinpath(*MUE_TABLE).read_bytes()
    result = run("mue", MUE_Q4, "--pack", pack, "--effective", "2026-07-01")
    assert result.exit_code == 2
    table = pack.joinpath(*MUE_TABLE)
    assert f"{table}:16: 0001U is in force from 2026-10-01, after this file's 2026-07-01" in result.stderr
    assert ("the table already holds 14 rows in force from a later date than 2026-07-01: nothing written. "
            "Import the quarters oldest first") in result.stderr
    assert table.read_bytes() == before and leftovers(pack) == []


def test_rows_still_in_force_on_the_new_date_end_the_day_before_and_ended_rows_stay(tmp_path, pack):
    out = tmp_path / "mue.csv"
    out.write_text("code,limit,adjudication,rationale,effective_date,deletion_date\n"
                   "0009U,1,3,Nature of Analyte,20250101,20251231\n"   # ended before: as it is
                   "0009U,2,3,Nature of Analyte,20260101,\n"           # open: cut
                   "0010U,2,3,Nature of Service/Procedure,2026-01-01,*\n"  # open, written otherwise: cut
                   "0001U,1,2,Code Descriptor / CPT Instruction,20260701,20270630\n", encoding="utf-8")
    result = import_q4(pack, "--output", out)
    assert result.exit_code == 0, result.output
    assert "kept the table's 4 earlier rows for dates of service before 2026-10-01; 3 of them were in force " \
           "on it and now end 2026-09-30" in result.output
    # in force on 2026-09-30: 0009U (2, now 3), 0010U and 0001U (the same); the other 11 are new
    assert "2 codes unchanged, 1 changed, 11 new, 0 no longer listed" in result.output
    written = rows(out)
    assert written[1:5] == [["0009U", "1", "3", "Nature of Analyte", "20250101", "20251231"],
                            ["0009U", "2", "3", "Nature of Analyte", "20260101", "20260930"],
                            ["0010U", "2", "3", "Nature of Service/Procedure", "2026-01-01", "20260930"],
                            ["0001U", "1", "2", "Code Descriptor / CPT Instruction", "20260701", "20260930"]]
    assert len(written) == 1 + 4 + 14


def test_a_malformed_table_is_reported_by_line_and_left_as_it_was(pack):
    table = pack.joinpath(*MUE_TABLE)
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("20260930", "20261331")
    lines[4] = "0003M,1,3\n"
    table.write_text("".join(lines), encoding="utf-8")
    before = table.read_bytes()
    result = import_q4(pack)
    assert result.exit_code == 2
    assert f"{table}:3: deletion_date '20261331' is not a date (YYYYMMDD, or blank when open)" in result.stderr
    assert f"{table}:5: 3 cells where 6 are expected" in result.stderr
    assert "2 malformed rows in the table: nothing written (fix them, or give --replace" in result.stderr
    assert table.read_bytes() == before and leftovers(pack) == []


def test_a_table_in_other_columns_is_not_merged_into(tmp_path, pack):
    out = tmp_path / "mue.csv"
    out.write_text("code,mue_value\n0001U,1\n", encoding="utf-8")
    result = import_q4(pack, "--output", out)
    assert result.exit_code == 2
    assert f"{out}:1: its columns are code,mue_value, not code,limit,adjudication,rationale," \
           "effective_date,deletion_date as 'import mue' writes them; give --replace" in result.stderr
    assert out.read_text(encoding="utf-8") == "code,mue_value\n0001U,1\n"


def test_a_crash_while_merging_leaves_the_old_table_and_no_temporary_file(pack, monkeypatch):
    table = pack.joinpath(*MUE_TABLE)
    before = table.read_bytes()

    def failing(path, tally, effective, through):
        for number, row in enumerate(real(path, tally, effective, through)):
            if number == 5:
                raise RuntimeError("disk gone")
            yield row

    columns, real, *rest = importers._QUARTERLY["mue"]
    monkeypatch.setitem(importers._QUARTERLY, "mue", (columns, failing, *rest))
    assert import_q4(pack).exit_code == 123
    assert table.read_bytes() == before and leftovers(pack) == []


# ---- MCE ------------------------------------------------------------------------------------

# the sex edit of docs/import-cms-files.md, so the how-to's example is the one tested
SEX_EDIT = (ROOT / "docs" / "import-cms-files.md").read_text(encoding="utf-8").split("```rules\n")[1].split("```")[0]


def test_mce_lists_become_value_set_files_a_sex_edit_can_use(tmp_path, evaluate):
    folder = write_pack(tmp_path / "p", SEX_EDIT)
    result = run("mce", shared("mce_v37_fy2020_code_edits.tsv"), "--pack", folder,
                 "--edits", "Female_Only,male_only")
    assert result.exit_code == 0, result.output
    text = (folder / "valuesets" / "mce_female_only.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Medicare Code Editor v37, edit Female_Only (section 5A): ICD-10-CM diagnosis codes"
    assert "from mce_v37_fy2020_code_edits.tsv: 3135 codes" in lines[1]
    assert "N70.01   Acute salpingitis" in lines
    assert (folder / "valuesets" / "mce_male_only.txt").is_file()
    assert not (folder / "valuesets" / "mce_maternity_only.txt").exists()
    assert 'valueset mce_female_only = icd10 from "valuesets/mce_female_only.txt"' in result.output
    assert 'valueset mce_male_only = icd10 from "valuesets/mce_male_only.txt"' in result.output
    assert "4210 ICD-10-PCS procedure codes left out" in result.output
    assert "pack test-payer 2026.1 loads: 1 rule" in result.output

    loaded = rulesengine.load_pack(folder)
    male = build_claim(patient={"sex": "M"}, diagnoses=["N70.01"])
    denied = evaluate(loaded, male)
    assert fired(denied) == [("MCE-DX-FEMALE", None)]
    assert (denied.findings[0].group_code, denied.findings[0].carc) == ("CO", "10")
    assert fired(evaluate(loaded, build_claim(patient={"sex": "F"}, diagnoses=["N70.01"]))) == []
    assert fired(evaluate(loaded, build_claim(patient={"sex": "M"}, diagnoses=["N40.1"]))) == []


def test_mce_skip_bad_rows_writes_the_good_codes_and_a_rule_uses_them(tmp_path):
    folder = write_pack(tmp_path / "p", SEX_EDIT)
    result = run("mce", FIXTURES / "mce_bad.tsv", "--pack", folder, "--edits", "Female_Only", "--skip-bad-rows")
    assert result.exit_code == 0
    assert "1 ICD-10-PCS procedure code left out" in result.output
    assert "mce: 5 rows read, 1 written, 1 skipped, 0 duplicate keys" in result.output
    path = folder / "valuesets" / "mce_female_only.txt"
    assert [ln for ln in path.read_text().splitlines() if not ln.startswith("#")] == ["N70.01   Acute salpingitis"]
    loaded = rulesengine.load_pack(folder)
    assert fired(loaded.check(build_claim(patient={"sex": "M"}, diagnoses=["N70.01"]))) == [("MCE-DX-FEMALE", None)]


def test_malformed_mce_rows_of_the_chosen_edits_are_reported_and_nothing_written(tmp_path):
    folder = write_pack(tmp_path / "p", SEX_EDIT)
    bad = str(FIXTURES / "mce_bad.tsv")
    result = run("mce", bad, "--pack", folder)
    assert result.exit_code == 2
    assert f"{bad}:3: ICD_Code '7001' is not an ICD-10-CM diagnosis code" in result.stderr
    assert f"{bad}:5: ICD_Code 'N40.1.2' is not an ICD-10-CM diagnosis code" in result.stderr
    assert not (folder / "valuesets").exists()

    result = run("mce", bad, "--pack", folder, "--edits", "Female_Only")  # only its own bad row counts
    assert f"{bad}:3:" in result.stderr and f"{bad}:5:" not in result.stderr
    assert "1 malformed row: nothing written" in result.stderr


def test_an_unknown_edit_is_named_with_the_close_ones(tmp_path):
    folder = write_pack(tmp_path / "p", SEX_EDIT)
    result = run("mce", FIXTURES / "mce_bad.tsv", "--pack", folder, "--edits", "Male")
    assert result.exit_code == 2
    assert "the file has no edit 'Male'; did you mean Male_Only" in result.output


# ---- NCCI add-on code edits -------------------------------------------------------------------

AOC_HEADER = ("Add-on Code\tAOC Del Dt\tPrimary Code\tPrimary Code Del Dt\tAOC Edit Type\t"
              "AOC Edit Eff Dt\tAOC Edit Del Dt\tSpecial Instruction Notes")


def test_the_add_on_excerpt_reproduces_the_bundled_table(pack):
    bundled = (MEDICARE / "tables" / "ncci_aoc.csv").read_bytes()
    written = removed(pack, "ncci_aoc.csv")
    result = run("ncci-aoc", FIXTURES / "aoc.excerpt.txt", "--pack", pack)
    assert result.exit_code == 0, result.output
    assert written.read_bytes() == bundled
    assert "pack medicare 2026.3 loads: 18 rules" in result.output


def test_the_add_on_code_excerpt_becomes_a_table_of_pairs(tmp_path, pack):
    out = tmp_path / "aoc.csv"
    result = run("ncci-aoc", FIXTURES / "aoc.excerpt.txt", "--pack", pack, "--output", out)
    assert result.exit_code == 0, result.output
    assert "ncci-aoc: 11 rows read, 11 written, 0 skipped, 0 duplicate keys" in result.output
    table = rows(out)
    assert table[0] == ["addon", "primary", "edit_type", "effective_date", "deletion_date", "notes"]
    assert ["11045", "11042", "1", "20130101", "*", ""] in table
    assert [r[1] for r in table if r[0] == "11103"] == ["11102", "11104", "11106"]


def test_add_on_columns_are_found_by_title_and_a_pair_ends_at_its_first_deletion(tmp_path, pack):
    # the titles in another order, dates a spreadsheet saved as YYYY-MM-DD, a type 2 edit
    # with CMS's CCCCC for "no primary", and a primary code deleted before the edit ends
    source = tmp_path / "aoc.csv"
    source.write_text(
        "Notice: CPT codes only are copyright the AMA\n"
        "AOC Edit Type,Primary Code,Add-on Code,AOC Edit Eff Dt,AOC Edit Del Dt,Primary Code Del Dt,AOC Del Dt\n"
        "1,11042,11045,2013-01-01,*,20231231,\n"
        "2,CCCCC,99418,20230101,,,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("ncci-aoc", source, "--pack", pack, "--output", out)
    assert result.exit_code == 0, result.output
    assert rows(out)[1:] == [["11045", "11042", "1", "20130101", "20231231", ""],
                             ["99418", "", "2", "20230101", "*", ""]]


def test_a_type_2_add_on_without_primaries_loads_and_is_not_denied(tmp_path, pack):
    source = tmp_path / "aoc.txt"
    source.write_text("\n".join([AOC_HEADER, "11045\t*\t11042\t*\t1\t20130101\t*\t",
                                 "99418\t*\tCCCCC\t*\t2\t20230101\t*\t"]) + "\n", encoding="utf-8")
    result = run("ncci-aoc", source, "--pack", pack)
    assert result.exit_code == 0, result.output
    assert "pack medicare 2026.3 loads: 18 rules" in result.output  # the empty primary is no value
    loaded = rulesengine.load_pack(pack)
    alone = build_claim(lines=[{"line_number": 1, "procedure": "99418", "service_date": "2026-07-15"},
                               {"line_number": 2, "procedure": "11045", "service_date": "2026-07-15"}])
    assert [(f.rule_id, f.line_number) for f in loaded.check(alone).findings] == [("AOC-PRIMARY", 2)]


def test_malformed_add_on_rows_are_reported_by_line_and_nothing_is_written(tmp_path, pack):
    source = tmp_path / "aoc.txt"
    source.write_text("\n".join([AOC_HEADER,
                                 "11045\t*\t11042\t*\t1\t20130101\t*\t",    # line 2: good
                                 "11045\t*\t1104\t*\t1\t20130101\t*\t",     # 3: a primary of four digits
                                 "11046\t*\t11043\t*\t4\t20130101\t*\t",    # 4: edit type 4
                                 "11047\t*\t11044\t*\t1\t20131301\t*\t",    # 5: month 13
                                 "11103\t*\t11102\t*\t1\t20190101\t20180101\t"]) + "\n",  # 6: ends before it starts
                      encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("ncci-aoc", source, "--pack", pack, "--output", out)
    assert result.exit_code == 2 and not out.exists()
    assert "aoc.txt:3: primary code: '1104' is not shaped like" in result.stderr
    assert "aoc.txt:4: AOC edit type '4' is not 1, 2 or 3" in result.stderr
    assert "aoc.txt:5: AOC edit effective date '20131301' is not a date" in result.stderr
    assert "aoc.txt:6: the pair ends 20180101, before its edit takes effect 20190101" in result.stderr
    assert "4 malformed rows: nothing written" in result.stderr


def test_a_file_that_is_not_the_add_on_file_is_refused(tmp_path, pack):
    out = tmp_path / "out.csv"
    result = run("ncci-aoc", FIXTURES / "mue_bad.csv", "--pack", pack, "--output", out)
    assert result.exit_code == 2 and not out.exists()
    assert "mue_bad.csv:1: the header has no column for addon, primary, edit_type, effective" in result.stderr


# ---- the fee schedule's payment policy indicators -----------------------------------------------

RVU = FIXTURES / "pprrvu25_jan.excerpt.csv"
MPFS_HEADER = ["hcpcs", "status", "pctc", "global_days", "multiple_procedure", "bilateral", "assistant",
               "co_surgeon", "team_surgeon", "effective_date", "deletion_date"]


def test_the_relative_value_excerpt_reproduces_the_bundled_table(pack):
    bundled = (MEDICARE / "tables" / "mpfs_indicators.csv").read_bytes()
    written = removed(pack, "mpfs_indicators.csv")
    result = run("mpfs", RVU, "--pack", pack, "--effective", "2025-01-01", "--through", "2026-12-31")
    assert result.exit_code == 0, result.output
    assert written.read_bytes() == bundled
    assert "pack medicare 2026.3 loads: 18 rules" in result.output


def test_the_relative_value_file_gives_one_row_of_indicators_per_code(tmp_path, pack):
    out = tmp_path / "mpfs.csv"
    result = run("mpfs", RVU, "--pack", pack, "--effective", "2025-01-01", "--output", out)
    assert result.exit_code == 0, result.output
    assert "mpfs: 29 rows read, 27 written, 0 skipped, 0 duplicate keys" in result.output
    assert "2 rows of modifiers (26, TC, 53...) left out" in result.output
    table = rows(out)
    assert table[0] == MPFS_HEADER
    by_code = {r[0]: r for r in table[1:]}
    # the published values: 11042 global 000, assistant 1; 29881 global 090, bilateral 1;
    # 11045 an add-on (ZZZ); 95937 a diagnostic test with PC/TC indicator 1
    assert by_code["11042"][1:9] == ["A", "0", "000", "2", "0", "1", "0", "0"]
    assert by_code["29881"][3] == "090" and by_code["29881"][5] == "1"
    assert by_code["11045"][3] == "ZZZ" and by_code["95937"][2] == "1"
    assert by_code["99213"][9:] == ["20250101", "20250331"]


def test_a_later_fee_schedule_quarter_keeps_the_earlier_one_and_says_what_changed(tmp_path, pack):
    out = tmp_path / "mpfs.csv"
    assert run("mpfs", RVU, "--pack", pack, "--effective", "2025-01-01", "--output", out).exit_code == 0
    april = tmp_path / "april.csv"  # constructed: the January file with 11042's global days changed
    april.write_text(RVU.read_text(encoding="utf-8").replace("0.13,3.87,1.82,0,000,", "0.13,3.87,1.82,0,010,"),
                     encoding="utf-8")
    result = run("mpfs", april, "--pack", pack, "--effective", "2025-04-01", "--output", out)
    assert result.exit_code == 0, result.output
    assert "11042 global days 000 -> 010" in result.output
    dates = [(r[0], r[3], r[9], r[10]) for r in rows(out)[1:] if r[0] == "11042"]
    assert dates == [("11042", "000", "20250101", "20250331"), ("11042", "010", "20250401", "20250630")]


def test_malformed_fee_schedule_rows_are_reported_by_line(tmp_path, pack):
    bad = tmp_path / "bad.csv"
    text = RVU.read_text(encoding="utf-8").splitlines()
    text[10] = text[10].replace(",000,", ",099,")  # line 11: global days 099
    text[11] = text[11].replace(",2,0,1,0,0,", ",2,0,X,0,0,")  # line 12: assistant indicator X
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("mpfs", bad, "--pack", pack, "--effective", "2025-01-01", "--output", out)
    assert result.exit_code == 2 and not out.exists()
    assert "bad.csv:11: global days '099' is not one of" in result.stderr
    assert "bad.csv:12: assistant indicator 'X' is not a digit 0-9" in result.stderr
