"""The counts of a check run that every writer closes with: claims by outcome, findings by
category, the clean-claim rate, and the one-line summary scripts look for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rulesengine.engine.results import PackInfo, Result


@dataclass
class Summary:
    claims: int = 0
    statuses: Counter = field(default_factory=Counter)
    unreadable: int = 0
    findings: int = 0
    by_category: Counter = field(default_factory=Counter)

    def add(self, result: Result) -> None:
        self.claims += 1
        self.statuses[result.status] += 1
        self.findings += len(result.findings)
        self.by_category.update(f.category for f in result.findings)

    @property
    def clean_rate(self) -> float:
        return self.statuses["clean"] / self.claims if self.claims else 0.0

    def to_dict(self) -> dict:
        return {"claims": self.claims, "clean": self.statuses["clean"],
                "review": self.statuses["review"], "denied": self.statuses["denied"],
                "unreadable": self.unreadable, "findings": self.findings,
                "clean_claim_rate": round(self.clean_rate, 4),
                "findings_by_category": dict(sorted(self.by_category.items()))}

    def line(self, packs: list[PackInfo]) -> str:
        text = (f"{self.claims} claim{'s' if self.claims != 1 else ''} checked: "
                f"{self.statuses['clean']} clean, {self.statuses['review']} review, "
                f"{self.statuses['denied']} denied ({self.clean_rate:.0%} clean)")
        if self.unreadable:
            text += f"; {self.unreadable} unreadable"
        names = ", ".join(f"{p.id} {p.version}" for p in packs)
        return text + (f"; {self.findings} finding{'s' if self.findings != 1 else ''}"
                       f" · pack{'s' if len(packs) > 1 else ''} {names}")
