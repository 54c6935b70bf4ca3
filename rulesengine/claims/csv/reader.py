"""Reading claims from CSV: one row per claim line, the rows of a claim next to each other.

The header is matched loosely (``columns``: aliases, numbered columns, cell formats).

The file is read in one pass: a claim is built and handed on as soon as its last row is
read, so memory does not grow with the number of claims, apart from the set of claim ids
already seen, kept to catch a claim whose rows are not adjacent (an unsorted export),
which is an error naming the row rather than a second claim with the same id.

Every claim becomes a Claim, or a ClaimError naming the CSV line and the column at fault
(``claims.csv: line 7 (C1001): column F (DOS): '2026-02-30' is not a valid date``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..build import ClaimError, claim_from_data
from ..model import Claim
from .columns import (
    CLAIM_COLUMNS,
    WIDTHS,
    Bad,
    Columns,
    claim_value,
    code_cell,
    codes_cell,
    column_label,
    comparable,
    date_cell,
    number_cell,
    pointers_cell,
)


class _Claim:
    """One claim's rows as they are read; ``where`` maps claim-dict paths to (line, column)."""

    def __init__(self, claim_id: str, line: int, columns: Columns):
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
            value = claim_value(field, raw, col)
            if field not in self.values:
                self.values[field], self.seen_at[field], self.raw[field] = value, line, raw
                self._note_claim_field(field, raw, line, col)
            elif comparable(field, value) != comparable(field, self.values[field]):
                raise Bad(col, f"{field} is {_show(value)} here but {_show(self.values[field])} "
                                f"on line {self.seen_at[field]}; a claim's rows must agree on it")
        self.lines.append(self._line(cells, line))

    def _note_claim_field(self, field: str, raw: Any, line: int, col: int | None) -> None:
        if field == "diagnoses":
            for k, (_, dcol) in enumerate(codes_cell(raw)):
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
                number = number_cell(raw, col, "a line number")
                out[key] = int(number) if float(number).is_integer() else number
            elif field == "modifiers":
                out[key] = [code for code, _ in codes_cell(raw)]
                for k, (_, mcol) in enumerate(codes_cell(raw)):
                    self.where[f"{at}.modifiers[{k}]"] = (line, mcol if mcol is not None else col)
            elif field == "units":
                out[key] = number_cell(raw, col, "a number of units")
            elif field == "charge":
                out[key] = float(number_cell(raw, col, "an amount"))
            elif field in ("service_date", "service_date_to"):
                out[key] = date_cell(raw, col)
            elif field == "diagnosis_pointers":
                out[key] = pointers_cell(raw, col)
            elif field in WIDTHS:
                out[key] = code_cell(field, raw)
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
        columns = Columns(header, header_line)
    except Bad as bad:
        where = f"line {header_line}: {column_label(header, bad.column)}: " if bad.column is not None else ""
        yield ClaimError(source, 0, None, "", where + bad.message)
        return
    except UnicodeDecodeError as exc:
        yield _not_utf8(source, exc)
        return
    except csv.Error as exc:
        yield ClaimError(source, 0, None, "", f"line {header_line}: not readable as CSV: {exc}")
        return
    yield from _rows(csv.reader(lines, delimiter=delimiter), header_line, columns, source)


def _rows(reader: Any, header_line: int, columns: Columns, source: str
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
                except Bad as bad:
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
