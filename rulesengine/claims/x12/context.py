"""What the claim loop sees of the transaction above it: what the reader was asked for, and
the loops above the claim (header, billing provider, subscriber, patient) with their values.

``loops.Transaction837`` fills these in as it walks; ``claim.ClaimLoop`` reads them when a
claim ends, through ``AboveClaim``, so neither module needs the other's class.
"""

from __future__ import annotations

from typing import Protocol

from .elements import SourcedValues
from .envelope import Segment, X12Error


class ReadOptions:
    """What read_837 was asked for, as every loop of the reader sees it."""

    __slots__ = ("as_dict", "icd9", "payer_ids", "received_date")

    def __init__(self, received_date: str | None, icd9: str, payer_ids: dict[str, str], as_dict: bool):
        self.received_date = received_date
        self.icd9 = icd9
        self.payer_ids = payer_ids
        self.as_dict = as_dict


class LoopAboveClaim(SourcedValues):
    """What a loop above the claim contributes to each claim under it, and its first problem."""

    __slots__ = ("error", "start")

    def __init__(self, start: Segment | None = None):
        self.values = {}
        self.where = {}
        self.error: X12Error | None = None
        self.start = start


class AboveClaim(Protocol):
    """The transaction a claim loop belongs to, as the claim loop reads it."""

    kind: str  # professional or institutional
    options: ReadOptions
    header: LoopAboveClaim
    billing: LoopAboveClaim | None
    subscriber: LoopAboveClaim | None
    patient: LoopAboveClaim | None
