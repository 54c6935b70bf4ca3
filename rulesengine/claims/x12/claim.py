"""Loop 2300 of an 837, the claim, read segment by segment and built as the normalised claim.

The claim loop owns every segment from its CLM to the next CLM, HL or SE, and keeps track
of which loop under it a segment belongs to: 2310 claim providers, 2320/2330 other payers
(skipped), 2400 service line, 2410 drug, 2420 line providers, 2430 line adjudication, 2440
forms. When the claim ends, ``build`` puts its values together with those of the loops
above it (billing provider, subscriber, patient) into the claim dict, and records the
segment and element each value came from.
"""

from __future__ import annotations

from .context import AboveClaim
from .elements import amount, dates, reference, required_text
from .envelope import Segment, X12Error
from .lines import ClaimDiagnoses, ServiceLine


class ClaimLoop:
    """Loop 2300 and the lines under it, read segment by segment, built when the claim ends."""

    def __init__(self, clm: Segment, transaction: AboveClaim):
        self.clm = clm
        self.tx = transaction
        self.error: X12Error | None = None
        # 2300 claim, 2310 its providers, 2320 other payers (with 2330); then per line 2400,
        # 2410 drug, 2420 line providers, 2430 line adjudication, 2440 forms
        self.state = "2300"
        self.values: dict = {}
        self.where: dict[str, tuple[int, str]] = {"$": (clm.number, "CLM-01"), "$.claim_id": (clm.number, "CLM-01")}
        self.diagnoses = ClaimDiagnoses()
        self.lines: list[ServiceLine] = []
        self.line: ServiceLine | None = None
        self.provider: str | None = None  # NM101 of the 2310 provider PRV segments belong to

    def set(self, key: str, value, seg: Segment, element: str) -> None:
        self.values[key] = value
        self.where["$." + key] = (seg.number, element)

    def start(self) -> None:
        clm = self.clm
        required_text(clm, 1, "patient control number: the claim id")
        self.values["total_charge"] = amount(clm, 2, "total claim charge")
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
            self.diagnoses.read(seg)
        elif sid == "SV1" or sid == "SV2":
            if self.line is None or state != "2400":
                raise seg.error(None, f"{sid} without the LX that starts its service line")
            self.line.read_service(seg, self.tx.kind == "professional")
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
                reference(seg, self.set)
            elif state == "2300" and sid == "DTP":
                qualifier = seg.get(1)
                if qualifier in ("472", "434"):
                    self.values[qualifier] = (*dates(seg), seg)
        elif state != "2320":
            line = self.line
            if sid == "DTP" and state == "2400" and seg.get(1) == "472":
                first, last = dates(seg)
                line.set("service_date", first, seg, "DTP-03")
                line.set("service_date_to", last, seg, "DTP-03")
            elif sid == "REF" and state == "2400":
                reference(seg, line.set)
            elif sid == "LIN" and state == "2400":
                self.state = "2410"
                if seg.get(2) == "N4":
                    line.set("ndc", required_text(seg, 3, "national drug code"), seg, "LIN-03")
            elif sid == "NM1":
                self.state = "2420"
            elif sid == "SVD":
                self.state = "2430"
            elif sid == "LQ":
                self.state = "2440"

    def new_line(self, lx: Segment) -> None:
        number = lx.get(1)
        if not number.isdigit():
            raise lx.error(1, f"{number!r} is not a line number" if number else "required element is missing (line number)")
        self.line = ServiceLine(lx, int(number))
        self.lines.append(self.line)
        self.state = "2400"

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
        # a line without its own date of service takes the claim's: DTP*472, else the statement dates
        claim_dates = self.values.get("472") or self.values.get("434")
        data["lines"] = [line.normalised(i, where, claim_dates, tx.kind) for i, line in enumerate(self.lines)]
        self.diagnoses.into(data, where, tx.kind, tx.options.icd9)
        if billing.get("taxonomy_warning"):
            data.setdefault("warnings", []).insert(0, billing["taxonomy_warning"])
        return data, where
