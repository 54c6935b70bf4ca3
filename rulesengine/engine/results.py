"""What checking a claim produces: findings, and a result per claim (DESIGN.md, "Results")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

SEVERITY_RANK = {"deny": 2, "review": 1, "info": 0}


def plain(value: Any) -> Any:
    """A value as JSON holds it: dates in ISO form, tuples as lists."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


#: Not frozen, as the claim model: a frozen dataclass of fifteen fields costs 2.5 µs to
#: make (object.__setattr__ each), the largest part of a finding; treat it as read-only.
@dataclass(slots=True)
class Finding:
    rule_id: str
    category: str
    severity: str  # deny, review, info
    scope: str  # claim or line
    line_number: int | None
    group_code: str
    carc: str
    rarc: tuple[str, ...]
    message: str
    evidence: dict
    source_file: str
    source_line: int
    citation: str | None
    pack: str  # the pack (layer) the rule comes from

    def to_dict(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "severity": self.severity,
            "scope": self.scope,
            "line_number": self.line_number,
            "group_code": self.group_code,
            "carc": self.carc,
            "rarc": list(self.rarc),
            "message": self.message,
            "evidence": {k: plain(v) for k, v in self.evidence.items()},
            "source": {"pack": self.pack, "file": self.source_file, "line": self.source_line},
            "citation": self.citation,
        }


@dataclass(frozen=True)
class PackInfo:
    id: str
    version: str
    hash: str

    def to_dict(self) -> dict:
        return {"id": self.id, "version": self.version, "hash": self.hash}


@dataclass(slots=True)
class Result:
    claim_id: str
    pack: PackInfo
    findings: tuple[Finding, ...] = field(default=())
    #: the claim's reader warnings (``Claim.warnings``): what was read past to build it
    warnings: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        """clean (no findings), review (only review/info findings) or denied."""
        if not self.findings:
            return "clean"
        if any(f.severity == "deny" for f in self.findings):
            return "denied"
        return "review"

    def to_dict(self) -> dict:
        return {
            "claim_id": self.claim_id,
            "status": self.status,
            "pack": self.pack.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }
