"""Whether a code is valid on a date of service: the meaning of ``FIELD is valid``.

Three answers, as for every condition: True, False, or None when it cannot be known.

* ICD-10-CM: the code exists and is billable (a leaf of the tabular list) in the edition
  of ICD-10-CM in force on the date of service (``icd10cm``: the one simple-icd-10-cm
  ships, FY2026, and those a pack imports). A date no edition covers gets no answer
  (None), so a rule that needs it does not fire. A code not even shaped like ICD-10-CM is
  invalid on any date.
* CPT/HCPCS: the shape only (five characters: 99213, 0001U, G0439). No licensed CPT list
  ships with the engine, so a well-shaped code that does not exist passes.
* Place of service: in the CMS place-of-service code set (validity_data/place_of_service.csv,
  sources in validity_data/README.md) and in effect on the date of service.
* Modifiers: in validity_data/modifiers.csv (CPT modifier codes, the CMS HCPCS Level II
  modifiers, ASA physical status P1-P6 and the ambulance origin/destination pairs; sources
  and what was not verified in validity_data/README.md) and in effect on the date of
  service. A modifier not in the list is invalid; one listed without dates counts on any
  date. Lower case and surrounding blanks are forgiven, as everywhere else.

Revenue codes have no list here: the NUBC revenue code list is licensed, so it does not
ship with the engine; the checker says so when a rule asks.
"""

from __future__ import annotations

import csv
import functools
from datetime import date
from importlib import resources

from .icd10cm import Editions
from .kinds import normalize, shape_error

#: the code kinds ``is valid`` can answer for, and what it checks
KINDS = {"icd10": "exists and is billable in the ICD-10-CM code set of the date of service",
         "hcpcs": "is shaped like a CPT/HCPCS code",
         "pos": "is in the CMS place-of-service code set on the date of service",
         "modifier": "is a CPT or HCPCS Level II modifier in effect on the date of service"}


def is_valid(kind: str, code: str | None, day: date, icd10: Editions | None = None) -> bool | None:
    """Whether ``code`` of kind ``kind`` is valid on ``day`` (a modifier is normalized
    first; codes of the other kinds come in normal form, as the claim readers make them).
    ``icd10`` is the pack's ICD-10-CM editions; by default the built-in one alone."""
    if code is None or code == "":
        return None
    if kind == "icd10":
        if shape_error("icd10", code):
            return False
        return (icd10 or builtin_editions()).billable(code, day)
    if kind == "hcpcs":
        return shape_error("hcpcs", code) is None
    if kind == "pos":
        if code not in place_of_service_codes():
            return False
        since = place_of_service_codes()[code]
        return since is None or day >= since
    if kind == "modifier":
        listed = modifier_codes()
        periods = listed.get(code)  # claims come normalized: the second look-up is rare
        if periods is None:
            periods = listed.get(normalize("modifier", code), ())
        for start, end in periods:
            if (start is None or start <= day) and (end is None or day <= end):
                return True
        return False
    raise ValueError(f"no code set for {kind}")


@functools.cache
def builtin_editions() -> Editions:
    """The ICD-10-CM editions of a pack that imports none: the built-in one."""
    return Editions()


@functools.cache
def place_of_service_codes() -> dict[str, date | None]:
    """The CMS place-of-service codes: code -> the first date of service it is valid for
    (None: long established)."""
    return {row["code"]: _day(row["effective_from"]) for row in _rows("place_of_service.csv")}


@functools.cache
def modifier_codes() -> dict[str, tuple[tuple[date | None, date | None], ...]]:
    """The modifiers: code -> the periods (first, last date of service; None: open) it is
    valid in. A code has several periods when CMS retired it and later gave it a new meaning
    (QA, QR), or when it is both a HCPCS modifier and an ambulance origin/destination pair."""
    periods: dict[str, list] = {}
    for row in _rows("modifiers.csv"):
        periods.setdefault(row["code"], []).append(
            (_day(row["effective_from"]), _day(row["effective_through"])))
    return {code: tuple(spans) for code, spans in periods.items()}


def _rows(name: str) -> list[dict[str, str]]:
    text = (resources.files(__package__) / "validity_data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def combine(quantifier: str, answers) -> bool | None:
    """any / all / no over three-valued answers (an empty list: any False, all and no True)."""
    answers = list(answers)
    if quantifier == "all":
        return False if False in answers else (None if None in answers else True)
    found = True if True in answers else (None if None in answers else False)
    if quantifier == "any":
        return found
    return None if found is None else not found
