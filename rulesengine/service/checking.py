"""Checking the claims of one request: read by Content-Type, checked with the packs the
request started with, answered in the CLI's JSON, within the server's limits.

One claim (a JSON claim, or a FHIR Claim) is answered with its result; anything else is a
batch, answered as the CLI's JSON document (``check --format json``) or, when it came as
JSON Lines or asks for ``application/x-ndjson``, as its JSON Lines, written as claims are
checked. JSON Lines are also read as they arrive (``LineSplitter``); other batches are
read whole first (within the body limit), then checked and answered a piece at a time. A
claim that cannot be read is reported in its place and the rest are checked. A limit hit
before the answer has begun is a problem response (422, 504); one hit after ends the
answer with a ``problem`` member (JSON) or line (JSON Lines), so a reader never takes a
cut answer for a whole one.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rulesengine.claims import ClaimError, read_claims_from_binary
from rulesengine.claims.json import read_json_lines
from rulesengine.engine.history import snapshot
from rulesengine.reports import JsonLinesWriter, JsonWriter, Summary

from . import decisions, metrics
from .problems import limit, problem
from .served import Served

#: Content-Type (without parameters) -> the reader's format
FORMATS = {
    "application/json": "json", "application/fhir+json": "json",
    "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
    "application/json-lines": "jsonl", "application/x-jsonlines": "jsonl",
    "application/edi-x12": "x12", "application/x12": "x12", "text/x12": "x12",
    "text/csv": "csv",
}
JSONL_TYPE = "application/x-ndjson"
#: claims checked between two writes of the answer (and two looks at the clock)
CHUNK = 64


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 50 << 20
    claims: int = 10_000
    lines: int = 999  # an 837I claim may have 999 service lines; an 837P 50
    seconds: float = 30.0


class LimitHit(Exception):
    def __init__(self, kind: str, status: int, detail: str, name: str, value):
        self.body = problem(kind, status, detail, **limit(name, value))
        super().__init__(detail)


def is_single(body: bytes, fmt: str) -> bool:
    """One JSON object holding one claim (not ``{"claims": ...}``, not a FHIR Bundle)."""
    if fmt != "json":
        return False
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    head = text[:4096]
    return b'"claims"' not in head and b'"Bundle"' not in head


def read(body: bytes, fmt: str, source: str) -> Iterator:
    return read_claims_from_binary(io.BytesIO(body), source, fmt)


def outcome(item, served: Served, history, limits: Limits, source: str, position: int):
    """A Result or ClaimError for one claim read: refused over the lines limit, else checked
    by the pack of its payer."""
    if isinstance(item, ClaimError):
        return item
    if len(item.lines) > limits.lines:
        return ClaimError(source, position, item.claim_id, "$.lines",
                          f"{len(item.lines)} lines; this server takes at most {limits.lines} "
                          f"lines a claim (limit max_lines_per_claim)")
    return served.packs.check(item, history, source, position)


def check_one(item, served: Served, history, limits: Limits, source: str):
    """A Result or ClaimError for the one claim of a request."""
    with snapshot(history):
        return outcome(item, served, history, limits, source, 1)


class Batch:
    """The answer to a batch, a piece of claims at a time: ``answer(items)`` checks a piece
    and gives its text, ``close()`` the end; ``cut(hit)`` ends an answer a limit stopped."""

    def __init__(self, served: Served, history, limits: Limits, jsonl: bool, source: str,
                 request_id: str, started: float, decision_log=None):
        self.served, self.history, self.limits = served, history, limits
        self.source, self.request_id, self.started = source, request_id, started
        self.decision_log = decision_log
        self.out = io.StringIO()
        infos = [p.info for p in served.packs.packs]
        self.writer = (JsonLinesWriter if jsonl else JsonWriter)(self.out, infos)
        self.jsonl = jsonl
        self.summary = Summary()
        self.count = 0

    def _take(self) -> str:
        text = self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        return text

    def answer(self, items: list) -> str:
        """The text for a piece of claims read; LimitHit past the claims or time limit."""
        entries = []
        try:
            with snapshot(self.history):
                for item in items:
                    self.count += 1
                    if self.count > self.limits.claims:
                        raise LimitHit("too-many-claims", 422, f"more than {self.limits.claims} "
                                       f"claims in one request; send them in several",
                                       "max_claims", self.limits.claims)
                    answer = outcome(item, self.served, self.history, self.limits, self.source,
                                     self.count)
                    if isinstance(answer, ClaimError):
                        self.summary.add_error(answer)
                        self.writer.error(answer)
                        metrics.count_error(answer)
                    else:
                        self.summary.add(answer)
                        self.writer.result(answer)
                        metrics.count_result(answer)
                    entries.append(decisions.record(self.request_id, answer))
        finally:
            if self.decision_log is not None:
                self.decision_log.send(entries)
        if time.monotonic() - self.started > self.limits.seconds:
            raise LimitHit("timeout", 504, f"not finished in {self.limits.seconds:g} s; "
                           f"{self.count} claims were checked", "max_request_seconds",
                           self.limits.seconds)
        return self._take()

    def close(self) -> str:
        self.writer.close(self.summary)
        return self._take()

    def cut(self, hit: LimitHit) -> str:
        """The end of an answer a limit stopped: the problem in place of what was not answered."""
        body = {**hit.body, "claims_answered": self.summary.claims + self.summary.errors}
        if self.jsonl:
            return self._take() + json.dumps({"problem": body}) + "\n"
        return self._take() + "\n ],\n \"problem\": " + json.dumps(body) + "}\n"


def pieces(items: Iterator, size: int = CHUNK) -> Iterator[list]:
    """Claims read, ``size`` at a time."""
    while piece := list(itertools.islice(items, size)):
        yield piece


class LineSplitter:
    """JSON Lines as the body arrives: each chunk of bytes gives the claims of the lines it
    completes (numbered as in the whole body), so a long batch is checked as it comes."""

    def __init__(self, source: str):
        self.source, self._left, self._next = source, b"", 1

    def feed(self, data: bytes, final: bool = False) -> list:
        data = self._left + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self._left = data[cut:]
        if not cut:
            return []
        text = data[:cut].decode("utf-8", errors="replace")
        if self._next == 1:
            text = text.removeprefix("\ufeff")
        lines = text.splitlines(keepends=True)
        items = list(read_json_lines(lines, self.source, self._next))
        self._next += len(lines)
        return items
