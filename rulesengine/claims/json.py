"""Claims in JSON: one claim object, a list of them, ``{"claims": [...]}``, or JSON Lines.

A JSON list is decoded a claim at a time (``read_json_array``), JSON Lines a line at a
time, so memory holds one claim and a read-ahead chunk however long the day's file is.
A FHIR resource met on the way (a Claim, a Bundle, a bulk-export line) goes to ``fhir``.
NaN and Infinity are refused: a charge of NaN would pass a schema's ``minimum``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .build import ClaimError, claim_from_data
from .fhir import claims_from_fhir
from .model import Claim

_CHUNK = 1 << 16
_DECODER = json.JSONDecoder(parse_constant=lambda name: _no_constant(name))


def read_json_array(stream: TextIO, source: str) -> Iterator[Claim | ClaimError]:
    """The claims of a file holding one JSON list, decoded one at a time, so memory holds a
    claim and a read-ahead chunk, not the whole day's file. A syntax error ends the reading
    there (nothing after it can be trusted); the claims before it have been checked."""
    reader = _Chunks(stream, source)
    reader.at = reader.buffer.index("[") + 1
    index = 0
    while True:
        while True:  # skip white space and the commas between items, reading more as needed
            buffer = reader.buffer
            while reader.at < len(buffer) and (buffer[reader.at].isspace()
                                               or (buffer[reader.at] == "," and index)):
                reader.at += 1
            if reader.at < len(buffer):
                break
            if not reader.more():
                yield reader.error("the file ends inside the list", reader.at)
                return
        if reader.buffer[reader.at] == "]":
            return
        while True:  # decode one item, reading more until it is whole
            try:
                data, end = _DECODER.raw_decode(reader.buffer, reader.at)
                break
            except json.JSONDecodeError as exc:
                if not reader.more():
                    yield reader.error(exc.msg, exc.pos)
                    return
            except ValueError as exc:
                yield ClaimError(source, index + 1, None, "", f"not valid JSON: {exc}")
                return
        index += 1
        yield claim_from_data(data, source, index)
        reader.drop(end)


class _Chunks:
    """A text stream read a chunk at a time, remembering how many lines have gone by, so an
    error still says its line and column in the file."""

    def __init__(self, stream: TextIO, source: str):
        self.stream, self.source = stream, source
        self.buffer, self.at = stream.read(_CHUNK), 0
        self.lines_done, self.column_done = 0, 0  # what was dropped: whole lines, then a partial one

    def more(self) -> bool:
        more = self.stream.read(_CHUNK)
        if more:
            self.drop(self.at)
            self.buffer += more
        return bool(more)

    def drop(self, upto: int) -> None:
        gone = self.buffer[:upto]
        newlines = gone.count("\n")
        self.lines_done += newlines
        self.column_done = len(gone) - gone.rfind("\n") - 1 if newlines else self.column_done + len(gone)
        self.buffer, self.at = self.buffer[upto:], 0

    def error(self, message: str, offset: int) -> ClaimError:
        before = self.buffer[:offset]
        line = self.lines_done + before.count("\n") + 1
        column = offset - before.rfind("\n") if "\n" in before else self.column_done + offset + 1
        return ClaimError(self.source, 0, None, "",
                          f"not valid JSON at line {line}, column {column}: {message}")


def read_json_lines(lines: Iterable[str], source: str) -> Iterator[Claim | ClaimError]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            # without its newline, so an unfinished line is reported at its end, not on "line 2"
            data = _loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            message = f"not valid JSON at column {exc.colno}: {exc.msg}"
            yield ClaimError(source, number, None, "", message, "line")
            continue
        except ValueError as exc:
            yield ClaimError(source, number, None, "", f"not valid JSON: {exc}", "line")
            continue
        if isinstance(data, dict) and "resourceType" in data:  # FHIR NDJSON (bulk export)
            yield from claims_from_fhir(data, source, number, "line")
            continue
        yield claim_from_data(data, source, number, "line")


def read_json(text: str, source: str) -> Iterator[Claim | ClaimError]:
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            # one object after another: a JSON Lines export saved as .json
            yield from read_json_lines(io.StringIO(text), source)
        else:
            message = f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            yield ClaimError(source, 0, None, "", message)
        return
    except ValueError as exc:
        yield ClaimError(source, 0, None, "", f"not valid JSON: {exc}")
        return
    if isinstance(data, dict) and "resourceType" in data:  # a FHIR Claim or Bundle
        yield from claims_from_fhir(data, source)
        return
    if isinstance(data, dict) and "claims" in data and "claim_id" not in data:
        data = data["claims"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        message = 'expected a claim object, a list of claims or {"claims": [...]}'
        yield ClaimError(source, 0, None, "", message)
        return
    for index, item in enumerate(data, 1):
        yield claim_from_data(item, source, index)


def _no_constant(name: str) -> Any:
    # json accepts NaN and Infinity by default; a charge of NaN would pass "minimum": 0
    raise ValueError(f"{name} is not allowed")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant)
