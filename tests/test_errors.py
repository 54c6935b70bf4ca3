"""What an analyst sees when a pack is wrong: exact error text, checked against golden files.

Each ``tests/golden/errors/NAME.rules`` is loaded as the only rule file of a pack (with the
folder's ``tables/``), from inside the pack folder so paths read ``NAME.rules:3:5``; the
rendered ``PackError`` must equal ``NAME.error`` exactly. Every golden was checked by hand:
the message reads plainly and the caret sits under the mistake. ``REGENERATE=1 pytest
tests/test_errors.py`` rewrites the goldens (not those of known bugs, which hold the text we
want); read the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import rulesengine
from corpus import write_pack

GOLDEN = Path(__file__).parent / "golden" / "errors"

#: goldens holding the text we want, which the engine does not produce yet (none today)
KNOWN_BUGS: dict[str, str] = {}


def _cases():
    for rules in sorted(GOLDEN.glob("*.rules")):
        name = rules.stem
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])] if name in KNOWN_BUGS else []
        yield pytest.param(name, marks=marks, id=name)


def render_errors(rules_file: Path, workdir: Path, monkeypatch) -> str:
    """Load ``rules_file`` as a pack's only rule file and return the rendered PackError."""
    pack = workdir / "pack"
    shutil.copytree(GOLDEN / "tables", pack / "tables")
    write_pack(pack, {rules_file.name: rules_file.read_text(encoding="utf-8")})
    monkeypatch.chdir(pack)
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(".")
    return caught.value.render() + "\n"


def test_every_golden_has_its_error_text():
    rules = {p.stem for p in GOLDEN.glob("*.rules")}
    errors = {p.stem for p in GOLDEN.glob("*.error")}
    assert rules == errors
    assert len(rules) >= 20


@pytest.mark.parametrize("name", list(_cases()))
def test_golden_error_text(name, tmp_path, monkeypatch):
    rendered = render_errors(GOLDEN / f"{name}.rules", tmp_path, monkeypatch)
    golden = GOLDEN / f"{name}.error"
    if os.environ.get("REGENERATE") and name not in KNOWN_BUGS:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


# ---- the structure behind the text -------------------------------------------------------------

def _problems(make_pack, rules, tables=None):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(rules, tables)
    return caught.value.diagnostics


@pytest.mark.parametrize("rules, code, line, column, hint", [
    ('rule R1 "t" category unit_limit for each line require line.unit <= 1 else deny line CO-151',
     "unknown-field", 1, 55, "did you mean 'line.units'"),
    ('valueset vitd_support = icd10 {E55.*}\n'
     'rule R1 "t" category medical_necessity for each line\n'
     '  require any line.diagnosis in vitd_suport else deny line CO-50',
     "unknown-name", 3, 33, "did you mean 'vitd_support'?"),
    ('rule R1 "t" category medical_neccessity require claim.line_count < 9 else deny claim CO-16',
     "unknown-category", 1, 22, "did you mean 'medical_necessity'?"),
    ('rule R1 "t" category coverage require claim.line_count < 9 else deny claim XX-16',
     "bad-group-code", 1, 76, "group codes: CO, PR, OA, PI, CR"),
    ('rule R1 "t" category prior_auth for each line where line.procedure in {15820-15823}\n'
     '  require claim.prior_authorization is present else deny line CO-197',
     "syntax", 1, 77, "a range of codes is written with two dots, like 15820..15823"),
    ('rule R1 "t" category prior_auth for each line where line.procedure in 15820-15823\n'
     '  require claim.prior_authorization is present else deny line CO-197',
     "syntax", 1, 76, "a range of codes is written with two dots, like 15820..15823"),
])
def test_diagnostics_carry_code_position_message_and_hint(make_pack, rules, code, line, column, hint):
    (problem,) = _problems(make_pack, rules)
    assert problem.code == code
    assert (problem.pos.line, problem.pos.column) == (line, column)
    assert problem.pos.file.endswith("main.rules")
    assert problem.message
    assert hint in problem.hint


def test_several_problems_are_reported_together_sorted_by_file_and_line(make_pack):
    files = {
        "b_rules.rules": """
            valueset chest_xray_support = icd10 {J18.*, R5.09}
            rule MN-CXR "Chest X-ray" category medical_necesity
              for each line where line.procedure in 71045..71048
              require any line.diagnosis in chest_xray_suport
              else deny line XX-50
        """,
        "a_rules.rules": """
            rule TF-90 "Filing" category filing_limit
              require claim.received_date <= 90
              else deny claim CO-29
            rule TF-90 "Filing again" category filing_limit
              require line.units < 2
              else deny claim CO-29
        """,
    }
    problems = _problems(make_pack, files)
    found = [(Path(p.pos.file).name, p.pos.line, p.code) for p in problems]
    assert found == [
        ("a_rules.rules", 2, "type-mismatch"),
        ("a_rules.rules", 4, "duplicate-rule"),
        ("b_rules.rules", 1, "bad-code"),
        ("b_rules.rules", 2, "unknown-category"),
        ("b_rules.rules", 4, "unknown-name"),
        ("b_rules.rules", 5, "bad-group-code"),
    ]


def test_a_syntax_error_in_each_file_is_reported_for_each_file(make_pack):
    # checking stops after syntax errors (a file that does not parse defines nothing, so
    # its names would be reported unknown elsewhere), but every file is parsed
    problems = _problems(make_pack, {
        "b.rules": 'rule PA-IMG "Imaging" category prior_auth\n  require claim.line_count < 9\n'
                   "  else deny claim 197\n",
        "a.rules": 'valueset vitd = icd10 {E55.*}\nrule mn-vitd "t"\n',
        "c.rules": 'rule OK "fine" category coverage\n  require any claim.diagnosis in vitd_typo\n'
                   "  else deny claim CO-50\n",
    })
    assert [(Path(p.pos.file).name, p.pos.line, p.pos.column, p.code) for p in problems] == [
        ("a.rules", 2, 6, "syntax"), ("b.rules", 3, 19, "syntax")]


def test_the_rendered_report_lists_every_problem_in_order_and_counts_them(make_pack):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack("""
            rule R1 "t" category coverage for each line require line.unit < 2 else deny line XX-50
            rule R2 "t" category coverag require claim.line_count < 9 else deny claim CO-16
        """)
    text = caught.value.render()
    heads = [line for line in text.splitlines() if ": " in line and line.split(":")[0].endswith(".rules")]
    assert [h.split(": ")[1] for h in heads] == ["unknown-field", "bad-group-code", "unknown-category"]
    assert text.endswith("3 problems found")
    assert str(caught.value) == text


def test_a_flood_of_problems_is_capped_and_counted(make_pack):
    rules = "".join(f'rule R{i} "t" category nonsense require claim.line_count < 9 else deny claim CO-16\n'
                    for i in range(60))
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(rules)
    assert len(caught.value.diagnostics) == 60
    text = caught.value.render()
    assert text.count("unknown-category") == 50
    assert text.endswith("... and 10 more problems\n60 problems found")


def test_a_bad_table_row_points_into_the_csv(make_pack):
    problems = _problems(make_pack, """
        table mue from "tables/mue.csv" columns code hcpcs, limit integer, adjudication integer
    """, {"tables/mue.csv": "code,limit,adjudication\n82306,1,3\n8230,1,3\n36415,one,1\n"})
    assert [(Path(p.pos.file).name, p.pos.line, p.code) for p in problems] == [
        ("mue.csv", 3, "bad-row"), ("mue.csv", 4, "bad-row")]
    assert "8230" in problems[0].message


def test_a_pack_without_pack_yaml(tmp_path):
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(tmp_path)
    assert [p.code for p in caught.value.diagnostics] == ["missing-file"]


def test_a_fractional_date_shift_is_an_error(make_pack):
    (problem,) = _problems(make_pack, """
        rule TF "t" category filing_limit
          require claim.received_date <= claim.last_service_date + 1.5 months
          else deny claim CO-29
    """)
    assert problem.code == "bad-number"
    assert (problem.pos.line, problem.pos.column) == (2, 34)


@pytest.mark.parametrize("pattern, column", [("J1*", 36), ("J*", 36), ("E5.*", 36)])
def test_an_icd10_pattern_must_name_at_least_a_category(make_pack, pattern, column):
    # a shorter stem would mean one thing as a hierarchy and another as a prefix
    (problem,) = _problems(make_pack, f"valueset pneumonia = icd10 {{J18.9, {pattern}}}")
    assert problem.code == "bad-code"
    assert (problem.pos.line, problem.pos.column) == (1, column)


@pytest.mark.parametrize("shifted", ["2026-01-01 + 99999 years", "2026-01-01 - 3000 years",
                                     "claim.last_service_date + 8000 years"])
def test_a_date_shifted_off_the_calendar_is_a_pack_error(make_pack, shifted):
    (problem,) = _problems(make_pack, f"""
        rule TF "t" category filing_limit
          require claim.received_date <= {shifted}
          else deny claim CO-29
    """)
    assert problem.code == "bad-number" and "beyond any filing limit or age" in problem.message
    assert problem.hint == "dates move by at most 200 years"


@pytest.mark.parametrize("require, code, hint", [
    # sex is F, M or U: lower case never matches
    ('patient.sex = "f"', "impossible-value", 'did you mean "F"?'),
    # a misspelt claim type: always true
    ('claim.type != "proffesional"', "impossible-value", "did you mean 'professional'?"),
    # not a CPT/HCPCS shape: never matches
    ('line.procedure = "8230"', "bad-code", None),
])
def test_a_literal_the_field_can_never_hold_is_an_error(make_pack, require, code, hint):
    (problem,) = _problems(make_pack, f"""
        rule R1 "t" category coverage
          for each line
          require {require}
          else deny line CO-7
    """)
    assert problem.code == code
    assert problem.hint == hint


def test_a_bad_date_cell_names_its_column_and_points_at_the_cell(make_pack):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack("""
            table mue from "tables/mue.csv"
              columns code hcpcs, limit integer, effective_date date, deletion_date date
              rows effective from effective_date through deletion_date
        """, {"tables/mue.csv": "code,limit,effective_date,deletion_date\n0009U,2,20260701,-\n"})
    [problem] = caught.value.diagnostics
    assert (Path(problem.pos.file).name, problem.pos.line, problem.pos.column) == ("mue.csv", 2, 18)
    assert problem.message == "row does not fit table mue: column deletion_date (date): '-' is not a date"
    assert problem.hint == "a date is written 2026-07-01 or 20260701; '*' or an empty cell means no date"
    text = caught.value.render()
    assert "Invalid isoformat" not in text
    assert "    2 | 0009U,2,20260701,-\n      |                  ^" in text  # the caret under the '-'
