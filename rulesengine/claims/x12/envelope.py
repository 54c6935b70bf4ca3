"""Reading ASC X12 interchanges: separators, segments, envelopes, positions.

An interchange declares its own separators in its ISA segment, which has a fixed layout:
the element separator is the ISA's fourth character, the repetition separator is ISA11,
the component separator is ISA16 and the segment terminator is the character right after
ISA16. Line breaks after a terminator are tolerated (most files have one per segment).

Segments are numbered from 1 across the whole file, ISA included, so an error can name
"segment 31, element SV1-02" and a person can find it (with one segment per line it is
also the line number). Elements are 1-based as in the implementation guides: element 1 of
``SV1*HC:99213*40`` is ``HC:99213`` (``SV1-01``), its component 2 is ``99213``
(``SV1-01-2``).

The file is read in chunks, so memory stays flat however many claims it holds.
:func:`iter_transactions` walks the envelopes (ISA/GS/ST ... SE/GE/IEA), checks their
counts and control numbers, and hands each transaction's body over as a lazy stream of
segments; envelope problems come out as :class:`X12Error` values, in file order, and the
transactions after them are still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

__all__ = [
    "Delimiters",
    "Segment",
    "Transaction",
    "X12Error",
    "is_x12",
    "iter_segments",
    "iter_transactions",
]

_CHUNK = 1 << 16
# an ISA is 106 characters; allow some slack for senders who do not pad its fields
_ISA_MAX = 200
# no real segment comes near this; a longer one means the terminator is not the declared one
_SEGMENT_MAX = 1 << 20
_BLANK = "\r\n\t \x00"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}").fullmatch
_LOOKS_SEPARATED = re.compile(r"[A-Z][A-Z0-9]{1,2}([^A-Za-z0-9 ])").match


class X12Error(Exception):
    """A problem at a place in the file: segment number (1-based; 0 for the file as a
    whole) and element designator such as ``SV1-02`` or ``CLM-05-3`` (empty for a whole
    segment)."""

    def __init__(self, segment: int, element: str, message: str):
        super().__init__(message)
        self.segment = segment
        self.element = element
        self.message = message
        #: about the envelope only (a count or control number): the claims in it are good
        self.envelope = False

    def __str__(self) -> str:
        where = f"segment {self.segment}" if self.segment else "file"
        if self.element:
            where += f", {self.element}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    repetition: str | None
    component: str
    segment: str


class Segment:
    """One segment: its number in the file, its id and its elements (``elements[0]`` is the id)."""

    __slots__ = ("delimiters", "elements", "id", "number")

    def __init__(self, number: int, elements: list[str], delimiters: Delimiters):
        self.number = number
        self.id = elements[0]
        self.elements = elements
        self.delimiters = delimiters

    def __len__(self) -> int:
        return len(self.elements) - 1

    def get(self, n: int) -> str:
        """Element ``n`` (1-based), stripped; ``""`` when absent."""
        elements = self.elements
        return elements[n].strip() if n < len(elements) else ""

    def components(self, n: int) -> list[str]:
        """The components of composite element ``n``, stripped; ``[]`` when it is absent."""
        value = self.get(n)
        if not value:
            return []
        sep = self.delimiters.component
        if sep not in value:
            # Some senders declare one component separator in ISA16 and write another;
            # the public 837 samples declare ':' and write '>'. Only these two are common,
            # and neither occurs in a code, so the intent is not in doubt.
            for other in ":>":
                if other != sep and other in value:
                    sep = other
                    break
        return [part.strip() for part in value.split(sep)]

    def where(self, n: int, component: int | None = None) -> str:
        """The designator of element ``n`` (and component): ``SV1-01``, ``SV1-01-2``."""
        name = f"{self.id}-{n:02d}"
        return f"{name}-{component}" if component else name

    def error(self, n: int | None, message: str, component: int | None = None) -> X12Error:
        return X12Error(self.number, self.where(n, component) if n else "", message)

    def id_problem(self) -> str | None:
        """Why this segment's id cannot be a segment id (wrong separators, stray text), or None."""
        text = self.id
        if _SEGMENT_ID(text):
            return None
        shown = repr(text if len(text) <= 30 else text[:27] + "...")
        sep = _LOOKS_SEPARATED(text)
        if sep and sep.group(1) != self.delimiters.element:
            return (f"{shown} is not a segment: it looks separated by {sep.group(1)!r}, but the "
                    f"ISA declares {self.delimiters.element!r} as the element separator")
        return (f"{shown} is not a segment: a segment starts with an id of 2 or 3 letters "
                f"and digits, then the element separator {self.delimiters.element!r}")

    def __repr__(self) -> str:
        return f"Segment({self.number}, {self.delimiters.element.join(self.elements)!r})"


def is_x12(text: str) -> bool:
    """Whether ``text`` (the start of a file) looks like an X12 interchange."""
    return text.lstrip("\ufeff" + _BLANK).startswith("ISA")


#: a functional group or a transaction set with no interchange around it: X12 all the same
_BARE = re.compile(r"(GS|ST)[^0-9A-Za-z \r\n]")


def looks_like_x12(text: str) -> bool:
    """Whether the start of a file is X12: an interchange (ISA), or a group (GS) or a
    transaction (ST) whose envelope is missing, which the reader refuses in X12's words."""
    text = text.lstrip("\ufeff" + _BLANK)
    return text.startswith("ISA") or _BARE.match(text) is not None


def _delimiters(head: str) -> tuple[Delimiters, int] | X12Error:
    """The separators an ISA declares, and where the ISA ends in ``head``."""
    if len(head) < 4:
        return X12Error(1, "", "the file ends inside its ISA segment")
    element = head[3]
    if element.isalnum() or element in _BLANK:
        return X12Error(1, "", f"{element!r} after ISA cannot be an element separator")
    at = 3
    for _ in range(15):  # ISA16 follows the 16th separator
        at = head.find(element, at + 1)
        if at < 0:
            return X12Error(1, "", f"the ISA segment must have 16 elements separated by {element!r}")
    if at + 2 >= len(head):
        return X12Error(1, "ISA-16", "the file ends inside its ISA segment")
    component, terminator = head[at + 1], head[at + 2]
    fields = head[: at + 1].split(element)
    repetition = fields[11].strip() if len(fields) > 11 else ""
    # in 4010, ISA11 is the standards identifier (U), not a separator
    repetition = repetition if len(repetition) == 1 and not repetition.isalnum() else None
    if component.isalnum() or component in (element, terminator) or component in _BLANK:
        return X12Error(1, "ISA-16", f"{component!r} cannot be the component separator "
                                     f"(element separator {element!r}, segment terminator {terminator!r})")
    if terminator.isalnum() or terminator == " " or terminator in (element, repetition):
        return X12Error(1, "ISA-16", f"{terminator!r} after ISA16 cannot be the segment terminator")
    return Delimiters(element, repetition, component, terminator), at + 2


def iter_segments(stream: TextIO) -> Iterator[Segment | X12Error]:
    """Every segment of every interchange in the stream, numbered from 1.

    A problem that leaves the separators unknown (no ISA, a broken ISA) ends the stream
    with an :class:`X12Error`: nothing after it can be split reliably.
    """
    buffer = ""
    number = 0
    eof = False

    def fill(size: int) -> None:
        nonlocal buffer, eof
        while not eof and len(buffer) < size:
            chunk = stream.read(_CHUNK)
            if not chunk:
                eof = True
            buffer += chunk

    while True:
        # at the start of an interchange: find its ISA and learn its separators
        fill(_ISA_MAX)
        buffer = buffer.lstrip("\ufeff" + _BLANK)
        while len(buffer) < _ISA_MAX and not eof:  # blank lines between interchanges
            fill(_ISA_MAX)
            buffer = buffer.lstrip(_BLANK)
        if not buffer:
            return
        if not buffer.startswith("ISA"):
            start = buffer[:40].split("\n")[0]
            missing = (f" (a {buffer[:2]} segment with no interchange envelope around it)"
                       if _BARE.match(buffer) else "")
            yield X12Error(number + 1, "", f"expected an ISA segment to start an interchange, "
                                           f"found {start!r}{missing}")
            return
        found = _delimiters(buffer[:_ISA_MAX])
        if isinstance(found, X12Error):
            found.segment = number + 1
            yield found
            return
        delimiters, _ = found
        sep, term = delimiters.element, delimiters.segment
        # split on the terminator, a chunk at a time; the last piece may be cut short
        while True:
            parts = buffer.split(term)
            buffer = parts.pop() if not eof else ""  # at the end, an unterminated last segment counts
            for index, raw in enumerate(parts):
                raw = raw.strip(_BLANK)
                if not raw:
                    continue
                number += 1
                if "\n" in raw and term not in "\r\n":
                    # the separators cannot be trusted: nothing after this can be split reliably
                    yield X12Error(number, "", f"a line break inside a segment ({raw[:30]!r}...): the ISA "
                                               f"declares {term!r} as the segment terminator, but this "
                                               "segment is not ended by one")
                    return
                segment = Segment(number, raw.split(sep), delimiters)
                yield segment
                if segment.id == "IEA":
                    # the next interchange may declare other separators: start over (at the
                    # end of the file the last piece is among the parts already: no buffer)
                    buffer = term.join(parts[index + 1:] + ([] if eof else [buffer]))
                    break
            else:
                if eof:
                    return
                if len(buffer) > _SEGMENT_MAX:
                    yield X12Error(number + 1, "", f"no segment terminator ({term!r}, declared by the ISA) "
                                                   f"in {_SEGMENT_MAX:,} characters")
                    return
                chunk = stream.read(_CHUNK)
                if not chunk:
                    eof = True
                buffer += chunk
                continue
            break


@dataclass
class Transaction:
    """One ST ... SE transaction set; ``body`` yields the segments between ST and SE.

    ``closed_by`` says how the body ended once it has been read: ``"SE"``, or the id of the
    segment that cut it short (``GE``, ``ST``, ``IEA``, ``ISA``), or ``""`` at the end of file.
    """

    set_id: str
    control_number: str
    implementation: str
    start: Segment
    body: Iterator[Segment] = field(repr=False, default=iter(()))
    closed_by: str | None = None


# Segments that end a transaction's body even without an SE.
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})


class _Pushback:
    """An iterator that can put back one item."""

    def __init__(self, items: Iterator):
        self.source = items
        self._back: list = []

    def __iter__(self):
        return self

    def __next__(self):
        return self._back.pop() if self._back else next(self.source)

    def push(self, item) -> None:
        self._back.append(item)


def iter_transactions(stream: TextIO) -> Iterator[Transaction | X12Error]:
    """The transactions in the stream, with envelope problems as :class:`X12Error` in between.

    Each :class:`Transaction`'s ``body`` must be read before the next item is asked for
    (whatever is left of it is skipped). Checked: GS before ST, SE01's segment count and
    SE02, GE01's transaction count and GE02, IEA01's group count and IEA02 against the
    ISA/GS/ST they close.
    """
    items = _Pushback(iter_segments(stream))
    isa: Segment | None = None
    gs: Segment | None = None
    groups = transactions = 0
    stray: Segment | None = None  # first segment of a run found outside any transaction

    for item in items:
        if isinstance(item, X12Error):
            yield item
            return
        sid = item.id
        if sid == "ISA":
            if isa is not None:
                yield item.error(None, f"ISA before the IEA that closes the interchange of segment {isa.number}")
            isa, gs, groups, stray = item, None, 0, None
        elif sid == "IEA":
            if gs is not None:
                yield item.error(None, f"IEA before the GE that closes the group of segment {gs.number}")
            if isa is None:
                yield item.error(None, "IEA without an ISA")
            else:
                yield from _check_close(item, groups, "functional groups", isa, 13)
            isa, gs, stray = None, None, None
        elif sid == "GS":
            if gs is not None:
                yield item.error(None, f"GS before the GE that closes the group of segment {gs.number}")
            gs, transactions, stray = item, 0, None
            groups += 1
        elif sid == "GE":
            if gs is None:
                yield item.error(None, "GE without a GS")
            else:
                yield from _check_close(item, transactions, "transaction sets", gs, 6)
            gs, stray = None, None
        elif sid == "ST":
            stray = None
            if gs is None:
                yield item.error(None, "ST outside a functional group (no GS before it)")
            transactions += 1
            implementation = item.get(3) or (gs.get(8) if gs is not None else "")
            transaction = Transaction(item.get(1), item.get(2), implementation, item)
            counter = [1]  # ST counts
            transaction.body = _body(items, transaction, counter)
            yield transaction
            for _ in transaction.body:  # the reader stopped early: skip the rest
                pass
            yield from _check_end(items, transaction, counter[0])
        elif sid == "SE":
            yield item.error(None, "SE without an ST")
        elif stray is None:
            stray = item
            problem = item.id_problem() or f"{sid} segment outside a transaction set (after SE, before ST)"
            yield item.error(None, problem)
    if gs is not None:
        yield X12Error(0, "", f"the file ends inside the functional group of segment {gs.number} (no GE)")
    if isa is not None:
        yield X12Error(0, "", f"the file ends inside the interchange of segment {isa.number} (no IEA)")


def _body(items: _Pushback, transaction: Transaction, counter: list[int]) -> Iterator[Segment]:
    # straight from the segment stream (the ST before it was taken, so nothing is pushed back)
    count = 0
    for item in items.source:
        if isinstance(item, X12Error) or item.id in _ENVELOPE:
            items.push(item)
            transaction.closed_by = item.id if isinstance(item, Segment) else ""
            break
        count += 1
        yield item
    else:
        transaction.closed_by = ""
    counter[0] += count


def _check_end(items: _Pushback, transaction: Transaction, count: int) -> Iterator[X12Error]:
    start = transaction.start
    if transaction.closed_by != "SE":
        if transaction.closed_by:
            where = next(items)
            items.push(where)
            yield X12Error(where.number, "", f"{transaction.closed_by} before the SE that closes "
                                              f"transaction {transaction.control_number} (segment {start.number})")
        else:
            yield X12Error(0, "", f"the file ends inside transaction {transaction.control_number} "
                                  f"(segment {start.number}): no SE")
        return
    se = next(items)
    count += 1
    if se.get(1) != str(count):
        yield _envelope(se.error(1, f"SE says the transaction has {se.get(1) or 'no'} segments; it has {count}"))
    if se.get(2) != transaction.control_number:
        yield _envelope(se.error(2, f"control number {se.get(2)!r} does not match ST-02 "
                                    f"{transaction.control_number!r}"))


def _check_close(segment: Segment, count: int, what: str, opener: Segment, control: int) -> Iterator[X12Error]:
    if segment.get(1) != str(count):
        yield _envelope(segment.error(1, f"{segment.id} says {segment.get(1) or 'no'} {what}; there are {count}"))
    if segment.get(2).lstrip("0") != opener.get(control).lstrip("0"):
        yield _envelope(segment.error(2, f"control number {segment.get(2)!r} does not match "
                                         f"{opener.where(control)} {opener.get(control)!r}"))


def _envelope(error: X12Error) -> X12Error:
    """A count or control number that does not match: the interchange would be rejected for
    it, and everything inside was still read."""
    error.envelope = True
    return error
