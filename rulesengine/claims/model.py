"""The normalised claim, as every reader produces it and every rule sees it.

The JSON shape (``claim.schema.json`` beside this file) is the public contract; these
classes are its parsed form: dates as ``datetime.date``, codes in normal form, and a
few values derived once per claim so rules need not recompute them per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rulesengine.codes.kinds import normalize


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _code(kind: str, value: str | None) -> str | None:
    return normalize(kind, value) if value else None


def _number(value: Any) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
#: building the model 7x slower (a third of reading a claim). Nothing writes to a claim
#: once built (rules cannot); treat both as read-only. Hashable by value, as before.
@dataclass(slots=True, unsafe_hash=True)
class Line:
    line_number: int
    procedure: str | None
    modifiers: tuple[str, ...]
    units: int | float
    charge: float | None
    service_date: date
    service_date_to: date | None
    diagnosis_pointers: tuple[int, ...]
    place_of_service: str | None
    revenue_code: str | None
    ndc: str | None
    prior_authorization: str | None
    #: the ICD-10-CM codes this line points to (all the claim's when it has no pointers)
    diagnoses: tuple[str, ...]


@dataclass(slots=True, unsafe_hash=True)
class Claim:
    claim_id: str
    claim_type: str
    frequency_code: str | None
    payer_id: str | None
    plan: str | None
    received_date: date | None
    prior_authorization: str | None
    place_of_service: str | None
    billing_npi: str | None
    taxonomy: str | None
    member_id: str | None
    birth_date: date | None
    sex: str | None
    diagnoses: tuple[str, ...]
    lines: tuple[Line, ...]
    first_service_date: date
    last_service_date: date
    procedures: tuple[str, ...] = field(default=())
    #: what the reader read past to build the claim (an element it could not use, an item it
    #: left out): said with its result, so nothing it dropped goes unmentioned
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: dict) -> "Claim":
        """Build a claim from its JSON form; the caller has validated it against the schema."""
        diagnoses = tuple(normalize("icd10", d) for d in data.get("diagnoses") or ())
        lines = tuple(_line(raw, diagnoses) for raw in data["lines"])
        payer = data.get("payer") or {}
        provider = data.get("billing_provider") or {}
        patient = data.get("patient") or {}
        starts = [ln.service_date for ln in lines]
        ends = [ln.service_date_to or ln.service_date for ln in lines]
        return cls(
            claim_id=str(data["claim_id"]),
            claim_type=data["claim_type"],
            frequency_code=data.get("frequency_code"),
            payer_id=payer.get("id"),
            plan=payer.get("plan"),
            received_date=_date(data.get("received_date")),
            prior_authorization=data.get("prior_authorization") or None,
            place_of_service=_code("pos", data.get("place_of_service")),
            billing_npi=provider.get("npi"),
            taxonomy=provider.get("taxonomy"),
            member_id=patient.get("member_id"),
            birth_date=_date(patient.get("birth_date")),
            sex=patient.get("sex"),
            diagnoses=diagnoses,
            lines=lines,
            first_service_date=min(starts),
            last_service_date=max(ends),
            procedures=tuple(ln.procedure for ln in lines if ln.procedure),
            warnings=_warnings(data.get("warnings")),
        )


def _warnings(value: Any) -> tuple[str, ...]:
    """A reader's ``warnings`` (a list of text), as a tuple; anything else is not one."""
    return tuple(w for w in value if isinstance(w, str)) if isinstance(value, list) else ()


def _line(raw: dict, claim_diagnoses: tuple[str, ...]) -> Line:
    pointers = tuple(raw.get("diagnosis_pointers") or ())
    if pointers:
        pointed = tuple(claim_diagnoses[p - 1] for p in pointers if 0 < p <= len(claim_diagnoses))
    else:
        pointed = claim_diagnoses
    procedure = raw.get("procedure")
    return Line(
        line_number=raw["line_number"],
        procedure=normalize("hcpcs", procedure) if procedure else None,
        modifiers=tuple(normalize("modifier", m) for m in raw.get("modifiers") or ()),
        units=_number(raw.get("units", 1)),
        charge=_number(raw.get("charge")),
        service_date=date.fromisoformat(raw["service_date"]),
        service_date_to=_date(raw.get("service_date_to")),
        diagnosis_pointers=pointers,
        place_of_service=_code("pos", raw.get("place_of_service")),
        revenue_code=_code("revenue", raw.get("revenue_code")),
        ndc=raw.get("ndc"),
        prior_authorization=raw.get("prior_authorization") or None,
        diagnoses=pointed,
    )
