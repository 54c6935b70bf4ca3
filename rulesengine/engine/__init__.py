"""The engine room: a checked pack compiled, and claims evaluated against it.

Holds what both evaluators take (``checked``: ``CheckedPack``, a table's typed rows); the
compiler, rules turned into closures indexed by procedure code (``compiler``); the
reference interpreter that gives the rules' meaning (``reference``); what both share once
a rule fires (``runtime``: findings, messages, evidence); results and findings
(``results``, their JSON described by ``result.schema.json``); the claim history that
frequency and duplicate rules read (``history``: in memory, SQLite; ``historyfile``: what
opening a history file refuses); and the boundary around checking one claim
(``boundary``: whatever fails inside becomes that claim's error, never the run's end).

May import: ``rulesengine.language``, ``rulesengine.claims``, ``rulesengine.codes``.
Imported by ``rulesengine.packs`` and the rooms above it.
"""

from .checked import CheckedPack, TableData
from .history import (
           History,
           HistoryError,
           HistoryLine,
           HistoryRequired,
           MemoryHistory,
           SQLiteHistory,
           open_history,
)
from .results import Finding, PackInfo, Result

__all__ = ["CheckedPack", "Finding", "History", "HistoryError", "HistoryLine", "HistoryRequired",
           "MemoryHistory", "PackInfo", "Result", "SQLiteHistory", "TableData", "open_history"]
