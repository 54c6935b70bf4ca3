"""One FHIR R4 Claim resource mapped to a claim dict, then built like any claim.

``ClaimResource`` reads the Claim's elements (and the Patient, Coverage, Organization,
Practitioner and Condition resources it references, contained or in its Bundle) into the
normalised claim's fields, and remembers for each field the FHIR path it came from, so a
validation error on the claim names the element to fix.
"""

from __future__ import annotations

import re
from typing import Any

from ..build import ClaimError, claim_from_data
from ..model import Claim
from .elements import (
    CLAIM_TYPE,
    CPT,
    GENDER,
    HCPCS,
    ICD10CM,
    NDC,
    NPI,
    POS,
    REVENUE,
    SERVICE_TYPE,
    SNOMED,
    TAXONOMY,
    TYPE_OF_BILL,
    Bad,
    as_type,
    code_of,
    codings,
    fhir_date,
    list_of,
    number_of,
    object_of,
    system_in,
    systems_of,
    text_of,
)


#: what a line's procedure and modifiers are coded in
_PROCEDURE = CPT | HCPCS


class ClaimResource:
    """Maps one Claim resource (at FHIR path ``root``) to a claim dict.

    ``where`` records, for each field of the claim dict, the FHIR path it came from, so a
    validation error on the dict can name the element to fix.
    """

    def __init__(self, claim: dict, root: str, index: dict[str, tuple[dict, str]]):
        self.claim, self.root, self.index = claim, root, index
        self.where: dict[str, str] = {"$": root}
        #: what was read past (an element in a system not known here, an item left out)
        self.warnings: list[str] = []

    def read(self, source: str, position: int, unit: str) -> Claim | ClaimError:
        claim_id = None
        try:
            claim_id = self.claim_id()
            data = self.build(claim_id)
        except Bad as bad:
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
        ref = text_of(reference, "reference", path)
        if not ref:
            return None, path
        if ref.startswith("#"):
            for k, resource in enumerate(list_of(self.claim, "contained", self.root)):
                if isinstance(resource, dict) and resource.get("id") == ref[1:]:
                    return resource, f"{self.root}.contained[{k}]"
            raise Bad(f"{path}.reference", f"{ref!r} names no contained resource")
        found = self.index.get(ref)
        if found is None:  # an absolute or versioned URL of a resource in the Bundle
            parts = ref.split("/_history/")[0].rstrip("/").split("/")
            found = self.index.get("/".join(parts[-2:]))
        return found if found else (None, path)

    def claim_id(self) -> str:
        for k, identifier in enumerate(list_of(self.claim, "identifier", self.root)):
            where = f"{self.root}.identifier[{k}]"
            value = text_of(as_type(identifier, dict, where, "an Identifier"), "value", where)
            if value:
                self.where["$.claim_id"] = f"{where}.value"
                return value
        self.where["$.claim_id"] = f"{self.root}.id"
        value = text_of(self.claim, "id", self.root)
        if not value:
            raise Bad(self.root, "the Claim has neither an identifier nor an id")
        return value

    def build(self, claim_id: str) -> dict:
        root, claim = self.root, self.claim
        self.kind = self.claim_type()
        data: dict[str, Any] = {"claim_id": claim_id, "claim_type": self.kind}
        data["received_date"] = self.receivedfhir_date()
        data["frequency_code"] = self.frequencycode_of()
        data["payer"], data["prior_authorization"] = self.insurance()
        data["billing_provider"] = self.provider()
        data["patient"] = self.patient(data["payer"].pop("member_id"))
        data["diagnoses"], sequences = self.diagnoses()
        items = list_of(claim, "item", root)
        lines: list[dict] = []
        for i, item in enumerate(items):  # an item left out leaves no gap among the lines
            line = self.line(i, item, sequences, len(lines))
            if line is not None:
                lines.append(line)
        if not lines:
            raise Bad(f"{root}.item", "the Claim has no items; at least one is needed" if not items
                      else "no item of the Claim is coded with a CPT or HCPCS code the rules can check")
        # CLM05-1's place of service is the claim's; a line carries its own only when it differs
        first = next((k for k, ln in enumerate(lines) if ln["place_of_service"]), None)
        data["place_of_service"] = None if first is None else lines[first]["place_of_service"]
        if first is not None:
            self.where["$.place_of_service"] = self.where[f"$.lines[{first}].place_of_service"]
        for ln in lines:
            if ln["place_of_service"] == data["place_of_service"]:
                ln["place_of_service"] = None
        data["lines"] = lines
        if self.warnings:
            data["warnings"] = self.warnings
        return data

    def claim_type(self) -> str:
        path = f"{self.root}.type"
        if "type" not in self.claim:
            raise Bad(path, "required element is missing")
        self.where["$.claim_type"] = path
        code, where = code_of(object_of(self.claim, "type", self.root), path, CLAIM_TYPE,
                            "claim-type")
        if code not in ("professional", "institutional"):
            raise Bad(where, f"claim type {code!r} is not checked here: only professional "
                              f"and institutional claims are")
        return code

    def supporting_info(self, category: str) -> tuple[dict, str] | None:
        """The first supportingInfo whose category has code ``category`` (CARIN BB codes)."""
        for k, info in enumerate(list_of(self.claim, "supportingInfo", self.root)):
            where = f"{self.root}.supportingInfo[{k}]"
            info = as_type(info, dict, where, "a supportingInfo")
            for coding, _ in codings(object_of(info, "category", where), f"{where}.category"):
                if coding.get("code") == category:
                    return info, where
        return None

    def receivedfhir_date(self) -> str | None:
        found = self.supporting_info("clmrecvddate")
        if found and "timingDate" in found[0]:
            path = f"{found[1]}.timingDate"
            value = found[0]["timingDate"]
        else:
            path, value = f"{self.root}.created", self.claim.get("created")
        self.where["$.received_date"] = path
        return None if value is None else fhir_date(value, path)

    def frequencycode_of(self) -> str | None:
        """The last digit of an institutional type of bill (0131 -> 1), as on CLM05-3."""
        found = self.supporting_info("typeofbill")
        if not found:
            return None
        info, where = found
        code, path = code_of(object_of(info, "code", where), f"{where}.code",
                           TYPE_OF_BILL, "type of bill",
                           systemless=True)
        self.where["$.frequency_code"] = path
        return code[-1:] if code else None

    def insurance(self) -> tuple[dict, str | None]:
        """Payer, plan and member id from the focal insurance, and its first preAuthRef."""
        root, claim = self.root, self.claim
        insurances = list_of(claim, "insurance", root)
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
            ins = as_type(insurances[focal], dict, where, "an insurance")
            refs = list_of(ins, "preAuthRef", where)
            if refs:
                auth = as_type(refs[0], str, f"{where}.preAuthRef[0]", "a string")
                self.where["$.prior_authorization"] = f"{where}.preAuthRef[0]"
            cov_ref = object_of(ins, "coverage", where)
            coverage, cov_path = self.resolve(cov_ref, f"{where}.coverage")
            if coverage is not None:
                payer["plan"] = self.plan(coverage, cov_path)
                payer["member_id"] = text_of(coverage, "subscriberId", cov_path)
            if payer["plan"] is None:
                payer["plan"] = text_of(cov_ref, "display", f"{where}.coverage")
        if "insurer" in claim:
            payer["id"] = self.organization_id(object_of(claim, "insurer", root), f"{root}.insurer")
        elif coverage is not None and list_of(coverage, "payor", cov_path):
            first = as_type(coverage["payor"][0], dict, f"{cov_path}.payor[0]", "a Reference")
            payer["id"] = self.organization_id(first, f"{cov_path}.payor[0]")
        return payer, auth

    def plan(self, coverage: dict, path: str) -> str | None:
        """Coverage.class of type ``plan``: its value."""
        for k, cls in enumerate(list_of(coverage, "class", path)):
            where = f"{path}.class[{k}]"
            cls = as_type(cls, dict, where, "a class")
            for coding, _ in codings(object_of(cls, "type", where), f"{where}.type"):
                if coding.get("code") == "plan":
                    return text_of(cls, "value", where)
        return None

    def organization_id(self, reference: dict, path: str) -> str | None:
        """A payer's id: the Reference's identifier, else the referenced resource's first
        identifier, else the id in the reference itself (``Organization/medicare``)."""
        identifier = object_of(reference, "identifier", path)
        if identifier.get("value"):
            return text_of(identifier, "value", f"{path}.identifier")
        resource, where = self.resolve(reference, path)
        if resource is not None:
            for k, ident in enumerate(list_of(resource, "identifier", where)):
                if isinstance(ident, dict) and ident.get("value"):
                    return text_of(ident, "value", f"{where}.identifier[{k}]")
            return text_of(resource, "id", where)
        ref = text_of(reference, "reference", path)
        return ref.rstrip("/").rsplit("/", 1)[-1] if ref else None

    def provider(self) -> dict:
        path = f"{self.root}.provider"
        reference = object_of(self.claim, "provider", self.root)
        npi = taxonomy = None
        identifier = object_of(reference, "identifier", path)
        if system_in(identifier, NPI):
            npi = text_of(identifier, "value", f"{path}.identifier")
            self.where["$.billing_provider.npi"] = f"{path}.identifier.value"
        resource, where = self.resolve(reference, path)
        if resource is not None:
            for k, ident in enumerate(list_of(resource, "identifier", where)):
                if npi is None and isinstance(ident, dict) and system_in(ident, NPI):
                    npi = text_of(ident, "value", f"{where}.identifier[{k}]")
                    self.where["$.billing_provider.npi"] = f"{where}.identifier[{k}].value"
            # Practitioner.qualification[].code, PractitionerRole.specialty[]
            concepts = [(q.get("code") or {}, f"{where}.qualification[{k}].code")
                        for k, q in enumerate(list_of(resource, "qualification", where))
                        if isinstance(q, dict)]
            concepts += [(s, f"{where}.specialty[{k}]")
                         for k, s in enumerate(list_of(resource, "specialty", where))]
            for concept, cpath in concepts:
                code, cwhere = code_of(as_type(concept, dict, cpath, "a CodeableConcept"), cpath,
                                     TAXONOMY, "taxonomy", required=False)
                if code:
                    taxonomy = code
                    self.where["$.billing_provider.taxonomy"] = cwhere
                    break
        return {"npi": npi, "taxonomy": taxonomy}

    def patient(self, coverage_member_id: str | None) -> dict:
        path = f"{self.root}.patient"
        if "patient" not in self.claim:
            raise Bad(path, "required element is missing")
        reference = object_of(self.claim, "patient", self.root)
        resource, where = self.resolve(reference, path)
        if resource is None:
            named = text_of(reference, "reference", path)
            raise Bad(path, (f"the Patient {named!r} is neither contained in the Claim nor an "
                             f"entry of the Bundle" if named else "the Claim's patient names no "
                             "resource") + "; its birth date and sex are needed")
        self.where.update({"$.patient": where, "$.patient.birth_date": f"{where}.birthDate",
                           "$.patient.sex": f"{where}.gender"})
        gender = text_of(resource, "gender", where)
        if gender is not None and gender not in GENDER:
            raise Bad(f"{where}.gender", f"{gender!r} is not a FHIR administrative gender "
                                          f"(male, female, other, unknown)")
        patient = {"member_id": self.member_id(resource, where) or coverage_member_id}
        if resource.get("birthDate") is not None:  # absent: "required field is missing"
            patient["birth_date"] = fhir_date(resource["birthDate"], f"{where}.birthDate")
        if gender:
            patient["sex"] = GENDER[gender]
        return patient

    def member_id(self, patient: dict, path: str) -> str | None:
        """The identifier typed MB (member number), else the Coverage's subscriberId (the
        caller's fallback), else the Patient's first identifier."""
        first = None
        for k, ident in enumerate(list_of(patient, "identifier", path)):
            ipath = f"{path}.identifier[{k}]"
            ident = as_type(ident, dict, ipath, "an Identifier")
            codes = [c.get("code") for c, _ in codings(object_of(ident, "type", ipath), f"{ipath}.type")]
            if "MB" in codes and ident.get("value"):
                return text_of(ident, "value", f"{path}.identifier[{k}]")
            first = first or text_of(ident, "value", ipath)
        return first

    def diagnoses(self) -> tuple[list[str], dict[int, int]]:
        """ICD-10-CM codes in sequence order, and each sequence's 1-based position."""
        root = self.root
        found, snomed = [], []
        for k, diagnosis in enumerate(list_of(self.claim, "diagnosis", root)):
            where = f"{root}.diagnosis[{k}]"
            diagnosis = as_type(diagnosis, dict, where, "a diagnosis")
            sequence = as_type(diagnosis.get("sequence"), int, f"{where}.sequence", "an integer")
            if "diagnosisCodeableConcept" in diagnosis:
                cpath = f"{where}.diagnosisCodeableConcept"
                concept = object_of(diagnosis, "diagnosisCodeableConcept", where)
            else:  # diagnosisReference: a Condition, contained or in the Bundle
                condition, cwhere = self.resolve(object_of(diagnosis, "diagnosisReference", where),
                                                 f"{where}.diagnosisReference")
                if condition is None:
                    raise Bad(where, "neither a diagnosisCodeableConcept nor a "
                                      "diagnosisReference to a Condition that can be found")
                cpath, concept = f"{cwhere}.code", object_of(condition, "code", cwhere)
            code, code_path = code_of(concept, cpath, ICD10CM, "ICD-10-CM", required=False)
            if code is None:
                other, _ = code_of(concept, cpath, SNOMED, "SNOMED CT", required=False)
                if other is None:  # the system found named, in the usual words
                    code_of(concept, cpath, ICD10CM, "ICD-10-CM")
                snomed.append((other, cpath))
            found.append((sequence, code, code_path))
        if snomed:  # one line for the claim, naming each code, not one per diagnosis
            codes = ", ".join(code for code, _ in snomed)
            raise Bad(snomed[0][1], f"diagnos{'es' if len(snomed) > 1 else 'is'} coded only in "
                                    f"SNOMED CT ({codes}): rules check ICD-10-CM codes, so the "
                                    f"claim is not checked; code each in ICD-10-CM as well")
        found.sort(key=lambda f: f[0])
        for n, (_, _, code_path) in enumerate(found):
            self.where[f"$.diagnoses[{n}]"] = code_path
        return [code for _, code, _ in found], {seq: n for n, (seq, _, _) in enumerate(found, 1)}

    def line(self, i: int, item: Any, sequences: dict[int, int], n: int) -> dict | None:
        """Item ``i`` as the claim's line ``n``; None for an item left out (with a warning)."""
        where = f"{self.root}.item[{i}]"
        item = as_type(item, dict, where, "an item")
        at = f"$.lines[{n}]"
        self.where[at] = where
        line: dict[str, Any] = {
            "line_number": as_type(item.get("sequence"), int, f"{where}.sequence", "an integer")}
        self.where[f"{at}.line_number"] = f"{where}.sequence"

        product = object_of(item, "productOrService", where)
        ppath = f"{where}.productOrService"
        self.where[f"{at}.procedure"] = ppath
        asked, _ = code_of(product, ppath, SERVICE_TYPE, "service type", required=False)
        if asked is not None and code_of(product, ppath, _PROCEDURE, "", required=False)[0] is None:
            # a prior-authorization request for a kind of service (Da Vinci PAS): no procedure
            self.warnings.append(f"{where}: coded only with an X12 service type code ({asked}), "
                                 f"not a CPT or HCPCS code: this item is not checked")
            return None
        # An institutional line may be billed by revenue code alone (data-absent-reason).
        procedure, code_path = code_of(product, ppath, _PROCEDURE, "CPT or HCPCS",
                                     required=self.kind == "professional")
        line["procedure"] = procedure
        self.where[f"{at}.procedure"] = code_path
        line["ndc"], npath = code_of(product, ppath, NDC, "NDC", required=False)
        self.where[f"{at}.ndc"] = npath

        modifiers = []
        for k, concept in enumerate(list_of(item, "modifier", where)):
            mpath = f"{where}.modifier[{k}]"
            code, cwhere = code_of(as_type(concept, dict, mpath, "a CodeableConcept"), mpath,
                                 _PROCEDURE, "modifier", systemless=True)
            modifiers.append(code)
            self.where[f"{at}.modifiers[{k}]"] = cwhere
        line["modifiers"] = modifiers

        quantity = object_of(item, "quantity", where)
        units = 1
        if "value" in quantity:
            units = line["units"] = number_of(quantity["value"], f"{where}.quantity.value")
            self.where[f"{at}.units"] = f"{where}.quantity.value"
        line["charge"] = self.charge(item, where, units, at)
        self.service_dates(item, where, at, line)

        pointers = []
        for k, seq in enumerate(list_of(item, "diagnosisSequence", where)):
            spath = f"{where}.diagnosisSequence[{k}]"
            seq = as_type(seq, int, spath, "an integer")
            if seq not in sequences:
                raise Bad(spath, f"no diagnosis has sequence {seq}")
            pointers.append(sequences[seq])
            self.where[f"{at}.diagnosis_pointers[{k}]"] = spath
        line["diagnosis_pointers"] = pointers

        loc = f"{where}.locationCodeableConcept"
        line["place_of_service"], self.where[f"{at}.place_of_service"] = (None, loc)
        if "locationCodeableConcept" in item:
            location = object_of(item, "locationCodeableConcept", where)
            line["place_of_service"], self.where[f"{at}.place_of_service"] = code_of(
                location, loc, POS, "place-of-service", required=False, systemless=True)
            if line["place_of_service"] is None and systems_of(location):
                self.warnings.append(f"{loc}: place of service coded in {', '.join(systems_of(location))}, "
                                     f"not CMS's place-of-service code set ({POS.urls[0]}): "
                                     f"this item is read without one")
        rev = f"{where}.revenue"
        if "revenue" in item:
            line["revenue_code"], self.where[f"{at}.revenue_code"] = code_of(
                object_of(item, "revenue", where), rev, REVENUE, "revenue code", systemless=True)
        elif self.kind == "institutional":
            raise Bad(rev, "required element is missing: this Claim's type is institutional, "
                           "and an institutional claim bills each item by its NUBC revenue code")
        else:
            line["revenue_code"], self.where[f"{at}.revenue_code"] = None, rev
        line["prior_authorization"] = None  # FHIR R4 has no line-level element for it
        return line

    def charge(self, item: dict, where: str, units: int | float, at: str) -> float | None:
        """``net`` (the line's billed total); else ``unitPrice`` x quantity x factor."""
        if "net" in item:
            self.where[f"{at}.charge"] = f"{where}.net.value"
            net = object_of(item, "net", where)
            return number_of(net["value"], f"{where}.net.value") if "value" in net else None
        if "unitPrice" in item:
            self.where[f"{at}.charge"] = f"{where}.unitPrice.value"
            price = object_of(item, "unitPrice", where)
            if "value" in price:
                factor = number_of(item.get("factor", 1), f"{where}.factor")
                return round(number_of(price["value"], f"{where}.unitPrice.value")
                             * units * factor, 2)
        return None

    def service_dates(self, item: dict, where: str, at: str, line: dict) -> None:
        if "servicedDate" in item:
            path = f"{where}.servicedDate"
            line["service_date"], line["service_date_to"] = fhir_date(item["servicedDate"], path), None
            self.where[f"{at}.service_date"] = path
        elif "servicedPeriod" in item:
            self.period(item, "servicedPeriod", where, "service", at, line)
        elif "billablePeriod" in self.claim:  # as Synthea writes its Claims: the claim's dates
            self.period(self.claim, "billablePeriod", self.root, "billable", at, line)
        else:
            raise Bad(where, "the item has no servicedDate or servicedPeriod, and the Claim "
                             "no billablePeriod")

    def period(self, owner: dict, key: str, where: str, what: str, at: str, line: dict) -> None:
        """A line's dates from a Period (``owner[key]``): its start, and its end unless the
        same day."""
        period, path = object_of(owner, key, where), f"{where}.{key}"
        if "start" not in period:
            raise Bad(f"{path}.start", f"the {what} period has no start")
        start = fhir_date(period["start"], f"{path}.start")
        end = fhir_date(period["end"], f"{path}.end") if period.get("end") else None
        line["service_date"], line["service_date_to"] = start, (end if end != start else None)
        self.where[f"{at}.service_date"] = f"{path}.start"
        self.where[f"{at}.service_date_to"] = f"{path}.end"
