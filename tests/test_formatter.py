"""``rulesengine fmt``: the canonical layout of rule files, checked against golden files.

Each ``tests/golden/fmt/NAME.rules`` is formatted and compared with
``NAME.rules.formatted``; every golden was read by hand for readability. ``REGENERATE=1
pytest tests/test_formatter.py`` rewrites the ``.formatted`` files; read the diff before
committing it. Besides the layout, every golden and every bundled pack file must keep its
meaning (the same rules once positions are ignored) and its comments, and formatting twice
must change nothing.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from rulesengine.language import ast

from rulesengine.authoring.fmt import format as formatter
from rulesengine.cli import main
from rulesengine.authoring.fmt.format import InternalError, SyntaxProblem, format_text
from rulesengine.language.syntax import parse

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "fmt"
GOLDENS = sorted(p.stem for p in GOLDEN.glob("*.rules"))
PACK_FILES = sorted(ROOT.glob("payer_rules/**/*.rules"))

#: bundled files the formatter would change; the lead decides whether the pack or the layout moves
NOT_YET_CANONICAL: dict[str, str] = {}


def without_positions(node):
    """An AST as plain data, positions left out and a rule's clauses as a set."""
    if isinstance(node, ast.Pos):
        return None
    if dataclasses.is_dataclass(node):
        data = {f.name: without_positions(getattr(node, f.name)) for f in dataclasses.fields(node)}
        if isinstance(node, ast.Rule):
            data["headers"] = sorted(h.keyword for h in node.headers)
        return type(node).__name__, data
    if isinstance(node, (tuple, list)):
        return [without_positions(n) for n in node]
    return node


def meaning(text: str):
    tree, problems = parse(text, "x.rules")
    assert not problems, problems[0].render()
    return without_positions(tree)


def comments(text: str) -> list[str]:
    """The comments of a rule file (a '#' inside a quoted text is not one)."""
    found = re.findall(r'"(?:[^"\\\n]|\\.)*"|(#[^\n]*)', text)
    return [c.rstrip() for c in found if c]


# ---- goldens ---------------------------------------------------------------------------------

def test_every_golden_has_its_formatted_text():
    assert {p.name[:-len(".formatted")] for p in GOLDEN.glob("*.formatted")} == \
        {f"{name}.rules" for name in GOLDENS}
    assert len(GOLDENS) >= 7


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_layout(name):
    source = (GOLDEN / f"{name}.rules").read_text(encoding="utf-8")
    formatted = format_text(source, f"{name}.rules")
    golden = GOLDEN / f"{name}.rules.formatted"
    if os.environ.get("REGENERATE"):
        golden.write_text(formatted, encoding="utf-8")
    assert formatted == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_keeps_meaning_and_comments_and_is_stable(name):
    source = (GOLDEN / f"{name}.rules").read_text(encoding="utf-8")
    formatted = (GOLDEN / f"{name}.rules.formatted").read_text(encoding="utf-8")
    assert meaning(formatted) == meaning(source)
    assert comments(formatted) == comments(source)
    assert format_text(formatted) == formatted


def test_goldens_cover_the_language():
    text = "\n".join((GOLDEN / f"{name}.rules").read_text(encoding="utf-8") for name in GOLDENS)
    for construct in ["= icd10", "= hcpcs", "= modifier", "= pos", "= revenue", "= text", "..",
                      "*", "from \"valuesets/", "override valueset", "override rule",
                      "disable rule", "columns", "rows effective from", "through", "citation",
                      "effective", "when", "for each line where", "require not bundled per",
                      "bypass modifiers", "require units within", " or ", " and ", "not (",
                      "param.", "months", "year", "days", "is not absent", "not in", "any ",
                      "all ", "no ", "else review", "else info", "N362 M62", '\\"', "\\\\"]:
        assert construct in text, construct


# ---- the bundled packs -------------------------------------------------------------------------

def _pack_params():
    for path in PACK_FILES:
        name = path.relative_to(ROOT).as_posix()
        marks = [pytest.mark.xfail(strict=True, reason=NOT_YET_CANONICAL[name])] \
            if name in NOT_YET_CANONICAL else []
        yield pytest.param(path, marks=marks, id=name)


@pytest.mark.parametrize("path", list(_pack_params()))
def test_bundled_pack_file_is_already_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_bundled_pack_file_formats_stably_and_keeps_meaning(path):
    text = path.read_text(encoding="utf-8")
    formatted = format_text(text, str(path))
    assert format_text(formatted) == formatted
    assert meaning(formatted) == meaning(text)
    assert comments(formatted) == comments(text)


def _perturb(text: str, rng: random.Random) -> str:
    """The text with comments, line breaks and spaces put between some of its tokens."""
    stops = [m.end() for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[^\s"#]+', text)
             if m.group()[0] != "#"]
    for n, stop in enumerate(sorted(rng.sample(stops, min(8, len(stops))), reverse=True)):
        insert = rng.choice([f"  # trailing {n}\n", f"\n# own line {n}\n", "\n", "   ",
                             f" # trailing {n}\n  # then own line {n}\n", f"\n\n  # after a blank {n}\n\n"])
        text = text[:stop] + insert + text[stop:]
    return text


@pytest.mark.parametrize("seed", range(40))
def test_comments_anywhere_survive_and_settle(seed):
    rng = random.Random(seed)
    sources = PACK_FILES + sorted(GOLDEN.glob("*.rules"))
    original = rng.choice(sources).read_text(encoding="utf-8")
    text = _perturb(original, rng)
    formatted = format_text(text)  # raises InternalError if a comment or a rule would change
    assert comments(formatted) == comments(text)
    assert meaning(formatted) == meaning(original)
    assert format_text(formatted) == formatted


# ---- details -------------------------------------------------------------------------------

def test_empty_and_comment_only_files():
    assert format_text("") == ""
    assert format_text("\n  \n\t\n") == ""
    assert format_text("# one   \n\n\n\n# two") == "# one\n\n# two\n"


def test_texts_are_re_escaped_and_mean_the_same():
    source = 'disable rule OLD because "a \\"quoted\\" word, C:\\\\dir and \\q"\n'
    formatted = format_text(source)
    assert formatted == 'disable rule OLD because "a \\"quoted\\" word, C:\\\\dir and \\\\q"\n'
    reason = parse(formatted, "x")[0].disables[0].reason.value
    assert reason == parse(source, "x")[0].disables[0].reason.value == 'a "quoted" word, C:\\dir and \\q'


def test_syntax_error_is_the_usual_diagnostic():
    with pytest.raises(SyntaxProblem) as caught:
        format_text('rule X "t"\n  category coverage\n  require claim.plan = "HMO"\n  else deny claim C0-50\n',
                    "bad.rules")
    assert str(caught.value.diagnostic.pos) == "bad.rules:4:19"
    assert caught.value.diagnostic.code == "syntax"


def test_a_result_that_changes_the_rules_is_refused(monkeypatch):
    source = (GOLDEN / "clauses.rules").read_text(encoding="utf-8")
    monkeypatch.setattr(formatter, "_layout", lambda text: text.replace("CO-236", "CO-97"))
    with pytest.raises(InternalError, match="same rules"):
        format_text(source)


def test_a_result_that_loses_a_comment_is_refused(monkeypatch):
    source = (GOLDEN / "comments.rules").read_text(encoding="utf-8")
    monkeypatch.setattr(formatter, "_layout", lambda text: text.replace("# only 82306", ""))
    with pytest.raises(InternalError, match="comments"):
        format_text(source)


# ---- the command -----------------------------------------------------------------------------

@pytest.fixture
def pack(tmp_path):
    """A folder with one unformatted file, one formatted file, and files fmt must not read."""
    folder = tmp_path / "pack"
    (folder / "tests").mkdir(parents=True)
    (folder / ".cache").mkdir()
    (folder / "messy.rules").write_text((GOLDEN / "spacing.rules").read_text(encoding="utf-8"))
    (folder / "tidy.rules").write_text((ROOT / "payer_rules/medicare/filing.rules").read_text(encoding="utf-8"))
    for hidden in (folder / "tests" / "case.rules", folder / ".cache" / "old.rules"):
        hidden.write_text("rule broken")
    (folder / "notes.txt").write_text("rule broken")
    return folder


def fmt(*args):
    return CliRunner().invoke(main, ["fmt", *map(str, args)], catch_exceptions=False)


def snapshot(folder: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_check_lists_what_would_change_exits_1_and_changes_nothing(pack):
    before = snapshot(pack)
    result = fmt("--check", pack)
    assert result.exit_code == 1
    assert result.stdout == f"would reformat {pack / 'messy.rules'}\n"
    assert "1 file would be reformatted, 1 file would be left unchanged." in result.stderr
    assert snapshot(pack) == before


def test_check_exits_0_on_formatted_files(tmp_path):
    assert fmt("--check", ROOT / "payer_rules" / "acme-commercial").exit_code == 0
    for name in GOLDENS:
        (tmp_path / f"{name}.rules").write_text((GOLDEN / f"{name}.rules.formatted").read_text())
    result = fmt("--check", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_fmt_rewrites_changed_files_in_place_and_leaves_the_rest(pack):
    (pack / "messy.rules").chmod(0o640)
    tidy = snapshot(pack)[pack / "tidy.rules"]
    result = fmt(pack)
    assert result.exit_code == 0
    assert result.stdout == f"reformatted {pack / 'messy.rules'}\n"
    assert (pack / "messy.rules").read_text() == (GOLDEN / "spacing.rules.formatted").read_text()
    assert stat.S_IMODE((pack / "messy.rules").stat().st_mode) == 0o640
    assert snapshot(pack)[pack / "tidy.rules"] == tidy  # not rewritten at all
    assert sorted(p.name for p in pack.iterdir()) == [".cache", "messy.rules", "notes.txt",
                                                      "tests", "tidy.rules"]  # no temp files
    again = fmt(pack)
    assert again.exit_code == 0 and again.stdout == ""
    assert "0 files reformatted, 2 files left unchanged." in again.stderr


def test_diff_prints_a_unified_diff_and_writes_nothing(pack):
    before = snapshot(pack)
    result = fmt("--diff", pack)
    assert result.exit_code == 0
    messy = pack / "messy.rules"
    assert result.stdout.startswith(f"--- {messy}\n+++ {messy} (formatted)\n@@ ")
    assert "-valueset a = hcpcs {99460} valueset b = hcpcs {99461}\n" in result.stdout
    assert "+valueset a = hcpcs {99460}\n+valueset b = hcpcs {99461}\n" in result.stdout
    assert snapshot(pack) == before
    assert fmt("--diff", "--check", pack).exit_code == 1


def test_a_file_that_does_not_parse_is_reported_and_never_touched(pack):
    bad = pack / "bad.rules"
    bad.write_text('rule X "t"\n  category   coverage\n  require claim.plan = "HMO"\n'
                   '  else deny claim C0-50\n')
    before = snapshot(pack)[bad]
    result = fmt(pack)
    assert result.exit_code == 2
    assert (f"{bad}:4:19: syntax: unexpected 'C0'; expected a group code and CARC (like CO-50)\n"
            "    4 |   else deny claim C0-50\n"
            "      |                   ^\n") in result.stderr
    assert snapshot(pack)[bad] == before
    assert (pack / "messy.rules").read_text() == (GOLDEN / "spacing.rules.formatted").read_text()
    assert fmt("--check", bad).exit_code == 2


def test_an_internal_error_leaves_the_file_alone_and_exits_123(pack, monkeypatch):
    monkeypatch.setattr(formatter, "_layout", lambda text: text.replace(" CO-", " PR-"))
    before = snapshot(pack)
    result = fmt(pack)
    assert result.exit_code == 123
    for name in ("messy.rules", "tidy.rules"):
        assert (f"{pack / name}: internal error, file left unchanged: the formatted text does "
                "not parse to the same rules") in result.stderr
    assert snapshot(pack) == before


def test_windows_line_endings_are_kept(tmp_path):
    path = tmp_path / "crlf.rules"
    path.write_bytes(b"valueset   a = hcpcs {82306}\r\n# note\r\n")
    assert fmt("--check", path).exit_code == 1
    assert fmt(path).exit_code == 0
    assert path.read_bytes() == b"valueset a = hcpcs {82306}\r\n# note\r\n"
    assert fmt("--check", path).exit_code == 0


def test_a_named_file_is_formatted_whatever_its_folder(pack):
    case = pack / "tests" / "case.rules"
    case.write_text("valueset   a = hcpcs {82306}")
    assert fmt(case).exit_code == 0
    assert case.read_text() == "valueset a = hcpcs {82306}\n"


def test_unreadable_and_missing_files_are_input_errors(tmp_path):
    latin = tmp_path / "latin1.rules"
    latin.write_bytes('disable rule OLD because "caf\xe9"\n'.encode("latin-1"))
    result = fmt(latin)
    assert result.exit_code == 2
    assert f"{latin}: cannot read:" in result.stderr
    assert fmt(tmp_path / "nowhere.rules").exit_code == 2
