"""FHIR elements as the claim reader meets them: the code systems it knows, and typed reads
of one element that raise ``Bad`` (the element's FHIR path, and why) when it is not the
shape FHIR R4 gives it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
# Each code system by its canonical URL and, where HL7 publishes one, its OID form.
ICD10CM = {"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"}
CPT = {"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"}
HCPCS = {
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "urn:oid:2.16.840.1.113883.6.285",
}
NPI = {"http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.6"}
POS = {
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
    "http://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
}
NDC = {"http://hl7.org/fhir/sid/ndc", "urn:oid:2.16.840.1.113883.6.69"}
REVENUE = {"https://www.nubc.org/CodeSystem/RevenueCodes",
           "http://terminology.hl7.org/CodeSystem/ex-revenue-center"}
TAXONOMY = {"http://nucc.org/provider-taxonomy"}
GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_PARTIAL = re.compile(r"^[0-9]{4}(-[0-9]{2})?$")



class Bad(Exception):
    """A FHIR element that cannot become part of a claim: where, and why."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def as_type(value: Any, kind: type | tuple, path: str, what: str) -> Any:
    if type(value) is kind:  # the usual case, and the cheap test: this runs per element
        return value
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Bad(path, f"expected {what}, got {json.dumps(value)[:40]}")
    return value


def list_of(obj: dict, key: str, path: str) -> list:
    value = obj.get(key)
    if type(value) is list:
        return value
    return as_type(value or [], list, f"{path}.{key}", "an array")


def object_of(obj: dict, key: str, path: str) -> dict:
    value = obj.get(key)
    if type(value) is dict:
        return value
    return as_type(value or {}, dict, f"{path}.{key}", "an object")


def text_of(obj: dict, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise Bad(f"{path}.{key}", f"expected a string, got {json.dumps(value)[:40]}")


def codings(concept: dict, path: str) -> Iterator[tuple[dict, str]]:
    """The codings of a CodeableConcept, each with its path."""
    for k, coding in enumerate(list_of(concept, "coding", path)):
        yield as_type(coding, dict, f"{path}.coding[{k}]", "a Coding"), f"{path}.coding[{k}]"


def code_of(concept: dict, path: str, systems: set[str], what: str, *,
          required: bool = True, systemless: bool = False) -> tuple[str | None, str]:
    """The code of the first coding in one of ``systems`` (or with no system at all, when
    ``systemless``), and its path; the system decides what a code means, so a code from
    another system is not taken for one of these."""
    codings = list_of(concept, "coding", path)
    for k, coding in enumerate(codings):
        if type(coding) is not dict:
            raise Bad(f"{path}.coding[{k}]", "expected a Coding")
        system = coding.get("system")
        if (system in systems) if type(system) is str else (systemless and system is None):
            code = coding.get("code")
            if code is not None:
                where = f"{path}.coding[{k}].code"
                return as_type(code, str, where, "a code").strip(), where
    if required:
        others = sorted({c["system"] for c in codings if type(c.get("system")) is str})
        found = f" (found only {', '.join(others)})" if others else ""
        raise Bad(path, f"no {what} coding{found}; expected system {min(systems)}")
    return None, path


def system_in(element: dict, systems: set[str]) -> bool:
    system = element.get("system")
    return type(system) is str and system in systems


def fhir_date(value: Any, path: str) -> str:
    """A FHIR date or dateTime as an ISO date: the day of a dateTime (its own time zone)."""
    value = as_type(value, str, path, "a date")
    if _PARTIAL.match(value):
        raise Bad(path, f"{value!r} is only a partial date; a full date (YYYY-MM-DD) is needed")
    return value[:10] if "T" in value else value


def number_of(value: Any, path: str) -> int | float:
    return as_type(value, (int, float), path, "a number")
