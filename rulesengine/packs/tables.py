"""Tables: CSV files a pack declares with typed columns and, optionally, per-row dates.

A table is data, not rules: a quarter's NCCI file of a million pairs is one table. Each
row may carry the dates it is in force (an NCCI row's effective and deletion dates);
a rule consults only the rows in force on the line's date of service.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from rulesengine.codes.kinds import CODE_KINDS, normalize, shape_error
from rulesengine.engine.checked import TableData
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic, did_you_mean, read_source

from .confinement import named_file

COLUMN_TYPES = set(CODE_KINDS) | {"integer", "number", "date"}

#: cells that mean "no date" in a date column (CMS writes '*' for an edit not deleted)
_OPEN_DATES = {"", "*"}


@functools.lru_cache(maxsize=1 << 12)
def date_cell(text: str) -> date | None:
    """A date cell: None when open (blank or ``*``). Cached: a table of many rows holds
    few distinct dates, and strptime is most of the cost of loading an NCCI or MUE table."""
    if text in _OPEN_DATES:
        return None
    if len(text) == 8 and text.isdigit():  # CMS files write YYYYMMDD
        return datetime.strptime(text, "%Y%m%d").date()
    return date.fromisoformat(text)


#: what a cell of each plain type looks like, for the hint of a cell that is not one
_CELL_HINTS = {
    "integer": "an integer column holds whole numbers, like 1 or 12",
    "number": "a number column holds numbers, like 1 or 2.5",
    "date": "a date is written 2026-07-01 or 20260701; '*' or an empty cell means no date",
}


def _cell(kind: str, text: str):
    """A cell's value, or raise ValueError saying why it is not of ``kind``."""
    text = text.strip()
    if kind in _CELL_HINTS:
        try:
            if kind == "integer":
                return int(text)
            if kind == "number":
                return float(text)
            return date_cell(text)
        except ValueError:
            what = {"integer": "a whole number", "number": "a number", "date": "a date"}[kind]
            raise ValueError(f"'{text}' is not {what}") from None
    if kind == "text":
        return text
    if not text:  # an empty code cell has no value (an add-on code with no listed primary)
        return None
    code = normalize(kind, text)
    if "*" in code:
        raise ValueError(f"'{code}': a table cell holds one code, not a pattern")
    problem = shape_error(kind, code)
    if problem:
        raise ValueError(problem)
    return code


def load_table(decl: ast.Table, pack_dir: Path, roots: Iterable[Path] = ()
               ) -> tuple[TableData | None, list[Diagnostic]]:
    """The table's rows, read from its file (inside ``pack_dir`` or ``roots``), or None and
    what is wrong with the declaration or the file."""
    problems: list[Diagnostic] = []
    for column in decl.columns:
        if column.type not in COLUMN_TYPES:
            problems.append(Diagnostic(
                "unknown-type", column.type_pos, f"'{column.type}' is not a column type",
                did_you_mean(column.type, COLUMN_TYPES)
                or "column types: " + ", ".join(sorted(COLUMN_TYPES))))
    declared = {c.name: c for c in decl.columns}
    for ref in (decl.effective_from, decl.effective_through):
        if ref is not None and ref.name not in declared:
            problems.append(Diagnostic(
                "unknown-column", ref.pos, f"table {decl.name} declares no column '{ref.name}'",
                did_you_mean(ref.name, declared)
                or f"declare it after 'columns', like: {ref.name} date"))
        elif ref is not None and declared[ref.name].type != "date":
            problems.append(Diagnostic(
                "type-mismatch", ref.pos, f"column '{ref.name}' must be of type date to date rows"))
    path, outside = named_file(pack_dir, decl.path.value, decl.path.pos, "table file",
                               [pack_dir, *roots])
    if outside:
        return None, [*problems, outside]
    if not path.is_file():
        problems.append(Diagnostic("missing-file", decl.path.pos,
                                   f"table file '{decl.path.value}' not found in {pack_dir}"))
    if problems:
        return None, problems

    content, problem = read_source(path)
    if problem is not None:
        return None, [problem]
    header = [h.strip() for h in next(csv.reader(io.StringIO(content, newline="")), [])]
    missing = [c for c in decl.columns if c.name not in header]
    for column in missing:
        problems.append(Diagnostic(
            "missing-column", column.pos,
            f"table file '{decl.path.value}' has no column '{column.name}'",
            did_you_mean(column.name, header) or "its columns are: " + ", ".join(header)))
    if problems:
        return None, problems
    where = [header.index(c.name) for c in decl.columns]
    kinds = [c.type for c in decl.columns]
    rows = _typed_rows(content, len(header), kinds, where)
    if rows is None:  # a blank, short or bad row: read again row by row to say where
        rows, problems = _rows_one_by_one(decl, path, content, len(header), kinds, where)
    names = tuple(c.name for c in decl.columns)
    pick = (lambda ref: names.index(ref.name) if ref is not None else None)
    return TableData(decl.name, names, tuple(rows), pick(decl.effective_from),
                     pick(decl.effective_through), tuple(kinds)), problems


#: rows typed at a time: bounds what the column-wise reading holds beside the rows
_CHUNK = 1 << 16


class _Typed(dict):
    """A column's cells as written -> their values, each typed when first met."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def __missing__(self, text: str):
        value = self[text] = _cell(self.kind, text)
        return value


def _typed_rows(content: str, width: int, kinds: list[str], where: list[int]) -> list[tuple] | None:
    """The rows typed column by column, each distinct cell of a column typed once (a
    million-row NCCI file holds some 90,000 codes, a few dates and three indicators);
    None when a row is blank, short or has a bad cell, which ``_rows_one_by_one`` reports."""
    reader = csv.reader(io.StringIO(content, newline=""))
    next(reader, None)
    columns = [(at, _Typed(kind).__getitem__) for kind, at in zip(kinds, where)]
    rows: list[tuple] = []
    while chunk := list(itertools.islice(reader, _CHUNK)):
        if min(map(len, chunk)) < width:
            return None
        cells = list(zip(*chunk))
        if any(not text.strip() for text in set(cells[0])):  # maybe a blank row
            return None
        try:
            rows.extend(zip(*[list(map(typed, cells[at])) for at, typed in columns]))
        except ValueError:
            return None
    return rows


def _rows_one_by_one(decl: ast.Table, path: Path, content: str, width: int, kinds, where
                     ) -> tuple[list[tuple], list[Diagnostic]]:
    """The rows and what is wrong with them, by line (blank rows skipped), up to 20."""
    problems: list[Diagnostic] = []
    rows = []
    reader = csv.reader(io.StringIO(content, newline=""))
    next(reader, None)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < width:
            problems.append(Diagnostic(
                "bad-row", ast.Pos(str(path), reader.line_num, 1),
                f"row does not fit table {decl.name}: it has {len(row)} cells and the header {width}"))
        else:
            try:
                rows.append(tuple(_cell(k, row[i]) for k, i in zip(kinds, where)))
            except ValueError:
                problems.append(_bad_cell(decl, path, reader.line_num, row, kinds, where))
        if len(problems) >= 20:
            break
    return rows, problems


def _bad_cell(decl: ast.Table, path: Path, line: int, row: list[str], kinds, where) -> Diagnostic:
    """The first cell of a row that does not fit its column: named by column, the caret
    under it (cells are counted as written, commas between them)."""
    for column, kind, i in zip(decl.columns, kinds, where):
        try:
            _cell(kind, row[i])
        except ValueError as error:
            at = 1 + sum(len(cell) + 1 for cell in row[:i]) + (len(row[i]) - len(row[i].lstrip()))
            return Diagnostic("bad-row", ast.Pos(str(path), line, at),
                              f"row does not fit table {decl.name}: column {column.name} "
                              f"({column.type}): {error}", _CELL_HINTS.get(kind))
    raise AssertionError("a row that failed has a cell that fails")
