"""The columns of a claims CSV: what each one means, the names exports give it, and how
its cells are read.

Spreadsheets and practice-management exports name their columns in many ways, so the
header is matched loosely: case, spaces and punctuation are ignored (``Claim ID``,
``claim_id`` and ``CLAIM-ID`` are one column) and common aliases are known (``DOS``,
``CPT``, ``DX Pointer``...); numbered columns (``DX1``..``DX12``, ``Mod 1``..``Mod 4``)
are joined in order. docs/claim-formats.md lists every column and alias. A cell that
cannot be read raises ``Bad`` with its column.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from rulesengine.codes.kinds import normalize

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
WIDTHS = {"procedure": 5, "place_of_service": 2, "revenue_code": 4, "ndc": 11}


class Bad(Exception):
    def __init__(self, column: int | None, message: str):
        super().__init__(message)
        self.column, self.message = column, message


class Columns:
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
                    raise Bad(col, f"this column and {self.label(first)} both mean {field}; "
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
                raise Bad(cols[0][1], f"numbered {field} columns and the single column "
                                       f"{self.label(self.single[field])} cannot both be used")
        missing = [f for f in _REQUIRED if f not in self.single]
        if "procedure" not in self.single and "revenue_code" not in self.single:
            missing.append("procedure (or revenue_code)")
        if missing:
            raise Bad(None, f"the header (line {line}) has no column for "
                             f"{', '.join(missing)}; see docs/claim-formats.md for the names known")

        # each line field, its key in the claim dict, and its column
        self.line_fields = [
            (field, "prior_authorization" if field == "line_prior_authorization" else field,
             self.column(field)) for field in LINE_COLUMNS]

    def label(self, col: int | None) -> str:
        return column_label(self.names, col)

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


def date_cell(text: str, col: int | None) -> str:
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
        raise Bad(col, f"{text!r} is not a valid date") from None
    raise Bad(col, f"{text!r} is not a date: write 2026-01-15, 01/15/2026 or 20260115")


def number_cell(text: str, col: int | None, what: str) -> int | float:
    cleaned = text.replace("$", "").replace(",", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise Bad(col, f"{text!r} is not {what}") from None
    if not math.isfinite(value):  # float() takes "nan" and "inf"
        raise Bad(col, f"{text!r} is not {what}")
    return int(value) if value.is_integer() and "." not in cleaned else value


def code_cell(field: str, text: str) -> str:
    code = text.strip().upper()
    width = WIDTHS.get(field)
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


def codes_cell(raw: Any) -> list[tuple[str, int]]:
    """The codes in a field: one cell split on | ; , or spaces, or numbered cells in order."""
    cells = raw if isinstance(raw, list) else [(raw, None)]
    return [(part.upper(), col) for text, col in cells for part in _SPLIT.split(text) if part]


def pointers_cell(text: str, col: int | None) -> list[int]:
    """1-based pointers: 1|2, 1:2 (as on an 837), 1,2, or CMS-1500 letters A-L (AB = 1, 2)."""
    pointers = []
    for part in _POINTER_SPLIT.split(text.strip()):
        if part.isdigit():
            pointers.append(int(part))
        elif part.isalpha() and all("A" <= ch <= "L" for ch in part.upper()):
            pointers.extend(ord(ch) - 64 for ch in part.upper())
        elif part:
            raise Bad(col, f"{text!r} is not a list of diagnosis pointers "
                            f"(write 1|2, 1:2 or the CMS-1500 letters A-L)")
    return pointers


def claim_value(field: str, raw: Any, col: int | None) -> Any:
    if field == "diagnoses":
        return [code for code, _ in codes_cell(raw)]
    if field in ("received_date", "birth_date"):
        return date_cell(raw, col)
    if field == "sex":
        sex = _SEX.get(raw.lower())
        if sex is None:
            raise Bad(col, f"{raw!r} is not a sex: write F, M or U")
        return sex
    if field == "claim_type":
        kind = _CLAIM_TYPE.get(_key(raw))
        if kind is None:
            raise Bad(col, f"{raw!r} is not a claim type: write professional or institutional")
        return kind
    return raw


def comparable(field: str, value: Any) -> Any:
    # E559 and E55.9 are one code: rows that write it both ways agree
    return [normalize("icd10", code) for code in value] if field == "diagnoses" else value


def column_label(names: list[str], col: int | None) -> str:
    """A column as a spreadsheet shows it: its letter and its header."""
    if col is None:
        return ""
    letters, n = "", col + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return f"column {letters} ({names[col].strip()})"

