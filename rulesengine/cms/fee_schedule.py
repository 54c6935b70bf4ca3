"""Reading the Medicare Physician Fee Schedule relative value file (PPRRVU) for its payment
policy indicators: global surgery days, PC/TC, multiple procedure, bilateral surgery,
assistant at surgery, co-surgeons and team surgery.

CMS publishes it in the quarterly RVU zip (``RVU26A.zip`` holds ``PPRRVU26_JAN.csv``). The
CSV opens with notices and a header whose column titles run over several lines
(``GLOB`` over ``DAYS``), the last one starting ``HCPCS,MOD,DESCRIPTION``; the columns are
found by their titles put together. The file has a row per code and modifier (the global
service, then 26 and TC for codes split into components, 53...); the indicators are the
global service's, so the rows without a modifier are kept, one per code. Descriptions are
not kept: they are the AMA's. The file carries no dates: the import is told the first day
it is in force.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from .files import Tally, checked_cell, procedure_cell, records

MPFS_COLUMNS = ("hcpcs", "status", "pctc", "global_days", "multiple_procedure", "bilateral",
                "assistant", "co_surgeon", "team_surgeon", "effective_date", "deletion_date")
#: how a note names each value column, for the changes between quarters
MPFS_NAMES = ("status", "PC/TC indicator", "global days", "multiple procedure indicator",
              "bilateral surgery indicator", "assistant at surgery indicator",
              "co-surgeon indicator", "team surgery indicator")
GLOBAL_DAYS = {"000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"}

# each indicator by the start of its title, the title lines put together
_TITLES = (("hcpcs", "hcpcs"), ("mod", "mod"), ("status", "status"), ("pctc", "pctc"),
           ("global_days", "glob"), ("multiple_procedure", "mult"), ("bilateral", "bilat"),
           ("assistant", "asst"), ("co_surgeon", "cosurg"), ("team_surgeon", "teamsurg"))


def _title(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _is_header(cells: list[str]) -> bool:
    return len(cells) > 2 and _title(cells[0]) == "hcpcs" and _title(cells[1]) in ("mod", "modifier")


def _columns(block: list[list[str]]) -> dict[str, int]:
    """Where each column is: the titles of the header lines, top to bottom, joined per column."""
    width = max(len(cells) for cells in block)
    titles = [_title(" ".join(cells[i] for cells in block if i < len(cells))) for i in range(width)]
    found: dict[str, int] = {}
    for name, start in _TITLES:
        for index, title in enumerate(titles):
            if index not in found.values() and title.startswith(start):
                found[name] = index
                break
    return found


def mpfs_row(cells: list[str], at: dict[str, int], effective: str, through: str) -> tuple[str, ...]:
    """One global-service row in the pack's columns, or ValueError saying why not."""
    def cell(name: str) -> str:
        index = at[name]
        return cells[index].strip() if index < len(cells) else ""
    problems: list[str] = []
    code = checked_cell(problems, procedure_cell, cell("hcpcs"), "HCPCS code")
    status = cell("status").upper()
    if not re.fullmatch(r"[A-Z]", status):
        problems.append(f"status code '{status}' is not a letter")
    days = cell("global_days").upper()
    if days not in GLOBAL_DAYS:
        problems.append(f"global days '{days}' is not one of {', '.join(sorted(GLOBAL_DAYS))}")
    values = []
    for name in ("pctc", "multiple_procedure", "bilateral", "assistant", "co_surgeon", "team_surgeon"):
        value = cell(name)
        if not re.fullmatch(r"[0-9]", value):
            problems.append(f"{name.replace('_', ' ')} indicator '{value}' is not a digit 0-9")
        values.append(value)
    if problems:
        raise ValueError("; ".join(problems))
    pctc, mult, bilat, asst, co, team = values
    return code, status, pctc, days, mult, bilat, asst, co, team, effective, through


def mpfs_rows(path: Path, tally: Tally, effective: date, through: date):
    """The global-service rows of the file, one per code, in force ``effective`` through
    ``through``; component and other modifier rows are counted and left out."""
    start, end = effective.strftime("%Y%m%d"), through.strftime("%Y%m%d")
    block: list[list[str]] = []
    at: dict[str, int] | None = None
    seen: set[str] = set()
    repeated: set[str] = set()
    components = 0
    for line, cells in records(path, ","):
        if at is None:
            if _is_header(cells):
                at = _columns([*block, cells])
                missing = [name for name, _ in _TITLES if name not in at]
                if missing:
                    tally.malformed(path, line, "the header has no column for " + ", ".join(missing)
                                    + ": is this CMS's PPRRVU file (the CSV in the RVU zip)?")
                    return
            else:  # notices and title lines, the titles' upper lines among them
                block = block + [cells] if not any(cells[:2]) else []
            continue
        tally.read += 1
        if cells[at["mod"]].strip() if at["mod"] < len(cells) else "":
            components += 1
            continue
        try:
            row = mpfs_row(cells, at, start, end)
        except ValueError as error:
            tally.malformed(path, line, str(error))
            continue
        (repeated if row[0] in seen else seen).add(row[0])
        yield row
    if at is None:
        tally.malformed(path, 1, "no PPRRVU header (a line starting HCPCS,MOD) found: is this the "
                                 "CSV of CMS's relative value file?")
    tally.duplicate_keys = len(repeated)
    if components:
        tally.notes.append(f"{components} rows of modifiers (26, TC, 53...) left out: the indicators "
                           "are the global service's")
