"""Reading FHIR R4 Claim resources into the normalised claim.

Input is FHIR JSON: one Claim, a Bundle of any type whose entries hold Claims (entries of
other resource types are skipped, but Patients, Coverages, Organizations, Practitioners
and Conditions in it are used to resolve the Claims' references), or FHIR NDJSON (bulk
data export: one resource per line). Each Claim becomes a plain claim dict, which goes
through :func:`rulesengine.claims.build.claim_from_data` like any JSON claim, so it is
validated the same way; a problem is reported as a ClaimError whose ``path`` is the FHIR
path of the element at fault, e.g. ``Bundle.entry[2].resource.item[0].servicedDate``.

The JSON is read directly rather than through fhir.resources: see docs/claim-formats.md
for the element-by-element mapping and for why.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .build import ClaimError, claim_from_data
from .model import Claim

__all__ = ["claims_from_fhir", "is_fhir", "read_fhir_claims"]

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


def is_fhir(data: Any) -> bool:
    """Whether parsed JSON is a FHIR resource (it names its ``resourceType``)."""
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def read_fhir_claims(source_file: str | Path | IO[str], source: str | None = None
                     ) -> Iterator[Claim | ClaimError]:
    """The Claims in a FHIR JSON or NDJSON file (a path or an open text stream), in order."""
    if isinstance(source_file, (str, Path)):
        source = source or str(source_file)
        with open(source_file, encoding="utf-8-sig") as stream:
            text = stream.read()
    else:
        source = source or getattr(source_file, "name", "<input>")
        text = source_file.read()
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # NDJSON: one resource per line
            yield from _read_ndjson(text, source)
        else:
            yield ClaimError(source, 0, None, "", f"not valid JSON at line {exc.lineno}, "
                             f"column {exc.colno}: {exc.msg}")
        return
    except ValueError as exc:
        yield ClaimError(source, 0, None, "", f"not valid JSON: {exc}")
        return
    yield from claims_from_fhir(data, source)


def _read_ndjson(text: str, source: str) -> Iterator[Claim | ClaimError]:
    for number, line in enumerate(io.StringIO(text), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, parse_constant=_no_constant)
        except ValueError as exc:
            yield ClaimError(source, number, None, "", f"not valid JSON: {exc}", "line")
            continue
        yield from claims_from_fhir(data, source, number, "line")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def claims_from_fhir(data: Any, source: str = "<input>", position: int | None = None,
                     unit: str = "claim") -> Iterator[Claim | ClaimError]:
    """The Claims in one parsed FHIR resource: a Claim, or a Bundle's Claim entries.

    Claims are numbered 1, 2, ... in the order met (``position`` overrides, for NDJSON
    lines); other resources are skipped.
    """
    if not is_fhir(data):
        yield ClaimError(source, position or 0, None, "",
                         "not a FHIR resource: expected an object with a resourceType", unit)
        return
    kind = data["resourceType"]
    if kind == "Claim":
        yield _ClaimReader(data, "Claim", {}).read(source, position or 1, unit)
        return
    if kind != "Bundle":
        return  # a Patient, Coverage... on its own line of an NDJSON export
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        yield ClaimError(source, position or 0, None, "Bundle.entry", "expected an array", unit)
        return
    index = _bundle_index(entries)
    count = 0
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if is_fhir(resource) and resource["resourceType"] == "Claim":
            count += 1
            reader = _ClaimReader(resource, f"Bundle.entry[{i}].resource", index)
            yield reader.read(source, position or count, unit)


def _bundle_index(entries: list) -> dict[str, tuple[dict, str]]:
    """Each resource in a Bundle by its fullUrl and by ``Type/id``, with its FHIR path."""
    index: dict[str, tuple[dict, str]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not is_fhir(entry.get("resource")):
            continue
        resource, path = entry["resource"], f"Bundle.entry[{i}].resource"
        if isinstance(entry.get("fullUrl"), str):
            index.setdefault(entry["fullUrl"], (resource, path))
        if isinstance(resource.get("id"), str):
            index.setdefault(f"{resource['resourceType']}/{resource['id']}", (resource, path))
    return index


class _Bad(Exception):
    """A FHIR element that cannot become part of a claim: where, and why."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def _as(value: Any, kind: type | tuple, path: str, what: str) -> Any:
    if type(value) is kind:  # the usual case, and the cheap test: this runs per element
        return value
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Bad(path, f"expected {what}, got {json.dumps(value)[:40]}")
    return value


def _list(obj: dict, key: str, path: str) -> list:
    value = obj.get(key)
    if type(value) is list:
        return value
    return _as(value or [], list, f"{path}.{key}", "an array")


def _obj(obj: dict, key: str, path: str) -> dict:
    value = obj.get(key)
    if type(value) is dict:
        return value
    return _as(value or {}, dict, f"{path}.{key}", "an object")


def _text(obj: dict, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise _Bad(f"{path}.{key}", f"expected a string, got {json.dumps(value)[:40]}")


def _codings(concept: dict, path: str) -> Iterator[tuple[dict, str]]:
    """The codings of a CodeableConcept, each with its path."""
    for k, coding in enumerate(_list(concept, "coding", path)):
        yield _as(coding, dict, f"{path}.coding[{k}]", "a Coding"), f"{path}.coding[{k}]"


def _code(concept: dict, path: str, systems: set[str], what: str, *,
          required: bool = True, systemless: bool = False) -> tuple[str | None, str]:
    """The code of the first coding in one of ``systems`` (or with no system at all, when
    ``systemless``), and its path; the system decides what a code means, so a code from
    another system is not taken for one of these."""
    codings = _list(concept, "coding", path)
    for k, coding in enumerate(codings):
        if type(coding) is not dict:
            raise _Bad(f"{path}.coding[{k}]", "expected a Coding")
        system = coding.get("system")
        if (system in systems) if type(system) is str else (systemless and system is None):
            code = coding.get("code")
            if code is not None:
                where = f"{path}.coding[{k}].code"
                return _as(code, str, where, "a code").strip(), where
    if required:
        others = sorted({c["system"] for c in codings if type(c.get("system")) is str})
        found = f" (found only {', '.join(others)})" if others else ""
        raise _Bad(path, f"no {what} coding{found}; expected system {min(systems)}")
    return None, path


def _system_in(element: dict, systems: set[str]) -> bool:
    system = element.get("system")
    return type(system) is str and system in systems


def _date(value: Any, path: str) -> str:
    """A FHIR date or dateTime as an ISO date: the day of a dateTime (its own time zone)."""
    value = _as(value, str, path, "a date")
    if _PARTIAL.match(value):
        raise _Bad(path, f"{value!r} is only a partial date; a full date (YYYY-MM-DD) is needed")
    return value[:10] if "T" in value else value


def _number(value: Any, path: str) -> int | float:
    return _as(value, (int, float), path, "a number")


class _ClaimReader:
    """Maps one Claim resource (at FHIR path ``root``) to a claim dict.

    ``where`` records, for each field of the claim dict, the FHIR path it came from, so a
    validation error on the dict can name the element to fix.
    """

    def __init__(self, claim: dict, root: str, index: dict[str, tuple[dict, str]]):
        self.claim, self.root, self.index = claim, root, index
        self.where: dict[str, str] = {"$": root}

    def read(self, source: str, position: int, unit: str) -> Claim | ClaimError:
        claim_id = None
        try:
            claim_id = self.claim_id()
            data = self.build(claim_id)
        except _Bad as bad:
            return ClaimError(source, position, claim_id, bad.path, bad.message, unit)
        result = claim_from_data(data, source, position, unit)
        if isinstance(result, ClaimError):
            # a message may name another line by its JSON path: name its item instead
            message = re.sub(r"\$\.lines\[\d+\]", lambda m: self.fhir_path(m.group(0)),
                             result.message)
            return ClaimError(source, position, claim_id, self.fhir_path(result.path), message,
                              unit)
        return result

    def fhir_path(self, json_path: str) -> str:
        """The FHIR path behind a claim dict's JSON path: the longest one recorded."""
        path = json_path
        while path not in self.where:
            path = path[: max(path.rfind("."), path.rfind("["))] or "$"
        return self.where[path]

    def resolve(self, reference: dict, path: str) -> tuple[dict | None, str]:
        """The resource a Reference points to, contained or in the Bundle, and its path."""
        ref = _text(reference, "reference", path)
        if not ref:
            return None, path
        if ref.startswith("#"):
            for k, resource in enumerate(_list(self.claim, "contained", self.root)):
                if isinstance(resource, dict) and resource.get("id") == ref[1:]:
                    return resource, f"{self.root}.contained[{k}]"
            raise _Bad(f"{path}.reference", f"{ref!r} names no contained resource")
        found = self.index.get(ref)
        if found is None:  # an absolute or versioned URL of a resource in the Bundle
            parts = ref.split("/_history/")[0].rstrip("/").split("/")
            found = self.index.get("/".join(parts[-2:]))
        return found if found else (None, path)

    def claim_id(self) -> str:
        for k, identifier in enumerate(_list(self.claim, "identifier", self.root)):
            where = f"{self.root}.identifier[{k}]"
            value = _text(_as(identifier, dict, where, "an Identifier"), "value", where)
            if value:
                self.where["$.claim_id"] = f"{where}.value"
                return value
        self.where["$.claim_id"] = f"{self.root}.id"
        value = _text(self.claim, "id", self.root)
        if not value:
            raise _Bad(self.root, "the Claim has neither an identifier nor an id")
        return value

    def build(self, claim_id: str) -> dict:
        root, claim = self.root, self.claim
        self.kind = self.claim_type()
        data: dict[str, Any] = {"claim_id": claim_id, "claim_type": self.kind}
        data["received_date"] = self.received_date()
        data["frequency_code"] = self.frequency_code()
        data["payer"], data["prior_authorization"] = self.insurance()
        data["billing_provider"] = self.provider()
        data["patient"] = self.patient(data["payer"].pop("member_id"))
        data["diagnoses"], sequences = self.diagnoses()
        lines = [self.line(i, item, sequences)
                 for i, item in enumerate(_list(claim, "item", root))]
        if not lines:
            raise _Bad(f"{root}.item", "the Claim has no items; at least one is needed")
        # CLM05-1's place of service is the claim's; a line carries its own only when it differs
        first = next((k for k, ln in enumerate(lines) if ln["place_of_service"]), None)
        data["place_of_service"] = None if first is None else lines[first]["place_of_service"]
        if first is not None:
            self.where["$.place_of_service"] = self.where[f"$.lines[{first}].place_of_service"]
        for ln in lines:
            if ln["place_of_service"] == data["place_of_service"]:
                ln["place_of_service"] = None
        data["lines"] = lines
        return data

    def claim_type(self) -> str:
        path = f"{self.root}.type"
        if "type" not in self.claim:
            raise _Bad(path, "required element is missing")
        self.where["$.claim_type"] = path
        code, where = _code(_obj(self.claim, "type", self.root), path, {CLAIM_TYPE_SYSTEM},
                            "claim-type")
        if code not in ("professional", "institutional"):
            raise _Bad(where, f"claim type {code!r} is not checked here: only professional "
                              f"and institutional claims are")
        return code

    def supporting_info(self, category: str) -> tuple[dict, str] | None:
        """The first supportingInfo whose category has code ``category`` (CARIN BB codes)."""
        for k, info in enumerate(_list(self.claim, "supportingInfo", self.root)):
            where = f"{self.root}.supportingInfo[{k}]"
            info = _as(info, dict, where, "a supportingInfo")
            for coding, _ in _codings(_obj(info, "category", where), f"{where}.category"):
                if coding.get("code") == category:
                    return info, where
        return None

    def received_date(self) -> str | None:
        found = self.supporting_info("clmrecvddate")
        if found and "timingDate" in found[0]:
            path = f"{found[1]}.timingDate"
            value = found[0]["timingDate"]
        else:
            path, value = f"{self.root}.created", self.claim.get("created")
        self.where["$.received_date"] = path
        return None if value is None else _date(value, path)

    def frequency_code(self) -> str | None:
        """The last digit of an institutional type of bill (0131 -> 1), as on CLM05-3."""
        found = self.supporting_info("typeofbill")
        if not found:
            return None
        info, where = found
        code, path = _code(_obj(info, "code", where), f"{where}.code",
                           {"https://www.nubc.org/CodeSystem/TypeOfBill"}, "type of bill",
                           systemless=True)
        self.where["$.frequency_code"] = path
        return code[-1:] if code else None

    def insurance(self) -> tuple[dict, str | None]:
        """Payer, plan and member id from the focal insurance, and its first preAuthRef."""
        root, claim = self.root, self.claim
        insurances = _list(claim, "insurance", root)
        focal = 0
        for k, ins in enumerate(insurances):
            if isinstance(ins, dict) and ins.get("focal") is True:
                focal = k
                break
        payer: dict[str, Any] = {"id": None, "plan": None, "member_id": None}
        auth = None
        coverage = None
        if insurances:
            where = f"{root}.insurance[{focal}]"
            ins = _as(insurances[focal], dict, where, "an insurance")
            refs = _list(ins, "preAuthRef", where)
            if refs:
                auth = _as(refs[0], str, f"{where}.preAuthRef[0]", "a string")
                self.where["$.prior_authorization"] = f"{where}.preAuthRef[0]"
            cov_ref = _obj(ins, "coverage", where)
            coverage, cov_path = self.resolve(cov_ref, f"{where}.coverage")
            if coverage is not None:
                payer["plan"] = self.plan(coverage, cov_path)
                payer["member_id"] = _text(coverage, "subscriberId", cov_path)
            if payer["plan"] is None:
                payer["plan"] = _text(cov_ref, "display", f"{where}.coverage")
        if "insurer" in claim:
            payer["id"] = self.organization_id(_obj(claim, "insurer", root), f"{root}.insurer")
        elif coverage is not None and _list(coverage, "payor", cov_path):
            first = _as(coverage["payor"][0], dict, f"{cov_path}.payor[0]", "a Reference")
            payer["id"] = self.organization_id(first, f"{cov_path}.payor[0]")
        return payer, auth

    def plan(self, coverage: dict, path: str) -> str | None:
        """Coverage.class of type ``plan``: its value."""
        for k, cls in enumerate(_list(coverage, "class", path)):
            where = f"{path}.class[{k}]"
            cls = _as(cls, dict, where, "a class")
            for coding, _ in _codings(_obj(cls, "type", where), f"{where}.type"):
                if coding.get("code") == "plan":
                    return _text(cls, "value", where)
        return None

    def organization_id(self, reference: dict, path: str) -> str | None:
        """A payer's id: the Reference's identifier, else the referenced resource's first
        identifier, else the id in the reference itself (``Organization/medicare``)."""
        identifier = _obj(reference, "identifier", path)
        if identifier.get("value"):
            return _text(identifier, "value", f"{path}.identifier")
        resource, where = self.resolve(reference, path)
        if resource is not None:
            for k, ident in enumerate(_list(resource, "identifier", where)):
                if isinstance(ident, dict) and ident.get("value"):
                    return _text(ident, "value", f"{where}.identifier[{k}]")
            return _text(resource, "id", where)
        ref = _text(reference, "reference", path)
        return ref.rstrip("/").rsplit("/", 1)[-1] if ref else None

    def provider(self) -> dict:
        path = f"{self.root}.provider"
        reference = _obj(self.claim, "provider", self.root)
        npi = taxonomy = None
        identifier = _obj(reference, "identifier", path)
        if _system_in(identifier, NPI):
            npi = _text(identifier, "value", f"{path}.identifier")
            self.where["$.billing_provider.npi"] = f"{path}.identifier.value"
        resource, where = self.resolve(reference, path)
        if resource is not None:
            for k, ident in enumerate(_list(resource, "identifier", where)):
                if npi is None and isinstance(ident, dict) and _system_in(ident, NPI):
                    npi = _text(ident, "value", f"{where}.identifier[{k}]")
                    self.where["$.billing_provider.npi"] = f"{where}.identifier[{k}].value"
            # Practitioner.qualification[].code, PractitionerRole.specialty[]
            concepts = [(q.get("code") or {}, f"{where}.qualification[{k}].code")
                        for k, q in enumerate(_list(resource, "qualification", where))
                        if isinstance(q, dict)]
            concepts += [(s, f"{where}.specialty[{k}]")
                         for k, s in enumerate(_list(resource, "specialty", where))]
            for concept, cpath in concepts:
                code, cwhere = _code(_as(concept, dict, cpath, "a CodeableConcept"), cpath,
                                     TAXONOMY, "taxonomy", required=False)
                if code:
                    taxonomy = code
                    self.where["$.billing_provider.taxonomy"] = cwhere
                    break
        return {"npi": npi, "taxonomy": taxonomy}

    def patient(self, coverage_member_id: str | None) -> dict:
        path = f"{self.root}.patient"
        if "patient" not in self.claim:
            raise _Bad(path, "required element is missing")
        reference = _obj(self.claim, "patient", self.root)
        resource, where = self.resolve(reference, path)
        if resource is None:
            raise _Bad(path, "the Patient is neither contained in the Claim nor an entry of "
                             "the Bundle; its birth date and sex are needed")
        self.where.update({"$.patient": where, "$.patient.birth_date": f"{where}.birthDate",
                           "$.patient.sex": f"{where}.gender"})
        gender = _text(resource, "gender", where)
        if gender is not None and gender not in GENDER:
            raise _Bad(f"{where}.gender", f"{gender!r} is not a FHIR administrative gender "
                                          f"(male, female, other, unknown)")
        patient = {"member_id": self.member_id(resource, where) or coverage_member_id}
        if resource.get("birthDate") is not None:  # absent: "required field is missing"
            patient["birth_date"] = _date(resource["birthDate"], f"{where}.birthDate")
        if gender:
            patient["sex"] = GENDER[gender]
        return patient

    def member_id(self, patient: dict, path: str) -> str | None:
        """The identifier typed MB (member number), else the Coverage's subscriberId (the
        caller's fallback), else the Patient's first identifier."""
        first = None
        for k, ident in enumerate(_list(patient, "identifier", path)):
            ipath = f"{path}.identifier[{k}]"
            ident = _as(ident, dict, ipath, "an Identifier")
            codes = [c.get("code") for c, _ in _codings(_obj(ident, "type", ipath), f"{ipath}.type")]
            if "MB" in codes and ident.get("value"):
                return _text(ident, "value", f"{path}.identifier[{k}]")
            first = first or _text(ident, "value", ipath)
        return first

    def diagnoses(self) -> tuple[list[str], dict[int, int]]:
        """ICD-10-CM codes in sequence order, and each sequence's 1-based position."""
        root = self.root
        found = []
        for k, diagnosis in enumerate(_list(self.claim, "diagnosis", root)):
            where = f"{root}.diagnosis[{k}]"
            diagnosis = _as(diagnosis, dict, where, "a diagnosis")
            sequence = _as(diagnosis.get("sequence"), int, f"{where}.sequence", "an integer")
            if "diagnosisCodeableConcept" in diagnosis:
                cpath = f"{where}.diagnosisCodeableConcept"
                concept = _obj(diagnosis, "diagnosisCodeableConcept", where)
            else:  # diagnosisReference: a Condition, contained or in the Bundle
                condition, cwhere = self.resolve(_obj(diagnosis, "diagnosisReference", where),
                                                 f"{where}.diagnosisReference")
                if condition is None:
                    raise _Bad(where, "neither a diagnosisCodeableConcept nor a "
                                      "diagnosisReference to a Condition that can be found")
                cpath, concept = f"{cwhere}.code", _obj(condition, "code", cwhere)
            code, code_path = _code(concept, cpath, ICD10CM, "ICD-10-CM")
            found.append((sequence, code, code_path))
        found.sort(key=lambda f: f[0])
        for n, (_, _, code_path) in enumerate(found):
            self.where[f"$.diagnoses[{n}]"] = code_path
        return [code for _, code, _ in found], {seq: n for n, (seq, _, _) in enumerate(found, 1)}

    def line(self, i: int, item: Any, sequences: dict[int, int]) -> dict:
        where = f"{self.root}.item[{i}]"
        item = _as(item, dict, where, "an item")
        at = f"$.lines[{i}]"
        self.where[at] = where
        line: dict[str, Any] = {
            "line_number": _as(item.get("sequence"), int, f"{where}.sequence", "an integer")}
        self.where[f"{at}.line_number"] = f"{where}.sequence"

        product = _obj(item, "productOrService", where)
        ppath = f"{where}.productOrService"
        self.where[f"{at}.procedure"] = ppath
        # An institutional line may be billed by revenue code alone (data-absent-reason).
        procedure, code_path = _code(product, ppath, CPT | HCPCS, "CPT or HCPCS",
                                     required=self.kind == "professional")
        line["procedure"] = procedure
        self.where[f"{at}.procedure"] = code_path
        line["ndc"], npath = _code(product, ppath, NDC, "NDC", required=False)
        self.where[f"{at}.ndc"] = npath

        modifiers = []
        for k, concept in enumerate(_list(item, "modifier", where)):
            mpath = f"{where}.modifier[{k}]"
            code, cwhere = _code(_as(concept, dict, mpath, "a CodeableConcept"), mpath,
                                 CPT | HCPCS, "modifier", systemless=True)
            modifiers.append(code)
            self.where[f"{at}.modifiers[{k}]"] = cwhere
        line["modifiers"] = modifiers

        quantity = _obj(item, "quantity", where)
        units = 1
        if "value" in quantity:
            units = line["units"] = _number(quantity["value"], f"{where}.quantity.value")
            self.where[f"{at}.units"] = f"{where}.quantity.value"
        line["charge"] = self.charge(item, where, units, at)
        self.service_dates(item, where, at, line)

        pointers = []
        for k, seq in enumerate(_list(item, "diagnosisSequence", where)):
            spath = f"{where}.diagnosisSequence[{k}]"
            seq = _as(seq, int, spath, "an integer")
            if seq not in sequences:
                raise _Bad(spath, f"no diagnosis has sequence {seq}")
            pointers.append(sequences[seq])
            self.where[f"{at}.diagnosis_pointers[{k}]"] = spath
        line["diagnosis_pointers"] = pointers

        loc = f"{where}.locationCodeableConcept"
        line["place_of_service"], self.where[f"{at}.place_of_service"] = (
            _code(_obj(item, "locationCodeableConcept", where), loc, POS, "place-of-service",
                  required=False, systemless=True)
            if "locationCodeableConcept" in item else (None, loc))
        rev = f"{where}.revenue"
        line["revenue_code"], self.where[f"{at}.revenue_code"] = (
            _code(_obj(item, "revenue", where), rev, REVENUE, "revenue code",
                  systemless=True) if "revenue" in item else (None, rev))
        line["prior_authorization"] = None  # FHIR R4 has no line-level element for it
        return line

    def charge(self, item: dict, where: str, units: int | float, at: str) -> float | None:
        """``net`` (the line's billed total); else ``unitPrice`` x quantity x factor."""
        if "net" in item:
            self.where[f"{at}.charge"] = f"{where}.net.value"
            net = _obj(item, "net", where)
            return _number(net["value"], f"{where}.net.value") if "value" in net else None
        if "unitPrice" in item:
            self.where[f"{at}.charge"] = f"{where}.unitPrice.value"
            price = _obj(item, "unitPrice", where)
            if "value" in price:
                factor = _number(item.get("factor", 1), f"{where}.factor")
                return round(_number(price["value"], f"{where}.unitPrice.value")
                             * units * factor, 2)
        return None

    def service_dates(self, item: dict, where: str, at: str, line: dict) -> None:
        if "servicedDate" in item:
            path = f"{where}.servicedDate"
            line["service_date"], line["service_date_to"] = _date(item["servicedDate"], path), None
            self.where[f"{at}.service_date"] = path
        elif "servicedPeriod" in item:
            period, path = _obj(item, "servicedPeriod", where), f"{where}.servicedPeriod"
            if "start" not in period:
                raise _Bad(f"{path}.start", "the service period has no start")
            start = _date(period["start"], f"{path}.start")
            end = _date(period["end"], f"{path}.end") if period.get("end") else None
            line["service_date"], line["service_date_to"] = start, (end if end != start else None)
            self.where[f"{at}.service_date"] = f"{path}.start"
            self.where[f"{at}.service_date_to"] = f"{path}.end"
        else:
            raise _Bad(where, "the item has no servicedDate or servicedPeriod")
