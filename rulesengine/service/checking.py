"""Checking the claims of one request: read by Content-Type, checked with the packs the
request started with, answered in the CLI's JSON, within the server's limits.

One claim (a JSON claim, or a FHIR Claim) is answered with its result; anything else is a
batch, answered as the CLI's JSON document (``check --format json``) or, when the request
asks for ``application/x-ndjson``, as its JSON Lines, written as claims are checked. A
claim that cannot be read is reported in its place and the rest are checked. A limit hit
before the answer has begun is a problem response (422, 504); one hit after ends the
answer with a ``problem`` member (JSON) or line (JSON Lines), so a reader never takes a
cut answer for a whole one.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rulesengine.claims import ClaimError, read_claims_from_stream
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
    newline = "" if fmt in ("x12", "csv") else None
    stream = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", errors="replace",
                              newline=newline)
    return read_claims_from_stream(stream, source, fmt)


def check_one(item, served: Served, history, limits: Limits, source: str):
    """A Result or ClaimError for one claim read."""
    if isinstance(item, ClaimError):
        return item
    if len(item.lines) > limits.lines:
        return too_many_lines(item, limits, source, 1)
    with snapshot(history):
        return served.packs.check(item, history, source, 1)


def too_many_lines(claim, limits: Limits, source: str, position: int) -> ClaimError:
    return ClaimError(source, position, claim.claim_id, "$.lines",
                      f"{len(claim.lines)} lines; this server takes at most {limits.lines} "
                      f"lines a claim (limit max_lines_per_claim)")


class Batch:
    """The answer to a batch, produced a chunk of text at a time (``chunks``)."""

    def __init__(self, items: Iterator, served: Served, history, limits: Limits, jsonl: bool,
                 source: str, request_id: str, started: float, decision_log=None):
        self.items, self.served, self.history, self.limits = items, served, history, limits
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

    def first(self) -> str:
        """The first chunk; LimitHit when a limit is hit before any answer is given."""
        return self._chunk()

    def rest(self) -> Iterator[str]:
        while True:
            try:
                text = self._chunk()
            except LimitHit as hit:
                yield self._take() + self._ended_by(hit.body)
                return
            if text is None:
                return
            yield text

    def _chunk(self) -> str | None:
        if self.writer is None:
            return None
        entries = []
        with snapshot(self.history):
            for _ in range(CHUNK):
                item = next(self.items, None)
                if item is None:
                    self.writer.close(self.summary)
                    self.writer = None
                    break
                self.count += 1
                if self.count > self.limits.claims:
                    raise LimitHit("too-many-claims", 422, f"more than {self.limits.claims} claims "
                                   f"in one request; send them in several", "max_claims",
                                   self.limits.claims)
                outcome = self._outcome(item)
                if isinstance(outcome, ClaimError):
                    self.summary.add_error(outcome)
                    self.writer.error(outcome)
                    metrics.count_error(outcome)
                else:
                    self.summary.add(outcome)
                    self.writer.result(outcome)
                    metrics.count_result(outcome)
                entries.append(decisions.record(self.request_id, outcome))
        if self.decision_log is not None:
            self.decision_log.send(entries)
        if self.writer is not None and time.monotonic() - self.started > self.limits.seconds:
            raise LimitHit("timeout", 504, f"not finished in {self.limits.seconds:g} s; "
                           f"{self.count} claims were checked", "max_request_seconds",
                           self.limits.seconds)
        return self._take()

    def _outcome(self, item):
        if isinstance(item, ClaimError):
            return item
        if len(item.lines) > self.limits.lines:
            return too_many_lines(item, self.limits, self.source, self.count)
        return self.served.packs.check(item, self.history, self.source, self.count)

    def _ended_by(self, body: dict) -> str:
        """The end of a cut answer: the problem in place of what was not answered."""
        body = {**body, "claims_answered": self.count - 1}
        if self.jsonl:
            return json.dumps({"problem": body}) + "\n"
        return "\n ],\n \"problem\": " + json.dumps(body) + "}\n"
