"""What both evaluators take: a pack checked and read, ready to compile or interpret.

``packs.load_pack`` builds it once the checker has found nothing wrong: the rules in force
(a version per stretch of dates where a windowed pack took one over), the value sets, each
table's typed rows, and the ICD-10-CM editions that ``is valid`` asks.
"""

from __future__ import annotations

from collections.abc import Callable
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


class TableData:
    """A table's typed rows, with what the evaluator builds from them once (``prepared``:
    an NCCI table's pair index, kept by the pack cache). The rows may be read when first
    asked for (``read_rows``): a pack loaded from the cache whose rules need only a
    table's index holds the index alone, and reads the rows again for the reference
    interpreter or an explanation."""

    __slots__ = ("name", "columns", "_rows", "date_from", "date_through", "kinds", "prepared",
                 "_read_rows")

    def __init__(self, name: str, columns: tuple[str, ...], rows: tuple[tuple, ...] | None,
                 date_from: int | None, date_through: int | None, kinds: tuple[str, ...] = (),
                 prepared: dict | None = None, read_rows: Callable[[], tuple] | None = None):
        self.name = name
        self.columns = columns
        self._rows = rows  # values in the order of ``columns``
        self.date_from = date_from  # index of the column holding a row's first day in force
        self.date_through = date_through  # index of the column holding its last day (inclusive)
        self.kinds = kinds  # each column's declared type (hcpcs, integer, date...)
        self.prepared = prepared if prepared is not None else {}
        self._read_rows = read_rows

    @property
    def rows(self) -> tuple[tuple, ...]:
        if self._rows is None:
            self._rows = self._read_rows()
        return self._rows

    def with_rows(self, rows: tuple[tuple, ...]) -> TableData:
        """The same table holding only ``rows`` (nothing prepared)."""
        return TableData(self.name, self.columns, rows, self.date_from, self.date_through, self.kinds)

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
