"""Writing results for programs (JSON, JSON Lines), and the list of every writer.

Writers take results one at a time, so a day's file streams through in flat memory
(the JSON document writer keeps only what it has not yet written: it writes as it goes).
The writers for people are in report_text (the default), report_csv and report_html.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from .claims_io import ClaimError
from .model import Claim
from .report_csv import CsvWriter
from .report_html import HtmlWriter
from .report_text import TextWriter
from .results import PackInfo, Result


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


class JsonLinesWriter:
    """One JSON object per line: a result, or {"error": ...} for an unreadable claim."""

    def __init__(self, out: TextIO, packs: list[PackInfo]):
        self.out = out

    def result(self, result: Result, claim: Claim | None = None) -> None:
        self.out.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")

    def error(self, error: ClaimError) -> None:
        self.out.write(json.dumps({"error": _error_dict(error)}, separators=(",", ":")) + "\n")

    def close(self, summary: Summary) -> None:
        pass


class JsonWriter:
    """One JSON document: {"packs", "results": [...], "errors": [...], "summary"}."""

    def __init__(self, out: TextIO, packs: list[PackInfo]):
        self.out = out
        self.errors: list[dict] = []
        self.count = 0
        self.out.write('{"packs": ' + json.dumps([p.to_dict() for p in packs]) + ',\n "results": [')

    def result(self, result: Result, claim: Claim | None = None) -> None:
        self.out.write(("," if self.count else "") + "\n  " + json.dumps(result.to_dict()))
        self.count += 1

    def error(self, error: ClaimError) -> None:
        self.errors.append(_error_dict(error))

    def close(self, summary: Summary) -> None:
        self.out.write("\n ],\n \"errors\": " + json.dumps(self.errors) +
                       ",\n \"summary\": " + json.dumps(summary.to_dict()) + "}\n")


def _error_dict(error: ClaimError) -> dict:
    return {"source": error.source, "position": error.position, "claim_id": error.claim_id,
            "path": error.path, "message": error.message, "text": str(error)}


WRITERS = {"text": TextWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter,
           "html": HtmlWriter}
