"""Claims from CSV, a row per claim line: ``columns`` knows the columns and reads the cells,
``reader`` groups the rows into claims."""

from .columns import ALIASES, CLAIM_COLUMNS, LINE_COLUMNS
from .reader import read_csv_claims

__all__ = ["ALIASES", "CLAIM_COLUMNS", "LINE_COLUMNS", "read_csv_claims"]
