"""The counts of a check run that every writer closes with: claims by outcome, findings by
category, the clean-claim rate, and the one-line summary scripts look for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rulesengine.claims.build import FILE_ERROR, KINDS, ClaimError
from rulesengine.engine.results import PackInfo, Result


@dataclass
class Summary:
    claims: int = 0
    statuses: Counter = field(default_factory=Counter)
    #: claims not checked, by why (``ClaimError.kind``)
    not_checked: Counter = field(default_factory=Counter)
    findings: int = 0
    by_category: Counter = field(default_factory=Counter)
    #: problems with a file, not a claim (``FILE_ERROR``: an X12 envelope); its claims count
    file_errors: int = 0
    #: claims checked whose reader read past something (``Result.warnings``)
    warned: int = 0

    def add_error(self, error: ClaimError) -> None:
        if error.kind == FILE_ERROR:
            self.file_errors += 1
        else:
            self.not_checked[error.kind] += 1

    @property
    def problems(self) -> Counter:
        """What the exit status answers for: the claims not checked and the file errors."""
        return self.not_checked + Counter({FILE_ERROR: self.file_errors})

    @property
    def unreadable(self) -> int:
        return self.not_checked["unreadable"]

    @property
    def errors(self) -> int:
        """Claims not checked, for every reason."""
        return sum(self.not_checked.values())

    def add(self, result: Result) -> None:
        self.claims += 1
        self.warned += bool(result.warnings)
        self.statuses[result.status] += 1
        self.findings += len(result.findings)
        self.by_category.update(f.category for f in result.findings)

    @property
    def clean_rate(self) -> float:
        return self.statuses["clean"] / self.claims if self.claims else 0.0

    def not_checked_text(self) -> str:
        """The claims not checked, by why: "2 unreadable, 1 no pack"."""
        return ", ".join(_not_checked(self.not_checked[kind], label)
                         for kind, label in KINDS.items() if self.not_checked[kind])

    def to_dict(self) -> dict:
        return {"claims": self.claims, "clean": self.statuses["clean"],
                "review": self.statuses["review"], "denied": self.statuses["denied"],
                "unreadable": self.unreadable,
                "not_checked": {kind: self.not_checked[kind] for kind in KINDS},
                "file_errors": self.file_errors, "claims_with_warnings": self.warned,
                "findings": self.findings,
                "clean_claim_rate": round(self.clean_rate, 4),
                "findings_by_category": dict(sorted(self.by_category.items()))}

    def line(self, packs: list[PackInfo]) -> str:
        text = (f"{self.claims} claim{'s' if self.claims != 1 else ''} checked: "
                f"{self.statuses['clean']} clean, {self.statuses['review']} review, "
                f"{self.statuses['denied']} denied ({self.clean_rate:.0%} clean)")
        if self.errors:
            text += "; " + self.not_checked_text()
        if self.file_errors:
            text += f"; {_not_checked(self.file_errors, 'file error')}"
        if self.warned:
            text += f"; {self.warned} with warnings"
        names = ", ".join(f"{p.id} {p.version}" for p in packs)
        return text + (f"; {self.findings} finding{'s' if self.findings != 1 else ''}"
                       f" · pack{'s' if len(packs) > 1 else ''} {names}")


def _not_checked(n: int, label: str) -> str:
    return f"{n} {label}" + ("s" if n != 1 and label.endswith("error") else "")
