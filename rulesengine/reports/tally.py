"""The tallies behind the summary of a check run, shared by the text and HTML reports.

A :class:`Tally` counts findings by category, denial code, payer, rule and procedure as
results arrive, and hands them back ordered, so the two reports cannot disagree on a
figure. It keeps counters, never results: memory is flat in the number of claims, bounded
by the rules and codes in play (payers and procedures come from claims, so past
``KEYS_KEPT`` distinct ones the rest share one ``OTHER`` bucket).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rulesengine.claims.model import Claim
from rulesengine.engine.results import Finding, Result

# X12 claim adjustment reason code texts for the codes the bundled packs use (and 97, 119).
# Taken from a copy of the X12 list (OpenEMR's, cross-checked against a second generated
# list and MAC pages); X12 may since have reworded 7 ("...the patient's sex").
CARC_TEXT = {
    "4": "The procedure code is inconsistent with the modifier used.",
    "6": "The procedure/revenue code is inconsistent with the patient's age.",
    "7": "The procedure/revenue code is inconsistent with the patient's gender.",
    "16": "Claim/service lacks information or has submission/billing error(s).",
    "18": "Exact duplicate claim/service.",
    "29": "The time limit for filing has expired.",
    "50": "These are non-covered services because this is not deemed a 'medical necessity' "
          "by the payer.",
    "54": "Multiple physicians/assistants are not covered in this case.",
    "97": "The benefit for this service is included in the payment/allowance for another "
          "service/procedure that has already been adjudicated.",
    "107": "The related or qualifying claim/service was not identified on this claim.",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "151": "Payment adjusted because the payer deems the information submitted does not "
           "support this many/frequency of services.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "236": "This procedure or procedure/modifier combination is not compatible with another "
           "procedure or procedure/modifier combination provided on the same day according "
           "to the National Correct Coding Initiative or workers compensation state "
           "regulations/ fee schedule requirements.",
}
UNKNOWN_CARC = "(not in this report's list: see the X12 claim adjustment reason codes)"

TOP_CODES = 10
# distinct payers and procedure codes tallied one by one; beyond that, one "other" bucket
# (keys come from claims, so without a bound a hostile batch could grow them without end)
KEYS_KEPT = 1000
OTHER = "(others)"
STATUSES = ("clean", "review", "denied")


def category_name(category: str) -> str:
    """``medical_necessity`` as a heading reads it: "Medical necessity"."""
    return category.replace("_", " ").capitalize()


def carc_meaning(code: str) -> str:
    """The X12 text of a "CO-50" style code (group code, then CARC)."""
    return CARC_TEXT.get(code.partition("-")[2], UNKNOWN_CARC)


@dataclass
class RuleTally:
    category: str
    codes: list[str] = field(default_factory=list)  # the first three "CO-50 N115" it used
    findings: int = 0
    claims: int = 0


@dataclass
class CodeAtRisk:
    procedure: str
    findings: int
    denials: int
    rule: str  # the rule that fired most on it
    rule_findings: int


class Tally:
    """Findings of a run counted every way a summary shows them."""

    def __init__(self, keys_kept: int | None = None):
        self.keys_kept = KEYS_KEPT if keys_kept is None else keys_kept
        self.categories: Counter = Counter()
        self.category_claims: Counter = Counter()
        self.codes: Counter = Counter()  # "CO-50" -> findings
        self.code_claims: Counter = Counter()
        self.payers: dict[str, Counter] = {}  # payer -> statuses and "findings"
        self.rules: dict[tuple[str, str], RuleTally] = {}  # (pack, rule id)
        self.procedures: Counter = Counter()
        self.procedure_denials: Counter = Counter()
        self.procedure_rules: Counter = Counter()  # (procedure, rule id)

    def add(self, result: Result, claim: Claim | None = None) -> str:
        """Count one result; return the payer it was counted under."""
        payer = self._bounded(self.payers, payer_of(result, claim))
        counts = self.payers.get(payer)
        if counts is None:
            counts = self.payers[payer] = Counter()
        counts[result.status] += 1
        if not result.findings:  # most claims: nothing more to count
            return payer
        counts["findings"] += len(result.findings)
        rules, codes, categories = set(), set(), set()
        for f in result.findings:
            self.categories[f.category] += 1
            categories.add(f.category)
            code = f"{f.group_code}-{f.carc}"
            self.codes[code] += 1
            codes.add(code)
            tally = self.rules.get((f.pack, f.rule_id))
            if tally is None:
                tally = self.rules[f.pack, f.rule_id] = RuleTally(f.category)
            tally.findings += 1
            if len(tally.codes) < 3:
                full = " ".join([code, *f.rarc])
                if full not in tally.codes:
                    tally.codes.append(full)
            rules.add((f.pack, f.rule_id))
            if procedure := procedure_of(f, claim):
                procedure = self._bounded(self.procedures, procedure)
                self.procedures[procedure] += 1
                self.procedure_denials[procedure] += f.severity == "deny"
                self.procedure_rules[procedure, f.rule_id] += 1
        # a claim counts once under each rule, code and category it met
        for key in rules:
            self.rules[key].claims += 1
        for code in codes:
            self.code_claims[code] += 1
        for category in categories:
            self.category_claims[category] += 1
        return payer

    def _bounded(self, tally, key: str) -> str:
        return key if key in tally or len(tally) < self.keys_kept else OTHER

    # ---- ordered, as both reports show them ------------------------------------------------

    def by_category(self) -> list[tuple[str, int, int]]:
        """(category, findings, claims), most findings first."""
        return [(c, n, self.category_claims[c]) for c, n in by_count(self.categories)]

    def by_code(self) -> list[tuple[str, int, int]]:
        """("CO-50", findings, claims), most findings first."""
        return [(code, n, self.code_claims[code]) for code, n in by_count(self.codes)]

    def group_codes(self) -> list[str]:
        return sorted({code.partition("-")[0] for code in self.codes})

    def by_payer(self) -> list[tuple[str, Counter]]:
        """(payer, its statuses and findings), most claims first, the OTHER bucket last."""
        return sorted(self.payers.items(),
                      key=lambda kv: (kv[0] == OTHER, -claims_in(kv[1]), kv[0]))

    def by_rule(self) -> list[tuple[tuple[str, str], RuleTally]]:
        """((pack, rule id), its tally), most findings first."""
        return sorted(self.rules.items(), key=lambda kv: (-kv[1].findings, kv[0][1], kv[0][0]))

    def at_risk(self, top: int = TOP_CODES) -> list[CodeAtRisk]:
        """The ``top`` procedure codes with the most findings (the OTHER bucket is no code)."""
        leading: dict[str, tuple[str, int]] = {}
        for (code, rule), n in by_count(self.procedure_rules):
            leading.setdefault(code, (rule, n))
        return [CodeAtRisk(code, n, self.procedure_denials[code], *leading[code])
                for code, n in by_count(self.procedures) if code != OTHER][:top]


def by_count(counter) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def claims_in(tally: Counter) -> int:
    return sum(tally[k] for k in STATUSES)


def payer_of(result: Result, claim: Claim | None) -> str:
    if claim is None:
        return result.pack.id  # without the claim, the pack that checked it stands for its payer
    return claim.payer_id or "(no payer id)"


def procedure_of(f: Finding, claim: Claim | None) -> str | None:
    """The procedure a finding is about: its evidence, else its line on the claim."""
    code = f.evidence.get("line.procedure")
    if code:
        return str(code)
    if claim is not None and f.line_number is not None:
        for line in claim.lines:
            if line.line_number == f.line_number:
                return line.procedure
    return None
