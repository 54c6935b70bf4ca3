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


class ClaimContext:
    __slots__ = ("claim", "history", "other", "earlier", "memo", "_earlier_lines", "_groups", "_positions")

    def __init__(self, claim: Claim, history=None):
        self.claim = claim
        self.history = history
        self.other = None  # the line of this claim an "other line" quantifier is looking at
        self.earlier: HistoryLine | None = None  # the recorded line an "earlier line" one is
        #: answers worked out once per claim: a quantifier's matches for one key, a table's
        #: rows for one code and date
        self.memo: dict = {}
        self._earlier_lines: tuple[HistoryLine, ...] | None = None
        self._groups: dict = {}
        self._positions: dict[int, int] | None = None

    def position(self, line) -> int:
        """Where a line of this claim stands on it (0 first), for claim order."""
        if self._positions is None:
            self._positions = {id(ln): i for i, ln in enumerate(self.claim.lines)}
        return self._positions[id(line)]

    def lines(self, scope: str) -> tuple:
        """The lines a scope ranges over: ``other`` this claim's (the caller skips the line
        in hand), ``earlier`` the patient's recorded lines of other claims."""
        return self.claim.lines if scope == "other" else self.earlier_lines()

    def earlier_lines(self) -> tuple[HistoryLine, ...]:
        """The patient's recorded lines of other claims (none without a member id), read
        from the history once per claim."""
        if self._earlier_lines is None:
            claim = self.claim
            if not claim.member_id:
                self._earlier_lines = ()
            else:
                own = claim.claim_id
                self._earlier_lines = tuple(h for h in self.history.member_lines(claim.member_id)
                                            if h.claim_id != own)
        return self._earlier_lines

    def group(self, scope: str, by: tuple[str, ...]) -> dict:
        """The scope's lines grouped by the values of the attributes ``by`` (service_date,
        procedure), in their order: {(value, ...): (line, ...)}."""
        key = (scope, by)
        groups = self._groups.get(key)
        if groups is None:
            building: dict = {}
            for line in self.lines(scope):
                building.setdefault(tuple(getattr(line, name) for name in by), []).append(line)
            groups = self._groups[key] = {k: tuple(v) for k, v in building.items()}
        return groups
