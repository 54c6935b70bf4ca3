"""The claim fields a rule can name, their types, and how to read them from a claim.

Both evaluators (the compiled one and the reference interpreter) read fields through
these getters, so a field means the same thing everywhere. A getter takes the claim and
the line in hand (None outside a ``for each line`` rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from rulesengine.claims.model import Claim, Line

from .dates import age_in_days, age_in_years


@dataclass(frozen=True)
class FieldSpec:
    path: str
    type: str  # date, number, text, or a code kind (icd10, hcpcs, modifier, pos, revenue)
    is_list: bool
    needs_line: bool  # only inside a "for each line" rule
    get: Callable[[Claim, Line | None], Any]
    doc: str
    values: frozenset[str] | None = None  # the only texts the field can hold, where it is closed


def _service_date(claim: Claim, line: Line | None):
    return line.service_date if line is not None else claim.first_service_date


# getters take a third argument, the compiled evaluator's per-claim context, and ignore
# it: the compiled conditions call every value the same way, without a wrapper per field
def _age(claim: Claim, line: Line | None, x=None):
    return age_in_years(claim.birth_date, _service_date(claim, line)) if claim.birth_date else None


def _age_days(claim: Claim, line: Line | None, x=None):
    return age_in_days(claim.birth_date, _service_date(claim, line)) if claim.birth_date else None


def _spec(path, type_, get, doc, is_list=False, values=None):
    return FieldSpec(path, type_, is_list, path.startswith("line."), get, doc,
                     frozenset(values) if values else None)


_SPECS = [
    _spec("claim.id", "text", lambda c, l, x=None: c.claim_id, "the claim's id"),
    _spec("claim.type", "text", lambda c, l, x=None: c.claim_type, '"professional" or "institutional"',
          values=("professional", "institutional")),
    _spec("claim.frequency_code", "text", lambda c, l, x=None: c.frequency_code,
          "claim frequency (CLM05-3): 1 original, 7 replacement, 8 void"),
    _spec("claim.payer", "text", lambda c, l, x=None: c.payer_id, "the payer's id"),
    _spec("claim.plan", "text", lambda c, l, x=None: c.plan, "the plan or product (HMO, PPO, PartB, ...)"),
    _spec("claim.received_date", "date", lambda c, l, x=None: c.received_date,
          "the date the payer receives the claim"),
    _spec("claim.prior_authorization", "text", lambda c, l, x=None: c.prior_authorization,
          "the claim's prior authorization number"),
    _spec("claim.place_of_service", "pos", lambda c, l, x=None: c.place_of_service,
          "the claim's place of service"),
    _spec("claim.billing_npi", "text", lambda c, l, x=None: c.billing_npi, "the billing provider's NPI"),
    _spec("claim.taxonomy", "text", lambda c, l, x=None: c.taxonomy, "the billing provider's taxonomy"),
    _spec("claim.diagnosis", "icd10", lambda c, l, x=None: c.diagnoses,
          "every diagnosis on the claim", is_list=True),
    _spec("claim.first_diagnosis", "icd10", lambda c, l, x=None: c.diagnoses[0] if c.diagnoses else None,
          "the first-listed (principal) diagnosis of the claim"),
    _spec("claim.procedure", "hcpcs", lambda c, l, x=None: c.procedures,
          "every procedure billed on the claim", is_list=True),
    _spec("claim.first_service_date", "date", lambda c, l, x=None: c.first_service_date,
          "the earliest date of service on the claim"),
    _spec("claim.last_service_date", "date", lambda c, l, x=None: c.last_service_date,
          "the latest date of service on the claim (through dates included)"),
    _spec("claim.line_count", "number", lambda c, l, x=None: len(c.lines), "how many lines the claim has"),
    _spec("patient.member_id", "text", lambda c, l, x=None: c.member_id, "the member id"),
    _spec("patient.sex", "text", lambda c, l, x=None: c.sex, '"F", "M" or "U"', values=("F", "M", "U")),
    _spec("patient.birth_date", "date", lambda c, l, x=None: c.birth_date, "the date of birth"),
    _spec("patient.age", "number", _age,
          "age in completed years on the line's date of service (the claim's first, outside lines)"),
    _spec("patient.age_days", "number", _age_days,
          "age in days on the line's date of service (the claim's first, outside lines)"),
    _spec("line.number", "number", lambda c, l, x=None: l.line_number, "the line number"),
    _spec("line.procedure", "hcpcs", lambda c, l, x=None: l.procedure, "the CPT/HCPCS code"),
    _spec("line.modifier", "modifier", lambda c, l, x=None: l.modifiers, "the line's modifiers",
          is_list=True),
    _spec("line.units", "number", lambda c, l, x=None: l.units, "units of service"),
    _spec("line.charge", "number", lambda c, l, x=None: l.charge, "the line's charge"),
    _spec("line.service_date", "date", lambda c, l, x=None: l.service_date, "the date of service (from)"),
    _spec("line.service_date_to", "date", lambda c, l, x=None: l.service_date_to,
          "the last date of service of a span"),
    _spec("line.diagnosis", "icd10", lambda c, l, x=None: l.diagnoses,
          "the diagnoses the line points to (all the claim's when it has no pointers)",
          is_list=True),
    _spec("line.first_diagnosis", "icd10", lambda c, l, x=None: l.diagnoses[0] if l.diagnoses else None,
          "the first diagnosis the line points to (the claim's first when it has no pointers)"),
    _spec("line.place_of_service", "pos", lambda c, l, x=None: l.place_of_service or c.place_of_service,
          "the line's place of service, else the claim's"),
    _spec("line.revenue_code", "revenue", lambda c, l, x=None: l.revenue_code, "the revenue code"),
    _spec("line.ndc", "text", lambda c, l, x=None: l.ndc, "the National Drug Code"),
    _spec("line.prior_authorization", "text", lambda c, l, x=None: l.prior_authorization,
          "the line's prior authorization number"),
]

#: a field or check value named in a message: {line.procedure}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

FIELDS: dict[str, FieldSpec] = {s.path: s for s in _SPECS}

#: ``other.X`` is the line field ``line.X`` read from another line of the claim; a getter
#: of these takes (claim, that line)
OTHER_FIELDS: dict[str, FieldSpec] = {
    "other." + s.path[5:]: FieldSpec("other." + s.path[5:], s.type, s.is_list, False, s.get,
                                     s.doc.replace("the line's", "that line's"), s.values)
    for s in _SPECS if s.path.startswith("line.")}


def _earlier(path, type_, get, doc, is_list=False):
    return FieldSpec(path, type_, is_list, False, get, doc)


#: ``earlier.X``: a line of the patient's earlier claims, as the claim history records it;
#: a getter of these takes the ``HistoryLine``
EARLIER_FIELDS: dict[str, FieldSpec] = {s.path: s for s in (
    _earlier("earlier.procedure", "hcpcs", lambda e: e.procedure, "the procedure billed"),
    _earlier("earlier.modifier", "modifier", lambda e: e.modifiers, "its modifiers", is_list=True),
    _earlier("earlier.service_date", "date", lambda e: e.service_date, "its date of service"),
    _earlier("earlier.units", "number", lambda e: e.units, "its units (unknown for lines recorded "
             "before the history kept units)"),
    _earlier("earlier.billing_npi", "text", lambda e: e.billing_npi, "the billing provider's NPI of its claim"),
    _earlier("earlier.claim_id", "text", lambda e: e.claim_id, "the id of its claim"),
    _earlier("earlier.payer", "text", lambda e: e.payer_id, "the payer of its claim"),
    _earlier("earlier.number", "number", lambda e: e.line_number, "its line number on its claim"),
)}


def field_spec(path: str) -> FieldSpec | None:
    """The field a path names, of any root (claim, line, patient, other, earlier)."""
    return FIELDS.get(path) or OTHER_FIELDS.get(path) or EARLIER_FIELDS.get(path)
