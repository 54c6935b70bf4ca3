"""``rulesengine explain``: why each rule of a pack did or did not fire on a claim.

``claim`` decides what to explain and holds it to ``pack.check``; ``say`` turns a rule into
sentences and ``facts`` says what a claim holds for each part; ``tables`` walks an NCCI or MUE check on one line; the results
are ``explanation`` objects, printed by ``report`` or written as JSON.
"""

from .claim import disabled_rule, explain_claim, explain_disabled
from .explanation import ClaimExplanation, Explanation
from .report import render

__all__ = ["ClaimExplanation", "Explanation", "disabled_rule", "explain_claim", "explain_disabled", "render"]
