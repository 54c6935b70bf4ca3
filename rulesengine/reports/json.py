"""Results for programs: JSON Lines (a result a line) and one JSON document.

Writers take results one at a time, so a day's file streams through in flat memory
(the JSON document writer keeps only what it has not yet written: it writes as it goes).
"""

from __future__ import annotations

import json
from typing import TextIO

from rulesengine.claims import ClaimError
from rulesengine.claims.model import Claim
from rulesengine.engine.results import PackInfo, Result

from .summary import Summary


class JsonLinesWriter:
    """One JSON object per line: a result, or {"error": ...} for an unreadable claim."""

    def __init__(self, out: TextIO, packs: list[PackInfo]):
        self.out = out

    def result(self, result: Result, claim: Claim | None = None) -> None:
        self.out.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")

    def error(self, error: ClaimError) -> None:
        self.out.write(json.dumps({"error": error_dict(error)}, separators=(",", ":")) + "\n")

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
        self.errors.append(error_dict(error))

    def close(self, summary: Summary) -> None:
        self.out.write("\n ],\n \"errors\": " + json.dumps(self.errors) +
                       ",\n \"summary\": " + json.dumps(summary.to_dict()) + "}\n")


def error_dict(error: ClaimError) -> dict:
    return {"kind": error.kind, "source": error.source, "position": error.position,
            "claim_id": error.claim_id,
            "path": error.path, "message": error.message, "text": str(error)}
