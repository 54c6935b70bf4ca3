"""Reading CMS's NCCI add-on code (AOC) edit file: each add-on code with its primary codes.

CMS publishes the file quarterly as a spreadsheet (``AOC_V2026Q3-MCR.xlsx``); saved as
tab-separated text (or CSV) its header names the columns: ``Add-on Code``, ``AOC Del Dt``,
``Primary Code``, ``Primary Code Del Dt``, ``AOC Edit Type``, ``AOC Edit Eff Dt``,
``AOC Edit Del Dt`` and ``Special Instruction Notes``. The columns are found by what their
titles say, in any order. A row becomes one pair of the pack's table, in force from the
edit's effective date to the first of its deletion dates (the edit's, the add-on code's,
the primary code's). A type 2 edit names no primary code (CMS writes ``CCCCC``): its row
keeps the add-on with an empty primary.
"""

from __future__ import annotations

import re
from pathlib import Path

from .files import Tally, checked_cell, cms_date_cell, data_records, procedure_cell, records

AOC_COLUMNS = ("addon", "primary", "edit_type", "effective_date", "deletion_date", "notes")
#: the placeholder CMS writes for "no primary code" (edit type 2)
NO_PRIMARY = {"", "CCCCC"}

# each column by what its title says (letters and digits only, lower case)
_TITLES = {
    "addon": lambda n: n.startswith("addon") and "del" not in n and "eff" not in n and "type" not in n,
    "addon_deleted": lambda n: (n.startswith("aoc") or n.startswith("addon")) and "del" in n and "edit" not in n,
    "primary": lambda n: n.startswith("primary") and "del" not in n and "eff" not in n,
    "primary_deleted": lambda n: n.startswith("primary") and "del" in n,
    "edit_type": lambda n: "type" in n,
    "effective": lambda n: "eff" in n,
    "edit_deleted": lambda n: "edit" in n and "del" in n,
    "notes": lambda n: "note" in n or "instruction" in n,
}
_REQUIRED = ("addon", "primary", "edit_type", "effective")


def _title(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", cell.lower())


def _is_header(cells: list[str]) -> bool:
    titles = [_title(c) for c in cells]
    return any(t.startswith("addoncode") for t in titles) and any(t.startswith("primarycode") for t in titles)


def _columns(cells: list[str]) -> dict[str, int]:
    """Where each column is, by its title (the first title that says it)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        title = _title(cell)
        for name, says in _TITLES.items():
            if name not in found and says(title):
                found[name] = index
                break
    return found


def _date(text: str, what: str) -> str:
    """YYYYMMDD as CMS writes it; a spreadsheet may have saved it as YYYY-MM-DD."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        text = text.replace("-", "")
    return cms_date_cell(text, what)


def aoc_row(cells: list[str], at: dict[str, int]) -> tuple[str, ...]:
    """One row of the AOC file in the pack's columns, or ValueError saying why not."""
    def cell(name: str) -> str:
        index = at.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""
    problems: list[str] = []
    addon = checked_cell(problems, procedure_cell, cell("addon"), "add-on code")
    primary = cell("primary").upper()
    primary = "" if primary in NO_PRIMARY else checked_cell(problems, procedure_cell, primary, "primary code")
    edit_type = cell("edit_type")
    if edit_type not in ("1", "2", "3"):
        problems.append(f"AOC edit type '{edit_type}' is not 1, 2 or 3")
    effective = checked_cell(problems, _date, cell("effective"), "AOC edit effective date")
    ends = []
    for name, what in (("edit_deleted", "AOC edit deletion date"), ("addon_deleted", "add-on code deletion date"),
                       ("primary_deleted", "primary code deletion date")):
        text = cell(name)
        if text not in ("", "*"):
            ends.append(checked_cell(problems, _date, text, what))
    deletion = min(ends) if ends else "*"
    if not problems and deletion != "*" and deletion < effective:
        problems.append(f"the pair ends {deletion}, before its edit takes effect {effective}")
    if problems:
        raise ValueError("; ".join(problems))
    return addon, primary, edit_type, effective, deletion, cell("notes")


def _delimiter(path: Path) -> str:
    with path.open("rb") as handle:
        return "\t" if b"\t" in handle.read(1 << 16) else ","


def aoc_rows(path: Path, tally: Tally):
    """The file's pairs in order; a pair listed twice is kept (the row in force on the date
    of service governs) and counted."""
    delimiter = _delimiter(path)
    at = _header_of(path, delimiter)
    missing = [name for name in _REQUIRED if name not in at]
    if missing:
        tally.malformed(path, 1, "the header has no column for " + ", ".join(missing)
                        + ": is this CMS's add-on code edit file?")
        return
    seen: set[tuple[str, str]] = set()
    repeated: set[tuple[str, str]] = set()
    for line, cells in data_records(path, delimiter, _is_header, tally, "AOC"):
        tally.read += 1
        try:
            row = aoc_row(cells, at)
        except ValueError as error:
            tally.malformed(path, line, str(error))
            continue
        (repeated if row[:2] in seen else seen).add(row[:2])
        yield row
    tally.duplicate_keys = len(repeated)


def _header_of(path: Path, delimiter: str) -> dict[str, int]:
    """The columns of the file's header record (the first that names the add-on and primary
    codes), or none: the columns are found by their titles, never guessed."""
    for count, (_, cells) in enumerate(records(path, delimiter)):
        if _is_header(cells):
            return _columns(cells)
        if count > 100:  # past any notice CMS puts above the table
            break
    return {}
