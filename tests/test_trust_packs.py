"""Attacks on packs, as a hostile pack author would make them: files outside the pack,
YAML that expands or nests without end, rules nested a thousand deep, endless extends
chains, dates moved off the calendar; and the grammar fed random text. Every one is a
positioned PackError, never another file's content, never a RecursionError."""

from __future__ import annotations

import string
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
import rulesengine
from rulesengine.language.dates import shift
from rulesengine.language.diagnostics import PackError
from rulesengine.language.syntax import parse

SECRET = "SECRET-TOKEN-8f2c"
TABLE_RULES = '''
table limits from "{path}"
  columns code hcpcs, max integer

rule UNITS "units above the limit"
  category unit_limit
  for each line
  require line.units <= limits[line.procedure].max
  else deny line CO-151 "too many units"
'''
VALUESET_RULES = '''
valueset pa_codes = hcpcs from "{path}"

rule PA "prior authorization"
  category prior_auth
  for each line where line.procedure in pa_codes
  require claim.prior_authorization is present
  else deny line CO-197 "no authorization"
'''
PLAIN_RULE = '''
rule TF "filed late"
  category filing_limit
  require claim.received_date <= claim.last_service_date + 1 year
  else deny claim CO-29 "late"
'''


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside every pack, that no message may ever show."""
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_text(f"code,max\n{SECRET},1\n")
    return path


def problems(folder: Path) -> PackError:
    with pytest.raises(PackError) as error:
        rulesengine.load_pack(folder)
    assert SECRET not in error.value.render()
    return error.value


def codes(error: PackError) -> list[tuple[str, str, int]]:
    return [(d.code, Path(d.pos.file).name, d.pos.line) for d in error.diagnostics]


# ---- 4. a pack reads only inside its folder ---------------------------------------------------

def test_an_absolute_table_path_is_refused_before_it_is_opened(tmp_path, secret):
    pack = corpus.write_pack(tmp_path / "p", TABLE_RULES.format(path=secret))
    error = problems(pack)
    assert codes(error) == [("outside-pack", "main.rules", 1)]
    assert "is an absolute path" in error.render()


@pytest.mark.parametrize("written", ["../outside/secret.csv", "tables/../../outside/secret.csv",
                                     "..\\outside\\secret.csv"])
def test_a_path_that_climbs_out_is_refused(tmp_path, secret, written):
    pack = corpus.write_pack(tmp_path / "p", TABLE_RULES.format(path=written.replace("\\", "\\\\")))
    assert codes(problems(pack)) == [("outside-pack", "main.rules", 1)]


def test_a_value_set_file_that_climbs_out_is_refused(tmp_path, secret):
    pack = corpus.write_pack(tmp_path / "p", VALUESET_RULES.format(path="../outside/secret.csv"))
    assert codes(problems(pack)) == [("outside-pack", "main.rules", 1)]


def test_a_link_to_a_file_outside_is_refused(tmp_path, secret):
    pack = corpus.write_pack(tmp_path / "p", TABLE_RULES.format(path="tables/limits.csv"))
    (pack / "tables").mkdir()
    (pack / "tables" / "limits.csv").symlink_to(secret)
    error = problems(pack)
    assert codes(error) == [("outside-pack", "main.rules", 1)]
    assert "is a symbolic link to a file outside the pack's folder" in error.render()
    assert str(secret) not in error.render()  # not even where it leads


def test_linked_rule_code_set_and_pack_files_outside_are_refused(tmp_path, secret):
    pack = corpus.write_pack(tmp_path / "p", PLAIN_RULE)
    (pack / "stolen.rules").symlink_to(secret)
    (pack / "codesets").mkdir()
    (pack / "codesets" / "icd10cm-2025-10-01.txt").symlink_to(secret)
    found = {(c, name) for c, name, _ in codes(problems(pack))}
    assert found == {("outside-pack", "pack.yaml")}  # both named at the pack, neither read
    linked = corpus.write_pack(tmp_path / "q", PLAIN_RULE)
    (linked / "pack.yaml").unlink()
    (linked / "pack.yaml").symlink_to(secret)
    assert codes(problems(linked))[0][0] == "outside-pack"


def test_a_link_into_a_pack_it_extends_is_allowed(tmp_path):
    base = corpus.write_pack(tmp_path / "base", PLAIN_RULE,
                             tables={"tables/limits.csv": "code,max\n97110,4\n"})
    child = corpus.write_pack(tmp_path / "child", TABLE_RULES.format(path="tables/limits.csv"),
                              meta="id: child\nversion: '1'\npayer: test\nextends: [base]\n")
    (child / "tables").mkdir()
    (child / "tables" / "limits.csv").symlink_to(base / "tables" / "limits.csv")
    assert {r.id for r in rulesengine.load_pack(child).rules} == {"TF", "UNITS"}


# ---- 4. YAML, nesting and chains have limits --------------------------------------------------

BILLION_LAUGHS = "".join(f'{k}: &{k} [{",".join([f"*{p}"] * 9)}]\n'
                         for p, k in zip("abcdefgh", "bcdefghi"))


def test_a_yaml_alias_bomb_in_pack_yaml_is_refused(tmp_path):
    meta = corpus.DEFAULT_META + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + BILLION_LAUGHS
    assert len(meta.encode()) < 600
    pack = corpus.write_pack(tmp_path / "p", PLAIN_RULE, meta=meta)
    error = problems(pack)
    assert codes(error) == [("bad-yaml", "pack.yaml", 1)]
    assert "aliases expand too far" in error.render()


@pytest.mark.parametrize("nested", ["[" * 10_000 + "]" * 10_000,
                                    "".join(f"\n{'  ' * i}k{i}:" for i in range(60)) + " 1"])
def test_deeply_nested_yaml_is_a_positioned_error(tmp_path, nested):
    pack = corpus.write_pack(tmp_path / "p", PLAIN_RULE, meta=corpus.DEFAULT_META + "x: " + nested + "\n")
    error = problems(pack)
    assert codes(error)[0][:2] == ("bad-yaml", "pack.yaml")
    assert "nest" in error.render()


def test_a_thousand_nots_is_a_positioned_error(tmp_path):
    rule = PLAIN_RULE.replace("  require", "  when " + "not " * 1000 + 'claim.type = "professional"\n  require')
    error = problems(corpus.write_pack(tmp_path / "p", rule))
    [diagnostic] = error.diagnostics
    assert (diagnostic.code, diagnostic.pos.line) == ("too-deep", 3)
    assert "nests more than 100 levels deep" in diagnostic.message
    assert len(error.render().splitlines()[1]) < 130  # the long line is cut around the caret


def test_deep_parentheses_still_load(tmp_path):
    rule = PLAIN_RULE.replace("  require", "  when " + "(" * 5000 + 'claim.type = "professional"'
                              + ")" * 5000 + "\n  require")
    assert len(rulesengine.load_pack(corpus.write_pack(tmp_path / "p", rule)).rules) == 1


def test_an_endless_extends_chain_is_a_positioned_error(tmp_path):
    for i in range(60):
        extends = f"extends: [p{i - 1}]\n" if i else ""
        corpus.write_pack(tmp_path / f"p{i}", PLAIN_RULE.replace("rule TF", f"rule TF{i}"),
                          meta=f"id: p{i}\nversion: '1'\npayer: test\n{extends}")
    error = problems(tmp_path / "p59")
    assert [d.code for d in error.diagnostics] == ["extends-depth"]
    assert error.diagnostics[0].pos.file.endswith("pack.yaml")


# ---- 1. dates near the ends of the calendar ---------------------------------------------------

def test_a_date_moved_off_the_calendar_is_unknown_not_a_crash():
    assert shift(date(9999, 12, 31), 1, "year") is None
    assert shift(date(1, 1, 1), -1, "days") is None
    assert shift(date(2026, 1, 31), 1, "month") == date(2026, 2, 28)


def test_a_literal_date_moved_off_the_calendar_is_a_checker_error(tmp_path):
    rule = PLAIN_RULE.replace("claim.last_service_date + 1 year", "9999-12-31 + 1 year")
    [diagnostic] = problems(corpus.write_pack(tmp_path / "p", rule)).diagnostics
    assert diagnostic.code == "bad-date" and "off the calendar" in diagnostic.message


# ---- the grammar and the readers, fed what hypothesis makes ------------------------------------

WORDS = ["rule", "when", "require", "not", "and", "or", "for", "each", "line", "where", "in",
         "deny", "review", "claim", "(", ")", "{", "}", "=", "<=", "+", "1", "year", '"x"',
         "line.procedure", "claim.type", "lookup", "count", "of", "table", "valueset", "\n", "  "]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400),
                 st.lists(st.sampled_from(WORDS), max_size=80).map(" ".join)))
def test_any_text_parses_to_a_tree_or_positioned_problems(text):
    tree, found = parse(text, "fuzz.rules")
    assert (tree is None) == bool(found)
    for diagnostic in found:
        assert diagnostic.pos.file == "fuzz.rules" and diagnostic.pos.line >= 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.integers(0, len(PLAIN_RULE) - 1), st.text(string.printable, max_size=8))
def test_a_damaged_rule_file_is_a_pack_error_or_a_pack(tmp_path_factory, at, inserted):
    folder = tmp_path_factory.mktemp("fuzz")
    corpus.write_pack(folder, PLAIN_RULE[:at] + inserted + PLAIN_RULE[at + 1:])
    try:
        rulesengine.load_pack(folder)
    except PackError as error:
        assert error.diagnostics and all(d.pos.line >= 1 for d in error.diagnostics)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_is_a_claim_or_an_error(value):
    from rulesengine.claims import Claim, ClaimError, claim_from_data
    assert isinstance(claim_from_data(value, "fuzz.json"), (Claim, ClaimError))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["json", "jsonl", None]), st.one_of(st.text(max_size=300), st.binary(max_size=300).map(
    lambda b: b.decode("utf-8", "replace"))))
def test_any_text_read_as_claims_is_claims_or_errors(fmt, text):
    from rulesengine.claims import Claim, ClaimError, read_claims_from_text
    for item in read_claims_from_text(text, "fuzz", fmt):
        assert isinstance(item, (Claim, ClaimError))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_in_an_837_are_claims_or_errors(data):
    from rulesengine.claims import Claim, ClaimError, read_claims_from_text
    text = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *" + data.decode("latin-1")
    for item in read_claims_from_text(text, "fuzz.837", None):
        assert isinstance(item, (Claim, ClaimError))

