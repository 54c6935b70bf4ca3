"""FHIR elements as the claim reader meets them: the code systems it knows, and typed reads
of one element that raise ``Bad`` (the element's FHIR path, and why) when it is not the
shape FHIR R4 gives it."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any



@functools.lru_cache(maxsize=512)  # a file names a few systems, on every element
def _key(url: str) -> str:
    """A code system's URL as systems are compared: real files write CMS's and NUBC's with
    http or https, in any case, with or without a trailing slash or ``.html``."""
    url = url.strip().lower()
    for prefix in ("https://", "http://"):
        if url.startswith(prefix):
            url = url[len(prefix):]
    return url.removesuffix("/").removesuffix(".html")


class System:
    """A code system by the URLs (and HL7 OIDs) files name it with; ``in`` compares them as
    ``_key`` does. The first URL is the canonical one, which messages name."""

    def __init__(self, name: str, *urls: str):
        self.name, self.urls = name, urls
        self.keys = frozenset(_key(u) for u in urls)

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and _key(url) in self.keys

    def __or__(self, other: System) -> System:
        return System(f"{self.name} or {other.name}", *self.urls, *other.urls)


CLAIM_TYPE = System("claim type", "http://terminology.hl7.org/CodeSystem/claim-type")
ICD10CM = System("ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90")
CPT = System("CPT", "http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12")
HCPCS = System("HCPCS", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
               "urn:oid:2.16.840.1.113883.6.285", "https://bluebutton.cms.gov/resources/codesystem/hcpcs")
NPI = System("NPI", "http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.6")
POS = System("place-of-service",
             "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
             "https://bluebutton.cms.gov/resources/variables/line_place_of_srvc_cd")
NDC = System("NDC", "http://hl7.org/fhir/sid/ndc", "urn:oid:2.16.840.1.113883.6.69")
REVENUE = System("NUBC revenue code", "https://www.nubc.org/CodeSystem/RevenueCodes",
                 "https://bluebutton.cms.gov/resources/variables/rev_cntr",
                 "http://terminology.hl7.org/CodeSystem/ex-revenue-center")
TAXONOMY = System("NUCC taxonomy", "http://nucc.org/provider-taxonomy")
TYPE_OF_BILL = System("type of bill", "https://www.nubc.org/CodeSystem/TypeOfBill")
#: what a prior-authorization request (Da Vinci PAS) codes an item with when it asks for a
#: kind of service, not a procedure: X12's service type codes (EB03 / element 1365)
SERVICE_TYPE = System("X12 service type", "https://codesystem.x12.org/005010/1365")
SNOMED = System("SNOMED CT", "http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96")
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


def code_of(concept: dict, path: str, systems: System, what: str, *,
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
        raise Bad(path, f"no {what} coding{found}; expected system {systems.urls[0]}")
    return None, path


def system_in(element: dict, systems: System) -> bool:
    return element.get("system") in systems


def systems_of(concept: dict) -> list[str]:
    """The systems a CodeableConcept's codings name, in order, once each."""
    found = [c.get("system") for c in concept.get("coding") or () if isinstance(c, dict)]
    return list(dict.fromkeys(s for s in found if isinstance(s, str)))


def fhir_date(value: Any, path: str) -> str:
    """A FHIR date or dateTime as an ISO date: the day of a dateTime (its own time zone)."""
    value = as_type(value, str, path, "a date")
    if _PARTIAL.match(value):
        raise Bad(path, f"{value!r} is only a partial date; a full date (YYYY-MM-DD) is needed")
    return value[:10] if "T" in value else value


def number_of(value: Any, path: str) -> int | float:
    return as_type(value, (int, float), path, "a number")
