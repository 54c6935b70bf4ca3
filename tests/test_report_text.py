"""The text report as a biller reads it: each claim's findings in its table, summary
tables that add up to the claims given, plain ASCII when saved or piped, colour on a
terminal, long values wrapped and never cut, and claim text that cannot break the layout."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.padding import Padding

from rulesengine import ClaimError, load_pack, read_claims
from rulesengine.language.checker import CATEGORIES
from rulesengine.claims import claim_from_data
from rulesengine.cli import main
from rulesengine.packs.load import PackSet
from rulesengine.reports.json import Summary
from rulesengine.reports.tally import CARC_TEXT
from rulesengine.reports.text import (INDENT, ROWS_SHOWN, WIDTH, TextWriter, drawn,
                                     finding_cells, findings_table)

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "examples" / "claims"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7])(?:;[0-9;]*)?m")  # a foreground colour


@pytest.fixture(scope="module")
def packs():
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # rule files relative to the repository, as a user at its root sees them
        return PackSet([load_pack("payer_rules/medicare"),
                        load_pack("payer_rules/acme-commercial")])


@pytest.fixture(scope="module")
def example_day(packs):
    """The example claims: their results checked here, and the text report of them."""
    items = [c for path in sorted(CLAIMS.glob("*.json")) for c in read_claims(str(path))]
    results = [None if isinstance(c, ClaimError) else packs.for_claim(c).check(c) for c in items]
    return items, results, write_report(packs, items, results)


def write_report(packs, items, results=None, **options) -> str:
    """Feed claims through a TextWriter as the check command does."""
    out = io.StringIO()
    writer, summary = TextWriter(out, [p.info for p in packs.packs], **options), Summary()
    for i, item in enumerate(items):
        if isinstance(item, ClaimError):
            summary.add_error(item)
            writer.error(item)
            continue
        result = results[i] if results else packs.for_claim(item).check(item)
        summary.add(result)
        writer.result(result, item)
    writer.close(summary)
    return out.getvalue()


# ---- reading the report back, as a person reads it ------------------------------------------

CLAIM_LINE = re.compile(r"^(\S+)  (CLEAN|REVIEW|DENIED)(?:  \((\d+) findings?\))?$")
FINDING_HEADS = ("Line", "Action", "CARC", "RARC", "Rule", "Message")


def claim_blocks(text: str) -> dict[str, tuple[str, list[dict]]]:
    """Claim id -> (outcome, its findings read from its table by column, wrapped cells joined)."""
    lines, blocks, i = text.splitlines(), {}, 0
    while i < len(lines) and lines[i]:
        match = CLAIM_LINE.match(lines[i])
        i += 1
        if not match:
            assert lines[i - 1].startswith("UNREADABLE  "), lines[i - 1]
            continue
        claim_id, outcome, count = match.group(1), match.group(2), int(match.group(3) or 0)
        rows: list[list[list[str]]] = []
        if count:
            head = lines[i]
            starts = [head.index(name) for name in FINDING_HEADS] + [None]
            assert set(lines[i + 1].strip()) == {"-"}
            i += 2
            while i < len(lines) and lines[i].startswith(" " * INDENT):
                cells = [lines[i][a:b].strip() for a, b in pairwise(starts)]
                if cells[0]:
                    rows.append([[c] if c else [] for c in cells])
                else:  # a wrapped row goes on under its cells
                    for column, cell in zip(rows[-1], cells):
                        column.extend([cell] if cell else [])
                i += 1
        findings = [{"line": line[0], "action": action[0], "carc": carc[0],
                     "rarc": " ".join(rarc), "rule": "".join(rule), "message": " ".join(message)}
                    for line, action, carc, rarc, rule, message in rows]
        assert len(findings) == count, claim_id
        blocks[claim_id] = (outcome, findings)
    return blocks


def summary_tables(text: str) -> dict[str, list[list[str]]]:
    """Heading -> rows of cells (split on runs of blanks; a wrapped cell's next line joined
    to the row's second cell, where the tables that wrap keep their text)."""
    tables: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(" ") and i + 1 < len(lines) and (
                lines[i + 1].startswith(" " * INDENT) and i > 0 and lines[i - 1] == ""):
            rows, j = [], i + 1
            while j < len(lines) and lines[j].startswith(" " * INDENT):
                rows.append(lines[j])
                j += 1
            table = []
            for row in rows:
                if row.startswith(" " * (INDENT + 1)):
                    table[-1][1] += " " + row.strip()
                else:
                    table.append(re.split(r"\s{2,}", row.strip()))
            tables[line] = table
    return tables


def test_each_finding_is_in_its_claims_table(example_day):
    _, results, text = example_day
    blocks = claim_blocks(text)
    checked = [r for r in results if r is not None]
    assert list(blocks) == [r.claim_id for r in checked]  # every claim, in order, clean ones too
    for result in checked:
        outcome, rows = blocks[result.claim_id]
        assert outcome == result.status.upper()
        assert rows == [{"line": "claim" if f.line_number is None else str(f.line_number),
                         "action": f.severity, "carc": f"{f.group_code}-{f.carc}",
                         "rarc": " ".join(f.rarc), "rule": f.rule_id, "message": f.message}
                        for f in result.findings]
    assert sum(len(rows) for _, rows in blocks.values()) == 21
    assert blocks["NCCI-BUNDLED"][1][0]["message"] == (
        "81105 is a column-two code of 0001U (line 1) on 2026-07-22 (NCCI modifier indicator 1)")


def test_summary_tables_add_up_to_the_claims_given(example_day):
    items, results, text = example_day
    checked = [r for r in results if r is not None]
    findings = [f for r in checked for f in r.findings]
    tables = summary_tables(text)
    assert list(tables) == ["Outcomes", "Findings by category", "Findings by denial code (CARC)",
                            "Claims by payer", "Procedure codes most at risk", "Findings by rule"]
    outcomes = {row[0]: row[1:] for row in tables["Outcomes"][2:]}
    statuses = Counter(r.status for r in checked)
    assert outcomes["Clean"] == [str(statuses["clean"]), "50.0%", "clean-claim rate"]
    assert outcomes["Denied"] == [str(statuses["denied"]), "50.0%", "denial rate"]
    assert outcomes["Review"] == [str(statuses["review"]), "0.0%"]
    assert outcomes["Checked"] == [str(len(checked)), "100.0%"]
    assert outcomes["Unreadable"] == ["1", "not checked, not in the rates"]
    assert len(items) == len(checked) + 1

    categories = {row[0]: row[1:] for row in tables["Findings by category"][2:]}
    assert categories["Medical necessity"] == [CATEGORIES["medical_necessity"], "3", "3"]
    assert sum(int(row[1]) for row in categories.values()) == len(findings)

    codes = {row[0]: row[1:] for row in tables["Findings by denial code (CARC)"][2:]
             if not row[0].startswith("Group code")}
    assert {code: int(row[1]) for code, row in codes.items()} == Counter(
        f"{f.group_code}-{f.carc}" for f in findings)
    for code, (meaning, _, _) in codes.items():
        assert meaning == CARC_TEXT[code.split("-")[1]]  # the meaning, whole, though wrapped
    assert codes["CO-151"][1:] == ["3", "2"]  # two findings on lines of one claim

    payers = {row[0]: row[1:] for row in tables["Claims by payer"][2:]}
    assert payers == {"medicare": ["31", "15", "0", "16", "48.4%", "17"],
                      "acme-commercial": ["7", "4", "0", "3", "57.1%", "4"]}
    assert sum(int(row[0]) for row in payers.values()) == len(checked)

    rules = tables["Findings by rule"][2:]
    assert sum(int(row[3]) for row in rules) == len(findings)
    assert ["TF-PROFESSIONAL", "Filing limit", "CO-29", "1", "1", "acme-commercial"] in rules
    assert tables["Procedure codes most at risk"][2] == ["82306", "3", "3", "MN-VITD-82306 (3)"]
    assert text.splitlines()[-1].startswith("38 claims checked: 19 clean, 0 review, 19 denied")


def test_saved_or_piped_the_report_is_plain_and_the_same_whatever_the_environment(tmp_path,
                                                                                  monkeypatch):
    monkeypatch.chdir(ROOT)
    args = ["check", "examples/claims", "--pack", "payer_rules/medicare",
            "--pack", "payer_rules/acme-commercial"]
    golden = (ROOT / "examples" / "expected-report.txt").read_text()
    # what would switch on colour or change the width of a terminal report changes nothing here
    for name, value in (("FORCE_COLOR", "1"), ("TTY_COMPATIBLE", "1"), ("COLUMNS", "40")):
        monkeypatch.setenv(name, value)
    piped = CliRunner().invoke(main, args).output
    CliRunner().invoke(main, [*args, "--output", str(tmp_path / "day.txt")])
    saved = (tmp_path / "day.txt").read_text()
    assert piped == saved == golden
    assert "\x1b" not in saved
    for line in saved.splitlines()[:-1]:  # the last, the one-line summary, as it always was
        if not line.startswith("UNREADABLE  "):  # an error stays one line, whole, for grep
            assert len(line) <= WIDTH and line.isascii() and line == line.rstrip(), line


def test_on_a_terminal_there_is_colour_and_box_drawing(packs, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    items = list(read_claims(str(CLAIMS / "dirty.json")))
    text = write_report(packs, items, terminal=True, width=120)
    assert COLOUR.search(text) and "\x1b[31mdeny\x1b[0m" in text and "─" in text
    assert "\x1b[1;31mDENIED\x1b[0m" in text
    # the same report, read without its escape codes
    plain = ANSI.sub("", text)
    assert "NCCI-BUNDLED  DENIED  (1 finding)" in plain
    assert max(len(line) for line in plain.splitlines()[:-1]) <= 120

    monkeypatch.setenv("NO_COLOR", "1")
    quiet = write_report(packs, items, terminal=True, width=120)
    assert not COLOUR.search(quiet) and "─" in quiet
    assert ANSI.sub("", quiet) == plain


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_command_on_a_real_terminal_is_in_colour():
    def run(**env) -> str:
        primary, secondary = os.openpty()
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
        process = subprocess.Popen(
            [sys.executable, "-m", "rulesengine", "check", "examples/claims/dirty.json",
             "--pack", "payer_rules/medicare"], cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=secondary, stderr=secondary, env={**environ, "TERM": "xterm", **env})
        os.close(secondary)
        data = b""
        while select.select([primary], [], [], 60)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closes with the process
                break
            if not chunk:
                break
            data += chunk
        os.close(primary)
        assert process.wait(timeout=60) == 1  # findings
        return data.decode("utf-8").replace("\r\n", "\n")

    coloured = run()
    assert COLOUR.search(coloured) and "─" in coloured
    assert ANSI.sub("", coloured).rstrip().endswith("pack medicare 2026.3")
    assert not COLOUR.search(run(NO_COLOR="1"))


def test_long_messages_and_rule_ids_wrap_within_their_columns_and_are_not_cut(packs):
    medicare = packs.packs[0]
    claim = claim_from_data(json.loads((CLAIMS / "dirty.json").read_text())[0])
    result = medicare.check(claim)
    words = ("82306 is not supported by the diagnoses on this line; LCD L33996 and billing "
             "article A56798 list the covered ICD-10-CM codes, among them "
             "E55.0,E55.9,E83.52,E21.0,E21.1,E21.2,E21.3,E21.4,E21.5,K90.0,K90.1,K90.89,N18.30 "
             "and more, which the ordering provider should review before resubmitting")
    rule = "MN-VITD-82306-WITH-A-RULE-ID-LONGER-THAN-ITS-COLUMN"
    finding = replace(result.findings[0], message=words, rule_id=rule)
    out = io.StringIO()
    writer = TextWriter(out, [medicare.info])
    writer.result(replace(result, findings=(finding, finding)), claim)
    text = out.getvalue()
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    _, rows = claim_blocks(text + "\n")[result.claim_id]
    for row in rows:  # each cell read back whole: words kept, the long ones folded
        assert row["rule"] == rule
        assert row["message"].replace(" ", "") == words.replace(" ", "")
        assert "ICD-10-CM" in row["message"] and "resubmitting" in row["message"]
    assert len(lines) > 1 + 2 + 2 * 4  # each finding took several lines


def test_the_findings_rows_are_what_rich_draws_for_the_same_table(example_day, packs):
    _, results, _ = example_day
    medicare = packs.packs[0]
    long = replace(next(r for r in results if r and r.findings).findings[0],
                   message="a  message with  double spaces, then " + "X" * 120 + " and a tail",
                   rule_id="R" * 50)
    cases = [r.findings for r in results if r and r.findings] + [(long,)]
    for terminal in (False, True):
        writer = TextWriter(io.StringIO(), [medicare.info], terminal=terminal, width=WIDTH)
        layout = writer.layout
        for findings in cases:
            ours = "".join(layout.rows(findings))
            table = findings_table(layout.widths, layout.box,
                                   [finding_cells(f) for f in findings])
            rich = drawn(writer.console, Padding(table, (0, 0, 0, INDENT)))
            assert ANSI.sub("", ours) == ANSI.sub("", rich)


def test_claim_text_cannot_colour_or_split_the_report(packs):
    data = json.loads((CLAIMS / "dirty.json").read_text())[0]
    data["claim_id"] = "EVIL\x1b[31m\nFORGED  CLEAN"
    text = write_report(packs, [claim_from_data(data)])
    assert "\x1b" not in text
    assert text.splitlines()[0] == "EVIL\\x1b[31m\\nFORGED  CLEAN  DENIED  (1 finding)"


def test_each_claim_is_written_as_it_is_checked(packs):
    """The report streams: a claim's block is out before the next claim comes, nothing is
    held back for the end but the tallies."""
    items = list(read_claims(str(CLAIMS / "dirty.json")))
    out = io.StringIO()
    medicare = packs.packs[0]
    writer = TextWriter(out, [medicare.info])
    for claim in items:
        result = medicare.check(claim)
        before = len(out.getvalue())
        writer.result(result, claim)
        outcome, rows = claim_blocks(out.getvalue()[before:])[claim.claim_id]
        assert outcome == result.status.upper()
        assert [row["rule"] for row in rows] == [f.rule_id for f in result.findings]


def test_many_payers_and_rules_are_summed_beyond_the_rows_shown(packs):
    medicare = packs.packs[0]
    base = claim_from_data(json.loads((CLAIMS / "dirty.json").read_text())[0])
    count = ROWS_SHOWN + 7
    items = [replace(base, claim_id=f"D{i}", payer_id=f"payer-{i:02d}") for i in range(count)]
    out = io.StringIO()
    writer, summary = TextWriter(out, [medicare.info]), Summary()
    for claim in items:
        result = medicare.check(claim)
        summary.add(result)
        writer.result(result, claim)
    writer.close(summary)
    payers = summary_tables(out.getvalue())["Claims by payer"][2:]
    assert len(payers) == ROWS_SHOWN + 1
    assert payers[-1] == ["(7 more payers)", "7", "0", "0", "7", "0.0%", "7"]
    assert sum(int(row[1]) for row in payers) == count


def test_an_empty_run_says_so(packs):
    out = io.StringIO()
    TextWriter(out, [packs.packs[0].info]).close(Summary())
    text = out.getvalue()
    assert "No findings." in text and "No claims were checked." in text
    assert text.splitlines()[-1].startswith("0 claims checked")
