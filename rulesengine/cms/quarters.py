"""Quarterly files in one table (the MUEs, the fee schedule's indicators): a new quarter's
rows are added after the earlier quarters', which stay for claims of earlier dates of
service (CMS applies them by date of service, and claims of last quarter still arrive this
quarter).

A table of this kind holds a code, its values, then ``effective_date`` and
``deletion_date``. ``earlier_rows`` reads the table before the import and decides each row
by its dates; ``QuarterChanges`` compares the new file with the rows in force the day
before, for the notes ``rulesengine import mue`` and ``import mpfs`` print.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from rulesengine.codes.kinds import normalize
from rulesengine.language.diagnostics import read_source
from rulesengine.packs import tables

from .files import MAX_SHOWN, counted


class TableRefused(Exception):
    """The table already there cannot take the new file; ``lines`` say why, by line."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@functools.lru_cache(maxsize=1 << 12)
def _table_date(text: str, column: str) -> date | None:
    # the engine's own reading of a date cell (YYYYMMDD or YYYY-MM-DD; blank or '*' is
    # open), so a row counts as in force here exactly when it does when claims are checked
    try:
        return tables.date_cell(text.strip())
    except ValueError:
        raise ValueError(f"{column} '{text}' is not a date (YYYYMMDD, or blank when open)") from None


@dataclass
class EarlierRows:
    """The rows already in a quarterly table, made ready to sit beside a file in force from
    ``effective``, and the values in force the day before it, by code."""

    effective: date
    rows: list[list[str]] = field(default_factory=list)  # written back, in the table's order
    cut: int = 0  # were still in force on ``effective``: now end the day before
    replaced: int = 0  # started on ``effective`` themselves: left out, the new file replaces them
    # code -> (first day, its values) of its row in force the day before
    before: dict[str, tuple[date, tuple[str, ...]]] = field(default_factory=dict)

    def notes(self) -> list[str]:
        notes = []
        if self.rows:
            cut = (f"; {self.cut} of them were in force on it and now end "
                   f"{self.effective - timedelta(days=1)}") if self.cut else ""
            notes.append(f"kept the table's {counted(len(self.rows), 'earlier row')} for dates of "
                         f"service before {self.effective}{cut}")
        if self.replaced:
            notes.append(f"replaced the table's {counted(self.replaced, 'row')} in force from "
                         f"{self.effective} (this quarter was imported before)")
        return notes


def earlier_rows(path: Path, effective: date, columns: tuple[str, ...], command: str) -> EarlierRows:
    """The rows of the table at ``path`` (of ``columns``, as ``import COMMAND`` writes them)
    as they stay beside a file in force from ``effective``. CMS applies these by date of
    service, so a late claim for an earlier date keeps its own: a row that ended before
    ``effective`` stays as it is, one still in force on it is cut to end the day before, and
    one starting on it is left out (the same quarter imported again, which gives the same
    table). A row starting after it is refused: quarters are imported oldest first."""
    first, last = columns.index("effective_date"), columns.index("deletion_date")
    text, problem = read_source(path)
    if problem is not None:
        raise TableRefused([f"{problem.pos}: {problem.message}"])
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(c.strip() for c in next(reader, []))
    if header != columns:
        raise TableRefused([(f"{path}:1: its columns are {','.join(header) or '(none)'}, not "
                            f"{','.join(columns)} as 'import {command}' writes them; give --replace to "
                            "write the file's rows alone, or --output another file; nothing written")])
    found = EarlierRows(effective)
    day_before = effective - timedelta(days=1)
    cut_to = day_before.strftime("%Y%m%d")
    bad, later = [], []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        try:
            if len(cells) < len(columns):
                raise ValueError(f"{len(cells)} cells where {len(columns)} are expected "
                                 f"({', '.join(columns)})")
            start, end = _table_date(cells[first], "effective_date"), _table_date(cells[last], "deletion_date")
        except ValueError as error:
            bad.append(f"{path}:{reader.line_num}: {error}")
            continue
        if start is not None and start > effective:
            later.append(f"{path}:{reader.line_num}: {cells[0]} is in force from {start}, after this "
                         f"file's {effective}")
            continue
        if start == effective:
            found.replaced += 1
            continue
        if (start is None or start <= day_before) and (end is None or end >= day_before):
            code = normalize("hcpcs", cells[0])
            known = found.before.get(code)
            if known is None or (start or date.min) >= known[0]:  # the later start governs
                found.before[code] = (start or date.min, tuple(c.strip() for c in cells[1:first]))
        if end is None or end >= effective:
            cells = [*cells[:last], cut_to, *cells[last + 1:]]
            found.cut += 1
        found.rows.append(cells)
    if bad:
        raise TableRefused(_capped(bad, "more malformed row") + [
            (f"{counted(len(bad), 'malformed row')} in the table: nothing written (fix them, or give "
            "--replace to write the file's rows alone)")])
    if later:
        raise TableRefused(later[:1] + [
            (f"the table already holds {counted(len(later), 'row')} in force from a later date than "
            f"{effective}: nothing written. Import the quarters oldest first; to rebuild the table, "
            "import the oldest with --replace, then each later one")])
    return found


@dataclass
class QuarterChanges:
    """The new file's codes against the values in force the day before it: what a reviewer
    of the quarter wants to see first, which the table's diff (every row added) does not."""

    before: dict[str, tuple[date, tuple[str, ...]]]
    #: what the values between the code and the dates are called in a note
    names: tuple[str, ...] = ("MUE", "adjudication", "rationale")
    what: str = "MUE"  # what a code that is no longer listed has no more of
    unchanged: int = 0
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def compared(self, rows):
        """``rows`` as they are, noting each code's change on the way."""
        for row in rows:
            code, now = row[0], tuple(row[1:1 + len(self.names)])
            if code not in self.seen:
                self.seen.add(code)
                was = self.before.get(code)
                if was is None:
                    self.added.append(code)
                elif was[1] == now:
                    self.unchanged += 1
                else:
                    self.changed.append(f"{code} {_what_changed(self.names, was[1], now)}")
            yield row

    def notes(self, effective: date) -> list[str]:
        day_before = effective - timedelta(days=1)
        if not self.before:
            return [f"no row of the table was in force on {day_before}: nothing to compare the file with"]
        gone = sorted(set(self.before) - self.seen)
        out = [(f"against the rows in force on {day_before}: {counted(self.unchanged, 'code')} unchanged, "
               f"{len(self.changed)} changed, {len(self.added)} new, {len(gone)} no longer listed")]
        for label, items in (("changed", self.changed), ("new", self.added),
                             (f"no longer listed (no {self.what} from {effective})", gone)):
            out += [f"  {label}: {item}" for item in _capped(items, "more")]
        return ["\n".join(out)]


def _what_changed(names: tuple[str, ...], was: tuple[str, ...], now: tuple[str, ...]) -> str:
    """'MUE 2 -> 3', 'adjudication 3 -> 2', "rationale 'A' -> 'B'": those that differ."""
    return ", ".join(f"{name} {old} -> {new}" if name != "rationale" else f"{name} {old!r} -> {new!r}"
                     for name, old, new in zip(names, was, now) if old != new)


def _capped(items: list[str], more: str) -> list[str]:
    """The first MAX_SHOWN items, then how many more there are."""
    hidden = len(items) - MAX_SHOWN
    return items[:MAX_SHOWN] + ([f"... and {counted(hidden, more)}"] if hidden > 0 else [])
