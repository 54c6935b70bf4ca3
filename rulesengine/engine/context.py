"""What the compiled evaluator knows about the claim it is checking, built as rules ask.

One ``ClaimContext`` is made per claim and passed to every compiled test as its third
argument, so nothing about a claim is kept between claims or shared between threads.
It groups the claim's lines, and the patient's earlier lines from the history, once by
date and code the first time a rule asks, so a same-date join is a dict lookup rather
than a scan of every line for every line; and while a quantifier looks at one line it
holds that line (``other`` or ``earlier``) for the tests of its condition to read.
"""

from __future__ import annotations

from rulesengine.claims.model import Claim

from .history import HistoryLine
from .lineindex import LineIndex


class ClaimContext:
    __slots__ = ("claim", "history", "other", "earlier", "memo", "_indexes", "_groups", "_positions")

    def __init__(self, claim: Claim, history=None):
        self.claim = claim
        self.history = history
        self.other = None  # the line of this claim an "other line" quantifier is looking at
        self.earlier: HistoryLine | None = None  # the recorded line an "earlier line" one is
        #: answers worked out once per claim: a quantifier's matches for one key, a table's
        #: rows for one code and date
        self.memo: dict = {}
        self._indexes: dict[str, LineIndex] = {}
        self._groups: dict[tuple, dict] = {}  # (scope, by) -> the grouping, for the next ask
        self._positions: dict[int, int] | None = None

    def position(self, line) -> int:
        """Where a line of this claim stands on it (0 first), for claim order."""
        if self._positions is None:
            self._positions = {id(ln): i for i, ln in enumerate(self.claim.lines)}
        return self._positions[id(line)]

    def lines(self, scope: str) -> tuple:
        """The lines a scope ranges over: ``other`` this claim's (the caller skips the line
        in hand), ``earlier`` the patient's recorded lines of other claims."""
        return self.claim.lines if scope == "other" else self.index("earlier").lines

    def group(self, scope: str, by: tuple[str, ...]) -> dict:
        """The scope's lines grouped by the values of the attributes ``by`` (service_date,
        procedure), in their order: {(value, ...): [line, ...]}."""
        found = self._groups.get((scope, by))
        if found is None:
            found = self._groups[(scope, by)] = self.index(scope).group(by)
        return found

    def index(self, scope: str) -> LineIndex:
        found = self._indexes.get(scope)
        if found is None:
            found = self._indexes[scope] = (LineIndex(self.claim.lines) if scope == "other"
                                            else self._earlier_index())
        return found

    def _earlier_index(self) -> LineIndex:
        """The patient's recorded lines of other claims (none without a member id), read
        from the history once per claim; an in-memory history lends its own index of the
        member, unless it holds this very claim."""
        claim = self.claim
        if not claim.member_id:
            return LineIndex(())
        shared = getattr(self.history, "member_index", None)
        if shared is not None:
            found = shared(claim.member_id)
            if not found.holds_claim(claim.claim_id):
                return found
            lines = found.lines
        else:
            lines = self.history.member_lines(claim.member_id)
        own = claim.claim_id
        return LineIndex(tuple(h for h in lines if h.claim_id != own))
