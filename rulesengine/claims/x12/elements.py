"""Values of 837 elements: required text, amounts, dates and spans, reference numbers.

Each reader raises the segment's :class:`~rulesengine.claims.x12.envelope.X12Error` naming the element
(``SV1-02``), so a bad value is reported where it stands in the file.
``SourcedValues`` keeps the values read for one part of a claim together with the segment
and element each came from, which is how a problem found later (by the claim schema)
is traced back to its place in the file.
"""

from __future__ import annotations

import re
from datetime import date

from .envelope import Segment

_AMOUNT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
_D8 = re.compile(r"[0-9]{8}").fullmatch


class SourcedValues:
    """Values read for one part of a claim, and the (segment number, element) of each."""

    __slots__ = ("values", "where")
    values: dict
    where: dict[str, tuple[int, str]]

    def set(self, key: str, value, seg: Segment, element: str) -> None:
        self.values[key] = value
        self.where[key] = (seg.number, element)


def required_text(seg: Segment, n: int, what: str) -> str:
    value = seg.get(n)
    if not value:
        raise seg.error(n, f"required element is missing ({what})")
    return value


def amount(seg: Segment, n: int, what: str, required: bool = True) -> float | None:
    text = seg.get(n)
    if not text:
        if required:
            raise seg.error(n, f"required element is missing ({what})")
        return None
    if not _AMOUNT(text):
        raise seg.error(n, f"{text!r} is not a number ({what})")
    value = float(text)
    return int(value) if value.is_integer() else value


def iso_date(text: str, seg: Segment, n: int) -> str:
    """A D8 date (CCYYMMDD) as ISO 8601."""
    if _D8(text):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            pass
    raise seg.error(n, f"{text!r} is not a date (CCYYMMDD)")


def dates(seg: Segment) -> tuple[str, str | None]:
    """A DTP's date or span: D8 CCYYMMDD, or RD8 CCYYMMDD-CCYYMMDD (the same day twice is one day)."""
    form, text = seg.get(2), required_text(seg, 3, "date")
    if form == "D8":
        return iso_date(text, seg, 3), None
    if form == "RD8":
        start, _, end = text.partition("-")
        if not end:
            raise seg.error(3, f"{text!r} is not a span of dates (CCYYMMDD-CCYYMMDD)")
        first, last = iso_date(start, seg, 3), iso_date(end, seg, 3)
        return first, (None if last == first else last)
    raise seg.error(2, f"date format {form!r}: expected D8 (a date) or RD8 (a span)")


def reference(seg: Segment, put) -> None:
    """REF*G1 prior authorization and REF*9F referral number (a referral is not an authorization)."""
    qualifier = seg.get(1)
    if qualifier == "G1":
        put("prior_authorization", required_text(seg, 2, "prior authorization number"), seg, "REF-02")
    elif qualifier == "9F":
        put("referral_number", required_text(seg, 2, "referral number"), seg, "REF-02")
