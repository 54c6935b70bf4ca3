"""What runs inside Spark's Python workers: Arrow batches of claims in, batches of outcomes out.

The packs arrive as bytes in broadcast variables (``packs.cache.pack_bytes``: plain JSON,
no code) and are made into a ``PackSet`` once per worker process, then kept for every
later task and batch the worker runs (Spark reuses its Python workers); a worker logs the
one load. Nothing here keeps more than one batch of claims: memory per task is bounded by
``spark.sql.execution.arrow.maxRecordsPerBatch``.

Every row in gives at least one row out, a result or an error, so nothing is lost: a row
that cannot be read, a claim no pack takes, a claim the engine fails on are errors with
the reason, as the CLI reports them.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from rulesengine.claims import Claim, ClaimError, claim_from_data, read_837
from rulesengine.claims.json import read_json_lines
from rulesengine.engine.history import VOID, HistoryLine, MemoryHistory, recorded_units
from rulesengine.engine.results import Result, plain
from rulesengine.packs import PackSet
from rulesengine.packs.cache import pack_from_bytes

from .schemas import CHECKED, CLAIM, HISTORY_LINE, READ

log = logging.getLogger("rulesengine.spark")

_CHECKED = to_arrow_schema(CHECKED)
_READ = to_arrow_schema(READ)
_HISTORY = to_arrow_schema(HISTORY_LINE)


@dataclasses.dataclass(frozen=True)
class Shipped:
    """The packs as they travel to the executors: the hashes that name them, a broadcast
    variable (anything with ``.value``) holding each one's bytes, and an accumulator that
    counts the times a worker made them (one a Python worker, however many tasks)."""

    hashes: tuple[str, ...]
    parts: tuple[Any, ...]
    loads: Any = None


#: the packs this worker process has made, by the hashes that name them (few: a job's)
_loaded: dict[tuple[str, ...], PackSet] = {}


def packs_of(shipped: Shipped) -> PackSet:
    """The PackSet the shipped bytes stand for, made the first time this process asks."""
    found = _loaded.get(shipped.hashes)
    if found is None:
        started = time.perf_counter()
        found = PackSet([pack_from_bytes(part.value) for part in shipped.parts])
        if len(_loaded) >= 4:  # a long-lived worker serving job after job keeps a few
            _loaded.clear()
        _loaded[shipped.hashes] = found
        if shipped.loads is not None:
            shipped.loads.add(1)
        log.warning("rulesengine: packs %s made in Python worker %d in %.0f ms",
                    ", ".join(f"{p.id} {p.version}" for p in found.packs), os.getpid(),
                    (time.perf_counter() - started) * 1000)
    return found


def check_batches(batches: Iterable[pa.RecordBatch], shipped: Shipped, json_text: bool
                  ) -> Iterator[pa.RecordBatch]:
    """Each batch's claims (column ``_claim``: JSON text when ``json_text``, else a struct in
    the CLAIM shape; ``_source`` and ``_position`` where they came from; ``_history`` the
    member's recorded lines when a history was joined) checked: a CHECKED batch each."""
    packs = packs_of(shipped)
    for batch in batches:
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        claims = columns["_claim"].to_pylist()
        sources = columns["_source"].to_pylist()
        positions = columns["_position"].to_pylist()
        histories = columns["_history"].to_pylist() if "_history" in columns else None
        rows = []
        for i, raw in enumerate(claims):
            source = sources[i] or "<dataframe>"
            position = positions[i]
            history = _history(histories[i]) if histories is not None else None
            for item in _read(raw, json_text, source, position or 0):
                outcome = item if isinstance(item, ClaimError) else packs.check(
                    item, history, source, position or 0)
                rows.append(_checked_row(outcome, source, position, raw, json_text))
        yield pa.RecordBatch.from_pylist(rows, schema=_CHECKED)


def _read(raw, json_text: bool, source: str, position: int) -> list[Claim | ClaimError]:
    """The claims of one row (a FHIR Bundle's text may hold several), or why none."""
    if raw is None:
        return [ClaimError(source, position, None, "", "no claim: the value is null")]
    if not json_text:
        return [claim_from_data(_json_value(raw), source, position)]
    items = list(read_json_lines([raw], source, position))
    return items or [ClaimError(source, position, None, "", "no claim: the text is empty", "line")]


def _json_value(value):
    """A struct's value as the JSON a reader would have read: no nulls (an absent field),
    dates as ISO text, decimals as numbers."""
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _history(lines: list[dict] | None) -> MemoryHistory:
    """The member's recorded lines as a history (none recorded: an empty one)."""
    return MemoryHistory.of_lines(
        (line["member_id"], HistoryLine(
            line["claim_id"], line["service_date"], line["billing_npi"], line["procedure"],
            tuple(line["modifiers"] or ()), recorded_units(line["units"]), line["line_number"],
            line["payer_id"]))
        for line in lines or ())


def _checked_row(outcome: Result | ClaimError, source: str, position: int | None, raw,
                 json_text: bool) -> dict:
    if isinstance(outcome, ClaimError):
        given = raw if json_text or raw is None else orjson.dumps(_json_value(raw)).decode()
        return {"source": source, "position": position, "claim_id": outcome.claim_id,
                "error": error_row(outcome), "input": given}
    pack = outcome.pack
    return {"source": source, "position": position, "claim_id": outcome.claim_id,
            "status": outcome.status, "pack_id": pack.id, "pack_version": pack.version,
            "pack_hash": pack.hash, "warnings": list(outcome.warnings), "findings": [
                {"rule_id": f.rule_id, "category": f.category, "severity": f.severity,
                 "scope": f.scope, "line_number": f.line_number, "group_code": f.group_code,
                 "carc": f.carc, "rarc": list(f.rarc), "message": f.message,
                 "evidence": orjson.dumps({k: plain(v) for k, v in f.evidence.items()}).decode(),
                 "citation": f.citation, "rule_pack": f.pack, "rule_file": f.source_file,
                 "rule_line": f.source_line}
                for f in outcome.findings]}


def history_batches(batches: Iterable[pa.RecordBatch], json_text: bool) -> Iterator[pa.RecordBatch]:
    """Each readable claim's lines as HISTORY_LINE rows (a void: one row, no procedure)."""
    for batch in batches:
        rows = []
        for raw in batch.column("_claim").to_pylist():
            for claim in _read(raw, json_text, "<history>", 0):
                if not isinstance(claim, Claim) or not claim.member_id:
                    continue
                common = {"member_id": claim.member_id, "claim_id": claim.claim_id,
                          "billing_npi": claim.billing_npi, "payer_id": claim.payer_id,
                          "frequency_code": claim.frequency_code}
                if claim.frequency_code == VOID:
                    rows.append(common)
                    continue
                rows.extend({**common, "line_number": ln.line_number, "procedure": ln.procedure,
                             "modifiers": list(ln.modifiers), "service_date": ln.service_date,
                             "units": ln.units} for ln in claim.lines if ln.procedure)
        yield pa.RecordBatch.from_pylist(rows, schema=_HISTORY)


def error_row(error: ClaimError) -> dict:
    return {"kind": error.kind, "unit": error.unit, "path": error.path, "message": error.message,
            "text": str(error)}


# ---- X12 files ----------------------------------------------------------------------------

def read_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Each file of a ``binaryFile`` batch (``path``, ``content``) read by the 837 reader:
    a READ row per claim (in the CLAIM shape) and per envelope or claim error."""
    for batch in batches:
        paths = batch.column("path").to_pylist()
        for path, content in zip(paths, batch.column("content").to_pylist(), strict=True):
            text = io.TextIOWrapper(io.BytesIO(content or b""), encoding="utf-8-sig",
                                    errors="replace", newline="")
            rows = []
            for position, item in enumerate(read_837(text, path, as_dict=True), 1):
                if isinstance(item, ClaimError):
                    rows.append({"source": path, "position": item.position, "claim_id": item.claim_id,
                                 "error": error_row(item)})
                else:
                    rows.append({"source": path, "position": position, "claim_id": item["claim_id"],
                                 "claim": _arrow_value(item, CLAIM)})
            if not rows:  # as the CLI warns: a file of no claims is not passed by in silence
                rows.append({"source": path, "position": 0, "error": error_row(
                    ClaimError(path, 0, None, "", "the file holds no claims"))})
            yield pa.RecordBatch.from_pylist(rows, schema=_READ)  # a file's claims at a time


def _arrow_value(value, kind):
    """A claim dict's value in the shape Arrow takes for a Spark type: dates as dates, the
    schema's fields only (a reader's extra fields have no column)."""
    if value is None:
        return None
    name = kind.typeName()
    if name == "struct":
        return {f.name: _arrow_value(value.get(f.name), f.dataType) for f in kind.fields}
    if name == "array":
        return [_arrow_value(v, kind.elementType) for v in value]
    if name == "date":
        return date.fromisoformat(value)
    return value
