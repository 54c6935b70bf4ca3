"""X12 5010 837P and 837I files to normalised claims.

``envelope`` reads an interchange: separators, segments, ISA/GS/ST envelopes and their
positions; ``reader`` (``read_837``) walks each transaction's loops (``loops``) down to the
claim (``claim``), its lines and diagnoses (``lines``) and single element values
(``elements``); ``context`` is what the claim loop reads of the loops above it.
"""

from .envelope import X12Error, is_x12
from .reader import read_837

__all__ = ["X12Error", "is_x12", "read_837"]
