"""The loops of an 837 transaction above the claim, walked segment by segment.

    header (BHT) -> 2000A billing provider (HL*20) -> 2000B subscriber (HL*22)
      -> 2000C patient (HL*23, absent when the patient is the subscriber) -> 2300 claim (CLM)

``Transaction837`` reads a transaction's body once, in order: HL segments open the
hierarchical levels (and must name the right parent), the segments of each level give the
values every claim under it shares (billing NPI and taxonomy, plan, member and payer id,
birth date and sex), and each CLM opens a :class:`~rulesengine.claims.x12.claim.ClaimLoop`
that takes the segments up to the next CLM, HL or the end of the transaction. A problem is
kept by the loop it belongs to and reported once for each claim under that loop; the claim
is then validated like a JSON claim and a schema problem traced back to its element.
"""

from __future__ import annotations

import re

from collections.abc import Iterator

from ..build import CLAIM_SCHEMA, ClaimError, claim_from_data, validate_claim
from ..model import Claim
from .claim import ClaimLoop
from .context import LoopAboveClaim, ReadOptions
from .elements import iso_date
from .envelope import Segment, Transaction, X12Error

PROFESSIONAL = frozenset({"005010X222A2", "005010X222A1"})
INSTITUTIONAL = frozenset({"005010X223A3", "005010X223A2", "005010X223A1"})
#: what a message refusing an implementation lists: every one read, newest first
_ACCEPTED = (f"837P {', '.join(sorted(PROFESSIONAL, reverse=True))}; "
             f"837I {', '.join(sorted(INSTITUTIONAL, reverse=True))}")

#: SBR09 claim filing indicator code -> the plan text rules compare ``claim.plan`` with
PLANS = {
    "11": "OtherNonFederal", "12": "PPO", "13": "POS", "14": "EPO", "15": "Indemnity",
    "16": "MedicareAdvantage", "17": "DMO", "AM": "Auto", "BL": "BCBS", "CH": "TRICARE",
    "CI": "Commercial", "DS": "Disability", "FI": "FEP", "HM": "HMO", "LM": "Liability",
    "MA": "PartA", "MB": "PartB", "MC": "Medicaid", "OF": "OtherFederal", "TV": "TitleV",
    "VA": "VA", "WC": "WorkersComp", "ZZ": "MutuallyDefined",
}

#: a NUCC provider taxonomy code as claim.schema.json has it: ten characters ending in X
_TAXONOMY = re.compile(CLAIM_SCHEMA["$defs"]["taxonomy"]["pattern"])

# Every segment id of the 5010 837P and 837I bodies; anything else is a broken segment.
_KNOWN = frozenset({
    "BHT", "NM1", "PER", "HL", "PRV", "CUR", "N3", "N4", "REF", "SBR", "PAT", "DMG", "CLM", "DTP",
    "CL1", "PWK", "CN1", "AMT", "K3", "NTE", "CR1", "CR2", "CR3", "CRC", "HI", "HCP", "CAS", "MIA",
    "MOA", "OI", "LX", "SV1", "SV2", "SV5", "QTY", "MEA", "PS1", "LIN", "CTP", "SVD", "LQ", "FRM",
})


class Transaction837:
    """One 837 transaction: its loops, read segment by segment, its claims yielded as they end."""

    def __init__(self, transaction: Transaction, source: str, options: ReadOptions):
        self.tx = transaction
        self.source = source
        self.options = options
        self.header = LoopAboveClaim(transaction.start)
        self.billing: LoopAboveClaim | None = None
        self.subscriber: LoopAboveClaim | None = None
        self.patient: LoopAboveClaim | None = None
        self.claim: ClaimLoop | None = None
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
                                                    f"reads ({_ACCEPTED}); skipped")
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
                    self.claim = ClaimLoop(seg, self)
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
            self.billing, self.subscriber, self.patient = LoopAboveClaim(seg), None, None
        elif level == "22":
            self.subscriber, self.patient = LoopAboveClaim(seg), None
        elif level == "23":
            self.patient = LoopAboveClaim(seg)
        else:
            self.billing = self.billing or LoopAboveClaim(seg)
            self.subscriber, self.patient = LoopAboveClaim(seg), None  # its claims belong to no known subscriber
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
                code = seg.get(3) or None
                if code and not _TAXONOMY.match(code):
                    # an older shape (203BF0100Y): the claim is good; its taxonomy is not one
                    loop.values["taxonomy_warning"] = (
                        f"segment {seg.number}: PRV-03 {code!r} is not a current NUCC provider "
                        f"taxonomy code (ten characters ending in X): the claim is checked "
                        f"without the billing provider's taxonomy")
                    code = None
                loop.set("taxonomy", code, seg, "PRV-03")
            elif sid == "NM1" and seg.get(1) == "85":
                npi = seg.get(9) if seg.get(8) == "XX" else ""
                loop.set("npi", npi or None, seg, "NM1-09")
        elif sid == "BHT":
            created = seg.get(4)
            self.header.set("created", iso_date(created, seg, 4) if created else None, seg, "BHT-04")

    def finish(self, claim: ClaimLoop) -> Claim | dict | ClaimError:
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


def _demographics(loop: LoopAboveClaim, seg: Segment) -> None:
    if seg.get(1) and seg.get(1) != "D8":
        raise seg.error(1, f"date format {seg.get(1)!r}: expected D8")
    birth = seg.get(2)
    loop.set("birth_date", iso_date(birth, seg, 2) if birth else None, seg, "DMG-02")
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
