"""One claim's parsed data to a :class:`Claim`, or a :class:`ClaimError` saying where it is wrong.

Every reader (JSON, JSON Lines, FHIR, CSV, X12) builds a plain dict in the shape of
``claim.schema.json`` and hands it here, so every format is held to the same checks:
the schema (jsonschema-rs answers "valid?" fast; jsonschema words what is wrong), then
what a schema cannot say (pointers in range, spans in order, line numbers unique).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
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

    def __str__(self) -> str:
        where = self.source
        if self.position:
            where += f": {self.unit} {self.position}"
            if self.claim_id:
                where += f" ({self.claim_id})"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def claim_from_data(
    data: Any, source: str = "<input>", position: int = 1, unit: str = "claim"
) -> Claim | ClaimError:
    """One claim's parsed JSON, validated and built; the first problem found when it is not valid.

    Other readers (837, CSV) can call this on the dict they build, to share the checks.
    """
    problems = validate_claim(data)
    if problems:
        path, message = problems[0]
        claim_id = data.get("claim_id") if isinstance(data, dict) else None
        if not isinstance(claim_id, str):
            claim_id = None
        return ClaimError(source, position, claim_id, path, message, unit)
    return Claim.from_dict(data)


def validate_claim(data: Any) -> list[tuple[str, str]]:
    """The problems with a claim as (JSON path, message) pairs; empty when it is valid.

    Schema problems come first and alone (the most relevant one, by ``best_match``), since
    the semantic checks rely on the shapes the schema guarantees.
    """
    if not _is_valid(data):
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
    """What the schema cannot say: pointers in range, spans in order, line numbers unique."""
    count = len(data.get("diagnoses") or ())
    has = {0: "no diagnoses", 1: "1 diagnosis"}.get(count, f"{count} diagnoses")
    first_use: dict[int, int] = {}
    for i, line in enumerate(data["lines"]):
        where = f"$.lines[{i}]"
        number = line["line_number"]
        if number in first_use:
            earlier = f"$.lines[{first_use[number]}]"
            yield f"{where}.line_number", f"line number {number} is also used by {earlier}"
        first_use.setdefault(number, i)
        for j, pointer in enumerate(line.get("diagnosis_pointers") or ()):
            if pointer > count:
                yield f"{where}.diagnosis_pointers[{j}]", f"pointer {pointer} but the claim has {has}"
        start, end = line["service_date"], line.get("service_date_to")
        # ISO dates already checked by the schema, so comparing the strings compares the dates
        if end and end < start:
            yield f"{where}.service_date_to", f"{end!r} is before the service date {start!r}"
