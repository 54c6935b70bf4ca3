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
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .build import ClaimError
from .csv import read_csv_claims
from .json import read_json_lines, read_json_stream
from .model import Claim
from .x12.envelope import looks_like_x12
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
    input (``-``) and pipes have no size.

    Reading has a boundary: a file that cannot be opened, and anything unexpected while one
    is read (a bug), become a ClaimError at the position reached, never the end of the run;
    ``claims_read`` counts what the file gave."""

    def __init__(self, path: str | Path, icd9: str = "by-date"):
        self.name = str(path)
        self.icd9 = icd9  # what the 837 reader does with ICD-9-CM claims (read_837)
        self._binary: io.BufferedReader | None = None
        self._finished = False
        self.claims_read = 0

    @property
    def size(self) -> int | None:
        if self.name == "-":
            return None
        try:
            status = Path(self.name).stat()
        except OSError:
            return None
        return status.st_size if stat.S_ISREG(status.st_mode) else None

    @property
    def bytes_read(self) -> int:
        if self._finished:
            return self.size or 0
        binary = self._binary
        try:
            return binary.tell() if binary is not None and not binary.closed else 0
        except OSError:  # a pipe has no position
            return 0

    def __iter__(self) -> Iterator[Claim | ClaimError]:
        try:
            for item in self._read():
                self.claims_read += 1
                yield item
        except OSError as error:
            yield self._unreadable(error)
        except Exception as error:  # a reader's bug: this file stops here, the run goes on
            yield ClaimError(self.name, self.claims_read + 1, None, "",
                             f"internal error while reading (the file's claims after this one "
                             f"were not read): {type(error).__name__}: {error}", kind="internal")
        self._finished = True

    def _unreadable(self, error: OSError) -> ClaimError:
        return ClaimError(self.name, 0, None, "", f"cannot read the file: {error.strerror or error}")

    def pieces(self, size: int) -> Iterator[tuple[str, int, list]]:
        """The file in pieces for worker processes: ("lines", first line number, lines) of a
        JSON Lines file, for the worker to decode (most of reading's cost goes with them);
        ("claims", 0, claims and errors) read here from any other file."""
        if self.name == "-" or CLAIM_FILE_SUFFIXES.get(Path(self.name).suffix.lower()) != "jsonl":
            items = iter(self)
            while piece := list(itertools.islice(items, size)):
                yield "claims", 0, piece
            return
        try:
            with Path(self.name).open("rb") as binary:
                self._binary = binary
                lines, first = _text(binary), 1
                while piece := list(itertools.islice(lines, size)):
                    self.claims_read += sum(1 for line in piece if line.strip())
                    yield "lines", first, piece
                    first += len(piece)
        except OSError as error:
            yield "claims", 0, [self._unreadable(error)]
        self._finished = True

    def _read(self) -> Iterator[Claim | ClaimError]:
        if self.name == "-":  # standard input is always data, read as bytes like a file
            yield from self._from_binary(sys.stdin.buffer, "<stdin>", None)
            return
        path = Path(self.name)
        with path.open("rb") as binary:
            yield from self._from_binary(binary, str(path), CLAIM_FILE_SUFFIXES.get(path.suffix.lower()))

    def _from_binary(self, binary, source: str, fmt: str | None) -> Iterator[Claim | ClaimError]:
        self._binary = binary  # its position is the progress
        return read_claims_from_binary(binary, source, fmt, icd9=self.icd9)


def read_claims_from_binary(binary, source: str = "<input>", fmt: str | None = None,
                            icd9: str = "by-date") -> Iterator[Claim | ClaimError]:
    """Claims from an open binary handle (a file, standard input, a request's body);
    ``fmt`` is ``"x12"``, ``"csv"``, ``"json"``, ``"jsonl"`` or None to tell by content.
    Peeked, never re-opened, so a pipe is read once. utf-8-sig: spreadsheet and Windows
    exports often start with a byte-order mark; bytes that are not UTF-8 become U+FFFD,
    which the claim holding them is refused for. ``icd9``: as ``read_837`` takes it."""
    if fmt is None and looks_like_x12(_peek(binary).decode("utf-8", "replace")):
        fmt = "x12"
    if fmt == "x12":  # X12 837P/837I, read in chunks by its own reader
        yield from read_837(_text(binary, newline=""), source, icd9=icd9)
    elif fmt == "csv":  # newline="", as the csv module needs
        yield from read_csv_claims(_text(binary, newline=""), source)
    elif fmt == "json":
        yield from read_json_stream(_text(binary), source)
    else:
        yield from read_claims_from_stream(_text(binary), source, fmt, icd9)


def _peek(binary) -> bytes:
    peek = getattr(binary, "peek", None)
    return peek(64)[:64] if peek is not None else b""


def _text(binary, newline: str | None = None) -> TextIO:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline=newline)


def read_claims_from_text(
    text: str, source: str = "<input>", fmt: str | None = None
) -> Iterator[Claim | ClaimError]:
    """Claims from a string; ``fmt`` is ``"json"``, ``"jsonl"`` or None to sniff."""
    return read_claims_from_stream(io.StringIO(text), source, fmt)


def read_claims_from_stream(
    stream: TextIO | Iterable[str], source: str = "<input>", fmt: str | None = None,
    icd9: str = "by-date",
) -> Iterator[Claim | ClaimError]:
    """Claims from an open text stream; ``fmt`` is ``"json"``, ``"jsonl"`` or None to sniff.
    Every format streams: nothing reads the whole input at once."""
    lines: Iterable[str] = stream
    if fmt is None:
        fmt, lines = _sniff(stream)
    if fmt == "x12":
        yield from read_837(_LineStream(lines), source, icd9=icd9)
    elif fmt == "csv":
        yield from read_csv_claims(lines, source)
    elif fmt == "jsonl":
        yield from read_json_lines(lines, source)
    else:
        yield from read_json_stream(_LineStream(lines), source)


class _LineStream:
    """Lines (from a sniffed stream) read back as a stream, a chunk at a time."""

    def __init__(self, lines: Iterable[str]):
        self._lines, self._left = iter(lines), ""

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._left) < size:
            line = next(self._lines, None)
            if line is None:
                break
            self._left += line
        if size < 0:
            size = len(self._left)
        chunk, self._left = self._left[:size], self._left[size:]
        return chunk


def _sniff(stream: Iterable[str]) -> tuple[str, Iterable[str]]:
    """JSON Lines when the first non-blank line is a whole JSON object on its own, else JSON.

    Only the lines up to that one are buffered, so standard input still streams.
    """
    lines = iter(stream)
    seen = []
    for line in lines:
        seen.append(line)
        if line.strip():
            if looks_like_x12(line):
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
        if str(name) == "-" or path.is_file() or (path.exists() and not path.is_dir()):
            found.append(path)  # a named pipe or a device is read as a stream
        elif glob.has_magic(str(name)):
            matches = sorted(Path(m) for m in glob.glob(str(name)) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{name}: no file matches")
            found.extend(matches)
        elif path.is_dir():
            claim_files = sorted(p for p in path.iterdir()
                                 if p.suffix.lower() in CLAIM_FILE_SUFFIXES and p.is_file())
            if not claim_files:
                raise FileNotFoundError(f"{name}: the folder holds no claim files "
                                        f"({', '.join('*' + s for s in CLAIM_FILE_SUFFIXES)})")
            found.extend(claim_files)
        else:
            raise FileNotFoundError(f"{name}: no such file or folder")
    return list(dict.fromkeys(found))  # a file named twice is read once
