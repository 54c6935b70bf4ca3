"""Checking on every core: ``check --jobs N`` writes exactly what ``--jobs 1`` writes, in
the same order, for every format, reader, error and history; ``check_files`` is the same
from Python."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
import rulesengine
from rulesengine.cli import main
from rulesengine.packs import many

ROOT = Path(__file__).resolve().parents[1]
MEDICARE = str(ROOT / "payer_rules" / "medicare")
ACME = str(ROOT / "payer_rules" / "acme-commercial")
FREQUENCY = str(ROOT / "payer_rules" / "medicare-frequency")


def run(*args, jobs: int):
    result = CliRunner().invoke(main, ["check", *map(str, args), "--jobs", str(jobs)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def mixed_files(tmp_path) -> list[Path]:
    """A JSON Lines file longer than a piece, with blank lines, a broken line, a claim for
    a payer without a pack and one of each outcome; and a JSON list after it."""
    lines = []
    for i in range(3 * many.PIECE + 17):
        claim = corpus.claim_data([{"procedure": "82306", "service_date": "2026-01-15",
                                    "diagnosis_pointers": [1 + i % 2]}], claim_id=f"C{i}")
        if i % 97 == 5:
            claim["payer"]["id"] = "aetna"
        if i % 113 == 7:
            claim["diagnoses"] = ["Z00.00"]  # vitamin D testing without a supporting diagnosis
        lines.append(json.dumps(claim))
        if i % 50 == 0:
            lines.append("")
    lines.insert(400, '{"claim_id": "BROKEN", ')
    day = tmp_path / "day.jsonl"
    day.write_text("\n".join(lines) + "\n")
    more = tmp_path / "more.json"
    more.write_text(json.dumps([corpus.claim_data(claim_id="L1"), corpus.claim_data(claim_id="L2")]))
    return [day, more]


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "csv"])
def test_the_examples_read_the_same_on_any_number_of_jobs(fmt):
    args = (ROOT / "examples" / "claims", "--pack", MEDICARE, "--pack", ACME, "--format", fmt)
    assert run(*args, jobs=3) == run(*args, jobs=1)


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_a_long_file_with_errors_is_the_same_in_pieces(mixed_files, fmt):
    args = (*mixed_files, "--pack", MEDICARE, "--pack", ACME, "--format", fmt)
    one = run(*args, jobs=1)
    assert one[0] == 2  # the broken line and the claims for aetna
    assert run(*args, jobs=2) == one
    if fmt == "jsonl":
        errors = [json.loads(x)["error"] for x in one[1].splitlines() if x.startswith('{"error"')]
        assert {e["kind"] for e in errors} == {"unreadable", "no-pack"}
        assert any(e["kind"] == "no-pack" and e["position"] > many.PIECE for e in errors)


def test_a_history_pack_reads_the_same_history_in_every_worker(tmp_path):
    history = tmp_path / "h.sqlite"
    earlier = [corpus.claim_data([{"procedure": "G0438", "service_date": "2026-01-05"}],
                                 claim_id=f"E{i}", patient={"member_id": f"M{i}"}) for i in range(40)]
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    CliRunner().invoke(main, ["history", "add", str(tmp_path / "earlier.json"), "--history", str(history)])
    later = [corpus.claim_data([{"procedure": "G0438", "service_date": "2026-06-05"}],
                               claim_id=f"L{i}", patient={"member_id": f"M{i % 80}"}) for i in range(600)]
    path = tmp_path / "later.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in later))
    args = (path, "--pack", FREQUENCY, "--history", history, "--format", "jsonl")
    one = run(*args, jobs=1)
    assert one[0] == 1  # the initial visit was already billed for half the members
    denied = [json.loads(x) for x in one[1].splitlines()]
    assert 0 < sum(r["status"] == "denied" for r in denied) < len(later)
    assert run(*args, jobs=3) == one


def test_record_runs_as_one_job_and_records_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    claims = [corpus.claim_data([{"procedure": "G0438", "service_date": f"2026-0{1 + i % 2}-05"}],
                                claim_id=f"R{i}", patient={"member_id": f"M{i % 3}"}) for i in range(9)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(claims))
    for name, jobs in (("one.sqlite", 1), ("four.sqlite", 4)):
        result = CliRunner().invoke(main, ["check", str(path), "--pack", FREQUENCY, "--record",
                                           "--history", name, "--format", "jsonl", "--jobs", str(jobs)])
        assert result.exit_code == 1
    with rulesengine.SQLiteHistory("one.sqlite", create=False) as one, \
            rulesengine.SQLiteHistory("four.sqlite", create=False) as four:
        assert [one.member_lines(f"M{i}") for i in range(3)] == [four.member_lines(f"M{i}") for i in range(3)]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_check_files_from_python_matches_one_by_one(mixed_files, monkeypatch, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    monkeypatch.setattr(many.multiprocessing, "get_all_start_methods", lambda: [method])
    packs = rulesengine.PackSet([rulesengine.load_pack(MEDICARE), rulesengine.load_pack(ACME)])
    serial = []
    for path in mixed_files:
        for position, item in enumerate(rulesengine.read_claims(path), 1):
            serial.append(item if isinstance(item, rulesengine.ClaimError)
                          else packs.check(item, None, str(path), position))
    parallel = [outcome for _, _, outcome in rulesengine.check_files(mixed_files, packs, jobs=2)]
    assert [_plain(o) for o in parallel] == [_plain(o) for o in serial]


def _plain(outcome):
    return outcome.to_dict() if isinstance(outcome, rulesengine.Result) else str(outcome)


def test_hostile_files_read_the_same_in_workers(tmp_path):
    """The attacks of test_trust_claims hold in the workers too: every claim checked or
    reported, the same as one by one."""
    good = json.dumps(corpus.claim_data(claim_id="OK")).encode()
    files = {
        "noise.jsonl": bytes((i * 131 + 7) % 256 for i in range(20_000)),
        "deep.jsonl": good + b"\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n" + good + b"\n",
        "utf8.jsonl": good + b"\n" + good.replace(b'"OK"', b'"O\xffK"') + b"\n",
        "inf.jsonl": good.replace(b'"charge": 45.0', b'"charge": 1e999') + b"\n" + good + b"\n",
        "trailing.json": b"[" + good + b"]\n[" + good + b"]",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = (*sorted(tmp_path.iterdir()), "--pack", MEDICARE, "--format", "jsonl")
    one = run(*args, jobs=1)
    assert one[0] == 2 and "Traceback" not in one[2] and "internal error" not in one[2]
    assert run(*args, jobs=2) == one
