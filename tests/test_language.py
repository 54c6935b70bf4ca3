"""The rule language: the grammar builds in strict LALR mode and every construct parses to
the typed node it should, with a position; reserved words cannot be names."""

from __future__ import annotations

import dataclasses
import itertools
import textwrap

import pytest

from rulesengine.language import ast
from rulesengine.language.syntax import parse, parser


def parse_ok(text: str) -> ast.RuleFile:
    tree, problems = parse(textwrap.dedent(text).lstrip("\n"), "test.rules")
    assert problems == [], problems[0].render()
    return tree


def only_rule(text: str) -> ast.Rule:
    tree = parse_ok(text)
    assert len(tree.rules) == 1
    return tree.rules[0]


def condition(text: str, per_line: bool = True):
    """The condition of a one-rule file whose requirement is ``text``."""
    scope = "  for each line\n" if per_line else ""
    rule = only_rule(f'rule R1 "t"\n  category coverage\n{scope}  require {text}\n'
                     f'  else deny {"line" if per_line else "claim"} CO-50\n')
    return rule.check.condition


def syntax_error(text: str):
    tree, problems = parse(textwrap.dedent(text).lstrip("\n"), "test.rules")
    assert tree is None, "expected a syntax error"
    assert len(problems) == 1 and problems[0].code == "syntax"
    return problems[0]


# ---- the grammar --------------------------------------------------------------------------

def test_the_grammar_builds_in_strict_lalr_mode():
    strict = parser(strict=True)
    assert strict.options.parser == "lalr"
    assert strict.options.propagate_positions


def test_the_parser_is_built_once():
    assert parser() is parser()


SAMPLE = """
    # A pack in miniature: every kind of item.
    valueset vitd_support = icd10 {E55.*, E83.52, M81.0..M81.8, R06.0*}
    valueset img = hcpcs {70551..70553, 72141, 9920*}
    table ncci from "tables/ncci.csv"
      columns column1 hcpcs, column2 hcpcs, modifier_indicator integer,
              effective_date date, deletion_date date
      rows effective from effective_date through deletion_date
    rule MN-VITD "Vitamin D"
      category medical_necessity
      citation "LCD L33996"
      effective 2025-10-01 through 2026-09-30
      for each line where line.procedure in {82306, 82652}
      require any line.diagnosis in vitd_support
      else deny line CO-50 N115 "{line.procedure} not supported"
    rule TF-90 "Filing"
      category filing_limit
      when claim.plan in {"HMO", "EPO"} and not claim.type = "institutional"
      require claim.received_date <= claim.last_service_date + 90 days
      else deny claim CO-29
"""


def test_the_strict_parser_reads_a_sample_like_the_default_one():
    text = textwrap.dedent(SAMPLE)
    assert parser(strict=True).parse(text) == parser().parse(text)


# ---- value sets -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, codes", [
    ("icd10", "{E55.9, Z13.21, J18.9}"),
    ("hcpcs", "{82306, 71046, 0001U, G0438}"),
    ("modifier", "{59, XS, XE, LT, 25}"),
    ("pos", "{11, 22}"),
    ("revenue", "{0450, 0320}"),
    ("text", '{"HMO", "EPO"}'),
])
def test_a_valueset_of_each_kind(kind, codes):
    tree = parse_ok(f"valueset my_set = {kind} {codes}")
    (vs,) = tree.valuesets
    assert isinstance(vs, ast.ValueSet)
    assert (vs.name, vs.kind) == ("my_set", kind)
    assert isinstance(vs.codes, ast.CodeList)
    written = [item.text if isinstance(item, ast.Code) else item.value for item in vs.codes.items]
    assert written == [c.strip().strip('"') for c in codes.strip("{}").split(",")]
    expected = ast.Text if kind == "text" else ast.Code
    assert all(isinstance(item, expected) for item in vs.codes.items)


def test_code_ranges_patterns_and_quoted_codes():
    (vs,) = parse_ok('valueset mix = icd10 {M81.0..M81.8, J18.*, R06.0*, J18, "Z13.21",}').valuesets
    span, star, partial, category, quoted = vs.codes.items
    assert isinstance(span, ast.CodeSpan)
    assert (span.low.text, span.high.text) == ("M81.0", "M81.8")
    assert isinstance(star, ast.Code) and star.text == "J18.*"
    assert isinstance(partial, ast.Code) and partial.text == "R06.0*"
    assert isinstance(category, ast.Code) and category.text == "J18"
    assert isinstance(quoted, ast.Text) and quoted.value == "Z13.21"


def test_a_procedure_range_and_prefix():
    (vs,) = parse_ok("valueset img = hcpcs {70551..70553, 9920*}").valuesets
    span, prefix = vs.codes.items
    assert (span.low.text, span.high.text) == ("70551", "70553")
    assert prefix.text == "9920*"


def test_an_empty_valueset_is_a_syntax_error():
    problem = syntax_error("valueset nothing_here = hcpcs {}")
    assert (problem.pos.line, problem.pos.column) == (1, 32)


# ---- tables ----------------------------------------------------------------------------------

def test_a_table_with_row_dates():
    (table,) = parse_ok("""
        table ncci from "tables/ncci.csv"
          columns column1 hcpcs, column2 hcpcs, modifier_indicator integer,
                  effective_date date, deletion_date date
          rows effective from effective_date through deletion_date
    """).tables
    assert isinstance(table, ast.Table)
    assert table.name == "ncci"
    assert table.path.value == "tables/ncci.csv"
    assert [(c.name, c.type) for c in table.columns] == [
        ("column1", "hcpcs"), ("column2", "hcpcs"), ("modifier_indicator", "integer"),
        ("effective_date", "date"), ("deletion_date", "date")]
    assert all(isinstance(c, ast.Column) for c in table.columns)
    assert table.effective_from.name == "effective_date"
    assert table.effective_through.name == "deletion_date"


def test_a_table_with_a_start_date_only_and_one_without_dates():
    tree = parse_ok("""
        table mue from "tables/mue.csv" columns code hcpcs, limit integer, adjudication integer,
          effective_date date
          rows effective from effective_date
        table plans from "tables/plans.csv" columns plan text
    """)
    mue, plans = tree.tables
    assert mue.effective_from.name == "effective_date" and mue.effective_through is None
    assert plans.effective_from is None and plans.effective_through is None
    assert [c.name for c in plans.columns] == ["plan"]


# ---- rules: headers, scope, checks, actions ------------------------------------------------------

HEADERS = {
    "category": "category prior_auth",
    "citation": 'citation "Payer policy PA-2026-01"',
    "effective": "effective 2026-01-01 through 2026-12-31",
    "when": 'when claim.plan in {"HMO", "EPO"}',
}


@pytest.mark.parametrize("order", list(itertools.permutations(HEADERS)))
def test_rule_headers_in_any_order(order):
    headers = "\n  ".join(HEADERS[h] for h in order)
    rule = only_rule(f'''rule PA-IMG "Imaging needs authorization"
  {headers}
  for each line where line.procedure in 70551..70553
  require claim.prior_authorization is present
  else deny line CO-197''')
    assert rule.id == "PA-IMG" and rule.title == "Imaging needs authorization"
    assert rule.category.name == "prior_auth"
    assert rule.citation.value == "Payer policy PA-2026-01"
    assert (rule.effective_from.text, rule.effective_through.text) == ("2026-01-01", "2026-12-31")
    assert isinstance(rule.guard, ast.Membership) and rule.guard.expr.path == "claim.plan"
    assert [h.keyword for h in rule.headers] == [*order, "scope"]


def test_a_rule_on_one_line_and_an_open_ended_window():
    rule = only_rule('rule R1 "t" category coverage effective 2026-01-01 '
                     'require claim.line_count < 50 else deny claim CO-16')
    assert rule.effective_from.text == "2026-01-01" and rule.effective_through is None
    assert rule.per_line is False and rule.where is None


def test_for_each_line_with_and_without_where():
    plain = only_rule('rule R1 "t" category coverage for each line require line.units < 5 '
                      'else deny line CO-151')
    assert plain.per_line is True and plain.where is None
    where = only_rule('rule R1 "t" category coverage for each line where line.units > 1 '
                      'require line.units < 5 else deny line CO-151')
    assert where.per_line is True
    assert isinstance(where.where, ast.Comparison) and where.where.op == ">"


def test_the_three_checks():
    rules = parse_ok("""
        rule A "a" category coverage for each line require line.units < 5 else deny line CO-151
        rule B "b" category bundling for each line require not bundled per ncci else deny line CO-97
        rule C "c" category bundling for each line
          require not bundled per ncci bypass modifiers {59, XS}
          else deny line CO-97
        rule D "d" category unit_limit for each line require units within mue else deny line CO-151
    """).rules
    a, b, c, d = rules
    assert isinstance(a.check, ast.Require)
    assert isinstance(b.check, ast.RequireUnbundled)
    assert (b.check.table, b.check.bypass) == ("ncci", None)
    assert isinstance(c.check, ast.RequireUnbundled)
    assert [m.text for m in c.check.bypass.items] == ["59", "XS"]
    assert isinstance(d.check, ast.RequireUnits) and d.check.table == "mue"


@pytest.mark.parametrize("text, severity, scope, adjustment, rarcs, message", [
    ("else deny line CO-50", "deny", "line", "CO-50", [], None),
    ('else deny line CO-50 N115 "not supported"', "deny", "line", "CO-50", ["N115"], "not supported"),
    ('else review claim CO-197 M62 N54 MA130 "hold"', "review", "claim", "CO-197",
     ["M62", "N54", "MA130"], "hold"),
    ("else info line PR-204", "info", "line", "PR-204", [], None),
    ('else deny line OA-B7 "a \\"quoted\\" word"', "deny", "line", "OA-B7", [], 'a "quoted" word'),
])
def test_actions(text, severity, scope, adjustment, rarcs, message):
    rule = only_rule(f'rule R1 "t" category coverage for each line require line.units < 2 {text}')
    action = rule.action
    assert isinstance(action, ast.Action)
    assert (action.severity, action.scope, action.adjustment) == (severity, scope, adjustment)
    assert (action.group_code, action.carc) == tuple(adjustment.split("-"))
    assert [r.text for r in action.rarcs] == rarcs
    assert (action.message.value if action.message else None) == message


# ---- conditions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_comparison_operator(op):
    cond = condition(f"line.units {op} 3")
    assert isinstance(cond, ast.Comparison)
    assert cond.op == op
    assert isinstance(cond.left, ast.Field) and cond.left.path == "line.units"
    assert isinstance(cond.right, ast.Number) and cond.right.value == 3


def test_operands_fields_numbers_texts_and_dates():
    number = condition("line.charge > 99.5").right
    assert isinstance(number, ast.Number) and number.value == 99.5
    text = condition('patient.sex = "F"').right
    assert isinstance(text, ast.Text) and text.value == "F"
    day = condition("line.service_date >= 2026-01-01").right
    assert isinstance(day, ast.DateValue) and day.text == "2026-01-01"
    field = condition("claim.received_date <= claim.last_service_date").right
    assert isinstance(field, ast.Field) and (field.root, field.name) == ("claim", "last_service_date")


@pytest.mark.parametrize("text, present", [
    ("claim.prior_authorization is present", True),
    ("claim.prior_authorization is absent", False),
    ("claim.prior_authorization is not present", False),
    ("claim.prior_authorization is not absent", True),
])
def test_presence(text, present):
    cond = condition(text, per_line=False)
    assert isinstance(cond, ast.Presence)
    assert cond.present is present
    assert cond.expr.path == "claim.prior_authorization"


@pytest.mark.parametrize("text, negated, set_type", [
    ("line.procedure in advanced_imaging", False, ast.SetName),
    ("line.procedure not in advanced_imaging", True, ast.SetName),
    ("line.procedure in {70551, 70552}", False, ast.CodeList),
    ("line.procedure not in {70551, 70552}", True, ast.CodeList),
    ("line.procedure in 70551..70553", False, ast.CodeSpan),
    ("line.procedure in G0438", False, ast.Code),
    ("line.procedure in 9920*", False, ast.Code),
    ('claim.plan in {"HMO", "EPO"}', False, ast.CodeList),
])
def test_membership(text, negated, set_type):
    cond = condition(text)
    assert isinstance(cond, ast.Membership)
    assert cond.negated is negated
    assert isinstance(cond.set, set_type)


@pytest.mark.parametrize("quantifier", ["any", "all", "no"])
def test_quantifiers(quantifier):
    cond = condition(f"{quantifier} line.diagnosis in vitd_support")
    assert isinstance(cond, ast.Quantified)
    assert cond.quantifier == quantifier
    assert cond.field.path == "line.diagnosis"
    assert cond.set.name == "vitd_support"


A, B, C = "line.units > 1", 'patient.sex = "F"', "patient.age >= 18"


def _ops(node):
    """A condition's shape: comparisons as their operator, connectives as nested tuples."""
    if isinstance(node, ast.AnyOf):
        return ("or", *map(_ops, node.items))
    if isinstance(node, ast.AllOf):
        return ("and", *map(_ops, node.items))
    if isinstance(node, ast.Not):
        return ("not", _ops(node.item))
    return node.op


@pytest.mark.parametrize("text, shape", [
    (f"{A} or {B} and {C}", ("or", ">", ("and", "=", ">="))),
    (f"{A} and {B} or {C}", ("or", ("and", ">", "="), ">=")),
    (f"({A} or {B}) and {C}", ("and", ("or", ">", "="), ">=")),
    (f"{A} and ({B} or {C})", ("and", ">", ("or", "=", ">="))),
    (f"not {A} and {B}", ("and", ("not", ">"), "=")),
    (f"not ({A} and {B})", ("not", ("and", ">", "="))),
    (f"not not {A}", ("not", ("not", ">"))),
    (f"{A} or {B} or {C}", ("or", ">", "=", ">=")),
    (f"{A} and {B} and {C}", ("and", ">", "=", ">=")),
    (f"(({A}))", ">"),
])
def test_and_binds_tighter_than_or_and_not_tightest(text, shape):
    assert _ops(condition(text)) == shape


@pytest.mark.parametrize("text, amount, unit", [
    ("claim.last_service_date + 90 days", 90, "days"),
    ("claim.last_service_date + 1 day", 1, "day"),
    ("claim.last_service_date - 1 month", -1, "month"),
    ("claim.last_service_date + 6 months", 6, "months"),
    ("claim.last_service_date + 1 year", 1, "year"),
    ("claim.last_service_date - 2 years", -2, "years"),
])
def test_date_shifts(text, amount, unit):
    cond = condition(f"claim.received_date <= {text}", per_line=False)
    shift = cond.right
    assert isinstance(shift, ast.DateShift)
    assert (shift.amount, shift.unit) == (amount, unit)
    assert shift.operand.path == "claim.last_service_date"


def test_a_shift_of_a_date_literal_on_the_left():
    cond = condition("2026-01-01 + 90 days >= claim.received_date", per_line=False)
    assert isinstance(cond.left, ast.DateShift)
    assert isinstance(cond.left.operand, ast.DateValue)


def test_units_is_a_field_name_after_line():
    field = condition("line.units < 2").left
    assert (field.root, field.name) == ("line", "units")


# ---- positions ---------------------------------------------------------------------------------

def _walk(node, trail="file"):
    """Every AST node under ``node``, with a readable path to it."""
    if dataclasses.is_dataclass(node) and not isinstance(node, ast.Pos):
        yield trail, node
        for f in dataclasses.fields(node):
            yield from _walk(getattr(node, f.name), f"{trail}.{f.name}")
    elif isinstance(node, (tuple, list)):
        for i, item in enumerate(node):
            yield from _walk(item, f"{trail}[{i}]")


EVERYTHING = SAMPLE + """
    table mue from "tables/mue.csv" columns code hcpcs, limit integer, adjudication integer
    rule NCCI "bundling" category bundling
      for each line require not bundled per ncci bypass modifiers {59, XE} else deny line CO-97
    rule MUE "units" category unit_limit for each line
      require units within mue
      else review line CO-151 "{units_billed} > {limit}"
    rule MIX "everything" category coverage citation "x" effective 2026-01-01
      when patient.age >= 18 or patient.sex = "F"
      for each line where not line.procedure not in 70551..70553 and (line.units != 1 or line.charge < 10.5)
      require (all line.diagnosis in {J18.*}
               or no line.modifier in {LT} and any claim.diagnosis in {"Z13.21"})
        and line.service_date - 1 month < 2026-12-31 + 1 year and line.ndc is not absent
        and line.procedure in G0438
      else info claim PR-204 M62
"""


def test_every_node_has_a_line_and_a_column():
    tree = parse_ok(EVERYTHING)
    nodes = list(_walk(tree))
    assert len(nodes) > 100
    kinds = {type(node) for _, node in nodes}
    for cls in (ast.ValueSet, ast.CodeList, ast.Code, ast.CodeSpan, ast.Text, ast.Table, ast.Column,
                ast.SetName, ast.Rule, ast.Header, ast.Require, ast.RequireUnbundled,
                ast.RequireUnits, ast.Action, ast.Field, ast.Number, ast.DateValue, ast.DateShift,
                ast.Comparison, ast.Presence, ast.Membership, ast.Quantified, ast.AllOf,
                ast.AnyOf, ast.Not):
        assert cls in kinds, f"the sample has no {cls.__name__}"
    for trail, node in nodes:
        if isinstance(node, ast.RuleFile):
            continue
        positions = [getattr(node, f.name) for f in dataclasses.fields(node)
                     if isinstance(getattr(node, f.name), ast.Pos)]
        assert positions, f"{trail} ({type(node).__name__}) has no position"
        for pos in positions:
            assert pos.file == "test.rules", trail
            assert pos.line >= 1 and pos.column >= 1, f"{trail} has no line/column: {pos}"


def test_positions_point_at_what_was_written():
    text = textwrap.dedent(EVERYTHING).lstrip("\n")
    lines = text.splitlines()
    tree = parse_ok(EVERYTHING)

    def at(pos):
        return lines[pos.line - 1][pos.column - 1:]

    for trail, node in _walk(tree):
        if isinstance(node, ast.Field):
            assert at(node.pos).startswith(node.path), trail
        elif isinstance(node, ast.Code):
            assert at(node.pos).startswith(node.text), trail
        elif isinstance(node, ast.SetName):
            assert at(node.pos).startswith(node.name), trail
        elif isinstance(node, ast.Rule):
            assert at(node.pos).startswith(node.id), trail
        elif isinstance(node, ast.Action):
            assert at(node.pos).startswith("else"), trail
            assert at(node.adjustment_pos).startswith(node.adjustment), trail
        elif isinstance(node, ast.DateValue):
            assert at(node.pos).startswith(node.text), trail
        elif isinstance(node, ast.ValueSet):
            assert at(node.pos).startswith("valueset " + node.name), trail
            assert at(node.kind_pos).startswith(node.kind), trail
        elif isinstance(node, ast.Column):
            assert at(node.pos).startswith(f"{node.name} {node.type}"), trail
            assert at(node.type_pos).startswith(node.type), trail


# ---- reserved words ---------------------------------------------------------------------------------

RULE_WITH = ('rule R1 "t"\n  category coverage\n  for each line where {where}\n'
             '  require line.units < 2\n  else deny line CO-50\n')


@pytest.mark.parametrize("text, line, column, word", [
    ("valueset units = hcpcs {82306}", 1, 10, "units"),
    ("valueset and = hcpcs {82306}", 1, 10, "and"),
    ("valueset line = hcpcs {82306}", 1, 10, "line"),
    ("valueset present = icd10 {E55.9}", 1, 10, "present"),
    ("valueset deny = icd10 {E55.9}", 1, 10, "deny"),
    ('table from from "tables/x.csv" columns code hcpcs', 1, 7, "from"),
    ('table mue from "tables/mue.csv" columns rule hcpcs', 1, 41, "rule"),
    ('table mue from "tables/mue.csv" columns code in', 1, 46, "in"),
    ('rule R1 "t"\n  category claim\n  require claim.line_count < 9\n  else deny claim CO-16',
     2, 12, "claim"),
    (RULE_WITH.format(where="line.procedure in within"), 3, 41, "within"),
    (RULE_WITH.format(where="line.procedure in effective"), 3, 41, "effective"),
    ('rule R1 "t"\n  category coverage\n  for each line\n  require not bundled per table\n'
     "  else deny line CO-97", 4, 27, "table"),
])
def test_reserved_words_cannot_be_names(text, line, column, word):
    problem = syntax_error(text)
    assert (problem.pos.line, problem.pos.column) == (line, column)
    assert f"'{word}'" in problem.message


def test_the_hint_says_a_reserved_word_cannot_be_a_name():
    problem = syntax_error("valueset units = hcpcs {82306}")
    assert "'units' is a word of the rule language and cannot be a name" in problem.hint


@pytest.mark.parametrize("name", ["units_mri", "in_network", "information", "nothing", "order",
                                  "rules", "lineage", "claimant", "others", "counts", "summary", "tomorrow", "only_if", "any_dx", "all_dx", "no_auth",
                                  "tables", "deny_list", "is_new"])
def test_names_that_only_start_with_a_reserved_word_are_names(name):
    tree = parse_ok(f"valueset {name} = hcpcs {{82306}}")
    assert tree.valuesets[0].name == name


@pytest.mark.parametrize("word", ["days", "month", "year"])
def test_date_units_cannot_be_names(word):
    syntax_error(f"valueset {word} = hcpcs {{82306}}")


# ---- lexical details ------------------------------------------------------------------------------

def test_comments_and_blank_lines_are_ignored():
    tree = parse_ok("""
        # value sets
        valueset vitd = icd10 {E55.*}   # trailing comment

        # rules
        rule R1 "t" category coverage # comment between headers
          for each line require any line.diagnosis in vitd else deny line CO-50
    """)
    assert [v.name for v in tree.valuesets] == ["vitd"] and [r.id for r in tree.rules] == ["R1"]


@pytest.mark.parametrize("rule_id", ["MN-VITD", "NCCI-PTP", "TF90", "PA-2026-01", "A"])
def test_rule_ids(rule_id):
    assert only_rule(f'rule {rule_id} "t" category coverage require claim.line_count < 9 '
                     f'else deny claim CO-16').id == rule_id


@pytest.mark.parametrize("rule_id", ["mn-vitd", "MN_VITD", "Mn-Vitd", "MN--VITD", "-MN"])
def test_malformed_rule_ids_are_syntax_errors(rule_id):
    problem = syntax_error(f'rule {rule_id} "t" category coverage require claim.line_count < 9 '
                           f'else deny claim CO-16')
    assert problem.pos.line == 1 and problem.pos.column >= 6
