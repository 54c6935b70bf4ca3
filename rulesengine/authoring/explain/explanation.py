"""What ``rulesengine explain`` says of one rule on a claim, and of a whole claim, as data.

The explain modules fill these in (``claim``, ``tables``), ``report`` prints them, and
``to_dict`` is the JSON of ``explain --format json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rulesengine.claims.model import Claim, Line
from rulesengine.engine.results import Result, plain


@dataclass
class Explanation:
    """One rule on one claim (a claim rule, or a line rule whose `when` fails) or one line."""

    rule_id: str
    title: str
    pack: str  # the layer the rule comes from
    source_file: str
    source_line: int
    citation: str | None
    line: Line | None
    checks: str  # what the rule checks, as a sentence
    action: str  # deny line CO-50 N115
    window: dict
    outcome: str  # fired, passed, unknown (a value is missing), not-applicable, disabled
    reason: str
    values: dict = field(default_factory=dict)
    fix: str | None = None
    finding: str | None = None  # the message pack.check gave, when the rule fired
    problem: str | None = None  # the explanation's own reading disagrees with the reference
    listed: bool = True

    @property
    def applies(self) -> bool:
        return self.outcome in ("fired", "passed", "unknown")

    @property
    def fired(self) -> bool:
        return self.outcome == "fired"

    def to_dict(self) -> dict:
        return {"rule_id": self.rule_id, "title": self.title, "pack": self.pack,
                "source": {"file": self.source_file, "line": self.source_line},
                "citation": self.citation,
                "line": self.line.line_number if self.line is not None else None,
                "checks": self.checks, "action": self.action, "window": self.window,
                "applies": self.applies, "fired": self.fired, "outcome": self.outcome,
                "reason": self.reason, "values": {k: plain(v) for k, v in self.values.items()},
                "fix": self.fix, "finding": self.finding}


@dataclass
class ClaimExplanation:
    claim: Claim
    result: Result  # what pack.check says
    explanations: list[Explanation]
    disagreements: list[str]  # empty when the explanation agrees with pack.check
    payer_note: str | None = None

    def to_dict(self) -> dict:
        return {"claim_id": self.claim.claim_id, "status": self.result.status,
                "pack": self.result.pack.to_dict(), "agrees_with_check": not self.disagreements,
                "disagreements": self.disagreements,
                "explanations": [e.to_dict() for e in self.explanations]}
