"""``rulesengine lint``: what loads but is probably wrong (``pack``), checked among the code
lists (``codes``: ICD-10-CM entries that match no billable code, impossible CPT/HCPCS codes)
and rule against rule (``rules``: duplicates, contradictions, overlapping versions)."""

from .pack import (
    EXIT_BROKEN,
    EXIT_CLEAN,
    EXIT_PROBLEMS,
    LintProblem,
    LintReport,
    lint_pack,
)

__all__ = ["EXIT_BROKEN", "EXIT_CLEAN", "EXIT_PROBLEMS", "LintProblem", "LintReport", "lint_pack"]
