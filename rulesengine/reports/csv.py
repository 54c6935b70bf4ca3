"""Findings as CSV, for spreadsheets and work queues: one row per finding.

Streams like the other writers (a row is written as each result arrives). Besides a row
per finding, a clean claim gets one row with its status and the finding columns empty, and
an unreadable claim one row with status ``unreadable`` (a file error: ``envelope``) and the
error as its message, so every claim in the batch appears and the rows add up to the
summary. Each of a claim's rows carries its reader's warnings, joined by `` | ``.
"""

from __future__ import annotations

import csv
from typing import TextIO

from rulesengine.claims import ClaimError
from rulesengine.claims.model import Claim
from rulesengine.engine.results import Finding, PackInfo, Result

from .summary import Summary

COLUMNS = ("claim_id", "status", "line_number", "rule_id", "category", "severity",
           "group_code", "carc", "rarc", "message", "pack", "source", "citation", "warnings")

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets
# (CSV injection); claim ids and messages carry claim text, so such cells get a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _NewlineRows:
    """Rows end in "\n", as the other writers' lines (spreadsheets read it, and stdout on
    Windows adds the "\r"); but csv quotes only a field holding a character of its line
    terminator, so the rows are made with "\r\n" (a CR inside a claim id is then quoted,
    never a new spreadsheet row) and the "\r" of the end taken off here."""

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, row: str) -> int:
        return self.out.write(row[:-2] + "\n")


class CsvWriter:
    """Write findings as CSV rows (columns: :data:`COLUMNS`), a header first."""

    def __init__(self, out: TextIO, packs: list[PackInfo]):
        self.rows = csv.writer(_NewlineRows(out), lineterminator="\r\n")
        self.rows.writerow(COLUMNS)

    def result(self, result: Result, claim: Claim | None = None) -> None:
        if not result.findings:
            self.rows.writerow([_cell(result.claim_id), result.status] + [""] * (len(COLUMNS) - 3)
                               + [_warnings(result)])
        for finding in result.findings:
            self.rows.writerow(_finding_row(result, finding))

    def error(self, error: ClaimError) -> None:
        row = dict.fromkeys(COLUMNS, "")
        row.update(claim_id=_cell(error.claim_id), status=error.kind, message=_cell(str(error)))
        self.rows.writerow(row.values())

    def close(self, summary: Summary) -> None:
        pass


def _finding_row(result: Result, f: Finding) -> list[str]:
    return [_cell(result.claim_id), result.status,
            "" if f.line_number is None else str(f.line_number),
            _cell(f.rule_id), f.category, f.severity, f.group_code, f.carc, " ".join(f.rarc),
            _cell(f.message), _cell(f.pack), _cell(f"{f.source_file}:{f.source_line}"),
            _cell(f.citation), _warnings(result)]


def _warnings(result: Result) -> str:
    return _cell(" | ".join(result.warnings))
