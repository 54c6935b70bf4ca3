"""What both evaluators take: a pack checked and read, ready to compile or interpret.

``packs.load_pack`` builds it once the checker has found nothing wrong: the rules in force
(a version per stretch of dates where a windowed pack took one over), the value sets, each
table's typed rows, and the ICD-10-CM editions that ``is valid`` asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rulesengine.codes.icd10cm import Editions
from rulesengine.codes.validity import builtin_editions
from rulesengine.language import ast


@dataclass
class CheckedPack:
    rules: list[ast.Rule]
    valuesets: dict[str, ast.ValueSet]
    tables: dict[str, TableData]
    icd10: Editions = field(default_factory=builtin_editions)  # what ``is valid`` asks of ICD-10-CM


@dataclass(frozen=True)
class TableData:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]  # values in the order of ``columns``
    date_from: int | None  # index of the column holding a row's first day in force
    date_through: int | None  # index of the column holding its last day (inclusive)
    kinds: tuple[str, ...] = ()  # each column's declared type (hcpcs, integer, date...)

    def index(self, column: str) -> int:
        return self.columns.index(column)

    def in_force(self, row: tuple, day: date) -> bool:
        if self.date_from is not None:
            start = row[self.date_from]
            if start is not None and day < start:
                return False
        if self.date_through is not None:
            end = row[self.date_through]
            if end is not None and day > end:
                return False
        return True
