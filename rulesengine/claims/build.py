"""One claim's parsed data to a :class:`Claim`, or a :class:`ClaimError` saying where it is wrong.

Every reader (JSON, JSON Lines, FHIR, CSV, X12) builds a plain dict in the shape of
``claim.schema.json`` and hands it here, so every format is held to the same checks:
the schema (jsonschema-rs answers "valid?" fast; jsonschema words what is wrong), then
what a schema cannot say (pointers in range, spans in order, line numbers unique).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .model import Claim

CLAIM_SCHEMA: dict = json.loads(files(__package__).joinpath("claim.schema.json").read_text("utf-8"))
Draft202012Validator.check_schema(CLAIM_SCHEMA)
# Built once: compiling the schema costs far more than validating one claim. The format
# checker makes "format": "date" an assertion (in 2020-12 it is only an annotation).
_VALIDATOR = Draft202012Validator(CLAIM_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
# jsonschema-rs answers "is this claim valid?" some 200 times faster; the Python validator
# stays the authority on what is wrong with a claim that is not, so messages do not change.
try:
    import jsonschema_rs
    _is_valid = jsonschema_rs.validator_for(CLAIM_SCHEMA, validate_formats=True).is_valid
except ImportError:  # pragma: no cover - a platform without its wheel: slower, same answers
    _is_valid = _VALIDATOR.is_valid


#: the years a claim's dates may fall in: wide enough for any real claim, narrow enough
#: that every date a rule works out from them (at most 200 years away) is on the calendar
FIRST_YEAR, LAST_YEAR = 1800, 2199
#: how deep a claim's JSON may nest: a claim is four levels deep; this leaves room for
#: extension fields and keeps every later walk of it far from Python's recursion limit
MAX_DEPTH = 32
#: the character a decoder puts where a file's bytes are not UTF-8 (read with "replace")
NOT_UTF8 = "\ufffd"
#: why a claim was not checked, and how reports name it: its data (``unreadable``), no
#: pack takes its payer (``no-pack``), the claim history failed under it (``history``), or
#: the engine itself failed on it (``internal``, a bug to report)
KINDS = {"unreadable": "unreadable", "no-pack": "no pack", "history": "history failed",
         "internal": "internal error"}
#: a problem with a file, not with a claim: an X12 envelope a clearinghouse would reject
#: the interchange for (control numbers, segment counts); the claims read are checked
FILE_ERROR = "envelope"
LABELS = {**KINDS, FILE_ERROR: "file error"}


@dataclass(frozen=True)
class ClaimError:
    """Why one claim (or a whole file) could not be read.

    ``position`` is 1-based: the claim's index in a JSON list, or its line number in JSON
    Lines (``unit`` says which); 0 means the file as a whole. ``path`` is the JSON path of
    the offending value inside the claim, empty when there is none.
    """

    source: str
    position: int
    claim_id: str | None
    path: str
    message: str
    unit: str = "claim"
    kind: str = "unreadable"

    def __str__(self) -> str:
        where = self.source
        if self.position:
            where += f": {self.unit} {self.position}"
            if self.claim_id:
                where += f" ({self.claim_id})"
        elif self.claim_id:
            where += f": claim {self.claim_id}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def claim_from_data(
    data: Any, source: str = "<input>", position: int = 1, unit: str = "claim"
) -> Claim | ClaimError:
    """One claim's parsed JSON, validated and built; the first problem found when it is not valid.

    Other readers (837, CSV) can call this on the dict they build, to share the checks.
    """
    claim_id = data.get("claim_id") if isinstance(data, dict) else None
    if not isinstance(claim_id, str) or NOT_UTF8 in claim_id:
        claim_id = None
    if not _is_valid(data):  # codes in lower case or with spaces are the claim's all the same
        data = in_normal_case(data)
    problems = validate_claim(data)
    if problems:
        path, message = problems[0]
        return ClaimError(source, position, claim_id, path, message, unit)
    try:
        return Claim.from_dict(data)
    except Exception as error:  # a claim the checks passed and the model cannot take: a bug
        return ClaimError(source, position, claim_id, "", f"internal error building the claim: "
                          f"{type(error).__name__}: {error}", unit, "internal")


#: the codes of a line that are put in capitals, trimmed, when a claim is read: every reader
#: gives the same claim for ``xs`` as for ``XS`` (the language compares codes in capitals)
_LINE_CODES = ("procedure", "revenue_code", "place_of_service")


def in_normal_case(data: Any) -> Any:
    """The claim with its codes (diagnoses; each line's procedure, modifiers, revenue code
    and place of service; the claim's place of service) trimmed and in capitals, as a new
    dict; ``data`` itself when there is nothing to change or it is not a claim's shape."""
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        return data
    fixed = dict(data)
    if isinstance(data.get("diagnoses"), list):
        fixed["diagnoses"] = [_code(d) for d in data["diagnoses"]]
    if "place_of_service" in data:
        fixed["place_of_service"] = _code(data["place_of_service"])
    lines = []
    for line in data["lines"]:
        if isinstance(line, dict):
            line = {**line, **{k: _code(line[k]) for k in _LINE_CODES if k in line}}
            if isinstance(line.get("modifiers"), list):
                line["modifiers"] = [_code(m) for m in line["modifiers"]]
        lines.append(line)
    fixed["lines"] = lines
    return data if fixed == data else fixed


def _code(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def hostile_problems(data: Any) -> list[tuple[str, str]]:
    """What a claim that fails the schema may hold that no message should be built from,
    found in one walk without recursion: nesting deeper than MAX_DEPTH, a number that is
    not finite (1e999, NaN), text holding bytes that were not UTF-8."""
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return [(path, f"nested more than {MAX_DEPTH} levels deep: not a claim")]
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}", depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return [(path, _NOT_FINITE_TEXT)]
        elif isinstance(value, str) and NOT_UTF8 in value:
            return [(path, _NOT_UTF8_TEXT)]
    return []


def validate_claim(data: Any) -> list[tuple[str, str]]:
    """The problems with a claim as (JSON path, message) pairs; empty when it is valid.

    Schema problems come first and alone (the most relevant one, by ``best_match``), since
    the semantic checks rely on the shapes the schema guarantees.
    """
    if not _is_valid(data):
        hostile = hostile_problems(data)
        if hostile:
            return hostile
        error = best_match(_VALIDATOR.iter_errors(data))
        if error is not None:
            return [_describe(error)]
    return list(_semantic_problems(data))


def _describe(error: ValidationError) -> tuple[str, str]:
    """The JSON path and a plain-words message for a schema error."""
    path, instance = error.json_path, error.instance
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in instance)
        return f"{path}.{missing}", "required field is missing"
    if error.validator in ("pattern", "format") and "title" in error.schema:
        message = f"{instance!r} is not a valid {error.schema['title']}"
        if error.validator == "pattern" and error.schema.get("examples"):
            message += f" (for example {error.schema['examples'][0]})"
        return path, message
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return path, f"expected {wanted}, got {_show(instance)}"
    return path, error.message


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _semantic_problems(data: dict) -> Iterator[tuple[str, str]]:
    """What the schema cannot say: pointers in range, spans in order, line numbers unique,
    dates on the claim calendar, numbers finite, text that was UTF-8. Written for the claim
    with no problem (the common case): paths are worded only for a problem found."""
    count = len(data.get("diagnoses") or ())
    for name in _FREE_TEXT:  # the schema gives these no pattern that would refuse it
        value = data.get(name)
        if isinstance(value, str) and NOT_UTF8 in value:
            yield f"$.{name}", _NOT_UTF8_TEXT
    for part in ("patient", "billing_provider", "payer"):
        for name, value in (data.get(part) or {}).items():
            if isinstance(value, str) and NOT_UTF8 in value:
                yield f"$.{part}.{name}", _NOT_UTF8_TEXT
    first_use: dict[int, int] = {}
    for i, line in enumerate(data["lines"]):
        number = line["line_number"]
        for name in ("units", "charge"):
            value = line.get(name)
            if value.__class__ is float and not math.isfinite(value):
                yield f"$.lines[{i}].{name}", _NOT_FINITE_TEXT
        for name in ("ndc", "prior_authorization"):
            value = line.get(name)
            if isinstance(value, str) and NOT_UTF8 in value:
                yield f"$.lines[{i}].{name}", _NOT_UTF8_TEXT
        if number in first_use:
            yield f"$.lines[{i}].line_number", f"line number {number} is also used by $.lines[{first_use[number]}]"
        first_use.setdefault(number, i)
        pointers = line.get("diagnosis_pointers")
        if pointers and max(pointers) > count:
            has = {0: "no diagnoses", 1: "1 diagnosis"}.get(count, f"{count} diagnoses")
            for j, pointer in enumerate(pointers):
                if pointer > count:
                    yield f"$.lines[{i}].diagnosis_pointers[{j}]", f"pointer {pointer} but the claim has {has}"
        start, end = line["service_date"], line.get("service_date_to")
        # ISO dates already checked by the schema, so comparing the strings compares the dates
        if end and end < start:
            yield f"$.lines[{i}].service_date_to", f"{end!r} is before the service date {start!r}"
        if _off_calendar(start):
            yield from _date_problem(start, f"$.lines[{i}].service_date")
        if end and _off_calendar(end):
            yield from _date_problem(end, f"$.lines[{i}].service_date_to")
    received = data.get("received_date")
    if received and _off_calendar(received):
        yield from _date_problem(received, "$.received_date")
    birth = (data.get("patient") or {}).get("birth_date")
    if birth and _off_calendar(birth):
        yield from _date_problem(birth, "$.patient.birth_date")


_NOT_UTF8_TEXT = "the file's bytes here are not UTF-8 text (claims are read as UTF-8)"
_NOT_FINITE_TEXT = "not a finite number (written as 1e999, Infinity or NaN)"


def _off_calendar(text: str) -> bool:
    """Whether a date the schema passed may still be refused: not in FIRST_YEAR..LAST_YEAR,
    or not a day of the calendar (the fast validator lets 2026-02-30 and year 0 by)."""
    try:
        return not FIRST_YEAR <= date.fromisoformat(text).year <= LAST_YEAR
    except (TypeError, ValueError):
        return True


_FREE_TEXT = ("claim_id", "prior_authorization")


def _date_problem(text: str, path: str) -> Iterator[tuple[str, str]]:
    """A date the calendar does not have (year 0, which one schema validator lets by), or
    one outside FIRST_YEAR..LAST_YEAR."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        yield path, f"{text!r} is not a valid date"
        return
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        yield path, f"{text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR} a claim's dates fall in"
