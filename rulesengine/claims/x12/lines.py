"""An 837 claim's service lines (SV1, SV2) and diagnoses (HI), as normalised claim fields.

A service line is loop 2400: LX numbers it, SV1 (837P) or SV2 (837I) gives the procedure,
modifiers, charge and units, and the DTP, REF and LIN segments the claim loop reads after
it (claim) fill in dates, authorization and drug code. Its dict lists the fields
in the order DESIGN.md shows them, then the extra ones docs/x12.md lists.

Diagnoses come from the claim's HI segments, ICD-10-CM (ABK, ABF...) or ICD-9-CM (BK,
BF...) by qualifier; what happens to ICD-9 codes is the reader's ``icd9`` option.
"""

from __future__ import annotations

import re

from .elements import SourcedValues, amount, required_text
from .envelope import Segment

# HI qualifiers of diagnosis codes: principal, other, admitting, reason for visit, external cause
_ICD10_DX = frozenset({"ABK", "ABF", "ABJ", "APR", "ABN"})
_ICD9_DX = frozenset({"BK", "BF", "BJ", "PR", "BN"})

# the normalised line's fields, in the order DESIGN.md shows them
_LINE_FIELDS = ("line_number", "procedure", "modifiers", "units", "charge", "service_date",
                "service_date_to", "diagnosis_pointers", "place_of_service", "revenue_code", "ndc",
                "prior_authorization")

# a pointer is a whole number; some senders write it as a decimal (the public samples' "1.00")
_POINTER = re.compile(r"([0-9]{1,2})(?:\.0*)?").fullmatch


class ServiceLine(SourcedValues):
    """One service line (loop 2400): its values by normalised field, and where each came from."""

    __slots__ = ("lx", "service")

    def __init__(self, lx: Segment, number: int):
        self.values = {"line_number": number}
        self.where = {"": (lx.number, "LX-01"), "line_number": (lx.number, "LX-01")}
        self.lx = lx
        self.service: Segment | None = None

    def read_service(self, seg: Segment, professional: bool) -> None:
        """The line's SV1 (837P) or SV2 (837I)."""
        if self.service is not None:
            raise seg.error(None, f"a second {self.service.id} in service line {self.values['line_number']} "
                                  f"(segment {self.service.number})")
        self.service = seg
        if seg.id != ("SV1" if professional else "SV2"):
            kind = "an 837P (professional)" if professional else "an 837I (institutional)"
            raise seg.error(None, f"{seg.id} is not a service line of {kind} claim")
        sid = seg.id
        if professional:
            code_at, charge_at, units_at = 1, 2, 4
        else:
            code_at, charge_at, units_at = 2, 3, 5
            self.set("revenue_code", required_text(seg, 1, "revenue code"), seg, "SV2-01")
        parts = seg.components(code_at)
        if parts:
            qualifier = parts[0]
            code = parts[1] if len(parts) > 1 else ""
            if qualifier == "HC":
                if not code:
                    raise seg.error(code_at, "required component is missing (procedure code)", 2)
                self.set("procedure", code.upper(), seg, seg.where(code_at, 2))
                modifiers = [m.upper() for m in parts[2:6] if m]
                self.set("modifiers", modifiers, seg, seg.where(code_at, 3))
                for k in range(len(modifiers)):
                    self.where[f"modifiers[{k}]"] = (seg.number, seg.where(code_at, 3 + k))
            elif qualifier == "HP" and not professional:  # HIPPS rate code (SNF, home health)
                self.values["hipps_code"] = code or None
            else:
                raise seg.error(code_at, f"{qualifier!r}: only HC (CPT/HCPCS) procedure codes are read", 1)
        elif professional:
            raise seg.error(1, "required element is missing (procedure code)")
        self.set("charge", amount(seg, charge_at, "line item charge"), seg, seg.where(charge_at))
        units = amount(seg, units_at, "service unit count", required=False)
        if units is not None:
            self.set("units", units, seg, seg.where(units_at))
        basis = seg.get(units_at - 1)
        if basis and basis != "UN":
            self.values["unit_basis"] = basis  # MJ minutes (anesthesia), DA days
        if professional:
            self.set("place_of_service", seg.get(5) or None, seg, "SV1-05")
            pointers = []
            for k, text in enumerate(seg.components(7), 1):
                match = _POINTER(text)
                if not match:
                    raise seg.error(7, f"{text!r} is not a diagnosis pointer (1 to 12)", k)
                pointers.append(int(match.group(1)))
                self.where[f"diagnosis_pointers[{k - 1}]"] = (seg.number, f"{sid}-07-{k}")
            self.set("diagnosis_pointers", pointers or None, seg, "SV1-07")

    def normalised(self, index: int, where: dict, claim_dates: tuple | None, kind: str) -> dict:
        """The line's dict (its places recorded in the claim's ``where``); a line without a
        date of service takes the claim's (``claim_dates``: DTP*472, else DTP*434)."""
        if self.service is None:
            raise self.lx.error(None, f"service line {self.values['line_number']} has no "
                                      f"{'SV1' if kind == 'professional' else 'SV2'} segment")
        data = self.values
        if "service_date" not in data:
            if claim_dates is None:
                extra = ", and the claim no statement dates (DTP*434)" if kind == "institutional" else ""
                raise self.lx.error(None, f"service line {data['line_number']} has no date of service (DTP*472){extra}")
            first, last, seg = claim_dates
            self.set("service_date", first, seg, "DTP-03")
            self.set("service_date_to", last, seg, "DTP-03")
        prefix = f"$.lines[{index}]"
        for key, place in self.where.items():
            where[f"{prefix}.{key}" if key else prefix] = place
        # units stays absent when SV1-04 is (it means 1); the other fields are null
        ordered = {key: data.get(key) for key in _LINE_FIELDS if key in data or key != "units"}
        ordered.update(data)  # the extra fields after the standard ones
        return ordered


#: the first date of service coded in ICD-10-CM (HIPAA; 45 CFR 162.1002)
ICD10_FROM = "2015-10-01"


class ClaimDiagnoses:
    """The diagnosis codes of a claim's HI segments, in claim order, with where each stands."""

    __slots__ = ("codes", "icd9")

    def __init__(self):
        self.codes: list[tuple[str, int, str]] = []  # (dotted ICD-10-CM code, segment, element)
        self.icd9: list[tuple[str, str, Segment, int]] = []  # (qualifier, code, segment, element)

    def read(self, seg: Segment) -> None:
        """An HI segment (only loop 2300 has HI, so there is no doubt whose it is)."""
        for n in range(1, len(seg) + 1):
            parts = seg.components(n)
            if not parts:
                continue
            qualifier = parts[0]
            if qualifier in _ICD10_DX or qualifier in _ICD9_DX:
                code = parts[1].upper() if len(parts) > 1 else ""
                if not code:
                    raise seg.error(n, f"required component is missing (the {qualifier} diagnosis code)", 2)
                if qualifier in _ICD9_DX:
                    self.icd9.append((qualifier, code, seg, n))
                else:
                    dotted = code[:3] + "." + code[3:] if len(code) > 3 and "." not in code else code
                    self.codes.append((dotted, seg.number, seg.where(n, 2)))

    def into(self, data: dict, where: dict, kind: str, icd9: str) -> None:
        """Set the claim dict's ``diagnoses`` (its ``lines`` already built); ``icd9`` is the
        reader's option: ``"by-date"`` (ICD-9-CM kept for services before ICD-10-CM began,
        an error after), ``"error"`` or ``"keep"``."""
        found = self.codes
        if kind == "institutional":
            # no pointers on an 837I, so a code given twice (principal and reason for visit) counts once
            seen: set[str] = set()
            found = [d for d in found if not (d[0] in seen or seen.add(d[0]))]
        codes = [code for code, _, _ in found]
        for i, (_, number, element) in enumerate(found):
            where[f"$.diagnoses[{i}]"] = (number, element)
        if self.icd9:
            qualifier, code, seg, n = self.icd9[0]
            if self.codes:
                _, number, element = self.codes[0]
                raise seg.error(n, f"the claim mixes ICD-9-CM ({qualifier} {code}) and ICD-10-CM "
                                   f"({element}) diagnosis codes", 1)
            last = max(line.get("service_date_to") or line["service_date"] for line in data["lines"])
            if icd9 == "error" or (icd9 == "by-date" and last >= ICD10_FROM):
                why = ("; ICD-9-CM claims are refused here (--refuse-icd9)" if icd9 == "error"
                       else f" (this claim's services are on {last})")
                raise seg.error(n, f"{qualifier!r} marks an ICD-9-CM diagnosis code ({code}); rules check "
                                   f"ICD-10-CM codes (HI qualifiers ABK, ABF), which replaced ICD-9-CM for "
                                   f"services from {ICD10_FROM}{why}", 1)
            data["icd9_diagnoses"] = codes9 = [c for _, c, _, _ in self.icd9]
            for line in data["lines"]:
                line["icd9_diagnosis_pointers"] = line.pop("diagnosis_pointers", None)
            data.setdefault("warnings", []).append(
                f"segment {seg.number}: coded in ICD-9-CM ({', '.join(codes9)}): read with those "
                f"codes kept apart (icd9_diagnoses) and no ICD-10-CM diagnoses, so no rule on a "
                f"diagnosis matches it")
        data["diagnoses"] = codes
