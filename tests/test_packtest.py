"""``rulesengine test``: a pack's own YAML tests, run as a compliance analyst and a CI job
run them, through click's CliRunner, on the fixture packs in fixtures/packtest."""

from __future__ import annotations

import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from rulesengine.cli import main
from rulesengine.packs.load import CompiledPack
from rulesengine.authoring.packtest.run import overlay, read_test_file
from rulesengine.engine.results import Result

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "packtest"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) errors)?$", re.MULTILINE)

DEFAULTS = """\
defaults:
  claim_type: professional
  received_date: 2026-07-20
  patient: {birth_date: 1950-04-02, sex: F}
  diagnoses: [E55.9]
  lines:
    - {line_number: 1, procedure: 82306, service_date: 2026-07-14}
"""


@pytest.fixture
def packs(tmp_path, monkeypatch):
    """The fixture packs copied into a fresh folder, which is the working folder (so paths
    print as clinic/tests/x.yaml); returns that folder."""
    for item in FIXTURES.iterdir():
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy(item, tmp_path / item.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, ["test", *args], catch_exceptions=False)


def write_test(folder: Path, name: str, text: str, defaults: bool = True) -> Path:
    """A test file in the clinic pack: DEFAULTS (a claim with 82306 for E55.9) and ``text``."""
    path = folder / "clinic" / "tests" / name
    path.write_text((DEFAULTS if defaults else "") + textwrap.dedent(text), encoding="utf-8")
    return path


def summary(output: str) -> tuple[int, int, int]:
    found = SUMMARY.findall(output)
    assert len(found) == 1, output
    passed, failed, errors = found[0]
    return int(passed), int(failed), int(errors or 0)


# ---- passing, coverage ------------------------------------------------------------------------

def test_a_passing_pack_prints_the_summary_and_the_rule_no_test_fired(packs):
    result = run("clinic")
    assert result.exit_code == 0
    assert result.output == (
        "3 passed, 0 failed\n"
        "rule coverage: clinic 2 of 3 rules fired\n"
        "rules no test fired:\n"
        "  clinic  MRI-AUTH  clinic/rules.rules:16\n")


def test_require_coverage_fails_the_run_until_every_rule_is_fired(packs):
    result = run("clinic", "--require-coverage")
    assert result.exit_code == 1
    assert summary(result.output) == (3, 0, 0)
    assert "FAILED --require-coverage: 1 rule is not fired by any test" in result.output

    write_test(packs, "auth.yaml", """\
        tests:
          - name: brain MRI without authorization
            claim:
              diagnoses: [G43.909]
              lines: [{line_number: 1, procedure: 70552, service_date: 2026-07-14}]
            expect:
              - {rule: MRI-AUTH, line: 1, carc: CO-197, rarc: [M62], severity: review}
        """)
    result = run("clinic", "--require-coverage")
    assert result.exit_code == 0
    assert result.output == "4 passed, 0 failed\nrule coverage: clinic 3 of 3 rules fired\n"


def test_verbose_lists_every_test_with_its_file_and_line(packs):
    result = run("clinic", "-v")
    assert result.output.splitlines()[:4] == [
        "pack clinic 1.0 (clinic): 3 tests",
        "PASSED clinic/tests/passing.yaml:10: a covered diagnosis",
        "PASSED clinic/tests/passing.yaml:13: a screening diagnosis",
        "PASSED clinic/tests/passing.yaml:18: late and unsupported",
    ]


def test_a_pack_that_extends_another_runs_layered_and_covers_its_own_rules(packs):
    # clinic-plus's tests fire clinic's VITD too; its coverage counts the rules it
    # defines or overrides (FILING, SEX-59400), and the override is what its tests see
    result = run("clinic-plus", "clinic", "--require-coverage")
    assert result.exit_code == 1  # clinic's MRI-AUTH is still not covered
    assert "rule coverage: clinic-plus 2 of 2 rules fired, clinic 2 of 3 rules fired" in result.output
    assert "  clinic  MRI-AUTH  clinic/rules.rules:16" in result.output
    assert summary(result.output) == (6, 0, 0)


# ---- failing ------------------------------------------------------------------------------------

def test_a_failing_test_shows_what_was_missing_and_what_was_unexpected(packs):
    write_test(packs, "wrong.yaml", """\
        tests:
          - name: late by a day
            claim: {received_date: 2026-10-13, diagnoses: [Z13.21]}
            expect:
              - {rule: FILING, line: 1, carc: CO-29}
              - {rule: VITD, line: 1, carc: CO-50, rarc: [N115]}
          - name: screening is clean
            claim: {diagnoses: [Z13.21]}
            expect: clean
          - name: the deficiency is denied
            expect:
              - {rule: VITD, line: 1, carc: CO-50, message: not supported}
        """)
    result = run("clinic")
    assert result.exit_code == 1
    assert result.output.split("3 passed")[0] == (
        "FAILED clinic/tests/wrong.yaml:9: late by a day\n"
        "    - missing     FILING  line 1  CO-29\n"
        "    + unexpected  FILING  claim  deny CO-29: received 2026-10-13, more than 90 days after 2026-07-14\n"
        "FAILED clinic/tests/wrong.yaml:14: screening is clean\n"
        "    + unexpected  VITD  line 1  deny CO-50 N115: 82306 is not supported by Z13.21\n"
        "FAILED clinic/tests/wrong.yaml:17: the deficiency is denied\n"
        "    - missing     VITD  line 1  CO-50, message containing \"not supported\"\n"
        "      (the claim came out clean)\n")
    assert summary(result.output) == (3, 3, 0)


def test_a_finding_that_differs_only_in_an_extra_is_shown_as_differing(packs):
    write_test(packs, "extras.yaml", """\
        tests:
          - name: wrong RARC, group and message
            claim: {diagnoses: [Z13.21]}
            expect:
              - {rule: VITD, line: 1, carc: 50, group: PR, rarc: [N130], message: screening}
        """)
    result = run("clinic")
    assert (
        "FAILED clinic/tests/extras.yaml:9: wrong RARC, group and message\n"
        "    ~ differs     VITD  line 1  deny CO-50 N115: 82306 is not supported by Z13.21\n"
        "                  group CO, expected PR; RARC N115, expected N130; "
        "message does not contain \"screening\"\n") in result.output
    assert result.exit_code == 1


def test_findings_compare_as_a_multiset_in_any_order(packs):
    write_test(packs, "multiset.yaml", """\
        tests:
          - name: order does not matter
            claim: {received_date: 2026-10-13, diagnoses: [Z13.21]}
            expect:
              - {rule: VITD, line: 1, carc: CO-50}
              - {rule: FILING, line: claim, carc: CO-29}
          - name: one finding cannot meet two expectations
            claim: {diagnoses: [Z13.21]}
            expect:
              - {rule: VITD, line: 1, carc: CO-50}
              - {rule: VITD, line: 1, carc: CO-50}
          - name: two lines, two findings
            claim:
              diagnoses: [Z13.21]
              lines:
                - {line_number: 1, procedure: 82306, service_date: 2026-07-14}
                - {line_number: 2, procedure: 82306, service_date: 2026-07-15}
            expect:
              - {rule: VITD, line: 2, carc: CO-50}
              - {rule: VITD, line: 1, carc: CO-50}
        """)
    result = run("clinic")
    assert summary(result.output) == (5, 1, 0)
    assert ("FAILED clinic/tests/multiset.yaml:14: one finding cannot meet two expectations\n"
            "    - missing     VITD  line 1  CO-50\n") in result.output


# ---- broken test files ----------------------------------------------------------------------------

def test_broken_yaml_is_an_error_with_file_line_and_column(packs):
    write_test(packs, "broken.yaml", """\
        tests:
          - name: unclosed
            claim: {diagnoses: [E55.9}
            expect: clean
        """, defaults=False)
    result = run("clinic")
    assert result.exit_code == 2
    first = result.output.splitlines()[0]
    assert first.startswith("ERROR clinic/tests/broken.yaml:3:")
    assert "bad-yaml: not valid YAML" in first
    assert summary(result.output) == (3, 0, 1)  # the other files still run


def test_mistakes_in_a_test_are_reported_by_field_and_the_other_tests_still_run(packs):
    write_test(packs, "mistakes.yaml", """\
        tests:
          - name: misspelt keys
            claim: {recieved_date: 2026-07-30}
            expected: clean
          - name: bad codes
            expect:
              - {rule: VTID, line: 1, carc: CO-5O}
              - {rule: VTID, line: 1, carc: CO-50, rarc: [X1]}
          - name: bad claim
            claim:
              lines: [{line_number: 1, procedure: 82306, service_date: 2026-09-31}]
            expect: clean
          - name: a line the claim does not have
            expect: [{rule: VITD, line: 2, carc: CO-50}]
          - name: still runs
            expect: clean
        """)
    result = run("clinic")
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert errors == [
        "ERROR clinic/tests/mistakes.yaml:9:5: bad-test: test 'misspelt keys': the test has no expect:",
        ("ERROR clinic/tests/mistakes.yaml:10:13: unknown-field: test 'misspelt keys': "
         "recieved_date: a claim has no field 'recieved_date'"),
        ("ERROR clinic/tests/mistakes.yaml:11:5: bad-test: test 'misspelt keys': "
         "expected: a test has no field 'expected'"),
        "ERROR clinic/tests/mistakes.yaml:14:37: bad-test: test 'bad codes': carc: 'CO-5O' is not a CARC",
        "ERROR clinic/tests/mistakes.yaml:15:50: bad-test: test 'bad codes': rarc: 'X1' is not a RARC",
        ("ERROR clinic/tests/mistakes.yaml:18:64: bad-claim: test 'bad claim': "
         "$.lines[0].service_date: '2026-09-31' is not a valid date"),
        ("ERROR clinic/tests/mistakes.yaml:21:33: bad-test: test 'a line the claim does not have': "
         "line: the claim has no line 2"),
    ]
    assert "  hint: did you mean 'received_date'?" in result.output
    assert "  hint: did you mean 'expect'?" in result.output
    assert summary(result.output) == (4, 0, 7)
    assert result.exit_code == 2


def test_an_unknown_rule_id_is_an_error_with_a_suggestion(packs):
    write_test(packs, "rule.yaml", """\
        tests:
          - name: a typo in the rule id
            claim: {diagnoses: [Z13.21]}
            expect: [{rule: VTID, line: 1, carc: CO-50}]
        """)
    result = run("clinic")
    assert ("ERROR clinic/tests/rule.yaml:11:21: unknown-rule: test 'a typo in the rule id': "
            "rule: pack clinic has no rule VTID\n") in result.output
    assert "  hint: did you mean 'VITD'?" in result.output
    assert result.exit_code == 2


def test_the_error_shows_the_line_and_a_caret(packs):
    write_test(packs, "caret.yaml", """\
        tests:
          - name: caret
            expect: [{rule: VITD, line: first, carc: CO-50}]
        """)
    out = run("clinic").output
    assert (
        "ERROR clinic/tests/caret.yaml:10:33: bad-test: test 'caret': line: 'first' is neither a line number nor claim\n"
        "   10 |     expect: [{rule: VITD, line: first, carc: CO-50}]\n"
        "      |                                 ^\n"
        "  hint: write line: 2 for a finding on line 2, line: claim for one on the claim\n") in out


def test_file_level_problems(packs):
    write_test(packs, "empty.yaml", "", defaults=False)
    write_test(packs, "no_tests.yaml", "")
    write_test(packs, "twice.yaml", """\
        tests:
          - {name: same, expect: clean}
          - {name: same, expect: clean}
        """)
    out = run("clinic").output
    assert "ERROR clinic/tests/empty.yaml:1:1: bad-test: the test file is empty" in out
    assert "ERROR clinic/tests/no_tests.yaml:1:1: bad-test: the file has no tests:" in out
    assert ("ERROR clinic/tests/twice.yaml:10:12: bad-test: name: another test in this file is named "
            "'same' (line 9)") in out


def test_yaml_anchors_and_merge_keys_repeat_a_claim_but_cannot_explode(packs):
    write_test(packs, "anchors.yaml", """\
        tests:
          - name: a named claim
            claim: &screening {diagnoses: [Z13.21]}
            expect: [{rule: VITD, line: 1, carc: CO-50}]
          - name: the same claim, received late
            claim:
              <<: *screening
              received_date: 2026-12-01
            expect: [{rule: VITD, line: 1, carc: CO-50}, {rule: FILING, line: claim, carc: CO-29}]
        """)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    write_test(packs, "laughs.yaml", "\n".join(lines) + "\ntests: *a7\n", defaults=False)
    out = run("clinic").output
    assert "ERROR clinic/tests/laughs.yaml:1:1: bad-yaml: the file's aliases expand too far" in out
    assert summary(out) == (5, 0, 1)


def test_a_broken_pack_is_reported_and_exits_2(packs):
    (packs / "clinic" / "rules.rules").write_text("rule X \"x\"\n  category nonsense\n  require\n")
    result = run("clinic")
    assert result.exit_code == 2
    assert result.output.startswith("ERROR clinic/rules.rules:")
    assert summary(result.output) == (0, 0, 1)


def test_a_pack_without_tests_is_an_error(packs):
    shutil.rmtree(packs / "clinic" / "tests")
    result = run("clinic")
    assert result.exit_code == 2
    assert "ERROR clinic/tests:1:1: no-tests: pack clinic has no test files" in result.output


# ---- claims --------------------------------------------------------------------------------------

def test_a_claim_from_a_file_picked_by_id_with_changes_laid_over_it(packs):
    write_test(packs, "from_file.yaml", """\
        tests:
          - name: screening, from the file
            claim_file: ../../claims.json
            claim_id: SCREENING
            expect: [{rule: VITD, line: 1, carc: CO-50, message: Z13.21}]
          - name: the deficiency claim, received late
            claim_file: ../../claims.json
            claim_id: DEFICIENCY
            claim: {received_date: 2026-12-01}
            expect: [{rule: FILING, line: claim, carc: CO-29}]
          - name: a wrong id
            claim_file: ../../claims.json
            claim_id: SCREENNG
            expect: clean
          - name: no id
            claim_file: ../../claims.json
            expect: clean
          - name: no file
            claim_file: ../../nothing.json
            expect: clean
        """, defaults=False)
    out = run("clinic").output
    assert summary(out) == (5, 0, 3)
    assert ("ERROR clinic/tests/from_file.yaml:13:15: bad-test: test 'a wrong id': claim_id: "
            "../../claims.json has no claim 'SCREENNG'") in out
    assert "  hint: did you mean 'SCREENING'?" in out
    assert "bad-test: test 'no id': claim_file: ../../claims.json holds 2 claims" in out
    assert "  hint: say which with claim_id: SCREENING" in out
    assert "missing-file: test 'no file': claim_file: cannot read ../../nothing.json: no such file" in out


def test_defaults_are_deep_merged_and_lists_replaced():
    base = {"patient": {"birth_date": "1950-04-02", "sex": "F"}, "diagnoses": ["E55.9", "I10"],
            "lines": [{"line_number": 1}, {"line_number": 2}]}
    changed = overlay(base, {"patient": {"sex": "M"}, "diagnoses": ["Z13.21"], "received_date": None})
    assert changed == {"patient": {"birth_date": "1950-04-02", "sex": "M"}, "diagnoses": ["Z13.21"],
                       "lines": [{"line_number": 1}, {"line_number": 2}], "received_date": None}
    assert base["patient"]["sex"] == "F"  # the defaults are not changed


def test_codes_are_read_as_written_and_the_test_name_is_the_claim_id(tmp_path):
    # unquoted, YAML would read 0450 as the octal number 296 and 59 as a number
    path = tmp_path / "codes.yaml"
    path.write_text(textwrap.dedent("""\
        tests:
          - name: codes as written
            claim:
              claim_type: institutional
              received_date: 2026-07-20
              place_of_service: 02
              patient: {birth_date: 1950-04-02, sex: F}
              diagnoses: [E55.9]
              lines:
                - {line_number: 1, revenue_code: 0450, procedure: 99283, modifiers: [25], units: 2,
                   service_date: 2026-07-14}
            expect: clean
        """))
    cases, problems, _ = read_test_file(path, "codes.yaml", {})
    assert problems == [] and cases[0].problems == []
    claim = cases[0].claim
    assert claim.claim_id == "codes as written"
    assert (claim.place_of_service, claim.lines[0].revenue_code, claim.lines[0].modifiers,
            claim.lines[0].units) == ("02", "0450", ("25",), 2)


# ---- both evaluators ---------------------------------------------------------------------------

def test_a_disagreement_between_the_evaluators_is_a_failure(packs, monkeypatch):
    def forgetful(self, claim):  # a reference interpreter that never finds anything
        return Result(claim.claim_id, self.info, ())
    monkeypatch.setattr(CompiledPack, "check_reference", forgetful)
    result = run("clinic")
    assert result.exit_code == 1
    assert result.output.startswith(
        "FAILED clinic/tests/passing.yaml:13: a screening diagnosis\n"
        "    the compiled evaluator and the reference interpreter disagree (an engine bug):\n"
        "    compiled only   VITD  line 1  deny CO-50 N115: 82306 is not supported by Z13.21\n")
    assert summary(result.output) == (1, 2, 0)  # the clean test agrees, and passes


def test_an_evaluator_that_crashes_fails_the_test(packs, monkeypatch):
    def broken(self, claim):
        raise KeyError("vitd_support")
    monkeypatch.setattr(CompiledPack, "check_reference", broken)
    result = run("clinic")
    assert "    the reference interpreter failed (an engine bug): KeyError: 'vitd_support'" in result.output
    assert summary(result.output) == (0, 3, 0)


# ---- JUnit XML ---------------------------------------------------------------------------------

def test_junit_xml_has_a_suite_per_pack_and_a_case_per_test(packs):
    write_test(packs, "wrong.yaml", """\
        tests:
          - name: screening is clean
            claim: {diagnoses: [Z13.21]}
            expect: clean
          - name: broken
            expect: [{rule: VITD, line: 1, carc: nope}]
        """)
    (packs / "out").mkdir()
    result = run("clinic", "clinic-plus", "--junit", "out/report.xml", "--require-coverage")
    assert result.exit_code == 2
    root = ET.parse(packs / "out" / "report.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("10", "2", "1")
    clinic, plus = root.findall("testsuite")
    assert (clinic.get("name"), clinic.get("tests"), clinic.get("failures"), clinic.get("errors")) == \
        ("clinic", "6", "2", "1")
    cases = {c.get("name"): c for c in clinic.findall("testcase")}
    failed = cases["screening is clean"]
    assert failed.get("file") == "clinic/tests/wrong.yaml" and failed.get("line") == "9"
    assert failed.find("failure").get("message").startswith("+ unexpected  VITD  line 1")
    assert "carc: 'nope' is not a CARC" in cases["broken"].find("error").get("message")
    assert "MRI-AUTH  clinic/rules.rules:16" in cases["rule coverage"].find("failure").text
    assert cases["a covered diagnosis"].find("failure") is None
    assert plus.get("failures") == "0" and len(plus.findall("testcase")) == 4
    assert sorted(p.name for p in (packs / "out").iterdir()) == ["report.xml"]  # no temp file left


def test_junit_into_a_missing_folder_is_a_usage_error(packs):
    result = run("clinic", "--junit", "nowhere/report.xml")
    assert result.exit_code == 2
    assert "no such folder nowhere" in result.output


# ---- the bundled packs -------------------------------------------------------------------------

def test_the_bundled_packs_tests_pass_with_full_rule_coverage(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("payer_rules/medicare", "payer_rules/acme-commercial", "--require-coverage")
    assert result.exit_code == 0, result.output
    passed, failed, errors = summary(result.output)
    assert passed >= 120 and failed == errors == 0
    assert result.output.splitlines()[-1] == (
        "rule coverage: medicare 18 of 18 rules fired, acme-commercial 4 of 4 rules fired")


def test_the_bundled_tests_check_both_evaluators_and_catch_a_changed_rule(tmp_path, monkeypatch):
    # the one-year limit made a day longer: the boundary tests must notice
    shutil.copytree(ROOT / "payer_rules" / "medicare", tmp_path / "medicare")
    rules = tmp_path / "medicare" / "filing.rules"
    rules.write_text(rules.read_text().replace("line.service_date + 1 year", "line.service_date + 366 days"))
    for example in (tmp_path / "medicare" / "tests").glob("examples.yaml"):
        example.unlink()  # its claim files are outside this copy
    monkeypatch.chdir(tmp_path)
    result = run("medicare")
    assert result.exit_code == 1
    assert ("FAILED medicare/tests/filing.yaml:25: received one year and one day after the date "
            "of service is late\n"
            "    - missing     TF-PROFESSIONAL  line 1  deny CO-29 N211, message containing \"received "
            "2026-07-15, more than one year after the date of service 2025-07-14\"\n"
            "      (the claim came out clean)\n") in result.output
    assert "FAILED medicare/tests/filing.yaml:43: a service on February 29 is late on March 1" in result.output
