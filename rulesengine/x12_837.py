"""X12 5010 837P and 837I claims to the normalised claim.

Reads professional (005010X222A2) and institutional (005010X223A3) claim transactions,
several claims per transaction and several transactions per file, walking the loops:

    header (BHT) -> 2000A billing provider (HL*20) -> 2000B subscriber (HL*22)
      -> 2000C patient (HL*23, absent when the patient is the subscriber)
      -> 2300 claim (CLM) -> 2310 claim providers, 2320/2330 other payers
      -> 2400 service line (LX) -> 2410 drug, 2420 line providers, 2430 adjudication, 2440 forms

Each claim is built as the normalised claim dict and passed through
:func:`rulesengine.claims_io.claim_from_data`, so it is validated like a JSON claim. A
problem becomes a :class:`ClaimError` whose ``position`` is the segment number in the file
(``unit`` "segment") and whose ``path`` names the element (``SV1-02``); the claim with the
problem is dropped and reading goes on at the next CLM, HL or ST. docs/x12.md says which
element feeds which field, and the choices made (ICD-9, referrals, received date, plans).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TextIO

from .claims_io import ClaimError, claim_from_data, validate_claim
from .model import Claim
from .x12 import Segment, Transaction, X12Error, iter_transactions

__all__ = ["PLANS", "read_837"]

PROFESSIONAL = frozenset({"005010X222A2", "005010X222A1"})
INSTITUTIONAL = frozenset({"005010X223A3", "005010X223A2", "005010X223A1"})

#: SBR09 claim filing indicator code -> the plan text rules compare ``claim.plan`` with
PLANS = {
    "11": "OtherNonFederal", "12": "PPO", "13": "POS", "14": "EPO", "15": "Indemnity",
    "16": "MedicareAdvantage", "17": "DMO", "AM": "Auto", "BL": "BCBS", "CH": "TRICARE",
    "CI": "Commercial", "DS": "Disability", "FI": "FEP", "HM": "HMO", "LM": "Liability",
    "MA": "PartA", "MB": "PartB", "MC": "Medicaid", "OF": "OtherFederal", "TV": "TitleV",
    "VA": "VA", "WC": "WorkersComp", "ZZ": "MutuallyDefined",
}

# HI qualifiers of diagnosis codes: principal, other, admitting, reason for visit, external cause
_ICD10_DX = frozenset({"ABK", "ABF", "ABJ", "APR", "ABN"})
_ICD9_DX = frozenset({"BK", "BF", "BJ", "PR", "BN"})

# Every segment id of the 5010 837P and 837I bodies; anything else is a broken segment.
_KNOWN = frozenset({
    "BHT", "NM1", "PER", "HL", "PRV", "CUR", "N3", "N4", "REF", "SBR", "PAT", "DMG", "CLM", "DTP",
    "CL1", "PWK", "CN1", "AMT", "K3", "NTE", "CR1", "CR2", "CR3", "CRC", "HI", "HCP", "CAS", "MIA",
    "MOA", "OI", "LX", "SV1", "SV2", "SV5", "QTY", "MEA", "PS1", "LIN", "CTP", "SVD", "LQ", "FRM",
})

# the normalised line's fields, in the order DESIGN.md shows them
_LINE_FIELDS = ("line_number", "procedure", "modifiers", "units", "charge", "service_date",
                "service_date_to", "diagnosis_pointers", "place_of_service", "revenue_code", "ndc",
                "prior_authorization")

_AMOUNT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
_D8 = re.compile(r"[0-9]{8}").fullmatch
# a pointer is a whole number; some senders write it as a decimal (the public samples' "1.00")
_POINTER = re.compile(r"([0-9]{1,2})(?:\.0*)?").fullmatch


def read_837(
    path_or_text: str | Path | TextIO,
    source: str | None = None,
    *,
    received_date: date | str | None = None,
    icd9: str = "error",
    payer_ids: Mapping[str, str] | None = None,
    as_dict: bool = False,
) -> Iterator[Claim | dict | ClaimError]:
    """Each claim of an 837P/837I file, in file order, as a Claim or a ClaimError.

    ``path_or_text`` is a path, the X12 text itself (a string starting with ``ISA``) or an
    open text stream. ``received_date`` (a date or ISO string) is given to every claim;
    without it a claim's received date is its transaction's creation date (BHT04).
    ``icd9`` says what to do with a claim coded in ICD-9-CM (HI qualifiers BK, BF...):
    ``"error"`` (the default) reports it, since rules check ICD-10-CM codes; ``"keep"``
    reads it with no ``diagnoses`` and its ICD-9 codes set aside in ``icd9_diagnoses``.
    ``payer_ids`` maps the payer id on the file (NM1*PR NM109) to the id rule packs use.
    ``as_dict`` yields each valid claim as its normalised dict (extra fields included, as
    docs/x12.md lists them) instead of a Claim: for converting 837 files to JSON.
    """
    if icd9 not in ("error", "keep"):
        raise ValueError(f"icd9 must be 'error' or 'keep', not {icd9!r}")
    if isinstance(received_date, str):
        received_date = date.fromisoformat(received_date)  # a bad date fails here, not per claim
    received = received_date.isoformat() if received_date else None
    options = _Options(received, icd9, dict(payer_ids or {}), as_dict)
    return _open_and_read(path_or_text, source, options)


def _open_and_read(path_or_text, source: str | None, options: _Options) -> Iterator[Claim | dict | ClaimError]:
    if isinstance(path_or_text, (str, Path)) and not _is_text(path_or_text):
        path = Path(path_or_text)
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
            yield from _read(stream, source or str(path), options)
    elif isinstance(path_or_text, str):
        yield from _read(io.StringIO(path_or_text), source or "<input>", options)
    else:
        yield from _read(path_or_text, source or getattr(path_or_text, "name", "<input>"), options)


def _is_text(value: str | Path) -> bool:
    # an ISA alone is 106 characters: a shorter string starting with "ISA" is a file name
    return isinstance(value, str) and len(value) >= 106 and value.lstrip("\ufeff\r\n\t ").startswith("ISA")


class _Options:
    __slots__ = ("as_dict", "icd9", "payer_ids", "received_date")

    def __init__(self, received_date: str | None, icd9: str, payer_ids: dict[str, str], as_dict: bool):
        self.received_date = received_date
        self.icd9 = icd9
        self.payer_ids = payer_ids
        self.as_dict = as_dict


def _read(stream: TextIO, source: str, options: _Options) -> Iterator[Claim | dict | ClaimError]:
    for item in iter_transactions(stream):
        if isinstance(item, X12Error):
            yield ClaimError(source, item.segment, None, item.element, item.message, "segment")
        else:
            yield from _Transaction837(item, source, options).claims()


# --- reading elements --------------------------------------------------------------------

def _required(seg: Segment, n: int, what: str) -> str:
    value = seg.get(n)
    if not value:
        raise seg.error(n, f"required element is missing ({what})")
    return value


def _amount(seg: Segment, n: int, what: str, required: bool = True) -> float | None:
    text = seg.get(n)
    if not text:
        if required:
            raise seg.error(n, f"required element is missing ({what})")
        return None
    if not _AMOUNT(text):
        raise seg.error(n, f"{text!r} is not a number ({what})")
    value = float(text)
    return int(value) if value.is_integer() else value


def _iso(text: str, seg: Segment, n: int) -> str:
    if _D8(text):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            pass
    raise seg.error(n, f"{text!r} is not a date (CCYYMMDD)")


def _dates(seg: Segment) -> tuple[str, str | None]:
    """A DTP's date or span: D8 CCYYMMDD, or RD8 CCYYMMDD-CCYYMMDD (the same day twice is one day)."""
    form, text = seg.get(2), _required(seg, 3, "date")
    if form == "D8":
        return _iso(text, seg, 3), None
    if form == "RD8":
        start, _, end = text.partition("-")
        if not end:
            raise seg.error(3, f"{text!r} is not a span of dates (CCYYMMDD-CCYYMMDD)")
        first, last = _iso(start, seg, 3), _iso(end, seg, 3)
        return first, (None if last == first else last)
    raise seg.error(2, f"date format {form!r}: expected D8 (a date) or RD8 (a span)")


# --- the loops -------------------------------------------------------------------------

class _Loop:
    """What a loop above the claim contributes to each claim under it, and its first problem."""

    __slots__ = ("error", "start", "values", "where")

    def __init__(self, start: Segment | None = None):
        self.values: dict = {}
        self.where: dict[str, tuple[int, str]] = {}
        self.error: X12Error | None = None
        self.start = start

    def set(self, key: str, value, seg: Segment, element: str) -> None:
        self.values[key] = value
        self.where[key] = (seg.number, element)


class _Transaction837:
    """One 837 transaction: its loops, read segment by segment, its claims yielded as they end."""

    def __init__(self, transaction: Transaction, source: str, options: _Options):
        self.tx = transaction
        self.source = source
        self.options = options
        self.header = _Loop(transaction.start)
        self.billing: _Loop | None = None
        self.subscriber: _Loop | None = None
        self.patient: _Loop | None = None
        self.claim: _Claim | None = None
        self.kind = ""  # professional or institutional, from the implementation

    def error(self, segment: int, element: str, message: str, claim_id: str | None = None) -> ClaimError:
        return ClaimError(self.source, segment, claim_id, element, message, "segment")

    def claims(self) -> Iterator[Claim | dict | ClaimError]:
        tx = self.tx
        start = tx.start
        if tx.set_id != "837":
            yield self.error(start.number, "ST-01", f"transaction set {tx.set_id!r} is not an 837 claim; skipped")
            return
        impl = tx.implementation
        if impl in PROFESSIONAL:
            self.kind = "professional"
        elif impl in INSTITUTIONAL:
            self.kind = "institutional"
        else:
            why = " (X12 4010, retired for HIPAA claims since 2012)" if impl.startswith("004010") else ""
            yield self.error(start.number, "ST-03", f"{impl!r}{why} is not an implementation this reader "
                                                    "reads: 837P 005010X222A2 or 837I 005010X223A3; skipped")
            return
        for seg in tx.body:
            sid = seg.id
            if (sid == "CLM" or sid == "HL") and self.claim is not None:
                yield self.finish(self.claim)
                self.claim = None
            try:
                if sid not in _KNOWN:
                    raise self.unknown(seg)
                if sid == "HL":
                    self.hl(seg)
                elif sid == "CLM":
                    self.claim = _Claim(seg, self)
                    self.claim.start()
                elif self.claim is not None:
                    self.claim.segment(seg)
                else:
                    self.loop_segment(seg)
            except X12Error as problem:
                owner = self.claim or self.patient or self.subscriber or self.billing or self.header
                if owner.error is None:
                    owner.error = problem
        if self.claim is not None:
            if tx.closed_by != "SE" and self.claim.error is None:
                self.claim.error = X12Error(self.claim.clm.number, "", "the transaction ends without its SE "
                                            "after this claim, which may have been cut short")
            yield self.finish(self.claim)

    def unknown(self, seg: Segment) -> X12Error:
        return seg.error(None, seg.id_problem() or f"{seg.id!r} is not a segment of an 837")

    def hl(self, seg: Segment) -> None:
        hl_id, parent, level = seg.get(1), seg.get(2), seg.get(3)
        # the parent a level must have: the billing provider above a subscriber, the
        # subscriber above a patient (so a patient is never filed under the wrong subscriber)
        above = {"20": None, "22": self.billing, "23": self.subscriber}.get(level, self.subscriber)
        if level == "20":
            self.billing, self.subscriber, self.patient = _Loop(seg), None, None
        elif level == "22":
            self.subscriber, self.patient = _Loop(seg), None
        elif level == "23":
            self.patient = _Loop(seg)
        else:
            self.billing = self.billing or _Loop(seg)
            self.subscriber, self.patient = _Loop(seg), None  # its claims belong to no known subscriber
            raise seg.error(3, f"{level!r} is not a hierarchical level of an 837 "
                               "(20 billing provider, 22 subscriber, 23 patient)")
        if not hl_id:
            raise seg.error(1, "required element is missing (hierarchical id)")
        if level == "20":
            if parent:
                raise seg.error(2, f"a billing provider HL (level 20) has no parent, not {parent!r}")
        elif above is None:
            what = "billing provider HL (level 20)" if level == "22" else "subscriber HL (level 22)"
            raise seg.error(None, f"HL of level {level} with no {what} before it")
        elif parent != above.start.get(1):
            raise seg.error(2, f"parent {parent!r}: this HL of level {level} follows HL "
                               f"{above.start.get(1)!r} (segment {above.start.number}), its parent")

    def loop_segment(self, seg: Segment) -> None:
        """A segment of the header or of loop 2000A, 2000B or 2000C (before any CLM)."""
        sid = seg.id
        if self.patient is not None:
            if sid == "DMG":
                _demographics(self.patient, seg)
            elif sid == "NM1" and seg.get(1) == "QC":
                self.patient.values["nm1"] = seg
        elif self.subscriber is not None:
            loop = self.subscriber
            if sid == "SBR":
                code = seg.get(9)
                if code and code not in PLANS:
                    raise seg.error(9, f"{code!r} is not a claim filing indicator code")
                loop.set("plan", PLANS.get(code), seg, "SBR-09")
            elif sid == "NM1" and seg.get(1) == "IL":
                if seg.get(8) in ("MI", "II"):
                    loop.set("member_id", seg.get(9) or None, seg, "NM1-09")
                loop.values["nm1"] = seg
            elif sid == "NM1" and seg.get(1) == "PR":
                payer = seg.get(9)
                loop.set("payer_id", self.options.payer_ids.get(payer, payer) or None, seg, "NM1-09")
                loop.values["payer_name"] = seg.get(3) or None
            elif sid == "DMG":
                _demographics(loop, seg)
        elif self.billing is not None:
            loop = self.billing
            if sid == "PRV" and seg.get(2) == "PXC":
                loop.set("taxonomy", seg.get(3) or None, seg, "PRV-03")
            elif sid == "NM1" and seg.get(1) == "85":
                npi = seg.get(9) if seg.get(8) == "XX" else ""
                loop.set("npi", npi or None, seg, "NM1-09")
        elif sid == "BHT":
            created = seg.get(4)
            self.header.set("created", _iso(created, seg, 4) if created else None, seg, "BHT-04")

    def finish(self, claim: _Claim) -> Claim | dict | ClaimError:
        claim_id = claim.clm.get(1) or None
        for loop in (self.header, self.billing, self.subscriber, self.patient, claim):
            if loop is not None and loop.error is not None:
                problem = loop.error
                return self.error(problem.segment, problem.element, problem.message, claim_id)
        try:
            data, where = claim.build()
        except X12Error as problem:
            return self.error(problem.segment, problem.element, problem.message, claim_id)
        if self.options.as_dict:
            problems = validate_claim(data)
            if not problems:
                return data
            path, message = problems[0]
        else:
            result = claim_from_data(data, self.source, claim.clm.number, "segment")
            if not isinstance(result, ClaimError):
                return result
            path, message = result.path, result.message
        segment, element = _locate(path, where, claim.clm.number)
        return self.error(segment, element, message, claim_id)


def _demographics(loop: _Loop, seg: Segment) -> None:
    if seg.get(1) and seg.get(1) != "D8":
        raise seg.error(1, f"date format {seg.get(1)!r}: expected D8")
    birth = seg.get(2)
    loop.set("birth_date", _iso(birth, seg, 2) if birth else None, seg, "DMG-02")
    sex = seg.get(3)
    if sex and sex not in ("F", "M", "U"):
        raise seg.error(3, f"{sex!r} is not a sex code (F, M or U)")
    loop.set("sex", sex or None, seg, "DMG-03")
    loop.values["dmg"] = seg


def _locate(path: str, where: dict[str, tuple[int, str]], default: int) -> tuple[int, str]:
    """The segment and element a JSON path of the built claim came from (or its nearest parent's)."""
    while path:
        if path in where:
            return where[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 1 else ""
    return default, "CLM-01"


class _Line:
    __slots__ = ("data", "lx", "service", "where")

    def __init__(self, lx: Segment, number: int):
        self.lx = lx
        self.data: dict = {"line_number": number}
        self.where: dict[str, tuple[int, str]] = {"": (lx.number, "LX-01"), "line_number": (lx.number, "LX-01")}
        self.service: Segment | None = None

    def set(self, key: str, value, seg: Segment, element: str) -> None:
        self.data[key] = value
        self.where[key] = (seg.number, element)


class _Claim:
    """Loop 2300 and the lines under it, read segment by segment, built when the claim ends."""

    def __init__(self, clm: Segment, transaction: _Transaction837):
        self.clm = clm
        self.tx = transaction
        self.error: X12Error | None = None
        # 2300 claim, 2310 its providers, 2320 other payers (with 2330); then per line 2400,
        # 2410 drug, 2420 line providers, 2430 line adjudication, 2440 forms
        self.state = "2300"
        self.values: dict = {}
        self.where: dict[str, tuple[int, str]] = {"$": (clm.number, "CLM-01"), "$.claim_id": (clm.number, "CLM-01")}
        self.diagnoses: list[tuple[str, int, str]] = []
        self.icd9: list[tuple[str, str, Segment, int]] = []
        self.lines: list[_Line] = []
        self.line: _Line | None = None
        self.provider: str | None = None  # NM101 of the 2310 provider PRV segments belong to

    def set(self, key: str, value, seg: Segment, element: str) -> None:
        self.values[key] = value
        self.where["$." + key] = (seg.number, element)

    def start(self) -> None:
        clm = self.clm
        _required(clm, 1, "patient control number: the claim id")
        self.values["total_charge"] = _amount(clm, 2, "total claim charge")
        facility = clm.components(5)  # place of service or facility type : qualifier : frequency
        facility += [""] * (3 - len(facility))
        if self.tx.kind == "professional":
            self.set("place_of_service", facility[0] or None, clm, "CLM-05-1")
        else:
            self.values["facility_type_code"] = facility[0] or None
        self.set("frequency_code", facility[2] or None, clm, "CLM-05-3")

    def segment(self, seg: Segment) -> None:
        sid, state = seg.id, self.state
        if sid == "LX":
            self.new_line(seg)
        elif sid == "HI":  # only loop 2300 has HI, so there is no doubt whose it is
            self.hi(seg)
        elif sid == "SV1" or sid == "SV2":
            self.service(seg)
        elif state == "2300" or state == "2310":
            if sid == "NM1":
                self.state, self.provider = "2310", seg.get(1)
                if self.provider in ("82", "71"):  # rendering (837P), attending (837I)
                    key = "rendering_provider" if self.provider == "82" else "attending_provider"
                    npi = seg.get(9) if seg.get(8) == "XX" else ""
                    self.values[key] = {"npi": npi or None, "taxonomy": None}
            elif sid == "PRV" and self.provider in ("82", "71"):
                key = "rendering_provider" if self.provider == "82" else "attending_provider"
                self.values[key]["taxonomy"] = seg.get(3) or None
            elif sid == "SBR":
                self.state = "2320"
            elif state == "2300" and sid == "REF":
                _reference(seg, self.set)
            elif state == "2300" and sid == "DTP":
                qualifier = seg.get(1)
                if qualifier in ("472", "434"):
                    self.values[qualifier] = (*_dates(seg), seg)
        elif state != "2320":
            line = self.line
            if sid == "DTP" and state == "2400" and seg.get(1) == "472":
                first, last = _dates(seg)
                line.set("service_date", first, seg, "DTP-03")
                line.set("service_date_to", last, seg, "DTP-03")
            elif sid == "REF" and state == "2400":
                _reference(seg, line.set)
            elif sid == "LIN" and state == "2400":
                self.state = "2410"
                if seg.get(2) == "N4":
                    line.set("ndc", _required(seg, 3, "national drug code"), seg, "LIN-03")
            elif sid == "NM1":
                self.state = "2420"
            elif sid == "SVD":
                self.state = "2430"
            elif sid == "LQ":
                self.state = "2440"

    def hi(self, seg: Segment) -> None:
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
                    self.diagnoses.append((dotted, seg.number, seg.where(n, 2)))

    def new_line(self, lx: Segment) -> None:
        number = lx.get(1)
        if not number.isdigit():
            raise lx.error(1, f"{number!r} is not a line number" if number else "required element is missing (line number)")
        self.line = _Line(lx, int(number))
        self.lines.append(self.line)
        self.state = "2400"

    def service(self, seg: Segment) -> None:
        line = self.line
        if line is None or self.state != "2400":
            raise seg.error(None, f"{seg.id} without the LX that starts its service line")
        if line.service is not None:
            raise seg.error(None, f"a second {line.service.id} in service line {line.data['line_number']} "
                                  f"(segment {line.service.number})")
        line.service = seg
        professional = self.tx.kind == "professional"
        if seg.id != ("SV1" if professional else "SV2"):
            kind = "an 837P (professional)" if professional else "an 837I (institutional)"
            raise seg.error(None, f"{seg.id} is not a service line of {kind} claim")
        sid = seg.id
        if professional:
            code_at, charge_at, units_at = 1, 2, 4
        else:
            code_at, charge_at, units_at = 2, 3, 5
            line.set("revenue_code", _required(seg, 1, "revenue code"), seg, "SV2-01")
        parts = seg.components(code_at)
        if parts:
            qualifier = parts[0]
            code = parts[1] if len(parts) > 1 else ""
            if qualifier == "HC":
                if not code:
                    raise seg.error(code_at, "required component is missing (procedure code)", 2)
                line.set("procedure", code.upper(), seg, seg.where(code_at, 2))
                modifiers = [m.upper() for m in parts[2:6] if m]
                line.set("modifiers", modifiers, seg, seg.where(code_at, 3))
                for k in range(len(modifiers)):
                    line.where[f"modifiers[{k}]"] = (seg.number, seg.where(code_at, 3 + k))
            elif qualifier == "HP" and not professional:  # HIPPS rate code (SNF, home health)
                line.data["hipps_code"] = code or None
            else:
                raise seg.error(code_at, f"{qualifier!r}: only HC (CPT/HCPCS) procedure codes are read", 1)
        elif professional:
            raise seg.error(1, "required element is missing (procedure code)")
        line.set("charge", _amount(seg, charge_at, "line item charge"), seg, seg.where(charge_at))
        units = _amount(seg, units_at, "service unit count", required=False)
        if units is not None:
            line.set("units", units, seg, seg.where(units_at))
        basis = seg.get(units_at - 1)
        if basis and basis != "UN":
            line.data["unit_basis"] = basis  # MJ minutes (anesthesia), DA days
        if professional:
            line.set("place_of_service", seg.get(5) or None, seg, "SV1-05")
            pointers = []
            for k, text in enumerate(seg.components(7), 1):
                match = _POINTER(text)
                if not match:
                    raise seg.error(7, f"{text!r} is not a diagnosis pointer (1 to 12)", k)
                pointers.append(int(match.group(1)))
                line.where[f"diagnosis_pointers[{k - 1}]"] = (seg.number, f"{sid}-07-{k}")
            line.set("diagnosis_pointers", pointers or None, seg, "SV1-07")

    def build(self) -> tuple[dict, dict[str, tuple[int, str]]]:
        """The normalised claim dict, and where each of its values came from."""
        tx, clm = self.tx, self.clm
        subscriber = tx.subscriber
        if subscriber is None or tx.billing is None:
            raise clm.error(None, "CLM outside a subscriber loop (HL*22 under an HL*20)")
        patient = tx.patient or subscriber
        if "dmg" not in patient.values:
            loop = "2010CA (patient)" if tx.patient else "2010BA (subscriber, who is the patient)"
            nm1 = patient.values.get("nm1") or patient.start
            raise X12Error(nm1.number if nm1 else clm.number, "DMG-02",
                           f"no DMG segment in loop {loop}: age and sex edits need the birth date and sex")
        if not self.lines:
            raise clm.error(None, "the claim has no service lines (LX with SV1 or SV2)")
        where = self.where
        billing, sub, pat = tx.billing.values, subscriber.values, patient.values
        received = self.tx.options.received_date or tx.header.values.get("created")
        data = {
            "claim_id": clm.get(1),
            "claim_type": tx.kind,
            "frequency_code": self.values.get("frequency_code"),
            "payer": {"id": sub.get("payer_id"), "plan": sub.get("plan"), "name": sub.get("payer_name")},
            "received_date": received,
            "prior_authorization": self.values.get("prior_authorization"),
            "referral_number": self.values.get("referral_number"),
            "place_of_service": self.values.get("place_of_service"),
            "billing_provider": {"npi": billing.get("npi"), "taxonomy": billing.get("taxonomy")},
            "patient": {"member_id": sub.get("member_id"), "birth_date": pat.get("birth_date"),
                        "sex": pat.get("sex")},
            "diagnoses": None,  # filled last, keeping the documented field order
            "total_charge": self.values["total_charge"],
        }
        for loop, prefix in ((tx.billing, "$.billing_provider."), (subscriber, "$.patient."),
                             (patient, "$.patient.")):
            for key, place in loop.where.items():
                where[prefix + key] = place
        where["$.payer"] = subscriber.where.get("payer_id", where["$"])
        where["$.payer.plan"] = subscriber.where.get("plan", where["$"])
        where["$.patient"] = where.get("$.patient.birth_date", where["$"])
        if not self.tx.options.received_date and "created" in tx.header.where:
            where["$.received_date"] = tx.header.where["created"]
        for key in ("rendering_provider", "attending_provider", "facility_type_code"):
            if key in self.values:
                data[key] = self.values[key]
        if tx.kind == "institutional":
            code = self.values.get("facility_type_code")
            frequency = self.values.get("frequency_code")
            data["type_of_bill"] = code + frequency if code and frequency else None
            if "434" in self.values:
                first, last, _ = self.values["434"]
                data["statement_from"], data["statement_to"] = first, last or first
        data["lines"] = [self.line_data(line, i, where) for i, line in enumerate(self.lines)]
        self.diagnoses_into(data, where)
        return data, where

    def line_data(self, line: _Line, index: int, where: dict) -> dict:
        if line.service is None:
            raise line.lx.error(None, f"service line {line.data['line_number']} has no "
                                      f"{'SV1' if self.tx.kind == 'professional' else 'SV2'} segment")
        data = line.data
        if "service_date" not in data:
            fallback = self.values.get("472") or self.values.get("434")
            if fallback is None:
                extra = ", and the claim no statement dates (DTP*434)" if self.tx.kind == "institutional" else ""
                raise line.lx.error(None, f"service line {data['line_number']} has no date of service (DTP*472){extra}")
            first, last, seg = fallback
            line.set("service_date", first, seg, "DTP-03")
            line.set("service_date_to", last, seg, "DTP-03")
        prefix = f"$.lines[{index}]"
        for key, place in line.where.items():
            where[f"{prefix}.{key}" if key else prefix] = place
        # units stays absent when SV1-04 is (it means 1); the other fields are null
        ordered = {key: data.get(key) for key in _LINE_FIELDS if key in data or key != "units"}
        ordered.update(data)  # the extra fields after the standard ones
        return ordered

    def diagnoses_into(self, data: dict, where: dict) -> None:
        found = self.diagnoses
        if self.tx.kind == "institutional":
            # no pointers on an 837I, so a code given twice (principal and reason for visit) counts once
            seen: set[str] = set()
            found = [d for d in found if not (d[0] in seen or seen.add(d[0]))]
        codes = [code for code, _, _ in found]
        for i, (_, number, element) in enumerate(found):
            where[f"$.diagnoses[{i}]"] = (number, element)
        if self.icd9:
            qualifier, code, seg, n = self.icd9[0]
            if self.diagnoses:
                _, number, element = self.diagnoses[0]
                raise seg.error(n, f"the claim mixes ICD-9-CM ({qualifier} {code}) and ICD-10-CM "
                                   f"({element}) diagnosis codes", 1)
            if self.tx.options.icd9 == "error":
                raise seg.error(n, f"{qualifier!r} marks an ICD-9-CM diagnosis code ({code}); rules check "
                                   "ICD-10-CM codes (HI qualifiers ABK, ABF), which replaced ICD-9-CM for "
                                   "services from 2015-10-01", 1)
            data["icd9_diagnoses"] = [c for _, c, _, _ in self.icd9]
            for line in data["lines"]:
                line["icd9_diagnosis_pointers"] = line.pop("diagnosis_pointers", None)
        data["diagnoses"] = codes


def _reference(seg: Segment, put) -> None:
    """REF*G1 prior authorization and REF*9F referral number (a referral is not an authorization)."""
    qualifier = seg.get(1)
    if qualifier == "G1":
        put("prior_authorization", _required(seg, 2, "prior authorization number"), seg, "REF-02")
    elif qualifier == "9F":
        put("referral_number", _required(seg, 2, "referral number"), seg, "REF-02")
