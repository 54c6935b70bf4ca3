"""`rulesengine lint`: what loads but is probably wrong, as a pack author meets it.

ICD-10-CM facts used here, all from the CMS code set of April 1, 2026 (FY2026), the one
simple-icd-10-cm ships: E55.9, E55.0, J18.9, Z13.21, E21.0-E21.5 are billable codes; E55
and J18 are categories; E20.81 is a subcategory header over E20.810-E20.819; E55.99,
E21.7 and any E99 code do not exist.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus import write_pack
from rulesengine.cli import main
from rulesengine.authoring.lint.pack import lint_pack

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "lint"
CODE_SET = "ICD-10-CM FY2026 (the CMS code set of April 1, 2026)"


@pytest.fixture
def lint(tmp_path):
    """Write a pack and lint it: a list of (severity, code, line, column) and the report."""
    counter = itertools.count(1)

    def run(rules, tables=None, meta=None):
        folder = write_pack(tmp_path / f"pack{next(counter)}", rules, tables, meta)
        report = lint_pack(folder)
        return report
    return run


def found(report, code=None):
    """(severity, code, line, column) of each problem, or of those with ``code``."""
    return [(p.severity, p.diagnostic.code, p.diagnostic.pos.line, p.diagnostic.pos.column)
            for p in report.problems if code is None or p.diagnostic.code == code]


def only(report, code):
    matches = [p.diagnostic for p in report.problems if p.diagnostic.code == code]
    assert len(matches) == 1, found(report)
    return matches[0]


def vitd_rule(set_text: str, effective: str = "effective 2025-10-01", rule_id: str = "MN-VITD") -> str:
    return f"""
        valueset vitd = icd10 {{{set_text}}}

        rule {rule_id} "Vitamin D testing needs a covered diagnosis"
          category medical_necessity
          citation "LCD L33996"
          {effective}
          for each line where line.procedure in {{82306}}
          require any line.diagnosis in vitd
          else deny line CO-50 N115
        """


# ---- 1. ICD-10-CM ------------------------------------------------------------------------------

def test_billable_codes_categories_patterns_and_ranges_are_fine(lint):
    report = lint(vitd_rule("E55.9, E55, Z13.21, J18.*, E21.0..E21.3"))
    assert found(report) == []
    assert report.icd10_code_set == CODE_SET


def test_an_entry_that_is_no_code_and_covers_none_is_an_error_naming_the_code_set(lint):
    report = lint(vitd_rule("E55.9, E55.99"))
    problem = only(report, "unknown-icd10")
    assert found(report) == [("error", "unknown-icd10", 1, 31)]
    assert problem.message == (f"E55.99 is not a code in {CODE_SET}, and no billable code "
                               "falls under it")
    assert problem.hint == "the billable codes under E55 are E55.0, E55.9"


def test_a_dotted_header_warns_that_a_leaf_was_probably_meant(lint):
    report = lint(vitd_rule("E20.81"))
    assert found(report) == [("warning", "icd10-not-billable", 1, 24)]
    problem = only(report, "icd10-not-billable")
    assert problem.message.startswith(f"E20.81 is a header in {CODE_SET}, not a billable code")
    assert "E20.810, E20.811, E20.812, E20.818, E20.819" in problem.message
    assert problem.hint.startswith("write E20.81* if you mean all of them")


def test_a_category_or_explicit_pattern_over_the_same_codes_does_not_warn(lint):
    assert found(lint(vitd_rule("E20.81*, E20, J18"))) == []


def test_a_pattern_matching_no_billable_code_is_an_error(lint):
    report = lint(vitd_rule("J18.*, E99.*"))
    assert found(report) == [("error", "unknown-icd10", 1, 31)]
    assert only(report, "unknown-icd10").message == f"E99.* matches no billable code in {CODE_SET}"


def test_a_range_end_that_is_not_a_code_warns_and_an_empty_range_is_an_error(lint):
    report = lint(vitd_rule("E21.0..E21.7, E99.0..E99.9"))
    assert found(report) == [
        ("warning", "icd10-range-end", 1, 31),  # E21.7: the range still covers E21.0-E21.5
        ("error", "unknown-icd10", 1, 38),
        ("warning", "icd10-range-end", 1, 38),
        ("warning", "icd10-range-end", 1, 45),
    ]
    assert only(report, "unknown-icd10").message == f"E99.0..E99.9 matches no billable code in {CODE_SET}"


def test_codes_written_in_a_rule_are_checked_too(lint):
    report = lint("""
        rule MN-PNEUMONIA "Chest X-ray needs a pneumonia diagnosis"
          category medical_necessity
          citation "LCD example"
          for each line where line.procedure in {71045}
          require any line.diagnosis in {J18.9, E55.99}
          else deny line CO-50
        """)
    assert found(report) == [("error", "unknown-icd10", 5, 41)]


def test_a_rule_only_for_dates_outside_fy2026_is_not_checked_and_says_so(lint):
    report = lint(vitd_rule("E55.99", effective="effective 2015-10-01 through 2016-09-30"))
    assert found(report) == [("info", "icd10-not-checked", 1, 1)]
    problem = only(report, "icd10-not-checked")
    assert problem.message == (
        "value set vitd applies only to dates of service no ICD-10-CM code set of the pack covers "
        "(2015-10-01 through 2016-09-30), so its ICD-10-CM codes were not checked")
    assert problem.hint == ("import the code sets of those fiscal years: "
                            "rulesengine import icd10cm FILE --pack PACK")
    assert report.icd10_not_checked == [(date(2015, 10, 1), date(2016, 9, 30))]
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 0


@pytest.mark.parametrize("effective", ["", "effective 2020-01-01", "effective 2026-09-30",
                                       "effective 2024-01-01 through 2025-10-01"])
def test_a_rule_applying_to_any_date_in_fy2026_is_checked(lint, effective):
    assert found(lint(vitd_rule("E55.99", effective=effective))) == [("error", "unknown-icd10", 1, 24)]


def test_a_rule_starting_after_fy2026_is_not_checked(lint):
    assert found(lint(vitd_rule("E55.99", effective="effective 2026-10-01"))) == [
        ("info", "icd10-not-checked", 1, 1)]


def test_icd10_table_columns_are_checked_row_by_row_by_their_dates(lint):
    report = lint("""
        table dx_edits from "tables/dx.csv"
          columns code hcpcs, dx icd10, effective_date date, deletion_date date
          rows effective from effective_date through deletion_date

        rule MUE-DX "Units over the limit"
          category unit_limit
          citation "CMS MUE"
          for each line
          require units within dx_limits
          else deny line CO-151
        table dx_limits from "tables/mue.csv"
          columns code hcpcs, limit integer, adjudication integer
        """, tables={
        "tables/dx.csv": "code,dx,effective_date,deletion_date\n"
                         "82306,E55.9,20251001,*\n"
                         "82306,E55.99,20251001,*\n"
                         "82306,E55.99,20151001,20160930\n",
        "tables/mue.csv": "code,limit,adjudication\n82306,1,1\n"})
    assert found(report) == [
        ("warning", "unused-table", 1, 1),
        ("info", "icd10-not-checked", 1, 1),  # the 2015 row
        ("error", "unknown-icd10", 3, 7),
    ]
    assert only(report, "unknown-icd10").pos.file.endswith("dx.csv")


# ---- 2. CPT/HCPCS -----------------------------------------------------------------------------

def hcpcs_rule(set_text: str) -> str:
    return f"""
        valueset labs = hcpcs {{{set_text}}}

        rule PA-LABS "Lab tests need prior authorization"
          category prior_auth
          citation "provider manual"
          for each line where line.procedure in labs
          require claim.prior_authorization is present
          else deny line CO-197
        """


def test_well_formed_procedure_codes_ranges_and_patterns_are_fine(lint):
    report = lint(hcpcs_rule("82306, 80047..80076, 0001U..0020U, G0438, 9920*, G04*, 3074F, 0042T"))
    assert found(report) == []
    assert report.icd10_code_set is None  # no ICD-10-CM in the pack: the code set is not loaded


def test_a_range_across_code_families_is_an_error(lint):
    report = lint(hcpcs_rule("0001U..99999"))
    assert found(report) == [("error", "range-spans-families", 1, 24)]
    assert only(report, "range-spans-families").message.startswith(
        "0001U..99999 runs from CPT PLA codes (ending in U) to CPT Category I codes (5 digits)")


def test_a_range_across_hcpcs_level_two_letters_warns(lint):
    assert found(lint(hcpcs_rule("A0021..B9999"))) == [("warning", "range-spans-families", 1, 24)]


def test_codes_no_code_list_can_assign_warn(lint):
    report = lint(hcpcs_rule("F1234, 1234T"))
    assert found(report) == [("warning", "unassigned-hcpcs", 1, 24), ("warning", "unassigned-hcpcs", 1, 31)]
    hints = [p.diagnostic.hint for p in report.problems]
    assert hints == ["CPT Category II codes end in F: did you mean 1234F?", "they look like 0042T"]


def test_a_pattern_no_code_can_match_is_an_error(lint):
    assert found(lint(hcpcs_rule("AB*, 12A*"))) == [
        ("error", "impossible-pattern", 1, 24), ("error", "impossible-pattern", 1, 29)]


def test_procedure_table_cells_are_checked(lint):
    report = lint("""
        table mue from "tables/mue.csv"
          columns code hcpcs, limit integer, adjudication integer

        rule MUE "Units over the MUE"
          category unit_limit
          citation "CMS MUE"
          for each line
          require units within mue
          else deny line CO-151 N362
        """, tables={"tables/mue.csv": "code,limit,adjudication\n82306,1,1\nO0001,2,3\n"})
    assert found(report) == [("warning", "unassigned-hcpcs", 3, 1)]


# ---- 3. citations --------------------------------------------------------------------------------

def test_a_rule_without_a_citation_warns(lint):
    report = lint("""
        rule TF-90 "Claims must be received within 90 days"
          category filing_limit
          require claim.received_date <= claim.last_service_date + 90 days
          else deny claim CO-29

        rule TF-EMPTY "Claims must be received within 90 days"
          category filing_limit
          citation " "
          require claim.received_date <= claim.first_service_date + 90 days
          else deny claim CO-29

        rule TF-CITED "Claims must be received within a year"
          category filing_limit
          citation "42 CFR 424.44"
          require claim.received_date <= claim.first_service_date + 1 year
          else deny claim CO-29
        """)
    assert found(report, "missing-citation") == [("warning", "missing-citation", 1, 6),
                                                  ("warning", "missing-citation", 8, 12)]


# ---- 4. unused value sets and tables --------------------------------------------------------------

def test_unused_value_sets_and_tables_warn_and_used_ones_do_not(lint):
    report = lint(vitd_rule("E55.9") + """
        valueset spare = icd10 {J18.9}
        table spare_mue from "tables/mue.csv"
          columns code hcpcs, limit integer, adjudication integer
        """, tables={"tables/mue.csv": "code,limit,adjudication\n82306,1,1\n"})
    assert found(report) == [("warning", "unused-valueset", 11, 1), ("warning", "unused-table", 12, 1)]
    assert only(report, "unused-valueset").message == "value set spare is not used by any rule"


def test_a_set_a_frequency_rule_counts_is_used(lint):
    # 42 CFR 410.15: an AWV (G0439) not within 12 months of an IPPE or AWV
    report = lint("""
        valueset awv_and_ippe = hcpcs {G0402, G0438, G0439}

        rule FREQ-AWV "Subsequent annual wellness visit once per 12 months"
          category frequency
          citation "42 CFR 410.15"
          for each line where line.procedure in {G0439}
          require at most 1 per 12 months counting awv_and_ippe
          else deny line CO-119
        """)
    assert found(report, "unused-valueset") == []


def test_a_set_used_only_by_a_disabled_rule_is_unused_in_the_pack_that_disables_it():
    report = lint_pack(FIXTURES / "layered-child")
    assert found(report) == [("warning", "unused-valueset", 1, 1)]
    problem = only(report, "unused-valueset")
    assert problem.pos.file.endswith("layered-base/necessity.rules")
    assert problem.message == ("value set vitd_support is used only by rule MN-VITD of pack "
                               "layered-base, which pack layered-child disables")
    assert found(lint_pack(FIXTURES / "layered-base")) == []


def test_a_set_used_only_by_an_overridden_rule_is_unused(tmp_path):
    write_pack(tmp_path / "base", vitd_rule("E55.9"), meta="id: base\nversion: '1'\n")
    write_pack(tmp_path / "child", """
        override rule MN-VITD "Vitamin D testing needs E55.9"
          category medical_necessity
          citation "contract"
          for each line where line.procedure in {82306}
          require any line.diagnosis in {E55.9}
          else deny line CO-50
        """, meta="id: child\nversion: '1'\nextends: [base]\n")
    report = lint_pack(tmp_path / "child")
    assert only(report, "unused-valueset").message == (
        "value set vitd is used only by rule MN-VITD as pack base wrote it, which pack child overrides")


# ---- 5, 6, 7. rules against rules ------------------------------------------------------------------

def pa_rule(rule_id, *, action="deny line CO-197", require="claim.prior_authorization is present",
            where="line.procedure in {70551, 70553}", category="prior_auth", effective=""):
    return f"""
        rule {rule_id} "MRI of the brain needs prior authorization"
          category {category}
          citation "provider manual"
          {effective}
          for each line where {where}
          require {require}
          else {action}
        """


def test_same_requirement_different_severity_is_contradictory(lint):
    report = lint(pa_rule("PA-A") + pa_rule("PA-B", action="review line CO-197"))
    assert found(report) == [("warning", "contradictory-actions", 9, 6)]
    assert "PA-A says 'deny line CO-197', PA-B 'review line CO-197'" in report.problems[0].diagnostic.message


def test_same_requirement_different_carc_is_contradictory(lint):
    report = lint(pa_rule("PA-A") + pa_rule("PA-B", action="deny line CO-15"))
    assert found(report) == [("warning", "contradictory-actions", 9, 6)]


@pytest.mark.parametrize("change", [
    {"require": "line.prior_authorization is present"},  # another requirement
    {"where": "line.procedure in {72148}"},  # other lines
    {"effective": "effective 2026-01-01", "category": "coverage"},  # PA-A ends 2025-12-31
])
def test_different_actions_on_different_checks_are_fine(lint, change):
    first = pa_rule("PA-A", effective="effective 2025-01-01 through 2025-12-31", category="coverage")
    assert found(lint(first + pa_rule("PA-B", action="review line CO-15", **change))) == []


def test_an_identical_later_rule_is_shadowed(lint):
    report = lint(pa_rule("PA-A") + pa_rule("PA-B", action='deny line CO-197 "again"'))
    assert found(report) == [("warning", "shadowed-rule", 9, 6)]
    assert only(report, "shadowed-rule").message.startswith("rule PA-B repeats rule PA-A (line 1)")


def test_shadowing_compares_structure_not_spelling(lint):
    # a value set and an inline list of the same codes, and 'and' parts in another order
    report = lint("\n        valueset mri_brain = hcpcs {70553, 70551}\n" + pa_rule(
        "PA-A", require="claim.prior_authorization is present and claim.plan in {\"HMO\"}")
        + pa_rule("PA-B", where="line.procedure in mri_brain",
                  require="claim.plan in {\"HMO\"} and claim.prior_authorization is present"))
    assert found(report) == [("warning", "shadowed-rule", 11, 6)]


def test_a_rule_with_a_different_requirement_or_lines_is_not_shadowed(lint):
    report = lint(pa_rule("PA-A") + pa_rule("PA-B", require="line.prior_authorization is present")
                  + pa_rule("PA-C", where="line.procedure in {70551}"))
    assert found(report) == []


def test_overlapping_versions_of_one_rule_are_an_error(lint):
    report = lint("""
        valueset vitd_2025 = icd10 {E55.9, E55.0}
        valueset vitd_2026 = icd10 {E55.9}

        rule MN-VITD-2025 "Vitamin D testing needs a covered diagnosis"
          category medical_necessity
          citation "LCD L33996"
          effective 2024-11-28 through 2026-09-30
          for each line where line.procedure in {82306}
          require any line.diagnosis in vitd_2025
          else deny line CO-50 N115

        rule MN-VITD-2026 "Vitamin D testing needs a covered diagnosis"
          category medical_necessity
          citation "LCD L33996"
          effective 2026-09-01
          for each line where line.procedure in {82306}
          require any line.diagnosis in vitd_2026
          else deny line CO-50 N115
        """)
    assert found(report) == [("error", "overlapping-versions", 15, 13)]
    problem = only(report, "overlapping-versions")
    assert "both apply 2026-09-01 through 2026-09-30" in problem.message
    assert problem.hint == "end MN-VITD-2025 on 2026-08-31 or start MN-VITD-2026 on 2026-10-01"
    assert report.exit_code() == 1


def test_a_new_version_inside_an_open_ended_one_is_an_error(lint):
    report = lint(pa_rule("PA-OLD") + pa_rule(
        "PA-NEW", where="line.procedure in {70551, 70553}", effective="effective 2026-01-01",
        require="claim.prior_authorization is present and claim.plan in {\"HMO\"}"))
    assert found(report) == []  # another kind of requirement: not a version
    report = lint(pa_rule("PA-OLD", require='claim.plan in {"HMO", "EPO"}')
                  + pa_rule("PA-NEW", require='claim.plan in {"HMO"}', effective="effective 2026-01-01"))
    assert found(report) == [("error", "overlapping-versions", 12, 13)]
    problem = only(report, "overlapping-versions")
    assert problem.message.startswith("rules PA-OLD (on every date) and PA-NEW (from 2026-01-01) "
                                      "are versions of one check")
    assert problem.hint == "end PA-OLD on 2025-12-31"


def test_versions_one_after_the_other_are_fine(lint):
    report = lint(pa_rule("PA-2025", effective="effective 2025-01-01 through 2025-12-31")
                  + pa_rule("PA-2026", effective="effective 2026-01-01", action="deny line CO-15"))
    assert found(report) == []


def test_overlapping_windows_in_different_categories_are_not_versions(lint):
    report = lint(pa_rule("PA-A", effective="effective 2025-01-01 through 2026-06-30")
                  + pa_rule("PA-B", effective="effective 2026-01-01", category="coverage",
                            require="line.prior_authorization is present"))
    assert found(report) == []


# ---- the command ----------------------------------------------------------------------------------

@pytest.fixture
def run(monkeypatch):
    monkeypatch.chdir(ROOT)

    def invoke(*args):
        return CliRunner().invoke(main, ["lint", *args], catch_exceptions=False)
    return invoke


def test_text_output_shows_each_problem_with_its_line_caret_hint_and_a_summary(run):
    result = run("tests/fixtures/lint/problems")
    assert result.exit_code == 1
    assert result.output == (
        f"tests/fixtures/lint/problems/necessity.rules:1:39: error: unknown-icd10: E55.99 is not a "
        f"code in {CODE_SET}, and no billable code falls under it\n"
        "    1 | valueset vitd_support = icd10 {E55.9, E55.99}\n"
        "      |                                       ^\n"
        "  hint: the billable codes under E55 are E55.0, E55.9\n"
        "tests/fixtures/lint/problems/necessity.rules:3:6: warning: missing-citation: rule MN-VITD "
        "has no citation\n"
        '    3 | rule MN-VITD "Vitamin D testing needs a covered diagnosis"\n'
        "      |      ^\n"
        '  hint: name the policy it encodes, like: citation "LCD L33996, billing and coding article A56798"\n'
        f"lint lint-problems 2026.1: 1 error, 1 warning; ICD-10-CM codes checked against {CODE_SET}\n"
        "note: ICD-10-CM codes were not checked for dates of service from 2026-10-01: no code set "
        "of the pack covers them. Import the FY2027 code set from CMS's ICD-10-CM files with "
        "'rulesengine import icd10cm FILE --pack PACK' (docs/import-cms-files.md).\n")


def test_exit_codes_and_strict(run):
    assert run("tests/fixtures/lint/clean").exit_code == 0
    assert run("tests/fixtures/lint/problems").exit_code == 1
    assert run("tests/fixtures/lint/warnings-only").exit_code == 0
    assert run("tests/fixtures/lint/warnings-only", "--strict").exit_code == 1
    assert run("tests/fixtures/lint/clean", "--strict").exit_code == 0


def test_a_pack_that_does_not_load_exits_2_with_its_errors(run):
    try:  # click 8.1 mixes standard error into the output unless told not to
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2 and later always keep them apart
        runner = CliRunner()
    result = runner.invoke(main, ["lint", str(FIXTURES / "broken")])
    assert result.exit_code == 2
    assert "unknown-name: no value set named 'vitd_suport'" in result.stderr
    assert "did you mean" not in result.stdout and result.stdout == ""


def test_json_output(run):
    result = run("tests/fixtures/lint/problems", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["pack"]["id"] == "lint-problems" and data["pack"]["hash"].startswith("sha256:")
    assert data["icd10_code_set"] == CODE_SET
    # its rule is in force from 2025-10-01 on: FY2027 dates have no code set
    assert data["icd10_not_checked"] == [{"from": "2026-10-01", "through": None}]
    assert data["summary"] == {"errors": 1, "warnings": 1, "info": 0}
    first = data["problems"][0]
    assert first == {
        "file": "tests/fixtures/lint/problems/necessity.rules", "line": 1, "column": 39,
        "severity": "error", "code": "unknown-icd10",
        "message": f"E55.99 is not a code in {CODE_SET}, and no billable code falls under it",
        "hint": "the billable codes under E55 are E55.0, E55.9",
        "source_line": "valueset vitd_support = icd10 {E55.9, E55.99}"}
    assert [p["code"] for p in data["problems"]] == ["unknown-icd10", "missing-citation"]


@pytest.mark.parametrize("pack", ["medicare", "acme-commercial"])
def test_the_bundled_packs_lint_without_errors_or_warnings(run, pack):
    result = run(f"payer_rules/{pack}", "--strict")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"lint {pack} ") and " 0 errors, 0 warnings;" in result.output
