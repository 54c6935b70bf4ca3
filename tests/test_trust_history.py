"""Attacks on the claim history: a file that is not a history is refused without a byte
written, a read-only check opens it read-only, a locked history is waited for a bounded
time and then named, and a history that fails mid-run costs only the claims it could not
check."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
from rulesengine.cli import main
from rulesengine.engine import historyfile
from rulesengine.engine.history import HistoryError, SQLiteHistory

ROOT = Path(__file__).resolve().parents[1]
FREQUENCY = str(ROOT / "payer_rules" / "medicare-frequency")


def claim_data(claim_id: str, procedure: str, day: str, member="1EG4TE5MK73") -> dict:
    return corpus.claim_data([{"procedure": procedure, "service_date": day, "diagnosis_pointers": [1]}],
                             claim_id=claim_id, received_date=day, diagnoses=["Z00.00"],
                             patient={"member_id": member})


def batch(tmp_path: Path, count: int = 6) -> Path:
    claims = [claim_data(f"C{i}", "99213", f"2026-03-{i + 1:02d}", member=f"M{i}") for i in range(count)]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(claims), encoding="utf-8")
    return path


def check(*args):
    return CliRunner().invoke(main, ["check", *map(str, args)])


def altered(path: Path, *statements) -> None:
    """The SQLite file changed by another program: each statement (or statement and
    parameters) run and committed."""
    db = sqlite3.connect(path)
    try:
        for statement in statements:
            sql, *parameters = statement if isinstance(statement, tuple) else (statement,)
            db.execute(sql, *parameters)
        db.commit()
    finally:
        db.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_empty_file_is_refused_and_stays_empty(tmp_path):
    empty = tmp_path / "h.sqlite"
    empty.write_bytes(b"")
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", empty)
    assert result.exit_code == 2
    assert f"{empty}: an empty file, not a claim history" in result.output
    assert empty.stat().st_size == 0  # before: 24 KB of schema written into it
    # recording into it is refused too: the file may be something else being written
    assert check(batch(tmp_path), "--pack", FREQUENCY, "--history", empty, "--record").exit_code == 2
    assert empty.stat().st_size == 0


def test_another_programs_database_is_refused_untouched(tmp_path):
    foreign = tmp_path / "app.db"
    altered(foreign, "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ada')")
    before = digest(foreign)
    for extra in ((), ("--record",)):
        result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", foreign, *extra)
        assert result.exit_code == 2
        assert "another program's SQLite database, not a claim history" in result.output
        assert digest(foreign) == before  # no meta table, no indexes added


@pytest.mark.parametrize("version", ["abc", "", "0", "-1"])
def test_a_bad_schema_version_is_refused_without_writing(tmp_path, version):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    altered(path, ("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,)))
    before = digest(path)
    with pytest.raises(HistoryError, match="not a claim history this rulesengine knows"):
        SQLiteHistory(path, create=False)
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path)
    assert result.exit_code == 2 and "schema_version" in result.output
    assert digest(path) == before


def test_a_version_1_history_is_read_as_it_is_without_record(tmp_path):
    """A check reads an older history without changing it; recording upgrades it."""
    path = tmp_path / "h.sqlite"
    with SQLiteHistory(path) as history:
        history.add_claims([hist_claim("OLD", "2026-01-05")])
    altered(path, "ALTER TABLE claim_lines DROP COLUMN units",
            "UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    before = digest(path)
    with SQLiteHistory(path, create=False) as history:
        [line] = history.member_lines("1EG4TE5MK73")
    assert line.claim_id == "OLD" and line.units is None  # unknown, not 0
    assert digest(path) == before
    with SQLiteHistory(path) as history:  # opened to record: the column is added
        assert history.member_lines("1EG4TE5MK73")[0].units is None
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    db.close()


def hist_claim(claim_id: str, day: str):
    return corpus.build_claim(claim_data(claim_id, "99213", day)["lines"], claim_id=claim_id,
                              received_date=day, diagnoses=["Z00.00"],
                              patient={"member_id": "1EG4TE5MK73"})


def test_a_history_opened_to_read_cannot_be_written(tmp_path):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    before = digest(path)
    with SQLiteHistory(path, create=False) as history:
        with pytest.raises(HistoryError, match="cannot record: the history is open read-only"):
            history.add_claims([hist_claim("C1", "2026-01-05")])
    assert digest(path) == before


def test_record_on_a_read_only_history_is_a_clear_error(tmp_path):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    path.chmod(0o444)
    try:
        if path.open("ab").writable() and _is_root():
            pytest.skip("running as root: a read-only mode does not stop writes")
    except PermissionError:
        pass
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path, "--record")
    assert result.exit_code == 2
    assert "the claim history is read-only here: nothing can be recorded" in result.output
    assert check(batch(tmp_path), "--pack", FREQUENCY, "--history", path).exit_code == 0


def _is_root() -> bool:
    import os
    return hasattr(os, "geteuid") and os.geteuid() == 0


def test_a_history_locked_at_open_is_waited_for_then_named(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    monkeypatch.setattr(historyfile, "LOCK_WAIT_SECONDS", 0.3)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another process mid-commit: readers must wait
    try:
        started = time.monotonic()
        result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path)
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 2
    assert "the claim history is locked by another process (waited 0.3 s)" in result.output
    assert 0.25 <= waited < 30  # bounded: it gave up, it did not hang


def test_a_lock_released_within_the_wait_is_no_error(tmp_path):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.3, lambda: (holder.rollback(), holder.close()))
    release.start()
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path)
    release.join()
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("failure, said", [
    (sqlite3.DatabaseError("database disk image is malformed"),
     "could not be read (database disk image is malformed)"),
    (sqlite3.OperationalError("database is locked"), "was locked by another process past the wait")])
def test_a_history_failing_mid_run_costs_only_the_claims_it_could_not_check(tmp_path, monkeypatch,
                                                                            failure, said):
    path = tmp_path / "h.sqlite"
    SQLiteHistory(path).close()
    real = SQLiteHistory.member_lines

    def corrupt_for_some(self, member_id):
        if member_id in ("M1", "M4"):  # the pages holding these members are damaged, or locked
            raise failure
        return real(self, member_id)
    monkeypatch.setattr(SQLiteHistory, "member_lines", corrupt_for_some)
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path, "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert sorted(e["claim_id"] for e in report["errors"]) == ["C1", "C4"]
    assert {e["kind"] for e in report["errors"]} == {"history"}
    assert said in report["errors"][0]["message"]
    assert len(report["results"]) == 4  # the rest checked: 4 + 2 = the 6 claims in
    assert report["summary"]["not_checked"]["history"] == 2


def test_a_really_damaged_history_file_loses_no_claim(tmp_path):
    """Bytes of a real history overwritten: whatever SQLite makes of it, every claim is
    either checked or reported, and the run ends with a code, not a traceback."""
    path = tmp_path / "h.sqlite"
    with SQLiteHistory(path) as history:
        history.add_claims([hist_claim(f"OLD{i}", "2026-01-05") for i in range(300)])
    data = bytearray(path.read_bytes())
    for at in range(4096, len(data), 4096):  # every page but the first
        data[at + 100:at + 300] = b"\xff" * 200
    path.write_bytes(bytes(data))
    result = check(batch(tmp_path), "--pack", FREQUENCY, "--history", path, "--format", "json")
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2 and not result.stdout.startswith("{"):
        assert "not a claim history" in result.output  # refused at open
        return
    report = json.loads(result.stdout)
    assert len(report["results"]) + len(report["errors"]) == 6
