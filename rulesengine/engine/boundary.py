"""The boundary around checking one claim: whatever goes wrong inside becomes a ClaimError
for that claim, never the end of a run (a day's batch must not be lost to one claim).

An exception a rule raises is a bug in the engine (the checker should have refused what
could raise), so it is reported as an ``internal`` error naming the rule, for the bug
report; a claim history that fails under a check (a corrupt page, a lock held too long)
is reported as a ``history`` error: the claim was not checked, the rest go on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from rulesengine.claims.build import ClaimError
from rulesengine.claims.model import Claim

from .history import HistoryError, HistoryRequired

T = TypeVar("T")


class RuleFailed(Exception):
    """A rule raised while checking a claim; the original exception is the cause."""

    def __init__(self, rule_id: str | None):
        super().__init__(rule_id)
        self.rule_id = rule_id


def _cause(error: BaseException) -> BaseException:
    return error.__cause__ if isinstance(error, RuleFailed) and error.__cause__ else error


def checked_or_error(check: Callable[[Claim], T], claim: Claim, source: str,
                     position: int) -> T | ClaimError:
    """``check(claim)``, or the ClaimError saying why this claim could not be checked.
    A check that needs a history and has none (``HistoryRequired``) is the caller's
    mistake, for every claim alike: it is raised, not reported per claim."""
    try:
        return check(claim)
    except (HistoryRequired, MemoryError):  # the caller's mistake; the machine's
        raise
    except Exception as error:
        cause = _cause(error)
        if isinstance(cause, (HistoryError, sqlite3.Error)):
            why = ("was locked by another process past the wait" if "locked" in str(cause)
                   else f"could not be read ({cause})")
            return ClaimError(source, position, claim.claim_id, "",
                              f"not checked: the claim history {why}", kind="history")
        rule = error.rule_id if isinstance(error, RuleFailed) else None
        where = f" in rule {rule}" if rule else ""
        return ClaimError(source, position, claim.claim_id, "",
                          f"internal error{where}: {type(cause).__name__}: {cause} (a bug in "
                          f"rulesengine: please report it with the rule and the claim)",
                          kind="internal")
