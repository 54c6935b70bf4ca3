"""Writing CMS's published files into a pack: tables, value-set files, code sets.

``rulesengine import ncci-ptp|mue|mce|icd10cm`` (``cli.imports``) reads a file with ``files``
and writes it here. Every malformed row is reported with its file and line, and nothing
is written then (unless bad rows may be skipped); what is written appears whole or not at
all. An MUE file has no dates of its own: its rows are added after the table's earlier
quarters (``quarters``), which stay for claims of earlier dates of service.
"""

from __future__ import annotations

import calendar
import csv
import os
import re
from datetime import date, timedelta
from pathlib import Path

from rulesengine.codes.icd10cm import fiscal_year_start, some_codes
from rulesengine.language import syntax
from rulesengine.language.diagnostics import PackError
from rulesengine.packs import load_pack
from rulesengine.reports.atomic import Staged, replacing

from .files import EditList, Tally, counted


class _NotKept(Exception):
    """Raised inside ``replacing`` to drop the file being written: the old one stays."""


def write_rows(target: Path, header: tuple[str, ...], rows, tally: Tally, skip_bad: bool,
               kept=()) -> bool:
    """Write ``kept`` (a table's earlier rows, as they are) and then ``rows`` as CSV to
    ``target``; the file takes its place only when every row read was good (or bad rows may
    be skipped) and there is at least one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(target) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(kept)
            for row in rows:
                writer.writerow(row)
                tally.written += 1
            if not tally.written or (tally.bad_count and not skip_bad):
                raise _NotKept
    except _NotKept:
        tally.written = 0
        return False
    return True


def write_texts(texts: dict[Path, str]) -> None:
    """Write every file, then move them all into place: a failure leaves none half-written."""
    staged: list[Staged] = []
    try:
        for target, text in texts.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.append(Staged(target))
            staged[-1].handle.write(text)
        for each in staged:
            each.commit()
    except BaseException:
        for each in staged:
            each.discard()
        raise


def valueset_text(edits: EditList, source: Path) -> str:
    """The value-set file of one MCE edit: a heading naming the list and where it came from,
    then a code a line, its description after it as a note."""
    version = ", ".join(f"v{v}" for v in sorted(edits.versions) if v) or "(version not in the file)"
    section = ", ".join(sorted(s for s in edits.sections if s))
    out = [f"# Medicare Code Editor {version}, edit {edits.edit}"
           + (f" (section {section})" if section else "") + ": ICD-10-CM diagnosis codes",
           f"# imported by 'rulesengine import mce' from {source.name}: {counted(len(edits.codes), 'code')};",
           "# the text after each code is its ICD-10-CM description (a note, not read as a code)"]
    out += [f"{code:<8} {text}".rstrip() for code, text in edits.codes.items()]
    return "\n".join(out) + "\n"


def declared_tables(pack: Path) -> dict[str, Path]:
    """The tables the pack's own rules files declare, by name, with their files."""
    found = {}
    for rules in sorted(pack.rglob("*.rules")):
        if "tests" in rules.relative_to(pack).parts:
            continue
        parsed, _ = syntax.parse(rules.read_text(encoding="utf-8"), str(rules))
        found.update({decl.name: pack / decl.path.value for decl in (parsed.tables if parsed else ())})
    return found


def table_path(pack: Path, table: str) -> Path:
    """Where table ``table`` lives: the file the pack declares for a table of that name,
    else tables/NAME.csv."""
    return declared_tables(pack).get(table) or pack / "tables" / f"{table}.csv"


def unread_table_note(pack: Path, target: Path, name: str, columns: str, tally: Tally) -> None:
    """A note when no table of the pack reads the file written, so the import alone
    changes nothing, with the declaration to paste."""
    if not tally.written or target.resolve() in {p.resolve() for p in declared_tables(pack).values()}:
        return
    where = os.path.relpath(target, pack).replace(os.sep, "/")
    tally.notes.append(
        f"no table of {pack} reads {where} yet; to use it, declare in a rules file:\n"
        f'  table {name} from "{where}"\n    columns {columns}\n'
        "    rows effective from effective_date through deletion_date")


def quarter_end(day: date) -> date:
    """The last day of the calendar quarter holding ``day`` (CMS publishes MUEs quarterly)."""
    month = (day.month - 1) // 3 * 3 + 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])


def effective_from_name(name: str) -> date | None:
    """The first day a CMS ICD-10-CM file is in force, told by its name: the fiscal year's
    October 1 (icd10cm_order_2027.txt: 2026-10-01), or April 1 for an April update
    (april-1-2026-code-descriptions-tabular-order.zip: 2026-04-01)."""
    year = re.search(r"(?<![0-9])(20[0-9]{2})(?![0-9])", name)
    if year is None:
        return None
    if re.search(r"april", name, re.IGNORECASE):
        return date(int(year.group(1)), 4, 1)
    return fiscal_year_start(int(year.group(1)))


def edition_changes(folder: Path, codes: dict[str, bool], effective: date) -> list[str]:
    """How the imported code set differs from the one in force the day before it (the
    pack's, or the built-in one), for the analyst to check against CMS's addenda."""
    try:
        before = load_pack(folder)._checked.icd10.at(effective - timedelta(days=1))
    except PackError:
        return []
    if before is None:
        return [f"no code set of the pack is in force on {effective - timedelta(days=1)} to compare with"]
    was = before.codes
    added = [c for c, billable in codes.items() if billable and not was.get(c)]
    gone = [c for c, billable in was.items() if billable and not codes.get(c)]
    return [f"against {before.label}: {counted(len(added), 'code')} newly billable"
            + (f" ({some_codes(added, 8)})" if added else "")
            + f", {counted(len(gone), 'code')} no longer billable (deleted, or now a header)"
            + (f" ({some_codes(gone, 8)})" if gone else "")]
