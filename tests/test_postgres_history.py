"""The claim history in PostgreSQL: the same answers as the SQLite file, the same schema
version rules, recording and voids; against a real server (.ci/run starts one; else one
is started here, and the tests skip, saying why, only when none can be)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid

import pytest

psycopg = pytest.importorskip("psycopg", reason="the serve extra (psycopg) is not installed")
from click.testing import CliRunner  # noqa: E402

import rulesengine  # noqa: E402
import postgres_server  # noqa: E402
from rulesengine.cli import main  # noqa: E402
from rulesengine.engine.history import HistoryError, PostgresHistory, open_history  # noqa: E402
from test_history import PACK_DIR, claim, claim_data  # noqa: E402


@pytest.fixture(scope="session")
def server():
    url = os.environ.get(postgres_server.ENV_VAR)
    if url:
        yield url
        return
    # not under pytest's own temporary folder: as root the server runs as postgres, which
    # may not enter that folder
    folder = tempfile.mkdtemp(prefix="rulesengine-test-pg-")
    try:
        url = postgres_server.start(folder)
    except RuntimeError as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server: {error}")
    yield url
    postgres_server.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(server):
    """A database of its own for each test: the server's URL with another database name."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


EARLIER = [claim("AWV-2025", ("G0439", "2025-09-10")), claim("IPPE-2025", ("G0402", "2025-03-01"), member="1EG4TE5MK74"),
           claim("DUP-1", ("99213", "2026-02-02"))]
LATER = [claim("AWV-2026", ("G0439", "2026-07-01")), claim("AWV-2026-OK", ("G0439", "2026-10-01")),
         claim("AWV-OTHER", ("G0439", "2026-02-01"), member="1EG4TE5MK74"), claim("DUP-2", ("99213", "2026-02-02"))]


def test_the_same_answers_as_the_sqlite_history(database, tmp_path):
    pack = rulesengine.load_pack(PACK_DIR)
    sqlite = open_history(tmp_path / "h.sqlite", create=True)
    postgres = open_history(database, create=True)
    assert isinstance(postgres, PostgresHistory)
    for history in (sqlite, postgres):
        history.add_claims(EARLIER)
    answers = {}
    for name, history in (("sqlite", sqlite), ("postgres", postgres)):
        with history.snapshot():
            answers[name] = [pack.check(c, history=history).to_dict() for c in LATER]
    assert answers["postgres"] == answers["sqlite"]
    assert any(f["carc"] == "119" for r in answers["postgres"] for f in r["findings"])
    assert postgres.listing("1EG4TE5MK73") == [tuple(r) for r in sqlite.listing("1EG4TE5MK73")]


def test_a_void_removes_and_a_replacement_replaces(database):
    history = open_history(database, create=True)
    history.add_claims([claim("C1", ("G0439", "2025-09-10"))])
    counts = history.add_claims([claim("C1", ("G0439", "2025-10-10")), claim("C2", ("G0439", "2025-11-01"))])
    assert counts["replaced"] == 1
    history.add_claims([claim("C2", ("G0439", "2025-11-01"), frequency="8")])
    assert [line.service_date.isoformat() for line in history.member_lines("1EG4TE5MK73")] == ["2025-10-10"]


def test_a_failed_recording_records_nothing(database):
    history = open_history(database, create=True)
    with pytest.raises(RuntimeError):
        with history.recording() as recording:
            recording.add(claim("C1", ("G0439", "2025-09-10")))
            raise RuntimeError("crash mid-run")
    assert history.member_lines("1EG4TE5MK73") == []


def test_schema_version_rules(database):
    with pytest.raises(HistoryError, match="no claim history in this database"):
        open_history(database)  # a check must not pass every rule against an empty history
    open_history(database, create=True).close()
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("UPDATE rulesengine.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(HistoryError, match="schema 99 is newer"):
        open_history(database)


def test_a_password_never_shows_in_a_message():
    with pytest.raises(HistoryError) as error:
        open_history("postgresql://someone:s3cret@/nodb?host=/nonexistent-folder")
    assert "s3cret" not in str(error.value) and "cannot connect" in str(error.value)


def test_the_cli_records_and_checks_against_postgresql(database, tmp_path):
    earlier, later = tmp_path / "earlier.jsonl", tmp_path / "later.jsonl"
    earlier.write_text("".join(json.dumps(claim_data("AWV-2025", ("G0439", "2025-09-10"))) + "\n" for _ in [0]))
    later.write_text(json.dumps(claim_data("AWV-2026", ("G0439", "2026-07-01"))) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["history", "add", str(earlier), "--history", database]).exit_code == 0
    out = runner.invoke(main, ["check", str(later), "--pack", str(PACK_DIR), "--history", database,
                               "--format", "jsonl", "--no-cache"])
    assert out.exit_code == 1, out.output
    assert json.loads(out.stdout.splitlines()[0])["findings"][0]["carc"] == "119"


def test_the_service_gives_the_same_answers_with_either_history(database, tmp_path):
    from starlette.testclient import TestClient

    from rulesengine.service import ServiceConfig, create_app

    sqlite = tmp_path / "h.sqlite"
    for target in (str(sqlite), database):
        open_history(target, create=True).add_claims(EARLIER)
    body = "\n".join(json.dumps(claim_data(c.claim_id, *[(ln.procedure, ln.service_date.isoformat())
                                                         for ln in c.lines], member=c.member_id))
                     for c in LATER)
    answers = []
    for target in (str(sqlite), database):
        with TestClient(create_app(ServiceConfig([str(PACK_DIR)], None, history=target))) as api:
            answers.append(api.post("/v1/check", content=body,
                                    headers={"content-type": "application/x-ndjson"}).text)
    assert answers[0] == answers[1] and '"carc":"119"' in answers[0]
