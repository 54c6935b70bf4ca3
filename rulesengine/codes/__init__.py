"""The codes room, at the bottom of the house: what every stage agrees a medical code is.

Holds the code kinds, their shapes and normal forms, and code sets that match by range,
prefix and ICD-10-CM hierarchy (``kinds``); ICD-10-CM by fiscal year, the editions that say
which codes exist and are billable on a date of service (``icd10cm``); and the published
lists behind ``is valid`` for places of service and modifiers (``validity``, with its data
in ``validity_data/``).

May import: nothing of rulesengine. Every other room may import this one.
"""

from .icd10cm import Edition, Editions, builtin_edition
from .kinds import (
           CODE_KINDS,
           CodeRange,
           CodeSet,
           icd10_ancestors,
           normalize,
           shape_error,
)
from .validity import builtin_editions, is_valid

__all__ = ["CODE_KINDS", "CodeRange", "CodeSet", "Edition", "Editions", "builtin_edition",
           "builtin_editions", "icd10_ancestors", "is_valid", "normalize", "shape_error"]
