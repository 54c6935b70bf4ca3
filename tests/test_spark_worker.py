"""What runs in Spark's Python workers, run here without Spark: Arrow batches in and out,
the packs made once a process, and a row out for every row in."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow", reason="the spark extra (pyarrow) is not installed")
pytest.importorskip("pyspark", reason="the spark extra (PySpark) is not installed")

from rulesengine.packs import cache  # noqa: E402
from rulesengine.packs.load import load_pack  # noqa: E402
from rulesengine.spark import worker  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MEDICARE = ROOT / "payer_rules" / "medicare"
CLAIMS = json.loads((ROOT / "examples" / "claims" / "dirty.json").read_text())
CLAIMS = CLAIMS if isinstance(CLAIMS, list) else CLAIMS["claims"]


class Value:
    """A broadcast variable's stand-in."""

    def __init__(self, value):
        self.value = value


@pytest.fixture(scope="module")
def shipped():
    pack = load_pack(MEDICARE)
    return worker.Shipped((pack.info.hash,), (Value(cache.pack_bytes(pack)),))


def batch(values, kind=pa.string()):
    return pa.RecordBatch.from_arrays(
        [pa.array(values, kind), pa.array(["day.jsonl"] * len(values)), pa.array(range(1, len(values) + 1))],
        names=["_claim", "_source", "_position"])


def rows(out) -> list[dict]:
    return [row for b in out for row in b.to_pylist()]


def test_the_packs_are_made_once_a_process_whatever_the_batches(shipped, monkeypatch):
    made = []
    real = worker.pack_from_bytes
    monkeypatch.setattr(worker, "pack_from_bytes", lambda data: made.append(1) or real(data))
    monkeypatch.setattr(worker, "_loaded", {})
    texts = [json.dumps(c) for c in CLAIMS]
    for _ in range(3):  # three tasks, two batches each
        out = rows(worker.check_batches(iter([batch(texts), batch(texts)]), shipped, json_text=True))
        assert len(out) == 2 * len(texts)
    assert len(made) == 1
    other = worker.Shipped(("another",), shipped.parts)
    rows(worker.check_batches(iter([batch(texts[:1])]), other, json_text=True))
    assert len(made) == 2


def test_every_row_gives_a_row_and_a_row_not_read_says_why(shipped):
    texts = [json.dumps(CLAIMS[0]), None, "", "  ", "[1, 2", json.dumps(CLAIMS[1])]
    out = rows(worker.check_batches(iter([batch(texts)]), shipped, json_text=True))
    assert len(out) == len(texts)
    assert [r["position"] for r in out] == [1, 2, 3, 4, 5, 6]
    errors = [r["error"]["message"] for r in out if r["error"]]
    assert errors == ["no claim: the value is null", "no claim: the text is empty",
                      "no claim: the text is empty", "not valid JSON at column 6: Expecting ',' delimiter"]
    assert out[4]["input"] == "[1, 2" and out[4]["error"]["text"] == (
        "day.jsonl: line 5: not valid JSON at column 6: Expecting ',' delimiter")
    assert out[0]["status"] in ("clean", "denied") and out[0]["pack_id"] == "medicare"


def test_a_struct_row_checks_as_its_json(shipped):
    claim = CLAIMS[0]
    typed = json.loads(json.dumps(claim))
    typed["received_date"] = date.fromisoformat(claim["received_date"])
    for line in typed["lines"]:
        line["service_date"] = date.fromisoformat(line["service_date"])
        line["units"] = float(line.get("units", 1))
        line["charge"] = Decimal("125.00")
    typed["prior_authorization"] = None  # a null column: an absent field
    as_json = {**claim, "lines": [{**line, "charge": 125} for line in claim["lines"]]}
    [from_json] = rows(worker.check_batches(iter([batch([json.dumps(as_json)])]), shipped, json_text=True))
    struct = pa.RecordBatch.from_pylist([{"_claim": typed, "_source": "t", "_position": 1}])
    [from_struct] = rows(worker.check_batches(iter([struct]), shipped, json_text=False))
    assert from_struct["findings"] == from_json["findings"]
    assert from_struct["status"] == from_json["status"]
