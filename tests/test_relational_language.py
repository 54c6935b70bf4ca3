"""The relational constructs of the language: how they parse, and the positioned errors with
hints an analyst gets when one is written wrong."""

from __future__ import annotations

import textwrap

import pytest

from corpus import load_pack_from
from rulesengine import PackError
from rulesengine.language import ast
from rulesengine.language.syntax import parse

TABLES = '''
table mpfs from "tables/mpfs.csv"
  columns hcpcs hcpcs, global_days text, bilateral integer
table aoc from "tables/aoc.csv"
  columns addon hcpcs, primary hcpcs
'''
FILES = {"tables/mpfs.csv": "hcpcs,global_days,bilateral\n11042,000,0\n",
         "tables/aoc.csv": "addon,primary\n11045,11042\n"}


def rule(require: str, scope: str = "for each line") -> str:
    return TABLES + f'rule R1 "t"\n  category bundling\n  {scope}\n  require {require}\n  else deny line CO-97\n'


def parsed(require: str) -> ast.Rule:
    tree, problems = parse(textwrap.dedent(rule(require)).lstrip(), "test.rules")
    assert problems == [], problems[0].render()
    return tree.rules[0]


def problem(tmp_path, require: str, scope: str = "for each line"):
    with pytest.raises(PackError) as raised:
        load_pack_from(tmp_path / "p", rule(require, scope).replace("deny line", "deny line" if "line" in scope
                                                                    else "deny claim"), FILES)
    return raised.value.diagnostics


# ---- what parses to what -----------------------------------------------------------------------

def test_a_quantifier_over_other_lines_takes_the_rest_of_the_condition():
    cond = parsed("any line.modifier in {25} or no other line where other.service_date = line.service_date "
                  "and other.procedure in aoc[line.procedure].primary").check.condition
    assert isinstance(cond, ast.AnyOf)
    quantifier = cond.items[1]
    assert isinstance(quantifier, ast.LineQuantifier) and quantifier.quantifier == "no"
    assert quantifier.scope == "other" and isinstance(quantifier.condition, ast.AllOf)
    lookup = quantifier.condition.items[1].set
    assert isinstance(lookup, ast.Lookup) and (lookup.table, lookup.column) == ("aoc", "primary")
    assert lookup.key.path == "line.procedure"
    # "  require " is columns 1-10 and "any line.modifier in {25} or " 11-39
    assert (quantifier.pos.line, quantifier.pos.column) == (8, 40)


def test_a_quantifier_ends_a_condition_unless_it_is_in_parentheses():
    cond = parsed("(any earlier line where earlier.procedure in {27447}) and line.units = 1").check.condition
    assert isinstance(cond, ast.AllOf)
    assert isinstance(cond.items[0], ast.LineQuantifier) and cond.items[0].scope == "earlier"


def test_aggregates_arithmetic_windows_and_only_codes():
    cond = parsed("line.units + sum of other.units where (other.procedure = line.procedure) <= 4 "
                  "and count of earlier lines where (earlier.service_date is 0 to 11 calendar months "
                  "before line.service_date) < 2 and line.first_diagnosis not in {E11 only}").check.condition
    total, count, first = cond.items
    assert isinstance(total.left, ast.Arithmetic) and total.left.op == "+"
    aggregate = total.left.right
    assert (aggregate.function, aggregate.scope, aggregate.field.path) == ("sum", "other", "other.units")
    window = count.left.condition
    assert isinstance(window, ast.DateWindow)
    assert (window.low, window.high, window.unit, window.direction) == (0, 11, "calendar months", "before")
    assert first.set.items[0].exact and first.set.items[0].text == "E11"


def test_checks_across_claims():
    tree, problems = parse('rule R "t"\n  category bundling\n  for each line\n'
                           '  require not bundled per ncci bypass modifiers {59} across claims\n'
                           '  else deny line CO-97\n', "test.rules")
    assert problems == [] and tree.rules[0].check.across_claims


def test_new_words_are_reserved():
    for word in ("other", "earlier", "count", "sum", "of", "to", "after", "before", "calendar",
                 "across", "only", "lines", "claims"):
        _, problems = parse(f"valueset {word} = hcpcs {{82306}}", "test.rules")
        assert problems and f"'{word}' is a word of the rule language" in (problems[0].hint or ""), word


# ---- positioned errors with hints ------------------------------------------------------------------

def test_a_field_of_another_line_outside_a_quantifier(tmp_path):
    [found] = problem(tmp_path, "other.units = 1")
    assert found.code == "scope-field-outside"
    assert (found.pos.line, found.pos.column) == (8, 11)
    assert "other.units is a field of the other line a quantifier meets" in found.message
    assert "any other line where other.units" in found.hint


def test_an_earlier_field_inside_a_quantifier_over_other_lines(tmp_path):
    [found] = problem(tmp_path, "any other line where earlier.procedure = other.procedure")
    assert found.code == "scope-field-outside" and "about other lines" in found.message


def test_quantifiers_do_not_nest(tmp_path):
    [found] = problem(tmp_path, "any other line where (no earlier line where earlier.units > 1)")
    assert found.code == "nested-quantifier"


def test_all_other_lines_is_not_a_quantifier(tmp_path):
    [found] = problem(tmp_path, "all other lines where other.units = 1")
    assert found.code == "bad-quantifier" and "no other line where not (...)" in found.hint


def test_a_lookup_names_a_column_the_table_has(tmp_path):
    [found] = problem(tmp_path, 'mpfs[line.procedure].global_day = "090"')
    assert found.code == "unknown-column" and "table mpfs has no column 'global_day'" in found.message
    assert "global_days" in found.hint
    assert (found.pos.line, found.pos.column) == (8, 32)


def test_a_lookup_names_a_table(tmp_path):
    [found] = problem(tmp_path, 'mpf[line.procedure].global_days = "090"')
    assert found.code == "unknown-name" and "mpfs" in found.hint


def test_a_lookup_key_has_the_type_of_the_first_column(tmp_path):
    [found] = problem(tmp_path, 'mpfs[line.service_date].global_days = "090"')
    assert found.code == "type-mismatch"
    assert "looked up by its first column, hcpcs" in found.message


def test_comparing_values_of_different_types(tmp_path):
    [found] = problem(tmp_path, "any other line where other.service_date = line.procedure")
    assert found.code == "type-mismatch" and "cannot compare a date with" in found.message


def test_a_list_compared_with_one_value(tmp_path):
    [found] = problem(tmp_path, "any other line where other.modifier = line.procedure")
    assert found.code == "list-field"


def test_sum_adds_numbers_only(tmp_path):
    [found] = problem(tmp_path, "sum of other.service_date where (other.units > 1) < 3")
    assert found.code == "type-mismatch" and "'sum of' adds numbers" in found.message


def test_a_window_between_dates(tmp_path):
    found = problem(tmp_path, "line.units is 1 to 90 days after line.service_date")
    assert [f.code for f in found] == ["type-mismatch"]
    found = problem(tmp_path, "line.service_date is 9 to 1 days after line.service_date_to")
    assert [f.code for f in found] == ["empty-window"] and "write 1 to 9" in found[0].hint


def test_only_is_for_icd10_codes(tmp_path):
    [found] = problem(tmp_path, "line.procedure in {82306 only}")
    assert found.code == "bad-code" and "match only themselves already" in found.message


def test_line_fields_in_a_quantifier_of_a_claim_rule(tmp_path):
    [found] = problem(tmp_path, "any other line where other.procedure = line.procedure",
                      scope="effective 2026-01-01")
    assert found.code == "line-field-outside-line"


def test_aggregate_conditions_go_in_parentheses():
    _, [found] = parse(textwrap.dedent(rule("count of other lines where other.units = 1 < 2")).lstrip(),
                       "test.rules")
    assert found.code == "syntax" and "goes in parentheses" in found.hint


# ---- a message names the line 'no ... line where' found ----------------------------------------

def _with_message(tmp_path, require: str, message: str):
    text = rule(require).replace("deny line CO-97", f'deny line CO-97 "{message}"')
    return load_pack_from(tmp_path / "p", text, FILES)


def test_a_message_names_the_fields_of_the_line_found(tmp_path):
    pack = _with_message(tmp_path, "no other line where other.procedure = line.procedure",
                         "also on line {other.number}, units {other.units}")
    assert [r.id for r in pack.rules] == ["R1"]


def test_the_line_found_only_by_no(tmp_path):
    with pytest.raises(PackError) as raised:
        _with_message(tmp_path, "any other line where other.procedure = line.procedure",
                      "line {other.number}")
    [found] = raised.value.diagnostics
    assert found.code == "unknown-placeholder"
    assert "a field of another line, and this rule's requirement finds no one line" in found.message
    assert "requires 'no other line where ...'" in found.hint


def test_the_line_found_is_of_the_quantifier_s_scope(tmp_path):
    with pytest.raises(PackError) as raised:
        _with_message(tmp_path, "no other line where other.procedure = line.procedure",
                      "claim {earlier.claim_id}")
    [found] = raised.value.diagnostics
    assert found.code == "unknown-placeholder"
