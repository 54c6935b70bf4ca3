"""Reading claims from CSV: one row per claim line, the rows of a claim next to each other.

Spreadsheets and practice-management exports name their columns in many ways, so the
header is matched loosely: case, spaces and punctuation are ignored (``Claim ID``,
``claim_id`` and ``CLAIM-ID`` are one column) and common aliases are known (``DOS``,
``CPT``, ``DX Pointer``...); numbered columns (``DX1``..``DX12``, ``Mod 1``..``Mod 4``)
are joined in order. docs/claim-formats.md lists every column and alias.

The file is read in one pass: a claim is built and handed on as soon as its last row is
read, so memory does not grow with the number of claims, apart from the set of claim ids
already seen, kept to catch a claim whose rows are not adjacent (an unsorted export),
which is an error naming the row rather than a second claim with the same id.

Every claim becomes a Claim, or a ClaimError naming the CSV line and the column at fault
(``claims.csv: line 7 (C1001): column F (DOS): '2026-02-30' is not a valid date``).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from rulesengine.codes.kinds import normalize

from .build import ClaimError, claim_from_data
from .model import Claim

__all__ = ["ALIASES", "CLAIM_COLUMNS", "LINE_COLUMNS", "read_csv_claims"]

#: columns whose value belongs to the whole claim: a claim's rows must agree on them
CLAIM_COLUMNS = (
    "claim_id", "claim_type", "frequency_code", "payer_id", "plan", "received_date",
    "prior_authorization", "billing_npi", "taxonomy", "patient_member_id", "birth_date",
    "sex", "diagnoses",
)
#: columns of one line (place_of_service: the first line's is the claim's, see below)
LINE_COLUMNS = (
    "line_number", "procedure", "modifiers", "units", "charge", "service_date",
    "service_date_to", "diagnosis_pointers", "place_of_service", "revenue_code", "ndc",
    "line_prior_authorization",
)

#: other names for each column, as exports spell them (matched ignoring case, spaces, punctuation)
ALIASES: dict[str, tuple[str, ...]] = {
    "claim_id": ("claim", "claim number", "claim no", "claim #", "clm id", "encounter",
                 "encounter id", "encounter number", "patient control number",
                 "patient control no", "pcn", "ticket number"),
    "claim_type": ("type", "form", "form type", "claim form"),
    "frequency_code": ("frequency", "claim frequency", "freq", "resubmission code",
                       "claim frequency code"),
    "payer_id": ("payer", "payer code", "payor", "payor id", "primary payer",
                 "primary payer id", "insurance", "primary insurance", "carrier",
                 "carrier code"),
    "plan": ("plan type", "plan code", "plan name", "product", "insurance plan"),
    "received_date": ("date received", "receipt date", "submitted date", "submission date",
                      "date submitted", "bill date", "billed date"),
    "prior_authorization": ("prior auth", "prior authorization number", "prior auth number",
                            "auth", "auth number", "authorization", "authorization number",
                            "pa number"),
    "billing_npi": ("npi", "billing provider npi", "group npi", "billing provider"),
    "taxonomy": ("taxonomy code", "billing taxonomy", "provider taxonomy"),
    "patient_member_id": ("member id", "member number", "member", "subscriber id",
                          "insured id", "insured id number", "insureds id number",
                          "policy number", "mbi"),
    "birth_date": ("dob", "date of birth", "birthdate", "patient dob", "patient birth date"),
    "sex": ("gender", "patient sex", "patient gender"),
    "diagnoses": ("diagnosis", "diagnosis codes", "dx", "dx codes", "icd", "icd codes",
                  "icd10", "icd10 codes", "icd-10-cm"),
    "line_number": ("line", "line no", "line #", "ln", "seq", "sequence", "line sequence"),
    "procedure": ("procedure code", "proc", "proc code", "cpt", "cpt code", "hcpcs",
                  "hcpcs code", "cpt/hcpcs", "cpt hcpcs", "service code"),
    "modifiers": ("modifier", "mod", "mods"),
    "units": ("unit", "qty", "quantity", "days or units", "days units", "service units"),
    "charge": ("charges", "charge amount", "billed amount", "billed charge", "amount",
               "line charge", "fee"),
    "service_date": ("dos", "date of service", "dos from", "from dos", "from date",
                     "service date from", "service from", "from"),
    "service_date_to": ("dos to", "to dos", "to date", "service date to", "service to",
                        "through date", "thru date", "to"),
    "diagnosis_pointers": ("pointers", "pointer", "dx pointer", "dx pointers",
                           "diagnosis pointer", "diag pointer", "icd pointer"),
    "place_of_service": ("pos", "pos code", "place of service code"),
    "revenue_code": ("revenue", "rev", "rev code", "rev cd"),
    "ndc": ("ndc code", "national drug code", "drug code"),
    "line_prior_authorization": ("line prior auth", "line auth", "line authorization"),
}
# numbered columns joined in order: DX1..DX12, Diagnosis 1, ICD10 1; Mod 1..Mod 4
_NUMBERED = {
    "diagnoses": re.compile(r"(?:dx|diag|diagnosis|diagnosiscode|icd10cm|icd10|icd)(\d{1,2})"),
    "modifiers": re.compile(r"(?:mod|modifier|modifiercode)(\d)"),
}
_REQUIRED = ("claim_id", "service_date", "birth_date", "sex")


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


_LOOKUP = {_key(name): name for name in CLAIM_COLUMNS + LINE_COLUMNS}
for _name, _aliases in ALIASES.items():
    for _alias in _aliases:
        _LOOKUP.setdefault(_key(_alias), _name)
_LOOKUP[_key("patient_member_id")] = "patient_member_id"

_SEX = {"m": "M", "male": "M", "f": "F", "female": "F", "u": "U", "unknown": "U",
        "o": "U", "other": "U", "x": "U"}
_CLAIM_TYPE = {"professional": "professional", "p": "professional", "837p": "professional",
               "cms1500": "professional", "1500": "professional", "hcfa": "professional",
               "hcfa1500": "professional", "institutional": "institutional",
               "i": "institutional", "837i": "institutional", "ub04": "institutional",
               "ub": "institutional"}
_SPLIT = re.compile(r"[|;,\s]+")
_POINTER_SPLIT = re.compile(r"[|;,:\s]+")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_COMPACT_DATE = re.compile(r"\d{8}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# a spreadsheet drops the leading zeros of a code it takes for a number; put them back
_WIDTHS = {"procedure": 5, "place_of_service": 2, "revenue_code": 4, "ndc": 11}


class _Bad(Exception):
    def __init__(self, column: int | None, message: str):
        super().__init__(message)
        self.column, self.message = column, message


class _Columns:
    """The header: which field each column holds, and how to name a column in a message."""

    def __init__(self, header: list[str], line: int):
        self.names = header
        self.single: dict[str, int] = {}
        self.numbered: dict[str, list[tuple[int, int]]] = {"diagnoses": [], "modifiers": []}
        for col, text in enumerate(header):
            key = _key(text)
            field = _LOOKUP.get(key)
            if field is not None:
                if field in self.single:
                    first = self.single[field]
                    raise _Bad(col, f"this column and {self.label(first)} both mean {field}; "
                                    f"rename or remove one")
                self.single[field] = col
                continue
            for field, pattern in _NUMBERED.items():
                match = pattern.fullmatch(key)
                if match:
                    self.numbered[field].append((int(match.group(1)), col))
        for field, cols in self.numbered.items():
            cols.sort()
            if cols and field in self.single:
                raise _Bad(cols[0][1], f"numbered {field} columns and the single column "
                                       f"{self.label(self.single[field])} cannot both be used")
        missing = [f for f in _REQUIRED if f not in self.single]
        if "procedure" not in self.single and "revenue_code" not in self.single:
            missing.append("procedure (or revenue_code)")
        if missing:
            raise _Bad(None, f"the header (line {line}) has no column for "
                             f"{', '.join(missing)}; see docs/claim-formats.md for the names known")

        # each line field, its key in the claim dict, and its column
        self.line_fields = [
            (field, "prior_authorization" if field == "line_prior_authorization" else field,
             self.column(field)) for field in LINE_COLUMNS]

    def label(self, col: int | None) -> str:
        return _label(self.names, col)

    def column(self, field: str) -> int | None:
        """The column of a field (the first of numbered ones), None when there is none."""
        if field in self.single:
            return self.single[field]
        numbered = self.numbered.get(field)
        return numbered[0][1] if numbered else None

    def cells(self, row: list[str]) -> dict[str, tuple[Any, int | None]]:
        """Each known field's raw text in this row (blank ones left out), with its column."""
        out: dict[str, tuple[Any, int | None]] = {}
        for field, col in self.single.items():
            if col < len(row) and row[col].strip():
                out[field] = (row[col].strip(), col)
        for field, cols in self.numbered.items():
            parts = [(row[col].strip(), col) for _, col in cols
                     if col < len(row) and row[col].strip()]
            if parts:
                out[field] = (parts, parts[0][1])
        return out


def _parse_date(text: str, col: int | None) -> str:
    """ISO (2026-01-15, and an Excel-style 2026-01-15 00:00:00), US (01/15/2026) or
    CCYYMMDD (20260115, as on an 837), as an ISO date."""
    value = text.split("T")[0].split(" ")[0]
    match = _US_DATE.fullmatch(value)
    try:
        if match:
            month, day, year = (int(g) for g in match.groups())
            return date(year, month, day).isoformat()
        if _COMPACT_DATE.fullmatch(value):
            return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _Bad(col, f"{text!r} is not a valid date") from None
    raise _Bad(col, f"{text!r} is not a date: write 2026-01-15, 01/15/2026 or 20260115")


def _parse_number(text: str, col: int | None, what: str) -> int | float:
    cleaned = text.replace("$", "").replace(",", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise _Bad(col, f"{text!r} is not {what}") from None
    if not math.isfinite(value):  # float() takes "nan" and "inf"
        raise _Bad(col, f"{text!r} is not {what}")
    return int(value) if value.is_integer() and "." not in cleaned else value


def _code(field: str, text: str) -> str:
    code = text.strip().upper()
    width = _WIDTHS.get(field)
    if width and code.isdigit() and len(code) < width and _lost_zeros(field, code):
        code = code.zfill(width)
    return code


def _lost_zeros(field: str, digits: str) -> bool:
    """Whether a short all-digit code is one whose leading zeros a spreadsheet dropped:
    only anesthesia CPT codes (00100-01999) start with 0, and an NDC is 11 digits."""
    if field == "procedure":
        return 100 <= int(digits) <= 1999
    if field == "ndc":
        return len(digits) >= 9
    return True


def _codes(raw: Any) -> list[tuple[str, int]]:
    """The codes in a field: one cell split on | ; , or spaces, or numbered cells in order."""
    cells = raw if isinstance(raw, list) else [(raw, None)]
    return [(part.upper(), col) for text, col in cells for part in _SPLIT.split(text) if part]


def _pointers(text: str, col: int | None) -> list[int]:
    """1-based pointers: 1|2, 1:2 (as on an 837), 1,2, or CMS-1500 letters A-L (AB = 1, 2)."""
    pointers = []
    for part in _POINTER_SPLIT.split(text.strip()):
        if part.isdigit():
            pointers.append(int(part))
        elif part.isalpha() and all("A" <= ch <= "L" for ch in part.upper()):
            pointers.extend(ord(ch) - 64 for ch in part.upper())
        elif part:
            raise _Bad(col, f"{text!r} is not a list of diagnosis pointers "
                            f"(write 1|2, 1:2 or the CMS-1500 letters A-L)")
    return pointers


def _claim_value(field: str, raw: Any, col: int | None) -> Any:
    if field == "diagnoses":
        return [code for code, _ in _codes(raw)]
    if field in ("received_date", "birth_date"):
        return _parse_date(raw, col)
    if field == "sex":
        sex = _SEX.get(raw.lower())
        if sex is None:
            raise _Bad(col, f"{raw!r} is not a sex: write F, M or U")
        return sex
    if field == "claim_type":
        kind = _CLAIM_TYPE.get(_key(raw))
        if kind is None:
            raise _Bad(col, f"{raw!r} is not a claim type: write professional or institutional")
        return kind
    return raw


def _comparable(field: str, value: Any) -> Any:
    # E559 and E55.9 are one code: rows that write it both ways agree
    return [normalize("icd10", code) for code in value] if field == "diagnoses" else value


class _Claim:
    """One claim's rows as they are read; ``where`` maps claim-dict paths to (line, column)."""

    def __init__(self, claim_id: str, line: int, columns: _Columns):
        self.claim_id, self.first_line, self.columns = claim_id, line, columns
        self.values: dict[str, Any] = {"claim_id": claim_id}
        self.seen_at: dict[str, int] = {"claim_id": line}
        self.raw: dict[str, Any] = {}  # each claim-level field's text as first seen
        self.lines: list[dict] = []
        self.where: dict[str, tuple[int, int | None]] = {"$": (line, None)}
        for json_path, field in _CLAIM_PATHS.items():  # a blank cell still has a column
            self.where[json_path] = (line, columns.column(field))
        self.error: ClaimError | None = None

    def add(self, cells: dict[str, tuple[Any, int | None]], line: int) -> None:
        for field in CLAIM_COLUMNS:
            if field not in cells or field == "claim_id":
                continue
            raw, col = cells[field]
            if self.raw.get(field) == raw:
                continue  # the same text as before: the same value, no need to parse it again
            value = _claim_value(field, raw, col)
            if field not in self.values:
                self.values[field], self.seen_at[field], self.raw[field] = value, line, raw
                self._note_claim_field(field, raw, line, col)
            elif _comparable(field, value) != _comparable(field, self.values[field]):
                raise _Bad(col, f"{field} is {_show(value)} here but {_show(self.values[field])} "
                                f"on line {self.seen_at[field]}; a claim's rows must agree on it")
        self.lines.append(self._line(cells, line))

    def _note_claim_field(self, field: str, raw: Any, line: int, col: int | None) -> None:
        if field == "diagnoses":
            for k, (_, dcol) in enumerate(_codes(raw)):
                self.where[f"$.diagnoses[{k}]"] = (line, dcol if dcol is not None else col)
        else:
            self.where[_FIELD_PATHS[field]] = (line, col)

    def _line(self, cells: dict[str, tuple[Any, int | None]], line: int) -> dict:
        at = f"$.lines[{len(self.lines)}]"
        self.where[at] = (line, None)
        out: dict[str, Any] = {"line_number": len(self.lines) + 1}
        for field, key, col in self.columns.line_fields:
            self.where[f"{at}.{key}"] = (line, col)
            if field not in cells:
                continue
            raw, col = cells[field]
            if field == "line_number":
                number = _parse_number(raw, col, "a line number")
                out[key] = int(number) if float(number).is_integer() else number
            elif field == "modifiers":
                out[key] = [code for code, _ in _codes(raw)]
                for k, (_, mcol) in enumerate(_codes(raw)):
                    self.where[f"{at}.modifiers[{k}]"] = (line, mcol if mcol is not None else col)
            elif field == "units":
                out[key] = _parse_number(raw, col, "a number of units")
            elif field == "charge":
                out[key] = float(_parse_number(raw, col, "an amount"))
            elif field in ("service_date", "service_date_to"):
                out[key] = _parse_date(raw, col)
            elif field == "diagnosis_pointers":
                out[key] = _pointers(raw, col)
            elif field in _WIDTHS:
                out[key] = _code(field, raw)
            else:
                out[key] = raw
        return out

    def build(self) -> dict:
        v = self.values
        lines = self.lines
        # CLM05-1: the claim's place of service is its first line's; a line keeps its own
        # only where it differs (what the rules read as line.place_of_service is the same)
        first = next((k for k, ln in enumerate(lines) if ln.get("place_of_service")), None)
        pos = None if first is None else lines[first]["place_of_service"]
        if first is not None:
            self.where["$.place_of_service"] = self.where[f"$.lines[{first}].place_of_service"]
        for ln in lines:
            if ln.get("place_of_service") == pos:
                ln["place_of_service"] = None
        return {
            "claim_id": v["claim_id"],
            "claim_type": v.get("claim_type", "professional"),
            "frequency_code": v.get("frequency_code"),
            "payer": {"id": v.get("payer_id"), "plan": v.get("plan")},
            "received_date": v.get("received_date"),
            "prior_authorization": v.get("prior_authorization"),
            "place_of_service": pos,
            "billing_provider": {"npi": v.get("billing_npi"), "taxonomy": v.get("taxonomy")},
            # a blank birth date or sex is left out: "required field is missing"
            "patient": {key: v[field] for key, field in (("member_id", "patient_member_id"),
                        ("birth_date", "birth_date"), ("sex", "sex")) if field in v},
            "diagnoses": v.get("diagnoses") or [],
            "lines": lines,
        }

    def where_is(self, json_path: str) -> tuple[int, int | None]:
        path = json_path
        while path not in self.where:
            path = path[: max(path.rfind("."), path.rfind("["))] or "$"
        return self.where[path]


# the claim dict's paths of the claim-level columns
_CLAIM_PATHS = {
    "$.claim_type": "claim_type", "$.frequency_code": "frequency_code",
    "$.payer.id": "payer_id", "$.payer.plan": "plan", "$.received_date": "received_date",
    "$.prior_authorization": "prior_authorization",
    "$.billing_provider.npi": "billing_npi", "$.billing_provider.taxonomy": "taxonomy",
    "$.patient.member_id": "patient_member_id", "$.patient.birth_date": "birth_date",
    "$.patient.sex": "sex", "$.diagnoses": "diagnoses",
}


_FIELD_PATHS = {field: path for path, field in _CLAIM_PATHS.items()}


def _show(value: Any) -> str:
    return "|".join(value) if isinstance(value, list) else repr(value)


def read_csv_claims(path_or_stream: str | Path | IO[str] | Iterable[str],
                    source: str | None = None) -> Iterator[Claim | ClaimError]:
    """Each claim in a CSV file (a path, or an open text stream), in file order."""
    if isinstance(path_or_stream, (str, Path)):
        source = source or str(path_or_stream)
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark
        with open(path_or_stream, encoding="utf-8-sig", newline="") as stream:
            yield from _read(stream, source)
    else:
        yield from _read(path_or_stream, source or getattr(path_or_stream, "name", "<input>"))


def _read(stream: Iterable[str], source: str) -> Iterator[Claim | ClaimError]:
    lines = iter(stream)
    try:
        header_line, header_text = _header(lines)
        if header_text is None:
            return  # an empty file holds no claims
        delimiter = _delimiter(header_text)
        header = next(csv.reader([header_text], delimiter=delimiter))
        columns = _Columns(header, header_line)
    except _Bad as bad:
        where = f"line {header_line}: {_label(header, bad.column)}: " if bad.column is not None else ""
        yield ClaimError(source, 0, None, "", where + bad.message)
        return
    except UnicodeDecodeError as exc:
        yield _not_utf8(source, exc)
        return
    yield from _rows(csv.reader(lines, delimiter=delimiter), header_line, columns, source)


def _rows(reader: Any, header_line: int, columns: _Columns, source: str
          ) -> Iterator[Claim | ClaimError]:
    current: _Claim | None = None
    finished: set[str] = set()  # ids of the claims already handed on
    line = header_line + 1
    try:
        for row in reader:
            # the row started on the line after the previous one ended
            start, line = line, header_line + reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            cells = columns.cells(row)
            claim_id = cells.get("claim_id", ("", None))[0]
            if current is not None and claim_id != current.claim_id:
                yield _finish(current, source)
                finished.add(current.claim_id)
                current = None
            if current is None:
                id_column = columns.label(columns.single["claim_id"])
                if not claim_id:
                    yield ClaimError(source, start, None, id_column,
                                     "no claim id: every row names its claim", "line")
                    continue
                current = _Claim(claim_id, start, columns)
                if claim_id in finished:
                    current.error = ClaimError(
                        source, start, claim_id, id_column, "this claim's rows are not "
                        "together: the claim already ended, before a row of another claim; "
                        "sort the file by claim id", "line")
            if current.error is None:
                try:
                    current.add(cells, start)
                except _Bad as bad:
                    current.error = ClaimError(source, start, claim_id,
                                               columns.label(bad.column), bad.message, "line")
    except csv.Error as exc:
        yield ClaimError(source, line, None, "", f"not readable as CSV: {exc}", "line")
        return
    except UnicodeDecodeError as exc:
        yield _not_utf8(source, exc)
        return
    if current is not None:
        yield _finish(current, source)


def _not_utf8(source: str, exc: UnicodeDecodeError) -> ClaimError:
    return ClaimError(source, 0, None, "", f"not UTF-8 text ({exc.reason} at byte "
                      f"{exc.start} of a block); save the file as CSV UTF-8")


def _finish(claim: _Claim, source: str) -> Claim | ClaimError:
    if claim.error is not None:
        return claim.error
    result = claim_from_data(claim.build(), source, claim.first_line, "line")
    if isinstance(result, Claim):
        return result
    line, col = claim.where_is(result.path)
    # a message may name another line by its JSON path: name its CSV line instead
    message = re.sub(r"\$\.lines\[(\d+)\]",
                     lambda m: f"the row on line {claim.where_is(m.group(0))[0]}", result.message)
    return ClaimError(source, line, claim.claim_id, claim.columns.label(col), message, "line")


def _header(lines: Iterator[str]) -> tuple[int, str | None]:
    """The header line and its number: the first non-blank line (Excel's ``sep=`` skipped)."""
    number = 0
    for text in lines:
        number += 1
        if text.strip() and not text.lower().startswith("sep="):
            return number, text
    return number, None


def _delimiter(header: str) -> str:
    """Comma, or tab, semicolon (Excel in much of Europe) or pipe when the header has more."""
    counts = {d: header.count(d) for d in ("\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > header.count(",") else ","


def _label(names: list[str], col: int | None) -> str:
    """A column as a spreadsheet shows it: its letter and its header."""
    if col is None:
        return ""
    letters, n = "", col + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return f"column {letters} ({names[col].strip()})"
