"""ICD-10-CM code sets by date of service: which codes exist, and which are billable.

ICD-10-CM changes every October 1, when a fiscal year starts, and some years again on
April 1. A claim line is coded in the code set in force on its date of service, so
``is valid`` and lint ask the *edition* of that date:

* the built-in edition: the one simple-icd-10-cm ships (1.5.0: the April 1, 2026 update
  of FY2026), taken as in force for its whole fiscal year (one version a fiscal year is
  close, not exact: a code the April update added counts from October);
* a pack's own editions: files ``codesets/icd10cm-YYYY-MM-DD.txt`` that
  ``rulesengine import icd10cm`` writes from CMS's published code files, each in force
  from the date in its name. A pack has its parents' editions too; its own file of the
  same date replaces a parent's, and any pack edition replaces the built-in one on its
  dates.

An edition is in force from its first day to the day before the next one starts, never
past September 30 of its fiscal year. A date of service no edition covers gets no answer
(None): a rule that needs one does not fire, and lint says which dates it could not check.

A code set file holds a code a line, written without its dot; a code that is a header (a
category or subcategory, not billable) is followed by the word ``header``; ``#`` starts a
comment. It carries codes only: the descriptions stay in CMS's files.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

#: an ICD-10-CM code without its dot: a category of three characters, up to four more
CODE = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december"], 1)}


def fiscal_year(day: date) -> int:
    """The federal fiscal year of a date: FY2027 runs from 2026-10-01 to 2027-09-30."""
    return day.year + (day.month >= 10)


def fiscal_year_start(year: int) -> date:
    return date(year - 1, 10, 1)


def fiscal_year_end(year: int) -> date:
    return date(year, 9, 30)


def dotted(flat: str) -> str:
    """A code as claims and rules write it: E559 -> E55.9."""
    return flat if len(flat) <= 3 else f"{flat[:3]}.{flat[3:]}"


def some_codes(codes: list[str], limit: int = 5) -> str:
    """The first codes, dotted, and how many more: 'E55.0, E55.9 and 3 more'."""
    shown = ", ".join(dotted(c) for c in codes[:limit])
    return shown + (f" and {len(codes) - limit} more" if len(codes) > limit else "")


class Edition:
    """One version of ICD-10-CM: every code in it, and whether each is billable (a leaf).
    Its codes are read the first time they are asked for (the built-in edition costs
    about a second), once, whichever thread asks."""

    def __init__(self, start: date, label: str, load: Callable[[], dict[str, bool]]):
        self.start = start
        self.year = f"FY{fiscal_year(start)}"
        self.label = label
        self._load = load
        self._codes: dict[str, bool] | None = None
        self._leaves: list[str] = []
        self._lock = threading.Lock()

    @property
    def codes(self) -> dict[str, bool]:
        """Code (without its dot) -> billable."""
        if self._codes is None:
            with self._lock:
                if self._codes is None:
                    codes = self._load()
                    self._leaves = sorted(c for c, billable in codes.items() if billable)
                    self._codes = codes
        return self._codes

    @property
    def leaves(self) -> list[str]:
        """The billable codes, sorted."""
        self.codes  # noqa: B018 - loads them
        return self._leaves

    def exists(self, flat: str) -> bool:
        return flat in self.codes

    def billable(self, flat: str) -> bool:
        return self.codes.get(flat) is True

    def under(self, flat: str) -> list[str]:
        """The billable codes an entry covers: itself and the codes below it."""
        leaves = self.leaves
        return leaves[bisect.bisect_left(leaves, flat):bisect.bisect_left(leaves, flat + "\U0010ffff")]

    def in_range(self, low: str, high: str) -> list[str]:
        """The billable codes ``low..high`` covers (as the engine matches a range: by the
        code's own ancestor of the range's length)."""
        leaves = self.leaves
        found = leaves[bisect.bisect_left(leaves, low):bisect.bisect_left(leaves, high + "\U0010ffff")]
        return [c for c in found if len(c) >= len(low)]

    def nearest(self, flat: str) -> tuple[str, list[str]] | None:
        """The closest header above ``flat`` and the billable codes under it (for E55.99:
        E55, as E55.9 is itself billable and has nothing under it)."""
        for n in range(len(flat) - 1, 2, -1):
            if self.exists(flat[:n]) and not self.billable(flat[:n]):
                return flat[:n], self.under(flat[:n])
        return None


Span = tuple[date, date, Edition]  # first and last date of service, both included


class Editions:
    """The ICD-10-CM editions of a pack, each over the dates of service it is in force."""

    def __init__(self, own: Iterable[Edition] = ()):
        by_start = {edition.start: edition for edition in own}
        builtin = builtin_edition()
        if builtin is not None:
            by_start.setdefault(builtin.start, builtin)
        starts = sorted(by_start)
        self.spans: list[Span] = []
        for i, start in enumerate(starts):
            end = fiscal_year_end(fiscal_year(start))
            if i + 1 < len(starts):
                end = min(end, starts[i + 1] - timedelta(days=1))
            self.spans.append((start, end, by_start[start]))
        self._starts = starts

    def at(self, day: date) -> Edition | None:
        """The edition in force on a date of service, or None."""
        i = bisect.bisect_right(self._starts, day) - 1
        return self.spans[i][2] if i >= 0 and day <= self.spans[i][1] else None

    def billable(self, code: str, day: date) -> bool | None:
        """Whether a well-shaped code (dotted or not) is billable on a date of service;
        None when no edition covers the date."""
        edition = self.at(day)
        return None if edition is None else edition.billable(code.replace(".", ""))

    def covering(self, start: date | None, end: date | None) -> list[Span]:
        """The spans that meet the dates from ``start`` to ``end`` (None: open)."""
        return [s for s in self.spans if (end is None or s[0] <= end) and (start is None or start <= s[1])]


# ---- the built-in edition --------------------------------------------------------------------

@functools.cache
def builtin_edition() -> Edition | None:
    """The edition simple-icd-10-cm ships, or None without it. Its date is read from the
    name of its data file, so nothing is imported until a code is asked for."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    names = " ".join(sorted(p.name for p in data.glob("*.xml")))
    found = re.search(r"([A-Za-z]+)-(\d{1,2})-(\d{4})", names)
    if not found or found.group(1).lower() not in _MONTHS:
        raise RuntimeError(f"cannot tell which ICD-10-CM version simple-icd-10-cm ships "
                           f"({names or 'no data file'})")
    released = date(int(found.group(3)), _MONTHS[found.group(1).lower()], int(found.group(2)))
    year = fiscal_year(released)
    label = (f"ICD-10-CM FY{year} (the CMS code set of {released:%B} {released.day}, "
             f"{released.year})")
    return Edition(fiscal_year_start(year), label, _builtin_codes)


def _builtin_codes() -> dict[str, bool]:
    # importing parses CMS's 10 MB tabular XML (about a second): only packs that ask pay it
    with warnings.catch_warnings():  # its own use of deprecated importlib.resources calls
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd
    return {c: icd.is_leaf(c) for c in icd.get_all_codes(with_dots=False) if CODE.fullmatch(c)}
