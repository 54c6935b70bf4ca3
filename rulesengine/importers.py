"""Importing CMS's published files into a pack: ``rulesengine import ncci-ptp|mue|mce``.

Each quarter CMS publishes the NCCI procedure-to-procedure (PTP) edits, the medically
unlikely edits (MUE) and, each fiscal year, the Medicare Code Editor (MCE) lists. An
analyst turns them into a pack's tables and value-set files with these commands, not by
hand. The files are read as CMS lays them out, with what real copies do to that layout:
notices and headers of a few lines (found by what they say, not by counting lines), a
quarter split into several parts, quoted cells, blank lines, Windows line ends, and
Windows-1252 text. Every malformed row is reported with its file and line, and nothing
is written then (unless ``--skip-bad-rows``); what is written appears whole or not at all.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import difflib
import functools
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import click

from . import syntax
from .codes import normalize, shape_error
from .diagnostics import PackError
from .pack import load_pack

#: malformed rows shown one by one; the rest are counted
MAX_SHOWN = 20

NCCI_COLUMNS = ("column1", "column2", "prior_1996", "effective_date", "deletion_date",
                "modifier_indicator", "rationale")
MUE_COLUMNS = ("code", "limit", "adjudication", "rationale", "effective_date", "deletion_date")


# ---- reading records -----------------------------------------------------------------------

@dataclass
class Tally:
    """What an import met: rows read and kept, malformed rows (file:line: why), notes."""

    read: int = 0
    written: int = 0
    bad: list[str] = field(default_factory=list)
    bad_count: int = 0
    duplicate_keys: int = 0
    notes: list[str] = field(default_factory=list)

    def malformed(self, path: Path, line: int, why: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_SHOWN:
            self.bad.append(f"{path}:{line}: {why}")


def _encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark (Excel's "Unicode Text"); UTF-8
    when it decodes as UTF-8; otherwise Windows-1252, which CMS's text files use for the
    registered-trademark sign of the AMA notice."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        handle.seek(0)
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def records(path: Path, delimiter: str):
    """(first line number, cells) for every non-blank record; a quoted cell may span lines."""
    with path.open(encoding=_encoding(path), errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        end = 0
        for cells in reader:
            start, end = end + 1, reader.line_num
            cells = [c.strip() for c in cells]
            if any(cells):
                yield start, cells


def _continues_header(cells: list[str]) -> bool:
    """A line of column titles under the header: no codes in the first two cells, no dates."""
    return not any(cells[:2]) and not any(re.fullmatch(r"[0-9]{8}", c) for c in cells)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def data_records(path: Path, delimiter: str, is_header, tally: Tally, what: str):
    """The records after the file's header. The header is the first record ``is_header``
    accepts; the lines after it with blank first two cells continue it (NCCI writes its
    column titles over four lines). A file without one (a later part of a split quarter,
    say) is read from its first record that starts with a procedure code."""
    state = "preamble"  # then "header", then "data"
    for line, cells in records(path, delimiter):
        if state == "preamble":
            if is_header(cells):
                state = "header"
                continue
            if shape_error("hcpcs", normalize("hcpcs", cells[0])) is not None:
                continue
            tally.notes.append(f"{path}: no {what} header found; rows read from line {line}")
        elif state == "header" and _continues_header(cells):
            continue
        state = "data"
        yield line, cells
    if state == "preamble":
        tally.malformed(path, 1, f"no {what} header and no rows found: is this the right file?")


# ---- cells ---------------------------------------------------------------------------------

# a quarter's million rows repeat a few thousand codes and dates: check each once
@functools.lru_cache(maxsize=1 << 16)
def _procedure(text: str, what: str) -> str:
    code = normalize("hcpcs", text)
    if not code:
        raise ValueError(f"{what} is empty")
    problem = shape_error("hcpcs", code)
    if problem:
        if code.isdigit() and len(code) < 5:
            problem += "; a spreadsheet may have dropped its leading zeros"
        raise ValueError(f"{what}: {problem}")
    return code


@functools.lru_cache(maxsize=1 << 12)
def _cms_date(text: str, what: str) -> str:
    """A date as CMS writes it, YYYYMMDD, checked and kept as written."""
    try:
        if len(text) == 8 and text.isdigit():
            date(int(text[:4]), int(text[4:6]), int(text[6:]))
            return text
    except ValueError:
        pass
    raise ValueError(f"{what} '{text}' is not a date in the form YYYYMMDD")


def _cells(cells: list[str], count: int, names: str) -> list[str]:
    if len(cells) < count or any(cells[count:]):  # trailing blank cells are harmless
        raise ValueError(f"{len(cells)} cells where {count} are expected ({names})")
    return cells[:count]


# ---- NCCI procedure-to-procedure edits -----------------------------------------------------

def _ncci_header(cells: list[str]) -> bool:
    return len(cells) >= 2 and _squash(cells[0]) == "column1" and _squash(cells[1]) == "column2"


def ncci_row(cells: list[str]) -> tuple[str, ...]:
    """One row of the CMS PTP layout in the pack's columns, or ValueError saying why not."""
    c1, c2, prior, effective, deletion, indicator, rationale = _cells(
        cells, 7, "column 1, column 2, prior-1996 flag, effective, deletion, modifier indicator, rationale")
    problems: list[str] = []
    c1 = _checked(problems, _procedure, c1, "column 1 code")
    c2 = _checked(problems, _procedure, c2, "column 2 code")
    _checked(problems, _cms_date, effective, "effective date")
    if deletion != "*":
        _checked(problems, _cms_date, deletion, "deletion date")
    if prior not in ("", "*"):
        problems.append(f"the prior-1996 flag is '{prior}', not '*' or blank")
    if indicator not in ("0", "1", "9"):
        problems.append(f"modifier indicator '{indicator}' is not 0, 1 or 9")
    if not problems and deletion != "*" and deletion < effective:
        problems.append(f"deletion date {deletion} is before effective date {effective}")
    if problems:
        raise ValueError("; ".join(problems))
    return c1, c2, prior, effective, deletion, indicator, rationale


def _checked(problems: list[str], check, text: str, what: str) -> str:
    """``check(text, what)``, or ``text`` with the reason it fails added to ``problems``."""
    try:
        return check(text, what)
    except ValueError as error:
        problems.append(str(error))
        return text


def ncci_rows(paths: list[Path], tally: Tally, drop_never_active: bool = False):
    """The rows of every part, in order. Duplicate pairs are kept (the row in force on the
    date of service governs) and counted; rows never in force (deleted the day they took
    effect, indicator 9) are counted and, when asked, left out."""
    seen: set[str] = set()
    repeated: set[str] = set()
    never = 0
    for path in paths:
        for line, cells in data_records(path, "\t", _ncci_header, tally, "NCCI PTP"):
            tally.read += 1
            try:
                row = ncci_row(cells)
            except ValueError as error:
                tally.malformed(path, line, str(error))
                continue
            if row[4] == row[3] and row[5] == "9":
                never += 1
                if drop_never_active:
                    continue
            key = f"{row[0]}\t{row[1]}"
            (repeated if key in seen else seen).add(key)
            yield row
    tally.duplicate_keys = len(repeated)
    if never:
        tally.notes.append(
            f"{_n(never, 'row')} never in force (deleted the day they took effect, indicator 9): "
            + ("left out" if drop_never_active else "kept; --drop-never-active leaves them out"))


# ---- medically unlikely edits --------------------------------------------------------------

def _mue_header(cells: list[str]) -> bool:
    text = [c.lower() for c in cells]
    return any("mue" in t and "value" in t for t in text) and any("adjudication" in t for t in text)


def mue_row(cells: list[str], effective: str, through: str) -> tuple[str, ...]:
    code, value, indicator, rationale = _cells(
        cells, 4, "code, MUE value, adjudication indicator, rationale")
    problems = []
    try:
        code = _procedure(code, "code")
    except ValueError as error:
        problems.append(str(error))
    if not re.fullmatch(r"[0-9]+", value):
        problems.append(f"MUE value '{value}' is not a whole number")
    number = re.match(r"([0-9]+)\b", indicator)
    if not number or number.group(1) not in ("1", "2", "3"):
        problems.append(f"adjudication indicator '{indicator}' is not 1, 2 or 3 "
                        "(written like '2 Date of Service Edit: Policy')")
    if problems:
        raise ValueError("; ".join(problems))
    return code, str(int(value)), number.group(1), rationale, effective, through


def mue_rows(path: Path, tally: Tally, effective: date, through: date):
    seen: set[str] = set()
    repeated: set[str] = set()
    start, end = effective.strftime("%Y%m%d"), through.strftime("%Y%m%d")
    for line, cells in data_records(path, ",", _mue_header, tally, "MUE"):
        tally.read += 1
        try:
            row = mue_row(cells, start, end)
        except ValueError as error:
            tally.malformed(path, line, str(error))
            continue
        (repeated if row[0] in seen else seen).add(row[0])
        yield row
    tally.duplicate_keys = len(repeated)


def quarter_end(day: date) -> date:
    """The last day of the calendar quarter holding ``day`` (CMS publishes MUEs quarterly)."""
    month = (day.month - 1) // 3 * 3 + 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])


# ---- Medicare Code Editor lists ------------------------------------------------------------

@dataclass
class EditList:
    """The diagnosis codes of one MCE edit (Female_Only, say), with what the header names."""

    edit: str
    codes: dict[str, str] = field(default_factory=dict)  # dotted code -> description
    versions: set[str] = field(default_factory=set)
    sections: set[str] = field(default_factory=set)
    procedures: int = 0  # ICD-10-PCS rows, which no value-set kind holds
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, why), reported if chosen
    repeats: int = 0

    @property
    def name(self) -> str:
        return "mce_" + re.sub(r"[^a-z0-9]+", "_", self.edit.lower()).strip("_")


def mce_lists(path: Path, tally: Tally) -> dict[str, EditList]:
    """Every edit's list, by edit type as the file spells it. A row that names no edit is
    malformed at once; a bad code counts against its edit only if that edit is imported."""
    columns: dict[str, int] | None = None
    lists: dict[str, EditList] = {}
    for line, cells in records(path, "\t"):
        if columns is None:
            if "MCE_Edit_Type" in cells and "ICD_Code" in cells:
                columns = {name: i for i, name in enumerate(cells) if name}
            continue
        tally.read += 1
        edit = cells[columns["MCE_Edit_Type"]] if len(cells) > columns["MCE_Edit_Type"] else ""
        if not edit:
            tally.malformed(path, line, "no MCE_Edit_Type: the row names no edit")
            continue
        found = lists.setdefault(edit, EditList(edit))
        if len(cells) < len(columns):
            why = f"{len(cells)} cells where {len(columns)} are expected ({', '.join(columns)})"
            found.bad.append((line, why))
            continue
        cell = {name: cells[i] for name, i in columns.items()}
        if cell.get("ICD_Code_Type", "D") == "P":
            found.procedures += 1
            continue
        code = normalize("icd10", cell["ICD_Code"])
        if shape_error("icd10", code):
            why = (f"ICD_Code '{cell['ICD_Code']}' is not an ICD-10-CM diagnosis code "
                   "(written like N7001 or A33)") if code else "ICD_Code is empty"
            found.bad.append((line, why))
            continue
        found.repeats += code in found.codes
        found.codes[code] = " ".join(cell.get("ICD_Desc", "").split())
        found.versions.add(cell.get("MCE_Version", ""))
        found.sections.add(cell.get("MCE_Section", "") + cell.get("MCE_Subsection", "").strip("_"))
    if columns is None:
        tally.malformed(path, 1, "no header naming MCE_Edit_Type and ICD_Code: "
                                 "is this the MCE code edit file?")
    return lists


def valueset_text(edits: EditList, source: Path) -> str:
    version = ", ".join(f"v{v}" for v in sorted(edits.versions) if v) or "(version not in the file)"
    section = ", ".join(sorted(s for s in edits.sections if s))
    out = [f"# Medicare Code Editor {version}, edit {edits.edit}"
           + (f" (section {section})" if section else "") + ": ICD-10-CM diagnosis codes",
           f"# imported by 'rulesengine import mce' from {source.name}: {_n(len(edits.codes), 'code')};",
           "# the text after each code is its ICD-10-CM description (a note, not read as a code)"]
    out += [f"{code:<8} {text}".rstrip() for code, text in edits.codes.items()]
    return "\n".join(out) + "\n"


# ---- writing -------------------------------------------------------------------------------

class Staged:
    """A file written beside its target and moved into place only by ``commit``, so a
    reader never sees it half-written and a failed import leaves the old file alone."""

    def __init__(self, target: Path):
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, self.temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        self.handle.close()
        mode = self.target.stat().st_mode & 0o777 if self.target.exists() else 0o666 & ~_umask()
        os.chmod(self.temp, mode)
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        self.handle.close()
        if os.path.exists(self.temp):
            os.unlink(self.temp)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_rows(target: Path, header: tuple[str, ...], rows, tally: Tally, skip_bad: bool) -> bool:
    """Write the rows as CSV to ``target``; keep the file only when every row was good (or
    bad rows may be skipped) and there is at least one."""
    staged = Staged(target)
    try:
        writer = csv.writer(staged.handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            tally.written += 1
    except BaseException:
        staged.discard()
        raise
    if tally.written and (skip_bad or not tally.bad_count):
        staged.commit()
        return True
    staged.discard()
    tally.written = 0
    return False


# ---- the commands --------------------------------------------------------------------------

class _ImportGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OSError as error:  # a folder that cannot be written, a disk full...
            click.echo(f"error: {error.strerror}: {error.filename}", err=True)
            ctx.exit(2)


@click.group("import", cls=_ImportGroup)
def command():
    """Import CMS's published edit files into a pack's tables and value sets."""


def _pack_folder(pack: str) -> Path:
    folder = Path(pack)
    if not (folder / "pack.yaml").is_file():
        raise click.BadParameter(f"{pack} is not a rule pack: it has no pack.yaml", param_hint="--pack")
    return folder


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


def _unread_table_note(pack: Path, target: Path, name: str, columns: str, tally: Tally) -> None:
    """A note when no table of the pack reads the file written, so the import alone
    changes nothing, with the declaration to paste."""
    if not tally.written or target.resolve() in {p.resolve() for p in declared_tables(pack).values()}:
        return
    where = os.path.relpath(target, pack).replace(os.sep, "/")
    tally.notes.append(
        f"no table of {pack} reads {where} yet; to use it, declare in a rules file:\n"
        f'  table {name} from "{where}"\n    columns {columns}\n'
        "    rows effective from effective_date through deletion_date")


def _report(kind: str, tally: Tally, kept: bool, target: str) -> None:
    for line in tally.bad:
        click.echo(line, err=True)
    if tally.bad_count > len(tally.bad):
        click.echo(f"... and {_n(tally.bad_count - len(tally.bad), 'more malformed row')}", err=True)
    for note in tally.notes:
        click.echo(f"note: {note}")
    skipped = tally.bad_count if kept else 0
    click.echo(f"{kind}: {_n(tally.read, 'row')} read, {tally.written} written, {skipped} skipped, "
               f"{_n(tally.duplicate_keys, 'duplicate key')}" + (f" -> {target}" if kept else ""))
    if not kept:
        if tally.bad_count:
            click.echo(f"{_n(tally.bad_count, 'malformed row')}: nothing written (fix them, or give "
                       "--skip-bad-rows to write the good rows without them)", err=True)
        else:
            click.echo("no rows to write: nothing written", err=True)


def _finish(kept: bool, pack: Path) -> None:
    """Say whether the pack loads with what was written; exit 0 when it does, 2 otherwise."""
    if not kept:
        sys.exit(2)
    try:
        loaded = load_pack(pack)
    except PackError as error:
        click.echo(f"pack {pack} does not load with the imported file:", err=True)
        click.echo(error.render(), err=True)
        sys.exit(2)
    click.echo(f"pack {loaded.id} {loaded.version} loads: {_n(len(loaded.rules), 'rule')}")
    sys.exit(0)


_PACK = click.option("--pack", required=True, type=click.Path(file_okay=False),
                     help="The rule pack folder (holding pack.yaml) to import into.")
_SKIP = click.option("--skip-bad-rows", is_flag=True,
                     help="Write the good rows even when some are malformed (they are still reported).")


@command.command("ncci-ptp")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--table", default="ncci_ptp_practitioner", show_default=True,
              help="The table to write: a table the pack declares, or tables/NAME.csv.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write this CSV file instead.")
@click.option("--drop-never-active", is_flag=True,
              help="Leave out rows never in force (deleted the day they took effect, indicator 9).")
@_SKIP
def ncci_ptp(files, pack, table, output, drop_never_active, skip_bad_rows):
    """Import the NCCI practitioner (or hospital) PTP file, tab-separated; give every part
    of a split quarter, in order."""
    folder = _pack_folder(pack)
    target = Path(output) if output else table_path(folder, table)
    tally = Tally()
    rows = ncci_rows([Path(f) for f in files], tally, drop_never_active)
    kept = write_rows(target, NCCI_COLUMNS, rows, tally, skip_bad_rows)
    _unread_table_note(folder, target, table, "column1 hcpcs, column2 hcpcs, prior_1996 text, "
                       "effective_date date, deletion_date date, modifier_indicator integer, "
                       "rationale text", tally)
    _report("ncci-ptp", tally, kept, str(target))
    _finish(kept, folder)


def _day(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in the form YYYY-MM-DD") from None


@command.command("mue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--table", default="mue_practitioner", show_default=True,
              help="The table to write: a table the pack declares, or tables/NAME.csv.")
@click.option("--effective", required=True, callback=_day,
              help="The first day the file is in force (YYYY-MM-DD): the MUE file has no row dates.")
@click.option("--through", callback=_day,
              help="Its last day (YYYY-MM-DD); by default the last day of that quarter.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write this CSV file instead.")
@_SKIP
def mue(file, pack, table, effective, through, output, skip_bad_rows):
    """Import the MUE file (practitioner, outpatient hospital or DME), CSV as CMS publishes it."""
    folder = _pack_folder(pack)
    given = through is not None
    if through is None:
        through = quarter_end(effective)
    elif through < effective:
        raise click.BadParameter(f"{through} is before --effective {effective}", param_hint="--through")
    target = Path(output) if output else table_path(folder, table)
    tally = Tally(notes=[f"rows in force {effective} through {through}"
                         + ("" if given else " (the end of that quarter; --through changes it)")])
    kept = write_rows(target, MUE_COLUMNS, mue_rows(Path(file), tally, effective, through),
                      tally, skip_bad_rows)
    _unread_table_note(folder, target, table, "code hcpcs, limit integer, adjudication integer, "
                       "rationale text, effective_date date, deletion_date date", tally)
    _report("mue", tally, kept, str(target))
    _finish(kept, folder)


@command.command("mce")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--edits", help="The edit types to write, comma-separated (like Female_Only,Male_Only); "
                              "by default every one that lists diagnoses.")
@_SKIP
def mce(file, pack, edits, skip_bad_rows):
    """Import Medicare Code Editor code lists as value-set files, valuesets/mce_EDIT.txt."""
    folder = _pack_folder(pack)
    source = Path(file)
    tally = Tally()
    lists = mce_lists(source, tally)
    chosen = [lists[e] for e in _chosen_edits(edits, lists)]
    for line, why in sorted(b for found in chosen for b in found.bad):
        tally.malformed(source, line, why)
    tally.duplicate_keys = sum(found.repeats for found in chosen)
    procedures = sum(found.procedures for found in chosen)
    if procedures:
        tally.notes.append(f"{_n(procedures, 'ICD-10-PCS procedure code')} left out: "
                           "the rule language has no value-set kind for them")
    others = sorted(set(lists) - {found.edit for found in chosen})
    if others:
        tally.notes.append("edits not written: " + ", ".join(others))
    empty = [found.edit for found in chosen if not found.codes]
    if empty:
        tally.notes.append("no good codes, so not written: " + ", ".join(empty))
    targets = {folder / "valuesets" / f"{found.name}.txt": found for found in chosen if found.codes}
    kept = bool(targets) and (skip_bad_rows or not tally.bad_count)
    if kept:
        _write_texts({target: valueset_text(found, source) for target, found in targets.items()})
        tally.written = sum(len(found.codes) for found in chosen)
    _report("mce", tally, kept, f"{folder / 'valuesets'} ({_n(len(targets), 'file')})")
    if kept:
        click.echo("value sets to name in a rules file:")
        for target, found in targets.items():
            click.echo(f'  valueset {found.name} = icd10 from "{target.relative_to(folder).as_posix()}"')
    _finish(kept, folder)


def _write_texts(texts: dict[Path, str]) -> None:
    """Write every file, then move them all into place: a failure leaves none half-written."""
    staged: list[Staged] = []
    try:
        for target, text in texts.items():
            staged.append(Staged(target))
            staged[-1].handle.write(text)
        for each in staged:
            each.commit()
    except BaseException:
        for each in staged:
            each.discard()
        raise


def _chosen_edits(edits: str | None, lists: dict[str, EditList]) -> list[str]:
    if edits is None:
        return [e for e, found in lists.items() if found.codes]
    by_lower = {e.lower(): e for e in lists}
    chosen = []
    for name in (n.strip() for n in edits.split(",") if n.strip()):
        edit = by_lower.get(name.lower())
        if edit is None:
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=2, cutoff=0.5)
            hint = f"did you mean {' or '.join(by_lower[c] for c in close)}? " if close else ""
            raise click.BadParameter(f"the file has no edit '{name}'; {hint}Its edits: "
                                     + ", ".join(lists), param_hint="--edits")
        if not lists[edit].codes and lists[edit].procedures:
            raise click.BadParameter(
                f"edit {edit} lists only ICD-10-PCS procedure codes, which no value-set kind holds",
                param_hint="--edits")
        if edit not in chosen:
            chosen.append(edit)
    return chosen
