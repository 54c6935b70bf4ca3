"""Reading claims from JSON, JSON Lines, FHIR (fhir.py) and CSV (csv_claims.py): parse,
validate against the claim schema, build.

A claim file is read lazily, one claim at a time; every claim becomes either a
:class:`Claim` or a :class:`ClaimError` saying where it went wrong, so one bad claim
never stops a day's batch. Formats:

* ``.jsonl`` / ``.ndjson``: JSON Lines, one claim per line, blank lines skipped. Read line
  by line, so memory stays flat however long the file is.
* ``.json``: one claim object, a list of them, or ``{"claims": [...]}`` (read whole).
* anything else, and ``-`` (standard input): sniffed from the first non-blank line.
"""

from __future__ import annotations

import glob
import io
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .model import Claim

__all__ = [
    "CLAIM_SCHEMA",
    "ClaimError",
    "ClaimFile",
    "claim_from_data",
    "iter_claim_files",
    "read_claims",
    "read_claims_from_stream",
    "read_claims_from_text",
    "validate_claim",
]

CLAIM_SCHEMA: dict = json.loads(files(__package__).joinpath("claim.schema.json").read_text("utf-8"))
Draft202012Validator.check_schema(CLAIM_SCHEMA)
# Built once: compiling the schema costs far more than validating one claim. The format
# checker makes "format": "date" an assertion (in 2020-12 it is only an annotation).
_VALIDATOR = Draft202012Validator(CLAIM_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
# jsonschema-rs answers "is this claim valid?" some 200 times faster; the Python validator
# stays the authority on what is wrong with a claim that is not, so messages do not change.
try:
    import jsonschema_rs
    _is_valid = jsonschema_rs.validator_for(CLAIM_SCHEMA, validate_formats=True).is_valid
except ImportError:  # pragma: no cover - a platform without its wheel: slower, same answers
    _is_valid = _VALIDATOR.is_valid

CLAIM_FILE_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                       ".csv": "csv", ".tsv": "csv",
                       ".837": "x12", ".837p": "x12", ".837i": "x12", ".x12": "x12", ".edi": "x12"}


@dataclass(frozen=True)
class ClaimError:
    """Why one claim (or a whole file) could not be read.

    ``position`` is 1-based: the claim's index in a JSON list, or its line number in JSON
    Lines (``unit`` says which); 0 means the file as a whole. ``path`` is the JSON path of
    the offending value inside the claim, empty when there is none.
    """

    source: str
    position: int
    claim_id: str | None
    path: str
    message: str
    unit: str = "claim"

    def __str__(self) -> str:
        where = self.source
        if self.position:
            where += f": {self.unit} {self.position}"
            if self.claim_id:
                where += f" ({self.claim_id})"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def read_claims(path: str | Path) -> Iterator[Claim | ClaimError]:
    """Each claim in a file (``-`` for standard input), in order, as a Claim or a ClaimError."""
    return iter(ClaimFile(path))


class ClaimFile:
    """The claims of one file, read as they are iterated, and how far into the file reading
    has got (``bytes_read`` of ``size``), so a long run can show a progress bar. Standard
    input (``-``) has no size."""

    def __init__(self, path: str | Path):
        self.name = str(path)
        self._binary: io.BufferedReader | None = None
        self._finished = False

    @property
    def size(self) -> int | None:
        return None if self.name == "-" else Path(self.name).stat().st_size

    @property
    def bytes_read(self) -> int:
        if self._finished:
            return self.size or 0
        binary = self._binary
        return binary.tell() if binary is not None and not binary.closed else 0

    def __iter__(self) -> Iterator[Claim | ClaimError]:
        if self.name == "-":
            yield from read_claims_from_stream(sys.stdin, "<stdin>")
            return
        path = Path(self.name)
        fmt = CLAIM_FILE_SUFFIXES.get(path.suffix.lower())
        if fmt is None and _starts_like_x12(path):
            fmt = "x12"
        # One binary handle under every reader, so its position is the progress. utf-8-sig:
        # spreadsheet and Windows exports often start with a byte-order mark.
        with path.open("rb") as binary:
            self._binary = binary
            if fmt == "x12":  # X12 837P/837I, read in chunks by its own reader
                from .x12_837 import read_837
                yield from read_837(_text(binary, errors="replace", newline=""), str(path))
            elif fmt == "csv":  # newline="", as the csv module needs
                from .csv_claims import read_csv_claims
                yield from read_csv_claims(_text(binary, newline=""), str(path))
            else:
                stream = _text(binary)
                if fmt == "json" and _first_character(stream) == "[":
                    yield from _read_json_array(stream, str(path))
                else:
                    yield from read_claims_from_stream(stream, str(path), fmt)
        self._finished = True


def _text(binary: io.BufferedReader, errors: str = "strict", newline: str | None = None) -> TextIO:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors=errors, newline=newline)


def _first_character(stream: TextIO) -> str:
    """The first character that is not white space; the stream is left where it was."""
    start = stream.tell()
    while (char := stream.read(1)) and char.isspace():
        pass
    stream.seek(start)
    return char


_CHUNK = 1 << 16
_DECODER = json.JSONDecoder(parse_constant=lambda name: _no_constant(name))


def _read_json_array(stream: TextIO, source: str) -> Iterator[Claim | ClaimError]:
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


def _starts_like_x12(path: Path) -> bool:
    """An X12 interchange opens with its ISA segment, whatever the file is called."""
    with path.open("rb") as handle:
        return handle.read(3) == b"ISA"


def read_claims_from_text(
    text: str, source: str = "<input>", fmt: str | None = None
) -> Iterator[Claim | ClaimError]:
    """Claims from a string; ``fmt`` is ``"json"``, ``"jsonl"`` or None to sniff."""
    return read_claims_from_stream(io.StringIO(text), source, fmt)


def read_claims_from_stream(
    stream: TextIO | Iterable[str], source: str = "<input>", fmt: str | None = None
) -> Iterator[Claim | ClaimError]:
    """Claims from an open text stream; ``fmt`` is ``"json"``, ``"jsonl"`` or None to sniff."""
    lines: Iterable[str] = stream
    if fmt is None:
        fmt, lines = _sniff(stream)
    if fmt == "x12":
        from .x12_837 import read_837  # (imports this module: imported late)
        yield from read_837("".join(lines), source)
    elif fmt == "csv":
        from .csv_claims import read_csv_claims  # (imports this module: imported late)
        yield from read_csv_claims(lines, source)
    elif fmt == "jsonl":
        yield from _read_json_lines(lines, source)
    else:
        yield from _read_json("".join(lines), source)


def _sniff(stream: Iterable[str]) -> tuple[str, Iterable[str]]:
    """JSON Lines when the first non-blank line is a whole JSON object on its own, else JSON.

    Only the lines up to that one are buffered, so standard input still streams.
    """
    lines = iter(stream)
    seen = []
    for line in lines:
        seen.append(line)
        if line.strip():
            if line.lstrip().startswith("ISA"):
                return "x12", itertools.chain(seen, lines)
            if not line.lstrip().startswith(("{", "[")):
                return "csv", itertools.chain(seen, lines)  # a header row, not JSON
            try:
                fmt = "jsonl" if isinstance(json.loads(line), dict) else "json"
            except ValueError:
                fmt = "json"  # e.g. the "{" or "[" of a pretty-printed document
            return fmt, itertools.chain(seen, lines)
    return "jsonl", seen  # nothing but blank lines: no claims


def _read_json_lines(lines: Iterable[str], source: str) -> Iterator[Claim | ClaimError]:
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
            from .fhir import claims_from_fhir
            yield from claims_from_fhir(data, source, number, "line")
            continue
        yield claim_from_data(data, source, number, "line")


def _read_json(text: str, source: str) -> Iterator[Claim | ClaimError]:
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            # one object after another: a JSON Lines export saved as .json
            yield from _read_json_lines(io.StringIO(text), source)
        else:
            message = f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            yield ClaimError(source, 0, None, "", message)
        return
    except ValueError as exc:
        yield ClaimError(source, 0, None, "", f"not valid JSON: {exc}")
        return
    if isinstance(data, dict) and "resourceType" in data:  # a FHIR Claim or Bundle
        from .fhir import claims_from_fhir
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


def claim_from_data(
    data: Any, source: str = "<input>", position: int = 1, unit: str = "claim"
) -> Claim | ClaimError:
    """One claim's parsed JSON, validated and built; the first problem found when it is not valid.

    Other readers (837, CSV) can call this on the dict they build, to share the checks.
    """
    problems = validate_claim(data)
    if problems:
        path, message = problems[0]
        claim_id = data.get("claim_id") if isinstance(data, dict) else None
        if not isinstance(claim_id, str):
            claim_id = None
        return ClaimError(source, position, claim_id, path, message, unit)
    return Claim.from_dict(data)


def validate_claim(data: Any) -> list[tuple[str, str]]:
    """The problems with a claim as (JSON path, message) pairs; empty when it is valid.

    Schema problems come first and alone (the most relevant one, by ``best_match``), since
    the semantic checks rely on the shapes the schema guarantees.
    """
    if not _is_valid(data):
        error = best_match(_VALIDATOR.iter_errors(data))
        if error is not None:
            return [_describe(error)]
    return list(_semantic_problems(data))


def _describe(error: ValidationError) -> tuple[str, str]:
    """The JSON path and a plain-words message for a schema error."""
    path, instance = error.json_path, error.instance
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in instance)
        return f"{path}.{missing}", "required field is missing"
    if error.validator in ("pattern", "format") and "title" in error.schema:
        message = f"{instance!r} is not a valid {error.schema['title']}"
        if error.validator == "pattern" and error.schema.get("examples"):
            message += f" (for example {error.schema['examples'][0]})"
        return path, message
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return path, f"expected {wanted}, got {_show(instance)}"
    return path, error.message


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _semantic_problems(data: dict) -> Iterator[tuple[str, str]]:
    """What the schema cannot say: pointers in range, spans in order, line numbers unique."""
    count = len(data.get("diagnoses") or ())
    has = {0: "no diagnoses", 1: "1 diagnosis"}.get(count, f"{count} diagnoses")
    first_use: dict[int, int] = {}
    for i, line in enumerate(data["lines"]):
        where = f"$.lines[{i}]"
        number = line["line_number"]
        if number in first_use:
            earlier = f"$.lines[{first_use[number]}]"
            yield f"{where}.line_number", f"line number {number} is also used by {earlier}"
        first_use.setdefault(number, i)
        for j, pointer in enumerate(line.get("diagnosis_pointers") or ()):
            if pointer > count:
                yield f"{where}.diagnosis_pointers[{j}]", f"pointer {pointer} but the claim has {has}"
        start, end = line["service_date"], line.get("service_date_to")
        # ISO dates already checked by the schema, so comparing the strings compares the dates
        if end and end < start:
            yield f"{where}.service_date_to", f"{end!r} is before the service date {start!r}"


def iter_claim_files(paths: Iterable[str | Path]) -> list[Path]:
    """The claim files named: files as given, folders expanded to their *.json, *.jsonl,
    *.ndjson, *.csv, *.tsv and X12 (*.837, *.837p, *.837i, *.x12, *.edi) files (sorted, not
    recursive); glob patterns the shell did not expand (``'claims/2026-07-*.jsonl'``) are
    expanded here; ``-`` stays for standard input.

    Raises FileNotFoundError for a path that does not exist, before any claim is read.
    """
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if str(name) == "-" or path.is_file():
            found.append(path)
        elif glob.has_magic(str(name)):
            matches = sorted(Path(m) for m in glob.glob(str(name)) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{name}: no file matches")
            found.extend(matches)
        elif path.is_dir():
            claim_files = (p for p in path.iterdir() if p.suffix.lower() in CLAIM_FILE_SUFFIXES)
            found.extend(sorted(p for p in claim_files if p.is_file()))
        else:
            raise FileNotFoundError(f"{name}: no such file or folder")
    return list(dict.fromkeys(found))  # a file named twice is read once
