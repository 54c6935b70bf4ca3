"""X12 5010 837P and 837I claims to the normalised claim.

Reads professional (005010X222A2) and institutional (005010X223A3) claim transactions,
several claims per transaction and several transactions per file, walking the loops:

    header (BHT) -> 2000A billing provider (HL*20) -> 2000B subscriber (HL*22)
      -> 2000C patient (HL*23, absent when the patient is the subscriber)
      -> 2300 claim (CLM) -> 2310 claim providers, 2320/2330 other payers
      -> 2400 service line (LX) -> 2410 drug, 2420 line providers, 2430 adjudication, 2440 forms

Each claim is built as the normalised claim dict and passed through
:func:`rulesengine.claims.build.claim_from_data`, so it is validated like a JSON claim. A
problem becomes a :class:`ClaimError` whose ``position`` is the segment number in the file
(``unit`` "segment") and whose ``path`` names the element (``SV1-02``); the claim with the
problem is dropped and reading goes on at the next CLM, HL or ST. docs/x12.md says which
element feeds which field, and the choices made (ICD-9, referrals, received date, plans).

The work is shared out by loop: ``envelope`` reads the envelopes and segments, ``loops``
the hierarchy above the claim, ``claim`` loop 2300, ``lines`` the service lines and
diagnoses, ``elements`` the values of single elements.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TextIO

from ..build import FILE_ERROR, ClaimError
from ..model import Claim
from .context import ReadOptions
from .envelope import X12Error, is_x12, iter_transactions
from .loops import PLANS, Transaction837

__all__ = ["PLANS", "read_837"]


def read_837(
    path_or_text: str | Path | TextIO,
    source: str | None = None,
    *,
    received_date: date | str | None = None,
    icd9: str = "by-date",
    payer_ids: Mapping[str, str] | None = None,
    as_dict: bool = False,
) -> Iterator[Claim | dict | ClaimError]:
    """Each claim of an 837P/837I file, in file order, as a Claim or a ClaimError.

    ``path_or_text`` is a path, the X12 text itself (a string starting with ``ISA``) or an
    open text stream. ``received_date`` (a date or ISO string) is given to every claim;
    without it a claim's received date is its transaction's creation date (BHT04).
    ``icd9`` says what to do with a claim coded in ICD-9-CM (HI qualifiers BK, BF...):
    ``"by-date"`` (the default) reads one whose services are all before 2015-10-01 with no
    ``diagnoses``, its ICD-9 codes set aside in ``icd9_diagnoses`` and a warning saying so,
    and reports a later one, since ICD-10-CM replaced ICD-9-CM then; ``"error"`` reports
    every one; ``"keep"`` reads every one.
    ``payer_ids`` maps the payer id on the file (NM1*PR NM109) to the id rule packs use.
    ``as_dict`` yields each valid claim as its normalised dict (extra fields included, as
    docs/x12.md lists them) instead of a Claim: for converting 837 files to JSON.
    """
    if icd9 not in ("by-date", "error", "keep"):
        raise ValueError(f"icd9 must be 'by-date', 'error' or 'keep', not {icd9!r}")
    if isinstance(received_date, str):
        received_date = date.fromisoformat(received_date)  # a bad date fails here, not per claim
    received = received_date.isoformat() if received_date else None
    options = ReadOptions(received, icd9, dict(payer_ids or {}), as_dict)
    return _open_and_read(path_or_text, source, options)


def _open_and_read(path_or_text, source: str | None, options: ReadOptions) -> Iterator[Claim | dict | ClaimError]:
    if isinstance(path_or_text, (str, Path)) and not _is_text(path_or_text):
        path = Path(path_or_text)
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
            yield from _read(stream, source or str(path), options)
    elif isinstance(path_or_text, str):
        yield from _read(io.StringIO(path_or_text), source or "<input>", options)
    else:
        yield from _read(path_or_text, source or getattr(path_or_text, "name", "<input>"), options)


def _is_text(value: str | Path) -> bool:
    # an ISA alone is 106 characters: a shorter string starting with "ISA" is a file name
    return isinstance(value, str) and len(value) >= 106 and is_x12(value)


def _read(stream: TextIO, source: str, options: ReadOptions) -> Iterator[Claim | dict | ClaimError]:
    for item in iter_transactions(stream):
        if isinstance(item, X12Error):
            yield ClaimError(source, item.segment, None, item.element, item.message, "segment",
                             FILE_ERROR if item.envelope else "unreadable")
        else:
            yield from Transaction837(item, source, options).claims()

