"""Claims in JSON: one claim object, a list of them, ``{"claims": [...]}``, or JSON Lines.

A JSON document is read a chunk at a time and decoded a claim at a time, a list's items
and the ``claims`` list of a wrapper object alike, JSON Lines a line at a time: memory holds
one claim and a read-ahead chunk however long the day's file is. A FHIR resource met on
the way (a Claim, a Bundle, a bulk-export line) goes to ``fhir``.

Hostile input is reported per claim where the claim can still be told apart: an item
nested too deep for the decoder is skipped by counting its brackets, and NaN, Infinity
and 1e999 are read as numbers that the claim's checks then refuse at their path. A syntax
error in a document ends its reading there (nothing after it can be trusted); content after
the document's end is an error, not ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import orjson

from .build import ClaimError, claim_from_data
from .fhir import claims_from_fhir
from .model import Claim

_CHUNK = 1 << 16
# NaN and Infinity become floats that the claim's checks refuse at their JSON path (a
# decoder that raised would lose the rest of a list); 1e999 becomes infinity the same way
_DECODER = json.JSONDecoder(parse_constant=float)
_WHITE = " \t\r\n"
_NOT_A_CLAIM = 'expected a claim object, a list of claims or {"claims": [...]}'


def read_json_stream(stream: TextIO, source: str) -> Iterator[Claim | ClaimError]:
    """The claims of one JSON document (or of objects written one after another)."""
    reader = _Chunks(stream, source)
    if not reader.skip_white():
        yield ClaimError(source, 0, None, "", "the file is empty: " + _NOT_A_CLAIM)
        return
    first = reader.buffer[reader.at]
    if first == "[":
        reader.at += 1
        yield from _items(reader)
        if reader.broken:
            return
    elif first == "{":
        yield from _objects(reader)
        return
    else:
        data = reader.value(0)
        yield data if isinstance(data, ClaimError) else ClaimError(source, 0, None, "", _NOT_A_CLAIM)
        if reader.broken:
            return
    if reader.skip_white():
        yield reader.error("content after the end of the list", reader.at, 0)


_NOT_DECODED = object()


def read_json_lines(lines: Iterable[str], source: str, first: int = 1) -> Iterator[Claim | ClaimError]:
    """A claim (or a FHIR resource) a line; ``first``: the number of the first line given."""
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)  # valid lines, the common case, decoded twice as fast
        except orjson.JSONDecodeError:
            data = _NOT_DECODED
        try:
            # the json module words what is wrong, and takes what it alone reads (NaN, 1e999,
            # lone surrogates: refused later with the claim's position); without its newline,
            # so an unfinished line is reported at its end, not on "line 2"
            if data is _NOT_DECODED:
                data = _DECODER.decode(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            message = f"not valid JSON at column {exc.colno}: {exc.msg}"
            yield ClaimError(source, number, None, "", message, "line")
            continue
        except RecursionError:
            yield ClaimError(source, number, None, "", "nested too deep to be a claim", "line")
            continue
        if isinstance(data, dict) and "resourceType" in data:  # FHIR NDJSON (bulk export)
            yield from claims_from_fhir(data, source, number, "line")
            continue
        yield claim_from_data(data, source, number, "line")


def _items(reader: _Chunks, first: int = 1) -> Iterator[Claim | ClaimError]:
    """The items of a list whose ``[`` has been read, decoded one at a time."""
    index = first - 1
    while True:
        if not reader.skip_white():
            yield reader.error("the file ends inside the list", reader.at, index + 1)
            return
        char = reader.buffer[reader.at]
        if char == "]":
            reader.at += 1
            return
        if index >= first and char == ",":
            reader.at += 1
            if not reader.skip_white():
                yield reader.error("the file ends inside the list", reader.at, index + 1)
                return
        elif index >= first:
            yield reader.error("expected ',' or ']' between the list's items", reader.at, index + 1)
            return
        index += 1
        data = reader.value(index)
        if isinstance(data, ClaimError):
            yield data
            if reader.broken:
                return
            continue
        yield claim_from_data(data, reader.source, index)


def _objects(reader: _Chunks) -> Iterator[Claim | ClaimError]:
    """A top-level object: the wrapper ``{"claims": [...]}`` (its list read item by item),
    a FHIR resource, or a claim; then any objects written after it, each a claim (JSON
    Lines saved as .json)."""
    count = 0
    while True:
        fields: dict[str, Any] = {}
        streamed = False
        reader.at += 1  # the "{"
        while True:
            if not reader.skip_white():
                yield reader.error("the file ends inside the object", reader.at, 0)
                return
            if reader.buffer[reader.at] == "}":
                reader.at += 1
                break
            if fields or streamed:
                if reader.buffer[reader.at] != ",":
                    yield reader.error("expected ',' or '}' in the object", reader.at, 0)
                    return
                reader.at += 1
                reader.skip_white()
            key = reader.value(0)
            if isinstance(key, ClaimError) or not isinstance(key, str):
                yield key if isinstance(key, ClaimError) else reader.error(
                    "expected a name in double quotes", reader.at, 0)
                return
            if not reader.skip_white() or reader.buffer[reader.at] != ":":
                yield reader.error("expected ':' after the name", reader.at, 0)
                return
            reader.at += 1
            reader.skip_white()
            if key == "claims" and not fields.keys() & {"claim_id", "resourceType"} \
                    and reader.buffer[reader.at:reader.at + 1] == "[":
                reader.at += 1
                streamed = True
                for item in _items(reader, count + 1):
                    count += 1
                    yield item
                if reader.broken:
                    return
                continue
            value = reader.value(0)
            if isinstance(value, ClaimError):
                yield value
                return
            fields[key] = value
        if streamed:
            if "claim_id" in fields:
                yield ClaimError(reader.source, 0, None, "",
                                 'an object with both "claims" and "claim_id": one or the other')
        elif "resourceType" in fields:  # a FHIR Claim or Bundle
            yield from claims_from_fhir(fields, reader.source)
            return
        else:
            count += 1
            yield claim_from_data(fields, reader.source, count)
        if not reader.skip_white():
            return
        if reader.buffer[reader.at] != "{":
            yield reader.error("content after the end of the object", reader.at, 0)
            return


class _Chunks:
    """A text stream read a chunk at a time, remembering how many lines have gone by, so an
    error still says its line and column in the file."""

    def __init__(self, stream: TextIO, source: str):
        self.stream, self.source = stream, source
        self.buffer, self.at = stream.read(_CHUNK), 0
        self.lines_done, self.column_done = 0, 0  # what was dropped: whole lines, then a partial one
        self.broken = False  # a syntax error was met: nothing after it can be trusted

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

    def skip_white(self) -> bool:
        """Past white space, reading more as needed; False at the end of the stream."""
        while True:
            buffer, at = self.buffer, self.at
            while at < len(buffer) and buffer[at] in _WHITE:
                at += 1
            self.at = at
            if at < len(buffer):
                return True
            if not self.more():
                return False

    def value(self, position: int) -> Any:
        """The JSON value at the reading point, decoded whole (reading more until it is),
        or a ClaimError: a syntax error (``not valid JSON ...``, nothing after it can be
        trusted), or a value nested too deep, skipped so the next can be read."""
        while True:
            try:
                data, end = _DECODER.raw_decode(self.buffer, self.at)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                return self.error(exc.msg, exc.pos, position)
            except RecursionError:
                start = self.at
                if not self._skip_nested():
                    return self.error("the file ends inside a value nested too deep", start, position)
                return ClaimError(self.source, position, None, "", "nested too deep to be a claim")
            self.drop(end)
            return data

    def _skip_nested(self) -> bool:
        """Past the value at the reading point by counting its brackets (strings minded)."""
        depth, in_string, escaped = 0, False, False
        while True:
            buffer = self.buffer
            for i in range(self.at, len(buffer)):
                char = buffer[i]
                if in_string:
                    if escaped:
                        escaped = False
                    elif char == "\\":
                        escaped = True
                    elif char == '"':
                        in_string = False
                elif char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                elif char in "]}":
                    depth -= 1
                    if depth == 0:
                        self.drop(i + 1)
                        return True
            self.at = len(buffer)
            if not self.more():
                return False

    def error(self, message: str, offset: int, position: int) -> ClaimError:
        """A syntax error at ``offset`` of the buffer: the reading stops there."""
        self.broken = True
        before = self.buffer[:offset]
        line = self.lines_done + before.count("\n") + 1
        column = offset - before.rfind("\n") if "\n" in before else self.column_done + offset + 1
        return ClaimError(self.source, position, None, "",
                          f"not valid JSON at line {line}, column {column}: {message}")
