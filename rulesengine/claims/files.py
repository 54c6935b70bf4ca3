"""Claim files and folders: which reader a file goes to, and how far reading has got.

JSON and JSON Lines (``json``), FHIR (``fhir``), CSV (``csv``) and X12 837 (``x12``) are
told apart by extension and, for anything else, by content.

A claim file is read lazily, one claim at a time; every claim becomes either a
:class:`Claim` or a :class:`ClaimError` saying where it went wrong, so one bad claim
never stops a day's batch. Formats:

* ``.jsonl`` / ``.ndjson``: JSON Lines, one claim per line, blank lines skipped. Read line
  by line, so memory stays flat however long the file is.
* ``.json``: one claim object, a list of them (decoded a claim at a time), or
  ``{"claims": [...]}``.
* anything else, and ``-`` (standard input): sniffed from the first non-blank line.
"""

from __future__ import annotations

import glob
import io
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .build import ClaimError
from .csv import read_csv_claims
from .json import read_json, read_json_array, read_json_lines
from .model import Claim
from .x12.reader import read_837

CLAIM_FILE_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                       ".csv": "csv", ".tsv": "csv",
                       ".837": "x12", ".837p": "x12", ".837i": "x12", ".x12": "x12", ".edi": "x12"}


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
                yield from read_837(_text(binary, errors="replace", newline=""), str(path))
            elif fmt == "csv":  # newline="", as the csv module needs
                yield from read_csv_claims(_text(binary, newline=""), str(path))
            else:
                stream = _text(binary)
                if fmt == "json" and _first_character(stream) == "[":
                    yield from read_json_array(stream, str(path))
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
        yield from read_837("".join(lines), source)
    elif fmt == "csv":
        yield from read_csv_claims(lines, source)
    elif fmt == "jsonl":
        yield from read_json_lines(lines, source)
    else:
        yield from read_json("".join(lines), source)


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
