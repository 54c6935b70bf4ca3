"""Reading the files CMS publishes: the NCCI procedure-to-procedure (PTP) edits, the
medically unlikely edits (MUE), the Medicare Code Editor (MCE) lists and the ICD-10-CM
code set (its order file).

The files are read as CMS lays them out, with what real copies do to that layout:
notices and headers of a few lines (found by what they say, not by counting lines), a
quarter split into several parts, quoted cells, blank lines, Windows line ends, and
Windows-1252 text. Each row is checked and put in the pack's columns; every malformed row
is counted in a ``Tally`` with its file and line, for the import to report.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rulesengine.codes.icd10cm import CODE as _ICD10_FLAT
from rulesengine.codes.kinds import normalize, shape_error

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


def counted(count: int, noun: str) -> str:
    """'1 row', '3 rows'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


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


class UnreadableFile(ValueError):
    """A CMS file the csv reader cannot go on in (a cell past FIELD_LIMIT, a NUL byte)."""


#: the longest cell read: CMS's rationale and notice cells run past the csv module's
#: default of 128 KiB; a stray quote makes a cell run to the end of the file, so some
#: limit stays (the csv module's limit is one for the whole process: raised, never lowered)
FIELD_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


def records(path: Path, delimiter: str):
    """(first line number, cells) for every non-blank record; a quoted cell may span lines."""
    with path.open(encoding=_encoding(path), errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        end = 0
        try:
            for cells in reader:
                start, end = end + 1, reader.line_num
                cells = [c.strip() for c in cells]
                if any(cells):
                    yield start, cells
        except csv.Error as error:
            raise UnreadableFile(f"{path}:{end + 1}: cannot read on from here ({error}); "
                                 f"look for a quote that is never closed") from None


def _continues_header(cells: list[str]) -> bool:
    """A line of column titles under the header: no codes in the first two cells, no dates."""
    return not any(cells[:2]) and not any(re.fullmatch(r"[0-9]{8}", c) for c in cells)


def squash(text: str) -> str:
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
def procedure_cell(text: str, what: str) -> str:
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
def cms_date_cell(text: str, what: str) -> str:
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
    return len(cells) >= 2 and squash(cells[0]) == "column1" and squash(cells[1]) == "column2"


def ncci_row(cells: list[str]) -> tuple[str, ...]:
    """One row of the CMS PTP layout in the pack's columns, or ValueError saying why not."""
    c1, c2, prior, effective, deletion, indicator, rationale = _cells(
        cells, 7, "column 1, column 2, prior-1996 flag, effective, deletion, modifier indicator, rationale")
    problems: list[str] = []
    c1 = checked_cell(problems, procedure_cell, c1, "column 1 code")
    c2 = checked_cell(problems, procedure_cell, c2, "column 2 code")
    checked_cell(problems, cms_date_cell, effective, "effective date")
    if deletion != "*":
        checked_cell(problems, cms_date_cell, deletion, "deletion date")
    if prior not in ("", "*"):
        problems.append(f"the prior-1996 flag is '{prior}', not '*' or blank")
    if indicator not in ("0", "1", "9"):
        problems.append(f"modifier indicator '{indicator}' is not 0, 1 or 9")
    if not problems and deletion != "*" and deletion < effective:
        problems.append(f"deletion date {deletion} is before effective date {effective}")
    if problems:
        raise ValueError("; ".join(problems))
    return c1, c2, prior, effective, deletion, indicator, rationale


def checked_cell(problems: list[str], check, text: str, what: str) -> str:
    """``check(text, what)``, or ``text`` with the reason it fails added to ``problems``."""
    try:
        return check(text, what)
    except ValueError as error:
        problems.append(str(error))
        return text


def ncci_rows(paths: list[Path], tally: Tally, drop_never_active: bool = False, parse=ncci_row):
    """The rows of every part, in order. Duplicate pairs are kept (the row in force on the
    date of service governs) and counted; rows never in force (deleted the day they took
    effect, indicator 9) are counted and, when asked, left out. ``parse`` reads one row."""
    seen: set[str] = set()
    repeated: set[str] = set()
    never = 0
    for path in paths:
        for line, cells in data_records(path, "\t", _ncci_header, tally, "NCCI PTP"):
            tally.read += 1
            try:
                row = parse(cells)
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
            f"{counted(never, 'row')} never in force (deleted the day they took effect, indicator 9): "
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
        code = procedure_cell(code, "code")
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


# ---- ICD-10-CM code descriptions in tabular order --------------------------------------

#: the order file in a zip of CMS's code descriptions: icd10cm_order_2027.txt,
#: icd10cm-order-April-2025.txt...
ORDER_MEMBER = re.compile(r"icd10cm[-_ ]order[-_ ].*\.txt", re.IGNORECASE)
_CODES_FILE_LINE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}\s+\S")


def icd10cm_order(path: Path, tally: Tally) -> tuple[dict[str, bool], str]:
    """The codes of CMS's ICD-10-CM order file, or of the zip of code descriptions that
    holds it: code (without its dot) -> billable, in tabular order; and the name of the
    file read, for telling its fiscal year. The order file's columns are fixed: an order
    number (1-5), the code (7-13), 1 for a code valid on claims or 0 for a header (15),
    then the short and long descriptions, which are not kept."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if ORDER_MEMBER.fullmatch(Path(m).name)]
            if not members:
                names = ", ".join(Path(m).name for m in archive.namelist()[:8]) or "nothing"
                tally.malformed(path, 1, f"no ICD-10-CM order file (icd10cm_order_YYYY.txt) in the "
                                         f"zip; it holds {names}")
                return {}, path.name
            with archive.open(members[0]) as member:
                # the columns read are ASCII; Latin-1 decodes any byte of the descriptions
                lines = io.TextIOWrapper(member, encoding="latin-1", newline=None)
                return _order_codes(lines, Path(f"{path}:{members[0]}"), tally), Path(members[0]).name
    with path.open(encoding="latin-1", newline=None) as lines:
        return _order_codes(lines, path, tally), path.name


def _order_codes(lines, where: Path, tally: Tally) -> dict[str, bool]:
    codes: dict[str, bool] = {}
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        tally.read += 1
        code, flag = line[6:13].rstrip(), line[14:15]
        if (line[:5].isdigit() and line[5:6] == " " and line[13:14] == " " and flag in ("0", "1")
                and line[15:16] in (" ", "") and _ICD10_FLAT.fullmatch(code)):
            tally.duplicate_keys += code in codes
            codes.setdefault(code, flag == "1")
            continue
        if not codes and _CODES_FILE_LINE.match(line):
            tally.malformed(where, number, "this is the codes file (icd10cm_codes_YYYY.txt), which "
                                           "lists billable codes only: give the order file "
                                           "(icd10cm_order_YYYY.txt) of the same zip, which lists the "
                                           "headers too")
            return {}
        tally.malformed(where, number, f"'{line[:40]}' is not a line of the ICD-10-CM order file "
                                       "(order number, code, 0 or 1, descriptions)")
    if not codes and not tally.bad_count:
        tally.malformed(where, 1, "no codes in the file: is this the ICD-10-CM order file?")
    return codes
